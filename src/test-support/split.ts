/**
 * Feeds a delivery's bytes to an incremental reader or parser cut at chosen points, as a transport
 * would hand them over, and collects everything it returned, end() included. Every reader and
 * parser test that proves "the same output whatever the chunking" goes through here.
 */
import type { ParseItem } from '../core/parser.js';
import type { CandidateReading } from '../core/reading.js';

export interface Incremental<T> {
  push(chunk: Uint8Array): T[];
  end(): T[];
}

/**
 * `cuts` are byte offsets, in any order, repeats allowed; none feeds the bytes whole. With
 * `ended` false the reader is not ended: what the bytes alone give out (a delivery cut short).
 */
export function pushSplit<T>(
  reader: Incremental<T>,
  bytes: Uint8Array,
  cuts: readonly number[] = [],
  ended = true,
): T[] {
  const out: T[] = [];
  let start = 0;
  for (const cut of [...new Set(cuts)].sort((a, b) => a - b)) {
    out.push(...reader.push(bytes.subarray(start, cut)));
    start = cut;
  }
  out.push(...reader.push(bytes.subarray(start)));
  if (ended) out.push(...reader.end());
  return out;
}

/** The candidate readings among a parser's items, in order. */
export function candidatesOf(items: readonly ParseItem[]): CandidateReading[] {
  return items.flatMap((item) => (item.kind === 'candidate' ? [item.candidate] : []));
}
