// Goal: a ledger written before readings had units opens under the current schema unchanged.
// Method: build a version 3 database by hand, write rows in its column names, open it as a store.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { removeTempDirs, tempDir } from '../../test-support/temp.js';
import { MIGRATIONS } from './migrations.js';
import { openSqliteStore } from './sqlite-store.js';

afterAll(removeTempDirs);

function versionThreeDatabase(path: string): void {
  const db = new Database(path);
  db.exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,
    applied_at_ms INTEGER NOT NULL) STRICT`);
  for (const migration of MIGRATIONS.filter((m) => m.version <= 3)) {
    db.exec(migration.sql);
    db.prepare('INSERT INTO schema_migrations VALUES (?, ?, 0)').run(
      migration.version,
      migration.name,
    );
  }
  db.prepare(
    `INSERT INTO ledger (interval_start_ms, meter_id, channel, version, seq, interval_seconds,
       energy_milli_wh, status_code, quality, checksum_sha256, idempotency_key, supersedes_key,
       batch_id, batch_position) VALUES (0, 'MTR-AAAAAAAA', '1', 1, 1, 900, 1250000, 0, 'actual',
       NULL, 'k', NULL, 1, 0)`,
  ).run();
  db.prepare(
    `INSERT INTO stream_state (meter_id, channel, last_interval_start_ms, last_seq, seq_gaps,
       seq_regressions, current_readings, current_energy_milli_wh)
     VALUES ('MTR-AAAAAAAA', '1', 0, 1, 0, 0, 1, 1250000)`,
  ).run();
  db.close();
}

describe('migration 4: commodity, unit and quality detail', () => {
  it('keeps every older reading as electricity in kWh with its value', async () => {
    const path = join(tempDir(), 'v3.db');
    versionThreeDatabase(path);
    const store = openSqliteStore(path, { nowMs: () => 0 });
    try {
      const [row] = (await store.findLedgerRowsByKey('k')) ?? [];
      expect(row).toMatchObject({
        valueMicro: 1_250_000,
        commodity: 'electricity',
        unit: 'kWh',
        qualityDetail: null,
      });
      const status = await store.status();
      expect(status.ledger.energyMilliWh).toBe(1_250_000n);
      expect(status.ledger.byUnit).toEqual([
        { commodity: 'electricity', unit: 'kWh', readings: 1, valueMicro: 1_250_000n },
      ]);
      expect(await store.recomputeLedgerTotals()).toEqual({
        readings: 1,
        byUnit: status.ledger.byUnit,
      });
    } finally {
      await store.close();
    }
  });
});
