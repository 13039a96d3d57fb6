// Goal: engine failures reach callers as the documented STORE_UNAVAILABLE, not raw SQLite errors.
// Method: another connection holds the write lock while the store, with a short timeout, writes.
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
