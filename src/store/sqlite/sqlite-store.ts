/**
 * The embedded default store: one SQLite file in WAL mode with synchronous=FULL, so that a
 * committed batch survives power loss before any source is acknowledged. better-sqlite3 is
 * synchronous; the Store contract is asynchronous for networked engines, so transactions here are
 * serialised by a promise chain and run BEGIN IMMEDIATE ... COMMIT around the caller's function.
 */
import assert from 'node:assert/strict';
import { hash } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { AmisyncError } from '../../core/errors.js';
import { RAW_CHUNKS_CACHED_MAX, STREAM_STATISTICS_CACHED_MAX } from '../../core/limits.js';
import type { Commodity, Quality, Reading, RecordLocation, Unit } from '../../core/reading.js';
import type { Violation } from '../../core/reject.js';
import type {
  AnomalyBacklog,
  AnomalyFilter,
  AnomalyInsert,
  AnomalyRow,
  AuditEntryRow,
  BatchCounts,
  BatchInsert,
  BatchRow,
  CheckpointRow,
  DeliveryInsert,
  DeliveryOwner,
  DeliveryRow,
  IntervalRef,
  LedgerRow,
  LedgerSpan,
  OpenQuarantineMatch,
  QuarantineActionInsert,
  QuarantineFilter,
  QuarantineInsert,
  QuarantineRepeatInsert,
  QuarantineRow,
  QuarantineStatus,
  SequenceEvent,
  SourcePositionRow,
  SourceSummaryRow,
  Store,
  StoreStatus,
  StoreTransaction,
  StreamRef,
  StreamState,
  StreamStatistics,
  UnitTotal,
  DiscrepancyFigures,
  DiscrepancyQuery,
  ArrivalQuery,
  ArrivalRow,
  SlaAlertRow,
  SeriesPoint,
  StreamSeriesQuery,
  VendorInsert,
  VendorRow,
  ApiTokenInsert,
  ApiTokenRow,
  DeadLetterFilter,
  DeadLetterRow,
  ControlRow,
  BreakerStateRow,
  MeterStreamRow,
  LedgerRangeQuery,
  LedgerRangeRow,
  DeliveryPageFilter,
  DeliveryPageRow,
  WorklistCounts,
} from '../../core/store.js';
import { currentOwner, isOwnerAlive } from '../process-owner.js';
import { MIGRATIONS } from './migrations.js';
import {
  selectAnomalies,
  selectAnomaly,
  selectAnomalyBacklog,
  updateAnomalyDecision,
} from './sqlite-anomalies.js';
import { selectDiscrepancyFigures, selectStreamSeries } from './sqlite-discrepancies.js';
import {
  arrivalFrom,
  arrivalParams,
  ARRIVALS_SQL,
  insertSlaAlert,
  selectSlaAlerts,
} from './sqlite-sla.js';
import {
  countDeadLetters,
  insertDeadLetterRow,
  selectDeadLetter,
  selectDeadLetters,
  updateDeadLetterDecision,
} from './sqlite-dead-letters.js';
import {
  insertControl,
  selectControl,
  selectControlHistory,
  selectCurrentControls,
} from './sqlite-controls.js';
import {
  insertVendor,
  markVendorRevoked,
  selectVendorBy,
  selectVendors,
} from './sqlite-vendors.js';
import { selectBreakers, upsertBreaker } from './sqlite-breakers.js';
import { inBatchPositionOrder, inMeterOrder } from './sqlite-ledger-order.js';
import {
  selectIntervalVersions,
  selectLedgerRange,
  selectMeterStreams,
} from './sqlite-ledger-reads.js';
import {
  insertApiToken,
  markApiTokenRevoked,
  selectApiTokenById,
  selectApiTokens,
} from './sqlite-tokens.js';

/** Rows fetched per step when streaming large tables. */
const ITERATE_ROWS_PER_STEP = 5_000;
/*
 * Ledger rows go in one per statement, their parameters as separate arguments (`run(...params)`).
 * Arguments, not one array: better-sqlite3 reads an array's elements one by one through V8's
 * object API (about 480 instructions each, 8,000 per ledger row). One row, not a multi-row
 * statement: once parameters are arguments, a 32-row statement's 544 of them cost more to pass
 * than 32 calls of 17 (measured alternated on an idle machine, 300,000 rows in meter order into
 * the migrated ledger: one row a statement 84,400 to 91,100 rows/s and 7.4 to 8.9 us of CPU a
 * row, 32 rows 58,100 to 78,500 rows/s and 10.0 to 14.7 us; docs/threads.md, "Speed"). The other
 * multi-row statements (stream state, detector statistics) write a few rows a batch.
 */
/** SQLite's automatic checkpoint threshold, in WAL pages (its default). */
const WAL_AUTOCHECKPOINT_DEFAULT_PAGES = 1_000;
/**
 * With checkpoints on their own thread, the committing connection checkpoints only past this many
 * WAL pages (64 MiB of 4 KiB pages): the bound on the WAL if that thread falls behind.
 */
export const WAL_BACKSTOP_PAGES = 16_384;
/** How often the checkpoint thread copies committed WAL pages into the database file. */
const CHECKPOINT_INTERVAL_MS = 20;

/** The checkpoint thread's script: beside this module when built, in dist/ when run from source. */
function checkpointWorkerUrl(): URL {
  if (import.meta.url.endsWith('.js'))
    return new URL('./wal-checkpoint-worker.js', import.meta.url);
  return new URL('../../../dist/store/sqlite/wal-checkpoint-worker.js', import.meta.url);
}
const STREAMS_PER_STATEMENT = 100;
const LEDGER_COLUMNS = `interval_start_ms, meter_id, channel, version, seq, interval_seconds,
  value_micro, status_code, quality, checksum_sha256, idempotency_key, supersedes_key,
  batch_id, batch_position, commodity, unit, quality_detail`;
export const LEDGER_COLUMN_COUNT = 17;
const STREAM_COLUMN_COUNT = 10;

/** A stream's statistics as last committed, and the part numbers it was loaded with. */
interface CachedStatistics {
  row: StreamStatistics;
  covered: readonly number[];
  /** The head's row in stream_statistics: a save rewrites it by rowid, not by key. */
  rowid: number;
}

const NO_PARTS: readonly number[] = Object.freeze([]);

function placeholders(rows: number, columns: number): string {
  const row = `(${new Array(columns).fill('?').join(', ')})`;
  return new Array(rows).fill(row).join(', ');
}

/** The ledger's INSERT of `rows` rows (1 in the store), shared with the bench's raw inserts. */
export function ledgerInsertSql(rows: number): string {
  return `INSERT INTO ledger (${LEDGER_COLUMNS}) VALUES ${placeholders(rows, LEDGER_COLUMN_COUNT)}`;
}

function meterOfRow(row: LedgerRow): string {
  return row.meterId;
}

/** Puts a ledger row at `at` of an INSERT's parameters. */
function putLedgerParams(params: unknown[], at: number, row: LedgerRow): void {
  putReadingParams(params, at, row, row.version, row.supersedesKey, row.batchId, row.batchPosition);
}

/**
 * The same for a reading and its ledger facts given apart, without building a row: the bench's
 * raw-insert ceiling puts its rows with it, so it always inserts exactly the ledger's columns.
 */
export function putReadingParams(
  params: unknown[],
  at: number,
  reading: Reading,
  version: number,
  supersedesKey: string | null,
  batchId: number,
  batchPosition: number,
): void {
  params[at] = reading.intervalStartMs;
  params[at + 1] = reading.meterId;
  params[at + 2] = reading.channel;
  params[at + 3] = version;
  params[at + 4] = reading.seq;
  params[at + 5] = reading.intervalSeconds;
  params[at + 6] = reading.valueMicro;
  params[at + 7] = reading.statusCode;
  params[at + 8] = reading.quality;
  params[at + 9] = reading.checksumSha256;
  params[at + 10] = reading.idempotencyKey;
  params[at + 11] = supersedesKey;
  params[at + 12] = batchId;
  params[at + 13] = batchPosition;
  params[at + 14] = reading.commodity;
  params[at + 15] = reading.unit;
  params[at + 16] = reading.qualityDetail;
}

function putStreamParams(params: unknown[], at: number, state: StreamState): void {
  params[at] = state.meterId;
  params[at + 1] = state.channel;
  params[at + 2] = state.lastIntervalStartMs;
  params[at + 3] = state.lastSeq;
  params[at + 4] = state.seqGaps;
  params[at + 5] = state.seqRegressions;
  params[at + 6] = state.currentReadings;
  params[at + 7] = state.currentValueMicro;
  params[at + 8] = state.commodity;
  params[at + 9] = state.unit;
}

/** The billed energy among unit totals: electricity in kWh, as milliwatt-hours. */
function kwhOf(byUnit: readonly UnitTotal[]): bigint {
  return byUnit.find((total) => total.unit === 'kWh')?.valueMicro ?? 0n;
}

function streamFrom(row: Row): StreamState {
  return {
    meterId: row.meter_id as string,
    channel: row.channel as string,
    lastIntervalStartMs: (row.last_interval_start_ms as number | null) ?? null,
    lastSeq: (row.last_seq as number | null) ?? null,
    seqGaps: row.seq_gaps as number,
    seqRegressions: row.seq_regressions as number,
    currentReadings: row.current_readings as number,
    currentValueMicro: row.current_value_micro as number,
    commodity: row.commodity as Commodity,
    unit: row.unit as Unit,
  };
}

export interface SqliteStoreOptions {
  /** Clock for migration timestamps; the pipeline passes its own times for everything else. */
  nowMs: () => number;
  readonly?: boolean;
  /**
   * How long a write waits for another connection's lock before it fails as a store outage
   * (STORE_UNAVAILABLE, SQLITE_BUSY); 10 s unless given.
   */
  busyTimeoutMs?: number;
}

type Row = Record<string, unknown>;

export function openSqliteStore(path: string, options: SqliteStoreOptions): SqliteStore {
  if (path !== ':memory:' && options.readonly !== true)
    mkdirSync(dirname(path), { recursive: true });
  let db: Database.Database;
  try {
    db = new Database(path, {
      readonly: options.readonly === true,
      fileMustExist: options.readonly === true,
    });
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 10_000))}`);
    if (options.readonly !== true) {
      enterWalMode(db);
      db.pragma('synchronous = FULL');
    }
    db.pragma('cache_size = -65536');
  } catch (error) {
    throw new AmisyncError(
      'STORE_UNAVAILABLE',
      `cannot open database ${path}: ${(error as Error).message}`,
    );
  }
  if (options.readonly !== true) migrate(db, options.nowMs());
  return new SqliteStore(db);
}

/** SQLite result codes that mean the store, not the data or the program, is at fault. */
const UNAVAILABLE_CODES = /^SQLITE_(BUSY|LOCKED|FULL|IOERR|CANTOPEN|READONLY|NOMEM)/;

/** Operating errors of the engine become STORE_UNAVAILABLE; others pass unchanged. */
function asStoreError(error: unknown): unknown {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && UNAVAILABLE_CODES.test(code)) {
    return new AmisyncError('STORE_UNAVAILABLE', `${(error as Error).message} (${code})`, { code });
  }
  return error;
}

/** Attempts at switching a new database to WAL while another process does the same. */
const WAL_SWITCH_ATTEMPTS_MAX = 50;
const WAL_SWITCH_WAIT_MS = 20;

/**
 * Switching to WAL needs an exclusive lock and SQLite does not wait for it (no busy handler), so
 * two processes creating one database at once can see "database is locked". The loser finds the
 * mode already switched on a later look.
 */
function enterWalMode(db: Database.Database): void {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let attempt = 1; attempt <= WAL_SWITCH_ATTEMPTS_MAX; attempt++) {
    if (db.pragma('journal_mode', { simple: true }) === 'wal') return;
    try {
      // When it cannot switch, SQLite returns the old mode instead of throwing; look again later.
      if (db.pragma('journal_mode = WAL', { simple: true }) === 'wal') return;
    } catch (error) {
      if ((error as { code?: string }).code !== 'SQLITE_BUSY') throw error;
    }
    Atomics.wait(pause, 0, 0, WAL_SWITCH_WAIT_MS);
  }
  throw new Error(`could not switch to WAL mode after ${WAL_SWITCH_ATTEMPTS_MAX} attempts`);
}

/**
 * Brings the schema forward. All of it runs under the write lock (BEGIN IMMEDIATE), and the applied
 * versions are read inside it: two processes opening a new database at once must not both apply.
 */
function migrate(db: Database.Database, nowMs: number): void {
  db.transaction(() => {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at_ms INTEGER NOT NULL) STRICT`);
    const applied = new Set(
      (db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map(
        (row) => row.version,
      ),
    );
    const newest = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;
    for (const version of applied) {
      if (version > newest) {
        throw new AmisyncError(
          'STORE_SCHEMA_NEWER',
          `database schema version ${version} is newer than this amisync knows (${newest})`,
        );
      }
    }
    for (const migration of MIGRATIONS) {
      if (applied.has(migration.version)) continue;
      db.exec(migration.sql);
      db.prepare(
        'INSERT INTO schema_migrations (version, name, applied_at_ms) VALUES (?, ?, ?)',
      ).run(migration.version, migration.name, nowMs);
    }
  }).immediate();
}

function countsFrom(row: Row): BatchCounts {
  return {
    received: Number(row.received),
    accepted: Number(row.accepted),
    duplicates: Number(row.duplicates),
    quarantined: Number(row.quarantined),
    conflicts: Number(row.conflicts),
    anomalyHeld: Number(row.anomaly_held),
    deadLettered: Number(row.dead_lettered),
    revisions: Number(row.revisions),
  };
}

/** A ledger row as SQLite returns it, as the Store contract gives it. */
export function ledgerFrom(row: Row): LedgerRow {
  return {
    meterId: row.meter_id as string,
    channel: row.channel as string,
    intervalStartMs: row.interval_start_ms as number,
    intervalSeconds: row.interval_seconds as number,
    commodity: row.commodity as Commodity,
    unit: row.unit as Unit,
    valueMicro: row.value_micro as number,
    statusCode: row.status_code as number,
    seq: row.seq as number,
    quality: row.quality as Quality,
    qualityDetail: (row.quality_detail as string | null) ?? null,
    checksumSha256: (row.checksum_sha256 as string | null) ?? null,
    idempotencyKey: row.idempotency_key as string,
    version: row.version as number,
    supersedesKey: (row.supersedes_key as string | null) ?? null,
    batchId: row.batch_id as number,
    batchPosition: row.batch_position as number,
  };
}

/** The worklists' counts, each a range of its status index (the audit log's is its length). */
export const WORKLIST_COUNTS_SQL = `SELECT
  (SELECT count(*) FROM quarantine WHERE status = 'open') AS quarantine_open,
  (SELECT count(*) FROM anomalies WHERE status = 'held') AS anomalies_held,
  (SELECT count(*) FROM dead_letters WHERE status = 'open') AS dead_letters_open,
  (SELECT count(*) FROM audit_log) AS audit_entries`;

/** Quarantine rows with their repeat counts; callers add WHERE, ORDER and LIMIT. */
const QUARANTINE_SELECT = `SELECT q.*,
  (SELECT count(*) FROM quarantine_repeats r WHERE r.quarantine_id = q.id) AS repeats
  FROM quarantine q`;

/** Deliveries with their interruption and the deliveries that redeliver them. */
const DELIVERY_SELECT = `SELECT d.*, i.at_ms AS interrupted_at_ms,
  (SELECT group_concat(n.id, ' ') FROM deliveries n WHERE n.redelivers = d.id) AS redelivered_by
  FROM deliveries d LEFT JOIN delivery_interruptions i ON i.delivery_id = d.id`;

function quarantineFrom(row: Row): QuarantineRow {
  return {
    id: row.id as number,
    repeats: Number(row.repeats ?? 0),
    deliveryId: row.delivery_id as string,
    batchId: row.batch_id as number,
    batchPosition: row.batch_position as number,
    location: locationFrom(row),
    violations: JSON.parse(row.violations as string) as Violation[],
    currentViolations: JSON.parse(row.current_violations as string) as Violation[],
    meterId: (row.meter_id as string | null) ?? null,
    idempotencyKey: (row.idempotency_key as string | null) ?? null,
    relatedIdempotencyKey: (row.related_idempotency_key as string | null) ?? null,
    uncountedSpan: row.uncounted_span === 1,
    rawSha256: row.raw_sha256 as string,
    format: row.format as string,
    status: row.status as QuarantineStatus,
    createdAtMs: row.created_at_ms as number,
    resolvedBatchId: (row.resolved_batch_id as number | null) ?? null,
  };
}

function batchFrom(row: Row): BatchRow {
  return {
    id: row.id as number,
    deliveryId: row.delivery_id as string,
    sourceId: row.source_id as string,
    kind: row.kind as BatchRow['kind'],
    counts: countsFrom(row),
    ledgerRoot: row.ledger_root as string,
    quarantineRoot: row.quarantine_root as string,
    byteOffset: row.byte_offset as number,
    byteLength: row.byte_length as number,
    committedAtMs: row.committed_at_ms as number,
    auditSeq: row.audit_seq as number,
  };
}

/** Where a quarantined or repeated record stands in its delivery. */
function locationFrom(row: Row): RecordLocation {
  return {
    recordIndex: row.record_index as number,
    line: row.line as number,
    byteOffset: row.byte_offset as number,
    byteLength: row.byte_length as number,
  };
}

function ownerFrom(row: Row): DeliveryOwner | null {
  if (row.owner_host === null || row.owner_pid === null) return null;
  return {
    host: row.owner_host as string,
    pid: row.owner_pid as number,
    processStartedAtMs: row.owner_started_at_ms as number,
  };
}

function repeatFrom(row: Row): QuarantineRepeatInsert {
  return {
    quarantineId: row.quarantine_id as number,
    deliveryId: row.delivery_id as string,
    batchId: row.batch_id as number,
    batchPosition: row.batch_position as number,
    location: locationFrom(row),
    rawSha256: row.raw_sha256 as string,
    atMs: row.created_at_ms as number,
  };
}

/** A delivery row as stored, with its status judged against `self` (the reading process). */
function deliveryFrom(row: Row, self: DeliveryOwner): DeliveryRow {
  const owner = ownerFrom(row);
  const interruptedAtMs = (row.interrupted_at_ms as number | null) ?? null;
  const status =
    row.status === 'complete'
      ? 'complete'
      : interruptedAtMs === null && isOwnerAlive(owner, self)
        ? 'running'
        : 'interrupted';
  const redeliveredBy = (row.redelivered_by as string | null) ?? null;
  return {
    id: row.id as string,
    sourceId: row.source_id as string,
    name: row.name as string,
    format: row.format as string,
    formatContext: JSON.parse(row.format_context as string) as Record<string, unknown>,
    startedAtMs: row.started_at_ms as number,
    status,
    owner,
    interruptedAtMs,
    redelivers: (row.redelivers as string | null) ?? null,
    redeliveredBy: redeliveredBy === null ? [] : redeliveredBy.split(' ').sort(),
    sha256: (row.sha256 as string | null) ?? null,
    sizeBytes: (row.size_bytes as number | null) ?? null,
    finishedAtMs: (row.finished_at_ms as number | null) ?? null,
    transportId: (row.transport_id as string | null) ?? null,
    attempt: Number(row.attempt ?? 1),
    metadata: JSON.parse((row.metadata as string | null) ?? '{}') as Record<string, string>,
    partitionKey: (row.partition_key as string | null) ?? null,
    position: (row.position as string | null) ?? null,
    firstDeliveryId: (row.first_delivery_id as string | null) ?? null,
    counts: countsFrom(row),
  };
}

function auditFrom(row: Row): AuditEntryRow {
  return {
    seq: row.seq as number,
    atMs: row.at_ms as number,
    kind: row.kind as string,
    payload: row.payload as string,
    prevHash: row.prev_hash as string,
    hash: row.hash as string,
  };
}

function checkpointFrom(row: Row): CheckpointRow {
  return {
    auditSeq: row.audit_seq as number,
    headHash: row.head_hash as string,
    atMs: row.at_ms as number,
    keyFingerprint: row.key_fingerprint as string,
    signature: row.signature as string,
  };
}

/**
 * Per-transaction memory: which ledger row ids the current batch wrote, so the batch row can point
 * at them.
 */
interface TransactionMemo {
  ledgerFirstId: number | null;
  ledgerLastId: number | null;
}

export class SqliteStore implements Store {
  readonly engine = 'sqlite';
  readonly db: Database.Database;
  /** The WAL checkpoint thread, while one runs (upkeepInBackground). */
  #checkpointer: Worker | null = null;
  #queue: Promise<unknown> = Promise.resolve();
  /**
   * Stream state as last committed by this connection. Valid while no other connection has written:
   * SQLite's data_version changes exactly when another connection commits, so it is checked under
   * the write lock at the start of every transaction.
   */
  #streamCache = new Map<string, StreamState>();
  #cacheDataVersion: number | null = null;
  /**
   * Detector statistics as last committed by this connection, kept and invalidated like the stream
   * state (each blob is replaced, never changed in place), and emptied past
   * STREAM_STATISTICS_CACHED_MAX streams so that memory stays bounded.
   */
  #statisticsCache = new Map<string, CachedStatistics>();
  #statements = new Map<string, Database.Statement>();
  /** Raw chunks read lately, by content hash, oldest first (see #rawChunk). */
  #rawChunkCache = new Map<string, Buffer>();
  #rawChunkVersion: string | null = null;
  /** This process, as the owner of the deliveries it creates. */
  readonly #self = currentOwner();

  constructor(db: Database.Database) {
    this.db = db;
  }

  #statement(sql: string): Database.Statement {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  transaction<T>(fn: (tx: StoreTransaction) => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      try {
        this.db.exec('BEGIN IMMEDIATE');
      } catch (error) {
        throw asStoreError(error);
      }
      this.#validateStreamCache();
      const memo: TransactionMemo = { ledgerFirstId: null, ledgerLastId: null };
      try {
        const result = await fn(this.#transactionApi(memo));
        this.db.exec('COMMIT');
        return result;
      } catch (error) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        this.#streamCache.clear();
        this.#statisticsCache.clear();
        throw asStoreError(error);
      }
    };
    const next = this.#queue.then(run, run);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  #transactionApi(memo: TransactionMemo): StoreTransaction {
    const statement = (sql: string): Database.Statement => this.#statement(sql);
    const putRawChunk = (deliveryId: string, byteOffset: number, bytes: Uint8Array): string =>
      this.#putRawChunk(deliveryId, byteOffset, bytes);
    return {
      allocateBatchId: async () => {
        const row = statement('SELECT coalesce(max(id), 0) + 1 AS id FROM batches').get() as Row;
        return row.id as number;
      },
      putRawChunk: async (deliveryId, byteOffset, bytes) =>
        putRawChunk(deliveryId, byteOffset, bytes),
      loadStreamStates: async (streams) => this.#loadStreamStates(streams),
      saveStreamStates: async (states) => this.#saveStreamStates(states),
      loadStreamStatistics: async (streams, parts) =>
        this.#loadStreamStatistics(streams, parts ?? NO_PARTS),
      saveStreamStatistics: async (rows) => this.#saveStreamStatistics(rows),
      findIntervalVersions: async (intervals) => this.#findIntervalVersions(intervals),
      findHeldReadings: async (keys) => this.#findHeldReadings(keys),
      insertLedgerRows: async (rows) => this.#insertLedgerRows(rows, memo),
      insertQuarantineRows: async (rows, format, atMs) =>
        this.#insertQuarantineRows(rows, format, atMs),
      insertAnomalies: async (rows) => this.#insertAnomalies(rows),
      insertSequenceEvents: async (events) => this.#insertSequenceEvents(events),
      insertBatch: async (batch) => this.#insertBatch(batch, memo),
      addDeliveryCounts: async (deliveryId, counts) => this.#addDeliveryCounts(deliveryId, counts),
      auditHead: async () => {
        const row = statement('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1').get() as
          Row | undefined;
        return row === undefined ? null : { seq: row.seq as number, hash: row.hash as string };
      },
      appendAuditEntry: async (entry) => {
        statement(
          'INSERT INTO audit_log (seq, at_ms, kind, payload, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?)',
        ).run(entry.seq, entry.atMs, entry.kind, entry.payload, entry.prevHash, entry.hash);
      },
      saveBreakerState: async (row) => upsertBreaker((sql) => this.#statement(sql), row),
      insertCheckpoint: async (checkpoint) => {
        statement(
          `INSERT INTO checkpoints (audit_seq, head_hash, at_ms, key_fingerprint, signature)
           VALUES (?, ?, ?, ?, ?)`,
        ).run(
          checkpoint.auditSeq,
          checkpoint.headHash,
          checkpoint.atMs,
          checkpoint.keyFingerprint,
          checkpoint.signature,
        );
      },
      getQuarantineRow: async (id) => this.#getQuarantine(id),
      setQuarantineStatus: async (id, status, currentViolations, resolvedBatchId) => {
        const result = statement(
          `UPDATE quarantine SET status = ?, current_violations = ?, resolved_batch_id = ?
           WHERE id = ? AND status = 'open'`,
        ).run(status, JSON.stringify(currentViolations), resolvedBatchId, id);
        return result.changes === 1;
      },
      insertQuarantineAction: async (action) => this.#insertQuarantineAction(action),
      getAnomalyRow: async (id) => selectAnomaly(statement, id),
      decideAnomaly: async (id, decision) => updateAnomalyDecision(statement, id, decision),
      insertDeadLetter: async (row) => insertDeadLetterRow(statement, row),
      getDeadLetterRow: async (id) => selectDeadLetter(statement, id),
      decideDeadLetter: async (id, decision) => updateDeadLetterDecision(statement, id, decision),
      findOpenQuarantineByRaw: async (rawSha256s) => this.#findOpenQuarantineByRaw(rawSha256s),
      insertQuarantineRepeats: async (rows) => this.#insertQuarantineRepeats(rows),
      findAbandonedDeliveries: async () =>
        this.#unfinishedDeliveries(null).filter((d) => d.status === 'interrupted'),
      findUnfinishedDeliveriesOf: async (sourceId) => this.#unfinishedDeliveries(sourceId),
      markDeliveryInterrupted: async (deliveryId, atMs, auditSeq) => {
        statement(
          'INSERT INTO delivery_interruptions (delivery_id, at_ms, audit_seq) VALUES (?, ?, ?)',
        ).run(deliveryId, atMs, auditSeq);
      },
      finishDelivery: async (deliveryId, sha256, sizeBytes, atMs) =>
        this.#finishDelivery(deliveryId, sha256, sizeBytes, atMs),
      saveSourcePosition: async (row) => {
        statement(
          `INSERT INTO source_positions (source_id, position, delivery_id, saved_at_ms)
           VALUES (?, ?, ?, ?)
           ON CONFLICT (source_id) DO UPDATE SET position = excluded.position,
             delivery_id = excluded.delivery_id, saved_at_ms = excluded.saved_at_ms`,
        ).run(row.sourceId, row.position, row.deliveryId, row.savedAtMs);
        statement('UPDATE deliveries SET position = ? WHERE id = ?').run(
          row.position,
          row.deliveryId,
        );
      },
      getControl: async (sourceId) => selectControl(statement, sourceId),
      putControl: async (control) => insertControl(statement, control),
      recordSlaAlert: async (row) => insertSlaAlert(statement, row),
    };
  }

  #putRawChunk(deliveryId: string, byteOffset: number, bytes: Uint8Array): string {
    const sha256 = hash('sha256', bytes, 'hex');
    this.#statement('INSERT OR IGNORE INTO raw_chunks (sha256, bytes) VALUES (?, ?)').run(
      sha256,
      bytes,
    );
    this.#statement(
      `INSERT OR IGNORE INTO delivery_chunks (delivery_id, byte_offset, byte_length, chunk_sha256)
       VALUES (?, ?, ?, ?)`,
    ).run(deliveryId, byteOffset, bytes.byteLength, sha256);
    return sha256;
  }

  #validateStreamCache(): void {
    const dataVersion = this.db.pragma('data_version', { simple: true }) as number;
    if (dataVersion !== this.#cacheDataVersion) {
      this.#streamCache.clear();
      this.#statisticsCache.clear();
    }
    this.#cacheDataVersion = dataVersion;
  }

  #loadStreamStates(streams: readonly StreamRef[]): StreamState[] {
    const states: StreamState[] = [];
    const missing: StreamRef[] = [];
    for (const stream of streams) {
      const cached = this.#streamCache.get(`${stream.meterId}|${stream.channel}`);
      if (cached === undefined) missing.push(stream);
      else states.push({ ...cached });
    }
    for (const state of this.#queryStreamStates(missing)) {
      this.#streamCache.set(`${state.meterId}|${state.channel}`, state);
      states.push(state);
    }
    return states;
  }

  #queryStreamStates(streams: readonly StreamRef[]): StreamState[] {
    const states: StreamState[] = [];
    for (let at = 0; at < streams.length; at += STREAMS_PER_STATEMENT) {
      const part = streams.slice(at, at + STREAMS_PER_STATEMENT);
      const select = this.#statement(
        `SELECT * FROM stream_state WHERE (meter_id, channel) IN (VALUES ${placeholders(part.length, 2)})`,
      );
      const params: string[] = [];
      for (const stream of part) params.push(stream.meterId, stream.channel);
      for (const row of select.all(params)) states.push(streamFrom(row as Row));
    }
    return states;
  }

  #saveStreamStates(states: readonly StreamState[]): void {
    for (let at = 0; at < states.length; at += STREAMS_PER_STATEMENT) {
      const part = states.slice(at, at + STREAMS_PER_STATEMENT);
      const upsert = this.#statement(
        `INSERT INTO stream_state (meter_id, channel, last_interval_start_ms, last_seq, seq_gaps,
           seq_regressions, current_readings, current_value_micro, commodity, unit)
         VALUES ${placeholders(part.length, STREAM_COLUMN_COUNT)}
         ON CONFLICT (meter_id, channel) DO UPDATE SET
           last_interval_start_ms = excluded.last_interval_start_ms, last_seq = excluded.last_seq,
           seq_gaps = excluded.seq_gaps, seq_regressions = excluded.seq_regressions,
           current_readings = excluded.current_readings,
           current_value_micro = excluded.current_value_micro`,
      );
      const params: unknown[] = new Array(part.length * STREAM_COLUMN_COUNT);
      part.forEach((state, index) => putStreamParams(params, index * STREAM_COLUMN_COUNT, state));
      upsert.run(...params);
    }
    for (const state of states) {
      this.#streamCache.set(`${state.meterId}|${state.channel}`, { ...state });
    }
  }

  #loadStreamStatistics(
    streams: readonly StreamRef[],
    parts: readonly number[],
  ): StreamStatistics[] {
    const rows: StreamStatistics[] = [];
    const missing: StreamRef[] = [];
    for (const stream of streams) {
      const cached = this.#statisticsCache.get(`${stream.meterId}|${stream.channel}`);
      if (cached === undefined || !parts.every((part) => cached.covered.includes(part))) {
        missing.push(stream);
      } else rows.push(cached.row);
    }
    const queried = this.#queryStreamStatistics(missing, parts);
    if (this.#statisticsCache.size + queried.length > STREAM_STATISTICS_CACHED_MAX) {
      this.#statisticsCache.clear();
    }
    for (const { row, rowid } of queried) {
      this.#statisticsCache.set(`${row.meterId}|${row.channel}`, { row, covered: parts, rowid });
      rows.push(row);
    }
    return rows;
  }

  #queryStreamStatistics(
    streams: readonly StreamRef[],
    partNumbers: readonly number[],
  ): { row: StreamStatistics; rowid: number }[] {
    const rows: { row: StreamStatistics; rowid: number }[] = [];
    for (let at = 0; at < streams.length; at += STREAMS_PER_STATEMENT) {
      const part = streams.slice(at, at + STREAMS_PER_STATEMENT);
      const select = this.#statement(
        `SELECT rowid, meter_id, channel, layout, bytes FROM stream_statistics
         WHERE (meter_id, channel) IN (VALUES ${placeholders(part.length, 2)})`,
      );
      const params: string[] = [];
      for (const stream of part) params.push(stream.meterId, stream.channel);
      const found = new Map<string, Map<number, Uint8Array>>();
      const foundParams: string[] = [];
      for (const row of select.all(params) as Row[]) {
        const meterId = row.meter_id as string;
        const channel = row.channel as string;
        const parts = new Map<number, Uint8Array>();
        found.set(`${meterId}|${channel}`, parts);
        foundParams.push(meterId, channel);
        rows.push({
          row: {
            meterId,
            channel,
            layout: row.layout as number,
            bytes: row.bytes as Uint8Array,
            parts,
          },
          rowid: row.rowid as number,
        });
      }
      if (found.size === 0) continue;
      // Parts are keyed part first (what a batch writes lies together): one lookup per part.
      const selectParts = this.#statement(
        `SELECT meter_id, channel, bytes FROM stream_statistics_parts
         WHERE part = ? AND (meter_id, channel) IN (VALUES ${placeholders(found.size, 2)})`,
      );
      for (const number of partNumbers) {
        for (const row of selectParts.all([number, ...foundParams]) as Row[]) {
          found
            .get(`${row.meter_id as string}|${row.channel as string}`)
            ?.set(number, row.bytes as Uint8Array);
        }
      }
    }
    return rows;
  }

  #saveStreamStatistics(rows: readonly StreamStatistics[]): void {
    // A head this connection loaded is rewritten by its rowid: one B-tree seek instead of an
    // insert that fails on the key's index and then updates (a batch rewrites every head it
    // touched). Heads not cached take the upsert.
    const known: [number, StreamStatistics][] = [];
    const unknown: StreamStatistics[] = [];
    for (const row of rows) {
      const cached = this.#statisticsCache.get(`${row.meterId}|${row.channel}`);
      if (cached === undefined) unknown.push(row);
      else known.push([cached.rowid, row]);
    }
    for (let at = 0; at < known.length; at += STREAMS_PER_STATEMENT) {
      const part = known.slice(at, at + STREAMS_PER_STATEMENT);
      const update = this.#statement(
        `UPDATE stream_statistics SET layout = head.column2, bytes = head.column3
         FROM (VALUES ${placeholders(part.length, 3)}) AS head
         WHERE stream_statistics.rowid = head.column1`,
      );
      const params: unknown[] = [];
      for (const [rowid, row] of part) params.push(rowid, row.layout, row.bytes);
      assert.equal(update.run(...params).changes, part.length, 'every cached head has its row');
    }
    for (let at = 0; at < unknown.length; at += STREAMS_PER_STATEMENT) {
      const part = unknown.slice(at, at + STREAMS_PER_STATEMENT);
      const upsert = this.#statement(
        `INSERT INTO stream_statistics (meter_id, channel, layout, bytes)
         VALUES ${placeholders(part.length, 4)}
         ON CONFLICT (meter_id, channel) DO UPDATE SET
           layout = excluded.layout, bytes = excluded.bytes`,
      );
      const params: unknown[] = [];
      for (const row of part) params.push(row.meterId, row.channel, row.layout, row.bytes);
      upsert.run(...params);
    }
    // Parts in key order (part first), so that the writes walk the table once.
    const parts: [number, StreamStatistics, Uint8Array][] = [];
    for (const row of rows)
      for (const [number, bytes] of row.parts ?? []) parts.push([number, row, bytes]);
    parts.sort((left, right) => left[0] - right[0]);
    for (let at = 0; at < parts.length; at += STREAMS_PER_STATEMENT) {
      const chunk = parts.slice(at, at + STREAMS_PER_STATEMENT);
      const upsert = this.#statement(
        `INSERT INTO stream_statistics_parts (part, meter_id, channel, bytes)
         VALUES ${placeholders(chunk.length, 4)}
         ON CONFLICT (part, meter_id, channel) DO UPDATE SET bytes = excluded.bytes`,
      );
      const params: unknown[] = [];
      for (const [number, row, bytes] of chunk)
        params.push(number, row.meterId, row.channel, bytes);
      upsert.run(...params);
    }
    // A cached stream stays cached with its new head and parts; one not cached is read back when
    // next needed (its other stored parts are not known here).
    for (const row of rows) {
      const key = `${row.meterId}|${row.channel}`;
      const cached = this.#statisticsCache.get(key);
      if (cached === undefined) continue;
      const merged = new Map(cached.row.parts ?? []);
      for (const [number, bytes] of row.parts ?? []) merged.set(number, bytes);
      this.#statisticsCache.set(key, {
        row: { ...row, parts: merged },
        covered: cached.covered,
        rowid: cached.rowid,
      });
    }
  }

  #findIntervalVersions(intervals: readonly IntervalRef[]): LedgerRow[] {
    const rows: LedgerRow[] = [];
    const select = this.#statement(
      `SELECT * FROM ledger WHERE interval_start_ms = ? AND meter_id = ? AND channel = ?
       ORDER BY version`,
    );
    for (const interval of intervals) {
      for (const row of select.all(interval.intervalStartMs, interval.meterId, interval.channel)) {
        rows.push(ledgerFrom(row as Row));
      }
    }
    return rows;
  }

  #findHeldReadings(keys: readonly string[]): Reading[] {
    const readings = new Map<string, Reading>();
    for (let at = 0; at < keys.length; at += STREAMS_PER_STATEMENT) {
      const part = keys.slice(at, at + STREAMS_PER_STATEMENT);
      const select = this.#statement(
        `SELECT reading FROM anomalies
         WHERE json_extract(reading, '$.idempotencyKey') IN (${placeholders(part.length, 1)})
         ORDER BY id`,
      );
      for (const row of select.all(part) as Row[]) {
        const reading = JSON.parse(row.reading as string) as Reading;
        if (!readings.has(reading.idempotencyKey)) readings.set(reading.idempotencyKey, reading);
      }
    }
    return [...readings.values()];
  }

  /**
   * Rows go in in meter order (see inMeterOrder), so the row ids of one batch are contiguous but
   * follow the meter index, not the batch position; readers that need batch order sort by it.
   */
  #insertLedgerRows(batchRows: readonly LedgerRow[], memo: TransactionMemo): void {
    const rows = inMeterOrder(batchRows, meterOfRow);
    const insert = this.#statement(ledgerInsertSql(1));
    const params: unknown[] = new Array(LEDGER_COLUMN_COUNT);
    for (const row of rows) {
      putLedgerParams(params, 0, row);
      // Row ids are max(id) + 1 each, and rows are never deleted: a batch's ids are contiguous.
      const id = Number(insert.run(...params).lastInsertRowid);
      memo.ledgerFirstId ??= id;
      memo.ledgerLastId = id;
    }
  }

  #insertQuarantineRows(rows: readonly QuarantineInsert[], format: string, atMs: number): number[] {
    const insert = this.#statement(
      `INSERT INTO quarantine (delivery_id, batch_id, batch_position, record_index, line, byte_offset,
         byte_length, violations, first_code, meter_id, idempotency_key, related_idempotency_key,
         uncounted_span, raw_sha256, format, created_at_ms, status, current_violations)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?)`,
    );
    const ids: number[] = [];
    for (const row of rows) {
      const violations = JSON.stringify(row.violations);
      const result = insert.run(
        row.deliveryId,
        row.batchId,
        row.batchPosition,
        row.location.recordIndex,
        row.location.line,
        row.location.byteOffset,
        row.location.byteLength,
        violations,
        row.violations[0]?.code ?? 'unknown',
        row.meterId,
        row.idempotencyKey,
        row.relatedIdempotencyKey,
        row.uncountedSpan ? 1 : 0,
        row.rawSha256,
        format,
        atMs,
        violations,
      );
      ids.push(Number(result.lastInsertRowid));
    }
    return ids;
  }

  #insertAnomalies(rows: readonly AnomalyInsert[]): void {
    const insert = this.#statement(
      'INSERT INTO anomalies (batch_id, batch_position, reading, findings) VALUES (?, ?, ?, ?)',
    );
    for (const row of rows) {
      insert.run(
        row.batchId,
        row.batchPosition,
        JSON.stringify(row.reading),
        JSON.stringify(row.findings),
      );
    }
  }

  #insertSequenceEvents(events: readonly SequenceEvent[]): void {
    const insert = this.#statement(
      `INSERT INTO sequence_events (meter_id, channel, kind, expected_seq, received_seq,
         interval_start_ms, batch_id) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    for (const event of events) {
      insert.run(
        event.meterId,
        event.channel,
        event.kind,
        event.expectedSeq,
        event.receivedSeq,
        event.intervalStartMs,
        event.batchId,
      );
    }
  }

  #insertBatch(batch: BatchInsert, memo: TransactionMemo): void {
    const counts = batch.counts;
    this.#statement(
      `INSERT INTO batches (id, delivery_id, source_id, kind, received, accepted, duplicates,
         quarantined, conflicts, anomaly_held, dead_lettered, revisions, ledger_root, quarantine_root,
         byte_offset, byte_length, committed_at_ms, audit_seq, ledger_first_id, ledger_last_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      batch.id,
      batch.deliveryId,
      batch.sourceId,
      batch.kind,
      counts.received,
      counts.accepted,
      counts.duplicates,
      counts.quarantined,
      counts.conflicts,
      counts.anomalyHeld,
      counts.deadLettered,
      counts.revisions,
      batch.ledgerRoot,
      batch.quarantineRoot,
      batch.byteOffset,
      batch.byteLength,
      batch.committedAtMs,
      batch.auditSeq,
      memo.ledgerFirstId,
      memo.ledgerLastId,
    );
    memo.ledgerFirstId = null;
    memo.ledgerLastId = null;
  }

  #addDeliveryCounts(deliveryId: string, counts: BatchCounts): void {
    this.#statement(
      `UPDATE deliveries SET received = received + ?, accepted = accepted + ?,
         duplicates = duplicates + ?, quarantined = quarantined + ?, conflicts = conflicts + ?,
         anomaly_held = anomaly_held + ?, dead_lettered = dead_lettered + ?,
         revisions = revisions + ? WHERE id = ?`,
    ).run(
      counts.received,
      counts.accepted,
      counts.duplicates,
      counts.quarantined,
      counts.conflicts,
      counts.anomalyHeld,
      counts.deadLettered,
      counts.revisions,
      deliveryId,
    );
  }

  #getQuarantine(id: number): QuarantineRow | null {
    const row = this.#statement(`${QUARANTINE_SELECT} WHERE q.id = ?`).get(id) as Row | undefined;
    return row === undefined ? null : quarantineFrom(row);
  }

  #findOpenQuarantineByRaw(rawSha256s: readonly string[]): OpenQuarantineMatch[] {
    const select = this.#statement(
      `SELECT id, raw_sha256, violations, current_violations, delivery_id, byte_offset
       FROM quarantine WHERE raw_sha256 = ? AND status = 'open' ORDER BY id`,
    );
    const matches: OpenQuarantineMatch[] = [];
    for (const rawSha256 of new Set(rawSha256s)) {
      for (const row of select.all(rawSha256) as Row[]) {
        matches.push({
          id: row.id as number,
          rawSha256: row.raw_sha256 as string,
          violationsJson: row.violations as string,
          currentViolationsJson: row.current_violations as string,
          deliveryId: row.delivery_id as string,
          byteOffset: row.byte_offset as number,
        });
      }
    }
    return matches;
  }

  #insertQuarantineRepeats(rows: readonly QuarantineRepeatInsert[]): void {
    const insert = this.#statement(
      `INSERT INTO quarantine_repeats (quarantine_id, delivery_id, batch_id, batch_position,
         record_index, line, byte_offset, byte_length, raw_sha256, created_at_ms)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    for (const row of rows) {
      insert.run(
        row.quarantineId,
        row.deliveryId,
        row.batchId,
        row.batchPosition,
        row.location.recordIndex,
        row.location.line,
        row.location.byteOffset,
        row.location.byteLength,
        row.rawSha256,
        row.atMs,
      );
    }
  }

  /** Deliveries in progress and not marked interrupted, of one source or of all, oldest first. */
  #unfinishedDeliveries(sourceId: string | null): DeliveryRow[] {
    const rows = this.#statement(
      `${DELIVERY_SELECT} WHERE d.status = 'in-progress' AND i.delivery_id IS NULL
       AND (@sourceId IS NULL OR d.source_id = @sourceId) ORDER BY d.started_at_ms, d.id`,
    ).all({ sourceId }) as Row[];
    return rows.map((row) => deliveryFrom(row, this.#self));
  }

  #insertQuarantineAction(action: QuarantineActionInsert): void {
    this.#statement(
      `INSERT INTO quarantine_actions (quarantine_id, action, outcome, actor, justification,
         violations, batch_id, at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      action.quarantineId,
      action.action,
      action.outcome,
      action.actor,
      action.justification,
      JSON.stringify(action.violations),
      action.batchId,
      action.atMs,
    );
  }

  async createDelivery(delivery: DeliveryInsert): Promise<void> {
    await this.transaction(async () => {
      const interrupted = this.#statement(
        `SELECT d.id FROM deliveries d JOIN delivery_interruptions i ON i.delivery_id = d.id
         WHERE d.source_id = ? AND d.name = ?
           AND NOT EXISTS (SELECT 1 FROM deliveries n WHERE n.redelivers = d.id)
         ORDER BY d.started_at_ms DESC, d.id DESC LIMIT 1`,
      ).get(delivery.sourceId, delivery.name) as { id: string } | undefined;
      const owner = this.#self;
      this.#statement(
        `INSERT INTO deliveries (id, source_id, name, format, format_context, started_at_ms, status,
           owner_host, owner_pid, owner_started_at_ms, redelivers, transport_id, attempt, metadata,
           partition_key)
         VALUES (?, ?, ?, ?, ?, ?, 'in-progress', ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        delivery.id,
        delivery.sourceId,
        delivery.name,
        delivery.format,
        JSON.stringify(delivery.formatContext),
        delivery.startedAtMs,
        owner.host,
        owner.pid,
        owner.processStartedAtMs,
        interrupted?.id ?? null,
        delivery.transportId ?? null,
        delivery.attempt ?? 1,
        JSON.stringify(delivery.metadata ?? {}),
        delivery.partitionKey ?? null,
      );
    });
  }

  async putRawChunk(deliveryId: string, byteOffset: number, bytes: Uint8Array): Promise<string> {
    return this.transaction(async () => this.#putRawChunk(deliveryId, byteOffset, bytes));
  }

  async finishDelivery(
    deliveryId: string,
    sha256: string,
    sizeBytes: number,
    atMs: number,
  ): Promise<void> {
    await this.transaction(async () => {
      this.#finishDelivery(deliveryId, sha256, sizeBytes, atMs);
    });
  }

  #finishDelivery(
    deliveryId: string,
    sha256: string,
    sizeBytes: number,
    atMs: number,
  ): { firstDeliveryId: string | null } {
    const self = this.#statement('SELECT source_id, transport_id FROM deliveries WHERE id = ?').get(
      deliveryId,
    ) as { source_id: string; transport_id: string | null } | undefined;
    let firstDeliveryId: string | null = null;
    if (self !== undefined) {
      const first = this.#statement(
        `SELECT id FROM deliveries
         WHERE source_id = ? AND status = 'complete' AND id <> ?
           AND ((? IS NOT NULL AND transport_id = ?) OR sha256 = ?)
         ORDER BY finished_at_ms, id LIMIT 1`,
      ).get(self.source_id, deliveryId, self.transport_id, self.transport_id, sha256) as
        { id: string } | undefined;
      firstDeliveryId = first?.id ?? null;
    }
    this.#statement(
      `UPDATE deliveries SET status = 'complete', sha256 = ?, size_bytes = ?, finished_at_ms = ?,
         first_delivery_id = ?
       WHERE id = ?`,
    ).run(sha256, sizeBytes, atMs, firstDeliveryId, deliveryId);
    return { firstDeliveryId };
  }

  async listBreakerStates(): Promise<BreakerStateRow[]> {
    return selectBreakers((sql) => this.#statement(sql));
  }

  async addApiToken(token: ApiTokenInsert): Promise<void> {
    await this.transaction(async () => insertApiToken((sql) => this.#statement(sql), token));
  }

  async listApiTokens(): Promise<ApiTokenRow[]> {
    return selectApiTokens((sql) => this.#statement(sql));
  }

  async findApiTokenById(tokenId: string): Promise<ApiTokenRow | null> {
    return selectApiTokenById((sql) => this.#statement(sql), tokenId);
  }

  async revokeApiToken(name: string, atMs: number): Promise<boolean> {
    return this.transaction(async () =>
      markApiTokenRevoked((sql) => this.#statement(sql), name, atMs),
    );
  }

  async addVendor(vendor: VendorInsert): Promise<void> {
    await this.transaction(async () => insertVendor((sql) => this.#statement(sql), vendor));
  }

  async listVendors(): Promise<VendorRow[]> {
    return selectVendors((sql) => this.#statement(sql));
  }

  async findVendorByKeyId(keyId: string): Promise<VendorRow | null> {
    return selectVendorBy((sql) => this.#statement(sql), 'key_id', keyId);
  }

  async findVendorByName(name: string): Promise<VendorRow | null> {
    return selectVendorBy((sql) => this.#statement(sql), 'name', name);
  }

  async revokeVendor(name: string, atMs: number): Promise<boolean> {
    return this.transaction(async () =>
      markVendorRevoked((sql) => this.#statement(sql), name, atMs),
    );
  }

  async findDeliveryByTransportId(
    sourceId: string,
    transportId: string,
  ): Promise<DeliveryRow | null> {
    const row = this.#statement(
      `${DELIVERY_SELECT} WHERE d.source_id = ? AND d.transport_id = ? AND d.status = 'complete'
       ORDER BY d.finished_at_ms, d.id LIMIT 1`,
    ).get(sourceId, transportId) as Row | undefined;
    return row === undefined ? null : deliveryFrom(row, this.#self);
  }

  async listSourceSummaries(): Promise<SourceSummaryRow[]> {
    const rows = this.#statement(
      `SELECT d.source_id, sum(d.status = 'complete') AS complete,
         sum(d.status = 'in-progress') AS unfinished, max(d.finished_at_ms) AS last_finished_at_ms,
         sum(d.received) AS received, sum(d.accepted) AS accepted,
         sum(d.duplicates) AS duplicates, sum(d.quarantined) AS quarantined,
         sum(d.conflicts) AS conflicts, sum(d.anomaly_held) AS anomaly_held,
         sum(d.dead_lettered) AS dead_lettered, sum(d.revisions) AS revisions,
         p.saved_at_ms AS position_saved_at_ms
       FROM deliveries d LEFT JOIN source_positions p ON p.source_id = d.source_id
       GROUP BY d.source_id ORDER BY d.source_id`,
    ).all() as Row[];
    return rows.map((row) => ({
      sourceId: row.source_id as string,
      complete: row.complete as number,
      unfinished: row.unfinished as number,
      lastFinishedAtMs: (row.last_finished_at_ms as number | null) ?? null,
      counts: countsFrom(row),
      positionSavedAtMs: (row.position_saved_at_ms as number | null) ?? null,
    }));
  }

  async loadSourcePosition(sourceId: string): Promise<SourcePositionRow | null> {
    const row = this.#statement(
      'SELECT source_id, position, delivery_id, saved_at_ms FROM source_positions WHERE source_id = ?',
    ).get(sourceId) as Row | undefined;
    if (row === undefined) return null;
    return {
      sourceId: row.source_id as string,
      position: row.position as string,
      deliveryId: row.delivery_id as string,
      savedAtMs: row.saved_at_ms as number,
    };
  }

  async getDelivery(id: string): Promise<DeliveryRow | null> {
    const row = this.#statement(`${DELIVERY_SELECT} WHERE d.id = ?`).get(id) as Row | undefined;
    return row === undefined ? null : deliveryFrom(row, this.#self);
  }

  async listDeliveries(limit: number): Promise<DeliveryRow[]> {
    return (
      this.#statement(`${DELIVERY_SELECT} ORDER BY d.started_at_ms DESC, d.id LIMIT ?`).all(
        limit,
      ) as Row[]
    ).map((row) => deliveryFrom(row, this.#self));
  }

  /**
   * A raw chunk's bytes by content hash. A chunk never changes once stored, so the few read last
   * are kept: replaying or showing the quarantined records of one delivery reads them from the
   * same chunks, and each read used to fetch a whole chunk of up to RAW_CHUNK_BYTES_MAX bytes.
   */
  #rawChunk(sha256: string): Buffer {
    // Any write since the last read empties the cache: another connection's (data_version) or
    // this one's (total_changes), an operator's or an attacker's with file access. What audit
    // verify and quarantine show read is always what the database holds.
    const writes = this.#statement(
      'SELECT (SELECT data_version FROM pragma_data_version) AS other, total_changes() AS own',
    ).get() as { other: number; own: number };
    const version = `${writes.other}:${writes.own}`;
    if (version !== this.#rawChunkVersion) this.#rawChunkCache.clear();
    this.#rawChunkVersion = version;
    const cached = this.#rawChunkCache.get(sha256);
    if (cached !== undefined) {
      this.#rawChunkCache.delete(sha256);
      this.#rawChunkCache.set(sha256, cached);
      return cached;
    }
    const row = this.#statement('SELECT bytes FROM raw_chunks WHERE sha256 = ?').get(sha256) as
      { bytes: Buffer } | undefined;
    if (row === undefined) return Buffer.alloc(0);
    const bytes = row.bytes;
    if (this.#rawChunkCache.size >= RAW_CHUNKS_CACHED_MAX) {
      const oldest = this.#rawChunkCache.keys().next().value;
      if (oldest !== undefined) this.#rawChunkCache.delete(oldest);
    }
    this.#rawChunkCache.set(sha256, bytes);
    return bytes;
  }

  async readDeliveryBytes(
    deliveryId: string,
    byteOffset: number,
    byteLength: number,
  ): Promise<Uint8Array> {
    const end = byteOffset + byteLength;
    const chunks = this.#statement(
      `SELECT byte_offset, byte_length, chunk_sha256 FROM delivery_chunks
       WHERE delivery_id = ? AND byte_offset < ? AND byte_offset + byte_length > ?
       ORDER BY byte_offset`,
    ).all(deliveryId, end, byteOffset) as {
      byte_offset: number;
      byte_length: number;
      chunk_sha256: string;
    }[];
    const out = Buffer.alloc(byteLength);
    let filled = 0;
    for (const chunk of chunks) {
      const bytes = this.#rawChunk(chunk.chunk_sha256);
      const from = Math.max(byteOffset, chunk.byte_offset);
      const to = Math.min(end, chunk.byte_offset + chunk.byte_length);
      bytes.copy(out, from - byteOffset, from - chunk.byte_offset, to - chunk.byte_offset);
      filled += to - from;
    }
    if (filled !== byteLength) {
      throw new AmisyncError(
        'NOT_FOUND',
        `raw bytes ${byteOffset}..${end} of delivery ${deliveryId} are not in the raw store`,
      );
    }
    return out;
  }

  async storedDeliveryBytes(deliveryId: string): Promise<number> {
    const row = this.#statement(
      `SELECT coalesce(max(byte_offset + byte_length), 0) AS stored
       FROM delivery_chunks WHERE delivery_id = ?`,
    ).get(deliveryId) as { stored: number };
    return row.stored;
  }

  async status(): Promise<StoreStatus> {
    const sums = this.#statement(
      `SELECT coalesce(sum(received), 0) AS received, coalesce(sum(accepted), 0) AS accepted,
         coalesce(sum(duplicates), 0) AS duplicates, coalesce(sum(quarantined), 0) AS quarantined,
         coalesce(sum(conflicts), 0) AS conflicts, coalesce(sum(anomaly_held), 0) AS anomaly_held,
         coalesce(sum(dead_lettered), 0) AS dead_lettered, coalesce(sum(revisions), 0) AS revisions
       FROM batches WHERE (kind = 'ingest') = ?`,
    );
    const totals = countsFrom(sums.get(1) as Row);
    // A dead letter is one received unit that no batch holds: counted once, as dead-lettered.
    const deadLetters = countDeadLetters((sql) => this.#statement(sql));
    const deadLettered = deadLetters.open + deadLetters.replayed + deadLetters.discarded;
    totals.received += deadLettered;
    totals.deadLettered += deadLettered;
    const operatorTotals = countsFrom(sums.get(0) as Row);
    const batchCount = (this.#statement('SELECT count(*) AS n FROM batches').get() as Row)
      .n as number;
    const ledgerStatement = this.#statement(
      `SELECT coalesce(sum(current_readings), 0) AS readings,
         coalesce(sum(current_value_micro), 0) AS energy, count(*) AS streams,
         coalesce(sum(seq_gaps), 0) AS gaps, coalesce(sum(seq_regressions), 0) AS regressions,
         coalesce(sum(seq_gaps > 0), 0) AS streams_with_gaps
       FROM stream_state`,
    );
    const ledger = ledgerStatement.safeIntegers(true).get() as Record<string, bigint>;
    ledgerStatement.safeIntegers(false);
    const byUnit = this.#unitTotals(
      `SELECT commodity, unit, sum(current_readings) AS readings,
         sum(current_value_micro) AS value FROM stream_state
       GROUP BY commodity, unit HAVING sum(current_readings) > 0 ORDER BY commodity, unit`,
    );
    const byChannel = this.#unitTotals(
      `SELECT channel, commodity, unit, sum(current_readings) AS readings,
         sum(current_value_micro) AS value FROM stream_state
       GROUP BY commodity, unit, channel HAVING sum(current_readings) > 0
       ORDER BY commodity, unit, channel`,
    ).map((total) => ({ ...total, channel: total.channel as string }));
    const versions = totals.accepted + operatorTotals.accepted;
    const quarantine: Record<QuarantineStatus, number> = {
      open: 0,
      replayed: 0,
      accepted: 0,
      rejected: 0,
    };
    for (const row of this.#statement(
      'SELECT status, count(*) AS n FROM quarantine GROUP BY status',
    ).all() as Row[]) {
      quarantine[row.status as QuarantineStatus] = row.n as number;
    }
    const complete = (
      this.#statement(`SELECT count(*) AS n FROM deliveries WHERE status = 'complete'`).get() as Row
    ).n as number;
    // Unfinished deliveries are few (one per live or dead process); each is judged by its owner.
    const unfinished = (
      this.#statement(`${DELIVERY_SELECT} WHERE d.status = 'in-progress'`).all() as Row[]
    ).map((row) => deliveryFrom(row, this.#self));
    const running = unfinished.filter((delivery) => delivery.status === 'running').length;
    const repeats = (this.#statement('SELECT count(*) AS n FROM quarantine_repeats').get() as Row)
      .n as number;
    const audit = this.#statement('SELECT count(*) AS n FROM audit_log').get() as Row;
    const checkpoint = this.#statement(
      'SELECT * FROM checkpoints ORDER BY id DESC LIMIT 1',
    ).get() as Row | undefined;
    return {
      totals,
      operatorTotals,
      ledger: {
        readings: Number(ledger.readings),
        energyMilliWh: kwhOf(byUnit),
        byUnit,
        byChannel,
        versions,
        streams: Number(ledger.streams),
      },
      quarantine,
      deliveries: { complete, running, interrupted: unfinished.length - running },
      quarantineRepeats: repeats,
      sequence: {
        gaps: Number(ledger.gaps),
        regressions: Number(ledger.regressions),
        streamsWithGaps: Number(ledger.streams_with_gaps),
      },
      batches: batchCount,
      auditEntries: audit.n as number,
      lastCheckpoint: checkpoint === undefined ? null : checkpointFrom(checkpoint),
      deadLetters,
    };
  }

  async listQuarantine(filter: QuarantineFilter): Promise<QuarantineRow[]> {
    const clauses: string[] = ['id > ?'];
    const params: unknown[] = [filter.afterId ?? 0];
    if (filter.status !== undefined) {
      clauses.push('status = ?');
      params.push(filter.status);
    }
    if (filter.deliveryId !== undefined) {
      clauses.push('delivery_id = ?');
      params.push(filter.deliveryId);
    }
    if (filter.code !== undefined) {
      clauses.push('first_code = ?');
      params.push(filter.code);
    }
    params.push(filter.limit);
    const sql = `${QUARANTINE_SELECT} WHERE ${clauses.join(' AND ')} ORDER BY id LIMIT ?`;
    return (this.db.prepare(sql).all(...params) as Row[]).map(quarantineFrom);
  }

  async getQuarantine(id: number): Promise<QuarantineRow | null> {
    return this.#getQuarantine(id);
  }

  async listQuarantineActions(quarantineId: number): Promise<QuarantineActionInsert[]> {
    return (
      this.#statement('SELECT * FROM quarantine_actions WHERE quarantine_id = ? ORDER BY id').all(
        quarantineId,
      ) as Row[]
    ).map((row) => ({
      quarantineId: row.quarantine_id as number,
      action: row.action as QuarantineActionInsert['action'],
      outcome: row.outcome as QuarantineStatus,
      actor: row.actor as string,
      justification: row.justification as string,
      violations: JSON.parse(row.violations as string) as Violation[],
      batchId: (row.batch_id as number | null) ?? null,
      atMs: row.at_ms as number,
    }));
  }

  async listSequenceEvents(limit: number): Promise<SequenceEvent[]> {
    return (
      this.#statement('SELECT * FROM sequence_events ORDER BY id DESC LIMIT ?').all(limit) as Row[]
    ).map((row) => ({
      meterId: row.meter_id as string,
      channel: row.channel as string,
      kind: row.kind as SequenceEvent['kind'],
      expectedSeq: row.expected_seq as number,
      receivedSeq: row.received_seq as number,
      intervalStartMs: row.interval_start_ms as number,
      batchId: row.batch_id as number,
    }));
  }

  async listAnomalies(filter: AnomalyFilter): Promise<AnomalyRow[]> {
    return selectAnomalies((sql) => this.#statement(sql), filter);
  }

  async getAnomaly(id: number): Promise<AnomalyRow | null> {
    return selectAnomaly((sql) => this.#statement(sql), id);
  }

  async listDeadLetters(filter: DeadLetterFilter): Promise<DeadLetterRow[]> {
    return selectDeadLetters((sql) => this.#statement(sql), filter);
  }

  async getDeadLetter(id: number): Promise<DeadLetterRow | null> {
    return selectDeadLetter((sql) => this.#statement(sql), id);
  }

  async anomalyBacklog(): Promise<AnomalyBacklog> {
    return selectAnomalyBacklog((sql) => this.#statement(sql));
  }

  async discrepancyFigures(query: DiscrepancyQuery): Promise<DiscrepancyFigures> {
    return selectDiscrepancyFigures((sql) => this.#statement(sql), query);
  }

  async streamSeries(query: StreamSeriesQuery): Promise<SeriesPoint[]> {
    return selectStreamSeries((sql) => this.#statement(sql), query);
  }

  iterateArrivals(query: ArrivalQuery): AsyncIterable<ArrivalRow[]> {
    return this.#iterate(ARRIVALS_SQL, arrivalFrom, arrivalParams(query));
  }

  async listSlaAlerts(sourceIds: readonly string[]): Promise<SlaAlertRow[]> {
    return selectSlaAlerts((sql) => this.#statement(sql), sourceIds);
  }

  async *#iterate<T>(
    sql: string,
    map: (row: Row) => T,
    params: unknown[] = [],
  ): AsyncIterable<T[]> {
    // Keyset paging would need a per-query cursor column; a dedicated read connection with
    // iterate() streams in constant memory and sees one consistent snapshot.
    const reader = new Database(this.db.name, { readonly: true, fileMustExist: true });
    try {
      let page: T[] = [];
      for (const row of reader.prepare(sql).iterate(...params)) {
        page.push(map(row as Row));
        if (page.length >= ITERATE_ROWS_PER_STEP) {
          yield page;
          page = [];
        }
      }
      if (page.length > 0) yield page;
    } finally {
      reader.close();
    }
  }

  iterateCurrentLedger(): AsyncIterable<LedgerRow[]> {
    return this.#iterate(
      `SELECT * FROM ledger l WHERE NOT EXISTS (
         SELECT 1 FROM ledger n WHERE n.interval_start_ms = l.interval_start_ms
           AND n.meter_id = l.meter_id AND n.channel = l.channel AND n.version > l.version)
       ORDER BY interval_start_ms, meter_id, channel`,
      ledgerFrom,
    );
  }

  iterateCurrentLedgerSpan(span: LedgerSpan): AsyncIterable<LedgerRow[]> {
    // The interval index bounds the scan to the span; meters are filtered on the way.
    const meters =
      span.meterIds === null ? '' : 'AND l.meter_id IN (SELECT value FROM json_each(?))';
    const params: unknown[] = [span.fromMs, span.toMs];
    if (span.meterIds !== null) params.push(JSON.stringify(span.meterIds));
    return this.#iterate(
      `SELECT * FROM ledger l WHERE l.interval_start_ms >= ? AND l.interval_start_ms < ? ${meters}
         AND NOT EXISTS (
         SELECT 1 FROM ledger n WHERE n.interval_start_ms = l.interval_start_ms
           AND n.meter_id = l.meter_id AND n.channel = l.channel AND n.version > l.version)
       ORDER BY interval_start_ms, meter_id, channel`,
      ledgerFrom,
      params,
    );
  }

  iterateLedgerByBatch(): AsyncIterable<LedgerRow[]> {
    // Batches write contiguous row ids in meter order (inMeterOrder), so row id order is batch
    // order and each batch's run is put in batch-position order.
    return inBatchPositionOrder(this.#iterate('SELECT * FROM ledger ORDER BY id', ledgerFrom));
  }

  async findLedgerRowsByKey(idempotencyKey: string): Promise<LedgerRow[]> {
    // The key is deliberately not indexed (see migrations.ts); proving one reading scans the
    // ledger.
    return (
      this.#statement('SELECT * FROM ledger WHERE idempotency_key = ? ORDER BY version').all(
        idempotencyKey,
      ) as Row[]
    ).map(ledgerFrom);
  }

  async recomputeLedgerTotals(): Promise<{ readings: number; byUnit: UnitTotal[] }> {
    const byUnit = this.#unitTotals(
      `SELECT commodity, unit, count(*) AS readings, sum(value_micro) AS value FROM ledger l
       WHERE NOT EXISTS (SELECT 1 FROM ledger n WHERE n.interval_start_ms = l.interval_start_ms
         AND n.meter_id = l.meter_id AND n.channel = l.channel AND n.version > l.version)
       GROUP BY commodity, unit ORDER BY commodity, unit`,
    );
    return { readings: byUnit.reduce((sum, total) => sum + total.readings, 0), byUnit };
  }

  /** Runs a query of (commodity, unit, readings, value) rows, summing values exactly. */
  /** Totals from rows of commodity, unit, readings and value, and channel when it is selected. */
  #unitTotals(sql: string): (UnitTotal & { channel?: string })[] {
    const statement = this.db.prepare(sql).safeIntegers(true);
    return (statement.all() as Record<string, bigint | string>[]).map((row) => ({
      ...(row.channel === undefined ? {} : { channel: row.channel as string }),
      commodity: row.commodity as Commodity,
      unit: row.unit as Unit,
      readings: Number(row.readings),
      valueMicro: BigInt(row.value ?? 0n),
    }));
  }

  async ledgerRowsOfBatch(batchId: number): Promise<LedgerRow[]> {
    const span = this.#statement(
      'SELECT ledger_first_id AS first, ledger_last_id AS last FROM batches WHERE id = ?',
    ).get(batchId) as { first: number | null; last: number | null } | undefined;
    if (span === undefined || span.first === null || span.last === null) return [];
    return (
      this.#statement(
        `SELECT * FROM ledger WHERE id BETWEEN ? AND ? AND batch_id = ? ORDER BY batch_position`,
      ).all(span.first, span.last, batchId) as Row[]
    ).map(ledgerFrom);
  }

  async quarantineRowsOfBatch(batchId: number): Promise<QuarantineRow[]> {
    return (
      this.#statement(`${QUARANTINE_SELECT} WHERE q.batch_id = ? ORDER BY q.batch_position`).all(
        batchId,
      ) as Row[]
    ).map(quarantineFrom);
  }

  async quarantineRepeatsOfBatch(batchId: number): Promise<QuarantineRepeatInsert[]> {
    return (
      this.#statement(
        'SELECT * FROM quarantine_repeats WHERE batch_id = ? ORDER BY batch_position',
      ).all(batchId) as Row[]
    ).map(repeatFrom);
  }

  async quarantineRepeatsOf(quarantineId: number): Promise<QuarantineRepeatInsert[]> {
    return (
      this.#statement('SELECT * FROM quarantine_repeats WHERE quarantine_id = ? ORDER BY id').all(
        quarantineId,
      ) as Row[]
    ).map(repeatFrom);
  }

  async anomalyRowsOfBatch(batchId: number): Promise<AnomalyInsert[]> {
    return (
      this.#statement('SELECT * FROM anomalies WHERE batch_id = ? ORDER BY batch_position').all(
        batchId,
      ) as Row[]
    ).map((row) => ({
      batchId: row.batch_id as number,
      batchPosition: row.batch_position as number,
      reading: JSON.parse(row.reading as string) as AnomalyInsert['reading'],
      findings: JSON.parse(row.findings as string) as AnomalyInsert['findings'],
    }));
  }

  iterateBatches(): AsyncIterable<BatchRow[]> {
    return this.#iterate('SELECT * FROM batches ORDER BY id', batchFrom);
  }

  async getBatch(id: number): Promise<BatchRow | null> {
    const row = this.#statement('SELECT * FROM batches WHERE id = ?').get(id) as Row | undefined;
    return row === undefined ? null : batchFrom(row);
  }

  iterateAuditEntries(): AsyncIterable<AuditEntryRow[]> {
    return this.#iterate('SELECT * FROM audit_log ORDER BY seq', auditFrom);
  }

  async getAuditEntry(seq: number): Promise<AuditEntryRow | null> {
    const row = this.#statement('SELECT * FROM audit_log WHERE seq = ?').get(seq) as
      Row | undefined;
    return row === undefined ? null : auditFrom(row);
  }

  async latestAuditEntryOfKind(kind: string): Promise<AuditEntryRow | null> {
    const row = this.#statement(
      'SELECT * FROM audit_log WHERE kind = ? ORDER BY seq DESC LIMIT 1',
    ).get(kind) as Row | undefined;
    return row === undefined ? null : auditFrom(row);
  }

  async listCheckpoints(newest?: number): Promise<CheckpointRow[]> {
    if (newest === undefined) {
      return (this.#statement('SELECT * FROM checkpoints ORDER BY id').all() as Row[]).map(
        checkpointFrom,
      );
    }
    const rows = this.#statement('SELECT * FROM checkpoints ORDER BY id DESC LIMIT ?').all(
      Math.max(0, Math.floor(newest)),
    ) as Row[];
    return rows.reverse().map(checkpointFrom);
  }

  /**
   * WAL checkpoints on a thread of their own (wal-checkpoint-worker.ts) until `close()`: the
   * committing connection then checkpoints only as a backstop, when the WAL passes
   * WAL_BACKSTOP_PAGES because that thread fell behind, so the WAL stays bounded. If the thread
   * fails, the connection checkpoints as before. In-memory and read-only stores have nothing to do.
   */
  upkeepInBackground(): void {
    if (this.#checkpointer !== null || this.db.memory || this.db.readonly) return;
    const worker = new Worker(checkpointWorkerUrl(), {
      workerData: { path: this.db.name, intervalMs: CHECKPOINT_INTERVAL_MS },
    });
    worker.unref();
    worker.on('error', () => {
      if (this.#checkpointer === worker) this.#checkpointer = null;
      if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_DEFAULT_PAGES}`);
    });
    this.db.pragma(`wal_autocheckpoint = ${WAL_BACKSTOP_PAGES}`);
    this.#checkpointer = worker;
  }

  async close(): Promise<void> {
    await this.#queue;
    const checkpointer = this.#checkpointer;
    this.#checkpointer = null;
    if (checkpointer !== null) {
      const exited = once(checkpointer, 'exit');
      // Held, so that the process waits for the thread to close its connection.
      checkpointer.ref();
      checkpointer.postMessage('stop');
      await exited.catch(() => undefined);
    }
    this.db.close();
  }

  async listControls(): Promise<ControlRow[]> {
    if (!this.#hasControls()) return [];
    return selectCurrentControls((sql) => this.#statement(sql));
  }

  async listControlHistory(): Promise<ControlRow[]> {
    if (!this.#hasControls()) return [];
    return selectControlHistory((sql) => this.#statement(sql));
  }

  async listMeterStreams(meterId: string): Promise<MeterStreamRow[]> {
    return selectMeterStreams((sql) => this.#statement(sql), streamFrom, meterId);
  }

  async listLedgerRange(query: LedgerRangeQuery): Promise<LedgerRangeRow[]> {
    // Four texts at most (with or without a channel, with or without a cursor): cached.
    return selectLedgerRange((sql) => this.#statement(sql), ledgerFrom, query);
  }

  async listIntervalVersions(interval: IntervalRef): Promise<LedgerRangeRow[]> {
    return selectIntervalVersions((sql) => this.#statement(sql), ledgerFrom, interval);
  }

  async listQuarantineOfMeter(meterId: string, limit: number): Promise<QuarantineRow[]> {
    return (
      this.#statement(`${QUARANTINE_SELECT} WHERE meter_id = ? ORDER BY id DESC LIMIT ?`).all(
        meterId,
        limit,
      ) as Row[]
    ).map(quarantineFrom);
  }

  async worklistCounts(): Promise<WorklistCounts> {
    const row = this.#statement(WORKLIST_COUNTS_SQL).get() as Record<string, number>;
    return {
      quarantineOpen: row.quarantine_open as number,
      anomaliesHeld: row.anomalies_held as number,
      deadLettersOpen: row.dead_letters_open as number,
      auditEntries: row.audit_entries as number,
    };
  }

  async listDeliveryPage(filter: DeliveryPageFilter): Promise<DeliveryPageRow[]> {
    const clauses = ['d.rowid < ?'];
    const params: unknown[] = [filter.before ?? Number.MAX_SAFE_INTEGER];
    if (filter.sourceId !== undefined) {
      clauses.push('d.source_id = ?');
      params.push(filter.sourceId);
    }
    params.push(filter.limit);
    // Creation order is the rowid's (deliveries are never deleted); the source index holds it.
    const sql = `SELECT d.rowid AS page_position, d.*, i.at_ms AS interrupted_at_ms,
       (SELECT group_concat(n.id, ' ') FROM deliveries n WHERE n.redelivers = d.id) AS redelivered_by
       FROM deliveries d LEFT JOIN delivery_interruptions i ON i.delivery_id = d.id
       WHERE ${clauses.join(' AND ')} ORDER BY d.rowid DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...params) as Row[]).map((row) => ({
      position: row.page_position as number,
      delivery: deliveryFrom(row, this.#self),
    }));
  }

  /**
   * A read-only view of a database that no writer has brought to the controls migration yet has no
   * controls table: it holds no pause.
   */
  #hasControls(): boolean {
    return (
      this.#statement(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'controls'",
      ).get() !== undefined
    );
  }
}
