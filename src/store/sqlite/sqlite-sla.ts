/**
 * The vendor SLA report's reads and its alert record in the SQLite store: when each interval
 * first reached the ledger from each source (the batch's commit time), and the breaches already
 * alerted. Kept apart from the engine file so that its role reads in one place.
 */
import type Database from 'better-sqlite3';
import type { ArrivalQuery, ArrivalRow, SlaAlertRow } from '../../core/store.js';

type Row = Record<string, unknown>;
type Prepare = (sql: string) => Database.Statement;

/**
 * The interval index bounds the scan to the window; every version of an interval counts, so a
 * revision never moves the interval's arrival later. Parameters: fromMs, toMs, the source ids as
 * a JSON array (twice).
 */
export const ARRIVALS_SQL = `SELECT b.source_id, l.meter_id, l.channel, l.interval_start_ms,
    max(l.interval_seconds) AS interval_seconds, min(b.committed_at_ms) AS first_committed_at_ms
  FROM ledger l JOIN batches b ON b.id = l.batch_id
  WHERE l.interval_start_ms >= ? AND l.interval_start_ms < ?
    AND (json_array_length(?) = 0 OR b.source_id IN (SELECT value FROM json_each(?)))
  GROUP BY l.interval_start_ms, l.meter_id, l.channel, b.source_id
  ORDER BY l.interval_start_ms, l.meter_id, l.channel, b.source_id`;

export function arrivalParams(query: ArrivalQuery): unknown[] {
  const sources = JSON.stringify(query.sourceIds);
  return [query.fromMs, query.toMs, sources, sources];
}

export function arrivalFrom(row: Row): ArrivalRow {
  return {
    sourceId: row.source_id as string,
    meterId: row.meter_id as string,
    channel: row.channel as string,
    intervalStartMs: row.interval_start_ms as number,
    intervalSeconds: row.interval_seconds as number,
    firstCommittedAtMs: row.first_committed_at_ms as number,
  };
}

export function insertSlaAlert(prepare: Prepare, row: SlaAlertRow): boolean {
  const result = prepare(
    `INSERT INTO sla_alerts (source_id, day, within_ms, share_milli_percent, expected,
       received_within, alerted_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (source_id, day, within_ms) DO NOTHING`,
  ).run(
    row.sourceId,
    row.day,
    row.withinMs,
    row.shareMilliPercent,
    row.expected,
    row.receivedWithin,
    row.alertedAtMs,
  );
  return result.changes === 1;
}

function slaAlertFrom(row: Row): SlaAlertRow {
  return {
    sourceId: row.source_id as string,
    day: row.day as string,
    withinMs: row.within_ms as number,
    shareMilliPercent: row.share_milli_percent as number,
    expected: row.expected as number,
    receivedWithin: row.received_within as number,
    alertedAtMs: row.alerted_at_ms as number,
  };
}

export function selectSlaAlerts(prepare: Prepare, sourceIds: readonly string[]): SlaAlertRow[] {
  // A read-only view of a database from before the SLA migration has alerted nothing yet.
  const table = prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sla_alerts'");
  if (table.get() === undefined) return [];
  const sources = JSON.stringify(sourceIds);
  const rows = prepare(
    `SELECT * FROM sla_alerts
     WHERE json_array_length(?) = 0 OR source_id IN (SELECT value FROM json_each(?))
     ORDER BY source_id, day, within_ms`,
  ).all(sources, sources) as Row[];
  return rows.map(slaAlertFrom);
}
