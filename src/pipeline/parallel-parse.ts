/**
 * The parallel pipeline's front (issue 11, part 4): a delivery's bytes are cut at line feeds into
 * segments of whole lines, parse threads parse, validate and key them (parse-worker.ts), and the
 * verdicts come back in delivery order, each chunk's with the chunk, so the committing thread sees
 * exactly the sequence of verdicts the single-thread pipeline builds and commits the same batches.
 * NDJSON only: its lines stand alone, so a cut at a line feed is a record boundary.
 */
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Clock } from '../core/clock.js';
import { AmisyncError } from '../core/errors.js';
import { RECORD_BYTES_MAX } from '../core/limits.js';
import type { DataDictionary } from '../dictionary/dictionary.js';
import { decodeVerdicts } from './judged-codec.js';
import type { Verdict } from './judge.js';
import type { OversizedLine, ParseAnswer, ParseJob, SegmentSpec } from './parse-job.js';

/** Threads by default: the machine's cores, at most this many (one commits, the rest parse). */
export const THREADS_DEFAULT_MAX = 8;
/** The most threads `--threads` accepts. */
export const THREADS_MAX = 64;
/** A job is cut once it holds this many bytes (or the input ends). */
const JOB_BYTES_MIN = 256 * 1024;
/**
 * Bytes sent to the parse threads and not yet handed on, per parse thread: the read-ahead. It must
 * outlast a batch's commit, which blocks the committing thread: a commit of 10,000 readings (about
 * 1.2 MB of NDJSON) takes about 100 ms, in which a parse thread gets through about 3 MB. Two jobs a
 * thread (2 MiB with 1 MiB reads), as before, left it idle for most of each commit and the
 * committing thread waiting for verdicts after it.
 */
export const READ_AHEAD_BYTES_PER_THREAD = 4 * 1024 * 1024;
/** At least this many jobs per parse thread are in flight, whatever their size. */
const JOBS_IN_FLIGHT_MIN_PER_THREAD = 2;
/** A line longer than this (its terminator and a byte order mark included) is only counted. */
const CARRY_BYTES_MAX = RECORD_BYTES_MAX + 4;
const LINE_FEED = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const BYTE_ORDER_MARK = [0xef, 0xbb, 0xbf];

/** The default thread count: every core, capped at THREADS_DEFAULT_MAX. */
export function defaultThreads(): number {
  return Math.max(1, Math.min(availableParallelism(), THREADS_DEFAULT_MAX));
}

/** Whether a format's records can be parsed in parse threads (else it runs on one thread). */
export function parsesInParallel(format: string): boolean {
  return format === 'ndjson';
}

/** A segment cut from the delivery: its spec and the bytes (views into the chunks read). */
interface Cut {
  spec: SegmentSpec;
  parts: Uint8Array[];
}

/**
 * Cuts a delivery's chunks at their last line feed. What follows it is carried to the next chunk,
 * but a line longer than CARRY_BYTES_MAX is only measured (as the NDJSON parser does), so memory
 * stays bounded; its reject is made from its offset and length.
 */
export class NdjsonCutter {
  #offset = 0;
  #carryStart = 0;
  #carryLine = 1;
  #carry: Uint8Array[] = [];
  #carryBytes = 0;
  #oversizedAt = -1;
  #lastByte = -1;

  cut(chunk: Buffer): Cut {
    const lastLineFeed = chunk.lastIndexOf(LINE_FEED);
    if (lastLineFeed === -1) {
      const start = this.#offset;
      this.#hold(chunk, 0);
      return { spec: this.#emptySpec(start), parts: [] };
    }
    let from = 0;
    let oversized: OversizedLine | null = null;
    let parts: Uint8Array[] = this.#carry;
    if (this.#oversizedAt !== -1) {
      from = chunk.indexOf(LINE_FEED) + 1;
      const lastByte = from > 1 ? (chunk[from - 2] as number) : this.#lastByte;
      oversized = this.#oversizedLine(this.#carryBytes + from - 1, lastByte);
      parts = [];
    }
    const segmentStart = oversized === null ? this.#carryStart : this.#offset + from;
    const segmentLine = oversized === null ? this.#carryLine : this.#carryLine + 1;
    parts.push(chunk.subarray(from, lastLineFeed + 1));
    const spec: SegmentSpec = {
      byteOffset: segmentStart,
      line: segmentLine,
      atDeliveryStart: segmentStart === 0,
      byteLength: parts.reduce((sum, part) => sum + part.byteLength, 0),
      oversized,
    };
    const nextLine = segmentLine + countLineFeeds(chunk, from, lastLineFeed + 1);
    this.#startCarry(this.#offset + lastLineFeed + 1, nextLine);
    this.#hold(chunk, lastLineFeed + 1);
    return { spec, parts };
  }

  /** The delivery's last line, which has no line feed after it (possibly empty). */
  finish(): Cut {
    if (this.#oversizedAt !== -1) {
      const oversized = this.#oversizedLine(this.#carryBytes, this.#lastByte);
      return { spec: { ...this.#emptySpec(this.#offset), oversized }, parts: [] };
    }
    const spec: SegmentSpec = {
      byteOffset: this.#carryStart,
      line: this.#carryLine,
      atDeliveryStart: this.#carryStart === 0,
      byteLength: this.#carryBytes,
      oversized: null,
    };
    return { spec, parts: this.#carry };
  }

  #emptySpec(byteOffset: number): SegmentSpec {
    return { byteOffset, line: 1, atDeliveryStart: false, byteLength: 0, oversized: null };
  }

  #oversizedLine(totalBytes: number, lastByte: number): OversizedLine {
    const withoutMark = totalBytes - (this.#oversizedAt - this.#carryStart);
    return {
      byteOffset: this.#oversizedAt,
      byteLength: lastByte === CARRIAGE_RETURN ? withoutMark - 1 : withoutMark,
      line: this.#carryLine,
    };
  }

  #startCarry(start: number, line: number): void {
    this.#carryStart = start;
    this.#carryLine = line;
    this.#carry = [];
    this.#carryBytes = 0;
    this.#oversizedAt = -1;
    this.#lastByte = -1;
  }

  #hold(chunk: Buffer, from: number): void {
    this.#offset += chunk.byteLength;
    const added = chunk.byteLength - from;
    if (added === 0) return;
    if (this.#oversizedAt === -1 && this.#carryBytes + added > CARRY_BYTES_MAX) {
      // The NDJSON parser drops a byte order mark before the first line: so does its offset.
      const head = Buffer.concat([...this.#carry, chunk.subarray(from, from + 3)]);
      const marked =
        this.#carryStart === 0 && BYTE_ORDER_MARK.every((byte, index) => head[index] === byte);
      this.#oversizedAt = this.#carryStart + (marked ? BYTE_ORDER_MARK.length : 0);
      this.#carry = [];
    }
    if (this.#oversizedAt === -1) this.#carry.push(chunk.subarray(from));
    this.#carryBytes += added;
    this.#lastByte = chunk[chunk.byteLength - 1] as number;
  }
}

function countLineFeeds(bytes: Buffer, from: number, to: number): number {
  let count = 0;
  for (let at = bytes.indexOf(LINE_FEED, from); at !== -1 && at < to;) {
    count += 1;
    at = bytes.indexOf(LINE_FEED, at + 1);
  }
  return count;
}

interface PendingJob {
  resolve: (answer: ParseAnswer) => void;
  reject: (error: Error) => void;
}

interface PoolThread {
  worker: Worker;
  pending: Map<number, PendingJob>;
  dictionary: DataDictionary | null;
}

/**
 * Parse threads, shared by the deliveries of a process. A thread holds the process open only
 * while it has a job. When any thread fails (an exception it did not catch, an exit), every job
 * waiting on the pool fails with INTERNAL and the pool is closed; the next delivery opens another.
 */
export class ParsePool {
  readonly size: number;
  readonly #threads: PoolThread[] = [];
  #nextJobId = 1;
  #nextThread = 0;
  #failure: AmisyncError | null = null;

  constructor(size: number, workerUrl: URL = parseWorkerUrl()) {
    assert.ok(size >= 1, 'a parse pool has at least one thread');
    this.size = size;
    for (let index = 0; index < size; index++) this.#threads.push(this.#start(workerUrl));
  }

  get failed(): boolean {
    return this.#failure !== null;
  }

  /** Sends one job; its bytes are transferred (the caller must not use `bytes` again). */
  submit(
    segments: SegmentSpec[],
    bytes: ArrayBuffer,
    dictionary: DataDictionary,
    nowMs: number,
  ): Promise<ParseAnswer> {
    if (this.#failure !== null) return Promise.reject(this.#failure);
    const thread = this.#threads[this.#nextThread] as PoolThread;
    this.#nextThread = (this.#nextThread + 1) % this.#threads.length;
    const jobId = this.#nextJobId++;
    const job: ParseJob = {
      jobId,
      nowMs,
      dictionary: thread.dictionary === dictionary ? null : dictionary,
      segments,
      bytes,
    };
    thread.dictionary = dictionary;
    return new Promise<ParseAnswer>((resolve, reject) => {
      if (thread.pending.size === 0) thread.worker.ref();
      thread.pending.set(jobId, { resolve, reject });
      thread.worker.postMessage(job, [bytes]);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.#threads.map((thread) => thread.worker.terminate()));
  }

  #start(workerUrl: URL): PoolThread {
    const thread: PoolThread = {
      worker: new Worker(workerUrl),
      pending: new Map(),
      dictionary: null,
    };
    thread.worker.unref();
    thread.worker.on('message', (answer: ParseAnswer) => {
      const job = thread.pending.get(answer.jobId);
      thread.pending.delete(answer.jobId);
      if (thread.pending.size === 0) thread.worker.unref();
      job?.resolve(answer);
    });
    thread.worker.on('error', (error) => this.#fail(`threw: ${error.message}`));
    thread.worker.on('exit', (code) => this.#fail(`exited with code ${code}`));
    return thread;
  }

  #fail(reason: string): void {
    if (this.#failure !== null) return;
    this.#failure = new AmisyncError(
      'INTERNAL',
      `a parse thread ${reason}; the batch it was parsing was not committed and the delivery is ` +
        'not acknowledged (run with --threads 1 to ingest it on one thread)',
    );
    releaseSharedPool(this);
    for (const thread of this.#threads) {
      for (const job of thread.pending.values()) job.reject(this.#failure);
      thread.pending.clear();
      void thread.worker.terminate();
    }
  }
}

/** The worker script: beside this module when built, and in dist/ when this runs from source. */
function parseWorkerUrl(): URL {
  if (import.meta.url.endsWith('.js')) return new URL('./parse-worker.js', import.meta.url);
  return new URL('../../dist/pipeline/parse-worker.js', import.meta.url);
}

const sharedPools = new Map<number, ParsePool>();

/** The process's pool of `size` parse threads, opened at first use. */
export function sharedParsePool(size: number): ParsePool {
  let pool = sharedPools.get(size);
  if (pool === undefined || pool.failed) {
    pool = new ParsePool(size);
    sharedPools.set(size, pool);
  }
  return pool;
}

function releaseSharedPool(pool: ParsePool): void {
  if (sharedPools.get(pool.size) === pool) sharedPools.delete(pool.size);
}

/** One chunk of the delivery with the verdicts on the records its bytes completed. */
export interface JudgedChunk {
  /** Null for the delivery's end: the verdicts on its last, unterminated line. */
  chunk: Buffer | null;
  verdicts: Verdict[];
}

interface Job {
  chunks: (Buffer | null)[];
  /** The bytes sent. */
  bytes: number;
  answer: Promise<ParseAnswer>;
}

class JobBuilder {
  chunks: (Buffer | null)[] = [];
  cuts: Cut[] = [];
  bytes = 0;

  add(chunk: Buffer | null, cut: Cut): void {
    this.chunks.push(chunk);
    this.cuts.push(cut);
    this.bytes += cut.spec.byteLength;
  }

  send(pool: ParsePool, dictionary: DataDictionary, clock: Clock): Job {
    const buffer = new ArrayBuffer(this.bytes);
    const view = new Uint8Array(buffer);
    let at = 0;
    for (const cut of this.cuts) {
      for (const part of cut.parts) {
        view.set(part, at);
        at += part.byteLength;
      }
    }
    const specs = this.cuts.map((cut) => cut.spec);
    const answer = pool.submit(specs, buffer, dictionary, clock.nowMs());
    // Handled here so a job that fails after an earlier one already failed is not reported as
    // unhandled; the delivery awaits `answer` itself, in order.
    answer.catch(() => undefined);
    return { chunks: this.chunks, bytes: this.bytes, answer };
  }
}

/**
 * The delivery's chunks in order, each with the verdicts of the records it completed, then the
 * end with the verdicts of the last line. Reads ahead at most READ_AHEAD_BYTES_PER_THREAD bytes per
 * parse thread (or JOBS_IN_FLIGHT_MIN_PER_THREAD jobs, when they are larger).
 */
export async function* judgeInParallel(
  input: AsyncIterable<Uint8Array>,
  pool: ParsePool,
  dictionary: DataDictionary,
  clock: Clock,
): AsyncGenerator<JudgedChunk> {
  const cutter = new NdjsonCutter();
  const inFlight: Job[] = [];
  const jobsMin = pool.size * JOBS_IN_FLIGHT_MIN_PER_THREAD;
  const bytesMax = pool.size * READ_AHEAD_BYTES_PER_THREAD;
  const readAhead = (): number => inFlight.reduce((sum, job) => sum + job.bytes, 0);
  let builder = new JobBuilder();
  let recordIndex = 0;
  const settle = async function* (job: Job): AsyncGenerator<JudgedChunk> {
    const answer = await job.answer;
    const verdicts = decodeVerdicts(answer.verdicts, recordIndex);
    recordIndex += verdicts.length;
    let at = 0;
    for (const [index, chunk] of job.chunks.entries()) {
      const count = answer.segmentCounts[index] as number;
      yield { chunk, verdicts: verdicts.slice(at, at + count) };
      at += count;
    }
  };
  for await (const bytes of input) {
    const chunk = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes);
    builder.add(chunk, cutter.cut(chunk));
    if (builder.bytes < JOB_BYTES_MIN) continue;
    inFlight.push(builder.send(pool, dictionary, clock));
    builder = new JobBuilder();
    while (inFlight.length >= jobsMin && readAhead() >= bytesMax) {
      yield* settle(inFlight.shift() as Job);
    }
  }
  builder.add(null, cutter.finish());
  inFlight.push(builder.send(pool, dictionary, clock));
  while (inFlight.length > 0) yield* settle(inFlight.shift() as Job);
}
