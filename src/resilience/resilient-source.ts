/**
 * Wraps any Source (src/core/source.ts) in its resilience policies (issue 10 parts 1 and 3): each
 * connect and read goes through the source's circuit breaker, retry policy and retry budget. The
 * adapter stays dumb; this wrapper is where waiting and retrying happen.
 *
 * - A read that fails with a retryable error is tried again after a full-jitter wait (or the
 *   peer's Retry-After), at most `retry.attempts` times in all, while the budget allows; then it
 *   fails with RETRIES_EXHAUSTED, listing every attempt, and the service reconnects as usual.
 * - While the breaker is open, read returns `idle(…, 'throttled')` until the probe time instead
 *   of calling the peer; connecting is put off until the breaker admits a call. A half-open
 *   breaker lets exactly one read through as the probe.
 * - Nothing in flight is lost or acknowledged early: a delivery is returned to the runner as the
 *   adapter made it, and its ack and nack are the adapter's own. A failed read delivered nothing;
 *   the adapter asks for the same page or file again.
 *
 * A read that returns idle or END made no call the breaker should judge (a REST source caught up,
 * or told by a 429 to wait, which is the peer's health, not its failure): it is not counted. Nor
 * is a connect that succeeded (see CONNECTED); a failed one is.
 */
import type { Random, TimerClock } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import type { Pause } from '../core/pause.js';
import {
  END,
  idle,
  isIdle,
  type Delivery,
  type Idle,
  type SavedPosition,
  type Source,
} from '../core/source.js';
import type { AlertRaiser } from './alerts.js';
import {
  CircuitBreaker,
  type BreakerSettings,
  type BreakerSnapshot,
  type BreakerTransition,
} from './breaker.js';
import { RetryBudget, type RetryBudgetSettings } from './retry-budget.js';
import {
  attemptRecord,
  classify,
  requestOf,
  RetriesExhausted,
  retryDelayMs,
  unitInterval,
  type AttemptRecord,
  type RetrySettings,
} from './retry.js';

export interface ResilienceSettings {
  readonly retry: RetrySettings;
  readonly retryBudget: RetryBudgetSettings;
  readonly breaker: BreakerSettings;
}

export interface ResilientSourceOptions {
  readonly source: Source;
  readonly settings: ResilienceSettings;
  readonly clock: TimerClock;
  readonly random: Random;
  readonly log: Logger;
  readonly alerts: AlertRaiser;
  /** The breaker's stored state, taken back before the first call. */
  readonly restored?: BreakerSnapshot | null;
  /** Persists and audits a transition; awaited before the call that caused it returns. */
  readonly onTransition?: (transition: BreakerTransition) => Promise<void>;
}

/** What the wrapper has seen since it was made: the figures of a fault run. */
export interface ResilienceFigures {
  /** Connects and reads that asked the peer something (first attempts; not idle answers). */
  readonly calls: number;
  readonly retries: number;
  readonly retriesRefused: number;
  /** Attempts of the call that needed the most. */
  readonly attemptsMax: number;
  /** Calls that failed with RETRIES_EXHAUSTED. */
  readonly exhausted: number;
  /** Reads answered idle because the breaker was open. */
  readonly heldByBreaker: number;
  readonly transitions: readonly { from: string; to: string; atMs: number }[];
}

/**
 * What a connect that succeeded returns inside the wrapper. A connect's failure counts against the
 * breaker (the peer is unreachable), but its success does not count for it: some transports
 * connect without asking the peer anything (a REST pool), so only a read can prove the peer
 * healthy, and a half-open breaker's probe is the read that follows.
 */
const CONNECTED = Symbol('connected');

/** Asked again after this long when the breaker refused to let a connect through. */
const CONNECT_HELD_MS = 1_000;

type Attempted<T> = { ok: true; value: T } | { ok: false; error: unknown };

export class ResilientSource implements Source {
  readonly id: string;
  readonly breaker: CircuitBreaker;
  readonly budget: RetryBudget;
  readonly #inner: Source;
  readonly #options: ResilientSourceOptions;
  readonly #log: Logger;
  /** Connect was asked for but not yet made (the breaker did not admit it): the saved position. */
  #pendingConnect: { saved: SavedPosition | null } | null = null;
  #persisting: Promise<void> = Promise.resolve();
  #figures = { attemptsMax: 0, exhausted: 0, heldByBreaker: 0 };
  readonly #transitions: { from: string; to: string; atMs: number }[] = [];

  constructor(options: ResilientSourceOptions) {
    this.id = options.source.id;
    this.#inner = options.source;
    this.#options = options;
    this.#log = options.log.child({ source: this.id });
    this.breaker = new CircuitBreaker(this.id, options.settings.breaker, options.clock);
    if (options.restored != null) this.breaker.restore(options.restored);
    this.budget = new RetryBudget(options.settings.retryBudget, options.clock);
    this.breaker.onTransition((transition) => this.#transitioned(transition));
  }

  get inner(): Source {
    return this.#inner;
  }

  figures(): ResilienceFigures {
    const { calls, retries, refused } = this.budget.totals;
    return {
      ...this.#figures,
      calls,
      retries,
      retriesRefused: refused,
      transitions: [...this.#transitions],
    };
  }

  async connect(signal: AbortSignal, saved: SavedPosition | null): Promise<void> {
    this.#pendingConnect = { saved };
    if (this.breaker.state !== 'closed') return;
    await this.#connectNow(signal);
  }

  async read(signal: AbortSignal): Promise<Delivery | Idle | typeof END> {
    if (this.#pendingConnect !== null) {
      const held = this.#held();
      if (held !== null) return held;
      await this.#connectNow(signal);
      if (this.#pendingConnect !== null) return idle(CONNECT_HELD_MS, 'throttled');
    }
    return this.#withPolicies('read', () => this.#inner.read(signal), signal);
  }

  async close(): Promise<void> {
    await this.#persisting;
    await this.#inner.close();
  }

  /** The adapter's own answer to a pause (the push endpoint answers its waiting callers). */
  async paused(pause: Pause): Promise<void> {
    await this.#inner.paused?.(pause);
  }

  /** Idle until the breaker admits a call; null when it does now (without taking the permit). */
  #held(): Idle | null {
    if (this.breaker.state === 'closed') return null;
    const admission = this.breaker.admit();
    if (admission.admitted) {
      this.breaker.release();
      return null;
    }
    this.#figures.heldByBreaker += 1;
    return idle(Math.max(1, admission.afterMs), 'throttled');
  }

  async #connectNow(signal: AbortSignal): Promise<void> {
    const pending = this.#pendingConnect;
    if (pending === null) return;
    const connected = await this.#withPolicies(
      'connect',
      async () => {
        await this.#inner.connect(signal, pending.saved);
        return CONNECTED;
      },
      signal,
    );
    if (connected === CONNECTED) this.#pendingConnect = null;
  }

  /**
   * One call with its retries: each attempt asks the breaker first; a refused attempt makes the
   * call answer idle until the probe time. Throws the adapter's own error when it is not
   * retryable on the first attempt, RETRIES_EXHAUSTED otherwise.
   */
  async #withPolicies<T>(
    what: string,
    operation: () => Promise<T>,
    signal: AbortSignal,
  ): Promise<T | Idle> {
    const { clock } = this.#options;
    const attempts: AttemptRecord[] = [];
    let lastError: unknown = null;
    for (let attempt = 1; ; attempt++) {
      const admission = this.breaker.admit();
      if (!admission.admitted) {
        this.#figures.heldByBreaker += 1;
        await this.#persisting;
        // Failed attempts opened the breaker: the call fails (so a run with --once can give the
        // source up), and the reconnect that follows waits for the probe time.
        if (attempts.length > 0) this.#exhausted(what, attempts, 'breaker', lastError);
        return idle(Math.max(1, admission.afterMs), 'throttled');
      }
      const startedAtMs = clock.nowMs();
      const startedMono = clock.monotonicMs();
      const result = await settle(operation);
      const durationMs = clock.monotonicMs() - startedMono;
      if (attempt === 1 && !(result.ok && madeNoCall(result.value))) this.budget.recordCall();
      this.#figures.attemptsMax = Math.max(this.#figures.attemptsMax, attempt);
      if (result.ok) {
        this.#judgeSuccess(result.value, durationMs);
        await this.#persisting;
        return result.value;
      }
      attempts.push(attemptRecord(attempt, result.error, startedAtMs, durationMs));
      lastError = result.error;
      const delayMs = this.#judgeFailure(what, result.error, attempts, durationMs, signal);
      await this.#persisting;
      await clock.sleep(delayMs, signal);
      if (signal.aborted) throw result.error;
    }
  }

  #judgeSuccess(value: unknown, durationMs: number): void {
    if (value === CONNECTED || madeNoCall(value)) this.breaker.release();
    else this.breaker.record('success', durationMs);
  }

  /** Counts a failed attempt and returns the wait before the next; throws when there is none. */
  #judgeFailure(
    what: string,
    error: unknown,
    attempts: readonly AttemptRecord[],
    durationMs: number,
    signal: AbortSignal,
  ): number {
    const { settings, random } = this.#options;
    const classified = classify(error);
    if (classified.endpointFault && !signal.aborted) this.breaker.record('failure', durationMs);
    else this.breaker.release();
    if (signal.aborted || classified.decision === 'store-outage') throw error;
    if (classified.decision === 'give-up') {
      if (attempts.length === 1) throw error;
      this.#exhausted(what, attempts, 'give-up', error);
    }
    if (attempts.length >= settings.retry.attempts) {
      this.#exhausted(what, attempts, 'attempts', error);
    }
    // A failure that opened the breaker ends the call here: no retry is spent that it would refuse.
    if (this.breaker.state === 'open') this.#exhausted(what, attempts, 'breaker', error);
    if (!this.budget.tryRetry()) this.#exhausted(what, attempts, 'budget', error);
    const delayMs = retryDelayMs(
      settings.retry,
      attempts.length,
      classified.retryAfterMs,
      unitInterval(random),
    );
    this.#log.warn(
      { attempt: attempts.length, code: classified.code, delayMs },
      `${this.id}: ${what} failed (${classified.code}); attempt ${attempts.length + 1} in ${delayMs} ms`,
    );
    return delayMs;
  }

  #exhausted(
    what: string,
    attempts: readonly AttemptRecord[],
    stoppedBy: RetriesExhausted['stoppedBy'],
    lastError: unknown,
  ): never {
    this.#figures.exhausted += 1;
    throw new RetriesExhausted(`the ${what}`, attempts, stoppedBy, requestOf(lastError));
  }

  #transitioned(transition: BreakerTransition): void {
    this.#transitions.push({ from: transition.from, to: transition.to, atMs: transition.atMs });
    this.#raiseFor(transition);
    const persist = this.#options.onTransition;
    if (persist === undefined) return;
    this.#persisting = this.#persisting
      .then(() => persist(transition))
      .catch((error: unknown) => {
        this.#log.error(
          { error: (error as Error).message, to: transition.to },
          `${this.id}: a breaker transition could not be stored`,
        );
      });
  }

  #raiseFor(transition: BreakerTransition): void {
    const figures = {
      from: transition.from,
      to: transition.to,
      calls: transition.figures?.calls ?? null,
      failures: transition.figures?.failures ?? null,
      failureRate: transition.figures?.failureRate ?? null,
      cooldownMs: transition.cooldownMs,
      opensInARow: transition.opensInARow,
    };
    if (transition.to === 'open') {
      this.#options.alerts.raise({
        rule: 'breaker.opened',
        source: this.id,
        severity: 'critical',
        message: `${this.id}: circuit breaker opened: ${transition.reason}; reading stops for ${transition.cooldownMs ?? 0} ms, then one probe`,
        figures,
      });
    } else if (transition.to === 'closed') {
      this.#options.alerts.raise({
        rule: 'breaker.closed',
        source: this.id,
        severity: 'info',
        message: `${this.id}: circuit breaker closed: ${transition.reason}; reading resumes`,
        figures,
      });
    } else {
      this.#log.info(
        { from: transition.from },
        `${this.id}: breaker half-open: ${transition.reason}`,
      );
    }
  }
}

/** A read that answered idle or END asked the peer nothing the breaker or budget should count. */
function madeNoCall(value: unknown): boolean {
  return value === END || isIdle(value);
}

async function settle<T>(operation: () => Promise<T>): Promise<Attempted<T>> {
  try {
    return { ok: true, value: await operation() };
  } catch (error) {
    return { ok: false, error };
  }
}
