/**
 * Operator decisions and operator-owned records in the PostgreSQL store: anomaly holds, dead
 * letters, emergency controls, circuit breaker states, push vendors and API tokens. The same role
 * as the SQLite store's sqlite-anomalies, -dead-letters, -controls, -breakers, -vendors and -tokens
 * files. A decision is one conditional UPDATE whose row count says whether it won.
 */
import { AmisyncError } from '../../core/errors.js';
import {
  API_ROLES,
  type AnomalyBacklog,
  type AnomalyDecision,
  type AnomalyFilter,
  type AnomalyInsert,
  type AnomalyRow,
  type AnomalyStatus,
  type ApiRole,
  type ApiTokenInsert,
  type ApiTokenRow,
  type BreakerStateRow,
  type ControlInsert,
  type ControlRow,
  type DeadLetterAttempt,
  type DeadLetterDecision,
  type DeadLetterFilter,
  type DeadLetterInsert,
  type DeadLetterRow,
  type DeadLetterStatus,
  type VendorInsert,
  type VendorRow,
} from '../../core/store.js';
import {
  big,
  flag,
  int,
  intOrNull,
  json,
  text,
  textOrNull,
  type PgRow,
} from './postgres-codecs.js';

import { all as rows, type Queryable } from './postgres-query.js';

/** What the role files need of a connection: a pool or a client in a transaction. */
export type { Queryable };

/** One operator decision on one row: what it sets, on which row, while which state still holds. */
interface Decision {
  table: string;
  /** Columns set, by name; values are bound, never spliced. */
  set: Readonly<Record<string, unknown>>;
  /** The row's key column and value. */
  key: readonly [column: string, value: unknown];
  /** The condition (fixed SQL) under which the row is still undecided. */
  stillOpen: string;
}

/**
 * Applies a decision as one conditional UPDATE; whether it won: false when the row is missing or
 * another decision came first (two operators, two connections: the row lock orders them).
 */
async function decideOnce(db: Queryable, decision: Decision): Promise<boolean> {
  const entries = Object.entries(decision.set);
  const assignments = entries.map(([column], at) => `${column} = $${at + 1}`);
  const [keyColumn, keyValue] = decision.key;
  const result = await db.query(
    `UPDATE ${decision.table} SET ${assignments.join(', ')}
     WHERE ${keyColumn} = $${entries.length + 1} AND ${decision.stillOpen}`,
    [...entries.map(([, value]) => value), keyValue],
  );
  return result.rowCount === 1;
}

// Anomaly holds.

const ANOMALY_SELECT = `SELECT a.*, b.delivery_id, b.source_id, b.committed_at_ms
  FROM anomalies a JOIN batches b ON b.id = a.batch_id`;

const KWH_VALUE = `CASE WHEN coalesce(a.reading ->> 'unit', 'kWh') = 'kWh'
  THEN (a.reading ->> 'valueMicro')::bigint ELSE 0 END`;

function anomalyFrom(row: PgRow): AnomalyRow {
  const status = text(row.status, 'status') as AnomalyStatus;
  return {
    id: int(row.id, 'id'),
    batchId: int(row.batch_id, 'batch_id'),
    batchPosition: int(row.batch_position, 'batch_position'),
    reading: json<AnomalyInsert['reading']>(row.reading, 'reading'),
    findings: json<AnomalyInsert['findings']>(row.findings, 'findings'),
    status,
    deliveryId: text(row.delivery_id, 'delivery_id'),
    sourceId: text(row.source_id, 'source_id'),
    heldAtMs: int(row.committed_at_ms, 'committed_at_ms'),
    decision:
      status === 'held'
        ? null
        : {
            status,
            actor: textOrNull(row.actor) ?? '',
            note: textOrNull(row.note) ?? '',
            atMs: intOrNull(row.decided_at_ms) ?? 0,
            resolvedBatchId: intOrNull(row.resolved_batch_id),
          },
  };
}

export async function selectAnomaly(db: Queryable, id: number): Promise<AnomalyRow | null> {
  const found = await rows(db, `${ANOMALY_SELECT} WHERE a.id = $1`, [id]);
  return found[0] === undefined ? null : anomalyFrom(found[0]);
}

export async function selectAnomalies(db: Queryable, filter: AnomalyFilter): Promise<AnomalyRow[]> {
  const params: unknown[] = [filter.afterId ?? 0];
  const clauses: string[] = ['a.id > $1'];
  const add = (clause: string, value: unknown): void => {
    params.push(value);
    clauses.push(clause.replace('?', `$${params.length}`));
  };
  if (filter.status !== undefined) add('a.status = ?', filter.status);
  if (filter.meterId !== undefined) add("a.reading ->> 'meterId' = ?", filter.meterId);
  if (filter.detector !== undefined) {
    add(
      "EXISTS (SELECT 1 FROM json_array_elements(a.findings) f WHERE f ->> 'detector' = ?)",
      filter.detector,
    );
  }
  if (filter.fromMs !== undefined) {
    add("(a.reading ->> 'intervalStartMs')::bigint >= ?", filter.fromMs);
  }
  if (filter.toMs !== undefined) add("(a.reading ->> 'intervalStartMs')::bigint < ?", filter.toMs);
  params.push(filter.limit);
  const sql = `${ANOMALY_SELECT} WHERE ${clauses.join(' AND ')} ORDER BY a.id
    LIMIT $${params.length}`;
  return (await rows(db, sql, params)).map(anomalyFrom);
}

export async function updateAnomalyDecision(
  db: Queryable,
  id: number,
  decision: AnomalyDecision,
): Promise<boolean> {
  return decideOnce(db, {
    table: 'anomalies',
    set: {
      status: decision.status,
      actor: decision.actor,
      note: decision.note,
      decided_at_ms: decision.atMs,
      resolved_batch_id: decision.resolvedBatchId,
    },
    key: ['id', id],
    stillOpen: "status = 'held'",
  });
}

export async function selectAnomalyBacklog(db: Queryable): Promise<AnomalyBacklog> {
  const backlog: AnomalyBacklog = {
    held: 0,
    heldEnergyMilliWh: 0n,
    released: 0,
    rejected: 0,
    byDetector: [],
  };
  for (const row of await rows(
    db,
    `SELECT a.status, count(*) AS n, coalesce(sum(${KWH_VALUE}), 0) AS energy
     FROM anomalies a GROUP BY a.status`,
  )) {
    const status = text(row.status, 'status');
    if (status === 'held') {
      backlog.held = int(row.n, 'n');
      backlog.heldEnergyMilliWh = big(row.energy, 'energy');
    } else if (status === 'released') backlog.released = int(row.n, 'n');
    else if (status === 'rejected') backlog.rejected = int(row.n, 'n');
  }
  for (const row of await rows(
    db,
    `SELECT d.detector, count(*) AS n, coalesce(sum(d.energy), 0) AS energy FROM (
       SELECT DISTINCT a.id, f ->> 'detector' AS detector, ${KWH_VALUE} AS energy
       FROM anomalies a, json_array_elements(a.findings) f WHERE a.status = 'held') d
     GROUP BY d.detector ORDER BY d.detector`,
  )) {
    backlog.byDetector.push({
      detector: text(row.detector, 'detector'),
      held: int(row.n, 'n'),
      heldEnergyMilliWh: big(row.energy, 'energy'),
    });
  }
  return backlog;
}

// Dead letters.

function deadLetterFrom(row: PgRow): DeadLetterRow {
  const status = text(row.status, 'status') as DeadLetterStatus;
  const request = textOrNull(row.request, 'request');
  return {
    id: int(row.id, 'id'),
    sourceId: text(row.source_id, 'source_id'),
    deliveryId: text(row.delivery_id, 'delivery_id'),
    transportId: textOrNull(row.transport_id, 'transport_id'),
    name: text(row.name, 'name'),
    format: text(row.format, 'format'),
    formatContext: json<Record<string, unknown>>(row.format_context, 'format_context'),
    rawSha256: textOrNull(row.raw_sha256, 'raw_sha256'),
    sizeBytes: intOrNull(row.size_bytes, 'size_bytes'),
    bytesComplete: flag(row.bytes_complete, 'bytes_complete'),
    request: request === null ? null : json<Record<string, unknown>>(request),
    attempts: json<DeadLetterAttempt[]>(row.attempts, 'attempts'),
    cause: text(row.cause, 'cause'),
    createdAtMs: int(row.created_at_ms, 'created_at_ms'),
    auditSeq: int(row.audit_seq, 'audit_seq'),
    status,
    decision:
      status === 'open'
        ? null
        : {
            status,
            actor: textOrNull(row.actor) ?? '',
            justification: textOrNull(row.justification) ?? '',
            atMs: intOrNull(row.decided_at_ms) ?? 0,
            resolvedDeliveryId: textOrNull(row.resolved_delivery_id),
            auditSeq: intOrNull(row.decision_audit_seq) ?? 0,
          },
  };
}

export async function insertDeadLetterRow(db: Queryable, row: DeadLetterInsert): Promise<number> {
  const inserted = await rows(
    db,
    `INSERT INTO dead_letters (source_id, delivery_id, transport_id, name, format, format_context,
       raw_sha256, size_bytes, bytes_complete, request, attempts, cause, created_at_ms, audit_seq)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id`,
    [
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
    ],
  );
  return int(inserted[0]?.id, 'id');
}

export async function selectDeadLetter(db: Queryable, id: number): Promise<DeadLetterRow | null> {
  const found = await rows(db, 'SELECT * FROM dead_letters WHERE id = $1', [id]);
  return found[0] === undefined ? null : deadLetterFrom(found[0]);
}

export async function selectDeadLetters(
  db: Queryable,
  filter: DeadLetterFilter,
): Promise<DeadLetterRow[]> {
  const params: unknown[] = [filter.afterId ?? 0];
  const clauses = ['id > $1'];
  if (filter.status !== undefined) {
    params.push(filter.status);
    clauses.push(`status = $${params.length}`);
  }
  if (filter.sourceId !== undefined) {
    params.push(filter.sourceId);
    clauses.push(`source_id = $${params.length}`);
  }
  params.push(filter.limit);
  const sql = `SELECT * FROM dead_letters WHERE ${clauses.join(' AND ')} ORDER BY id
    LIMIT $${params.length}`;
  return (await rows(db, sql, params)).map(deadLetterFrom);
}

export async function updateDeadLetterDecision(
  db: Queryable,
  id: number,
  decision: DeadLetterDecision,
): Promise<boolean> {
  return decideOnce(db, {
    table: 'dead_letters',
    set: {
      status: decision.status,
      actor: decision.actor,
      justification: decision.justification,
      decided_at_ms: decision.atMs,
      resolved_delivery_id: decision.resolvedDeliveryId,
      decision_audit_seq: decision.auditSeq,
    },
    key: ['id', id],
    stillOpen: "status = 'open'",
  });
}

export async function countDeadLetters(db: Queryable): Promise<Record<DeadLetterStatus, number>> {
  const counts: Record<DeadLetterStatus, number> = { open: 0, replayed: 0, discarded: 0 };
  for (const row of await rows(
    db,
    'SELECT status, count(*) AS n FROM dead_letters GROUP BY status',
  )) {
    counts[text(row.status, 'status') as DeadLetterStatus] = int(row.n, 'n');
  }
  return counts;
}

// Emergency controls.

const CONTROL_COLUMNS = 'id, source_id, paused, reason, actor, at_ms, audit_seq';

function controlFrom(row: PgRow): ControlRow {
  return {
    id: int(row.id, 'id'),
    sourceId: textOrNull(row.source_id, 'source_id'),
    paused: flag(row.paused, 'paused'),
    reason: text(row.reason, 'reason'),
    actor: text(row.actor, 'actor'),
    atMs: int(row.at_ms, 'at_ms'),
    auditSeq: int(row.audit_seq, 'audit_seq'),
  };
}

export async function insertControl(db: Queryable, control: ControlInsert): Promise<number> {
  const inserted = await rows(
    db,
    `INSERT INTO controls (source_id, paused, reason, actor, at_ms, audit_seq)
     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
    [
      control.sourceId,
      control.paused ? 1 : 0,
      control.reason,
      control.actor,
      control.atMs,
      control.auditSeq,
    ],
  );
  return int(inserted[0]?.id, 'id');
}

export async function selectControl(
  db: Queryable,
  sourceId: string | null,
): Promise<ControlRow | null> {
  const found = await rows(
    db,
    `SELECT ${CONTROL_COLUMNS} FROM controls WHERE source_id IS NOT DISTINCT FROM $1
     ORDER BY id DESC LIMIT 1`,
    [sourceId],
  );
  return found[0] === undefined ? null : controlFrom(found[0]);
}

export async function selectCurrentControls(db: Queryable): Promise<ControlRow[]> {
  return (
    await rows(
      db,
      `SELECT ${CONTROL_COLUMNS} FROM controls
       WHERE id IN (SELECT max(id) FROM controls GROUP BY source_id)
       ORDER BY source_id IS NOT NULL, id`,
    )
  ).map(controlFrom);
}

export async function selectControlHistory(db: Queryable): Promise<ControlRow[]> {
  return (await rows(db, `SELECT ${CONTROL_COLUMNS} FROM controls ORDER BY id`)).map(controlFrom);
}

// Circuit breakers.

const BREAKER_STATES: readonly BreakerStateRow['state'][] = ['closed', 'open', 'half-open'];

export async function upsertBreaker(db: Queryable, row: BreakerStateRow): Promise<void> {
  await db.query(
    `INSERT INTO breakers (endpoint, state, snapshot, changed_at_ms, audit_seq)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (endpoint) DO UPDATE SET state = excluded.state, snapshot = excluded.snapshot,
       changed_at_ms = excluded.changed_at_ms, audit_seq = excluded.audit_seq`,
    [row.endpoint, row.state, row.snapshot, row.changedAtMs, row.auditSeq],
  );
}

export async function selectBreakers(db: Queryable): Promise<BreakerStateRow[]> {
  const found = await rows(
    db,
    'SELECT endpoint, state, snapshot, changed_at_ms, audit_seq FROM breakers ORDER BY endpoint',
  );
  return found.map((row) => {
    const state = text(row.state, 'state') as BreakerStateRow['state'];
    if (!BREAKER_STATES.includes(state)) throw new Error(`breaker state ${state} is unknown`);
    return {
      endpoint: text(row.endpoint, 'endpoint'),
      state,
      snapshot: text(row.snapshot, 'snapshot'),
      changedAtMs: int(row.changed_at_ms, 'changed_at_ms'),
      auditSeq: intOrNull(row.audit_seq, 'audit_seq'),
    };
  });
}

// Push vendors.

const VENDOR_COLUMNS = `name, key_id, key_sha256, meters, meter_pattern, any_meter, created_at_ms,
  revoked_at_ms`;

function vendorFrom(row: PgRow): VendorRow {
  const meters = textOrNull(row.meters, 'meters');
  return {
    name: text(row.name, 'name'),
    keyId: text(row.key_id, 'key_id'),
    keySha256: text(row.key_sha256, 'key_sha256'),
    meters: meters === null ? null : json<string[]>(meters),
    meterPattern: textOrNull(row.meter_pattern, 'meter_pattern'),
    anyMeter: flag(row.any_meter, 'any_meter'),
    createdAtMs: int(row.created_at_ms, 'created_at_ms'),
    revokedAtMs: intOrNull(row.revoked_at_ms, 'revoked_at_ms'),
  };
}

export async function insertVendor(db: Queryable, vendor: VendorInsert): Promise<void> {
  const existing = await rows(db, 'SELECT name FROM vendors WHERE name = $1', [vendor.name]);
  if (existing.length > 0) {
    throw new AmisyncError('INVALID_STATE', `a vendor named ${vendor.name} exists already`, {
      vendor: vendor.name,
    });
  }
  await db.query(
    `INSERT INTO vendors (name, key_id, key_sha256, meters, meter_pattern, any_meter,
       created_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [
      vendor.name,
      vendor.keyId,
      vendor.keySha256,
      vendor.meters === null ? null : JSON.stringify(vendor.meters),
      vendor.meterPattern,
      vendor.anyMeter ? 1 : 0,
      vendor.createdAtMs,
    ],
  );
}

export async function selectVendors(db: Queryable): Promise<VendorRow[]> {
  return (await rows(db, `SELECT ${VENDOR_COLUMNS} FROM vendors ORDER BY name`)).map(vendorFrom);
}

export async function selectVendorBy(
  db: Queryable,
  column: 'key_id' | 'name',
  value: string,
): Promise<VendorRow | null> {
  const found = await rows(db, `SELECT ${VENDOR_COLUMNS} FROM vendors WHERE ${column} = $1`, [
    value,
  ]);
  return found[0] === undefined ? null : vendorFrom(found[0]);
}

export async function markVendorRevoked(
  db: Queryable,
  name: string,
  atMs: number,
): Promise<boolean> {
  return decideOnce(db, {
    table: 'vendors',
    set: { revoked_at_ms: atMs },
    key: ['name', name],
    stillOpen: 'revoked_at_ms IS NULL',
  });
}

// API tokens.

const TOKEN_COLUMNS = 'name, role, token_id, token_sha256, created_at_ms, revoked_at_ms';

function tokenFrom(row: PgRow): ApiTokenRow {
  const role = text(row.role, 'role') as ApiRole;
  if (!API_ROLES.includes(role)) throw new Error(`api token role ${role} is unknown`);
  return {
    name: text(row.name, 'name'),
    role,
    tokenId: text(row.token_id, 'token_id'),
    tokenSha256: text(row.token_sha256, 'token_sha256'),
    createdAtMs: int(row.created_at_ms, 'created_at_ms'),
    revokedAtMs: intOrNull(row.revoked_at_ms, 'revoked_at_ms'),
  };
}

export async function insertApiToken(db: Queryable, token: ApiTokenInsert): Promise<void> {
  const existing = await rows(db, 'SELECT name FROM api_tokens WHERE name = $1', [token.name]);
  if (existing.length > 0) {
    throw new AmisyncError('INVALID_STATE', `a token named ${token.name} exists already`, {
      name: token.name,
    });
  }
  await db.query(
    `INSERT INTO api_tokens (name, role, token_id, token_sha256, created_at_ms)
     VALUES ($1, $2, $3, $4, $5)`,
    [token.name, token.role, token.tokenId, token.tokenSha256, token.createdAtMs],
  );
}

export async function selectApiTokens(db: Queryable): Promise<ApiTokenRow[]> {
  return (await rows(db, `SELECT ${TOKEN_COLUMNS} FROM api_tokens ORDER BY name`)).map(tokenFrom);
}

export async function selectApiTokenById(
  db: Queryable,
  tokenId: string,
): Promise<ApiTokenRow | null> {
  const found = await rows(db, `SELECT ${TOKEN_COLUMNS} FROM api_tokens WHERE token_id = $1`, [
    tokenId,
  ]);
  return found[0] === undefined ? null : tokenFrom(found[0]);
}

export async function markApiTokenRevoked(
  db: Queryable,
  name: string,
  atMs: number,
): Promise<boolean> {
  return decideOnce(db, {
    table: 'api_tokens',
    set: { revoked_at_ms: atMs },
    key: ['name', name],
    stillOpen: 'revoked_at_ms IS NULL',
  });
}
