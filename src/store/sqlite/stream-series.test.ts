// Goal: a stream's series (the anomaly and meter pages' chart) stays one range read of the
// meter's covering index, whatever the ledger's size, and still returns the current value on the
// grid.
// Method: ask SQLite for the series query's plan on a migrated file; then fill a small ledger
// (versions, off-grid starts, a register read, other meters) and compare with a plain reference.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { removeTempDirs, tempDir } from '../../test-support/temp.js';
import { STREAM_SERIES_SQL } from './sqlite-discrepancies.js';
import { openSqliteStore } from './sqlite-store.js';

afterAll(removeTempDirs);

const INTERVAL_MS = 900_000;
const START_MS = Date.UTC(2026, 8, 1);

interface Row {
  meterId: string;
  startMs: number;
  version: number;
  seconds: number;
  value: number;
}

function ledgerRows(): Row[] {
  const rows: Row[] = [];
  for (const meterId of ['MTR-AAAAAAAA', 'MTR-BBBBBBBB', 'MTR-CCCCCCCC']) {
    for (let n = 0; n < 200; n++) {
      const startMs = START_MS + n * INTERVAL_MS;
      rows.push({ meterId, startMs, version: 1, seconds: 900, value: n * 10 + meterId.length });
      if (n % 7 === 3) rows.push({ meterId, startMs, version: 2, seconds: 900, value: n + 5 });
    }
    // Off the grid, and a register read on it: neither belongs to the interval series.
    rows.push({ meterId, startMs: START_MS + 60_000, version: 1, seconds: 900, value: 1 });
    rows.push({ meterId, startMs: START_MS + INTERVAL_MS, version: 3, seconds: 0, value: 2 });
  }
  return rows;
}

function fill(path: string, rows: readonly Row[]): void {
  const db = new Database(path);
  const insert = db.prepare(
    `INSERT INTO ledger (interval_start_ms, meter_id, channel, version, seq, interval_seconds,
       value_micro, status_code, quality, checksum_sha256, idempotency_key, supersedes_key,
       batch_id, batch_position)
     VALUES (?, ?, '1', ?, ?, ?, ?, 0, ?, NULL, ?, NULL, 0, 0)`,
  );
  db.transaction(() => {
    rows.forEach((row, index) =>
      insert.run(
        row.startMs,
        row.meterId,
        row.version,
        index,
        row.seconds,
        row.value,
        row.version > 1 ? 'estimated' : 'actual',
        `key-${index}`,
      ),
    );
  })();
  db.close();
}

describe('the SQLite store reads a stream series', () => {
  it('from one range of the covering ledger_by_meter index, never visiting the table', () => {
    const path = join(tempDir(), 'plan.db');
    openSqliteStore(path, { nowMs: () => 0 }).close();
    const db = new Database(path, { readonly: true });
    const plan = db
      .prepare(`EXPLAIN QUERY PLAN ${STREAM_SERIES_SQL}`)
      .all('MTR-AAAAAAAA', '1', 0, 1, 0, 1, 1) as { detail: string }[];
    db.close();
    expect(plan.map((step) => step.detail)).toEqual([
      'SEARCH ledger USING COVERING INDEX ledger_by_meter ' +
        '(meter_id=? AND interval_start_ms>? AND interval_start_ms<?)',
    ]);
  });

  it('returns the highest version of each grid start of the stream, oldest first', async () => {
    const path = join(tempDir(), 'series.db');
    openSqliteStore(path, { nowMs: () => 0 }).close();
    const rows = ledgerRows();
    fill(path, rows);
    const store = openSqliteStore(path, { nowMs: () => 0 });
    try {
      const query = {
        meterId: 'MTR-BBBBBBBB',
        channel: '1',
        fromMs: START_MS,
        toMs: START_MS + 150 * INTERVAL_MS,
        intervalMs: INTERVAL_MS,
        limit: 120,
      };
      const current = new Map<number, Row>();
      for (const row of rows) {
        const onGrid = (row.startMs - query.fromMs) % query.intervalMs === 0;
        if (row.meterId !== query.meterId || row.seconds === 0 || !onGrid) continue;
        if (row.startMs < query.fromMs || row.startMs >= query.toMs) continue;
        if ((current.get(row.startMs)?.version ?? 0) < row.version) current.set(row.startMs, row);
      }
      const expected = [...current.values()]
        .sort((a, b) => a.startMs - b.startMs)
        .slice(0, query.limit)
        .map((row) => ({
          intervalStartMs: row.startMs,
          valueMicro: row.value,
          quality: row.version > 1 ? 'estimated' : 'actual',
        }));
      const series = await store.streamSeries(query);
      expect(series).toHaveLength(query.limit);
      expect(series).toEqual(expected);
      // The grid ends where the stream does: the last 10 intervals, whatever the window's end.
      const later = await store.streamSeries({
        ...query,
        fromMs: START_MS + 190 * INTERVAL_MS,
        toMs: START_MS + 400 * INTERVAL_MS,
      });
      expect(later.map((point) => point.intervalStartMs)).toEqual(
        Array.from({ length: 10 }, (_, n) => START_MS + (190 + n) * INTERVAL_MS),
      );
    } finally {
      await store.close();
    }
  });
});
