// Goal: the meter page's reads on PostgreSQL (a meter's ledger range, its streams' first interval,
// a stream's series) stay index reads of that meter, never a scan of the whole ledger.
// Method: fill three monthly partitions with many meters, ANALYZE, and walk EXPLAIN's JSON plan.
import { afterAll, describe, expect, it } from 'vitest';
import {
  dropPostgresSchemas,
  freshPostgresSchema,
  probePostgres,
  runAsSuperuser,
  createLedgerMonths,
  planOf,
  type PlanNode,
} from '../../test-support/postgres.js';
import { requireOrSkip } from '../../test-support/services.js';
import { STREAM_SERIES_SQL } from './postgres-discrepancies.js';
import { ledgerRangeSql } from './postgres-ledger-reads.js';
import { openPostgresStore } from './postgres-store.js';

const postgres = await probePostgres();
const runs = requireOrSkip('PostgreSQL', postgres.available, postgres.reason);

afterAll(dropPostgresSchemas);

const INTERVAL_MS = 900_000;
const START_MS = Date.UTC(2026, 8, 1);
const METERS = 400;
const INTERVALS_PER_METER = 250;

/** The ledger partitions a plan reads whole (sequential or bitmap-free full scans). */
function ledgerScans(nodes: readonly PlanNode[]): string[] {
  return nodes
    .filter((node) => node['Node Type'] === 'Seq Scan')
    .map((node) => node['Relation Name'] ?? '')
    .filter((name) => name.startsWith('ledger'));
}

/** Whether a node reads a partition through its index led by the meter (named after it). */
function ledByMeter(node: PlanNode): boolean {
  return (node['Index Name'] ?? '').startsWith(`${node['Relation Name'] ?? '?'}_meter_id_`);
}

/**
 * The ledger partitions a plan reads other than by an index led by the meter: a scan, or an
 * index led by interval start (a range of every meter's rows, filtered).
 */
function notByMeter(nodes: readonly PlanNode[]): string[] {
  return nodes
    .filter((node) => (node['Relation Name'] ?? '').startsWith('ledger_y'))
    .filter((node) => !ledByMeter(node))
    .map((node) => `${node['Relation Name']} ${node['Node Type']} ${node['Index Name'] ?? ''}`);
}

describe.runIf(runs)('PostgreSQL meter reads', () => {
  it('read one meter through its index in every partition, never the whole ledger', async () => {
    const { schema, url } = freshPostgresSchema();
    const store = await openPostgresStore(url, { nowMs: () => 1 });
    // Three months of partitions, then rows straight in by SQL (a fill, not a pipeline run).
    const monthMs = 31 * 86_400_000;
    await createLedgerMonths(store, START_MS, 3);
    await runAsSuperuser(
      schema,
      `INSERT INTO ledger (interval_start_ms, meter_id, channel, version, seq, interval_seconds,
         value_micro, status_code, quality, idempotency_key, batch_id, batch_position, commodity,
         unit)
       SELECT ${START_MS} + (n % 3) * ${monthMs} + (n / 3) * ${INTERVAL_MS},
         'MTR-' || lpad(m::text, 8, '0'), '1', 1, n, 900, n, 0, 'actual',
         'key-' || m || '-' || n, 1, n, 'electricity', 'kWh'
       FROM generate_series(1, ${METERS}) AS m, generate_series(0, ${INTERVALS_PER_METER - 1}) AS n;
       INSERT INTO stream_state (meter_id, channel, last_interval_start_ms, last_seq, seq_gaps,
         seq_regressions, current_readings, current_value_micro, commodity, unit)
       SELECT 'MTR-' || lpad(m::text, 8, '0'), '1', ${START_MS}, 0, 0, 0, 1, 1, 'electricity',
         'kWh' FROM generate_series(1, ${METERS}) AS m;
       ANALYZE ledger; ANALYZE stream_state;`,
    );
    const meterId = 'MTR-00000007';
    const query = { meterId, fromMs: START_MS, toMs: START_MS + 3 * monthMs, limit: 100 };
    const range = ledgerRangeSql(query);
    const rangePlan = await planOf(schema, range.sql, range.params);
    expect(ledgerScans(rangePlan)).toEqual([]);
    const byMeter = rangePlan.filter(ledByMeter);
    expect(byMeter).toHaveLength(3);
    const first = await planOf(
      schema,
      `SELECT l.interval_start_ms FROM ledger l WHERE l.meter_id = $1 AND l.channel = $2
       ORDER BY l.interval_start_ms LIMIT 1`,
      [meterId, '1'],
    );
    expect(ledgerScans(first)).toEqual([]);
    expect(notByMeter(first)).toEqual([]);
    // A stream's series: one lookup of the unique key per grid start, the grid bounded by limit.
    const seriesPlan = await planOf(schema, STREAM_SERIES_SQL, [
      START_MS,
      START_MS + 3 * monthMs,
      INTERVAL_MS,
      meterId,
      '1',
      50,
    ]);
    expect(ledgerScans(seriesPlan)).toEqual([]);
    // The store answers from the same data: the meter's rows in order, across the months.
    const rows = await store.listLedgerRange(query);
    expect(rows).toHaveLength(100);
    expect(rows.every((r) => r.meterId === meterId)).toBe(true);
    const starts = rows.map((r) => r.intervalStartMs);
    expect(starts).toEqual([...starts].sort((left, right) => left - right));
    const series = await store.streamSeries({
      meterId,
      channel: '1',
      fromMs: START_MS,
      toMs: START_MS + monthMs,
      intervalMs: INTERVAL_MS,
      limit: 5,
    });
    expect(series.map((point) => point.intervalStartMs - START_MS)).toEqual(
      [0, 1, 2, 3, 4].map((n) => n * INTERVAL_MS),
    );
    const streams = await store.listMeterStreams(meterId);
    expect(streams.map((s) => [s.channel, s.firstIntervalStartMs, s.intervalSeconds])).toEqual([
      ['1', START_MS, 900],
    ]);
    await store.close();
  });
});
