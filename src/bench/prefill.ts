/**
 * The documented shortcut of the benches for a large ledger: rows generated in SQL straight into
 * the ledger table (no parsing, validation, audit entries or raw bytes), far faster than ingesting
 * them. The ledger's append-only triggers are dropped for the fill and put back exactly as the
 * migration defines them. The rows are well-formed current readings (version 1, actual quality) of
 * the given meters on the 15-minute grid, ending just before `beforeMs`; `audit verify` does not
 * cover them (they have no batch), so a prefilled database is for measuring reads and writes only.
 */
import Database from 'better-sqlite3';
import { MIGRATIONS } from '../store/sqlite/migrations.js';

const INTERVAL_MS = 900_000;

/** Fills the ledger (and stream state) with `rows` older readings of the same meters, in SQL. */
export function prefillLedger(
  path: string,
  rows: number,
  meterIds: readonly string[],
  beforeMs: number,
): void {
  if (rows === 0) return;
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  const intervals = Math.ceil(rows / meterIds.length);
  const firstMs = beforeMs - intervals * INTERVAL_MS;
  db.exec('CREATE TEMP TABLE bench_meters (meter_id TEXT)');
  const insert = db.prepare('INSERT INTO bench_meters VALUES (?)');
  for (const id of meterIds) insert.run(id);
  db.exec(`DROP TRIGGER IF EXISTS ledger_no_update; DROP TRIGGER IF EXISTS ledger_no_delete;`);
  const step = 1_000;
  for (let at = 0; at < intervals; at += step) {
    const to = Math.min(intervals, at + step);
    db.exec(`
      WITH RECURSIVE i(n) AS (SELECT ${at} UNION ALL SELECT n + 1 FROM i WHERE n + 1 < ${to})
      INSERT INTO ledger (interval_start_ms, meter_id, channel, version, seq, interval_seconds,
        value_micro, status_code, quality, checksum_sha256, idempotency_key, supersedes_key,
        batch_id, batch_position)
      SELECT ${firstMs} + n * ${INTERVAL_MS}, meter_id, '1', 1, n + 1, 900, 250000, 0, 'actual', NULL,
        lower(hex(randomblob(32))), NULL, 0, 0
      FROM i CROSS JOIN bench_meters ORDER BY n, meter_id`);
    process.stderr.write(`\r  prefilled ${(to * meterIds.length).toLocaleString()} rows`);
  }
  process.stderr.write('\n');
  db.prepare(
    `INSERT INTO stream_state (meter_id, channel, last_interval_start_ms, last_seq, seq_gaps,
       seq_regressions, current_readings, current_value_micro)
     SELECT meter_id, '1', ?, 0, 0, 0, ?, ? FROM bench_meters`,
    // The generated feed numbers each meter's readings from 1: the prefilled history ends at 0, so
    // the measured readings continue the sequence instead of all being recorded as regressions.
  ).run(beforeMs - INTERVAL_MS, intervals, intervals * 250000);
  // The triggers come back exactly as the migration defines them.
  const sql = MIGRATIONS[0]?.sql ?? '';
  const triggers = sql.match(/CREATE TRIGGER ledger_no_\w+[\s\S]*?END;/g) ?? [];
  for (const trigger of triggers) db.exec(trigger);
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}
