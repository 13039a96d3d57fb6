/**
 * The emergency pause, as the runner and the sources see it: a PauseGate answers whether a source
 * may read now, and when not, who paused it, why and since when. A pause is global (every source)
 * or of one source; either stops that source between deliveries, so that nothing is read and
 * nothing acknowledged while it holds (files stay in the drop, REST positions stay, brokers keep
 * their messages, the push endpoint answers 503 PAUSED with Retry-After).
 *
 * Who calls it: the service's source loop before every read, and the push endpoint before it takes
 * a request. Pauses are written by `amisync pause` (src/pipeline/controls.ts) into the store, where
 * a running process finds them by polling (src/pipeline/pause-gate.ts): no restart is needed.
 */
import type { ControlRow } from './store.js';

/** One pause in force: global (`sourceId` null) or of one source. */
export interface Pause {
  /** The paused source; null for a global pause, which holds every source. */
  readonly sourceId: string | null;
  readonly reason: string;
  readonly actor: string;
  readonly sinceMs: number;
}

export interface PauseGate {
  /**
   * The pause that holds this source now (its own, else the global one), or null when it may read.
   * May read the store. Throws only while it has never been able to read it (the state is then
   * unknown, and the caller must not read); later failures leave the last known state in force.
   */
  pauseOf(sourceId: string): Promise<Pause | null>;
  /** How long a caller that found the source paused waits before it asks again. */
  readonly pollIntervalMs: number;
}

/** A gate that never pauses: for runs without a store of controls (tests, `ingest`). */
export const OPEN_GATE: PauseGate = {
  pauseOf: async () => null,
  pollIntervalMs: 1_000,
};

/** Pauses in force given the latest control row of each scope. */
export function pausesOf(current: readonly ControlRow[]): Pause[] {
  return current
    .filter((row) => row.paused)
    .map((row) => ({
      sourceId: row.sourceId,
      reason: row.reason,
      actor: row.actor,
      sinceMs: row.atMs,
    }));
}

/**
 * The pause that holds a source: its own pause first (the more specific reason), else the global
 * one, else null.
 */
export function pauseFor(pauses: readonly Pause[], sourceId: string): Pause | null {
  return (
    pauses.find((pause) => pause.sourceId === sourceId) ??
    pauses.find((pause) => pause.sourceId === null) ??
    null
  );
}
