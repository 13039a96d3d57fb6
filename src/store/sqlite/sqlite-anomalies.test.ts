// Goal: an operator's list of one meter's anomaly holds reads that meter's holds through an index,
// never every hold's JSON, with or without a status filter.
// Method: capture the SQL the anomaly list runs on a migrated file and ask SQLite for its plan.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { removeTempDirs, tempDir } from '../../test-support/temp.js';
import { selectAnomalies } from './sqlite-anomalies.js';
import { openSqliteStore } from './sqlite-store.js';

afterAll(removeTempDirs);

function planOf(filter: Parameters<typeof selectAnomalies>[1]): string[] {
  const path = join(tempDir(), 'anomalies.db');
  openSqliteStore(path, { nowMs: () => 0 }).close();
  const db = new Database(path, { readonly: true });
  try {
    const plans: string[][] = [];
    selectAnomalies((sql) => {
      const rows = db
        .prepare(`EXPLAIN QUERY PLAN ${sql}`)
        .all(...Array.from({ length: (sql.match(/\?/g) ?? []).length }, () => 0)) as {
        detail: string;
      }[];
      plans.push(rows.map((row) => row.detail));
      return db.prepare(sql);
    }, filter);
    expect(plans).toHaveLength(1);
    return plans[0] ?? [];
  } finally {
    db.close();
  }
}

describe('the SQLite anomaly list filtered by meter', () => {
  it("reads the meter's holds from the anomalies_meter index", () => {
    expect(planOf({ meterId: 'MTR-00000001', limit: 50 })[0]).toBe(
      'SEARCH a USING INDEX anomalies_meter (<expr>=? AND id>?)',
    );
  });

  it('still does with a status filter and a period', () => {
    const plan = planOf({
      meterId: 'MTR-00000001',
      status: 'held',
      fromMs: 0,
      toMs: 1,
      limit: 50,
    });
    expect(plan[0]).toBe('SEARCH a USING INDEX anomalies_meter (<expr>=? AND id>?)');
  });
});
