/**
 * A token bucket per vendor on the injected clock: `burst` requests at once, refilled at
 * `requestsPerMinute`. A request that finds the bucket empty is told when one token will be there.
 */
import type { TimerClock } from '../../core/clock.js';

interface Bucket {
  tokens: number;
  atMs: number;
}

/** Vendors whose buckets are kept at most; a full bucket is forgotten first (it limits nothing). */
const BUCKETS_KEPT_MAX = 10_000;

export class VendorRateLimiter {
  readonly #clock: TimerClock;
  readonly #perMs: number;
  readonly #burst: number;
  readonly #buckets = new Map<string, Bucket>();

  constructor(clock: TimerClock, requestsPerMinute: number, burst: number) {
    this.#clock = clock;
    this.#perMs = requestsPerMinute / 60_000;
    this.#burst = burst;
  }

  /** Takes one token for the vendor: 0 when taken, else the milliseconds until one is there. */
  take(vendor: string): number {
    const nowMs = this.#clock.monotonicMs();
    const bucket = this.#refilled(vendor, nowMs);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - bucket.tokens) / this.#perMs);
  }

  #refilled(vendor: string, nowMs: number): Bucket {
    let bucket = this.#buckets.get(vendor);
    if (bucket === undefined) {
      if (this.#buckets.size >= BUCKETS_KEPT_MAX) this.#forgetFull(nowMs);
      bucket = { tokens: this.#burst, atMs: nowMs };
      this.#buckets.set(vendor, bucket);
    }
    bucket.tokens = Math.min(this.#burst, bucket.tokens + (nowMs - bucket.atMs) * this.#perMs);
    bucket.atMs = nowMs;
    return bucket;
  }

  #forgetFull(nowMs: number): void {
    for (const [vendor, bucket] of this.#buckets) {
      if (bucket.tokens + (nowMs - bucket.atMs) * this.#perMs >= this.#burst) {
        this.#buckets.delete(vendor);
      }
    }
  }
}
