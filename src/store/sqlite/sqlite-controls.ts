/**
 * Emergency controls in the SQLite store: pauses and resumes, global or of one source, appended
 * and never changed; the latest row of a scope is in force. Kept apart from the engine file so
 * that its role reads in one place.
 */
import type Database from 'better-sqlite3';
import type { ControlInsert, ControlRow } from '../../core/store.js';

type Row = Record<string, unknown>;
type Prepare = (sql: string) => Database.Statement;

const CONTROL_COLUMNS = 'id, source_id, paused, reason, actor, at_ms, audit_seq';

function controlFrom(row: Row): ControlRow {
  return {
    id: row.id as number,
    sourceId: (row.source_id as string | null) ?? null,
    paused: row.paused === 1,
    reason: row.reason as string,
    actor: row.actor as string,
    atMs: row.at_ms as number,
    auditSeq: row.audit_seq as number,
  };
}

export function insertControl(prepare: Prepare, control: ControlInsert): number {
  const result = prepare(
    `INSERT INTO controls (source_id, paused, reason, actor, at_ms, audit_seq)
     VALUES (?, ?, ?, ?, ?, ?)`,
  ).run(
    control.sourceId,
    control.paused ? 1 : 0,
    control.reason,
    control.actor,
    control.atMs,
    control.auditSeq,
  );
  return Number(result.lastInsertRowid);
}

/** The latest control of one scope; `IS` matches the global scope's NULL too. */
export function selectControl(prepare: Prepare, sourceId: string | null): ControlRow | null {
  const row = prepare(
    `SELECT ${CONTROL_COLUMNS} FROM controls WHERE source_id IS ? ORDER BY id DESC LIMIT 1`,
  ).get(sourceId) as Row | undefined;
  return row === undefined ? null : controlFrom(row);
}

export function selectCurrentControls(prepare: Prepare): ControlRow[] {
  const rows = prepare(
    `SELECT ${CONTROL_COLUMNS} FROM controls
     WHERE id IN (SELECT max(id) FROM controls GROUP BY source_id)
     ORDER BY source_id IS NOT NULL, id`,
  ).all() as Row[];
  return rows.map(controlFrom);
}

export function selectControlHistory(prepare: Prepare): ControlRow[] {
  return (prepare(`SELECT ${CONTROL_COLUMNS} FROM controls ORDER BY id`).all() as Row[]).map(
    controlFrom,
  );
}
