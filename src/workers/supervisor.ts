/**
 * Keeps N worker processes running on this host (`amisync run --workers N`, docs/workers.md).
 * Each worker is its own child process (worker-main.js), so one that crashes takes no other down;
 * the supervisor starts it again after a backoff that doubles while it keeps dying young. When
 * the signal aborts, every worker is sent SIGTERM: it stops consuming, acknowledges nothing that
 * has not committed, and gives its leases back. A worker still running after the grace is killed;
 * its uncommitted work was not acknowledged, so the broker delivers it again.
 *
 * The configuration goes to each worker over its IPC channel, never through a file or argv, so a
 * store URL with a password in it is not left on disk or shown by `ps`.
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { TimerClock } from '../core/clock.js';
import type { Logger } from '../core/log.js';

/** Worker processes one supervisor may run. */
export const WORKERS_PER_HOST_MAX = 64;
/** First wait before a dead worker is started again; it doubles up to the maximum. */
export const WORKER_RESTART_DELAY_MS_MIN = 500;
export const WORKER_RESTART_DELAY_MS_MAX = 30_000;
/** A worker that ran this long before it died is restarted after the shortest wait again. */
const WORKER_HEALTHY_RUN_MS = 60_000;
/** worker-main's exit code for an invalid configuration: restarting would not help. */
const EXIT_USAGE = 64;

export interface SupervisorOptions {
  readonly workers: number;
  /** The built worker entry (dist/workers/worker-main.js). */
  readonly entry: string;
  /** What each worker is sent: its configuration (less the owner) and its log settings. */
  readonly message: Readonly<Record<string, unknown>>;
  readonly clock: TimerClock;
  readonly log: Logger;
  /** How long stopping workers may take before they are killed. */
  readonly stopGraceMs: number;
  readonly restartDelayMsMin?: number;
  readonly restartDelayMsMax?: number;
}

export interface WorkerExit {
  readonly pid: number | null;
  readonly code: number | null;
  readonly signal: string | null;
}

/** One worker slot: the process now in it, and what happened to the ones before. */
export interface SlotReport {
  readonly worker: number;
  readonly pid: number | null;
  readonly starts: number;
  readonly exits: readonly WorkerExit[];
}

export interface SupervisorReport {
  readonly workers: readonly SlotReport[];
  /** Workers that did not stop within the grace and were killed. */
  readonly killedAfterGrace: number;
  /** A worker refused its configuration (exit 64): the supervisor stopped them all. */
  readonly refused: boolean;
}

interface Slot {
  readonly worker: number;
  child: ChildProcess | null;
  starts: number;
  readonly exits: WorkerExit[];
}

export class Supervisor {
  readonly #options: SupervisorOptions;
  readonly #slots: Slot[];
  /** Aborted on the caller's signal, or when a worker refuses its configuration. */
  readonly #stopping = new AbortController();
  #killedAfterGrace = 0;
  #refused = false;

  constructor(options: SupervisorOptions) {
    this.#options = options;
    this.#slots = Array.from({ length: options.workers }, (_, index) => ({
      worker: index + 1,
      child: null,
      starts: 0,
      exits: [],
    }));
  }

  /** The worker number of each live child, by pid. */
  pids(): Map<number, number> {
    const pids = new Map<number, number>();
    for (const slot of this.#slots) {
      const pid = slot.child?.pid;
      if (pid !== undefined) pids.set(pid, slot.worker);
    }
    return pids;
  }

  /** Runs the workers until `signal` aborts, then stops them all; resolves once all are gone. */
  async run(signal: AbortSignal): Promise<SupervisorReport> {
    const onAbort = (): void => this.#stopping.abort();
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    const stopped = new Promise<void>((resolve) => {
      if (this.#stopping.signal.aborted) resolve();
      this.#stopping.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    const kept = this.#slots.map((slot) => this.#keep(slot));
    await stopped;
    await this.#stopAll();
    await Promise.all(kept);
    signal.removeEventListener('abort', onAbort);
    return {
      workers: this.#slots.map((slot) => ({
        worker: slot.worker,
        pid: slot.child?.pid ?? null,
        starts: slot.starts,
        exits: slot.exits,
      })),
      killedAfterGrace: this.#killedAfterGrace,
      refused: this.#refused,
    };
  }

  /** Starts the slot's worker, and again each time it dies, until stopping. */
  async #keep(slot: Slot): Promise<void> {
    const { clock, log } = this.#options;
    const delayMsMin = this.#options.restartDelayMsMin ?? WORKER_RESTART_DELAY_MS_MIN;
    const delayMsMax = this.#options.restartDelayMsMax ?? WORKER_RESTART_DELAY_MS_MAX;
    let delayMs = delayMsMin;
    while (!this.#stopping.signal.aborted) {
      const startedAtMs = clock.nowMs();
      const exit = await this.#spawn(slot);
      slot.exits.push(exit);
      if (this.#stopping.signal.aborted) return;
      if (exit.code === EXIT_USAGE) {
        log.error({ worker: slot.worker, ...exit }, 'worker refused its configuration');
        this.#refused = true;
        this.#stopping.abort();
        return;
      }
      if (clock.nowMs() - startedAtMs >= WORKER_HEALTHY_RUN_MS) delayMs = delayMsMin;
      log.warn(
        { worker: slot.worker, ...exit, restartInMs: delayMs },
        `worker ${slot.worker} exited; starting it again in ${delayMs} ms`,
      );
      await clock.sleep(delayMs, this.#stopping.signal).catch(() => undefined);
      delayMs = Math.min(delayMs * 2, delayMsMax);
    }
  }

  /** Starts one worker process; resolves when it has exited. */
  #spawn(slot: Slot): Promise<WorkerExit> {
    const child = fork(this.#options.entry, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    slot.child = child;
    slot.starts += 1;
    const exited = new Promise<WorkerExit>((resolve) => {
      child.once('error', (error) => {
        this.#options.log.error({ worker: slot.worker, error: error.message }, 'worker failed');
        if (child.pid === undefined) resolve({ pid: null, code: null, signal: null });
      });
      child.once('exit', (code, signal) => {
        resolve({ pid: child.pid ?? null, code, signal });
      });
    });
    if (child.pid !== undefined) {
      // Sent when the worker asks (its first message), so it is listening when it arrives.
      child.once('message', () => {
        child.send(this.#options.message, (error) => {
          if (error !== null) this.#options.log.warn({ worker: slot.worker }, 'worker not reached');
        });
      });
      this.#options.log.info(
        { worker: slot.worker, pid: child.pid, start: slot.starts },
        `worker ${slot.worker} started (pid ${child.pid})`,
      );
    }
    return exited;
  }

  /** SIGTERM to every live worker; SIGKILL to those still running after the grace. */
  async #stopAll(): Promise<void> {
    const { clock, log, stopGraceMs } = this.#options;
    const live = this.#slots
      .map((slot) => slot.child)
      .filter((child): child is ChildProcess => child !== null && isRunning(child));
    if (live.length === 0) return;
    log.info({ workers: live.length }, `stopping ${live.length} worker(s)`);
    for (const child of live) child.kill('SIGTERM');
    const graceOver = new AbortController();
    const allGone = Promise.all(live.map(exitOf)).then(() => graceOver.abort());
    await clock.sleep(stopGraceMs, graceOver.signal).catch(() => undefined);
    const stuck = live.filter(isRunning);
    for (const child of stuck) {
      log.error({ pid: child.pid, graceMs: stopGraceMs }, 'worker did not stop in time: killed');
      child.kill('SIGKILL');
    }
    this.#killedAfterGrace = stuck.length;
    await allGone;
  }
}

function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

function exitOf(child: ChildProcess): Promise<void> {
  if (!isRunning(child)) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}
