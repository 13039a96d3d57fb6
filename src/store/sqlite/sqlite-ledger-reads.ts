/**
 * The ledger reads of the operations surface in the SQLite store: a meter's streams, one meter's
 * current rows in a range, and every version of one interval. Kept apart from the engine file so
 * that its role reads in one place.
 *
 * A range of one meter is one range of the `ledger_by_meter` index (meter, interval start), which
 * billing's reads by meter also use; the index carries every version of an interval side by side,
 * so the current one is chosen there, and the table is read only for the rows returned.
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

/**
 * The range's current rows chosen from the covering `ledger_by_meter` index alone: the entries of
 * one (interval start, channel) are adjacent in it, so max(version) picks the current one and
 * SQLite returns that entry's rowid with it. Only the chosen rows are then read from the table, by
 * rowid: no probe of the time-ordered index per row to ask whether a newer version exists.
 */
export function ledgerRangeSql(query: Pick<LedgerRangeQuery, 'channel' | 'after'>): string {
  const clauses = ['meter_id = ?', 'interval_start_ms >= ?', 'interval_start_ms < ?'];
  if (query.channel !== undefined) clauses.push('channel = ?');
  if (query.after !== undefined) {
    clauses.push('(interval_start_ms > ? OR (interval_start_ms = ? AND channel > ?))');
  }
  return `SELECT l.*, b.delivery_id, b.source_id, b.committed_at_ms
    FROM (SELECT rowid AS id, interval_start_ms, channel, max(version)
          FROM ledger INDEXED BY ledger_by_meter
          WHERE ${clauses.join(' AND ')}
          GROUP BY interval_start_ms, channel ORDER BY interval_start_ms, channel LIMIT ?) c
    JOIN ledger l ON l.id = c.id LEFT JOIN batches b ON b.id = l.batch_id
    ORDER BY c.interval_start_ms, c.channel`;
}

export function selectLedgerRange(
  prepare: Prepare,
  ledgerFrom: (row: Row) => LedgerRow,
  query: LedgerRangeQuery,
): LedgerRangeRow[] {
  const after = query.after;
  const fromMs = after === undefined ? query.fromMs : Math.max(query.fromMs, after.intervalStartMs);
  if (fromMs >= query.toMs || query.limit < 1) return [];
  const params: unknown[] = [query.meterId, fromMs, query.toMs];
  if (query.channel !== undefined) params.push(query.channel);
  if (after !== undefined) {
    params.push(after.intervalStartMs, after.intervalStartMs, after.channel);
  }
  params.push(query.limit);
  return (prepare(ledgerRangeSql(query)).all(...params) as Row[]).map((row) =>
    rangeRowFrom(row, ledgerFrom),
  );
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
