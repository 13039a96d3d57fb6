/**
 * The runner for one delivery (ARCH 1): bytes in order -> parser -> validator -> batches committed
 * one transaction each. Memory is bounded by one batch (BATCH_READINGS_MAX readings,
 * BATCH_BYTES_MAX bytes) whatever the delivery's size. The raw bytes are kept: every byte of the
 * delivery lands in the raw store, cut into content-addressed chunks at batch boundaries, so any
 * reject can be shown and replayed.
 *
 * The caller acknowledges its source only after this resolves (every batch committed).
 */
import assert from 'node:assert/strict';
import { createHash, hash, type Hash } from 'node:crypto';
import type { Clock, Random } from '../core/clock.js';
import {
  BATCH_BYTES_MAX,
  BATCH_READINGS_MAX,
  PARSE_SLICE_BYTES,
  RAW_CHUNK_BYTES_MAX,
  RECORD_BYTES_MAX,
} from '../core/limits.js';
import {
  isTypedFormat,
  itemLocation,
  type FormatContext,
  type InputFormat,
  type ParseItem,
  type StreamParser,
} from '../core/parser.js';
import type { Reject } from '../core/reject.js';
import type { RecordLocation } from '../core/reading.js';
import { AmisyncError } from '../core/errors.js';
import type { MeterScope, SourcePosition } from '../core/source.js';
import type { BatchCounts, Store, StoreTransaction } from '../core/store.js';
import type { Detectors } from '../core/detector.js';
import type { Logger } from '../core/log.js';
import { detectorsFor } from './detectors.js';
import type { DataDictionary } from '../dictionary/dictionary.js';
import { PARSER_FACTORIES } from '../formats/formats.js';
import {
  addCounts,
  commitBatchIn,
  emptyCounts,
  type BatchResult,
  type PendingReject,
  type RawChunk,
} from './commit.js';
import type { IdentifiedReading } from './identify.js';
import { markInterruptedDeliveries, markStoppedDelivery } from './interrupted.js';
import { createJudge, type Judge, type Verdict } from './judge.js';
import {
  judgeInParallel,
  parsesInParallel,
  sharedParsePool,
  type ParsePool,
} from './parallel-parse.js';
import { guardEmptyDelivery } from '../formats/empty-delivery.js';

export interface IngestOptions {
  store: Store;
  dictionary: DataDictionary;
  clock: Clock;
  random: Random;
  format: InputFormat;
  /** What the format needs besides bytes (a CMEP time zone, a CSV dialect); see formats.ts. */
  formatContext?: FormatContext;
  /** The delivery's name as the operator knows it (a file name, a message id). */
  name: string;
  sourceId: string;
  /** Default: the dictionary's detectors (detectorsFor); `[]` runs none. */
  detectors?: Detectors;
  batchReadingsMax?: number;
  /** The transport's id for the delivery, its attempt, metadata and partition key (Delivery). */
  transportId?: string | null;
  attempt?: number;
  metadata?: Readonly<Record<string, string>>;
  partitionKey?: string | null;
  /** Saved for the source by the transaction that commits the delivery's last batch. */
  position?: SourcePosition | null;
  /**
   * The meters the delivery may name. When set, the delivery commits in one transaction, and a
   * record naming another meter refuses all of it (FORBIDDEN) before anything is written.
   */
  meterScope?: MeterScope | null;
  onBatch?: (result: BatchResult, bytesRead: number) => void;
  /**
   * Where each committed batch is logged (info): delivery id, source, batch id, counts. Omitted,
   * nothing is logged (a command run by hand without a log).
   */
  log?: Logger;
  /**
   * Stops the delivery between chunks when aborted (a service shutting down): what has committed
   * stays, nothing more is written, and ingest throws SHUTTING_DOWN so the caller does not
   * acknowledge. The source redelivers it later; idempotency absorbs the committed part.
   */
  signal?: AbortSignal;
  /**
   * Threads for this delivery: 1 parses, validates, keys and commits on the calling thread; N > 1
   * runs parsing, validation and identity keys in N - 1 parse threads while the calling thread
   * commits, with the same batches, verdicts and audit entries (parallel-parse.ts). Formats other
   * than NDJSON run on one thread whatever this says, and so does a delivery that ends before
   * `parallelFromBytes`. Default 1.
   */
  threads?: number;
  /**
   * With `threads` > 1: a delivery whose bytes end before this many runs on the calling thread
   * alone, as with `threads: 1` (same result); default PARALLEL_FROM_BYTES. Tests set 0 to run
   * small deliveries through the parse threads.
   */
  parallelFromBytes?: number;
  /** The parse threads to use when `threads` > 1; default the shared pool of that size. */
  parsePool?: ParsePool;
}

export interface DeliveryReport {
  deliveryId: string;
  name: string;
  format: InputFormat;
  sha256: string;
  sizeBytes: number;
  counts: BatchCounts;
  batches: number;
  /**
   * Rejects that each stand for an unparseable span whose record count is unknown (counted once
   * each).
   */
  uncountedSpans: number;
  /** The earlier delivery of the same source this one repeats (same transport id or bytes). */
  firstDeliveryId: string | null;
  /** What the format's reader tolerated, by code (see StreamParser.tolerated). */
  tolerated: Readonly<Record<string, number>>;
  /**
   * True when the delivery held no records: either only whitespace (quarantined as one
   * `parse.empty` span, so `counts.received` is 1) or a well-formed delivery with none in it
   * (`[]`, a CSV header alone: `counts.received` is 0).
   */
  empty: boolean;
  /** Set when the delivery was kept as a dead letter instead (nothing of it was ingested). */
  deadLetterId?: number;
}

/** Bytes read but not yet stored, from `start` (absolute offset) onwards. */
class ByteWindow {
  start = 0;
  #parts: Buffer[] = [];
  #length = 0;

  push(chunk: Buffer): void {
    this.#parts.push(chunk);
    this.#length += chunk.byteLength;
  }

  get end(): number {
    return this.start + this.#length;
  }

  /** Bytes [from, to) if they are all still held, else null. */
  slice(from: number, to: number): Buffer | null {
    if (from < this.start || to > this.end) return null;
    const joined =
      this.#parts.length === 1 ? (this.#parts[0] as Buffer) : Buffer.concat(this.#parts);
    this.#parts = [joined];
    return joined.subarray(from - this.start, to - this.start);
  }

  /** Removes and returns bytes [start, to); the result shares memory with what was pushed. */
  take(to: number): Buffer {
    assert.ok(to >= this.start, `the byte window cannot move back from ${this.start} to ${to}`);
    const taken = this.slice(this.start, to) ?? Buffer.alloc(0);
    const rest = (this.#parts[0] ?? Buffer.alloc(0)).subarray(to - this.start);
    this.#parts = rest.byteLength > 0 ? [rest] : [];
    this.#length = rest.byteLength;
    this.start = to;
    return taken;
  }
}

function splitChunks(byteOffset: number, bytes: Buffer): RawChunk[] {
  const chunks: RawChunk[] = [];
  for (let at = 0; at < bytes.byteLength; at += RAW_CHUNK_BYTES_MAX) {
    chunks.push({
      byteOffset: byteOffset + at,
      bytes: bytes.subarray(at, at + RAW_CHUNK_BYTES_MAX),
    });
  }
  return chunks;
}

async function hashStoredRange(
  store: Store,
  deliveryId: string,
  byteOffset: number,
  byteLength: number,
): Promise<Hash> {
  const hasher = createHash('sha256');
  for (let at = 0; at < byteLength; at += RAW_CHUNK_BYTES_MAX) {
    const length = Math.min(RAW_CHUNK_BYTES_MAX, byteLength - at);
    hasher.update(await store.readDeliveryBytes(deliveryId, byteOffset + at, length));
  }
  return hasher;
}

class DeliveryRun {
  readonly #options: IngestOptions;
  readonly #parser: StreamParser;
  readonly #judge: Judge;
  readonly #detectors: Detectors;
  readonly #window = new ByteWindow();
  readonly #hasher = createHash('sha256');
  readonly #deliveryId: string;
  readonly #batchMax: number;
  /** The current batch: validated readings and rejects (their raw hashes are taken at commit). */
  #readings: IdentifiedReading[] = [];
  #rejects: Reject[] = [];
  #itemsEnd = 0;
  #batchStart = 0;
  #deliveryCreated = false;
  #sizeBytes = 0;
  readonly counts = emptyCounts();
  batches = 0;
  uncountedSpans = 0;
  /** Items the parser handed over, and whether one said the delivery is blank. */
  #itemCount = 0;
  #blank = false;
  /** The batch whose transaction is running while the next one fills (see #commit). */
  #inFlight: Promise<void> | null = null;

  constructor(options: IngestOptions) {
    this.#options = options;
    this.#parser = PARSER_FACTORIES[options.format](options.formatContext ?? {});
    this.#judge = createJudge(options.dictionary, options.clock, options.format);
    this.#detectors = options.detectors ?? detectorsFor(options.dictionary);
    this.#deliveryId = `dlv_${options.random.hex(10)}`;
    this.#batchMax =
      options.meterScope != null
        ? Number.POSITIVE_INFINITY
        : (options.batchReadingsMax ?? BATCH_READINGS_MAX);
  }

  async push(chunk: Buffer): Promise<void> {
    this.#takeBytes(chunk);
    // Small slices keep each parse result short-lived, so parsed records die young in the heap.
    for (let at = 0; at < chunk.byteLength; at += PARSE_SLICE_BYTES) {
      await this.#accept(this.#parser.push(chunk.subarray(at, at + PARSE_SLICE_BYTES)));
      // The batch in flight moves one statement per answer from its server, and answers are read
      // only when the event loop turns: without this it would wait for a whole chunk's parsing.
      if (this.#inFlight !== null) await new Promise(setImmediate);
    }
    if (this.#window.end - this.#window.start > BATCH_BYTES_MAX) await this.#relieve();
  }

  /**
   * The same for a chunk whose records parse threads have already judged: `verdicts` are those
   * of the records its bytes completed, in order (parallel-parse.ts).
   */
  async pushJudged(chunk: Buffer, verdicts: readonly Verdict[]): Promise<void> {
    this.#takeBytes(chunk);
    await this.#acceptVerdicts(verdicts);
    if (this.#window.end - this.#window.start > BATCH_BYTES_MAX) await this.#relieve();
  }

  async end(): Promise<DeliveryReport> {
    await this.#accept(this.#parser.end());
    return this.#complete();
  }

  /** The end of a judged delivery: the last line's verdicts, then the empty-delivery verdict. */
  async endJudged(
    verdicts: readonly Verdict[],
    late: readonly ParseItem[],
  ): Promise<DeliveryReport> {
    await this.#acceptVerdicts(verdicts);
    await this.#accept(late);
    return this.#complete();
  }

  #takeBytes(chunk: Buffer): void {
    this.#hasher.update(chunk);
    this.#sizeBytes += chunk.byteLength;
    this.#window.push(chunk);
  }

  async #complete(): Promise<DeliveryReport> {
    const options = this.#options;
    const sha256 = this.#hasher.digest('hex');
    // The last batch, the delivery's completion and the source's new position commit together, so
    // a source never stands past a delivery the store does not wholly hold.
    const { firstDeliveryId } = await this.#commit(this.#window.end, async (tx) => {
      const atMs = options.clock.nowMs();
      const finished = await tx.finishDelivery(this.#deliveryId, sha256, this.#sizeBytes, atMs);
      if (options.position != null) {
        await tx.saveSourcePosition({
          sourceId: options.sourceId,
          position: JSON.stringify(options.position),
          deliveryId: this.#deliveryId,
          savedAtMs: atMs,
        });
      }
      return finished;
    });
    return {
      firstDeliveryId,
      deliveryId: this.#deliveryId,
      name: options.name,
      format: options.format,
      sha256,
      sizeBytes: this.#sizeBytes,
      counts: this.counts,
      batches: this.batches,
      uncountedSpans: this.uncountedSpans,
      tolerated: this.#parser.tolerated?.() ?? {},
      empty: this.#blank || this.#itemCount === 0,
    };
  }

  /** Validates as records arrive, so only readings (not raw records) wait for the batch. */
  async #accept(items: readonly ParseItem[]): Promise<void> {
    for (const item of items) {
      const location = itemLocation(item);
      this.#itemCount += 1;
      if (item.kind === 'reject' && item.reject.uncountedSpan) this.uncountedSpans += 1;
      if (item.kind === 'reject' && item.reject.violations[0]?.code === 'parse.empty') {
        this.#blank = true;
      }
      if (this.#take(location, this.#judge(item))) await this.#commit(this.#itemsEnd);
    }
  }

  /** Verdicts from parse threads: counted as #accept counts the items they judged. */
  async #acceptVerdicts(verdicts: readonly Verdict[]): Promise<void> {
    for (const verdict of verdicts) {
      const location = verdict.ok ? verdict.item.location : verdict.reject.location;
      this.#itemCount += 1;
      if (!verdict.ok && verdict.reject.uncountedSpan) this.uncountedSpans += 1;
      if (!verdict.ok && verdict.reject.violations[0]?.code === 'parse.empty') this.#blank = true;
      if (this.#take(location, verdict)) await this.#commit(this.#itemsEnd);
    }
  }

  /** Adds a verdict to the batch; true when the batch is full and must commit now. */
  #take(location: RecordLocation, verdict: Verdict): boolean {
    const scope = this.#options.meterScope;
    if (scope != null) {
      const meterId = verdict.ok ? verdict.item.reading.meterId : verdict.reject.meterId;
      if (meterId !== null && !scope.allows(meterId)) refuseForeignMeter(scope, meterId);
    }
    if (verdict.ok) this.#readings.push(verdict.item);
    else this.#rejects.push(verdict.reject);
    // A parser may hand over an item after later bytes were stored (a Green Button reading
    // waits for its ReadingType): the batch still ends no earlier than what was read.
    this.#itemsEnd = Math.max(this.#itemsEnd, location.byteOffset + location.byteLength);
    return this.#readings.length + this.#rejects.length >= this.#batchMax;
  }

  #hasItems(): boolean {
    return this.#readings.length > 0 || this.#rejects.length > 0;
  }

  /**
   * Too many bytes held: commit what is complete, then store an incomplete giant record's bytes.
   */
  async #relieve(): Promise<void> {
    if (this.#options.meterScope != null) {
      throw new AmisyncError(
        'PAYLOAD_TOO_LARGE',
        `a delivery bound to the meters of ${this.#options.meterScope.owner} must fit one batch ` +
          `(${BATCH_BYTES_MAX} bytes)`,
      );
    }
    if (this.#hasItems()) await this.#commit(this.#itemsEnd);
    await this.settle();
    if (this.#window.end - this.#window.start <= BATCH_BYTES_MAX) return;
    // The delivery row is created at the first batch, once the parser knows its context (a CSV
    // header may come after this many bytes); raw chunks do not need it to exist.
    // The last RECORD_BYTES_MAX bytes stay held: a record not yet complete that can still be valid
    // starts within them, and its hash must come from held bytes when identity quarantines it.
    const offset = this.#window.start;
    const bytes = this.#window.take(this.#window.end - RECORD_BYTES_MAX);
    for (const chunk of splitChunks(offset, bytes)) {
      await this.#options.store.putRawChunk(this.#deliveryId, chunk.byteOffset, chunk.bytes);
    }
  }

  /** Marks the delivery interrupted when it began and did not end (see markStoppedDelivery). */
  async markStopped(): Promise<void> {
    if (!this.#deliveryCreated) return;
    await markStoppedDelivery(this.#options.store, this.#deliveryId, this.#options.clock.nowMs());
  }

  async #ensureDelivery(): Promise<void> {
    if (this.#deliveryCreated) return;
    const options = this.#options;
    // Before the new delivery exists, so that it can link to an interrupted one it delivers again.
    await markInterruptedOnce(options.store, options.clock.nowMs());
    await options.store.createDelivery({
      id: this.#deliveryId,
      sourceId: options.sourceId,
      name: options.name,
      format: options.format,
      formatContext: this.#parser.context(),
      startedAtMs: options.clock.nowMs(),
      transportId: options.transportId ?? null,
      attempt: options.attempt ?? 1,
      metadata: options.metadata ?? {},
      partitionKey: options.partitionKey ?? null,
    });
    this.#deliveryCreated = true;
  }

  /** The record's bytes may be partly stored already (a giant record) and partly still held. */
  async #rawSha256(byteOffset: number, byteLength: number): Promise<string> {
    const end = byteOffset + byteLength;
    const held = this.#window.slice(byteOffset, end);
    if (held !== null) return hash('sha256', held, 'hex');
    const storedEnd = Math.min(end, this.#window.start);
    const hasher = await hashStoredRange(
      this.#options.store,
      this.#deliveryId,
      byteOffset,
      storedEnd - byteOffset,
    );
    if (end > storedEnd) hasher.update(this.#window.slice(storedEnd, end) ?? Buffer.alloc(0));
    return hasher.digest('hex');
  }

  /**
   * Waits for the batch in flight (if any) to commit, and applies its result; rethrows its error.
   * Every store access of the run comes after this, so the store sees one batch at a time.
   */
  async settle(): Promise<void> {
    const inFlight = this.#inFlight;
    if (inFlight === null) return;
    this.#inFlight = null;
    await inFlight;
  }

  /**
   * Commits the current batch, covering bytes up to `itemsEnd`, or up to what #relieve already
   * stored when an item came late: the window never moves back. `last`, for the delivery's final
   * batch, runs in the same transaction (even when the batch holds no items) and gives its result.
   *
   * Without `last` the batch's transaction is started and left in flight: the run goes on parsing,
   * validating and keying the next batch while the server works on this one, and the next commit
   * (or any other store access) first waits for it. At most two batches are held: one in flight,
   * one filling. Batches still commit one at a time, in order.
   */
  async #commit(itemsEnd: number): Promise<void>;
  async #commit<T>(itemsEnd: number, last: (tx: StoreTransaction) => Promise<T>): Promise<T>;
  async #commit<T>(
    itemsEnd: number,
    last?: (tx: StoreTransaction) => Promise<T>,
  ): Promise<T | undefined> {
    await this.settle();
    const end = Math.max(itemsEnd, this.#window.start);
    await this.#ensureDelivery();
    const readings = this.#readings;
    this.#readings = [];
    const rejects: PendingReject[] = [];
    for (const reject of this.#rejects) {
      const location = reject.location;
      rejects.push({
        reject,
        rawSha256: await this.#rawSha256(location.byteOffset, location.byteLength),
      });
    }
    this.#rejects = [];
    const options = this.#options;
    const rawStart = this.#window.start;
    const rawBytes = this.#window.slice(rawStart, end) ?? Buffer.alloc(0);
    if (readings.length === 0 && rejects.length === 0) {
      // Bytes that held no record (whitespace, a trailing newline) are still evidence: store them.
      const chunks = splitChunks(rawStart, rawBytes);
      const outcome = await options.store.transaction(async (tx) => {
        for (const chunk of chunks) {
          await tx.putRawChunk(this.#deliveryId, chunk.byteOffset, chunk.bytes);
        }
        return last === undefined ? undefined : last(tx);
      });
      this.#window.take(end);
      this.#batchStart = end;
      return outcome;
    }
    const byteOffset = this.#batchStart;
    // The batch's bytes leave the window now, so the next batch fills it while this one commits.
    this.#window.take(end);
    this.#batchStart = end;
    const holdRawSha256 = (index: number): string => {
      const location = readings[index]?.location;
      if (location === undefined || location.byteOffset < rawStart) return '';
      const from = location.byteOffset - rawStart;
      const to = from + location.byteLength;
      return to > rawBytes.byteLength ? '' : hash('sha256', rawBytes.subarray(from, to), 'hex');
    };
    const input = {
      deliveryId: this.#deliveryId,
      sourceId: options.sourceId,
      kind: 'ingest' as const,
      format: options.format,
      readings,
      rejects,
      rawChunks: splitChunks(rawStart, rawBytes),
      byteOffset,
      byteLength: end - byteOffset,
      atMs: options.clock.nowMs(),
      detectors: this.#detectors,
      sequenced: !isTypedFormat(options.format),
    };
    const sizeBytes = this.#sizeBytes;
    const committing = options.store
      .transaction(async (tx) => {
        const committed = await commitBatchIn(tx, input, holdRawSha256);
        return { result: committed, outcome: last === undefined ? undefined : await last(tx) };
      })
      .then(({ result, outcome }) => {
        this.#committed(result, byteOffset, end - byteOffset, sizeBytes);
        return outcome;
      });
    if (last !== undefined) return committing;
    const inFlight = committing.then(() => undefined);
    // Awaited by the next settle(), which rethrows; until then a failure is not unhandled.
    inFlight.catch(() => undefined);
    this.#inFlight = inFlight;
    return undefined;
  }

  /** A batch has committed: count it, log it and tell the caller, in commit order. */
  #committed(result: BatchResult, byteOffset: number, byteLength: number, sizeBytes: number) {
    const options = this.#options;
    this.batches += 1;
    addCounts(this.counts, result.counts);
    options.log?.info(
      {
        delivery: this.#deliveryId,
        source: options.sourceId,
        name: options.name,
        batch: result.batchId,
        auditSeq: result.auditSeq,
        byteOffset,
        byteLength,
        counts: result.counts,
      },
      `batch ${result.batchId} of delivery ${options.name} committed`,
    );
    options.onBatch?.(result, sizeBytes);
  }
}

function refuseForeignMeter(scope: MeterScope, meterId: string): never {
  throw new AmisyncError(
    'FORBIDDEN',
    `${scope.owner} may not deliver readings of meter ${meterId}: the whole delivery is refused`,
    { owner: scope.owner, meterId },
  );
}

/** Stores this process has already looked at for interrupted deliveries. */
const storesChecked = new WeakSet<Store>();

/**
 * The first ingest through a store marks the deliveries that earlier, dead processes left
 * unfinished; later ones need not look again, since this process's own deliveries are alive.
 */
async function markInterruptedOnce(store: Store, atMs: number): Promise<void> {
  if (storesChecked.has(store)) return;
  await markInterruptedDeliveries(store, atMs);
  storesChecked.add(store);
}

function throwIfShuttingDown(signal: AbortSignal | undefined, name: string): void {
  if (signal?.aborted === true) {
    throw new AmisyncError(
      'SHUTTING_DOWN',
      `stopped reading ${name}: shutting down; it is not acknowledged and will be delivered again`,
    );
  }
}

/** Ingests one delivery from its bytes. Resolves after the last batch has committed. */
export async function ingestDelivery(
  chunks: AsyncIterable<Uint8Array>,
  options: IngestOptions,
): Promise<DeliveryReport> {
  const threads = options.threads ?? 1;
  if (threads > 1 && parsesInParallel(options.format)) {
    const head = await readHead(chunks, options.parallelFromBytes ?? PARALLEL_FROM_BYTES);
    if (head.rest === null) return ingestOnThisThread(fromArray(head.chunks), options);
    // The committing thread bounds the parallel pipeline: the store's upkeep goes elsewhere.
    options.store.upkeepInBackground?.();
    return ingestJudgedInParallel(
      headThenRest(head.chunks, head.rest),
      options,
      options.parsePool ?? sharedParsePool(threads - 1),
    );
  }
  return ingestOnThisThread(chunks, options);
}

/**
 * A delivery smaller than this runs on the committing thread even with parse threads: it makes at
 * most a few parse jobs, so nothing overlaps and the hand-over to a parse thread and back is pure
 * cost (a broker batch of 1,000 one-reading messages, 150 KiB, ran 19,000 readings/s with two
 * threads against 24,000/s on one; docs/threads.md).
 */
export const PARALLEL_FROM_BYTES = 1024 * 1024;

interface Head {
  readonly chunks: Uint8Array[];
  /** The delivery's further chunks, or null when it ended within the head. */
  readonly rest: AsyncIterator<Uint8Array> | null;
}

/** Reads chunks until they hold `bytesMin` bytes (at least one chunk) or the delivery ends. */
async function readHead(chunks: AsyncIterable<Uint8Array>, bytesMin: number): Promise<Head> {
  const iterator = chunks[Symbol.asyncIterator]();
  const head: Uint8Array[] = [];
  let bytes = 0;
  try {
    do {
      const next = await iterator.next();
      if (next.done === true) return { chunks: head, rest: null };
      head.push(next.value);
      bytes += next.value.length;
    } while (bytes < bytesMin);
  } catch (error) {
    await iterator.return?.();
    throw error;
  }
  return { chunks: head, rest: iterator };
}

async function* fromArray(chunks: readonly Uint8Array[]): AsyncGenerator<Uint8Array> {
  yield* chunks;
}

/** The head's chunks, then the rest; the rest is closed if the reader stops early. */
async function* headThenRest(
  head: readonly Uint8Array[],
  rest: AsyncIterator<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  let done = false;
  try {
    yield* head;
    for (;;) {
      const next = await rest.next();
      if (next.done === true) {
        done = true;
        return;
      }
      yield next.value;
    }
  } finally {
    if (!done) await rest.return?.();
  }
}

/** The single-thread pipeline: parse, validate, key and commit on the calling thread. */
async function ingestOnThisThread(
  chunks: AsyncIterable<Uint8Array>,
  options: IngestOptions,
): Promise<DeliveryReport> {
  const run = new DeliveryRun(options);
  try {
    for await (const chunk of chunks) {
      throwIfShuttingDown(options.signal, options.name);
      await run.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
    }
    throwIfShuttingDown(options.signal, options.name);
    return await run.end();
  } catch (error) {
    await stopQuietly(run);
    throw error;
  }
}

/**
 * A run stopped early (the source failed, shutting down) still has its last batch in flight: it
 * commits or fails before the run's error goes back, so nothing writes after ingest has returned.
 */
async function settleQuietly(run: DeliveryRun): Promise<void> {
  await run.settle().catch(() => undefined);
}

/**
 * A run that stopped before its end: its last batch settles, then its delivery (if it began) is
 * marked interrupted. When the store itself failed the mark fails too, and the next process makes
 * it; the run's own error is the one that goes back.
 */
async function stopQuietly(run: DeliveryRun): Promise<void> {
  await settleQuietly(run);
  await run.markStopped().catch(() => undefined);
}

/** A parser that finds nothing: the empty-delivery guard alone, on the committing thread. */
const NOTHING_PARSER = { push: () => [], end: () => [], context: () => ({}) };

/**
 * The parallel pipeline: parse threads judge the records, this thread takes each chunk's bytes
 * and verdicts in delivery order and commits, exactly as the single-thread run would.
 */
async function ingestJudgedInParallel(
  chunks: AsyncIterable<Uint8Array>,
  options: IngestOptions,
  pool: ParsePool,
): Promise<DeliveryReport> {
  const run = new DeliveryRun(options);
  const blank = guardEmptyDelivery(NOTHING_PARSER);
  const judged = judgeInParallel(chunks, pool, options.dictionary, options.clock);
  try {
    for await (const { chunk, verdicts } of judged) {
      throwIfShuttingDown(options.signal, options.name);
      if (chunk === null) return await run.endJudged(verdicts, blank.end());
      blank.push(chunk);
      await run.pushJudged(chunk, verdicts);
    }
  } catch (error) {
    await stopQuietly(run);
    throw error;
  }
  assert.fail('the parse threads ended without the end of the delivery');
}
