/**
 * The raw-insert ceiling the benches measure the pipeline against: the same rows inserted into a
 * copy of the migrated ledger, with nothing else done (no parsing, no audit), in transactions of
 * the same size. `npm run bench` and the broker bench take their ratios against it.
 */
import { closeSync, copyFileSync, existsSync, fsyncSync, openSync, rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { Reading } from '../core/reading.js';
import type { IdentifiedReading } from '../pipeline/identify.js';
import {
  LEDGER_COLUMN_COUNT,
  ledgerInsertSql,
  putReadingParams,
} from '../store/sqlite/sqlite-store.js';
import { inMeterOrder } from '../store/sqlite/sqlite-ledger-order.js';

/**
 * A fresh database for one measurement: a copy of the template (schema, and the prefilled ledger
 * when --ledger-rows is given), so every measurement starts from the same state.
 */
export function freshDatabase(template: string, path: string): void {
  copyFileSync(template, path);
  for (const suffix of ['-wal', '-shm']) {
    if (existsSync(path + suffix)) rmSync(path + suffix);
  }
  // Flush the copy now, or the kernel writes it back during the measurement and slows its fsyncs.
  const fd = openSync(path, 'r+');
  fsyncSync(fd);
  closeSync(fd);
}

/** Rows per statement: the ceiling's (the ledger's own, one row) and the reference's (32). */
export const CEILING_ROWS_PER_STATEMENT = 1;
export const REFERENCE_ROWS_PER_STATEMENT = 32;

/**
 * The ceiling: the same rows into a table with the ledger's columns and unique index, in
 * transactions of the same size; nothing else. With `rowsPerStatement` 1 it uses the ledger's own
 * INSERT, one row a statement with its parameters as arguments (the strongest raw insert measured
 * here, and the one the ratio is taken against); with 32, a multi-row INSERT, shown for reference.
 */
export function rawInsertCeiling(
  path: string,
  readings: readonly IdentifiedReading[][],
  rowsPerStatement: number,
): { readings: number; seconds: number } {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('cache_size = -65536');
  db.exec('DROP TRIGGER IF EXISTS ledger_no_update; DROP TRIGGER IF EXISTS ledger_no_delete;');
  const many = db.prepare(ledgerInsertSql(rowsPerStatement));
  const one = db.prepare(ledgerInsertSql(1));
  const columns = LEDGER_COLUMN_COUNT;
  const params: unknown[] = new Array(rowsPerStatement * columns);
  // The ledger's own parameter layout, so the ceiling inserts exactly the columns the ledger has,
  // with nothing allocated per row.
  const put = (at: number, reading: Reading, batchId: number, position: number): void => {
    putReadingParams(params, at, reading, 1, null, batchId, position);
  };
  let count = 0;
  const start = process.hrtime.bigint();
  for (const [batchIndex, inBatchOrder] of readings.entries()) {
    // In the order the store writes a batch's rows (inMeterOrder), with their batch positions.
    const batch = inMeterOrder(
      inBatchOrder.map((item, position) => ({ reading: item.reading, position })),
      (item) => item.reading.meterId,
    );
    db.transaction(() => {
      let at = 0;
      for (; at + rowsPerStatement <= batch.length; at += rowsPerStatement) {
        for (let k = 0; k < rowsPerStatement; k++) {
          const item = batch[at + k] as (typeof batch)[number];
          put(k * columns, item.reading, batchIndex + 1, item.position);
        }
        many.run(...params);
      }
      for (; at < batch.length; at++) {
        const item = batch[at] as (typeof batch)[number];
        put(0, item.reading, batchIndex + 1, item.position);
        one.run(...params.slice(0, columns));
      }
      count += batch.length;
    }).immediate();
  }
  const row = { readings: count, seconds: Number(process.hrtime.bigint() - start) / 1e9 };
  db.close();
  return row;
}
