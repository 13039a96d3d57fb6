/**
 * The alert contract (issue 10 part 5), shared by the parts that raise alerts (the service loop,
 * resilience, commands) without importing each other: an alert names its rule, its source and the
 * figures that triggered it. The dispatcher that logs and posts them is src/resilience/alerts.ts.
 */

/** The rules that raise alerts. */
export const ALERT_RULES = [
  'breaker.opened',
  'breaker.closed',
  'quarantine.spike',
  'store.unavailable',
  'audit.verify_failed',
  'pause',
  'resume',
  'dead_letter',
  'sla.breach',
  'broker.messages_lost',
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
