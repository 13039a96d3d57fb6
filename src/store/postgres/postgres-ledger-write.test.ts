// Goal: the ledger's COPY write keeps batch order in ledger ids, and refuses (whole batch rolled
// back, STORE_UNAVAILABLE) an interval version already stored or repeated within the batch.
// Method: real PostgreSQL schema per test; write through store.transaction, read back by SQL.
import { afterAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import type { LedgerRow } from '../../core/store.js';
import {
  dropPostgresSchemas,
  freshPostgresSchema,
  postgresServerUrl,
  probePostgres,
} from '../../test-support/postgres.js';
import { requireOrSkip } from '../../test-support/services.js';
import { openPostgresStore, type PostgresStore } from './postgres-store.js';

const postgres = await probePostgres();
const runs = requireOrSkip('PostgreSQL', postgres.available, postgres.reason);

afterAll(dropPostgresSchemas);

const START_MS = Date.UTC(2026, 2, 1);
const INTERVAL_MS = 900_000;

function row(interval: number, batchPosition: number, meterId = 'MTR-AAAAAAAA'): LedgerRow {
  return {
    meterId,
    channel: '1',
    intervalStartMs: START_MS + interval * INTERVAL_MS,
    intervalSeconds: 900,
    commodity: 'electricity',
    unit: 'kWh',
    valueMicro: 1_000 + interval,
    statusCode: 0,
    seq: interval,
    quality: 'actual',
    qualityDetail: null,
    checksumSha256: null,
    idempotencyKey: `key-${meterId}-${interval}`,
    version: 1,
    supersedesKey: null,
    batchId: 0,
    batchPosition,
  };
}

async function writeRows(store: PostgresStore, rows: readonly LedgerRow[]): Promise<void> {
  await store.transaction(async (tx) => {
    const batchId = await tx.allocateBatchId();
    await tx.insertLedgerRows(rows.map((r) => ({ ...r, batchId })));
  });
}

async function ledgerOrder(schema: string): Promise<{ position: number; interval: number }[]> {
  const client = new pg.Client({
    connectionString: postgresServerUrl(),
    options: `-c search_path=${schema}`,
  });
  await client.connect();
  try {
    const found = await client.query('SELECT batch_position, seq FROM ledger ORDER BY id');
    return found.rows.map((r: { batch_position: number; seq: string }) => ({
      position: r.batch_position,
      interval: Number(r.seq),
    }));
  } finally {
    await client.end();
  }
}

describe.runIf(runs)('PostgreSQL ledger write (COPY into the ledger)', () => {
  it('gives ledger ids in batch order even when rows arrive out of it', async () => {
    const { schema, url } = freshPostgresSchema();
    const store = await openPostgresStore(url, { nowMs: () => 1 });
    try {
      // Positions 2, 0, 1 for intervals 0, 1, 2; the second month's partition is created too.
      await writeRows(store, [row(0, 2), row(1, 0), row(3_000, 1)]);
      expect(await ledgerOrder(schema)).toEqual([
        { position: 0, interval: 1 },
        { position: 1, interval: 3_000 },
        { position: 2, interval: 0 },
      ]);
    } finally {
      await store.close();
    }
  });

  it('rolls the whole batch back when an interval version is already stored', async () => {
    const { schema, url } = freshPostgresSchema();
    const store = await openPostgresStore(url, { nowMs: () => 1 });
    try {
      await writeRows(store, [row(0, 0), row(1, 1)]);
      const clash = writeRows(store, [row(2, 0), row(1, 1), row(3, 2)]);
      await expect(clash).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
      await expect(clash).rejects.toThrow(/written by another transaction first/);
      expect(await ledgerOrder(schema)).toEqual([
        { position: 0, interval: 0 },
        { position: 1, interval: 1 },
      ]);
      // The store stays usable: the next batch writes.
      await writeRows(store, [row(2, 0)]);
      expect(await ledgerOrder(schema)).toHaveLength(3);
    } finally {
      await store.close();
    }
  });

  it('refuses a batch that holds the same interval version twice', async () => {
    const { schema, url } = freshPostgresSchema();
    const store = await openPostgresStore(url, { nowMs: () => 1 });
    try {
      await expect(writeRows(store, [row(5, 0), row(5, 1)])).rejects.toMatchObject({
        code: 'STORE_UNAVAILABLE',
      });
      expect(await ledgerOrder(schema)).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
