/**
 * Time and randomness, injected. Nothing else in the tree may read the wall clock or Math.random
 * (the lint config enforces it), so tests can run days of feed in a second and replay exactly.
 */
import { randomBytes } from 'node:crypto';

/** A source of the current time in milliseconds since the Unix epoch (UTC). */
export interface Clock {
  nowMs(): number;
}

/** A source of unpredictable identifiers. */
export interface Random {
  /** Returns `byteCount` random bytes as lowercase hex. */
  hex(byteCount: number): string;
}

export const systemClock: Clock = { nowMs: () => Date.now() };

export const systemRandom: Random = { hex: (byteCount) => randomBytes(byteCount).toString('hex') };

/** A clock that only moves when told to: for tests and simulations. */
export class ManualClock implements Clock {
  #nowMs: number;

  constructor(startMs: number) {
    this.#nowMs = startMs;
  }

  nowMs(): number {
    return this.#nowMs;
  }

  advanceMs(deltaMs: number): void {
    this.#nowMs += deltaMs;
  }

  setMs(nowMs: number): void {
    this.#nowMs = nowMs;
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
