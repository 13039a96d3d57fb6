/**
 * The progress bar of a long command (ingest of a large file, quarantine replay --all, estimate,
 * bill run, ledger export): on standard error, with the rate and the time left, for a person
 * watching a terminal. It stays quiet (no bar, nothing written) when standard error is not a
 * terminal or the command prints JSON, so scripts and pipes see only the command's output.
 */
import { SingleBar } from 'cli-progress';
import { systemClock } from '../core/clock.js';

export interface Progress {
  /** Sets how much is done (in the bar's unit) and, when known again, the total. */
  update(done: number, total?: number): void;
  /** Adds `n` to what is done. */
  increment(n?: number): void;
  /** Ends the bar (its last state stays on the terminal); safe to call twice. */
  stop(): void;
}

/** What a quiet command gets: every call does nothing. */
export const QUIET_PROGRESS: Progress = {
  update: () => undefined,
  increment: () => undefined,
  stop: () => undefined,
};

export interface ProgressOptions {
  /** What is being done, e.g. `replay`, a file's name. */
  label: string;
  /** The total in `unit`s; 0 when not known yet (the bar shows the count only). */
  total: number;
  /** What is counted: `items`, `bytes`, `accounts`. */
  unit: string;
  /** The command prints JSON: never a bar. */
  json: boolean;
  /** Where the bar goes; standard error unless a test gives another terminal stream. */
  stream?: NodeJS.WriteStream;
}

/** A count for people: 1234567 -> 1.2M, 12345 -> 12.3k. */
export function compact(n: number): string {
  if (!Number.isFinite(n)) return '-';
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)}G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return String(Math.round(n));
}

/** A bar at a terminal; QUIET_PROGRESS for --json or when the stream is not a terminal. */
export function startProgress(options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr;
  if (options.json || stream.isTTY !== true) return QUIET_PROGRESS;
  const bar = new SingleBar({
    format:
      `${options.label} [{bar}] {percentage}% | {shown}/{shownTotal} ${options.unit} | ` +
      `{rate} ${options.unit}/s | ETA {eta_formatted}`,
    stream,
    hideCursor: true,
    etaBuffer: 20,
    fps: 5,
  });
  const startedMs = systemClock.monotonicMs();
  let done = 0;
  let total = Math.max(options.total, 0);
  let stopped = false;
  const payload = () => {
    const seconds = (systemClock.monotonicMs() - startedMs) / 1000;
    return {
      shown: compact(done),
      shownTotal: total === 0 ? '?' : compact(total),
      rate: seconds <= 0 ? '-' : compact(done / seconds),
    };
  };
  bar.start(Math.max(total, 1), 0, payload());
  return {
    update(next, nextTotal) {
      if (stopped) return;
      done = next;
      if (nextTotal !== undefined && nextTotal !== total) {
        total = Math.max(nextTotal, 0);
        bar.setTotal(Math.max(total, 1));
      }
      bar.update(Math.min(done, Math.max(total, 1)), payload());
    },
    increment(n = 1) {
      this.update(done + n);
    },
    stop() {
      if (stopped) return;
      stopped = true;
      bar.update(Math.min(done, Math.max(total, 1)), payload());
      bar.stop();
    },
  };
}
