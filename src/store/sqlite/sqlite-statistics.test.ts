// Goal: a batch's save rewrites each cached stream's head by its rowid, and every head lands on
// its own stream's row, as a fresh connection reads them.
// Method: a real SQLite file; load three streams (so their rowids are cached), save two in
// another order, then read all three through a second store.
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { StreamRef } from '../../core/store.js';
import { removeTempDirs, tempDir } from '../../test-support/temp.js';
import { openSqliteStore } from './sqlite-store.js';

afterAll(removeTempDirs);

const STREAMS: StreamRef[] = ['MTR-AAAAAAAA', 'MTR-BBBBBBBB', 'MTR-CCCCCCCC'].map((meterId) => ({
  meterId,
  channel: '1',
}));

function head(fill: number): Uint8Array {
  return new Uint8Array(16).fill(fill);
}

describe('SQLite stream statistics', () => {
  it('rewrites loaded heads by rowid onto their own streams', async () => {
    const path = join(tempDir(), 'statistics.db');
    const store = openSqliteStore(path, { nowMs: () => 0 });
    await store.transaction((tx) =>
      tx.saveStreamStatistics(
        STREAMS.map((ref, index) => ({ ...ref, layout: 3, bytes: head(index + 1) })),
      ),
    );
    await store.transaction(async (tx) => {
      await tx.loadStreamStatistics(STREAMS);
      const [first, , third] = STREAMS as [StreamRef, StreamRef, StreamRef];
      await tx.saveStreamStatistics([
        { ...third, layout: 3, bytes: head(30) },
        { ...first, layout: 3, bytes: head(10) },
      ]);
    });
    await store.close();
    const fresh = openSqliteStore(path, { nowMs: () => 0 });
    const rows = await fresh.transaction((tx) => tx.loadStreamStatistics(STREAMS));
    await fresh.close();
    const firstByte = new Map(rows.map((row) => [row.meterId, row.bytes[0]]));
    expect(Object.fromEntries(firstByte)).toEqual({
      'MTR-AAAAAAAA': 10,
      'MTR-BBBBBBBB': 2,
      'MTR-CCCCCCCC': 30,
    });
  });
});
