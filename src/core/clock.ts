/**
 * Time and randomness, injected. Nothing else in the tree may read the wall clock or Math.random
 * (the lint config enforces it), so tests can run days of feed in a second and replay exactly.
 */
import { randomBytes } from 'node:crypto';

/** A source of the current time in milliseconds since the Unix epoch (UTC). */
export interface Clock {
  nowMs(): number;
}

/**
 * A clock that can also wait: the runner's polling, a source's rate-limit pause and a shutdown's
 * grace period all wait on it, so a test on the manual twin runs hours of polling in milliseconds.
 */
export interface TimerClock extends Clock {
  /** Milliseconds on a clock that never goes back (for durations, not dates). */
  monotonicMs(): number;
  /**
   * Resolves after `ms` on this clock. When `signal` aborts first it resolves at once: a caller
   * that must stop checks the signal afterwards, so waiting never throws.
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** A source of unpredictable identifiers. */
export interface Random {
  /** Returns `byteCount` random bytes as lowercase hex. */
  hex(byteCount: number): string;
}

export const systemClock: TimerClock = {
  nowMs: () => Date.now(),
  monotonicMs: () => performance.now(),
  sleep: (ms, signal) => systemSleep(ms, signal),
};

function systemSleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted === true) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal?.addEventListener('abort', done, { once: true });
  });
}

export const systemRandom: Random = { hex: (byteCount) => randomBytes(byteCount).toString('hex') };

interface PendingSleep {
  dueMs: number;
  order: number;
  resolve: () => void;
}

/**
 * A clock that only moves when told to: for tests and simulations. Its sleeps resolve when the
 * clock is moved past their due time, in due order; `advance` lets each woken task run before the
 * next timer fires, so a test drives hours of polling in milliseconds and in a fixed order.
 */
export class ManualClock implements TimerClock {
  #nowMs: number;
  #startMs: number;
  #pending: PendingSleep[] = [];
  #order = 0;

  constructor(startMs: number) {
    this.#nowMs = startMs;
    this.#startMs = startMs;
  }

  nowMs(): number {
    return this.#nowMs;
  }

  monotonicMs(): number {
    return this.#nowMs - this.#startMs;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted === true) return Promise.resolve();
    return new Promise((resolve) => {
      const entry: PendingSleep = {
        dueMs: this.#nowMs + Math.max(0, ms),
        order: this.#order++,
        resolve: () => {
          signal?.removeEventListener('abort', abort);
          resolve();
        },
      };
      const abort = (): void => {
        this.#pending = this.#pending.filter((other) => other !== entry);
        entry.resolve();
      };
      signal?.addEventListener('abort', abort, { once: true });
      this.#pending.push(entry);
    });
  }

  /** Sleeps not yet due. */
  get pendingSleeps(): number {
    return this.#pending.length;
  }

  /** Moves the clock without waking anyone: sleeps that fell due wake at the next `advance`. */
  advanceMs(deltaMs: number): void {
    this.#nowMs += deltaMs;
  }

  setMs(nowMs: number): void {
    this.#nowMs = nowMs;
  }

  /**
   * Moves the clock forward by `deltaMs`, one due timer at a time: the clock stops at each timer's
   * due time, wakes it, and lets the woken work run (until it sleeps again or settles) before the
   * next. Returns how many sleeps it woke.
   */
  async advance(deltaMs: number): Promise<number> {
    const targetMs = this.#nowMs + deltaMs;
    let woken = 0;
    for (;;) {
      await settle();
      const next = this.#nextDue();
      if (next === undefined || next.dueMs > targetMs) break;
      this.#pending = this.#pending.filter((entry) => entry !== next);
      this.#nowMs = Math.max(this.#nowMs, next.dueMs);
      next.resolve();
      woken += 1;
    }
    this.#nowMs = targetMs;
    await settle();
    return woken;
  }

  #nextDue(): PendingSleep | undefined {
    let best: PendingSleep | undefined;
    for (const entry of this.#pending) {
      if (
        best === undefined ||
        entry.dueMs < best.dueMs ||
        (entry.dueMs === best.dueMs && entry.order < best.order)
      ) {
        best = entry;
      }
    }
    return best;
  }
}

/**
 * Lets pending promise callbacks and I/O callbacks already queued run: a few turns of the event
 * loop, enough for woken work that does no real I/O to reach its next sleep.
 */
async function settle(): Promise<void> {
  for (let turn = 0; turn < 5; turn++) {
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** Deterministic ids for tests: a counter rendered as hex. */
export class CountingRandom implements Random {
  #counter = 0;

  hex(byteCount: number): string {
    this.#counter += 1;
    return this.#counter
      .toString(16)
      .padStart(byteCount * 2, '0')
      .slice(-byteCount * 2);
  }
}
