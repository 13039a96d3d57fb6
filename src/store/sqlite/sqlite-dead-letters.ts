/**
 * The dead-letter queue in the SQLite store: a dead letter written once, listed and shown for an
 * operator, counted by status, and its decision recorded once. Kept apart from the engine file so
 * that its role reads in one place.
 */
import type Database from 'better-sqlite3';
import type {
  DeadLetterAttempt,
  DeadLetterDecision,
  DeadLetterFilter,
  DeadLetterInsert,
  DeadLetterRow,
  DeadLetterStatus,
} from '../../core/store.js';

type Row = Record<string, unknown>;
type Prepare = (sql: string) => Database.Statement;

function decisionFrom(row: Row, status: DeadLetterStatus): DeadLetterDecision | null {
  if (status === 'open') return null;
  return {
    status,
    actor: (row.actor as string | null) ?? '',
    justification: (row.justification as string | null) ?? '',
    atMs: (row.decided_at_ms as number | null) ?? 0,
    resolvedDeliveryId: (row.resolved_delivery_id as string | null) ?? null,
    auditSeq: (row.decision_audit_seq as number | null) ?? 0,
  };
}

function deadLetterFrom(row: Row): DeadLetterRow {
  const status = row.status as DeadLetterStatus;
  const request = row.request as string | null;
  return {
    id: row.id as number,
    sourceId: row.source_id as string,
    deliveryId: row.delivery_id as string,
    transportId: (row.transport_id as string | null) ?? null,
    name: row.name as string,
    format: row.format as string,
    formatContext: JSON.parse(row.format_context as string) as Record<string, unknown>,
    rawSha256: (row.raw_sha256 as string | null) ?? null,
    sizeBytes: (row.size_bytes as number | null) ?? null,
    bytesComplete: row.bytes_complete === 1,
    request: request === null ? null : (JSON.parse(request) as Record<string, unknown>),
    attempts: JSON.parse(row.attempts as string) as DeadLetterAttempt[],
    cause: row.cause as string,
    createdAtMs: row.created_at_ms as number,
    auditSeq: row.audit_seq as number,
    status,
    decision: decisionFrom(row, status),
  };
}

export function insertDeadLetterRow(prepare: Prepare, row: DeadLetterInsert): number {
  const result = prepare(
    `INSERT INTO dead_letters (source_id, delivery_id, transport_id, name, format, format_context,
       raw_sha256, size_bytes, bytes_complete, request, attempts, cause, created_at_ms, audit_seq)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    row.sourceId,
    row.deliveryId,
    row.transportId,
    row.name,
    row.format,
    JSON.stringify(row.formatContext),
    row.rawSha256,
    row.sizeBytes,
    row.bytesComplete ? 1 : 0,
    row.request === null ? null : JSON.stringify(row.request),
    JSON.stringify(row.attempts),
    row.cause,
    row.createdAtMs,
    row.auditSeq,
  );
  return Number(result.lastInsertRowid);
}

export function selectDeadLetter(prepare: Prepare, id: number): DeadLetterRow | null {
  const row = prepare('SELECT * FROM dead_letters WHERE id = ?').get(id) as Row | undefined;
  return row === undefined ? null : deadLetterFrom(row);
}

export function selectDeadLetters(prepare: Prepare, filter: DeadLetterFilter): DeadLetterRow[] {
  const clauses: string[] = ['id > ?'];
  const params: unknown[] = [filter.afterId ?? 0];
  if (filter.status !== undefined) {
    clauses.push('status = ?');
    params.push(filter.status);
  }
  if (filter.sourceId !== undefined) {
    clauses.push('source_id = ?');
    params.push(filter.sourceId);
  }
  params.push(filter.limit);
  const sql = `SELECT * FROM dead_letters WHERE ${clauses.join(' AND ')} ORDER BY id LIMIT ?`;
  return (prepare(sql).all(...params) as Row[]).map(deadLetterFrom);
}

/** Records a decision on a dead letter still open; false when it is not (decided, or missing). */
export function updateDeadLetterDecision(
  prepare: Prepare,
  id: number,
  decision: DeadLetterDecision,
): boolean {
  const result = prepare(
    `UPDATE dead_letters SET status = ?, actor = ?, justification = ?, decided_at_ms = ?,
       resolved_delivery_id = ?, decision_audit_seq = ? WHERE id = ? AND status = 'open'`,
  ).run(
    decision.status,
    decision.actor,
    decision.justification,
    decision.atMs,
    decision.resolvedDeliveryId,
    decision.auditSeq,
    id,
  );
  return result.changes === 1;
}

export function countDeadLetters(prepare: Prepare): Record<DeadLetterStatus, number> {
  const counts: Record<DeadLetterStatus, number> = { open: 0, replayed: 0, discarded: 0 };
  const rows = prepare('SELECT status, count(*) AS n FROM dead_letters GROUP BY status').all();
  for (const row of rows as { status: DeadLetterStatus; n: number }[]) counts[row.status] = row.n;
  return counts;
}
