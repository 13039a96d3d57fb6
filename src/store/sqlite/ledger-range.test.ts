// Goal: a meter's current rows in a range (the meter page's readings, `GET /api/ledger`) are chosen
// from the covering ledger_by_meter index and read from the table by rowid only, and are still
// exactly the highest version of each interval, in order, paged without loss or repeat.
// Method: ask SQLite for the plan of each form of the query; then fill a small ledger (versions,
// two channels, a register read, other meters) and compare every page with a plain reference.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import type { LedgerCursor } from '../../core/store.js';
import { removeTempDirs, tempDir } from '../../test-support/temp.js';
import { ledgerRangeSql } from './sqlite-ledger-reads.js';
import { openSqliteStore } from './sqlite-store.js';

afterAll(removeTempDirs);

const INTERVAL_MS = 900_000;
const START_MS = Date.UTC(2026, 8, 1);
const METER = 'MTR-BBBBBBBB';

interface Row {
  meterId: string;
  channel: string;
  startMs: number;
  version: number;
  seconds: number;
  value: number;
  key: string;
}

function ledgerRows(): Row[] {
  const rows: Row[] = [];
  for (const meterId of ['MTR-AAAAAAAA', METER, 'MTR-CCCCCCCC']) {
    for (const channel of ['1', '2']) {
      for (let n = 0; n < 120; n++) {
        const startMs = START_MS + n * INTERVAL_MS;
        const row = { meterId, channel, startMs, seconds: 900, key: '' };
        rows.push({ ...row, version: 1, value: n * 10 + Number(channel) });
        if (n % 7 === 3) rows.push({ ...row, version: 2, value: n + 5 });
        if (n % 21 === 3) rows.push({ ...row, version: 3, value: n + 9 });
      }
    }
    // A register read between two interval starts belongs to the range as any row does.
    rows.push({
      meterId,
      channel: '1',
      startMs: START_MS + 60_000,
      version: 1,
      seconds: 0,
      value: 7,
      key: '',
    });
  }
  return rows.map((row, index) => ({ ...row, key: `key-${index}` }));
}

function fill(path: string, rows: readonly Row[]): void {
  const db = new Database(path);
  const insert = db.prepare(
    `INSERT INTO ledger (interval_start_ms, meter_id, channel, version, seq, interval_seconds,
       value_micro, status_code, quality, checksum_sha256, idempotency_key, supersedes_key,
       batch_id, batch_position)
     VALUES (?, ?, ?, ?, ?, ?, ?, 0, 'actual', NULL, ?, NULL, 0, 0)`,
  );
  // Inserted newest version first, so that rowid order is not version order.
  db.transaction(() => {
    [...rows]
      .reverse()
      .forEach((row, index) =>
        insert.run(
          row.startMs,
          row.meterId,
          row.channel,
          row.version,
          index,
          row.seconds,
          row.value,
          row.key,
        ),
      );
  })();
  db.close();
}

function reference(rows: readonly Row[], fromMs: number, toMs: number, channel?: string) {
  const current = new Map<string, Row>();
  for (const row of rows) {
    if (row.meterId !== METER || row.startMs < fromMs || row.startMs >= toMs) continue;
    if (channel !== undefined && row.channel !== channel) continue;
    const id = `${row.startMs}|${row.channel}`;
    if ((current.get(id)?.version ?? 0) < row.version) current.set(id, row);
  }
  return [...current.values()]
    .sort((a, b) => a.startMs - b.startMs || (a.channel < b.channel ? -1 : 1))
    .map((row) => ({
      intervalStartMs: row.startMs,
      channel: row.channel,
      version: row.version,
      valueMicro: row.value,
      idempotencyKey: row.key,
    }));
}

describe('the SQLite store reads a meter range of current rows', () => {
  it('from one range of the covering ledger_by_meter index, then the table by rowid', () => {
    const path = join(tempDir(), 'plan.db');
    openSqliteStore(path, { nowMs: () => 0 }).close();
    const db = new Database(path, { readonly: true });
    const after: LedgerCursor = { intervalStartMs: 0, channel: '1' };
    for (const query of [{}, { channel: '1' }, { after }, { channel: '1', after }]) {
      const sql = ledgerRangeSql(query);
      const params = Array.from({ length: sql.split('?').length - 1 }, () => 1);
      const plan = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[];
      expect(plan.map((step) => step.detail)).toEqual([
        'CO-ROUTINE c',
        'SEARCH ledger USING COVERING INDEX ledger_by_meter ' +
          '(meter_id=? AND interval_start_ms>? AND interval_start_ms<?)',
        'SCAN c',
        'SEARCH l USING INTEGER PRIMARY KEY (rowid=?)',
        'SEARCH b USING INTEGER PRIMARY KEY (rowid=?) LEFT-JOIN',
      ]);
    }
    db.close();
  });

  it('returns the highest version of each interval in order, and pages without loss', async () => {
    const path = join(tempDir(), 'range.db');
    openSqliteStore(path, { nowMs: () => 0 }).close();
    const rows = ledgerRows();
    fill(path, rows);
    const store = openSqliteStore(path, { nowMs: () => 0 });
    try {
      const fromMs = START_MS + 2 * INTERVAL_MS;
      const toMs = START_MS + 100 * INTERVAL_MS;
      for (const channel of [undefined, '2']) {
        const expected = reference(rows, START_MS, toMs, channel);
        const pages: unknown[] = [];
        let after: LedgerCursor | undefined;
        for (let page = 0; page < 100; page++) {
          const got = await store.listLedgerRange({
            meterId: METER,
            fromMs: START_MS,
            toMs,
            limit: 17,
            ...(channel === undefined ? {} : { channel }),
            ...(after === undefined ? {} : { after }),
          });
          pages.push(...got);
          const last = got.at(-1);
          if (got.length < 17 || last === undefined) break;
          after = { intervalStartMs: last.intervalStartMs, channel: last.channel };
        }
        expect(pages).toEqual(expected.map((row) => expect.objectContaining(row)));
        expect(expected.some((row) => row.version === 3)).toBe(true);
        const window = await store.listLedgerRange({ meterId: METER, fromMs, toMs, limit: 10 });
        expect(window).toEqual(
          reference(rows, fromMs, toMs)
            .slice(0, 10)
            .map((row) => expect.objectContaining(row)),
        );
      }
    } finally {
      await store.close();
    }
  });
});
