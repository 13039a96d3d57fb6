// Goal: bill verify and bill prove read one account's meters on PostgreSQL through an index led
// by the meter in each month's partition (intervals, and register reads through their partial
// index), never a scan of every meter's month; and they get back that meter's current rows.
// bill prove finds its rows' batches through the same index, not by a scan for their ids.
// Method: three monthly partitions filled by SQL with many meters, ANALYZE, EXPLAIN's JSON plan of
// the billing ledger query walked, then the store's answer compared with the rows written.
// The mark of the ledger as it stood (ledgerRowIdMax) comes from the id sequence, not a scan: it
// must select exactly the stored rows, before any row, after a batch that rolled back, and after.
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
import { BATCH_IDS_SQL, billingLedgerSql, PostgresBillingStore } from './postgres-billing.js';
import { openPostgresStore } from './postgres-store.js';

const postgres = await probePostgres();
const runs = requireOrSkip('PostgreSQL', postgres.available, postgres.reason);

afterAll(dropPostgresSchemas);

const INTERVAL_MS = 3_600_000;
const START_MS = Date.UTC(2026, 8, 1);
const MONTH_MS = 31 * 86_400_000;
const METERS = 300;
const INTERVALS_PER_METER = 240;

/**
 * The ledger partitions a plan reads, with how: `partition node index`. A bitmap heap scan names
 * the index of the bitmap index scan under it.
 */
function partitionReads(nodes: readonly PlanNode[]): string[] {
  return nodes
    .filter((node) => (node['Relation Name'] ?? '').startsWith('ledger_y'))
    .map((node) => {
      const index =
        node['Index Name'] ??
        (node.Plans ?? []).map((child) => child['Index Name'] ?? '').join('+');
      return `${node['Relation Name']} ${node['Node Type'].replaceAll(' ', '-')} ${index}`;
    });
}

/**
 * Whether a partition is read through its copy of an index with these leading columns (a
 * partition's copy is named after the partition and the index's columns).
 */
function ledBy(read: string, columns: string): boolean {
  const [relation, , index] = read.split(' ');
  return (index ?? '').startsWith(`${relation}_${columns}`);
}

describe.runIf(runs)('the billing ledger query on PostgreSQL', () => {
  it('reads a few meters through their index in each partition, and their rows', async () => {
    const { schema, url } = freshPostgresSchema();
    const store = await openPostgresStore(url, { nowMs: () => 1 });
    // Three months of partitions (the store creates them on first write), then a fill by SQL:
    // hourly intervals of every meter, version 2 of each tenth interval, and a register read of
    // each meter per month.
    await createLedgerMonths(store, START_MS, 3);
    const columns = `interval_start_ms, meter_id, channel, version, seq, interval_seconds,
      value_micro, status_code, quality, idempotency_key, batch_id, batch_position, commodity, unit`;
    const meter = `'MTR-' || lpad(m::text, 8, '0')`;
    const start = `${START_MS} + (n % 3) * ${MONTH_MS} + (n / 3) * ${INTERVAL_MS}`;
    await runAsSuperuser(
      schema,
      `INSERT INTO ledger (${columns})
       SELECT ${start}, ${meter}, '1', 1, n, 3600, m * 1000 + n, 0, 'actual',
         'key-' || m || '-' || n, 1, n, 'electricity', 'kWh'
       FROM generate_series(1, ${METERS}) AS m, generate_series(0, ${INTERVALS_PER_METER - 1}) AS n;
       INSERT INTO ledger (${columns})
       SELECT ${start}, ${meter}, '1', 2, n, 3600, -(m * 1000 + n), 0, 'actual',
         'revised-' || m || '-' || n, 2, n, 'electricity', 'kWh'
       FROM generate_series(1, ${METERS}) AS m, generate_series(0, ${INTERVALS_PER_METER - 1}) AS n
       WHERE n % 10 = 0;
       INSERT INTO ledger (${columns})
       SELECT ${START_MS} + month * ${MONTH_MS} + 7, ${meter}, 'reg:1', 1, month, 0,
         m * 1000000 + month, 0, 'actual', 'read-' || m || '-' || month, 3, month,
         'electricity', 'kWh'
       FROM generate_series(1, ${METERS}) AS m, generate_series(0, 2) AS month;
       ANALYZE ledger;`,
    );
    const params = [['MTR-00000007', 'MTR-00000123'], START_MS, START_MS + 3 * MONTH_MS, 10 ** 9];
    // Intervals through ledger_by_meter, register reads through ledger_register_reads.
    const indexes = [
      [false, 'meter_id_interval_start_ms_channel'],
      [true, 'meter_id_channel_interval_start_ms'],
    ] as const;
    for (const [registerReads, columns] of indexes) {
      const reads = partitionReads(await planOf(schema, billingLedgerSql(registerReads), params));
      expect(reads, `register reads: ${registerReads}`).toHaveLength(3);
      expect(reads.filter((read) => !ledBy(read, columns))).toEqual([]);
    }

    // bill prove's batch of each row: through the meter index too, in the months the rows span.
    const ids = (
      await store.pool.query(
        `SELECT id, meter_id, interval_start_ms, batch_id FROM ledger
         WHERE meter_id = 'MTR-00000123' ORDER BY id LIMIT 4`,
      )
    ).rows as { id: string; meter_id: string; interval_start_ms: string; batch_id: string }[];
    const refs = ids.map((row) => ({
      id: Number(row.id),
      meterId: row.meter_id,
      intervalStartMs: Number(row.interval_start_ms),
    }));
    const refStarts = refs.map((ref) => ref.intervalStartMs);
    const batchParams = [
      ['MTR-00000123'],
      Math.min(...refStarts),
      Math.max(...refStarts),
      refs.map((ref) => ref.id),
    ];
    const batchReads = partitionReads(await planOf(schema, BATCH_IDS_SQL, batchParams));
    expect(batchReads.length).toBeGreaterThan(0);
    expect(batchReads.filter((read) => !ledBy(read, 'meter_id_interval_start_ms'))).toEqual([]);
    const billing = new PostgresBillingStore(store);
    expect([...(await billing.batchIdsOfLedgerRows(refs))]).toEqual(
      ids.map((row) => [Number(row.id), Number(row.batch_id)]),
    );
    const found = await billing.billingLedger({
      meterIds: ['MTR-00000007'],
      fromMs: START_MS,
      toMs: START_MS + 3 * MONTH_MS,
      rowIdMax: Number.MAX_SAFE_INTEGER,
    });
    const intervals = found.filter((row) => row.intervalSeconds > 0);
    expect(intervals).toHaveLength(INTERVALS_PER_METER);
    expect(intervals.every((row) => row.meterId === 'MTR-00000007')).toBe(true);
    const starts = intervals.map((row) => row.intervalStartMs);
    expect(starts).toEqual([...starts].sort((left, right) => left - right));
    // The current (highest) version of each interval: the revised value where there is one.
    for (const row of intervals) {
      const n = row.version === 2 ? -row.valueMicro - 7000 : row.valueMicro - 7000;
      expect(row.version).toBe(n % 10 === 0 ? 2 : 1);
    }
    const registerReads = await billing.billingLedger({
      meterIds: ['MTR-00000007'],
      fromMs: START_MS,
      toMs: START_MS + 3 * MONTH_MS,
      rowIdMax: Number.MAX_SAFE_INTEGER,
      registerReads: true,
    });
    expect(registerReads.map((row) => row.valueMicro)).toEqual([7_000_000, 7_000_001, 7_000_002]);
    await store.close();
  });

  it('marks the ledger as it stood from its id sequence: the stored rows, and no later one', async () => {
    const { schema, url } = freshPostgresSchema();
    const store = await openPostgresStore(url, { nowMs: () => 1 });
    try {
      const billing = new PostgresBillingStore(store);
      const mark = () => billing.transaction((tx) => tx.ledgerRowIdMax());
      const stored = async () =>
        Number(
          (await store.pool.query('SELECT coalesce(max(id), 0) AS id FROM ledger')).rows[0].id,
        );
      expect(await mark()).toBe(0);
      await createLedgerMonths(store, START_MS, 2);
      expect(await mark()).toBe(await stored());
      expect(await stored()).toBe(2);
      // A batch that drew ids and rolled back leaves a gap: the mark may name it, and still
      // selects exactly the stored rows; the next stored row is above it.
      await runAsSuperuser(
        schema,
        `BEGIN; SELECT nextval('ledger_id_seq') FROM generate_series(1, 5); ROLLBACK;`,
      );
      const afterRollback = await mark();
      expect(afterRollback).toBe(7);
      const rowsUpTo = async (id: number) =>
        Number(
          (await store.pool.query('SELECT count(*) AS n FROM ledger WHERE id <= $1', [id])).rows[0]
            .n,
        );
      expect(await rowsUpTo(afterRollback)).toBe(2);
      await createLedgerMonths(store, START_MS + 2 * MONTH_MS, 1);
      expect(await stored()).toBeGreaterThan(afterRollback);
      expect(await mark()).toBe(await stored());
    } finally {
      await store.close();
    }
  });
});
