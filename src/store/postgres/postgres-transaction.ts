/**
 * The batch transaction in PostgreSQL: the StoreTransaction a pipeline batch writes through, on one
 * pooled client between BEGIN and COMMIT. Multi-row writes pass one array per column (unnest), so
 * no statement nears the 65,535 bind-parameter cap whatever the batch size; ledger rows go through
 * COPY (postgres-ledger.ts).
 */
import type { PoolClient } from 'pg';
import { AmisyncError } from '../../core/errors.js';
import type { Reading } from '../../core/reading.js';
import type {
  DeliveryOwner,
  DeliveryRow,
  IntervalRef,
  LedgerRow,
  OpenQuarantineMatch,
  StoreTransaction,
  StreamRef,
  StreamState,
  StreamStatistics,
} from '../../core/store.js';
import {
  bytes,
  int,
  ledgerFrom,
  quarantineFrom,
  streamFrom,
  text,
  type PgRow,
} from './postgres-codecs.js';
import {
  insertControl,
  insertDeadLetterRow,
  selectAnomaly,
  selectControl,
  selectDeadLetter,
  updateAnomalyDecision,
  updateDeadLetterDecision,
  upsertBreaker,
  type Queryable,
} from './postgres-decisions.js';
import { copyLedgerRows, ensureLedgerPartitions } from './postgres-ledger.js';
import { nextBatchId, takeChainLock, type PartitionScope } from './postgres-partitions.js';
import { completeDelivery, DELIVERY_SELECT, deliveryFrom, putRawChunk } from './postgres-raw.js';
import { insertSlaAlert } from './postgres-reports.js';

export const QUARANTINE_SELECT = `SELECT q.*,
  (SELECT count(*) FROM quarantine_repeats r WHERE r.quarantine_id = q.id) AS repeats
  FROM quarantine q`;

/**
 * What a transaction shares with its store: the process as owner, ledger partitions known to
 * exist, and the worker partition it writes (null: the whole schema; postgres-partitions.ts).
 */
export interface TransactionContext {
  self: DeliveryOwner;
  knownPartitions: Set<string>;
  scope: PartitionScope | null;
}

async function all(db: Queryable, sql: string, params: unknown[] = []): Promise<PgRow[]> {
  return (await db.query(sql, params)).rows;
}

function column<T, V>(items: readonly T[], pick: (item: T) => V): V[] {
  return items.map(pick);
}

async function loadStreamStates(
  db: Queryable,
  streams: readonly StreamRef[],
): Promise<StreamState[]> {
  if (streams.length === 0) return [];
  const found = await all(
    db,
    `SELECT s.* FROM stream_state s
     JOIN unnest($1::text[], $2::text[]) AS k (meter_id, channel)
       ON s.meter_id = k.meter_id AND s.channel = k.channel`,
    [column(streams, (s) => s.meterId), column(streams, (s) => s.channel)],
  );
  return found.map(streamFrom);
}

async function saveStreamStates(db: Queryable, states: readonly StreamState[]): Promise<void> {
  if (states.length === 0) return;
  await db.query(
    `INSERT INTO stream_state (meter_id, channel, last_interval_start_ms, last_seq, seq_gaps,
       seq_regressions, current_readings, current_value_micro, commodity, unit)
     SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[],
       $6::bigint[], $7::bigint[], $8::bigint[], $9::text[], $10::text[])
     ON CONFLICT (meter_id, channel) DO UPDATE SET
       last_interval_start_ms = excluded.last_interval_start_ms, last_seq = excluded.last_seq,
       seq_gaps = excluded.seq_gaps, seq_regressions = excluded.seq_regressions,
       current_readings = excluded.current_readings,
       current_value_micro = excluded.current_value_micro`,
    [
      column(states, (s) => s.meterId),
      column(states, (s) => s.channel),
      column(states, (s) => s.lastIntervalStartMs),
      column(states, (s) => s.lastSeq),
      column(states, (s) => s.seqGaps),
      column(states, (s) => s.seqRegressions),
      column(states, (s) => s.currentReadings),
      column(states, (s) => s.currentValueMicro),
      column(states, (s) => s.commodity),
      column(states, (s) => s.unit),
    ],
  );
}

async function loadStreamStatistics(
  db: Queryable,
  streams: readonly StreamRef[],
  partNumbers: readonly number[],
): Promise<StreamStatistics[]> {
  if (streams.length === 0) return [];
  const keys = [column(streams, (s) => s.meterId), column(streams, (s) => s.channel)];
  const heads = await all(
    db,
    `SELECT s.meter_id, s.channel, s.layout, s.bytes FROM stream_statistics s
     JOIN unnest($1::text[], $2::text[]) AS k (meter_id, channel)
       ON s.meter_id = k.meter_id AND s.channel = k.channel`,
    keys,
  );
  const found = new Map<string, Map<number, Uint8Array>>();
  const rows: StreamStatistics[] = heads.map((row) => {
    const parts = new Map<number, Uint8Array>();
    found.set(`${text(row.meter_id)}|${text(row.channel)}`, parts);
    return {
      meterId: text(row.meter_id, 'meter_id'),
      channel: text(row.channel, 'channel'),
      layout: int(row.layout, 'layout'),
      bytes: bytes(row.bytes, 'bytes'),
      parts,
    };
  });
  if (found.size === 0 || partNumbers.length === 0) return rows;
  const parts = await all(
    db,
    `SELECT p.part, p.meter_id, p.channel, p.bytes FROM stream_statistics_parts p
     JOIN unnest($1::text[], $2::text[]) AS k (meter_id, channel)
       ON p.meter_id = k.meter_id AND p.channel = k.channel
     WHERE p.part = ANY($3::int[])`,
    [...keys, [...partNumbers]],
  );
  for (const row of parts) {
    found
      .get(`${text(row.meter_id)}|${text(row.channel)}`)
      ?.set(int(row.part, 'part'), bytes(row.bytes, 'bytes'));
  }
  return rows;
}

async function saveStreamStatistics(
  db: Queryable,
  rows: readonly StreamStatistics[],
): Promise<void> {
  if (rows.length === 0) return;
  await db.query(
    `INSERT INTO stream_statistics (meter_id, channel, layout, bytes)
     SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::bytea[])
     ON CONFLICT (meter_id, channel) DO UPDATE SET layout = excluded.layout, bytes = excluded.bytes`,
    [
      column(rows, (r) => r.meterId),
      column(rows, (r) => r.channel),
      column(rows, (r) => r.layout),
      column(rows, (r) => Buffer.from(r.bytes)),
    ],
  );
  const parts: [number, StreamStatistics, Uint8Array][] = [];
  for (const row of rows)
    for (const [number, part] of row.parts ?? []) parts.push([number, row, part]);
  if (parts.length === 0) return;
  parts.sort((left, right) => left[0] - right[0]);
  await db.query(
    `INSERT INTO stream_statistics_parts (part, meter_id, channel, bytes)
     SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::bytea[])
     ON CONFLICT (part, meter_id, channel) DO UPDATE SET bytes = excluded.bytes`,
    [
      column(parts, (p) => p[0]),
      column(parts, (p) => p[1].meterId),
      column(parts, (p) => p[1].channel),
      column(parts, (p) => Buffer.from(p[2])),
    ],
  );
}

async function findIntervalVersions(
  db: Queryable,
  intervals: readonly IntervalRef[],
): Promise<LedgerRow[]> {
  if (intervals.length === 0) return [];
  const found = await all(
    db,
    `SELECT l.* FROM ledger l
     JOIN unnest($1::bigint[], $2::text[], $3::text[]) AS k (interval_start_ms, meter_id, channel)
       ON l.interval_start_ms = k.interval_start_ms AND l.meter_id = k.meter_id
         AND l.channel = k.channel
     ORDER BY l.interval_start_ms, l.meter_id, l.channel, l.version`,
    [
      column(intervals, (i) => i.intervalStartMs),
      column(intervals, (i) => i.meterId),
      column(intervals, (i) => i.channel),
    ],
  );
  return found.map(ledgerFrom);
}

async function findHeldReadings(db: Queryable, keys: readonly string[]): Promise<Reading[]> {
  if (keys.length === 0) return [];
  const readings = new Map<string, Reading>();
  for (const row of await all(
    db,
    `SELECT reading FROM anomalies WHERE reading ->> 'idempotencyKey' = ANY($1::text[])
     ORDER BY id`,
    [[...keys]],
  )) {
    const reading = row.reading as Reading;
    if (!readings.has(reading.idempotencyKey)) readings.set(reading.idempotencyKey, reading);
  }
  return [...readings.values()];
}

async function insertLedgerRows(
  client: PoolClient,
  rows: readonly LedgerRow[],
  context: TransactionContext,
): Promise<void> {
  if (rows.length === 0) return;
  await ensureLedgerPartitions(client, rows, context.knownPartitions);
  const inserted = await copyLedgerRows(client, rows);
  if (inserted !== rows.length) {
    // Another writer committed a version of one of these intervals after this batch read them:
    // rolling back lets the source redeliver, and the batch decides again on what is stored.
    throw new AmisyncError(
      'STORE_UNAVAILABLE',
      `${rows.length - inserted} of ${rows.length} ledger rows were written by another transaction first`,
    );
  }
}

async function findOpenQuarantineByRaw(
  db: Queryable,
  rawSha256s: readonly string[],
): Promise<OpenQuarantineMatch[]> {
  if (rawSha256s.length === 0) return [];
  return (
    await all(
      db,
      `SELECT id, raw_sha256, violations, current_violations, delivery_id, byte_offset
       FROM quarantine WHERE raw_sha256 = ANY($1::text[]) AND status = 'open'
       ORDER BY raw_sha256, id`,
      [[...new Set(rawSha256s)]],
    )
  ).map((row) => ({
    id: int(row.id, 'id'),
    rawSha256: text(row.raw_sha256, 'raw_sha256'),
    violationsJson: text(row.violations, 'violations'),
    currentViolationsJson: text(row.current_violations, 'current_violations'),
    deliveryId: text(row.delivery_id, 'delivery_id'),
    byteOffset: int(row.byte_offset, 'byte_offset'),
  }));
}

async function findAbandonedDeliveries(db: Queryable, self: DeliveryOwner): Promise<DeliveryRow[]> {
  const found = await all(
    db,
    `${DELIVERY_SELECT} WHERE d.status = 'in-progress' AND i.delivery_id IS NULL
     ORDER BY d.started_at_ms, d.id`,
  );
  return found
    .map((row) => deliveryFrom(row, self))
    .filter((delivery) => delivery.status === 'interrupted');
}

/** The writes and in-transaction reads of one batch, on `client` inside BEGIN ... COMMIT. */
export function transactionApi(client: PoolClient, context: TransactionContext): StoreTransaction {
  const db: Queryable = client;
  return {
    allocateBatchId: async () => nextBatchId(db, context.scope),
    putRawChunk: async (deliveryId, byteOffset, chunk) =>
      putRawChunk(db, deliveryId, byteOffset, chunk),
    loadStreamStates: async (streams) => loadStreamStates(db, streams),
    saveStreamStates: async (states) => saveStreamStates(db, states),
    loadStreamStatistics: async (streams, parts) => loadStreamStatistics(db, streams, parts ?? []),
    saveStreamStatistics: async (rows) => saveStreamStatistics(db, rows),
    findIntervalVersions: async (intervals) => findIntervalVersions(db, intervals),
    findHeldReadings: async (keys) => findHeldReadings(db, keys),
    insertLedgerRows: async (rows) => insertLedgerRows(client, rows, context),
    insertQuarantineRows: async (rows, format, atMs) => {
      if (rows.length === 0) return [];
      const violations = rows.map((row) => JSON.stringify(row.violations));
      const inserted = await all(
        db,
        `INSERT INTO quarantine (delivery_id, batch_id, batch_position, record_index, line,
           byte_offset, byte_length, violations, first_code, meter_id, idempotency_key,
           related_idempotency_key, uncounted_span, raw_sha256, format, created_at_ms, status,
           current_violations)
         SELECT d, b, p, ri, ln, bo, bl, v, fc, m, k, rk, u, r, $15, $16, 'open', v
         FROM unnest($1::text[], $2::bigint[], $3::int[], $4::bigint[], $5::bigint[],
           $6::bigint[], $7::bigint[], $8::text[], $9::text[], $10::text[], $11::text[],
           $12::text[], $13::smallint[], $14::text[])
           WITH ORDINALITY AS t (d, b, p, ri, ln, bo, bl, v, fc, m, k, rk, u, r, n)
         ORDER BY n RETURNING id`,
        [
          column(rows, (r) => r.deliveryId),
          column(rows, (r) => r.batchId),
          column(rows, (r) => r.batchPosition),
          column(rows, (r) => r.location.recordIndex),
          column(rows, (r) => r.location.line),
          column(rows, (r) => r.location.byteOffset),
          column(rows, (r) => r.location.byteLength),
          violations,
          column(rows, (r) => r.violations[0]?.code ?? 'unknown'),
          column(rows, (r) => r.meterId),
          column(rows, (r) => r.idempotencyKey),
          column(rows, (r) => r.relatedIdempotencyKey),
          column(rows, (r) => (r.uncountedSpan ? 1 : 0)),
          column(rows, (r) => r.rawSha256),
          format,
          atMs,
        ],
      );
      // RETURNING follows the insert order, which the ORDER BY fixed; ids ascend with it.
      return inserted.map((row) => int(row.id, 'id')).sort((left, right) => left - right);
    },
    insertAnomalies: async (rows) => {
      if (rows.length === 0) return;
      await db.query(
        `INSERT INTO anomalies (batch_id, batch_position, reading, findings)
         SELECT b, p, r, f FROM unnest($1::bigint[], $2::int[], $3::jsonb[], $4::jsonb[])
           WITH ORDINALITY AS t (b, p, r, f, n) ORDER BY n`,
        [
          column(rows, (r) => r.batchId),
          column(rows, (r) => r.batchPosition),
          column(rows, (r) => JSON.stringify(r.reading)),
          column(rows, (r) => JSON.stringify(r.findings)),
        ],
      );
    },
    insertSequenceEvents: async (events) => {
      if (events.length === 0) return;
      await db.query(
        `INSERT INTO sequence_events (meter_id, channel, kind, expected_seq, received_seq,
           interval_start_ms, batch_id)
         SELECT m, c, k, e, r, i, b FROM unnest($1::text[], $2::text[], $3::text[],
           $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[])
           WITH ORDINALITY AS t (m, c, k, e, r, i, b, n) ORDER BY n`,
        [
          column(events, (e) => e.meterId),
          column(events, (e) => e.channel),
          column(events, (e) => e.kind),
          column(events, (e) => e.expectedSeq),
          column(events, (e) => e.receivedSeq),
          column(events, (e) => e.intervalStartMs),
          column(events, (e) => e.batchId),
        ],
      );
    },
    insertBatch: async (batch) => {
      const c = batch.counts;
      await db.query(
        `INSERT INTO batches (id, delivery_id, source_id, kind, received, accepted, duplicates,
           quarantined, conflicts, anomaly_held, dead_lettered, revisions, ledger_root,
           quarantine_root, byte_offset, byte_length, committed_at_ms, audit_seq)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
        [
          batch.id,
          batch.deliveryId,
          batch.sourceId,
          batch.kind,
          c.received,
          c.accepted,
          c.duplicates,
          c.quarantined,
          c.conflicts,
          c.anomalyHeld,
          c.deadLettered,
          c.revisions,
          batch.ledgerRoot,
          batch.quarantineRoot,
          batch.byteOffset,
          batch.byteLength,
          batch.committedAtMs,
          batch.auditSeq,
        ],
      );
    },
    addDeliveryCounts: async (deliveryId, c) => {
      await db.query(
        `UPDATE deliveries SET received = received + $1, accepted = accepted + $2,
           duplicates = duplicates + $3, quarantined = quarantined + $4,
           conflicts = conflicts + $5, anomaly_held = anomaly_held + $6,
           dead_lettered = dead_lettered + $7, revisions = revisions + $8 WHERE id = $9`,
        [
          c.received,
          c.accepted,
          c.duplicates,
          c.quarantined,
          c.conflicts,
          c.anomalyHeld,
          c.deadLettered,
          c.revisions,
          deliveryId,
        ],
      );
    },
    auditHead: async () => {
      // A partition transaction holds the chain from here to its commit: the one global step.
      if (context.scope !== null) await takeChainLock(db);
      const found = await all(db, 'SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1');
      const head = found[0];
      return head === undefined ? null : { seq: int(head.seq, 'seq'), hash: text(head.hash) };
    },
    appendAuditEntry: async (entry) => {
      await db.query(
        `INSERT INTO audit_log (seq, at_ms, kind, payload, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6)`,
        [entry.seq, entry.atMs, entry.kind, entry.payload, entry.prevHash, entry.hash],
      );
    },
    saveBreakerState: async (row) => upsertBreaker(db, row),
    insertCheckpoint: async (checkpoint) => {
      await db.query(
        `INSERT INTO checkpoints (audit_seq, head_hash, at_ms, key_fingerprint, signature)
         VALUES ($1, $2, $3, $4, $5)`,
        [
          checkpoint.auditSeq,
          checkpoint.headHash,
          checkpoint.atMs,
          checkpoint.keyFingerprint,
          checkpoint.signature,
        ],
      );
    },
    getQuarantineRow: async (id) => {
      const found = await all(db, `${QUARANTINE_SELECT} WHERE q.id = $1`, [id]);
      return found[0] === undefined ? null : quarantineFrom(found[0]);
    },
    setQuarantineStatus: async (id, status, currentViolations, resolvedBatchId) => {
      const result = await db.query(
        `UPDATE quarantine SET status = $1, current_violations = $2, resolved_batch_id = $3
         WHERE id = $4 AND status = 'open'`,
        [status, JSON.stringify(currentViolations), resolvedBatchId, id],
      );
      return result.rowCount === 1;
    },
    insertQuarantineAction: async (action) => {
      await db.query(
        `INSERT INTO quarantine_actions (quarantine_id, action, outcome, actor, justification,
           violations, batch_id, at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [
          action.quarantineId,
          action.action,
          action.outcome,
          action.actor,
          action.justification,
          JSON.stringify(action.violations),
          action.batchId,
          action.atMs,
        ],
      );
    },
    getAnomalyRow: async (id) => selectAnomaly(db, id),
    decideAnomaly: async (id, decision) => updateAnomalyDecision(db, id, decision),
    findOpenQuarantineByRaw: async (rawSha256s) => findOpenQuarantineByRaw(db, rawSha256s),
    insertQuarantineRepeats: async (rows) => {
      if (rows.length === 0) return;
      await db.query(
        `INSERT INTO quarantine_repeats (quarantine_id, delivery_id, batch_id, batch_position,
           record_index, line, byte_offset, byte_length, raw_sha256, created_at_ms)
         SELECT q, d, b, p, ri, ln, bo, bl, r, a FROM unnest($1::bigint[], $2::text[],
           $3::bigint[], $4::int[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[],
           $9::text[], $10::bigint[]) WITH ORDINALITY AS t (q, d, b, p, ri, ln, bo, bl, r, a, n)
         ORDER BY n`,
        [
          column(rows, (r) => r.quarantineId),
          column(rows, (r) => r.deliveryId),
          column(rows, (r) => r.batchId),
          column(rows, (r) => r.batchPosition),
          column(rows, (r) => r.location.recordIndex),
          column(rows, (r) => r.location.line),
          column(rows, (r) => r.location.byteOffset),
          column(rows, (r) => r.location.byteLength),
          column(rows, (r) => r.rawSha256),
          column(rows, (r) => r.atMs),
        ],
      );
    },
    findAbandonedDeliveries: async () => {
      const found = await findAbandonedDeliveries(db, context.self);
      if (found.length === 0 || context.scope === null) return found;
      // Workers of other partitions may mark the same deliveries: under the chain lock only one
      // of them still finds each one unmarked.
      await takeChainLock(db);
      return findAbandonedDeliveries(db, context.self);
    },
    markDeliveryInterrupted: async (deliveryId, atMs, auditSeq) => {
      await db.query(
        'INSERT INTO delivery_interruptions (delivery_id, at_ms, audit_seq) VALUES ($1, $2, $3)',
        [deliveryId, atMs, auditSeq],
      );
    },
    finishDelivery: async (deliveryId, sha256, sizeBytes, atMs) =>
      completeDelivery(db, deliveryId, sha256, sizeBytes, atMs),
    saveSourcePosition: async (row) => {
      await db.query(
        `INSERT INTO source_positions (source_id, position, delivery_id, saved_at_ms)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (source_id) DO UPDATE SET position = excluded.position,
           delivery_id = excluded.delivery_id, saved_at_ms = excluded.saved_at_ms`,
        [row.sourceId, row.position, row.deliveryId, row.savedAtMs],
      );
      await db.query('UPDATE deliveries SET position = $1 WHERE id = $2', [
        row.position,
        row.deliveryId,
      ]);
    },
    insertDeadLetter: async (row) => insertDeadLetterRow(db, row),
    getDeadLetterRow: async (id) => selectDeadLetter(db, id),
    decideDeadLetter: async (id, decision) => updateDeadLetterDecision(db, id, decision),
    getControl: async (sourceId) => selectControl(db, sourceId),
    putControl: async (control) => insertControl(db, control),
    recordSlaAlert: async (row) => insertSlaAlert(db, row),
  };
}
