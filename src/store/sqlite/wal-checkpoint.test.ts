// Goal: with upkeep in the background (what a parallel ingest asks for), WAL checkpoints run on a
// thread of their own: committed pages reach the database file although the committing connection
// checkpoints only past its backstop, and close() ends the thread with nothing lost. Method: about
// 2 MiB (some 500 pages, under both SQLite's default threshold and the backstop) is committed; the
// database file grows only if another connection checkpoints, which it does with upkeep and not
// without; the store is closed and reopened and every row is read back.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { removeTempDirs, tempDir } from '../../test-support/temp.js';
import { openSqliteStore, WAL_BACKSTOP_PAGES, type SqliteStore } from './sqlite-store.js';

afterAll(removeTempDirs);

const ROWS = 2_000;
const ROW_BYTES = 1_000;

/** Commits ~2 MiB in one transaction; returns the database file's size before it. */
function commitPages(store: SqliteStore): number {
  store.db.exec('CREATE TABLE IF NOT EXISTS filler (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
  const before = statSync(store.db.name).size;
  const insert = store.db.prepare('INSERT INTO filler (body) VALUES (?)');
  store.db.transaction(() => {
    for (let index = 0; index < ROWS; index++)
      insert.run(
        String(index)
          .padStart(4, '0')
          .repeat(ROW_BYTES / 4),
      );
  })();
  return before;
}

/** Waits up to `ms` for the database file to pass `size` bytes. */
async function fileGrowsPast(path: string, size: number, ms: number): Promise<boolean> {
  for (const start = Date.now(); Date.now() - start < ms; await sleep(20)) {
    if (statSync(path).size > size + ROWS * ROW_BYTES) return true;
  }
  return false;
}

describe('WAL checkpoints on their own thread', () => {
  it('copy committed pages into the database file while the writer only commits', async () => {
    const path = join(tempDir(), 'upkeep.db');
    const store = openSqliteStore(path, { nowMs: () => 0 });
    store.upkeepInBackground();
    store.upkeepInBackground();
    expect(store.db.pragma('wal_autocheckpoint', { simple: true })).toBe(WAL_BACKSTOP_PAGES);
    const before = commitPages(store);
    expect(await fileGrowsPast(path, before, 10_000)).toBe(true);
    await store.close();
    const again = openSqliteStore(path, { nowMs: () => 0 });
    const count = again.db.prepare('SELECT count(*) FROM filler').pluck().get();
    expect(count).toBe(ROWS);
    await again.close();
  });

  it('leave the database file alone without upkeep (the writer checkpoints past 1,000 pages)', async () => {
    const path = join(tempDir(), 'inline.db');
    const store = openSqliteStore(path, { nowMs: () => 0 });
    expect(store.db.pragma('wal_autocheckpoint', { simple: true })).toBe(1_000);
    const before = commitPages(store);
    expect(await fileGrowsPast(path, before, 300)).toBe(false);
    await store.close();
  });
});
