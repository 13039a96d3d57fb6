/**
 * The dead-letter queue: a delivery whose attempts are exhausted (or that failed in a way another
 * attempt cannot mend) is kept with the bytes that were fetched, or with its request when none
 * were, and each attempt's error and timing; then its source may be acknowledged, since the store
 * holds everything needed to process it later.
 *
 * - record: one transaction writes the bytes (as the raw chunks of a delivery row of its own), the
 *   dead-letter row, that delivery's counts (one received unit, dead-lettered), the source's new
 *   position when the delivery will be acknowledged, and the `deadletter.recorded` audit entry.
 * - replay: the bytes go through the same ingest path as any delivery (a new delivery of the same
 *   source, name and transport id), so identity absorbs whatever was accepted already; then the
 *   dead letter is marked replayed with a `deadletter.replayed` entry.
 * - discard: keeps the row and the bytes, marks it discarded with a `deadletter.discarded` entry;
 *   a justification is required.
 *
 * Each decision acts only when the dead letter is still open as read inside the transaction that
 * records it, so two operators never both decide one dead letter (the loser gets INVALID_STATE).
 */
import assert from 'node:assert/strict';
import { hash } from 'node:crypto';
import { nextEntry } from '../audit/hash-chain.js';
import type { Clock, Random } from '../core/clock.js';
import type { AttemptRecord, DeadLetterCause } from '../core/dead-letter.js';
import { AmisyncError } from '../core/errors.js';
import { DECISION_NOTE_CHARS_MIN, RAW_CHUNK_BYTES_MAX } from '../core/limits.js';
import type { FormatContext, InputFormat } from '../core/parser.js';
import type { Refetched, SourcePosition } from '../core/source.js';
import type {
  BatchCounts,
  DeadLetterDecision,
  DeadLetterRow,
  Store,
  StoreTransaction,
} from '../core/store.js';
import type { Detector } from '../detect/detect.js';
import type { DataDictionary } from '../dictionary/dictionary.js';
import { emptyCounts } from './commit.js';
import { ingestDelivery, type DeliveryReport } from './ingest.js';

/** What a delivery (or a page request) was, and what went wrong, when it is dead-lettered. */
export interface DeadLetterCapture {
  sourceId: string;
  name: string;
  format: InputFormat;
  formatContext: FormatContext;
  transportId: string | null;
  attempt: number;
  metadata: Readonly<Record<string, string>>;
  partitionKey: string | null;
  /** Saved with the dead letter when every byte was read (the delivery is then acknowledged). */
  position: SourcePosition | null;
  /** The bytes fetched, in order; null when the request fetched none. */
  bytes: readonly Uint8Array[] | null;
  bytesComplete: boolean;
  request: Readonly<Record<string, unknown>> | null;
  attempts: readonly AttemptRecord[];
  cause: DeadLetterCause;
}

export interface DeadLetterRecordReport {
  deadLetterId: number;
  deliveryId: string;
  counts: BatchCounts;
  auditSeq: number;
  /** Whether the source may now be acknowledged: only when every byte is kept. */
  acknowledge: boolean;
}

export interface DeadLetterContext {
  store: Store;
  clock: Clock;
  random: Random;
}

/** One received unit, dead-lettered: what a dead letter adds to its delivery's counts. */
export function deadLetterCounts(): BatchCounts {
  return { ...emptyCounts(), received: 1, deadLettered: 1 };
}

function joined(bytes: readonly Uint8Array[] | null): Buffer | null {
  return bytes === null ? null : Buffer.concat(bytes.map((chunk) => Buffer.from(chunk)));
}

async function putBytes(tx: StoreTransaction, deliveryId: string, bytes: Buffer): Promise<void> {
  for (let at = 0; at < bytes.byteLength; at += RAW_CHUNK_BYTES_MAX) {
    await tx.putRawChunk(deliveryId, at, bytes.subarray(at, at + RAW_CHUNK_BYTES_MAX));
  }
}

/** Keeps a delivery that could not be processed; resolves once it is committed. */
export async function recordDeadLetter(
  context: DeadLetterContext,
  capture: DeadLetterCapture,
): Promise<DeadLetterRecordReport> {
  const { store, clock } = context;
  const deliveryId = `dlv_${context.random.hex(10)}`;
  const bytes = joined(capture.bytes);
  const rawSha256 = bytes === null ? null : hash('sha256', bytes, 'hex');
  const acknowledge = bytes !== null && capture.bytesComplete;
  await store.createDelivery({
    id: deliveryId,
    sourceId: capture.sourceId,
    name: capture.name,
    format: capture.format,
    formatContext: capture.formatContext,
    startedAtMs: clock.nowMs(),
    transportId: capture.transportId,
    attempt: capture.attempt,
    metadata: capture.metadata,
    partitionKey: capture.partitionKey,
  });
  const counts = deadLetterCounts();
  return store.transaction(async (tx) => {
    const atMs = clock.nowMs();
    if (bytes !== null) await putBytes(tx, deliveryId, bytes);
    const head = await tx.auditHead();
    const auditSeq = (head?.seq ?? 0) + 1;
    const deadLetterId = await tx.insertDeadLetter({
      sourceId: capture.sourceId,
      deliveryId,
      transportId: capture.transportId,
      name: capture.name,
      format: capture.format,
      formatContext: capture.formatContext,
      rawSha256,
      sizeBytes: bytes?.byteLength ?? null,
      bytesComplete: acknowledge,
      request: capture.request,
      attempts: capture.attempts.map((attempt) => ({ ...attempt })),
      cause: capture.cause,
      createdAtMs: atMs,
      auditSeq,
    });
    const entry = nextEntry(
      head,
      'deadletter.recorded',
      {
        deadLetter: deadLetterId,
        source: capture.sourceId,
        delivery: deliveryId,
        transportId: capture.transportId,
        rawSha256,
        sizeBytes: bytes?.byteLength ?? null,
        bytesComplete: acknowledge,
        cause: capture.cause,
        attempts: capture.attempts.length,
        counts,
      },
      atMs,
    );
    assert.equal(entry.seq, auditSeq, 'the dead letter names the entry that records it');
    await tx.appendAuditEntry(entry);
    await tx.addDeliveryCounts(deliveryId, counts);
    await tx.finishDelivery(
      deliveryId,
      rawSha256 ?? hash('sha256', '', 'hex'),
      bytes?.byteLength ?? 0,
      atMs,
    );
    if (acknowledge && capture.position !== null) {
      await tx.saveSourcePosition({
        sourceId: capture.sourceId,
        position: JSON.stringify(capture.position),
        deliveryId,
        savedAtMs: atMs,
      });
    }
    return { deadLetterId, deliveryId, counts, auditSeq, acknowledge };
  });
}

/** The justification an operator gives for a decision, trimmed; USAGE when it is too short. */
export function requireJustification(text: string | undefined): string {
  const trimmed = (text ?? '').trim();
  if (trimmed.length < DECISION_NOTE_CHARS_MIN) {
    throw new AmisyncError(
      'USAGE',
      `a justification of at least ${DECISION_NOTE_CHARS_MIN} characters is required ` +
        '(for example "vendor confirmed the file is a test upload")',
    );
  }
  return trimmed;
}

function notOpen(id: number, status: string): AmisyncError {
  return new AmisyncError('INVALID_STATE', `dead letter ${id} is ${status}, not open`, { status });
}

async function requireOpen(store: Store, id: number): Promise<DeadLetterRow> {
  const row = await store.getDeadLetter(id);
  if (row === null) throw new AmisyncError('NOT_FOUND', `dead letter ${id} does not exist`);
  if (row.status !== 'open') throw notOpen(id, row.status);
  return row;
}

/** Writes the decision and its audit entry on a dead letter still open in this transaction. */
async function decideOpenIn(
  tx: StoreTransaction,
  id: number,
  kind: string,
  decision: Omit<DeadLetterDecision, 'auditSeq'>,
  extra: Readonly<Record<string, unknown>>,
): Promise<number> {
  const head = await tx.auditHead();
  const auditSeq = (head?.seq ?? 0) + 1;
  if (!(await tx.decideDeadLetter(id, { ...decision, auditSeq }))) {
    throw notOpen(id, (await tx.getDeadLetterRow(id))?.status ?? 'missing');
  }
  const payload = {
    deadLetter: id,
    actor: decision.actor,
    justification: decision.justification,
    ...extra,
  };
  const entry = nextEntry(head, kind, payload, decision.atMs);
  await tx.appendAuditEntry(entry);
  return entry.seq;
}

/** The kept bytes of a replayable dead letter, checked against the hash it was recorded with. */
async function keptBytes(store: Store, row: DeadLetterRow): Promise<Buffer> {
  if (row.rawSha256 === null || row.sizeBytes === null || !row.bytesComplete) {
    throw new AmisyncError(
      'INVALID_STATE',
      `dead letter ${row.id} holds no complete delivery (its bytes were not all fetched): its ` +
        'source was not acknowledged and delivers it again; discard it once that has arrived',
    );
  }
  const parts: Uint8Array[] = [];
  for (let at = 0; at < row.sizeBytes; at += RAW_CHUNK_BYTES_MAX) {
    const length = Math.min(RAW_CHUNK_BYTES_MAX, row.sizeBytes - at);
    parts.push(await store.readDeliveryBytes(row.deliveryId, at, length));
  }
  const bytes = Buffer.concat(parts);
  if (hash('sha256', bytes, 'hex') !== row.rawSha256) {
    throw new AmisyncError(
      'AUDIT_VERIFY_FAILED',
      `dead letter ${row.id}: its kept bytes differ from the sha256 recorded with it`,
    );
  }
  return bytes;
}

export interface DeadLetterReplayContext extends DeadLetterContext {
  dictionary: DataDictionary;
  detectors?: readonly Detector[];
  actor: string;
}

export interface DeadLetterReplayReport {
  deadLetterId: number;
  /** The delivery its bytes became, with that delivery's counts. */
  delivery: DeliveryReport;
  auditSeq: number;
  /** Its request was fetched again (a request dead letter), rather than its kept bytes read. */
  refetched: boolean;
}

async function* once(bytes: Buffer): AsyncIterable<Uint8Array> {
  yield bytes;
}

/**
 * Fetches a request dead letter's request again: the `refetch` of the configured source it names
 * (`dead-letters replay --config`), connected for the call.
 */
export type Refetch = (
  sourceId: string,
  request: Readonly<Record<string, unknown>>,
) => Promise<Refetched>;

interface ReplayInput {
  bytes: Buffer;
  format: InputFormat;
  formatContext: FormatContext;
  /** True when the bytes were fetched now (a request dead letter), not kept. */
  refetched: boolean;
}

/**
 * What a replay ingests: the kept bytes; or, for a request dead letter (no bytes: the page could
 * not be fetched at all), the page fetched again now through its source.
 */
async function replayInput(
  store: Store,
  row: DeadLetterRow,
  refetch: Refetch | undefined,
): Promise<ReplayInput> {
  if (row.bytesComplete || row.request === null || row.rawSha256 !== null) {
    const bytes = await keptBytes(store, row);
    const format = row.format as InputFormat;
    return { bytes, format, formatContext: row.formatContext as FormatContext, refetched: false };
  }
  if (refetch === undefined) {
    throw new AmisyncError(
      'INVALID_STATE',
      `dead letter ${row.id} is a request that could not be fetched, with no bytes: replay it ` +
        `with --config FILE naming source ${row.sourceId}, which fetches it again`,
    );
  }
  const fetched = await refetch(row.sourceId, row.request);
  return {
    bytes: Buffer.concat(fetched.chunks.map((chunk) => Buffer.from(chunk))),
    format: fetched.format,
    formatContext: fetched.formatContext,
    refetched: true,
  };
}

/**
 * Ingests a dead letter's bytes (or, for a request dead letter, its page fetched again) as a new
 * delivery of its source, then marks it replayed. When another operator decided it meanwhile,
 * what this replay ingested stays (identity absorbed any repeat) and the call fails with
 * INVALID_STATE, writing no decision.
 */
export async function replayDeadLetter(
  context: DeadLetterReplayContext,
  id: number,
  justificationText?: string,
  refetch?: Refetch,
): Promise<DeadLetterReplayReport> {
  const justification = (justificationText ?? '').trim();
  const row = await requireOpen(context.store, id);
  const input = await replayInput(context.store, row, refetch);
  const delivery = await ingestDelivery(once(input.bytes), {
    store: context.store,
    dictionary: context.dictionary,
    clock: context.clock,
    random: context.random,
    detectors: context.detectors ?? [],
    format: input.format,
    formatContext: input.formatContext,
    name: row.name,
    sourceId: row.sourceId,
    transportId: row.transportId,
  });
  const atMs = context.clock.nowMs();
  const auditSeq = await context.store.transaction((tx) =>
    decideOpenIn(
      tx,
      id,
      'deadletter.replayed',
      {
        status: 'replayed',
        actor: context.actor,
        justification,
        atMs,
        resolvedDeliveryId: delivery.deliveryId,
      },
      { delivery: delivery.deliveryId, counts: delivery.counts, refetched: input.refetched },
    ),
  );
  return { deadLetterId: id, delivery, auditSeq, refetched: input.refetched };
}

export interface DeadLetterDiscardReport {
  deadLetterId: number;
  auditSeq: number;
}

/** Marks a dead letter discarded; its row and bytes stay, and the audit trail says who and why. */
export async function discardDeadLetter(
  context: Omit<DeadLetterContext, 'random'> & { actor: string },
  id: number,
  justificationText: string | undefined,
): Promise<DeadLetterDiscardReport> {
  const justification = requireJustification(justificationText);
  const atMs = context.clock.nowMs();
  const auditSeq = await context.store.transaction(async (tx) => {
    const row = await tx.getDeadLetterRow(id);
    if (row === null) throw new AmisyncError('NOT_FOUND', `dead letter ${id} does not exist`);
    return decideOpenIn(
      tx,
      id,
      'deadletter.discarded',
      { status: 'discarded', actor: context.actor, justification, atMs, resolvedDeliveryId: null },
      {},
    );
  });
  return { deadLetterId: id, auditSeq };
}
