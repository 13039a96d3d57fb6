/**
 * The Source contract (ARCH 4): where deliveries come from. The call protocol, for every transport:
 *
 * - `connect(signal, saved)` once before the first read, with the position the source last saved
 *   in a committed transaction (null on its first run). It may throw a transport error (an
 *   AmisyncError with a TRANSPORT_* code); resilience (a wrapper, never the adapter) decides
 *   whether to retry.
 * - `read(signal)` returns the next Delivery; `idle(ms)` when nothing is there now and the source
 *   should be asked again after that long (a REST window caught up, an empty drop folder); or END
 *   when the source has nothing more and never will (the files named on a command line). An adapter
 *   never sleeps, loops or retries inside read: the runner waits on the injected Clock.
 * - Each Delivery is acknowledged exactly once: `ack(receipt)` after every batch of it has
 *   committed, or `nack(error)` when it could not be committed. Acknowledging is what lets the
 *   source forget the delivery (broker ack, file archived, HTTP 2xx, REST cursor advanced), so it
 *   must never happen before the commit: a crash before ack means redelivery, which idempotency
 *   absorbs.
 * - A Delivery's `position` is saved by the transaction that commits the delivery's last batch,
 *   so a restart resumes exactly after the last committed delivery.
 * - `close()` once; deliveries not yet acknowledged are redelivered by the transport later.
 */
import type { Alert } from './alert.js';
import type { Random, TimerClock } from './clock.js';
import type { Logger } from './log.js';
import type { Pause, PauseGate } from './pause.js';
import type { FormatContext, InputFormat } from './parser.js';
import type { BatchCounts, Store } from './store.js';

export const END = Symbol('end of deliveries');

/**
 * Nothing to read now: ask again after `afterMs` milliseconds. `caught-up`: the source has read
 * everything there is for now (a run with --once stops there); `throttled`: there is more, but the
 * peer asked us to wait (a rate limit, Retry-After), so even a run with --once waits.
 * `wake`, when given, settles as soon as the source may have something before `afterMs` (a broker
 * delivered the message that fills a batch): the runner stops waiting then (`waitIdle`).
 */
export interface Idle {
  readonly idle: true;
  readonly afterMs: number;
  readonly reason: 'caught-up' | 'throttled';
  readonly wake?: Promise<void>;
}

export function idle(
  afterMs: number,
  reason: Idle['reason'] = 'caught-up',
  wake?: Promise<void>,
): Idle {
  const answer = { idle: true as const, afterMs: Math.max(0, Math.floor(afterMs)), reason };
  return wake === undefined ? answer : { ...answer, wake };
}

/** Waits as an idle answer asks: `afterMs` on the clock, or until its `wake` settles first. */
export async function waitIdle(
  timers: TimerClock,
  answer: Idle,
  signal?: AbortSignal,
): Promise<void> {
  if (answer.wake === undefined) return timers.sleep(answer.afterMs, signal);
  const woken = new AbortController();
  const stop = (): void => woken.abort();
  if (signal?.aborted === true) return;
  signal?.addEventListener('abort', stop, { once: true });
  void answer.wake.then(stop, stop);
  try {
    await timers.sleep(answer.afterMs, woken.signal);
  } finally {
    signal?.removeEventListener('abort', stop);
  }
}

export function isIdle(value: unknown): value is Idle {
  return typeof value === 'object' && value !== null && (value as Idle).idle === true;
}

/**
 * Where a source stands (a cursor, a page, a time window, the last archived file), as JSON the
 * source alone interprets. The runner stores it as text beside the delivery that reached it.
 */
export type SourcePosition = Readonly<Record<string, unknown>>;

/** A position as the store holds it: saved by the transaction of the delivery that reached it. */
export interface SavedPosition {
  readonly position: SourcePosition;
  readonly deliveryId: string;
  readonly savedAtMs: number;
}

/** What the runner tells a source once a delivery has committed (the push endpoint answers it). */
export interface DeliveryReceipt {
  /** The store's id for the delivery (`dlv_...`). */
  readonly deliveryId: string;
  readonly counts: BatchCounts;
  /** The store's id of the first delivery with the same transport id, when this one repeats it. */
  readonly firstDeliveryId: string | null;
}

export interface Delivery {
  /**
   * The transport's own id for the delivery, stable across redeliveries where the transport allows
   * (a file path and its sha256, a message id, a page request). Stored, so that a redelivery can be
   * linked to the first delivery.
   */
  readonly sourceDeliveryId: string;
  /** A name an operator recognises. */
  readonly name: string;
  /** The format when the transport knows it; otherwise the runner detects it from the bytes. */
  readonly format: InputFormat;
  /**
   * What the format needs besides bytes, when the transport decides it (a REST source's record
   * mapping); null means the source's configured context for the format.
   */
  readonly formatContext: FormatContext | null;
  /** 1 for the first attempt; the transport's redelivery count plus one where it tells it. */
  readonly attempt: number;
  /** What the transport said about it (HTTP headers kept, file size and mtime, message headers). */
  readonly metadata: Readonly<Record<string, string>>;
  /**
   * Deliveries with the same key must commit in order (one meter's messages); null when the
   * transport has no such order to keep.
   */
  readonly partitionKey: string | null;
  /** The position to save when this delivery commits; null leaves the saved position as it is. */
  readonly position: SourcePosition | null;
  /**
   * The meters this delivery may carry readings of (a pushing vendor's own meters). When set, the
   * runner commits the delivery in one transaction and refuses all of it (FORBIDDEN, nothing
   * written) if any record names another meter. Absent or null: any meter.
   */
  readonly meterScope?: MeterScope | null;
  /** The payload, read once, in order. */
  bytes(): AsyncIterable<Uint8Array>;
  ack(receipt: DeliveryReceipt): Promise<void>;
  nack(error: Error): Promise<void>;
}

/** Who may deliver readings of which meters. */
export interface MeterScope {
  /** Who is bound by the scope (a vendor's name), for the refusal's message and audit entry. */
  readonly owner: string;
  allows(meterId: string): boolean;
}

export interface Source {
  readonly id: string;
  connect(signal: AbortSignal, saved: SavedPosition | null): Promise<void>;
  read(signal: AbortSignal): Promise<Delivery | Idle | typeof END>;
  close(): Promise<void>;
  /**
   * Called by the runner when it stops reading the source for an emergency pause (once per pause),
   * between reads. A source holding callers that wait for an answer (the push endpoint's queued
   * requests) answers them now, since nothing of theirs was taken; others need not implement it.
   */
  paused?(pause: Pause): Promise<void>;
  /**
   * Fetches again what a request dead letter asked for (a page that could not be fetched after
   * its attempts), for `dead-letters replay`: called on a connected source, outside its read loop,
   * it moves no position and acknowledges nothing. Throws a transport error when the peer still
   * fails, or INVALID_STATE when the request is not one this source made. Sources whose dead
   * letters always hold their bytes need not implement it.
   */
  refetch?(request: Readonly<Record<string, unknown>>, signal: AbortSignal): Promise<Refetched>;
}

/** What `refetch` fetched: the bytes of the page, and how the pipeline reads them. */
export interface Refetched {
  readonly name: string;
  readonly format: InputFormat;
  readonly formatContext: FormatContext;
  readonly transportId: string | null;
  readonly chunks: readonly Uint8Array[];
}

/**
 * Guards a delivery's acknowledgement: the second ack or nack throws, so a runner bug cannot
 * acknowledge twice. Adapters call `take()` first thing in ack and nack.
 */
export class AckOnce {
  #done = false;
  readonly #what: string;

  constructor(what: string) {
    this.#what = what;
  }

  take(): void {
    if (this.#done) throw new Error(`delivery ${this.#what} acknowledged twice`);
    this.#done = true;
  }

  get done(): boolean {
    return this.#done;
  }
}

/** What a source is given when it is built from its configuration. */
export interface SourceContext {
  readonly clock: TimerClock;
  readonly random: Random;
  readonly log: Logger;
  /**
   * A secret named by the configuration: the value of an environment variable or the contents of
   * a file (trailing newline removed). Throws CONFIG_INVALID naming `keyPath` (never the value)
   * when neither is given, the variable is unset or empty, or the file cannot be read.
   */
  secret(ref: SecretRef, keyPath: string): string;
  /**
   * The store, for what a source must look up before it can accept a delivery (a pushing vendor's
   * key, an earlier delivery with the same Idempotency-Key). Sources never write readings: the
   * runner does.
   */
  readonly store: Store;
  /**
   * Appends one audit entry in its own transaction, for events that commit no delivery (a push
   * request refused before its body was read). Resolves with the entry's seq.
   */
  audit(kind: string, payload: Readonly<Record<string, unknown>>): Promise<number>;
  /**
   * Whether the source is paused now (src/core/pause.ts): the push endpoint asks it per request.
   * Absent: never paused.
   */
  readonly pauseGate?: PauseGate;
  /**
   * Raises an operator alert through the service's dispatcher (its log and webhook), for what a
   * source learns outside any delivery: a broker that says it dropped messages. Where no
   * dispatcher is wired (a one-shot command) the alert is logged only.
   */
  alert(alert: Omit<Alert, 'atMs'>): void;
}

/** Where a secret lives: never in the configuration file itself. */
export interface SecretRef {
  readonly env?: string | undefined;
  readonly file?: string | undefined;
}
