/**
 * One job of a parse thread, as plain data: the segments of a delivery it covers and what it
 * answers. Kept apart from the thread's entry point so the same work can be run and tested on the
 * calling thread.
 */
import assert from 'node:assert/strict';
import type { Clock } from '../core/clock.js';
import { itemLocation, type ParseItem } from '../core/parser.js';
import type { DataDictionary } from '../dictionary/dictionary.js';
import { tooLargeItem } from '../formats/items.js';
import { createNdjsonSegmentParser } from '../formats/ndjson.js';
import { encodeVerdicts, type EncodedVerdicts } from './judged-codec.js';
import { createJudge, type Judge, type Verdict } from './judge.js';

/** A line longer than RECORD_BYTES_MAX whose bytes the cutting thread counted but did not keep. */
export interface OversizedLine {
  byteOffset: number;
  byteLength: number;
  line: number;
}

/** Whole lines of a delivery: `byteLength` bytes of the job's buffer, in order. */
export interface SegmentSpec {
  byteOffset: number;
  line: number;
  atDeliveryStart: boolean;
  byteLength: number;
  /** An oversized line that ends where this segment starts: its reject comes first. */
  oversized: OversizedLine | null;
}

export interface ParseJob {
  jobId: number;
  /** The clock reading the validator judges against (taken when the job was cut). */
  nowMs: number;
  /** Sent with a thread's first job and whenever it changes; otherwise null. */
  dictionary: DataDictionary | null;
  segments: SegmentSpec[];
  bytes: ArrayBuffer;
}

export interface ParseAnswer {
  jobId: number;
  /** Verdicts per segment, in order; together they are `verdicts`. */
  segmentCounts: number[];
  verdicts: EncodedVerdicts;
}

/** The clock the thread's validator reads: each job sets the reading it was cut with. */
const jobClock = { nowMs: 0 };
const clock: Clock = { nowMs: () => jobClock.nowMs };
/** Built once per dictionary the thread is sent (building compiles its patterns). */
let currentJudge: Judge | null = null;

/** Parses, validates and keys one job; record indexes count from 0 across the job. */
export function handleParseJob(job: ParseJob): ParseAnswer {
  if (job.dictionary !== null) currentJudge = createJudge(job.dictionary, clock, 'ndjson');
  assert.ok(currentJudge !== null, 'a parse job came before any dictionary');
  jobClock.nowMs = job.nowMs;
  const judge = currentJudge;
  const verdicts: Verdict[] = [];
  const segmentCounts: number[] = [];
  let at = 0;
  for (const segment of job.segments) {
    const before = verdicts.length;
    const bytes = new Uint8Array(job.bytes, at, segment.byteLength);
    at += segment.byteLength;
    judgeSegment(segment, bytes, judge, verdicts);
    segmentCounts.push(verdicts.length - before);
  }
  return { jobId: job.jobId, segmentCounts, verdicts: encodeVerdicts(verdicts) };
}

function judgeSegment(
  segment: SegmentSpec,
  bytes: Uint8Array,
  judge: Judge,
  verdicts: Verdict[],
): void {
  const items: ParseItem[] = [];
  if (segment.oversized !== null) {
    const { byteOffset, byteLength, line } = segment.oversized;
    items.push(tooLargeItem({ recordIndex: 0, line, byteOffset, byteLength }));
  }
  const parser = createNdjsonSegmentParser(segment);
  for (const item of parser.push(bytes)) items.push(item);
  for (const item of parser.end()) items.push(item);
  const base = verdicts.length;
  for (let index = 0; index < items.length; index++) {
    const item = items[index] as ParseItem;
    const location = itemLocation(item);
    location.recordIndex = base + index;
    verdicts.push(judge(item));
  }
}
