/**
 * What decides between a dead letter and a store outage, as a contract the resilience wrapper and
 * the pipeline share without importing each other.
 *
 * - A delivery (or a page request) whose attempts are exhausted, or that failed with a transport
 *   error that retrying cannot mend, is a dead letter: kept with its bytes or its request and each
 *   attempt's error, then acknowledged (src/pipeline/dead-letters.ts).
 * - A store that is busy, locked or full is an outage of amisync itself, never of the data: nothing
 *   is dead-lettered or acknowledged, intake waits with backoff and resumes by itself
 *   (src/pipeline/service.ts).
 * - A malformed record is neither: it is a data error, quarantined as a value, never thrown.
 */
import { AmisyncError, type ErrorCode } from './errors.js';

/** One attempt at reading or fetching, as the retry wrapper timed it. */
export interface AttemptRecord {
  /** The attempt's error code (an ErrorCode for amisync's own errors). */
  readonly code: string;
  readonly message: string;
  /** Wall-clock start, milliseconds since the epoch (UTC). */
  readonly startedAtMs: number;
  readonly durationMs: number;
}

/**
 * An error after which no further attempt is made: the retry wrapper's RetriesExhausted satisfies
 * it (each attempt's error and timing in `attempts`). `request`, when present, describes a page
 * that could not be fetched at all (no delivery exists), as JSON the source alone interprets.
 */
export interface AttemptsExhausted extends Error {
  readonly attempts: readonly AttemptRecord[];
  readonly request?: Readonly<Record<string, unknown>> | undefined;
  /**
   * True when the transport fetched every byte the peer gives for this delivery and the failure
   * is in what it sent (a length or checksum that never matches, a body cut at the same place on
   * every attempt): the bytes read are then the delivery, kept whole, and it may be acknowledged.
   * Absent or false: the delivery was cut short by the failure, and its source must keep it.
   */
  readonly deliveryFetched?: boolean | undefined;
}

/** Whether the bytes read before this error are the whole delivery (see `deliveryFetched`). */
export function isDeliveryFetched(error: unknown): boolean {
  return isAttemptsExhausted(error) && error.deliveryFetched === true;
}

/**
 * Transport errors that another attempt cannot mend: the peer broke its protocol for this
 * delivery. Connection-level failures (unavailable, timeout, rate limit, credentials, host key)
 * are the source's and are retried or break the circuit; they never dead-letter a delivery alone.
 */
export const NON_RETRYABLE_TRANSPORT_CODES: readonly ErrorCode[] = ['TRANSPORT_PROTOCOL'];

/** SQLite result codes and errnos that mean the store cannot take writes now, but will. */
const STORE_OUTAGE_CAUSES = /^(SQLITE_(BUSY|LOCKED|FULL)|ENOSPC)/;

export function isAttemptsExhausted(error: unknown): error is AttemptsExhausted {
  return (
    error instanceof Error &&
    Array.isArray((error as { attempts?: unknown }).attempts) &&
    ((error as AttemptsExhausted).attempts.length ?? 0) > 0
  );
}

/**
 * A store outage: the store is busy or locked past its timeout, or its disk is full. Checked on
 * the error itself and on its `cause`, so that a wrapper's error still counts.
 */
export function isStoreOutage(error: unknown): boolean {
  for (let current = error, depth = 0; current != null && depth < 4; depth++) {
    const code = (current as { code?: unknown }).code;
    const detail = (current as { details?: { code?: unknown } }).details?.code;
    if (typeof code === 'string' && STORE_OUTAGE_CAUSES.test(code)) return true;
    if (code === 'STORE_UNAVAILABLE' && typeof detail === 'string') {
      if (STORE_OUTAGE_CAUSES.test(detail)) return true;
    }
    if (current instanceof Error && /\b(ENOSPC|SQLITE_(BUSY|LOCKED|FULL))\b/.test(current.message))
      return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** Why an error dead-letters its delivery, or null when it must not. */
export type DeadLetterCause = 'attempts-exhausted' | 'non-retryable';

/**
 * Whether an error dead-letters the delivery it struck. A store outage never does (whatever else
 * the error says); nor does any error that is not a transport's.
 */
export function deadLetterCause(error: unknown): DeadLetterCause | null {
  if (isStoreOutage(error)) return null;
  if (isAttemptsExhausted(error)) return 'attempts-exhausted';
  if (error instanceof AmisyncError && NON_RETRYABLE_TRANSPORT_CODES.includes(error.code)) {
    return 'non-retryable';
  }
  return null;
}

/** The attempts an error records; a single untimed attempt when it records none. */
export function attemptsOf(error: unknown, startedAtMs: number, endedAtMs: number) {
  if (isAttemptsExhausted(error)) return error.attempts.map((attempt) => ({ ...attempt }));
  const code = error instanceof AmisyncError ? error.code : 'INTERNAL';
  const message = error instanceof Error ? error.message : String(error);
  return [{ code, message, startedAtMs, durationMs: Math.max(0, endedAtMs - startedAtMs) }];
}
