/**
 * The discrepancy report's reads in the SQLite store: the anomaly ledger and the estimated ledger
 * readings of one period, summed in SQL (each figure one grouped query, exact integers), and the
 * series of one stream that a report charts. Kept apart from the engine file so that its role
 * reads in one place.
 */
import type Database from 'better-sqlite3';
import type {
  AnomalyStatus,
  DetectorFigures,
  DiscrepancyFigures,
  DiscrepancyQuery,
  HoldTotal,
  MeterFigures,
  Quality,
  SeriesPoint,
  StreamSeriesQuery,
} from '../../core/store.js';

type Prepare = (sql: string) => Database.Statement;

const DAY_MS = 86_400_000;

/** A hold's value when it is electricity in kWh (milliwatt-hours), else 0. */
const KWH_VALUE = `CASE WHEN coalesce(json_extract(a.reading, '$.unit'), 'kWh') = 'kWh'
  THEN json_extract(a.reading, '$.valueMicro') ELSE 0 END`;

/**
 * The holds of the period and sources, with their meter, kWh and the commit time of the batch
 * that held them. Parameters: fromMs, toMs, the source ids as a JSON array (twice).
 */
const PERIOD_HOLDS = `SELECT a.id, a.status, a.findings, b.committed_at_ms AS held_at_ms,
    json_extract(a.reading, '$.meterId') AS meter_id, ${KWH_VALUE} AS energy
  FROM anomalies a JOIN batches b ON b.id = a.batch_id
  WHERE json_extract(a.reading, '$.intervalStartMs') >= ?
    AND json_extract(a.reading, '$.intervalStartMs') < ?
    AND (json_array_length(?) = 0 OR b.source_id IN (SELECT value FROM json_each(?)))`;

interface QueryParams {
  period: unknown[];
}

function paramsOf(query: DiscrepancyQuery): QueryParams {
  const sources = JSON.stringify(query.sourceIds);
  return { period: [query.fromMs, query.toMs, sources, sources] };
}

function emptyTotal(): HoldTotal {
  return { items: 0, energyMilliWh: 0n };
}

function totalOf(items: bigint, energy: bigint): HoldTotal {
  return { items: Number(items), energyMilliWh: BigInt(energy) };
}

function isStatus(status: string): status is AnomalyStatus {
  return status === 'held' || status === 'released' || status === 'rejected';
}

function selectByStatus(prepare: Prepare, params: QueryParams) {
  const byStatus: Record<AnomalyStatus, HoldTotal> = {
    held: emptyTotal(),
    released: emptyTotal(),
    rejected: emptyTotal(),
  };
  const rows = prepare(
    `SELECT h.status, count(*) AS n, coalesce(sum(h.energy), 0) AS energy
     FROM (${PERIOD_HOLDS}) h GROUP BY h.status`,
  )
    .safeIntegers(true)
    .all(...params.period) as { status: string; n: bigint; energy: bigint }[];
  for (const row of rows) {
    if (isStatus(row.status)) byStatus[row.status] = totalOf(row.n, row.energy);
  }
  return byStatus;
}

function selectByDetector(prepare: Prepare, params: QueryParams): DetectorFigures[] {
  // DISTINCT: a reading with two findings of one detector counts once under it.
  const rows = prepare(
    `SELECT d.detector, d.status, count(*) AS n, coalesce(sum(d.energy), 0) AS energy FROM (
       SELECT DISTINCT h.id, h.status, h.energy,
         json_extract(f.value, '$.detector') AS detector
       FROM (${PERIOD_HOLDS}) h, json_each(h.findings) f) d
     GROUP BY d.detector, d.status ORDER BY d.detector`,
  )
    .safeIntegers(true)
    .all(...params.period) as { detector: string; status: string; n: bigint; energy: bigint }[];
  const byDetector = new Map<string, DetectorFigures>();
  for (const row of rows) {
    const figures = byDetector.get(row.detector) ?? {
      detector: row.detector,
      held: emptyTotal(),
      released: emptyTotal(),
      rejected: emptyTotal(),
    };
    if (isStatus(row.status)) figures[row.status] = totalOf(row.n, row.energy);
    byDetector.set(row.detector, figures);
  }
  return [...byDetector.values()];
}

function selectOpenByAge(prepare: Prepare, params: QueryParams, nowMs: number) {
  // A batch committed after `nowMs` (a clock set back) is aged 0 days, never negative.
  const rows = prepare(
    `SELECT max(0, (? - h.held_at_ms) / ${DAY_MS}) AS age_days, count(*) AS n,
       coalesce(sum(h.energy), 0) AS energy
     FROM (${PERIOD_HOLDS}) h WHERE h.status = 'held' GROUP BY age_days ORDER BY age_days`,
  )
    .safeIntegers(true)
    .all(nowMs, ...params.period) as { age_days: bigint; n: bigint; energy: bigint }[];
  return rows.map((row) => ({ ageDays: Number(row.age_days), ...totalOf(row.n, row.energy) }));
}

function selectTopMeters(prepare: Prepare, params: QueryParams, max: number): MeterFigures[] {
  const sumOf = (status: AnomalyStatus, what: string) =>
    `coalesce(sum(CASE WHEN h.status = '${status}' THEN ${what} ELSE 0 END), 0)`;
  const rows = prepare(
    `SELECT h.meter_id,
       ${sumOf('held', '1')} AS held_n, ${sumOf('held', 'h.energy')} AS held_energy,
       ${sumOf('released', '1')} AS released_n, ${sumOf('released', 'h.energy')} AS released_energy,
       ${sumOf('rejected', '1')} AS rejected_n, ${sumOf('rejected', 'h.energy')} AS rejected_energy,
       ${sumOf('held', 'abs(h.energy)')} AS at_stake
     FROM (${PERIOD_HOLDS}) h GROUP BY h.meter_id HAVING held_n > 0
     ORDER BY at_stake DESC, held_n DESC, h.meter_id LIMIT ?`,
  )
    .safeIntegers(true)
    .all(...params.period, max) as Record<string, bigint | string>[];
  return rows.map((row) => ({
    meterId: row.meter_id as string,
    held: totalOf(row.held_n as bigint, row.held_energy as bigint),
    released: totalOf(row.released_n as bigint, row.released_energy as bigint),
    rejected: totalOf(row.rejected_n as bigint, row.rejected_energy as bigint),
    atStakeMilliWh: BigInt(row.at_stake as bigint),
  }));
}

function selectMetersWithOpen(prepare: Prepare, params: QueryParams): number {
  const row = prepare(
    `SELECT count(DISTINCT h.meter_id) AS n FROM (${PERIOD_HOLDS}) h WHERE h.status = 'held'`,
  ).get(...params.period) as { n: number };
  return row.n;
}

/** Current ledger readings of the period and sources marked estimated, and their kWh. */
function selectEstimated(prepare: Prepare, query: DiscrepancyQuery): HoldTotal {
  const sources = JSON.stringify(query.sourceIds);
  const row = prepare(
    `SELECT count(*) AS n,
       coalesce(sum(CASE WHEN l.unit = 'kWh' THEN l.value_micro ELSE 0 END), 0) AS energy
     FROM ledger l JOIN batches b ON b.id = l.batch_id
     WHERE l.interval_start_ms >= ? AND l.interval_start_ms < ? AND l.quality = 'estimated'
       AND (json_array_length(?) = 0 OR b.source_id IN (SELECT value FROM json_each(?)))
       AND NOT EXISTS (SELECT 1 FROM ledger n WHERE n.interval_start_ms = l.interval_start_ms
         AND n.meter_id = l.meter_id AND n.channel = l.channel AND n.version > l.version)`,
  )
    .safeIntegers(true)
    .get(query.fromMs, query.toMs, sources, sources) as { n: bigint; energy: bigint };
  return totalOf(row.n, row.energy);
}

export function selectDiscrepancyFigures(
  prepare: Prepare,
  query: DiscrepancyQuery,
): DiscrepancyFigures {
  const params = paramsOf(query);
  return {
    byStatus: selectByStatus(prepare, params),
    byDetector: selectByDetector(prepare, params),
    estimated: selectEstimated(prepare, query),
    metersWithOpen: selectMetersWithOpen(prepare, params),
    openByAgeDays: selectOpenByAge(prepare, params, query.nowMs),
    topMeters: selectTopMeters(prepare, params, query.topMetersMax),
  };
}

/**
 * The series of one stream: one range of the ledger's (meter, interval start) index, which carries
 * every column read here, keeping the stream's rows on the grid and the highest version of each.
 * Parameters: meterId, channel, fromMs, the grid's end, fromMs, intervalMs, limit.
 */
export const STREAM_SERIES_SQL = `SELECT interval_start_ms, value_micro, quality, max(version)
  FROM ledger INDEXED BY ledger_by_meter
  WHERE meter_id = ? AND channel = ? AND interval_seconds > 0
    AND interval_start_ms >= ? AND interval_start_ms < ? AND (interval_start_ms - ?) % ? = 0
  GROUP BY interval_start_ms ORDER BY interval_start_ms LIMIT ?`;

export function selectStreamSeries(prepare: Prepare, query: StreamSeriesQuery): SeriesPoint[] {
  if (query.fromMs >= query.toMs || query.limit < 1 || query.intervalMs < 1) return [];
  // The grid has `limit` starts at most; max(version) makes SQLite return the columns of the row
  // that holds it, so each interval's current value comes from the same index entry.
  const gridEndMs = Math.min(query.toMs, query.fromMs + query.limit * query.intervalMs);
  const rows = prepare(STREAM_SERIES_SQL)
    .raw()
    .all(
      query.meterId,
      query.channel,
      query.fromMs,
      gridEndMs,
      query.fromMs,
      query.intervalMs,
      query.limit,
    ) as [number, number, Quality, number][];
  return rows.map(([intervalStartMs, valueMicro, quality]) => ({
    intervalStartMs,
    valueMicro,
    quality,
  }));
}
