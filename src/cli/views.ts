/**
 * The JSON views of stored rows that the CLI prints under --json and the HTTP API answers: one
 * shape for both, in one place below either, so neither imports the other's commands.
 */
import { formatMilliWhAsKwh, formatValueMicro } from '../core/decimal.js';
import { pausesOf } from '../core/pause.js';
import type { AnomalyBacklog, AnomalyRow, DeadLetterRow, Store } from '../core/store.js';
import { isConserved } from '../pipeline/commit.js';
import { parseBreakerSnapshot } from '../resilience/breaker.js';
import { formatMilliPercent, type SlaReport } from '../report/sla.js';

function isoOf(ms: number): string {
  return new Date(ms).toISOString();
}

function isoOrNull(ms: number | null | undefined): string | null {
  return ms == null ? null : new Date(ms).toISOString();
}

/**
 * A page of a list read with one row past it (which tells whether there is more, without a count
 * over the whole table): the rows and the `after` of the next page.
 */
export function pageOf<Row extends { id: number }>(fetched: readonly Row[], limit: number) {
  const items = fetched.slice(0, limit);
  const nextAfter = fetched.length > limit ? (items.at(-1)?.id ?? null) : null;
  return { items, nextAfter };
}

/** A held reading as `--json` gives it: the stored row with its instants and value as text. */
export function anomalyJson(row: AnomalyRow) {
  return {
    ...row,
    intervalStart: isoOf(row.reading.intervalStartMs),
    value: formatValueMicro(row.reading.valueMicro),
    heldAt: isoOf(row.heldAtMs),
    decidedAt: row.decision === null ? null : isoOf(row.decision.atMs),
  };
}

/** The open backlog as `status` shows it, by detector, in kWh. */
export function backlogJson(backlog: AnomalyBacklog) {
  return {
    ...backlog,
    heldKwh: formatMilliWhAsKwh(backlog.heldEnergyMilliWh),
    byDetector: backlog.byDetector.map((row) => ({
      ...row,
      heldKwh: formatMilliWhAsKwh(row.heldEnergyMilliWh),
    })),
  };
}

/** A dead letter as `--json` gives it: the stored row with its instants as text. */
export function deadLetterJson(row: DeadLetterRow) {
  return {
    ...row,
    createdAt: isoOf(row.createdAtMs),
    decidedAt: row.decision === null ? null : isoOf(row.decision.atMs),
    attempts: row.attempts.map((attempt) => ({
      ...attempt,
      startedAt: isoOf(attempt.startedAtMs),
    })),
  };
}

export interface BreakerReport {
  readonly endpoint: string;
  readonly state: string;
  readonly changedAt: string;
  readonly opensInARow: number | null;
  readonly openedAt: string | null;
  /** When an open breaker admits its probe. */
  readonly probeFrom: string | null;
  readonly lastFigures: Readonly<Record<string, number>> | null;
  readonly auditSeq: number | null;
}

/** The stored breakers as a report lists them. */
export async function breakerReports(store: Store): Promise<BreakerReport[]> {
  return (await store.listBreakerStates()).map((row) => {
    const snapshot = parseBreakerSnapshot(row.snapshot);
    return {
      endpoint: row.endpoint,
      state: row.state,
      changedAt: isoOrNull(row.changedAtMs) ?? '',
      opensInARow: snapshot?.opensInARow ?? null,
      openedAt: isoOrNull(snapshot?.openedAtMs),
      probeFrom: isoOrNull(snapshot?.probeFromMs),
      lastFigures: snapshot?.lastFigures == null ? null : { ...snapshot.lastFigures },
      auditSeq: row.auditSeq,
    };
  });
}

/** What `status --json` prints, and what the HTTP API's status route answers. */
export async function statusReport(store: Store) {
  const status = await store.status();
  const anomalies = await store.anomalyBacklog();
  const deliveries = await store.listDeliveries(20);
  const sequenceEvents = await store.listSequenceEvents(20);
  const sources = (await store.listSourceSummaries()).map((source) => ({
    ...source,
    conserved: isConserved(source.counts),
    lastFinishedAt: isoOrNull(source.lastFinishedAtMs),
    positionSavedAt: isoOrNull(source.positionSavedAtMs),
  }));
  const report = {
    ...status,
    sources,
    conserved: isConserved(status.totals) && isConserved(status.operatorTotals),
    ledger: {
      ...status.ledger,
      energyKwh: formatMilliWhAsKwh(status.ledger.energyMilliWh),
      byUnit: status.ledger.byUnit.map((total) => ({
        ...total,
        value: formatValueMicro(total.valueMicro),
      })),
      byChannel: status.ledger.byChannel.map((total) => ({
        ...total,
        value: formatValueMicro(total.valueMicro),
      })),
    },
    recentDeliveries: deliveries.map((d) => ({
      id: d.id,
      name: d.name,
      format: d.format,
      status: d.status,
      interruptedAtMs: d.interruptedAtMs,
      redelivers: d.redelivers,
      redeliveredBy: d.redeliveredBy,
      sha256: d.sha256,
      sizeBytes: d.sizeBytes,
      counts: d.counts,
      conserved: isConserved(d.counts),
    })),
    recentSequenceEvents: sequenceEvents,
    anomalies: backlogJson(anomalies),
    pauses: pausesOf(await store.listControls()).map((pause) => ({
      ...pause,
      since: new Date(pause.sinceMs).toISOString(),
    })),
    breakers: await breakerReports(store),
  };
  return { status, anomalies, report };
}

/**
 * The vendor SLA report as `report sla --format json` writes it and `GET /api/sla` answers:
 * shares as exact text (`99.479%`), instants as ISO text beside the local day.
 */
export function slaReportJson(report: SlaReport) {
  return {
    period: report.label,
    timeZone: report.timeZone,
    generatedAt: isoOf(report.generatedAtMs),
    lookbackDays: report.lookbackDays,
    sources: report.sources.map((source) => ({
      sourceId: source.sourceId,
      targets: source.targets.map(({ within, share }) => ({ within, share })),
      meters: source.meters,
      streams: source.streams,
      days: source.days.map((day) => ({
        day: day.day,
        from: isoOf(day.fromMs),
        to: isoOf(day.toMs),
        expected: day.expected,
        received: day.received,
        missing: day.expected - day.received,
        targets: day.results.map((result) => ({
          within: result.within,
          share: result.share,
          receivedWithin: result.receivedWithin,
          late: day.received - result.receivedWithin,
          actual: formatMilliPercent(result.actualMilliPercent),
          verdict: result.verdict,
        })),
      })),
      breaches: source.breaches.map((breach) => ({
        day: breach.day,
        within: breach.within,
        share: breach.share,
        expected: breach.expected,
        receivedWithin: breach.receivedWithin,
        actual: formatMilliPercent(breach.actualMilliPercent),
        meters: breach.meters,
        metersTotal: breach.metersTotal,
      })),
    })),
  };
}
