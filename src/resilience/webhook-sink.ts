/**
 * Alerts posted to a webhook as JSON (issue 10 part 5), with their own bounded queue and retry so
 * that a failing or slow webhook never blocks ingestion: `send` only queues; one worker posts the
 * alerts in order, each with up to ALERT_WEBHOOK_ATTEMPTS_MAX attempts (full-jitter backoff, a
 * 5xx, 429 or cut connection is retried, any other answer is not), each cut after
 * ALERT_WEBHOOK_TIMEOUT_MS. A full queue drops its oldest alert (counted); every alert was already
 * written to the log by the dispatcher, so nothing is lost from sight.
 */
import type { Random, TimerClock } from '../core/clock.js';
import { AmisyncError } from '../core/errors.js';
import {
  ALERT_QUEUE_MAX,
  ALERT_WEBHOOK_ATTEMPTS_MAX,
  ALERT_WEBHOOK_TIMEOUT_MS,
} from '../core/limits.js';
import type { Logger } from '../core/log.js';
import type { Alert, AlertSink } from './alerts.js';
import { callWithRetry, type RetrySettings } from './retry.js';

export interface WebhookSinkOptions {
  readonly url: string;
  /** Extra headers (an authorization the receiver wants), read from secrets by the caller. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly clock: TimerClock;
  readonly random: Random;
  readonly log: Logger;
  readonly retry?: RetrySettings;
  readonly timeoutMs?: number;
  readonly queueMax?: number;
}

export interface WebhookTotals {
  readonly sent: number;
  /** Alerts given up after their attempts. */
  readonly failed: number;
  /** Alerts dropped from a full queue. */
  readonly dropped: number;
  readonly queued: number;
}

const WEBHOOK_RETRY: RetrySettings = {
  attempts: ALERT_WEBHOOK_ATTEMPTS_MAX,
  baseDelayMs: 1_000,
  delayMsMax: 30_000,
};

/** The JSON body the webhook receives. */
export function webhookBody(alert: Alert): string {
  return JSON.stringify({
    type: 'amisync.alert',
    rule: alert.rule,
    source: alert.source,
    severity: alert.severity,
    message: alert.message,
    figures: alert.figures,
    at: new Date(alert.atMs).toISOString(),
  });
}

export class WebhookSink implements AlertSink {
  readonly name = 'webhook';
  readonly #options: WebhookSinkOptions;
  readonly #queue: Alert[] = [];
  readonly #stop = new AbortController();
  #pumping: Promise<void> | null = null;
  #totals = { sent: 0, failed: 0, dropped: 0 };

  constructor(options: WebhookSinkOptions) {
    this.#options = options;
  }

  send(alert: Alert): void {
    if (this.#stop.signal.aborted) return;
    if (this.#queue.length >= (this.#options.queueMax ?? ALERT_QUEUE_MAX)) {
      this.#queue.shift();
      this.#totals.dropped += 1;
    }
    this.#queue.push(alert);
    this.#pumping ??= this.#pump().finally(() => {
      this.#pumping = null;
    });
  }

  get totals(): WebhookTotals {
    return { ...this.#totals, queued: this.#queue.length };
  }

  /** Resolves once every queued alert was sent or given up (for shutdown and tests). */
  async drain(): Promise<void> {
    while (this.#pumping !== null) await this.#pumping;
  }

  /** Stops: what is queued is not sent (it was logged). */
  async close(): Promise<void> {
    this.#stop.abort();
    this.#queue.length = 0;
    await this.#pumping?.catch(() => undefined);
  }

  async #pump(): Promise<void> {
    for (let alert = this.#queue.shift(); alert !== undefined; alert = this.#queue.shift()) {
      if (this.#stop.signal.aborted) return;
      await this.#deliver(alert);
    }
  }

  async #deliver(alert: Alert): Promise<void> {
    const { clock, random, log } = this.#options;
    try {
      await callWithRetry(() => this.#post(alert), {
        settings: this.#options.retry ?? WEBHOOK_RETRY,
        clock,
        random,
        signal: this.#stop.signal,
        what: `the alert webhook ${this.#options.url}`,
      });
      this.#totals.sent += 1;
    } catch (error) {
      this.#totals.failed += 1;
      log.error(
        { rule: alert.rule, source: alert.source, error: (error as Error).message },
        'an alert could not be posted to the webhook (it is in this log)',
      );
    }
  }

  async #post(alert: Alert): Promise<void> {
    const { url, clock } = this.#options;
    const timeoutMs = this.#options.timeoutMs ?? ALERT_WEBHOOK_TIMEOUT_MS;
    const { request } = await import('undici');
    const deadline = new AbortController();
    const timer = new AbortController();
    void clock.sleep(timeoutMs, timer.signal).then(() => {
      if (!timer.signal.aborted) deadline.abort();
    });
    try {
      const response = await request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...this.#options.headers },
        body: webhookBody(alert),
        signal: AbortSignal.any([this.#stop.signal, deadline.signal]),
      });
      await response.body.dump();
      refuseStatus(url, response.statusCode);
    } catch (error) {
      if (error instanceof AmisyncError) throw error;
      const what = deadline.signal.aborted ? `did not answer within ${timeoutMs} ms` : 'failed';
      throw new AmisyncError(
        deadline.signal.aborted ? 'TRANSPORT_TIMEOUT' : 'TRANSPORT_UNAVAILABLE',
        `the alert webhook ${url} ${what}: ${(error as Error).message}`,
        { url },
      );
    } finally {
      timer.abort();
    }
  }
}

function refuseStatus(url: string, status: number): void {
  if (status >= 200 && status < 300) return;
  const retryable = status >= 500 || status === 429 || status === 408;
  throw new AmisyncError(
    retryable ? 'TRANSPORT_UNAVAILABLE' : 'TRANSPORT_PROTOCOL',
    `the alert webhook ${url} answered ${status}`,
    { url, status },
  );
}
