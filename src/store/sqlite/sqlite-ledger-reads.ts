/**
 * The ledger reads of the operations surface in the SQLite store: a meter's streams, one meter's
 * current rows in a range, and every version of one interval. Kept apart from the engine file so
 * that its role reads in one place.
 *
 * A range of one meter is one range of the `ledger_by_meter` index (meter, interval start), which
 * billing's reads by meter also use; the newest-version check is a lookup in the unique
 * (interval start, meter, channel, version) index.
 */
import type Database from 'better-sqlite3';
import type {
  IntervalRef,
  LedgerRangeQuery,
  LedgerRangeRow,
  LedgerRow,
  MeterStreamRow,
  StreamState,
} from '../../core/store.js';

type Row = Record<string, unknown>;
type Prepare = (sql: string) => Database.Statement;

/**
 * Each stream's interval length from its latest reading (one index lookup), and its first
 * interval from the meter's index, read in order until the stream's first entry.
 */
const METER_STREAMS_SQL = `SELECT s.*,
    (SELECT l.interval_seconds FROM ledger l WHERE l.interval_start_ms = s.last_interval_start_ms
       AND l.meter_id = s.meter_id AND l.channel = s.channel
     ORDER BY l.version DESC LIMIT 1) AS interval_seconds,
    (SELECT l.interval_start_ms FROM ledger l INDEXED BY ledger_by_meter
     WHERE l.meter_id = s.meter_id AND l.channel = s.channel
     ORDER BY l.interval_start_ms LIMIT 1) AS first_interval_start_ms
  FROM stream_state s WHERE s.meter_id = ? ORDER BY s.channel`;

const NEWER_VERSION = `NOT EXISTS (SELECT 1 FROM ledger n
  WHERE n.interval_start_ms = l.interval_start_ms AND n.meter_id = l.meter_id
    AND n.channel = l.channel AND n.version > l.version)`;

export function selectMeterStreams(
  prepare: Prepare,
  streamFrom: (row: Row) => StreamState,
  meterId: string,
): MeterStreamRow[] {
  return (prepare(METER_STREAMS_SQL).all(meterId) as Row[]).map((row) => ({
    ...streamFrom(row),
    intervalSeconds: (row.interval_seconds as number | null) ?? null,
    firstIntervalStartMs: (row.first_interval_start_ms as number | null) ?? null,
  }));
}

function rangeRowFrom(row: Row, ledgerFrom: (row: Row) => LedgerRow): LedgerRangeRow {
  return {
    ...ledgerFrom(row),
    deliveryId: (row.delivery_id as string | null) ?? null,
    sourceId: (row.source_id as string | null) ?? null,
    committedAtMs: (row.committed_at_ms as number | null) ?? null,
  };
}

export function selectLedgerRange(
  prepare: Prepare,
  ledgerFrom: (row: Row) => LedgerRow,
  query: LedgerRangeQuery,
): LedgerRangeRow[] {
  const after = query.after;
  const fromMs = after === undefined ? query.fromMs : Math.max(query.fromMs, after.intervalStartMs);
  if (fromMs >= query.toMs || query.limit < 1) return [];
  const clauses = ['l.interval_start_ms >= ?', 'l.interval_start_ms < ?', 'l.meter_id = ?'];
  const params: unknown[] = [fromMs, query.toMs, query.meterId];
  if (query.channel !== undefined) {
    clauses.push('l.channel = ?');
    params.push(query.channel);
  }
  if (after !== undefined) {
    clauses.push('(l.interval_start_ms > ? OR (l.interval_start_ms = ? AND l.channel > ?))');
    params.push(after.intervalStartMs, after.intervalStartMs, after.channel);
  }
  params.push(query.limit);
  const sql = `SELECT l.*, b.delivery_id, b.source_id, b.committed_at_ms
    FROM ledger l INDEXED BY ledger_by_meter LEFT JOIN batches b ON b.id = l.batch_id
    WHERE ${clauses.join(' AND ')} AND ${NEWER_VERSION}
    ORDER BY l.interval_start_ms, l.meter_id, l.channel LIMIT ?`;
  return (prepare(sql).all(...params) as Row[]).map((row) => rangeRowFrom(row, ledgerFrom));
}

export function selectIntervalVersions(
  prepare: Prepare,
  ledgerFrom: (row: Row) => LedgerRow,
  interval: IntervalRef,
): LedgerRangeRow[] {
  const rows = prepare(
    `SELECT l.*, b.delivery_id, b.source_id, b.committed_at_ms
     FROM ledger l LEFT JOIN batches b ON b.id = l.batch_id
     WHERE l.interval_start_ms = ? AND l.meter_id = ? AND l.channel = ?
     ORDER BY l.version DESC`,
  ).all(interval.intervalStartMs, interval.meterId, interval.channel) as Row[];
  return rows.map((row) => rangeRowFrom(row, ledgerFrom));
}
