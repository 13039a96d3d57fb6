/**
 * Typed codecs from PostgreSQL rows to the Store contract's values. node-postgres returns int8 and
 * numeric as strings and bytea as Buffers; each column is decoded by a function that checks what
 * it got, so a schema mistake fails loudly at the row that shows it instead of flowing on as a
 * wrong type.
 */
import assert from 'node:assert/strict';
import type { Commodity, Quality, RecordLocation, Unit } from '../../core/reading.js';
import type { Violation } from '../../core/reject.js';
import type {
  AuditEntryRow,
  BatchCounts,
  BatchRow,
  CheckpointRow,
  DeliveryOwner,
  LedgerRow,
  QuarantineRepeatInsert,
  QuarantineRow,
  QuarantineStatus,
  StreamState,
} from '../../core/store.js';

export type PgRow = Record<string, unknown>;

/** An integer column (int2/int4 as numbers, int8 as strings) within the safe integer range. */
export function int(value: unknown, column = 'value'): number {
  const number = typeof value === 'string' ? Number(value) : value;
  assert.ok(
    typeof number === 'number' && Number.isSafeInteger(number),
    `${column} is not a safe integer: ${String(value)}`,
  );
  return number;
}

export function intOrNull(value: unknown, column = 'value'): number | null {
  return value === null || value === undefined ? null : int(value, column);
}

/** A sum that may pass 2^53 (energy in micro-units): decoded exactly. */
export function big(value: unknown, column = 'value'): bigint {
  if (value === null || value === undefined) return 0n;
  assert.ok(
    typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint',
    `${column} is not an integer: ${String(value)}`,
  );
  const text = String(value);
  assert.match(text, /^-?\d+$/, `${column} is not an integer: ${text}`);
  return BigInt(text);
}

export function text(value: unknown, column = 'value'): string {
  assert.equal(typeof value, 'string', `${column} is not text`);
  return value as string;
}

export function textOrNull(value: unknown, column = 'value'): string | null {
  return value === null || value === undefined ? null : text(value, column);
}

export function bytes(value: unknown, column = 'value'): Buffer {
  assert.ok(Buffer.isBuffer(value), `${column} is not bytea`);
  return value;
}

/** A 0/1 flag kept as smallint (the same values as the SQLite schema). */
export function flag(value: unknown, column = 'value'): boolean {
  return int(value, column) === 1;
}

/** A JSON column: json and jsonb arrive parsed, text columns holding JSON are parsed here. */
export function json<T>(value: unknown, column = 'value'): T {
  if (typeof value === 'string') return JSON.parse(value) as T;
  assert.ok(value !== undefined, `${column} is missing`);
  return value as T;
}

export function countsFrom(row: PgRow): BatchCounts {
  return {
    received: int(row.received, 'received'),
    accepted: int(row.accepted, 'accepted'),
    duplicates: int(row.duplicates, 'duplicates'),
    quarantined: int(row.quarantined, 'quarantined'),
    conflicts: int(row.conflicts, 'conflicts'),
    anomalyHeld: int(row.anomaly_held, 'anomaly_held'),
    deadLettered: int(row.dead_lettered, 'dead_lettered'),
    revisions: int(row.revisions, 'revisions'),
  };
}

export function ledgerFrom(row: PgRow): LedgerRow {
  return {
    meterId: text(row.meter_id, 'meter_id'),
    channel: text(row.channel, 'channel'),
    intervalStartMs: int(row.interval_start_ms, 'interval_start_ms'),
    intervalSeconds: int(row.interval_seconds, 'interval_seconds'),
    commodity: text(row.commodity, 'commodity') as Commodity,
    unit: text(row.unit, 'unit') as Unit,
    valueMicro: int(row.value_micro, 'value_micro'),
    statusCode: int(row.status_code, 'status_code'),
    seq: int(row.seq, 'seq'),
    quality: text(row.quality, 'quality') as Quality,
    qualityDetail: textOrNull(row.quality_detail, 'quality_detail'),
    checksumSha256: textOrNull(row.checksum_sha256, 'checksum_sha256'),
    idempotencyKey: text(row.idempotency_key, 'idempotency_key'),
    version: int(row.version, 'version'),
    supersedesKey: textOrNull(row.supersedes_key, 'supersedes_key'),
    batchId: int(row.batch_id, 'batch_id'),
    batchPosition: int(row.batch_position, 'batch_position'),
  };
}

export function streamFrom(row: PgRow): StreamState {
  return {
    meterId: text(row.meter_id, 'meter_id'),
    channel: text(row.channel, 'channel'),
    lastIntervalStartMs: intOrNull(row.last_interval_start_ms, 'last_interval_start_ms'),
    lastSeq: intOrNull(row.last_seq, 'last_seq'),
    seqGaps: int(row.seq_gaps, 'seq_gaps'),
    seqRegressions: int(row.seq_regressions, 'seq_regressions'),
    currentReadings: int(row.current_readings, 'current_readings'),
    currentValueMicro: int(row.current_value_micro, 'current_value_micro'),
    commodity: text(row.commodity, 'commodity') as Commodity,
    unit: text(row.unit, 'unit') as Unit,
  };
}

export function batchFrom(row: PgRow): BatchRow {
  return {
    id: int(row.id, 'id'),
    deliveryId: text(row.delivery_id, 'delivery_id'),
    sourceId: text(row.source_id, 'source_id'),
    kind: text(row.kind, 'kind') as BatchRow['kind'],
    counts: countsFrom(row),
    ledgerRoot: text(row.ledger_root, 'ledger_root'),
    quarantineRoot: text(row.quarantine_root, 'quarantine_root'),
    byteOffset: int(row.byte_offset, 'byte_offset'),
    byteLength: int(row.byte_length, 'byte_length'),
    committedAtMs: int(row.committed_at_ms, 'committed_at_ms'),
    auditSeq: int(row.audit_seq, 'audit_seq'),
  };
}

export function locationFrom(row: PgRow): RecordLocation {
  return {
    recordIndex: int(row.record_index, 'record_index'),
    line: int(row.line, 'line'),
    byteOffset: int(row.byte_offset, 'byte_offset'),
    byteLength: int(row.byte_length, 'byte_length'),
  };
}

export function quarantineFrom(row: PgRow): QuarantineRow {
  return {
    id: int(row.id, 'id'),
    repeats: int(row.repeats ?? 0, 'repeats'),
    deliveryId: text(row.delivery_id, 'delivery_id'),
    batchId: int(row.batch_id, 'batch_id'),
    batchPosition: int(row.batch_position, 'batch_position'),
    location: locationFrom(row),
    violations: json<Violation[]>(row.violations, 'violations'),
    currentViolations: json<Violation[]>(row.current_violations, 'current_violations'),
    meterId: textOrNull(row.meter_id, 'meter_id'),
    idempotencyKey: textOrNull(row.idempotency_key, 'idempotency_key'),
    relatedIdempotencyKey: textOrNull(row.related_idempotency_key, 'related_idempotency_key'),
    uncountedSpan: flag(row.uncounted_span, 'uncounted_span'),
    rawSha256: text(row.raw_sha256, 'raw_sha256'),
    format: text(row.format, 'format'),
    status: text(row.status, 'status') as QuarantineStatus,
    createdAtMs: int(row.created_at_ms, 'created_at_ms'),
    resolvedBatchId: intOrNull(row.resolved_batch_id, 'resolved_batch_id'),
  };
}

export function repeatFrom(row: PgRow): QuarantineRepeatInsert {
  return {
    quarantineId: int(row.quarantine_id, 'quarantine_id'),
    deliveryId: text(row.delivery_id, 'delivery_id'),
    batchId: int(row.batch_id, 'batch_id'),
    batchPosition: int(row.batch_position, 'batch_position'),
    location: locationFrom(row),
    rawSha256: text(row.raw_sha256, 'raw_sha256'),
    atMs: int(row.created_at_ms, 'created_at_ms'),
  };
}

export function ownerFrom(row: PgRow): DeliveryOwner | null {
  if (row.owner_host === null || row.owner_pid === null) return null;
  return {
    host: text(row.owner_host, 'owner_host'),
    pid: int(row.owner_pid, 'owner_pid'),
    processStartedAtMs: int(row.owner_started_at_ms, 'owner_started_at_ms'),
  };
}

export function auditFrom(row: PgRow): AuditEntryRow {
  return {
    seq: int(row.seq, 'seq'),
    atMs: int(row.at_ms, 'at_ms'),
    kind: text(row.kind, 'kind'),
    payload: text(row.payload, 'payload'),
    prevHash: text(row.prev_hash, 'prev_hash'),
    hash: text(row.hash, 'hash'),
  };
}

export function checkpointFrom(row: PgRow): CheckpointRow {
  return {
    auditSeq: int(row.audit_seq, 'audit_seq'),
    headHash: text(row.head_hash, 'head_hash'),
    atMs: int(row.at_ms, 'at_ms'),
    keyFingerprint: text(row.key_fingerprint, 'key_fingerprint'),
    signature: text(row.signature, 'signature'),
  };
}
