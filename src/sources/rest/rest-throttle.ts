/**
 * Rate limits as a REST peer advertises them. Every response's `X-RateLimit-Remaining` /
 * `X-RateLimit-Reset` and IETF `RateLimit` / `RateLimit-Policy` headers (the structured form
 * `"default";r=5;t=30` and the older `limit=10, remaining=5, reset=30` and `RateLimit-Remaining`)
 * are read; once the remaining budget is spent the source asks nothing until the reset, so it never
 * exceeds the limit instead of waiting to be told with a 429. A 429 or 503 with `Retry-After`
 * (delay seconds or an HTTP date) blocks the source for that long, clamped to
 * REST_RETRY_AFTER_MS_MAX.
 */
import { REST_RETRY_AFTER_MS_MAX, REST_THROTTLE_DEFAULT_MS } from '../../core/limits.js';

export type ResponseHeaders = Readonly<Record<string, string | string[] | undefined>>;

/** What one response said about the budget: requests left and milliseconds until it resets. */
export interface RateLimitState {
  readonly remaining: number | null;
  readonly resetAfterMs: number | null;
}

/** Epoch-seconds values of `X-RateLimit-Reset` are above this; smaller ones are delays. */
const EPOCH_SECONDS_FROM = 1_000_000_000;

export function headerValue(headers: ResponseHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

function clampMs(ms: number): number {
  return Math.min(REST_RETRY_AFTER_MS_MAX, Math.max(0, Math.ceil(ms)));
}

function finiteNumber(text: string | undefined): number | null {
  if (text === undefined || !/^\s*-?\d+(\.\d+)?\s*$/.test(text)) return null;
  return Number(text);
}

/** `Retry-After`: delay seconds or an HTTP date; null when absent or unreadable. Clamped. */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | null {
  if (value === undefined || value.trim() === '') return null;
  const seconds = finiteNumber(value);
  if (seconds !== null) return clampMs(seconds * 1000);
  const dateMs = Date.parse(value);
  return Number.isNaN(dateMs) ? null : clampMs(dateMs - nowMs);
}

interface Policy {
  remaining?: number;
  resetSeconds?: number;
  windowSeconds?: number;
}

/** Parses `RateLimit` or `RateLimit-Policy` into named policies (draft-07 items merge into one). */
function parsePolicies(value: string | undefined): Map<string, Policy> {
  const policies = new Map<string, Policy>();
  for (const item of (value ?? '').split(',')) {
    const parts = item.split(';').map((part) => part.trim());
    const head = parts[0] ?? '';
    const named = head !== '' && !head.includes('=');
    const name = named ? head.replace(/^"|"$/g, '') : '';
    const policy = policies.get(name) ?? {};
    for (const part of named ? parts.slice(1) : parts) {
      const [key = '', raw] = part.split('=', 2).map((piece) => piece.trim().toLowerCase());
      const number = finiteNumber(raw);
      if (number === null) continue;
      if (key === 'r' || key === 'remaining') policy.remaining = number;
      if (key === 't' || key === 'reset') policy.resetSeconds = number;
      if (key === 'w' || key === 'window') policy.windowSeconds = number;
    }
    if (Object.keys(policy).length > 0) policies.set(name, policy);
  }
  return policies;
}

function ietfState(headers: ResponseHeaders): RateLimitState | null {
  const policies = parsePolicies(headerValue(headers, 'ratelimit'));
  const separate: Policy = {};
  const remaining = finiteNumber(headerValue(headers, 'ratelimit-remaining'));
  const reset = finiteNumber(headerValue(headers, 'ratelimit-reset'));
  if (remaining !== null) separate.remaining = remaining;
  if (reset !== null) separate.resetSeconds = reset;
  if (separate.remaining !== undefined) policies.set('', { ...policies.get(''), ...separate });
  let tightest: (Policy & { name: string }) | null = null;
  for (const [name, policy] of policies) {
    if (policy.remaining === undefined) continue;
    if (tightest === null || policy.remaining < (tightest.remaining ?? Infinity)) {
      tightest = { ...policy, name };
    }
  }
  if (tightest === null) return null;
  const window = parsePolicies(headerValue(headers, 'ratelimit-policy')).get(tightest.name);
  const resetSeconds = tightest.resetSeconds ?? window?.windowSeconds;
  return {
    remaining: tightest.remaining ?? null,
    resetAfterMs: resetSeconds === undefined ? null : clampMs(resetSeconds * 1000),
  };
}

function legacyState(headers: ResponseHeaders, nowMs: number): RateLimitState | null {
  const remaining = finiteNumber(headerValue(headers, 'x-ratelimit-remaining'));
  if (remaining === null) return null;
  const reset = finiteNumber(headerValue(headers, 'x-ratelimit-reset'));
  let resetAfterMs: number | null = null;
  if (reset !== null) {
    resetAfterMs = clampMs(reset >= EPOCH_SECONDS_FROM ? reset * 1000 - nowMs : reset * 1000);
  }
  return { remaining, resetAfterMs };
}

/** The tighter of the two header families when a peer sends both. */
export function readRateLimit(headers: ResponseHeaders, nowMs: number): RateLimitState | null {
  const states = [ietfState(headers), legacyState(headers, nowMs)].filter(
    (state): state is RateLimitState => state !== null,
  );
  if (states.length === 0) return null;
  return states.reduce((a, b) => ((b.remaining ?? Infinity) < (a.remaining ?? Infinity) ? b : a));
}

/**
 * When the source may send its next request. `observe` every response; `waitMs` before every
 * request: a positive answer is returned as `idle(ms, 'throttled')`.
 */
export class RestThrottle {
  #blockedUntilMs = 0;

  waitMs(nowMs: number): number {
    return Math.max(0, this.#blockedUntilMs - nowMs);
  }

  /** Reads the budget headers; blocks until the reset once nothing remains. */
  observe(headers: ResponseHeaders, nowMs: number): void {
    const state = readRateLimit(headers, nowMs);
    if (state === null || state.remaining === null || state.remaining > 0) return;
    this.#block(nowMs, state.resetAfterMs ?? REST_THROTTLE_DEFAULT_MS);
  }

  /**
   * A 429 or 503 told us to wait: Retry-After, else the budget's reset, else the default. Returns
   * how long.
   */
  refused(headers: ResponseHeaders, nowMs: number): number {
    const retryAfterMs = parseRetryAfter(headerValue(headers, 'retry-after'), nowMs);
    const waitMs =
      retryAfterMs ?? readRateLimit(headers, nowMs)?.resetAfterMs ?? REST_THROTTLE_DEFAULT_MS;
    this.#block(nowMs, waitMs);
    return this.waitMs(nowMs);
  }

  #block(nowMs: number, waitMs: number): void {
    this.#blockedUntilMs = Math.max(this.#blockedUntilMs, nowMs + clampMs(waitMs));
  }
}
