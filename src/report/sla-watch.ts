/**
 * The service's own SLA evaluation: at its start and then once per local day (checked every
 * hour), it measures the recent days (yesterday and back over the longest target window, see
 * recentWindow) and alerts each breach not alerted before. A day's target is judged only once its
 * window has closed, so yesterday's 3-day target is judged on a later day's evaluation. A failed
 * evaluation is logged and tried again at the next hourly check.
 */
import type { AlertRaiser } from '../core/alert.js';
import type { TimerClock } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import type { Store } from '../core/store.js';
import { alertSlaBreaches } from './sla-alerts.js';
import type { SourceSla } from './sla-config.js';
import { recentWindow } from './sla-days.js';
import { collectSlaReport } from './sla.js';

/** How often the service looks whether the local day has changed. */
export const SLA_CHECK_INTERVAL_MS = 3_600_000;

export interface SlaWatchOptions {
  readonly store: Store;
  readonly clock: TimerClock;
  readonly alerts: AlertRaiser;
  readonly slas: readonly SourceSla[];
  readonly timeZone: string;
  readonly log: Logger;
  readonly signal: AbortSignal;
}

/** One evaluation of the recent days; returns how many breaches it alerted. */
export async function evaluateRecentSla(options: Omit<SlaWatchOptions, 'signal' | 'log'>) {
  const withinMsMax = Math.max(
    ...options.slas.flatMap((sla) => sla.targets.map((target) => target.withinMs)),
  );
  const window = recentWindow(options.clock.nowMs(), options.timeZone, withinMsMax);
  const report = await collectSlaReport(options.store, options.clock, {
    window,
    slas: options.slas,
  });
  const raised = await alertSlaBreaches(options.store, options.alerts, report);
  return { window, raised: raised.length };
}

/** Resolves once the signal aborts. Does nothing when no source has an SLA. */
export async function watchSla(options: SlaWatchOptions): Promise<void> {
  if (options.slas.length === 0) return;
  let evaluatedWindow: string | null = null;
  // Bounded by the signal: one evaluation at most per hourly check.
  while (!options.signal.aborted) {
    const window = recentWindow(options.clock.nowMs(), options.timeZone, 0).label;
    if (window !== evaluatedWindow) {
      try {
        const result = await evaluateRecentSla(options);
        evaluatedWindow = window;
        options.log.info(
          { window: result.window.label, alerted: result.raised },
          `vendor SLAs evaluated for ${result.window.label}: ${result.raised} new breach(es)`,
        );
      } catch (error) {
        options.log.warn(
          { error: (error as Error).message },
          'vendor SLA evaluation failed; tried again at the next hourly check',
        );
      }
    }
    await options.clock.sleep(SLA_CHECK_INTERVAL_MS, options.signal);
  }
}
