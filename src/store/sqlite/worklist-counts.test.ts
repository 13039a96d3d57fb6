// Goal: the overview's worklist counts stay one range of each worklist's status index (never a
// read of every quarantine item, hold or dead letter), and equal the counts `status()` gives.
// Method: ask SQLite for the plan of the counts query on a migrated file; then put items in each
// worklist through the store and compare worklistCounts() with status() and anomalyBacklog().
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { buildOperationsFixture } from '../../test-support/operations-fixture.js';
import { removeTempDirs, tempDir } from '../../test-support/temp.js';
import { openSqliteStore, WORKLIST_COUNTS_SQL } from './sqlite-store.js';

afterAll(removeTempDirs);

describe('the SQLite store counts the worklists', () => {
  it('by the status index of each worklist', () => {
    const path = join(tempDir(), 'plan.db');
    openSqliteStore(path, { nowMs: () => 0 }).close();
    const db = new Database(path, { readonly: true });
    const plan = db.prepare(`EXPLAIN QUERY PLAN ${WORKLIST_COUNTS_SQL}`).all() as {
      detail: string;
    }[];
    db.close();
    const searches = plan.map((step) => step.detail).filter((d) => /^(SEARCH|SCAN) /.test(d));
    expect(searches).toEqual([
      'SCAN CONSTANT ROW',
      'SEARCH quarantine USING COVERING INDEX quarantine_status (status=?)',
      'SEARCH anomalies USING COVERING INDEX anomalies_status (status=?)',
      'SEARCH dead_letters USING COVERING INDEX dead_letters_status (status=?)',
      'SCAN audit_log',
    ]);
  });

  it('as status() and the anomaly backlog count them', async () => {
    const fixture = await buildOperationsFixture();
    try {
      const store = fixture.harness.store;
      const status = await store.status();
      const counts = await store.worklistCounts();
      expect(counts).toEqual({
        quarantineOpen: status.quarantine.open,
        anomaliesHeld: (await store.anomalyBacklog()).held,
        deadLettersOpen: status.deadLetters.open,
        auditEntries: status.auditEntries,
      });
      for (const count of Object.values(counts)) expect(count).toBeGreaterThan(0);
    } finally {
      await fixture.close();
    }
  });
});
