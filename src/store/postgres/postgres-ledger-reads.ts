/**
 * The ledger reads of the operations surface in the PostgreSQL store: a meter's streams, one
 * meter's current rows in a range, every version of one interval, a meter's quarantine items and
 * the delivery pages. The same role as sqlite-ledger-reads.ts, and the same results.
 *
 * A range of one meter is one range of the `ledger_by_meter` index (meter, interval start,
 * channel, version) in each month's partition, merged in order; the newest-version check is a
 * lookup in the unique (interval start, meter, channel, version) index.
 */
import type {
  DeliveryOwner,
  DeliveryPageFilter,
  DeliveryPageRow,
  IntervalRef,
  LedgerRangeQuery,
  LedgerRangeRow,
  MeterStreamRow,
  QuarantineRow,
} from '../../core/store.js';
import {
  int,
  intOrNull,
  ledgerFrom,
  quarantineFrom,
  streamFrom,
  textOrNull,
  type PgRow,
} from './postgres-codecs.js';
import { all, type Queryable } from './postgres-query.js';
import { DELIVERY_SELECT, deliveryFrom } from './postgres-raw.js';
import { QUARANTINE_SELECT } from './postgres-transaction.js';

/**
 * Each stream's interval length from its latest reading (one index lookup), and its first
 * interval from the meter's index.
 */
const METER_STREAMS_SQL = `SELECT s.*,
    (SELECT l.interval_seconds FROM ledger l WHERE l.interval_start_ms = s.last_interval_start_ms
       AND l.meter_id = s.meter_id AND l.channel = s.channel
     ORDER BY l.version DESC LIMIT 1) AS interval_seconds,
    (SELECT l.interval_start_ms FROM ledger l
     WHERE l.meter_id = s.meter_id AND l.channel = s.channel
     ORDER BY l.interval_start_ms LIMIT 1) AS first_interval_start_ms
  FROM stream_state s WHERE s.meter_id = $1 ORDER BY s.channel`;

const NEWER_VERSION = `NOT EXISTS (SELECT 1 FROM ledger n
  WHERE n.interval_start_ms = l.interval_start_ms AND n.meter_id = l.meter_id
    AND n.channel = l.channel AND n.version > l.version)`;

/** The ledger row with the batch that wrote it. */
const RANGE_SELECT = `SELECT l.*, b.delivery_id, b.source_id, b.committed_at_ms
  FROM ledger l LEFT JOIN batches b ON b.id = l.batch_id`;

export async function selectMeterStreams(
  db: Queryable,
  meterId: string,
): Promise<MeterStreamRow[]> {
  return (await all(db, METER_STREAMS_SQL, [meterId])).map((row) => ({
    ...streamFrom(row),
    intervalSeconds: intOrNull(row.interval_seconds, 'interval_seconds'),
    firstIntervalStartMs: intOrNull(row.first_interval_start_ms, 'first_interval_start_ms'),
  }));
}

function rangeRowFrom(row: PgRow): LedgerRangeRow {
  return {
    ...ledgerFrom(row),
    deliveryId: textOrNull(row.delivery_id, 'delivery_id'),
    sourceId: textOrNull(row.source_id, 'source_id'),
    committedAtMs: intOrNull(row.committed_at_ms, 'committed_at_ms'),
  };
}

/** The statement and parameters of one page of a meter's current rows. */
export function ledgerRangeSql(query: LedgerRangeQuery): { sql: string; params: unknown[] } {
  const after = query.after;
  const fromMs = after === undefined ? query.fromMs : Math.max(query.fromMs, after.intervalStartMs);
  const params: unknown[] = [fromMs, query.toMs, query.meterId];
  const clauses = ['l.interval_start_ms >= $1', 'l.interval_start_ms < $2', 'l.meter_id = $3'];
  const add = (clause: (next: number) => string, ...values: unknown[]): void => {
    clauses.push(clause(params.length + 1));
    params.push(...values);
  };
  if (query.channel !== undefined) add((at) => `l.channel = $${at}`, query.channel);
  if (after !== undefined) {
    add(
      (at) => `(l.interval_start_ms, l.channel) > ($${at}::bigint, $${at + 1}::text)`,
      after.intervalStartMs,
      after.channel,
    );
  }
  params.push(query.limit);
  const sql = `${RANGE_SELECT} WHERE ${clauses.join(' AND ')} AND ${NEWER_VERSION}
    ORDER BY l.interval_start_ms, l.meter_id, l.channel LIMIT $${params.length}`;
  return { sql, params };
}

export async function selectLedgerRange(
  db: Queryable,
  query: LedgerRangeQuery,
): Promise<LedgerRangeRow[]> {
  const after = query.after;
  const fromMs = after === undefined ? query.fromMs : Math.max(query.fromMs, after.intervalStartMs);
  if (fromMs >= query.toMs || query.limit < 1) return [];
  const { sql, params } = ledgerRangeSql(query);
  return (await all(db, sql, params)).map(rangeRowFrom);
}

export async function selectIntervalVersions(
  db: Queryable,
  interval: IntervalRef,
): Promise<LedgerRangeRow[]> {
  const rows = await all(
    db,
    `${RANGE_SELECT}
     WHERE l.interval_start_ms = $1 AND l.meter_id = $2 AND l.channel = $3
     ORDER BY l.version DESC`,
    [interval.intervalStartMs, interval.meterId, interval.channel],
  );
  return rows.map(rangeRowFrom);
}

export async function selectQuarantineOfMeter(
  db: Queryable,
  meterId: string,
  limit: number,
): Promise<QuarantineRow[]> {
  return (
    await all(db, `${QUARANTINE_SELECT} WHERE q.meter_id = $1 ORDER BY q.id DESC LIMIT $2`, [
      meterId,
      limit,
    ])
  ).map(quarantineFrom);
}

/**
 * Deliveries newest first by `page_position`, the creation order an identity column gives them
 * (deliveries are never deleted); the source's index holds it.
 */
export async function selectDeliveryPage(
  db: Queryable,
  filter: DeliveryPageFilter,
  self: DeliveryOwner,
): Promise<DeliveryPageRow[]> {
  const params: unknown[] = [filter.before ?? Number.MAX_SAFE_INTEGER];
  const clauses = ['d.page_position < $1'];
  if (filter.sourceId !== undefined) {
    params.push(filter.sourceId);
    clauses.push(`d.source_id = $${params.length}`);
  }
  params.push(filter.limit);
  const rows = await all(
    db,
    `${DELIVERY_SELECT}
     WHERE ${clauses.join(' AND ')} ORDER BY d.page_position DESC LIMIT $${params.length}`,
    params,
  );
  return rows.map((row) => ({
    position: int(row.page_position, 'page_position'),
    delivery: deliveryFrom(row, self),
  }));
}
