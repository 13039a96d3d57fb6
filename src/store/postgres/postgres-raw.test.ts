// Goal: a delivery's raw bytes are compressed with lz4 when the server has it (cheaper for the
// server than the default pglz), and read back byte for byte. Method: real PostgreSQL schema; the
// column's compression from the catalog, the value's from pg_column_compression, bytes read back.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import {
  dropPostgresSchemas,
  freshPostgresSchema,
  postgresServerUrl,
  probePostgres,
} from '../../test-support/postgres.js';
import { requireOrSkip } from '../../test-support/services.js';
import { openPostgresStore } from './postgres-store.js';

const postgres = await probePostgres();
const runs = requireOrSkip('PostgreSQL', postgres.available, postgres.reason);

afterAll(dropPostgresSchemas);

async function query(schema: string, sql: string): Promise<Record<string, unknown>[]> {
  const client = new pg.Client({
    connectionString: postgresServerUrl(),
    options: `-c search_path=${schema}`,
  });
  await client.connect();
  try {
    return (await client.query(sql)).rows as Record<string, unknown>[];
  } finally {
    await client.end();
  }
}

describe('raw chunks in PostgreSQL', () => {
  it.runIf(runs)(
    'are stored with lz4 where the server has it, and read back unchanged',
    async () => {
      const { schema, url } = freshPostgresSchema();
      const store = await openPostgresStore(url, { nowMs: () => 0 });
      // Text that compresses (as NDJSON does), longer than the 2 kB at which values are compressed.
      const line = '{"meter_id":"MTR-AAAAAAAA","timestamp_utc":"2026-01-01T00:00:00Z","seq":1}\n';
      const bytes = Buffer.concat([Buffer.from(line.repeat(2_000)), randomBytes(64)]);
      try {
        await store.transaction((tx) => tx.putRawChunk('dlv_raw', 0, bytes));
        expect(Buffer.from(await store.readDeliveryBytes('dlv_raw', 0, bytes.byteLength))).toEqual(
          bytes,
        );
      } finally {
        await store.close();
      }
      const [server] = await query(
        schema,
        `SELECT 'lz4' = ANY (enumvals) AS lz4 FROM pg_settings
       WHERE name = 'default_toast_compression'`,
      );
      const [column] = await query(
        schema,
        `SELECT attcompression FROM pg_attribute
       WHERE attrelid = 'raw_chunks'::regclass AND attname = 'bytes'`,
      );
      const [stored] = await query(
        schema,
        'SELECT pg_column_compression(bytes) AS used FROM raw_chunks',
      );
      const expected = server?.['lz4'] === true ? 'lz4' : 'pglz';
      expect(column?.['attcompression']).toBe(expected === 'lz4' ? 'l' : '');
      expect(stored?.['used']).toBe(expected);
    },
  );
});
