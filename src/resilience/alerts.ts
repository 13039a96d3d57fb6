/**
 * Alerts (issue 10 part 5): breaker opened and closed, pause and resume, dead letters, a quarantine
 * spike, the store unavailable, an audit verification failure, messages a broker lost. Each alert
 * names the source, the rule and the figures that triggered it. The dispatcher writes every alert
 * to the log at once and hands it to each sink (a webhook); a sink queues and sends on its own, so
 * raising an alert never waits for the network and a failing sink never blocks ingestion.
 */
import type { Clock } from '../core/clock.js';
import type { Alert, AlertRaiser, AlertSink } from '../core/alert.js';
import type { Logger } from '../core/log.js';

export {
  ALERT_RULES,
  type Alert,
  type AlertFigures,
  type AlertRaiser,
  type AlertRule,
  type AlertSeverity,
  type AlertSink,
} from '../core/alert.js';

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
