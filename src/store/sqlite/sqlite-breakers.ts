/**
 * Circuit breaker states in the SQLite store: one row per endpoint, replaced at each transition
 * (the audit chain keeps every transition). Kept apart from the engine file so its role reads in
 * one place.
 */
import type Database from 'better-sqlite3';
import type { BreakerStateRow } from '../../core/store.js';

type Row = Record<string, unknown>;
type Prepare = (sql: string) => Database.Statement;

const STATES: readonly BreakerStateRow['state'][] = ['closed', 'open', 'half-open'];

function breakerFrom(row: Row): BreakerStateRow {
  const state = row.state as BreakerStateRow['state'];
  if (!STATES.includes(state)) throw new Error(`breaker state ${String(row.state)} is unknown`);
  return {
    endpoint: row.endpoint as string,
    state,
    snapshot: row.snapshot as string,
    changedAtMs: row.changed_at_ms as number,
    auditSeq: (row.audit_seq as number | null) ?? null,
  };
}

export function upsertBreaker(prepare: Prepare, row: BreakerStateRow): void {
  prepare(
    `INSERT INTO breakers (endpoint, state, snapshot, changed_at_ms, audit_seq)
     VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (endpoint) DO UPDATE SET state = excluded.state, snapshot = excluded.snapshot,
       changed_at_ms = excluded.changed_at_ms, audit_seq = excluded.audit_seq`,
  ).run(row.endpoint, row.state, row.snapshot, row.changedAtMs, row.auditSeq);
}

export function selectBreakers(prepare: Prepare): BreakerStateRow[] {
  // A read-only view of a database from before migration 10 has no breakers yet.
  const table = prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'breakers'");
  if (table.get() === undefined) return [];
  const rows = prepare(
    'SELECT endpoint, state, snapshot, changed_at_ms, audit_seq FROM breakers ORDER BY endpoint',
  ).all() as Row[];
  return rows.map(breakerFrom);
}
