/**
 * The retry policy (issue 10 part 1), a wrapper's policy and never an adapter's: exponential
 * backoff with full jitter (AWS's "full jitter": a delay drawn uniformly from 0 to
 * min(cap, base x 2^(n-1)) after the n-th failed attempt), a peer's Retry-After honoured when it
 * asks for longer (clamped to RETRY_DELAY_MS_MAX), and an explicit classification of every error:
 *
 * - `retry`: a transient fault of the peer (unreachable, 5xx, timeout, 429);
 * - `give-up`: retrying cannot help (credentials refused after the forced token refresh, a peer
 *   breaking its protocol, a host key mismatch, a body over its limit, a configuration or
 *   programming error). Malformed records never get here: they are data, quarantined as rejects;
 * - `store-outage`: our own store is busy, locked or full. That is not the peer's fault, so it
 *   neither counts against the endpoint's breaker nor dead-letters anything: intake waits.
 */
import assert from 'node:assert/strict';
import type { Random, TimerClock } from '../core/clock.js';
import { AmisyncError, type ErrorCode } from '../core/errors.js';
import { RETRY_ATTEMPTS_MAX, RETRY_ATTEMPTS_MIN, RETRY_DELAY_MS_MAX } from '../core/limits.js';

export interface RetrySettings {
  /** Attempts of one call, the first included: RETRY_ATTEMPTS_MIN..RETRY_ATTEMPTS_MAX. */
  readonly attempts: number;
  /** The backoff envelope after the first failed attempt. */
  readonly baseDelayMs: number;
  /** The envelope never grows past this. */
  readonly delayMsMax: number;
}

export const RETRY_DEFAULTS: RetrySettings = {
  attempts: 5,
  baseDelayMs: 500,
  delayMsMax: 30_000,
};

export type RetryDecision = 'retry' | 'give-up' | 'store-outage';

export interface Classification {
  readonly decision: RetryDecision;
  /** The failure says something about the endpoint's health (the breaker counts it). */
  readonly endpointFault: boolean;
  /** What the peer asked us to wait, when it said (ms, clamped). */
  readonly retryAfterMs: number | null;
  readonly code: string;
}

const RETRY_CODES: ReadonlySet<ErrorCode> = new Set([
  'TRANSPORT_UNAVAILABLE',
  'TRANSPORT_TIMEOUT',
  'TRANSPORT_RATE_LIMITED',
]);
const GIVE_UP_ENDPOINT_CODES: ReadonlySet<ErrorCode> = new Set([
  'TRANSPORT_AUTH_FAILED',
  'TRANSPORT_PROTOCOL',
  'TRANSPORT_HOST_KEY',
]);
/** Node's and ssh2's codes for a connection that failed on the way, not by the peer's answer. */
const NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);
const STORE_CODES: ReadonlySet<string> = new Set([
  'SQLITE_BUSY',
  'SQLITE_LOCKED',
  'SQLITE_FULL',
  'SQLITE_IOERR',
  'ENOSPC',
]);

function retryAfterOf(error: AmisyncError): number | null {
  const value = error.details.retryAfterMs;
  if (typeof value !== 'number' || !Number.isFinite(value)) return null;
  return Math.min(RETRY_DELAY_MS_MAX, Math.max(0, Math.ceil(value)));
}

/** How a failed call is handled; see the module comment for the rules. */
export function classify(error: unknown): Classification {
  if (error instanceof AmisyncError) {
    const { code } = error;
    const retryAfterMs = retryAfterOf(error);
    if (RETRY_CODES.has(code))
      return { decision: 'retry', endpointFault: true, retryAfterMs, code };
    if (code === 'STORE_UNAVAILABLE') {
      return { decision: 'store-outage', endpointFault: false, retryAfterMs, code };
    }
    const endpointFault = GIVE_UP_ENDPOINT_CODES.has(code);
    return { decision: 'give-up', endpointFault, retryAfterMs: null, code };
  }
  const code = String((error as { code?: unknown } | null)?.code ?? '');
  if (STORE_CODES.has(code)) {
    return { decision: 'store-outage', endpointFault: false, retryAfterMs: null, code };
  }
  if (NETWORK_CODES.has(code)) {
    return { decision: 'retry', endpointFault: true, retryAfterMs: null, code };
  }
  return { decision: 'give-up', endpointFault: false, retryAfterMs: null, code: 'INTERNAL' };
}

/** Checks settings a configuration gave; throws (a programmer's error) when out of range. */
export function checkRetrySettings(settings: RetrySettings): RetrySettings {
  assert.ok(
    Number.isInteger(settings.attempts) &&
      settings.attempts >= RETRY_ATTEMPTS_MIN &&
      settings.attempts <= RETRY_ATTEMPTS_MAX,
    `retry attempts must be ${RETRY_ATTEMPTS_MIN}..${RETRY_ATTEMPTS_MAX}`,
  );
  assert.ok(settings.baseDelayMs >= 0 && settings.baseDelayMs <= settings.delayMsMax);
  assert.ok(settings.delayMsMax <= RETRY_DELAY_MS_MAX);
  return settings;
}

/** The largest delay full jitter may draw after `failedAttempts` failures (1 = the first). */
export function backoffEnvelopeMs(settings: RetrySettings, failedAttempts: number): number {
  const exponent = Math.min(Math.max(0, failedAttempts - 1), 52);
  return Math.min(settings.delayMsMax, settings.baseDelayMs * 2 ** exponent);
}

/** A uniform number in [0, 1) from the injected random source (48 bits). */
export function unitInterval(random: Random): number {
  return Number.parseInt(random.hex(6), 16) / 2 ** 48;
}

/**
 * The wait before the next attempt: full jitter inside the envelope, or the peer's Retry-After
 * when that is longer (never longer than RETRY_DELAY_MS_MAX).
 */
export function retryDelayMs(
  settings: RetrySettings,
  failedAttempts: number,
  retryAfterMs: number | null,
  unit: number,
): number {
  const jittered = Math.floor(unit * backoffEnvelopeMs(settings, failedAttempts));
  const asked = retryAfterMs === null ? 0 : Math.min(RETRY_DELAY_MS_MAX, retryAfterMs);
  return Math.max(jittered, asked);
}

/** One attempt as a dead letter keeps it. */
export interface AttemptRecord {
  readonly attempt: number;
  readonly code: string;
  readonly message: string;
  /** Wall-clock start (ms since the epoch). */
  readonly startedAtMs: number;
  readonly durationMs: number;
}

export function attemptRecord(
  attempt: number,
  error: unknown,
  startedAtMs: number,
  durationMs: number,
): AttemptRecord {
  return {
    attempt,
    code: classify(error).code,
    message: error instanceof Error ? error.message : String(error),
    startedAtMs,
    durationMs: Math.max(0, Math.round(durationMs)),
  };
}

const STOPPED_BY = {
  attempts: 'attempts used up',
  budget: 'retry budget spent',
  'give-up': 'not retryable',
  breaker: 'circuit breaker opened',
} as const;

/** Every attempt a call was allowed failed (or the retry budget refused the next one). */
export class RetriesExhausted extends AmisyncError {
  readonly attempts: readonly AttemptRecord[];
  /** Why no further attempt was made. */
  readonly stoppedBy: 'attempts' | 'budget' | 'give-up' | 'breaker';
  /** The page (or call) that could not be made, as the source described it in its error. */
  readonly request: Readonly<Record<string, unknown>> | undefined;

  constructor(
    what: string,
    attempts: readonly AttemptRecord[],
    stoppedBy: RetriesExhausted['stoppedBy'],
    request?: Readonly<Record<string, unknown>>,
  ) {
    const last = attempts.at(-1);
    super(
      'RETRIES_EXHAUSTED',
      `${what} failed ${attempts.length} time(s) (${STOPPED_BY[stoppedBy]}); last: ${last?.code ?? '?'}: ${last?.message ?? ''}`,
      { attempts, stoppedBy, lastCode: last?.code ?? null },
    );
    this.name = 'RetriesExhausted';
    this.attempts = attempts;
    this.stoppedBy = stoppedBy;
    this.request = request;
  }
}

/**
 * The request a transport error describes (`details.request`, set by a source that could not fetch
 * a page), so that the call's dead letter keeps what was asked for; undefined when it names none.
 */
export function requestOf(error: unknown): Readonly<Record<string, unknown>> | undefined {
  if (!(error instanceof AmisyncError)) return undefined;
  const request = error.details.request;
  return typeof request === 'object' && request !== null && !Array.isArray(request)
    ? (request as Readonly<Record<string, unknown>>)
    : undefined;
}

/** Asks whether one more retry may be spent (a retry budget); absent: always. */
export interface RetryAllowance {
  tryRetry(): boolean;
}

export interface RetryCall {
  readonly settings: RetrySettings;
  readonly clock: TimerClock;
  readonly random: Random;
  readonly budget?: RetryAllowance;
  readonly signal?: AbortSignal;
  /** Named in RetriesExhausted's message. */
  readonly what: string;
  /** Told before each wait (for logging). */
  readonly onRetry?: (attempt: AttemptRecord, delayMs: number) => void;
}

/** Read through a function: the signal may abort while a wait is under way. */
function stopped(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

/**
 * Runs `operation` until it succeeds, at most `settings.attempts` times, waiting on the clock
 * between attempts. A `give-up` or `store-outage` error is rethrown as it is after one attempt;
 * attempts used up or a refused budget throw RetriesExhausted. An abort stops between attempts and
 * rethrows the last error.
 */
export async function callWithRetry<T>(
  operation: (attempt: number) => Promise<T>,
  call: RetryCall,
): Promise<T> {
  const attempts: AttemptRecord[] = [];
  for (let attempt = 1; attempt <= call.settings.attempts; attempt++) {
    const startedAtMs = call.clock.nowMs();
    const startedMono = call.clock.monotonicMs();
    try {
      return await operation(attempt);
    } catch (error) {
      const record = attemptRecord(
        attempt,
        error,
        startedAtMs,
        call.clock.monotonicMs() - startedMono,
      );
      attempts.push(record);
      const { decision, retryAfterMs } = classify(error);
      if (decision !== 'retry' || stopped(call.signal)) throw error;
      if (attempt === call.settings.attempts) break;
      if (call.budget !== undefined && !call.budget.tryRetry()) {
        throw new RetriesExhausted(call.what, attempts, 'budget');
      }
      const delayMs = retryDelayMs(call.settings, attempt, retryAfterMs, unitInterval(call.random));
      call.onRetry?.(record, delayMs);
      await call.clock.sleep(delayMs, call.signal);
      if (stopped(call.signal)) throw error;
    }
  }
  throw new RetriesExhausted(call.what, attempts, 'attempts');
}
