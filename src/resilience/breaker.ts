/**
 * A circuit breaker per endpoint (ARCH 6, issue 10 part 3): a state machine written as a
 * discriminated union (closed | open | half-open) over a time-based sliding window.
 *
 * - Closed: every completed call is counted in the window (the last `windowMs` on the monotonic
 *   clock). Once the window holds at least `minimumCalls`, the failure rate (failed calls / all
 *   calls in the window; a call slower than `slowCallMs` counts as failed when that is set) is
 *   compared with `failureRateMax`: strictly above it, the breaker opens.
 * - Open: nothing is admitted until the cooldown has passed. The cooldown grows with each opening
 *   in a row (`cooldownMs` x `cooldownMultiplier`^(opens - 1), at most `cooldownMsMax`).
 * - Half-open: exactly one probe is admitted; its success closes the breaker (a fresh window), its
 *   failure opens it again with a longer cooldown. A probe that turns out to make no call (the
 *   source had nothing to ask) is released and the next call probes instead.
 *
 * The breaker does no I/O: transitions are events for the caller to persist, audit and alert on.
 * Its state serialises to JSON on the wall clock, so a restart while open stays open.
 */
import type { TimerClock } from '../core/clock.js';
import { SlidingWindow, type WindowTotals } from './sliding-window.js';

export interface BreakerSettings {
  readonly windowMs: number;
  readonly minimumCalls: number;
  /** Opens when failures / calls is strictly above this (0..1). */
  readonly failureRateMax: number;
  /** Calls slower than this count as failures; null: duration does not matter. */
  readonly slowCallMs: number | null;
  readonly cooldownMs: number;
  readonly cooldownMultiplier: number;
  readonly cooldownMsMax: number;
}

export const BREAKER_DEFAULTS: BreakerSettings = {
  windowMs: 60_000,
  minimumCalls: 20,
  failureRateMax: 0.15,
  slowCallMs: null,
  cooldownMs: 30_000,
  cooldownMultiplier: 2,
  cooldownMsMax: 600_000,
};

export type BreakerStateName = 'closed' | 'open' | 'half-open';

/** The figures a transition was decided on. */
export interface BreakerFigures {
  readonly calls: number;
  readonly failures: number;
  readonly slow: number;
  /** failures / calls, 0 when there were none. */
  readonly failureRate: number;
}

type State =
  | { readonly name: 'closed' }
  | {
      readonly name: 'open';
      /** Monotonic time from which a probe may be admitted. */
      readonly probeFromMonoMs: number;
      readonly probeFromWallMs: number;
      readonly openedAtWallMs: number;
    }
  | { readonly name: 'half-open'; readonly probing: boolean };

/** A breaker's state as stored (wall-clock times: monotonic ones do not survive a restart). */
export interface BreakerSnapshot {
  readonly version: 1;
  readonly endpoint: string;
  readonly state: BreakerStateName;
  /** Openings in a row since the breaker last closed (grows the cooldown). */
  readonly opensInARow: number;
  readonly openedAtMs: number | null;
  /** When an open breaker admits its probe. */
  readonly probeFromMs: number | null;
  readonly changedAtMs: number;
  readonly lastFigures: BreakerFigures | null;
}

export interface BreakerTransition {
  readonly endpoint: string;
  readonly from: BreakerStateName;
  readonly to: BreakerStateName;
  readonly atMs: number;
  readonly reason: string;
  readonly figures: BreakerFigures | null;
  readonly opensInARow: number;
  /** The cooldown started by an opening; null for other transitions. */
  readonly cooldownMs: number | null;
  readonly snapshot: BreakerSnapshot;
}

/** Whether a call may go now; when it may not, how long until the breaker may admit a probe. */
export type Admission =
  | { readonly admitted: true; readonly probe: boolean }
  | { readonly admitted: false; readonly afterMs: number };

export type TransitionListener = (transition: BreakerTransition) => void;

function figuresOf(totals: WindowTotals, slowCounts: boolean): BreakerFigures {
  const failures = slowCounts ? totals.failures + totals.slow : totals.failures;
  const bounded = Math.min(totals.calls, failures);
  return {
    calls: totals.calls,
    failures: bounded,
    slow: totals.slow,
    failureRate: totals.calls === 0 ? 0 : bounded / totals.calls,
  };
}

export function cooldownFor(settings: BreakerSettings, opensInARow: number): number {
  const grown = settings.cooldownMs * settings.cooldownMultiplier ** Math.max(0, opensInARow - 1);
  return Math.min(settings.cooldownMsMax, Math.round(grown));
}

export class CircuitBreaker {
  readonly endpoint: string;
  readonly settings: BreakerSettings;
  readonly #clock: TimerClock;
  readonly #window: SlidingWindow;
  readonly #listeners: TransitionListener[] = [];
  #state: State = { name: 'closed' };
  #opensInARow = 0;
  #changedAtMs: number;
  #lastFigures: BreakerFigures | null = null;

  constructor(endpoint: string, settings: BreakerSettings, clock: TimerClock) {
    this.endpoint = endpoint;
    this.settings = settings;
    this.#clock = clock;
    this.#window = new SlidingWindow(settings.windowMs);
    this.#changedAtMs = clock.nowMs();
  }

  get state(): BreakerStateName {
    return this.#state.name;
  }

  /** Calls `listener` after every transition. */
  onTransition(listener: TransitionListener): void {
    this.#listeners.push(listener);
  }

  /** The figures of the window now (for status output). */
  figures(): BreakerFigures {
    return figuresOf(
      this.#window.totals(this.#clock.monotonicMs()),
      this.settings.slowCallMs !== null,
    );
  }

  /** Asks to make one call. An admitted probe must be followed by `record` or `release`. */
  admit(): Admission {
    const state = this.#state;
    switch (state.name) {
      case 'closed':
        return { admitted: true, probe: false };
      case 'open': {
        const waitMs = state.probeFromMonoMs - this.#clock.monotonicMs();
        if (waitMs > 0) return { admitted: false, afterMs: waitMs };
        this.#move({ name: 'half-open', probing: true }, 'the cooldown has passed', null, null);
        return { admitted: true, probe: true };
      }
      case 'half-open':
        if (state.probing) return { admitted: false, afterMs: this.settings.cooldownMs };
        this.#state = { name: 'half-open', probing: true };
        return { admitted: true, probe: true };
      default:
        return state satisfies never;
    }
  }

  /** Counts one completed call; `durationMs` decides whether it was slow. */
  record(outcome: 'success' | 'failure', durationMs: number): void {
    const slow = this.settings.slowCallMs !== null && durationMs > this.settings.slowCallMs;
    const state = this.#state;
    switch (state.name) {
      case 'closed':
        this.#window.record(this.#clock.monotonicMs(), outcome, slow);
        this.#evaluate();
        return;
      case 'half-open':
        this.#probed(outcome === 'success' && !slow, durationMs);
        return;
      case 'open':
        // A call admitted before the breaker opened completed late: it changes nothing.
        return;
      default:
        state satisfies never;
    }
  }

  /** The admitted probe made no call: the next admission probes instead. */
  release(): void {
    if (this.#state.name === 'half-open') this.#state = { name: 'half-open', probing: false };
  }

  /** The state as stored. */
  toJSON(): BreakerSnapshot {
    const state = this.#state;
    return {
      version: 1,
      endpoint: this.endpoint,
      state: state.name,
      opensInARow: this.#opensInARow,
      openedAtMs: state.name === 'open' ? state.openedAtWallMs : null,
      probeFromMs: state.name === 'open' ? state.probeFromWallMs : null,
      changedAtMs: this.#changedAtMs,
      lastFigures: this.#lastFigures,
    };
  }

  /**
   * Takes a stored state back. An open breaker stays open until its stored probe time (on the wall
   * clock); a half-open one was probing when the process stopped, and nobody knows how the probe
   * went, so it comes back open with a fresh cooldown from now. No transition is emitted.
   */
  restore(snapshot: BreakerSnapshot): void {
    this.#opensInARow = snapshot.opensInARow;
    this.#changedAtMs = snapshot.changedAtMs;
    this.#lastFigures = snapshot.lastFigures;
    this.#window.clear();
    if (snapshot.state === 'closed') {
      this.#state = { name: 'closed' };
      return;
    }
    const nowMs = this.#clock.nowMs();
    const probeFromMs =
      snapshot.state === 'open' && snapshot.probeFromMs !== null
        ? snapshot.probeFromMs
        : nowMs + cooldownFor(this.settings, Math.max(1, this.#opensInARow));
    this.#state = {
      name: 'open',
      probeFromMonoMs: this.#clock.monotonicMs() + Math.max(0, probeFromMs - nowMs),
      probeFromWallMs: probeFromMs,
      openedAtWallMs: snapshot.openedAtMs ?? nowMs,
    };
  }

  #evaluate(): void {
    const figures = this.figures();
    if (figures.calls < this.settings.minimumCalls) return;
    if (figures.failureRate <= this.settings.failureRateMax) return;
    const percent = (figures.failureRate * 100).toFixed(1);
    this.#open(
      `${figures.failures} of ${figures.calls} calls in ${this.settings.windowMs} ms failed ` +
        `(${percent}%, above ${this.settings.failureRateMax * 100}%)`,
      figures,
    );
  }

  #probed(succeeded: boolean, durationMs: number): void {
    const figures: BreakerFigures = {
      calls: 1,
      failures: succeeded ? 0 : 1,
      slow: 0,
      failureRate: succeeded ? 0 : 1,
    };
    if (!succeeded) {
      this.#open(`the probe failed after ${Math.round(durationMs)} ms`, figures);
      return;
    }
    this.#opensInARow = 0;
    this.#window.clear();
    this.#move({ name: 'closed' }, 'the probe succeeded', figures, null);
  }

  #open(reason: string, figures: BreakerFigures): void {
    this.#opensInARow += 1;
    const cooldownMs = cooldownFor(this.settings, this.#opensInARow);
    const nowMs = this.#clock.nowMs();
    this.#window.clear();
    this.#move(
      {
        name: 'open',
        probeFromMonoMs: this.#clock.monotonicMs() + cooldownMs,
        probeFromWallMs: nowMs + cooldownMs,
        openedAtWallMs: nowMs,
      },
      reason,
      figures,
      cooldownMs,
    );
  }

  #move(
    next: State,
    reason: string,
    figures: BreakerFigures | null,
    cooldownMs: number | null,
  ): void {
    const from = this.#state.name;
    this.#state = next;
    this.#changedAtMs = this.#clock.nowMs();
    if (figures !== null) this.#lastFigures = figures;
    const transition: BreakerTransition = {
      endpoint: this.endpoint,
      from,
      to: next.name,
      atMs: this.#changedAtMs,
      reason,
      figures,
      opensInARow: this.#opensInARow,
      cooldownMs,
      snapshot: this.toJSON(),
    };
    for (const listener of this.#listeners) listener(transition);
  }
}

/** Reads a stored snapshot back; null when the text is not one (a newer or damaged row). */
export function parseBreakerSnapshot(text: string): BreakerSnapshot | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const snapshot = value as Partial<BreakerSnapshot>;
  const states: readonly string[] = ['closed', 'open', 'half-open'];
  if (snapshot.version !== 1 || typeof snapshot.endpoint !== 'string') return null;
  if (typeof snapshot.state !== 'string' || !states.includes(snapshot.state)) return null;
  if (typeof snapshot.opensInARow !== 'number' || typeof snapshot.changedAtMs !== 'number') {
    return null;
  }
  return snapshot as BreakerSnapshot;
}
