/**
 * Reporting queries of the PostgreSQL store: `status` with its exact sums (int8 and numeric sums
 * decoded as bigint), per-source summaries, and the SLA report's arrivals and alert record.
 */
import type { Commodity, Unit } from '../../core/reading.js';
import type {
  ArrivalQuery,
  ArrivalRow,
  BatchCounts,
  DeliveryOwner,
  QuarantineStatus,
  SlaAlertRow,
  SourceSummaryRow,
  StoreStatus,
  UnitTotal,
  WorklistCounts,
} from '../../core/store.js';
import {
  big,
  checkpointFrom,
  countsFrom,
  int,
  intOrNull,
  text,
  type PgRow,
} from './postgres-codecs.js';
import { countDeadLetters } from './postgres-decisions.js';
import { all, type Queryable } from './postgres-query.js';
import { DELIVERY_SELECT, deliveryFrom } from './postgres-raw.js';

async function one(db: Queryable, sql: string, params: unknown[] = []): Promise<PgRow> {
  const row = (await all(db, sql, params))[0];
  if (row === undefined) throw new Error(`no row from: ${sql}`);
  return row;
}

const COUNT_SUMS = `coalesce(sum(received), 0) AS received, coalesce(sum(accepted), 0) AS accepted,
  coalesce(sum(duplicates), 0) AS duplicates, coalesce(sum(quarantined), 0) AS quarantined,
  coalesce(sum(conflicts), 0) AS conflicts, coalesce(sum(anomaly_held), 0) AS anomaly_held,
  coalesce(sum(dead_lettered), 0) AS dead_lettered, coalesce(sum(revisions), 0) AS revisions`;

/** Totals from rows of commodity, unit, readings and value, and channel when it is selected. */
export async function unitTotals(
  db: Queryable,
  sql: string,
): Promise<(UnitTotal & { channel?: string })[]> {
  return (await all(db, sql)).map((row) => ({
    ...(row.channel === undefined ? {} : { channel: text(row.channel, 'channel') }),
    commodity: text(row.commodity, 'commodity') as Commodity,
    unit: text(row.unit, 'unit') as Unit,
    readings: int(row.readings, 'readings'),
    valueMicro: big(row.value, 'value'),
  }));
}

async function batchSums(db: Queryable, ingest: boolean): Promise<BatchCounts> {
  return countsFrom(
    await one(db, `SELECT ${COUNT_SUMS} FROM batches WHERE (kind = 'ingest') = $1`, [ingest]),
  );
}

/** The worklists' counts, as `selectStatus` counts them, without the rest of the status. */
export async function selectWorklistCounts(db: Queryable): Promise<WorklistCounts> {
  const row = await one(
    db,
    `SELECT (SELECT count(*) FROM quarantine WHERE status = 'open') AS quarantine_open,
       (SELECT count(*) FROM anomalies WHERE status = 'held') AS anomalies_held,
       (SELECT count(*) FROM dead_letters WHERE status = 'open') AS dead_letters_open,
       (SELECT count(*) FROM audit_log) AS audit_entries`,
  );
  return {
    quarantineOpen: int(row.quarantine_open, 'quarantine_open'),
    anomaliesHeld: int(row.anomalies_held, 'anomalies_held'),
    deadLettersOpen: int(row.dead_letters_open, 'dead_letters_open'),
    auditEntries: int(row.audit_entries, 'audit_entries'),
  };
}

export async function selectStatus(db: Queryable, self: DeliveryOwner): Promise<StoreStatus> {
  const totals = await batchSums(db, true);
  const deadLetters = await countDeadLetters(db);
  const deadLettered = deadLetters.open + deadLetters.replayed + deadLetters.discarded;
  totals.received += deadLettered;
  totals.deadLettered += deadLettered;
  const operatorTotals = await batchSums(db, false);
  const ledger = await one(
    db,
    `SELECT coalesce(sum(current_readings), 0) AS readings, count(*) AS streams,
       coalesce(sum(seq_gaps), 0) AS gaps, coalesce(sum(seq_regressions), 0) AS regressions,
       count(*) FILTER (WHERE seq_gaps > 0) AS streams_with_gaps
     FROM stream_state`,
  );
  const byUnit = await unitTotals(
    db,
    `SELECT commodity, unit, sum(current_readings) AS readings,
       sum(current_value_micro) AS value FROM stream_state
     GROUP BY commodity, unit HAVING sum(current_readings) > 0 ORDER BY commodity, unit`,
  );
  const byChannel = (
    await unitTotals(
      db,
      `SELECT channel, commodity, unit, sum(current_readings) AS readings,
         sum(current_value_micro) AS value FROM stream_state
       GROUP BY commodity, unit, channel HAVING sum(current_readings) > 0
       ORDER BY commodity, unit, channel`,
    )
  ).map((total) => ({ ...total, channel: total.channel ?? '' }));
  const quarantine: Record<QuarantineStatus, number> = {
    open: 0,
    replayed: 0,
    accepted: 0,
    rejected: 0,
  };
  for (const row of await all(db, 'SELECT status, count(*) AS n FROM quarantine GROUP BY status')) {
    quarantine[text(row.status, 'status') as QuarantineStatus] = int(row.n, 'n');
  }
  const counts = await one(
    db,
    `SELECT (SELECT count(*) FROM batches) AS batches,
       (SELECT count(*) FROM deliveries WHERE status = 'complete') AS complete,
       (SELECT count(*) FROM quarantine_repeats) AS repeats,
       (SELECT count(*) FROM audit_log) AS audit`,
  );
  const unfinished = (await all(db, `${DELIVERY_SELECT} WHERE d.status = 'in-progress'`)).map(
    (row) => deliveryFrom(row, self),
  );
  const running = unfinished.filter((delivery) => delivery.status === 'running').length;
  const checkpoint = (await all(db, 'SELECT * FROM checkpoints ORDER BY id DESC LIMIT 1'))[0];
  return {
    totals,
    operatorTotals,
    ledger: {
      readings: int(ledger.readings, 'readings'),
      energyMilliWh: byUnit.find((total) => total.unit === 'kWh')?.valueMicro ?? 0n,
      byUnit,
      byChannel,
      versions: totals.accepted + operatorTotals.accepted,
      streams: int(ledger.streams, 'streams'),
    },
    quarantine,
    deliveries: {
      complete: int(counts.complete, 'complete'),
      running,
      interrupted: unfinished.length - running,
    },
    quarantineRepeats: int(counts.repeats, 'repeats'),
    sequence: {
      gaps: int(ledger.gaps, 'gaps'),
      regressions: int(ledger.regressions, 'regressions'),
      streamsWithGaps: int(ledger.streams_with_gaps, 'streams_with_gaps'),
    },
    batches: int(counts.batches, 'batches'),
    auditEntries: int(counts.audit, 'audit'),
    lastCheckpoint: checkpoint === undefined ? null : checkpointFrom(checkpoint),
    deadLetters,
  };
}

export async function selectSourceSummaries(db: Queryable): Promise<SourceSummaryRow[]> {
  const found = await all(
    db,
    `SELECT d.source_id, count(*) FILTER (WHERE d.status = 'complete') AS complete,
       count(*) FILTER (WHERE d.status = 'in-progress') AS unfinished,
       max(d.finished_at_ms) AS last_finished_at_ms, ${COUNT_SUMS.replaceAll('sum(', 'sum(d.')},
       max(p.saved_at_ms) AS position_saved_at_ms
     FROM deliveries d LEFT JOIN source_positions p ON p.source_id = d.source_id
     GROUP BY d.source_id ORDER BY d.source_id`,
  );
  return found.map((row) => ({
    sourceId: text(row.source_id, 'source_id'),
    complete: int(row.complete, 'complete'),
    unfinished: int(row.unfinished, 'unfinished'),
    lastFinishedAtMs: intOrNull(row.last_finished_at_ms, 'last_finished_at_ms'),
    counts: countsFrom(row),
    positionSavedAtMs: intOrNull(row.position_saved_at_ms, 'position_saved_at_ms'),
  }));
}

/**
 * Every version of an interval counts, so a revision never moves the interval's arrival later.
 * Parameters: fromMs, toMs, the source ids (an empty array for every source).
 */
export const ARRIVALS_SQL = `SELECT b.source_id, l.meter_id, l.channel, l.interval_start_ms,
    max(l.interval_seconds) AS interval_seconds, min(b.committed_at_ms) AS first_committed_at_ms
  FROM ledger l JOIN batches b ON b.id = l.batch_id
  WHERE l.interval_start_ms >= $1 AND l.interval_start_ms < $2
    AND (cardinality($3::text[]) = 0 OR b.source_id = ANY($3::text[]))
  GROUP BY l.interval_start_ms, l.meter_id, l.channel, b.source_id
  ORDER BY l.interval_start_ms, l.meter_id, l.channel, b.source_id`;

export function arrivalParams(query: ArrivalQuery): unknown[] {
  return [query.fromMs, query.toMs, [...query.sourceIds]];
}

export function arrivalFrom(row: PgRow): ArrivalRow {
  return {
    sourceId: text(row.source_id, 'source_id'),
    meterId: text(row.meter_id, 'meter_id'),
    channel: text(row.channel, 'channel'),
    intervalStartMs: int(row.interval_start_ms, 'interval_start_ms'),
    intervalSeconds: int(row.interval_seconds, 'interval_seconds'),
    firstCommittedAtMs: int(row.first_committed_at_ms, 'first_committed_at_ms'),
  };
}

export async function insertSlaAlert(db: Queryable, row: SlaAlertRow): Promise<boolean> {
  const result = await db.query(
    `INSERT INTO sla_alerts (source_id, day, within_ms, share_milli_percent, expected,
       received_within, alerted_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (source_id, day, within_ms) DO NOTHING`,
    [
      row.sourceId,
      row.day,
      row.withinMs,
      row.shareMilliPercent,
      row.expected,
      row.receivedWithin,
      row.alertedAtMs,
    ],
  );
  return result.rowCount === 1;
}

export async function selectSlaAlerts(
  db: Queryable,
  sourceIds: readonly string[],
): Promise<SlaAlertRow[]> {
  const found = await all(
    db,
    `SELECT * FROM sla_alerts WHERE cardinality($1::text[]) = 0 OR source_id = ANY($1::text[])
     ORDER BY source_id, day, within_ms`,
    [[...sourceIds]],
  );
  return found.map((row) => ({
    sourceId: text(row.source_id, 'source_id'),
    day: text(row.day, 'day'),
    withinMs: int(row.within_ms, 'within_ms'),
    shareMilliPercent: int(row.share_milli_percent, 'share_milli_percent'),
    expected: int(row.expected, 'expected'),
    receivedWithin: int(row.received_within, 'received_within'),
    alertedAtMs: int(row.alerted_at_ms, 'alerted_at_ms'),
  }));
}
