/**
 * The discrepancy report's reads in the PostgreSQL store: the anomaly ledger and the estimated
 * ledger readings of one period, summed in SQL (each figure one grouped query, exact integers
 * decoded from int8 and numeric text). The same role and the same results as
 * sqlite-discrepancies.ts.
 */
import type {
  AnomalyStatus,
  DetectorFigures,
  DiscrepancyFigures,
  DiscrepancyQuery,
  HoldTotal,
  MeterFigures,
  OpenAgeRow,
  Quality,
  SeriesPoint,
  StreamSeriesQuery,
} from '../../core/store.js';
import { big, int, text, type PgRow } from './postgres-codecs.js';
import { all, type Queryable } from './postgres-query.js';

const DAY_MS = 86_400_000;

/** A hold's value when it is electricity in kWh (milliwatt-hours), else 0. */
const KWH_VALUE = `CASE WHEN coalesce(a.reading ->> 'unit', 'kWh') = 'kWh'
  THEN (a.reading ->> 'valueMicro')::bigint ELSE 0 END`;

/** Every source when the list ($3) is empty, else the batches of the listed ones. */
const OF_SOURCES = '(cardinality($3::text[]) = 0 OR b.source_id = ANY($3::text[]))';

/**
 * The holds of the period and sources, with their meter, kWh and the commit time of the batch
 * that held them. Parameters: $1 fromMs, $2 toMs, $3 the source ids.
 */
const PERIOD_HOLDS = `SELECT a.id, a.status, a.findings, b.committed_at_ms AS held_at_ms,
    a.reading ->> 'meterId' AS meter_id, ${KWH_VALUE} AS energy
  FROM anomalies a JOIN batches b ON b.id = a.batch_id
  WHERE (a.reading ->> 'intervalStartMs')::bigint >= $1
    AND (a.reading ->> 'intervalStartMs')::bigint < $2 AND ${OF_SOURCES}`;

function periodOf(query: DiscrepancyQuery): unknown[] {
  return [query.fromMs, query.toMs, [...query.sourceIds]];
}

function emptyTotal(): HoldTotal {
  return { items: 0, energyMilliWh: 0n };
}

function totalOf(row: PgRow, items = 'n', energy = 'energy'): HoldTotal {
  return { items: int(row[items], items), energyMilliWh: big(row[energy], energy) };
}

function isStatus(status: unknown): status is AnomalyStatus {
  return status === 'held' || status === 'released' || status === 'rejected';
}

async function selectByStatus(
  db: Queryable,
  query: DiscrepancyQuery,
): Promise<Record<AnomalyStatus, HoldTotal>> {
  const byStatus: Record<AnomalyStatus, HoldTotal> = {
    held: emptyTotal(),
    released: emptyTotal(),
    rejected: emptyTotal(),
  };
  const rows = await all(
    db,
    `SELECT h.status, count(*) AS n, coalesce(sum(h.energy), 0) AS energy
     FROM (${PERIOD_HOLDS}) h GROUP BY h.status`,
    periodOf(query),
  );
  for (const row of rows) if (isStatus(row.status)) byStatus[row.status] = totalOf(row);
  return byStatus;
}

async function selectByDetector(
  db: Queryable,
  query: DiscrepancyQuery,
): Promise<DetectorFigures[]> {
  // DISTINCT: a reading with two findings of one detector counts once under it.
  const rows = await all(
    db,
    `SELECT d.detector, d.status, count(*) AS n, coalesce(sum(d.energy), 0) AS energy FROM (
       SELECT DISTINCT h.id, h.status, h.energy, f ->> 'detector' AS detector
       FROM (${PERIOD_HOLDS}) h, json_array_elements(h.findings) f) d
     GROUP BY d.detector, d.status ORDER BY d.detector COLLATE "C"`,
    periodOf(query),
  );
  const byDetector = new Map<string, DetectorFigures>();
  for (const row of rows) {
    const detector = text(row.detector, 'detector');
    const figures = byDetector.get(detector) ?? {
      detector,
      held: emptyTotal(),
      released: emptyTotal(),
      rejected: emptyTotal(),
    };
    if (isStatus(row.status)) figures[row.status] = totalOf(row);
    byDetector.set(detector, figures);
  }
  return [...byDetector.values()];
}

async function selectOpenByAge(db: Queryable, query: DiscrepancyQuery): Promise<OpenAgeRow[]> {
  // A batch committed after `nowMs` (a clock set back) is aged 0 days, never negative.
  const rows = await all(
    db,
    `SELECT greatest(0, ($4::bigint - h.held_at_ms) / ${DAY_MS}) AS age_days, count(*) AS n,
       coalesce(sum(h.energy), 0) AS energy
     FROM (${PERIOD_HOLDS}) h WHERE h.status = 'held' GROUP BY 1 ORDER BY 1`,
    [...periodOf(query), query.nowMs],
  );
  return rows.map((row) => ({ ageDays: int(row.age_days, 'age_days'), ...totalOf(row) }));
}

async function selectTopMeters(db: Queryable, query: DiscrepancyQuery): Promise<MeterFigures[]> {
  const sumOf = (status: AnomalyStatus, what: string) =>
    `coalesce(sum(CASE WHEN h.status = '${status}' THEN ${what} ELSE 0 END), 0)`;
  const rows = await all(
    db,
    `SELECT h.meter_id,
       ${sumOf('held', '1')} AS held_n, ${sumOf('held', 'h.energy')} AS held_energy,
       ${sumOf('released', '1')} AS released_n, ${sumOf('released', 'h.energy')} AS released_energy,
       ${sumOf('rejected', '1')} AS rejected_n, ${sumOf('rejected', 'h.energy')} AS rejected_energy,
       ${sumOf('held', 'abs(h.energy)')} AS at_stake
     FROM (${PERIOD_HOLDS}) h GROUP BY h.meter_id HAVING ${sumOf('held', '1')} > 0
     ORDER BY at_stake DESC, held_n DESC, h.meter_id COLLATE "C" LIMIT $4`,
    [...periodOf(query), query.topMetersMax],
  );
  return rows.map((row) => ({
    meterId: text(row.meter_id, 'meter_id'),
    held: totalOf(row, 'held_n', 'held_energy'),
    released: totalOf(row, 'released_n', 'released_energy'),
    rejected: totalOf(row, 'rejected_n', 'rejected_energy'),
    atStakeMilliWh: big(row.at_stake, 'at_stake'),
  }));
}

async function selectMetersWithOpen(db: Queryable, query: DiscrepancyQuery): Promise<number> {
  const rows = await all(
    db,
    `SELECT count(DISTINCT h.meter_id) AS n FROM (${PERIOD_HOLDS}) h WHERE h.status = 'held'`,
    periodOf(query),
  );
  return int(rows[0]?.n, 'n');
}

/** Current ledger readings of the period and sources marked estimated, and their kWh. */
async function selectEstimated(db: Queryable, query: DiscrepancyQuery): Promise<HoldTotal> {
  const rows = await all(
    db,
    `SELECT count(*) AS n,
       coalesce(sum(CASE WHEN l.unit = 'kWh' THEN l.value_micro ELSE 0 END), 0) AS energy
     FROM ledger l JOIN batches b ON b.id = l.batch_id
     WHERE l.interval_start_ms >= $1 AND l.interval_start_ms < $2 AND l.quality = 'estimated'
       AND ${OF_SOURCES}
       AND NOT EXISTS (SELECT 1 FROM ledger n WHERE n.interval_start_ms = l.interval_start_ms
         AND n.meter_id = l.meter_id AND n.channel = l.channel AND n.version > l.version)`,
    periodOf(query),
  );
  return rows[0] === undefined ? emptyTotal() : totalOf(rows[0]);
}

export async function selectDiscrepancyFigures(
  db: Queryable,
  query: DiscrepancyQuery,
): Promise<DiscrepancyFigures> {
  const [byStatus, byDetector, estimated, metersWithOpen, openByAgeDays, topMeters] =
    await Promise.all([
      selectByStatus(db, query),
      selectByDetector(db, query),
      selectEstimated(db, query),
      selectMetersWithOpen(db, query),
      selectOpenByAge(db, query),
      selectTopMeters(db, query),
    ]);
  return { byStatus, byDetector, estimated, metersWithOpen, openByAgeDays, topMeters };
}

/**
 * The series of one stream: the grid's starts, each one lookup of the ledger's unique (interval
 * start, meter, channel, version) key, keeping the current version. Parameters: $1 fromMs, $2 toMs,
 * $3 intervalMs, $4 meterId, $5 channel, $6 limit.
 */
export const STREAM_SERIES_SQL = `SELECT l.interval_start_ms, l.value_micro, l.quality
  FROM generate_series($1::bigint, $2::bigint - 1, $3::bigint) AS grid (ms)
  JOIN ledger l ON l.interval_start_ms = grid.ms AND l.meter_id = $4 AND l.channel = $5
  WHERE NOT EXISTS (SELECT 1 FROM ledger n WHERE n.interval_start_ms = l.interval_start_ms
    AND n.meter_id = l.meter_id AND n.channel = l.channel AND n.version > l.version)
  ORDER BY l.interval_start_ms LIMIT $6`;

export async function selectStreamSeries(
  db: Queryable,
  query: StreamSeriesQuery,
): Promise<SeriesPoint[]> {
  if (query.fromMs >= query.toMs || query.limit < 1) return [];
  const rows = await all(db, STREAM_SERIES_SQL, [
    query.fromMs,
    query.toMs,
    query.intervalMs,
    query.meterId,
    query.channel,
    query.limit,
  ]);
  return rows.map((row) => ({
    intervalStartMs: int(row.interval_start_ms, 'interval_start_ms'),
    valueMicro: int(row.value_micro, 'value_micro'),
    quality: text(row.quality, 'quality') as Quality,
  }));
}
