/**
 * A time-based sliding window of call outcomes (as resilience4j defines it): the calls completed in
 * the last `windowMs` on a monotonic clock, kept as per-bucket counts so memory is bounded whatever
 * the call rate. A call lands in the bucket of its completion time; a bucket older than the window
 * is forgotten whole, so the window's precision is one bucket (a second by default).
 */
import assert from 'node:assert/strict';
import { SLIDING_WINDOW_BUCKETS_MAX } from '../core/limits.js';

/** One call as the window counts it. */
export type Outcome = 'success' | 'failure';

/** What the window holds now. */
export interface WindowTotals {
  readonly calls: number;
  readonly failures: number;
  /** Calls slower than the caller's threshold (counted whatever their outcome). */
  readonly slow: number;
}

interface Bucket {
  index: number;
  calls: number;
  failures: number;
  slow: number;
}

export class SlidingWindow {
  readonly windowMs: number;
  readonly bucketMs: number;
  readonly #buckets: Bucket[];

  constructor(windowMs: number, bucketCount = 60) {
    assert.ok(Number.isInteger(windowMs) && windowMs > 0, 'windowMs must be a positive integer');
    assert.ok(
      Number.isInteger(bucketCount) && bucketCount > 0 && bucketCount <= SLIDING_WINDOW_BUCKETS_MAX,
      `bucketCount must be 1..${SLIDING_WINDOW_BUCKETS_MAX}`,
    );
    this.windowMs = windowMs;
    this.bucketMs = Math.max(1, Math.ceil(windowMs / bucketCount));
    this.#buckets = Array.from({ length: Math.ceil(windowMs / this.bucketMs) }, () => ({
      index: -1,
      calls: 0,
      failures: 0,
      slow: 0,
    }));
  }

  /** Counts one call completed at `atMs` (monotonic). */
  record(atMs: number, outcome: Outcome, slow = false): void {
    const bucket = this.#bucketAt(atMs);
    bucket.calls += 1;
    if (outcome === 'failure') bucket.failures += 1;
    if (slow) bucket.slow += 1;
  }

  /** Counts `calls` calls at once, `failures` of them failed (a delivery's records, say). */
  add(atMs: number, calls: number, failures: number): void {
    const bucket = this.#bucketAt(atMs);
    bucket.calls += calls;
    bucket.failures += failures;
  }

  /** The calls completed in the window that ends at `nowMs` (monotonic). */
  totals(nowMs: number): WindowTotals {
    const newest = this.#indexOf(nowMs);
    const oldest = newest - this.#buckets.length + 1;
    let calls = 0;
    let failures = 0;
    let slow = 0;
    for (const bucket of this.#buckets) {
      if (bucket.index < oldest || bucket.index > newest) continue;
      calls += bucket.calls;
      failures += bucket.failures;
      slow += bucket.slow;
    }
    return { calls, failures, slow };
  }

  /** Forgets every call (a breaker that closes starts a fresh window). */
  clear(): void {
    for (const bucket of this.#buckets)
      Object.assign(bucket, { index: -1, calls: 0, failures: 0, slow: 0 });
  }

  #indexOf(atMs: number): number {
    return Math.floor(Math.max(0, atMs) / this.bucketMs);
  }

  #bucketAt(atMs: number): Bucket {
    const index = this.#indexOf(atMs);
    const bucket = this.#buckets[index % this.#buckets.length];
    assert.ok(bucket !== undefined);
    if (bucket.index !== index) Object.assign(bucket, { index, calls: 0, failures: 0, slow: 0 });
    return bucket;
  }
}
