/**
 * A retry budget per source (issue 10 part 1): over a sliding window, retries may be at most
 * `ratio` of the calls made (first attempts), plus a small reserve of `minRetries` so that a quiet
 * source can still retry. In a 5xx storm every call fails and would be retried up to the attempt
 * cap, multiplying the load on a struggling vendor; the budget runs dry instead and further
 * failures fail at once (the breaker then stops the calls themselves). Finagle's RetryBudget is
 * the model.
 */
import assert from 'node:assert/strict';
import type { TimerClock } from '../core/clock.js';
import type { RetryAllowance } from './retry.js';
import { SlidingWindow } from './sliding-window.js';

export interface RetryBudgetSettings {
  readonly windowMs: number;
  /** Retries allowed per call in the window (0..1). */
  readonly ratio: number;
  /** Retries allowed in the window whatever the call count. */
  readonly minRetries: number;
}

export const RETRY_BUDGET_DEFAULTS: RetryBudgetSettings = {
  windowMs: 60_000,
  ratio: 0.2,
  minRetries: 10,
};

/** What the budget has seen since it was made. */
export interface RetryBudgetTotals {
  readonly calls: number;
  readonly retries: number;
  /** Retries the budget refused. */
  readonly refused: number;
}

export class RetryBudget implements RetryAllowance {
  readonly settings: RetryBudgetSettings;
  readonly #clock: TimerClock;
  readonly #calls: SlidingWindow;
  readonly #retries: SlidingWindow;
  #totals = { calls: 0, retries: 0, refused: 0 };

  constructor(settings: RetryBudgetSettings, clock: TimerClock) {
    assert.ok(settings.ratio >= 0 && settings.ratio <= 1, 'retry budget ratio must be 0..1');
    assert.ok(Number.isInteger(settings.minRetries) && settings.minRetries >= 0);
    this.settings = settings;
    this.#clock = clock;
    this.#calls = new SlidingWindow(settings.windowMs);
    this.#retries = new SlidingWindow(settings.windowMs);
  }

  /** Counts one call (a first attempt): it earns `ratio` of a retry. */
  recordCall(): void {
    this.#calls.record(this.#clock.monotonicMs(), 'success');
    this.#totals.calls += 1;
  }

  /** Spends one retry when the window allows it; false (and counted) when it does not. */
  tryRetry(): boolean {
    const nowMs = this.#clock.monotonicMs();
    const calls = this.#calls.totals(nowMs).calls;
    const retries = this.#retries.totals(nowMs).calls;
    if (retries + 1 > this.settings.minRetries + this.settings.ratio * calls) {
      this.#totals.refused += 1;
      return false;
    }
    this.#retries.record(nowMs, 'success');
    this.#totals.retries += 1;
    return true;
  }

  get totals(): RetryBudgetTotals {
    return { ...this.#totals };
  }
}
