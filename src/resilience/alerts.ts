/**
 * Alerts (issue 10 part 5): breaker opened and closed, pause and resume, dead letters, a quarantine
 * spike, the store unavailable, an audit verification failure. Each alert names the source, the
 * rule and the figures that triggered it. The dispatcher writes every alert to the log at once and
 * hands it to each sink (a webhook); a sink queues and sends on its own, so raising an alert never
 * waits for the network and a failing sink never blocks ingestion.
 */
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/log.js';

/** The rules that raise alerts; other parts (pause, dead letters) use their own names. */
export const ALERT_RULES = [
  'breaker.opened',
  'breaker.closed',
  'quarantine.spike',
  'store.unavailable',
  'audit.verify_failed',
  'pause',
  'resume',
  'dead_letter',
] as const;

export type AlertRule = (typeof ALERT_RULES)[number];

export type AlertSeverity = 'info' | 'warning' | 'critical';

export type AlertFigures = Readonly<Record<string, number | string | boolean | null>>;

export interface Alert {
  readonly rule: AlertRule;
  /** The source it is about; null for the whole service (the store, the audit trail). */
  readonly source: string | null;
  readonly severity: AlertSeverity;
  /** One sentence an operator can act on. */
  readonly message: string;
  readonly figures: AlertFigures;
  /** Wall-clock time it was raised (ms since the epoch). */
  readonly atMs: number;
}

/** Somewhere alerts go besides the log. `send` must return at once (queue, then deliver). */
export interface AlertSink {
  readonly name: string;
  send(alert: Alert): void;
}

/** Anything that can raise an alert (the dispatcher, or a test's list). */
export interface AlertRaiser {
  raise(alert: Omit<Alert, 'atMs'>): Alert;
}

export class AlertDispatcher implements AlertRaiser {
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #sinks: readonly AlertSink[];

  constructor(log: Logger, clock: Clock, sinks: readonly AlertSink[] = []) {
    this.#log = log.child({ alert: true });
    this.#clock = clock;
    this.#sinks = sinks;
  }

  raise(input: Omit<Alert, 'atMs'>): Alert {
    const alert: Alert = { ...input, atMs: this.#clock.nowMs() };
    const fields = { rule: alert.rule, source: alert.source, figures: alert.figures };
    if (alert.severity === 'info') this.#log.info(fields, `alert: ${alert.message}`);
    else if (alert.severity === 'warning') this.#log.warn(fields, `alert: ${alert.message}`);
    else this.#log.error(fields, `alert: ${alert.message}`);
    for (const sink of this.#sinks) {
      try {
        sink.send(alert);
      } catch (error) {
        this.#log.error(
          { sink: sink.name, error: (error as Error).message },
          'an alert sink refused an alert',
        );
      }
    }
    return alert;
  }
}
