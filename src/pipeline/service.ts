/**
 * The long-running service (`amisync run`): every configured source runs concurrently in its own
 * loop, and every delivery goes through `deliverOne` (ingest, then acknowledge). SQLite stays the
 * single writer: the store serialises transactions, and each source waits for its own delivery
 * to commit before it reads the next, so one slow or broken source never stalls the others.
 *
 * Per source: connect with the saved position, read; a delivery is ingested and acknowledged; an
 * idle source is asked again after the time it named (with `once`, a source that has caught up is
 * done); an error is logged, the source is closed and connected again after `reconnectDelayMs`.
 * That plain reconnect is all: retry policies, breakers and pause wrap sources elsewhere.
 *
 * Two failures are told apart (src/core/dead-letter.ts). A delivery whose attempts are exhausted
 * is kept as a dead letter and then acknowledged (run-source.ts), and a page request that failed
 * so is kept as a request dead letter. A store outage (busy, locked, full) dead-letters nothing:
 * the delivery is nacked, the `store-unavailable` alert is logged, and the source waits with
 * exponential backoff before it connects again, so intake resumes by itself once the store does.
 * Pause: before every read the source loop asks its PauseGate. A paused source reads nothing and
 * so acknowledges nothing; it stays connected (the push endpoint keeps answering, 503 PAUSED) and
 * asks again every `pollIntervalMs`. A delivery already being ingested when the pause is written
 * finishes and is acknowledged first: a pause takes effect at the next delivery boundary. With
 * `once`, a paused source ends at once with the outcome `paused`.
 *
 * Shutdown: when `signal` aborts, reads and waits end at once and a delivery being ingested stops
 * between chunks without being acknowledged (ingest.ts), so what was acknowledged is exactly what
 * committed. `runService` resolves when every source loop has ended.
 */
import type { AlertRaiser } from '../core/alert.js';
import type { Random, TimerClock } from '../core/clock.js';
import {
  attemptsOf,
  deadLetterCause,
  isAttemptsExhausted,
  isStoreOutage,
} from '../core/dead-letter.js';
import { STORE_OUTAGE_BACKOFF_MS_BASE, STORE_OUTAGE_BACKOFF_MS_MAX } from '../core/limits.js';
import { AmisyncError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { InputFormat } from '../core/parser.js';
import { OPEN_GATE, type Pause, type PauseGate } from '../core/pause.js';
import { END, isIdle, waitIdle, type Delivery, type Source } from '../core/source.js';
import type { BatchCounts } from '../core/store.js';
import { addCounts, emptyCounts } from './commit.js';
import { recordDeadLetter } from './dead-letters.js';
import type { DeliveryReport } from './ingest.js';
import { deliverOne, loadSavedPosition, type SourceRunOptions } from './run-source.js';

/** Waited before a source that failed is connected again. */
export const RECONNECT_DELAY_MS_DEFAULT = 5_000;
/** With `once`, errors in a row after which a source is given up (the run then exits non-zero). */
export const ONCE_ERRORS_IN_A_ROW_MAX = 3;

export interface ServiceSource {
  readonly source: Source;
  /** What this source's deliveries need besides bytes, by format (a CMEP zone, a CSV dialect). */
  readonly formatContexts?: SourceRunOptions['formatContexts'];
}

export interface ServiceOptions extends Omit<SourceRunOptions, 'clock' | 'signal'> {
  readonly clock: TimerClock;
  readonly sources: readonly ServiceSource[];
  readonly log: Logger;
  /** Drain each source until it has caught up once, then end (the cron form). */
  readonly once: boolean;
  /** Ends the service: no new reads, the delivery in flight stops unacknowledged. */
  readonly signal: AbortSignal;
  readonly reconnectDelayMs?: number;
  /** Called after each delivery committed and was acknowledged. */
  readonly onSourceDelivery?: (sourceId: string, report: DeliveryReport) => void;
  /** Whether each source may read now (emergency pause); every source is open without one. */
  readonly pauseGate?: PauseGate;
  /**
   * Where the service's alerts go (pause and resume taking hold, dead letters, the store
   * unavailable), besides the log; without one they are only logged.
   */
  readonly alerts?: AlertRaiser;
}

/** `paused`: with `once`, the source was paused by an operator and read nothing more. */
export type SourceOutcome = 'caught-up' | 'ended' | 'stopped' | 'failed' | 'paused';

export interface SourceSummary {
  readonly id: string;
  readonly outcome: SourceOutcome;
  readonly deliveries: number;
  readonly counts: BatchCounts;
  /** Errors seen over the run (each followed by a reconnect, or ending the source with `once`). */
  readonly errors: number;
  readonly lastError: { code: string; message: string } | null;
  /** The pause that held the source when it ended; null when it was not paused. */
  readonly pause: Pause | null;
}

export interface ServiceSummary {
  readonly sources: readonly SourceSummary[];
  readonly counts: BatchCounts;
  /** Every source caught up or ended; none failed. */
  readonly ok: boolean;
}

/**
 * The wait before the `n`th look at an unavailable store: full jitter over an exponential
 * envelope, so that several sources (or processes) do not all knock at once.
 */
export function storeOutageWaitMs(outagesInARow: number, random: Random): number {
  const exponent = Math.min(Math.max(outagesInARow - 1, 0), 30);
  const envelopeMs = Math.min(
    STORE_OUTAGE_BACKOFF_MS_MAX,
    STORE_OUTAGE_BACKOFF_MS_BASE * 2 ** exponent,
  );
  const fraction = Number.parseInt(random.hex(4), 16) / 0x1_0000_0000;
  return Math.max(1, Math.floor(envelopeMs * fraction));
}

function describe(error: unknown): { code: string; message: string } {
  if (error instanceof AmisyncError) return { code: error.code, message: error.message };
  return { code: 'INTERNAL', message: error instanceof Error ? error.message : String(error) };
}

class SourceLoop {
  readonly #entry: ServiceSource;
  readonly #options: ServiceOptions;
  readonly #log: Logger;
  #deliveries = 0;
  readonly #counts = emptyCounts();
  #errors = 0;
  #errorsInARow = 0;
  #lastError: { code: string; message: string } | null = null;
  /** Store outages seen since the last delivery committed: the backoff's exponent. */
  #outagesInARow = 0;
  #pause: Pause | null = null;

  constructor(entry: ServiceSource, options: ServiceOptions) {
    this.#entry = entry;
    this.#options = options;
    this.#log = options.log.child({ source: entry.source.id });
  }

  async run(): Promise<SourceSummary> {
    const outcome = await this.#loop();
    this.#log.info(
      { outcome, deliveries: this.#deliveries, counts: this.#counts, errors: this.#errors },
      `source ${this.#entry.source.id} ${outcome}`,
    );
    return {
      id: this.#entry.source.id,
      outcome,
      deliveries: this.#deliveries,
      counts: this.#counts,
      errors: this.#errors,
      lastError: this.#lastError,
      pause: this.#pause,
    };
  }

  async #loop(): Promise<SourceOutcome> {
    const { signal, clock, once } = this.#options;
    const reconnectDelayMs = this.#options.reconnectDelayMs ?? RECONNECT_DELAY_MS_DEFAULT;
    while (!signal.aborted) {
      try {
        const outcome = await this.#session();
        if (outcome !== null) return outcome;
      } catch (error) {
        if (signal.aborted) break;
        if (isStoreOutage(error)) {
          await this.#waitForStore(error);
          continue;
        }
        await this.#deadLetterRequest(error);
        this.#failed(error);
        if (once && this.#errorsInARow >= ONCE_ERRORS_IN_A_ROW_MAX) return 'failed';
        await clock.sleep(reconnectDelayMs, signal);
      }
    }
    return 'stopped';
  }

  /** One connection: reads until the source ends, catches up (once) or the service stops. */
  async #session(): Promise<SourceOutcome | null> {
    const { signal, clock, once, store } = this.#options;
    const { source } = this.#entry;
    await source.connect(signal, await loadSavedPosition(store, source.id));
    this.#log.debug({}, `source ${source.id} connected`);
    try {
      while (!signal.aborted) {
        if (await this.#paused()) {
          if (once) return 'paused';
          await clock.sleep(this.#gate.pollIntervalMs, signal);
          continue;
        }
        const next = await source.read(signal);
        if (next === END) return 'ended';
        if (isIdle(next)) {
          if (once && next.reason === 'caught-up') return 'caught-up';
          await waitIdle(clock, next, signal);
          continue;
        }
        const report = await this.#deliver(next, signal);
        if (report !== null) this.#delivered(report);
      }
      return null;
    } finally {
      await this.#close();
    }
  }

  /**
   * A delivery bound to a meter scope (a pushed request) commits whole or not at all, and its nack
   * has told its sender: its failure is that delivery's, not the source's, so the source reads on
   * instead of reconnecting (which would stop a push endpoint for every vendor).
   */
  async #deliver(delivery: Delivery, signal: AbortSignal): Promise<DeliveryReport | null> {
    try {
      return await deliverOne(this.#entry.source, delivery, {
        ...this.#options,
        formatContexts: this.#entry.formatContexts ?? this.#options.formatContexts ?? {},
        signal,
      });
    } catch (error) {
      if (delivery.meterScope == null || signal.aborted) throw error;
      this.#errors += 1;
      this.#lastError = describe(error);
      this.#log.warn(
        this.#lastError,
        `delivery ${delivery.name} refused: ${this.#lastError.message}`,
      );
      return null;
    }
  }

  /**
   * The store is busy, locked or full: nothing was acknowledged, and nothing is dead-lettered.
   * Waits with exponential backoff and full jitter, then connects again; the source delivers again
   * what it was not acknowledged for. Every wait is logged as the `store-unavailable` alert.
   */
  async #waitForStore(error: unknown): Promise<void> {
    this.#outagesInARow += 1;
    this.#lastError = describe(error);
    const waitMs = storeOutageWaitMs(this.#outagesInARow, this.#options.random);
    const sourceId = this.#entry.source.id;
    const message =
      `store unavailable: ${this.#lastError.message}; intake of ${sourceId} waits ` +
      `${waitMs} ms, acknowledging nothing`;
    const figures = {
      code: this.#lastError.code,
      outagesInARow: this.#outagesInARow,
      waitMs,
      waitMsMax: STORE_OUTAGE_BACKOFF_MS_MAX,
    };
    // One alert per outage (its first wait); the later waits of the same outage are logged.
    if (this.#outagesInARow === 1 && this.#options.alerts !== undefined) {
      this.#options.alerts.raise({
        rule: 'store.unavailable',
        source: sourceId,
        severity: 'critical',
        message,
        figures,
      });
    } else {
      this.#log.error({ alert: 'store-unavailable', ...this.#lastError, ...figures }, message);
    }
    await this.#options.clock.sleep(waitMs, this.#options.signal);
  }

  /** A page the source could not fetch after its attempts is kept as a request dead letter. */
  async #deadLetterRequest(error: unknown): Promise<void> {
    const cause = deadLetterCause(error);
    if (cause === null || !isAttemptsExhausted(error) || error.request == null) return;
    const { source } = this.#entry;
    const nowMs = this.#options.clock.nowMs();
    try {
      const recorded = await recordDeadLetter(this.#options, {
        sourceId: source.id,
        name: `request ${String(error.request.name ?? error.request.url ?? source.id)}`,
        format: (typeof error.request.format === 'string'
          ? error.request.format
          : 'json') as InputFormat,
        formatContext: {},
        transportId: typeof error.request.id === 'string' ? error.request.id : null,
        attempt: error.attempts.length,
        metadata: {},
        partitionKey: null,
        position: null,
        bytes: null,
        bytesComplete: false,
        request: error.request,
        attempts: attemptsOf(error, nowMs, nowMs),
        cause,
      });
      this.#deadLettered({
        deadLetter: recorded.deadLetterId,
        delivery: recorded.deliveryId,
        cause,
        attempts: error.attempts.length,
        lastCode: error.attempts.at(-1)?.code ?? null,
        kind: 'request',
        message:
          `dead letter ${recorded.deadLetterId}: a request of ${source.id} failed ` +
          `${error.attempts.length} time(s); the source asks for it again`,
      });
    } catch (recordError) {
      this.#log.error(describe(recordError), `could not keep a dead letter for ${source.id}`);
    }
  }

  /** Raises the `dead_letter` alert (or logs it when the service has no dispatcher). */
  #deadLettered(figures: {
    deadLetter: number;
    delivery: string;
    cause: string | null;
    attempts: number | null;
    lastCode: string | null;
    kind: 'request' | 'delivery';
    message: string;
  }): void {
    const { message, ...rest } = figures;
    const alerts = this.#options.alerts;
    if (alerts === undefined) {
      this.#log.warn({ alert: 'dead-letter', ...rest }, message);
      return;
    }
    alerts.raise({
      rule: 'dead_letter',
      source: this.#entry.source.id,
      severity: 'warning',
      message: `${this.#entry.source.id}: ${message}`,
      figures: rest,
    });
  }

  get #gate(): PauseGate {
    return this.#options.pauseGate ?? OPEN_GATE;
  }

  /** Asks the gate; logs each change, and tells a source that holds waiting callers when paused. */
  async #paused(): Promise<boolean> {
    const { source } = this.#entry;
    const pause = await this.#gate.pauseOf(source.id);
    const was = this.#pause;
    this.#pause = pause;
    if (pause !== null && (was?.sinceMs !== pause.sinceMs || was.sourceId !== pause.sourceId)) {
      this.#pauseChanged(
        'pause',
        pause,
        `source ${source.id} paused by ${pause.actor}` +
          `${pause.sourceId === null ? ' (global pause)' : ''}: ${pause.reason}`,
      );
      await source.paused?.(pause);
    } else if (pause === null && was !== null) {
      this.#pauseChanged('resume', was, `source ${source.id} resumed`);
    }
    return pause !== null;
  }

  /** Raises `pause` or `resume` as this source's loop sees it take hold (or logs it). */
  #pauseChanged(rule: 'pause' | 'resume', pause: Pause, message: string): void {
    const alerts = this.#options.alerts;
    if (alerts === undefined) {
      if (rule === 'pause') this.#log.warn({ pause }, message);
      else this.#log.info({ pause }, message);
      return;
    }
    const pausedMs = this.#options.clock.nowMs() - pause.sinceMs;
    alerts.raise({
      rule,
      source: this.#entry.source.id,
      severity: rule === 'pause' ? 'warning' : 'info',
      message,
      figures: {
        scope: pause.sourceId === null ? 'global' : 'source',
        actor: pause.actor,
        reason: pause.reason,
        pausedAtMs: pause.sinceMs,
        ...(rule === 'resume' ? { pausedMs: Math.max(0, pausedMs) } : {}),
      },
    });
  }

  #delivered(report: DeliveryReport): void {
    if (this.#outagesInARow > 0) {
      this.#log.info(
        { alert: 'store-available', outagesInARow: this.#outagesInARow },
        `store available again: intake of ${this.#entry.source.id} resumed`,
      );
      this.#outagesInARow = 0;
    }
    if (report.deadLetterId !== undefined) {
      this.#deadLettered({
        deadLetter: report.deadLetterId,
        delivery: report.deliveryId,
        cause: null,
        attempts: null,
        lastCode: null,
        kind: 'delivery',
        message: `delivery ${report.name} kept as dead letter ${report.deadLetterId} after its attempts`,
      });
    }
    this.#deliveries += 1;
    addCounts(this.#counts, report.counts);
    this.#errorsInARow = 0;
    this.#log.info(
      { delivery: report.deliveryId, name: report.name, counts: report.counts },
      `delivery ${report.name} committed`,
    );
    this.#options.onSourceDelivery?.(this.#entry.source.id, report);
  }

  #failed(error: unknown): void {
    this.#errors += 1;
    this.#errorsInARow += 1;
    this.#lastError = describe(error);
    this.#log.error(
      { ...this.#lastError, errorsInARow: this.#errorsInARow },
      `source ${this.#entry.source.id} failed: ${this.#lastError.message}`,
    );
  }

  async #close(): Promise<void> {
    try {
      await this.#entry.source.close();
    } catch (error) {
      this.#log.warn(describe(error), `source ${this.#entry.source.id} did not close cleanly`);
    }
  }
}

/** Runs every source until each has ended (or caught up, with `once`) or the signal aborts. */
export async function runService(options: ServiceOptions): Promise<ServiceSummary> {
  const summaries = await Promise.all(
    options.sources.map((entry) => new SourceLoop(entry, options).run()),
  );
  const counts = emptyCounts();
  for (const summary of summaries) addCounts(counts, summary.counts);
  return {
    sources: summaries,
    counts,
    ok: summaries.every((s) => s.outcome !== 'failed'),
  };
}
