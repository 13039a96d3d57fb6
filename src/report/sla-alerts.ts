/**
 * A breach of a vendor SLA raises the `sla.breach` alert through the process's one dispatcher,
 * once per source, local day and target: the store's record of alerted breaches is written first,
 * in its own transaction, and only a breach that record did not hold yet is raised. A crash
 * between the two loses that one alert rather than sending it twice.
 */
import type { Alert, AlertRaiser } from '../core/alert.js';
import type { Store } from '../core/store.js';
import { formatMilliPercent, type SlaBreach, type SlaReport } from './sla.js';

export function breachAlert(breach: SlaBreach): Omit<Alert, 'atMs'> {
  const worst = breach.meters[0];
  return {
    rule: 'sla.breach',
    source: breach.sourceId,
    severity: 'warning',
    message:
      `${breach.sourceId} missed its SLA on ${breach.day}: ` +
      `${formatMilliPercent(breach.actualMilliPercent)} of ${breach.expected} expected intervals ` +
      `within ${breach.within}, the contract asks ${breach.share}` +
      (worst === undefined
        ? ''
        : `; ${breach.metersTotal} meter(s) short, most ${worst.meterId} ` +
          `(${worst.missing} missing, ${worst.late} late)`),
    figures: {
      day: breach.day,
      within: breach.within,
      share: breach.share,
      expected: breach.expected,
      receivedWithin: breach.receivedWithin,
      actual: formatMilliPercent(breach.actualMilliPercent),
      worstMeter: worst?.meterId ?? null,
    },
  };
}

/** Raises each breach of the report not alerted before; returns the ones raised now. */
export async function alertSlaBreaches(
  store: Store,
  alerts: AlertRaiser,
  report: SlaReport,
): Promise<SlaBreach[]> {
  const raised: SlaBreach[] = [];
  for (const source of report.sources) {
    for (const breach of source.breaches) {
      const recorded = await store.transaction((tx) =>
        tx.recordSlaAlert({
          sourceId: breach.sourceId,
          day: breach.day,
          withinMs: breach.withinMs,
          shareMilliPercent: breach.shareMilliPercent,
          expected: breach.expected,
          receivedWithin: breach.receivedWithin,
          alertedAtMs: report.generatedAtMs,
        }),
      );
      if (!recorded) continue;
      alerts.raise(breachAlert(breach));
      raised.push(breach);
    }
  }
  return raised;
}
