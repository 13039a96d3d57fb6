// Goal: engine failures reach callers as the documented STORE_UNAVAILABLE, not raw SQLite errors;
// raw bytes read through the store's chunk cache are always what the file holds. Method: another
// connection holds the write lock while the store, with a short timeout, writes; raw chunks are
// edited behind the cache by this connection and by another, as an attacker with the file would.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { AmisyncError } from '../../core/errors.js';
import { removeTempDirs, tempDir } from '../../test-support/temp.js';
import { openSqliteStore } from './sqlite-store.js';

afterAll(removeTempDirs);

describe('SQLite store errors', () => {
  it('reports a database locked by another writer as STORE_UNAVAILABLE', async () => {
    const path = join(tempDir(), 'locked.db');
    const store = openSqliteStore(path, { nowMs: () => 0 });
    store.db.pragma('busy_timeout = 50');
    const other = new Database(path);
    other.exec('BEGIN IMMEDIATE');
    try {
      const attempt = store.transaction((tx) => tx.allocateBatchId());
      await expect(attempt).rejects.toBeInstanceOf(AmisyncError);
      await expect(attempt).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    await expect(store.transaction((tx) => tx.allocateBatchId())).resolves.toBe(1);
    await store.close();
  });
});

describe('SQLite store raw chunk reads', () => {
  it('read what the database holds after any write, from this connection or another', async () => {
    const path = join(tempDir(), 'raw.db');
    const store = openSqliteStore(path, { nowMs: () => 0 });
    await store.transaction(async (tx) => {
      await tx.putRawChunk('dlv_1', 0, Buffer.from('{"meter_id":"A"}\n{"meter_id":"B"}\n'));
    });
    const read = async () =>
      Buffer.from(await store.readDeliveryBytes('dlv_1', 17, 16)).toString('utf8');
    expect(await read()).toBe('{"meter_id":"B"}');
    expect(await read()).toBe('{"meter_id":"B"}');
    const tamper = (db: Database.Database, text: string) => {
      db.exec('DROP TRIGGER IF EXISTS raw_chunks_no_update');
      db.prepare('UPDATE raw_chunks SET bytes = ?').run(Buffer.from(text));
    };
    tamper(store.db, '{"meter_id":"A"}\n{"meter_id":"C"}\n');
    expect(await read()).toBe('{"meter_id":"C"}');
    const other = new Database(path);
    try {
      tamper(other, '{"meter_id":"A"}\n{"meter_id":"D"}\n');
    } finally {
      other.close();
    }
    expect(await read()).toBe('{"meter_id":"D"}');
    await store.close();
  });
});
