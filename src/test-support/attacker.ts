/**
 * What an attacker with write access to the SQLite file can do: open it with the driver directly
 * and drop the triggers that make the evidence tables append-only. Tests use it to prove that the
 * audit trail, not the triggers, is what catches tampering.
 */
import { copyFileSync } from 'node:fs';
import Database from 'better-sqlite3';

/** The append-only triggers of migrations.ts that the tamper tests rely on being able to drop. */
export const APPEND_ONLY_TRIGGERS = [
  'ledger_no_update',
  'ledger_no_delete',
  'batches_no_update',
  'batches_no_delete',
  'audit_log_no_update',
  'audit_log_no_delete',
  'checkpoints_no_update',
  'checkpoints_no_delete',
  'raw_chunks_no_update',
  'raw_chunks_no_delete',
  'quarantine_evidence_fixed',
  'quarantine_no_delete',
] as const;

/** Drops every trigger in the database (returning their names), as an attacker would. */
export function dropAllTriggers(db: Database.Database): string[] {
  const names = (
    db.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'").all() as { name: string }[]
  ).map((row) => row.name);
  for (const name of names) db.exec(`DROP TRIGGER "${name.replaceAll('"', '""')}"`);
  return names;
}

/**
 * Copies a closed database file to `path`, opens the copy directly, drops its triggers, runs
 * `tamper` and closes it again.
 */
export function tamperCopy(
  sourcePath: string,
  path: string,
  tamper: (db: Database.Database) => void,
): void {
  copyFileSync(sourcePath, path);
  tamperFile(path, tamper);
}

/** Opens a database file directly, drops its triggers, runs `tamper` and closes it. */
export function tamperFile(path: string, tamper: (db: Database.Database) => void): void {
  const db = new Database(path);
  try {
    dropAllTriggers(db);
    tamper(db);
  } finally {
    db.close();
  }
}
