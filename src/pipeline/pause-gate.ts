/**
 * The PauseGate of a running service: it reads the store's controls at most once per poll interval
 * (PAUSE_POLL_INTERVAL_MS) and answers from what it read, so `amisync pause` run from another
 * process holds within about a second, through the database, without a restart. One read serves
 * every source and the push endpoint alike; concurrent callers share it.
 *
 * A store that cannot be read (busy past its timeout) leaves the last known state in force and is
 * asked again at the next interval: a paused source stays paused, an open one stays open. Before
 * the first successful read the state is unknown, and the error is thrown: the caller reads
 * nothing (the service treats it as a source failure and tries again after its reconnect delay).
 */
import type { TimerClock } from '../core/clock.js';
import { PAUSE_POLL_INTERVAL_MS } from '../core/limits.js';
import type { Logger } from '../core/log.js';
import { pauseFor, pausesOf, type Pause, type PauseGate } from '../core/pause.js';
import type { Store } from '../core/store.js';

export interface StorePauseGateOptions {
  /** The store, or a function giving it once it is open. */
  store: Pick<Store, 'listControls'> | (() => Pick<Store, 'listControls'>);
  clock: TimerClock;
  log?: Logger;
  pollIntervalMs?: number;
}

export class StorePauseGate implements PauseGate {
  readonly pollIntervalMs: number;
  readonly #store: () => Pick<Store, 'listControls'>;
  readonly #clock: TimerClock;
  readonly #log: Logger | undefined;
  #pauses: Pause[] = [];
  #readAtMs: number | null = null;
  #reading: Promise<void> | null = null;

  constructor(options: StorePauseGateOptions) {
    const { store } = options;
    this.#store = typeof store === 'function' ? store : () => store;
    this.#clock = options.clock;
    this.#log = options.log;
    this.pollIntervalMs = options.pollIntervalMs ?? PAUSE_POLL_INTERVAL_MS;
  }

  async pauseOf(sourceId: string): Promise<Pause | null> {
    await this.#fresh();
    return pauseFor(this.#pauses, sourceId);
  }

  /** Every pause in force as last read. */
  async pauses(): Promise<readonly Pause[]> {
    await this.#fresh();
    return this.#pauses;
  }

  #fresh(): Promise<void> {
    const nowMs = this.#clock.monotonicMs();
    if (this.#readAtMs !== null && nowMs - this.#readAtMs < this.pollIntervalMs) {
      return Promise.resolve();
    }
    this.#reading ??= this.#read(nowMs).finally(() => (this.#reading = null));
    return this.#reading;
  }

  async #read(nowMs: number): Promise<void> {
    try {
      this.#pauses = pausesOf(await this.#store().listControls());
    } catch (error) {
      // Never read yet: whether the source is paused is unknown, so it must not read.
      if (this.#readAtMs === null) throw error;
      this.#log?.warn(
        { error: (error as Error).message },
        'pauses could not be read; the last known state stands',
      );
    }
    this.#readAtMs = nowMs;
  }
}
