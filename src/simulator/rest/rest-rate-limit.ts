/**
 * The simulated head-end's rate limit: a fixed window of `limit` requests per `windowSeconds` on
 * the simulator's clock, shared by every client, advertised in the headers a client reads.
 *
 * It keeps honest accounts: every request in a window counts, including the ones refused, so
 * `maxRequestsInWindow` is the most any client sent in one window and `overLimit` the requests
 * sent beyond the advertised limit. A test fails a client that ever made either exceed the limit.
 */
import assert from 'node:assert/strict';

/** Which rate-limit headers the head-end sends. */
export const RATE_LIMIT_HEADER_STYLES = ['x-ratelimit', 'ietf', 'both'] as const;
export type RateLimitHeaderStyle = (typeof RATE_LIMIT_HEADER_STYLES)[number];

export interface RateLimitOptions {
  limit: number;
  windowSeconds: number;
  /** Default `both`. */
  headers?: RateLimitHeaderStyle;
}

export interface RateLimitDecision {
  allowed: boolean;
  headers: Record<string, string>;
  /** Whole seconds until the window resets (at least 1). */
  resetSeconds: number;
}

const POLICY_NAME = 'default';

export class FixedWindowRateLimit {
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #style: RateLimitHeaderStyle;
  #windowIndex = Number.NaN;
  #count = 0;
  #maxCount = 0;
  #overLimit = 0;

  constructor(options: RateLimitOptions) {
    assert.ok(Number.isInteger(options.limit) && options.limit >= 1, 'limit');
    assert.ok(Number.isInteger(options.windowSeconds) && options.windowSeconds >= 1, 'window');
    this.#limit = options.limit;
    this.#windowMs = options.windowSeconds * 1000;
    this.#style = options.headers ?? 'both';
  }

  /** Counts one request at `nowMs` and says whether it is within the limit. */
  take(nowMs: number): RateLimitDecision {
    const windowIndex = Math.floor(nowMs / this.#windowMs);
    if (windowIndex !== this.#windowIndex) {
      this.#windowIndex = windowIndex;
      this.#count = 0;
    }
    this.#count += 1;
    this.#maxCount = Math.max(this.#maxCount, this.#count);
    const allowed = this.#count <= this.#limit;
    if (!allowed) this.#overLimit += 1;
    const resetMs = (windowIndex + 1) * this.#windowMs;
    const resetSeconds = Math.max(1, Math.ceil((resetMs - nowMs) / 1000));
    const remaining = Math.max(0, this.#limit - this.#count);
    return {
      allowed,
      resetSeconds,
      headers: this.#headers(remaining, resetSeconds, Math.ceil(resetMs / 1000)),
    };
  }

  get maxRequestsInWindow(): number {
    return this.#maxCount;
  }

  get overLimit(): number {
    return this.#overLimit;
  }

  #headers(remaining: number, resetSeconds: number, resetEpochSeconds: number) {
    const headers: Record<string, string> = {};
    if (this.#style !== 'ietf') {
      headers['x-ratelimit-limit'] = String(this.#limit);
      headers['x-ratelimit-remaining'] = String(remaining);
      headers['x-ratelimit-reset'] = String(resetEpochSeconds);
    }
    if (this.#style !== 'x-ratelimit') {
      const windowSeconds = this.#windowMs / 1000;
      headers['ratelimit-policy'] = `"${POLICY_NAME}";q=${this.#limit};w=${windowSeconds}`;
      headers['ratelimit'] = `"${POLICY_NAME}";r=${remaining};t=${resetSeconds}`;
    }
    return headers;
  }
}
