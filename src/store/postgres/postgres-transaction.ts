/**
 * The batch transaction in PostgreSQL: the StoreTransaction a pipeline batch writes through, on one
 * pooled client between BEGIN and COMMIT. Multi-row writes pass one array per column (unnest), so
 * no statement nears the 65,535 bind-parameter cap whatever the batch size; ledger rows go through
 * COPY (postgres-ledger.ts).
 */
import type { PoolClient } from 'pg';
import type { Reading } from '../../core/reading.js';
import type {
  AnomalyInsert,
  DeliveryOwner,
  DeliveryRow,
  IntervalRef,
  LedgerRow,
  OpenQuarantineMatch,
  QuarantineInsert,
  QuarantineRepeatInsert,
  SequenceEvent,
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
import { all } from './postgres-query.js';
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
  /** The server ends a write transaction's session silent this long (PostgresStoreOptions). */
  writeIdleTimeoutMs: number;
}

function column<T, V>(items: readonly T[], pick: (item: T) => V): V[] {
  return items.map(pick);
}

/** One column of a multi-row INSERT: its name, its element type, and its value for each item. */
interface InsertColumn<T> {
  name: string;
  type: string;
  of: (item: T, index: number) => unknown;
}

/** A multi-row INSERT of one array per column. */
interface ColumnInsert<T> {
  table: string;
  columns: readonly InsertColumn<T>[];
  /** Columns holding the same value in every row, bound once. */
  constants?: readonly { name: string; type: string; value: unknown }[];
  /** An ON CONFLICT clause, for rows that may meet a stored key. */
  onConflict?: string;
  returning?: string;
}

/**
 * Inserts `items` in one statement, one array per column (unnest), in the items' order (WITH
 * ORDINALITY), so that serial ids ascend with it and no statement nears the bind-parameter cap.
 */
async function insertColumns<T>(
  db: Queryable,
  insert: ColumnInsert<T>,
  items: readonly T[],
): Promise<PgRow[]> {
  if (items.length === 0) return [];
  const { columns, constants = [] } = insert;
  const names = columns.map((c) => c.name);
  const arrays = columns.map((c, at) => `$${at + 1}::${c.type}[]`);
  const bound = constants.map((c, at) => `$${columns.length + at + 1}::${c.type}`);
  const sql = `INSERT INTO ${insert.table} (${[...names, ...constants.map((c) => c.name)].join(', ')})
    SELECT ${[...names.map((name) => `t.${name}`), ...bound].join(', ')}
    FROM unnest(${arrays.join(', ')}) WITH ORDINALITY AS t (${names.join(', ')}, insert_position)
    ORDER BY t.insert_position ${insert.onConflict ?? ''}
    ${insert.returning === undefined ? '' : `RETURNING ${insert.returning}`}`;
  const params = [
    ...columns.map((c) => items.map((item, index) => c.of(item, index))),
    ...constants.map((c) => c.value),
  ];
  return (await db.query(sql, params)).rows;
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

const STREAM_STATE_COLUMNS: readonly InsertColumn<StreamState>[] = [
  { name: 'meter_id', type: 'text', of: (s) => s.meterId },
  { name: 'channel', type: 'text', of: (s) => s.channel },
  { name: 'last_interval_start_ms', type: 'bigint', of: (s) => s.lastIntervalStartMs },
  { name: 'last_seq', type: 'bigint', of: (s) => s.lastSeq },
  { name: 'seq_gaps', type: 'bigint', of: (s) => s.seqGaps },
  { name: 'seq_regressions', type: 'bigint', of: (s) => s.seqRegressions },
  { name: 'current_readings', type: 'bigint', of: (s) => s.currentReadings },
  { name: 'current_value_micro', type: 'bigint', of: (s) => s.currentValueMicro },
  { name: 'commodity', type: 'text', of: (s) => s.commodity },
  { name: 'unit', type: 'text', of: (s) => s.unit },
];

async function saveStreamStates(db: Queryable, states: readonly StreamState[]): Promise<void> {
  await insertColumns(
    db,
    {
      table: 'stream_state',
      columns: STREAM_STATE_COLUMNS,
      onConflict: `ON CONFLICT (meter_id, channel) DO UPDATE SET
        last_interval_start_ms = excluded.last_interval_start_ms, last_seq = excluded.last_seq,
        seq_gaps = excluded.seq_gaps, seq_regressions = excluded.seq_regressions,
        current_readings = excluded.current_readings,
        current_value_micro = excluded.current_value_micro`,
    },
    states,
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
  await insertColumns(
    db,
    {
      table: 'stream_statistics',
      columns: [
        { name: 'meter_id', type: 'text', of: (r) => r.meterId },
        { name: 'channel', type: 'text', of: (r) => r.channel },
        { name: 'layout', type: 'int', of: (r) => r.layout },
        { name: 'bytes', type: 'bytea', of: (r) => Buffer.from(r.bytes) },
      ],
      onConflict: `ON CONFLICT (meter_id, channel) DO UPDATE SET layout = excluded.layout,
        bytes = excluded.bytes`,
    },
    rows,
  );
  const parts: [number, StreamStatistics, Uint8Array][] = [];
  for (const row of rows)
    for (const [number, part] of row.parts ?? []) parts.push([number, row, part]);
  parts.sort((left, right) => left[0] - right[0]);
  await insertColumns(
    db,
    {
      table: 'stream_statistics_parts',
      columns: [
        { name: 'part', type: 'int', of: (p) => p[0] },
        { name: 'meter_id', type: 'text', of: (p) => p[1].meterId },
        { name: 'channel', type: 'text', of: (p) => p[1].channel },
        { name: 'bytes', type: 'bytea', of: (p) => Buffer.from(p[2]) },
      ],
      onConflict: 'ON CONFLICT (part, meter_id, channel) DO UPDATE SET bytes = excluded.bytes',
    },
    parts,
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
  await copyLedgerRows(client, rows);
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

/** Deliveries in progress and not marked interrupted, of one source or of all, oldest first. */
async function unfinishedDeliveries(
  db: Queryable,
  self: DeliveryOwner,
  sourceId: string | null,
): Promise<DeliveryRow[]> {
  const found = await all(
    db,
    `${DELIVERY_SELECT} WHERE d.status = 'in-progress' AND i.delivery_id IS NULL
       AND ($1::text IS NULL OR d.source_id = $1) ORDER BY d.started_at_ms, d.id`,
    [sourceId],
  );
  return found.map((row) => deliveryFrom(row, self));
}

const QUARANTINE_COLUMNS: readonly InsertColumn<QuarantineInsert>[] = [
  { name: 'delivery_id', type: 'text', of: (r) => r.deliveryId },
  { name: 'batch_id', type: 'bigint', of: (r) => r.batchId },
  { name: 'batch_position', type: 'int', of: (r) => r.batchPosition },
  { name: 'record_index', type: 'bigint', of: (r) => r.location.recordIndex },
  { name: 'line', type: 'bigint', of: (r) => r.location.line },
  { name: 'byte_offset', type: 'bigint', of: (r) => r.location.byteOffset },
  { name: 'byte_length', type: 'bigint', of: (r) => r.location.byteLength },
  { name: 'first_code', type: 'text', of: (r) => r.violations[0]?.code ?? 'unknown' },
  { name: 'meter_id', type: 'text', of: (r) => r.meterId },
  { name: 'idempotency_key', type: 'text', of: (r) => r.idempotencyKey },
  { name: 'related_idempotency_key', type: 'text', of: (r) => r.relatedIdempotencyKey },
  { name: 'uncounted_span', type: 'smallint', of: (r) => (r.uncountedSpan ? 1 : 0) },
  { name: 'raw_sha256', type: 'text', of: (r) => r.rawSha256 },
];

const ANOMALY_COLUMNS: readonly InsertColumn<AnomalyInsert>[] = [
  { name: 'batch_id', type: 'bigint', of: (r) => r.batchId },
  { name: 'batch_position', type: 'int', of: (r) => r.batchPosition },
  { name: 'reading', type: 'json', of: (r) => JSON.stringify(r.reading) },
  { name: 'findings', type: 'json', of: (r) => JSON.stringify(r.findings) },
];

const SEQUENCE_EVENT_COLUMNS: readonly InsertColumn<SequenceEvent>[] = [
  { name: 'meter_id', type: 'text', of: (e) => e.meterId },
  { name: 'channel', type: 'text', of: (e) => e.channel },
  { name: 'kind', type: 'text', of: (e) => e.kind },
  { name: 'expected_seq', type: 'bigint', of: (e) => e.expectedSeq },
  { name: 'received_seq', type: 'bigint', of: (e) => e.receivedSeq },
  { name: 'interval_start_ms', type: 'bigint', of: (e) => e.intervalStartMs },
  { name: 'batch_id', type: 'bigint', of: (e) => e.batchId },
];

const QUARANTINE_REPEAT_COLUMNS: readonly InsertColumn<QuarantineRepeatInsert>[] = [
  { name: 'quarantine_id', type: 'bigint', of: (r) => r.quarantineId },
  { name: 'delivery_id', type: 'text', of: (r) => r.deliveryId },
  { name: 'batch_id', type: 'bigint', of: (r) => r.batchId },
  { name: 'batch_position', type: 'int', of: (r) => r.batchPosition },
  { name: 'record_index', type: 'bigint', of: (r) => r.location.recordIndex },
  { name: 'line', type: 'bigint', of: (r) => r.location.line },
  { name: 'byte_offset', type: 'bigint', of: (r) => r.location.byteOffset },
  { name: 'byte_length', type: 'bigint', of: (r) => r.location.byteLength },
  { name: 'raw_sha256', type: 'text', of: (r) => r.rawSha256 },
  { name: 'created_at_ms', type: 'bigint', of: (r) => r.atMs },
];

/** The writes and in-transaction reads of one batch, on `client` inside BEGIN ... COMMIT. */
export function transactionApi(client: PoolClient, context: TransactionContext): StoreTransaction {
  const db: Queryable = client;
  /**
   * Deliveries to mark interrupted. In a partition's transaction, processes of other partitions
   * may mark the same ones (a dead owner's) at the same time: found any, it takes the chain lock
   * and reads again, so that only one of them still finds each one unmarked.
   */
  const toMark = async (find: () => Promise<DeliveryRow[]>): Promise<DeliveryRow[]> => {
    const found = await find();
    if (found.length === 0 || context.scope === null) return found;
    await takeChainLock(db);
    return find();
  };
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
      const violations = rows.map((row) => JSON.stringify(row.violations));
      const inserted = await insertColumns(
        db,
        {
          table: 'quarantine',
          columns: [
            ...QUARANTINE_COLUMNS,
            { name: 'violations', type: 'text', of: (_, index) => violations[index] },
            { name: 'current_violations', type: 'text', of: (_, index) => violations[index] },
          ],
          constants: [
            { name: 'format', type: 'text', value: format },
            { name: 'created_at_ms', type: 'bigint', value: atMs },
            { name: 'status', type: 'text', value: 'open' },
          ],
          returning: 'id',
        },
        rows,
      );
      // RETURNING follows the insert order, which the ORDER BY fixed; ids ascend with it.
      return inserted.map((row) => int(row.id, 'id')).sort((left, right) => left - right);
    },
    insertAnomalies: async (rows) => {
      await insertColumns(db, { table: 'anomalies', columns: ANOMALY_COLUMNS }, rows);
    },
    insertSequenceEvents: async (events) => {
      await insertColumns(
        db,
        { table: 'sequence_events', columns: SEQUENCE_EVENT_COLUMNS },
        events,
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
      await insertColumns(
        db,
        { table: 'quarantine_repeats', columns: QUARANTINE_REPEAT_COLUMNS },
        rows,
      );
    },
    findAbandonedDeliveries: async () => {
      const abandoned = (found: DeliveryRow[]) => found.filter((d) => d.status === 'interrupted');
      return toMark(async () => abandoned(await unfinishedDeliveries(db, context.self, null)));
    },
    findUnfinishedDeliveriesOf: async (sourceId) =>
      toMark(() => unfinishedDeliveries(db, context.self, sourceId)),
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
