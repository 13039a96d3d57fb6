/**
 * The scale-out store: PostgreSQL 15 through a node-postgres pool, every table in one schema (the
 * URL's `schema` parameter, `public` by default), brought forward by postgres-migrations.ts.
 *
 * Transactions: READ COMMITTED, and each one first takes a transaction-scoped advisory lock of its
 * schema, so that writers are serialised exactly as SQLite's BEGIN IMMEDIATE serialises them: a
 * batch's reads (stream state, interval versions, audit head) stay true until it commits, no
 * serialization failure can occur, and `fn` runs once. A partition's view (`forPartition`)
 * narrows that lock to its partition (docs/workers.md). Reads outside a transaction see committed
 * data; iterations read one REPEATABLE READ snapshot through a server-side cursor, in constant
 * memory.
 */
import type { Pool, PoolClient } from 'pg';
import { AmisyncError } from '../../core/errors.js';
import type {
  AnomalyBacklog,
  AnomalyFilter,
  AnomalyInsert,
  AnomalyRow,
  ApiTokenInsert,
  ApiTokenRow,
  ArrivalQuery,
  ArrivalRow,
  AuditEntryRow,
  BatchRow,
  BreakerStateRow,
  CheckpointRow,
  ControlRow,
  DeadLetterFilter,
  DeadLetterRow,
  DeliveryInsert,
  DeliveryRow,
  DiscrepancyFigures,
  DiscrepancyQuery,
  LedgerRow,
  LedgerSpan,
  QuarantineActionInsert,
  QuarantineFilter,
  QuarantineRepeatInsert,
  QuarantineRow,
  QuarantineStatus,
  SequenceEvent,
  SeriesPoint,
  SlaAlertRow,
  SourcePositionRow,
  SourceSummaryRow,
  Store,
  StoreStatus,
  StoreTransaction,
  StreamSeriesQuery,
  UnitTotal,
  VendorInsert,
  VendorRow,
  MeterStreamRow,
  IntervalRef,
  LedgerRangeQuery,
  LedgerRangeRow,
  DeliveryPageFilter,
  DeliveryPageRow,
  WorklistCounts,
} from '../../core/store.js';
import type { Violation } from '../../core/reject.js';
import { currentOwner } from '../process-owner.js';
import { takeWriteLocks, type PartitionScope } from './postgres-partitions.js';
import {
  auditFrom,
  batchFrom,
  checkpointFrom,
  int,
  intOrNull,
  json,
  ledgerFrom,
  quarantineFrom,
  repeatFrom,
  text,
  type PgRow,
} from './postgres-codecs.js';
import {
  insertApiToken,
  insertVendor,
  markApiTokenRevoked,
  markVendorRevoked,
  selectAnomalies,
  selectAnomaly,
  selectAnomalyBacklog,
  selectApiTokenById,
  selectApiTokens,
  selectBreakers,
  selectControlHistory,
  selectCurrentControls,
  selectDeadLetter,
  selectDeadLetters,
  selectVendorBy,
  selectVendors,
  type Queryable,
} from './postgres-decisions.js';
import { selectDiscrepancyFigures, selectStreamSeries } from './postgres-discrepancies.js';
import {
  selectDeliveryPage,
  selectIntervalVersions,
  selectLedgerRange,
  selectMeterStreams,
  selectQuarantineOfMeter,
} from './postgres-ledger-reads.js';
import { POSTGRES_MIGRATIONS } from './postgres-migrations.js';
import { cursorPages, watchSession } from './postgres-query.js';
import {
  completeDelivery,
  DELIVERY_SELECT,
  deliveryFrom,
  insertDelivery,
  putRawChunk,
  readDeliveryBytes,
  storedDeliveryBytes,
} from './postgres-raw.js';
import {
  ARRIVALS_SQL,
  arrivalFrom,
  arrivalParams,
  selectSlaAlerts,
  selectSourceSummaries,
  selectStatus,
  selectWorklistCounts,
  unitTotals,
} from './postgres-reports.js';
import {
  QUARANTINE_SELECT,
  transactionApi,
  type TransactionContext,
} from './postgres-transaction.js';

/** Rows fetched per step when streaming large tables. */
const ITERATE_ROWS_PER_STEP = 5_000;
/** Connections per store: one batch writer at a time, plus readers and iterations. */
const POOL_CONNECTIONS_MAX = 8;
/** The advisory lock key (any constant) under which any schema's migrations run. */
const MIGRATION_LOCK_KEY = 7_201_100;
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Current (highest-version) rows only: `l` is the ledger row being tested. */
const CURRENT_ONLY = `NOT EXISTS (SELECT 1 FROM ledger n WHERE n.interval_start_ms = l.interval_start_ms
  AND n.meter_id = l.meter_id AND n.channel = l.channel AND n.version > l.version)`;

export interface PostgresStoreOptions {
  /** Clock for migration timestamps; the pipeline passes its own times for everything else. */
  nowMs: () => number;
  /**
   * Refuse (NOT_FOUND) a schema that holds no amisync tables instead of creating them: for
   * commands that act on data already there.
   */
  mustExist?: boolean;
  /**
   * A read-only session (`default_transaction_read_only`): no migration runs, the schema must
   * exist, and the server refuses any write.
   */
  readonly?: boolean;
  /**
   * How long a write transaction may stay silent (its process sends nothing) before the server
   * ends its session: WRITE_IDLE_TIMEOUT_MS_DEFAULT by default.
   */
  writeIdleTimeoutMs?: number;
}

/**
 * A write transaction holds advisory locks that every other writer waits for: the schema's, a
 * partition's, the audit chain's (docs/workers.md, "Locks"). A process that froze inside one (a
 * stopped process, a paused VM, a host gone with its connection left open) would hold them until
 * it woke, and every worker would wait with it. The server ends a write transaction's session
 * once it has been idle this long (`idle_in_transaction_session_timeout`, set for that
 * transaction only, so long reads through a cursor are not ended). Far longer than any pause of
 * a live process between two statements of a transaction; the lease (5 s by default) still
 * decides which worker may commit.
 */
export const WRITE_IDLE_TIMEOUT_MS_DEFAULT = 30_000;

/**
 * Begins a write transaction whose session the server ends once it has been silent for
 * `writeIdleTimeoutMs` (WRITE_IDLE_TIMEOUT_MS_DEFAULT): one round trip, as a bare BEGIN.
 */
async function beginWrite(client: PoolClient, writeIdleTimeoutMs: number): Promise<void> {
  await client.query(
    `BEGIN; SET LOCAL idle_in_transaction_session_timeout = ${writeIdleTimeoutMs}`,
  );
}

/** When a write transaction's connection ended, as its store outage says it. */
function writeEndedWhen(writeIdleTimeoutMs: number): string {
  return (
    'inside a transaction, which did not commit (the server restarted or ended the session, ' +
    `or the transaction was silent for ${writeIdleTimeoutMs} ms)`
  );
}

/** Where a `postgres://` URL points, with the schema taken out of its query string. */
export interface PostgresTarget {
  connectionString: string;
  schema: string;
}

export function isPostgresUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//.test(location);
}

export function parsePostgresUrl(location: string): PostgresTarget {
  const url = new URL(location);
  const schema = url.searchParams.get('schema') ?? 'public';
  if (!SCHEMA_NAME.test(schema)) {
    throw new AmisyncError(
      'USAGE',
      `schema ${schema} is not a plain lowercase identifier (letters, digits, underscore)`,
    );
  }
  url.searchParams.delete('schema');
  return { connectionString: url.toString(), schema };
}

/** Engine errors that mean the store, not the data or the program, is at fault. */
export function asStoreError(error: unknown): unknown {
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string') return error;
  // Connection refused or reset, and SQLSTATE classes 08 (connection), 53 (resources),
  // 57 (operator intervention), 40 (rollback: serialization failure, deadlock), and 25P03 (the
  // session ended by the server after the write-idle timeout).
  if (/^(ECONN|ETIMEDOUT|ENOTFOUND|EPIPE)|^(08|53|57|40)|^25P03$/.test(code)) {
    return new AmisyncError('STORE_UNAVAILABLE', `${(error as Error).message} (${code})`, { code });
  }
  return error;
}

/**
 * Brings the schema forward under one advisory lock (two processes opening a new schema at once
 * must not both apply a migration; the writer role is cluster-wide).
 */
async function migrate(
  client: PoolClient,
  schema: string,
  nowMs: number,
  mustExist: boolean,
  writeIdleTimeoutMs: number,
): Promise<void> {
  await beginWrite(client, writeIdleTimeoutMs);
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    if (mustExist) await requireTables(client, schema);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await client.query(`SET LOCAL search_path TO ${schema}`);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at_ms bigint NOT NULL)`);
    const applied = await appliedVersions(client);
    for (const migration of POSTGRES_MIGRATIONS) {
      if (applied.has(migration.version)) continue;
      await client.query(migration.sql.replaceAll('${schema}', schema));
      await client.query(
        'INSERT INTO schema_migrations (version, name, applied_at_ms) VALUES ($1, $2, $3)',
        [migration.version, migration.name, nowMs],
      );
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  }
}

/** The versions already applied; a version newer than this amisync knows is refused. */
async function appliedVersions(client: PoolClient): Promise<Set<number>> {
  const applied = new Set(
    (await client.query('SELECT version FROM schema_migrations')).rows.map((row: PgRow) =>
      int(row.version, 'version'),
    ),
  );
  const newest = POSTGRES_MIGRATIONS[POSTGRES_MIGRATIONS.length - 1]?.version ?? 0;
  for (const version of applied) {
    if (version > newest) {
      throw new AmisyncError(
        'STORE_SCHEMA_NEWER',
        `database schema version ${version} is newer than this amisync knows (${newest})`,
      );
    }
  }
  return applied;
}

/** NOT_FOUND unless the schema holds amisync's tables (its migration record, at least). */
async function requireTables(client: PoolClient, schema: string): Promise<void> {
  const found = await client.query('SELECT to_regclass($1) AS name', [
    `${schema}.schema_migrations`,
  ]);
  if ((found.rows[0] as PgRow | undefined)?.name == null) {
    throw new AmisyncError('NOT_FOUND', `schema ${schema} holds no amisync tables`, { schema });
  }
}

/** A read-only session checks the schema is there and not newer, and changes nothing. */
async function checkReadable(client: PoolClient, schema: string): Promise<void> {
  await requireTables(client, schema);
  await appliedVersions(client);
}

export async function openPostgresStore(
  location: string,
  options: PostgresStoreOptions,
): Promise<PostgresStore> {
  const target = parsePostgresUrl(location);
  const readonly = options.readonly === true;
  const writeIdleTimeoutMs = options.writeIdleTimeoutMs ?? WRITE_IDLE_TIMEOUT_MS_DEFAULT;
  if (!Number.isSafeInteger(writeIdleTimeoutMs) || writeIdleTimeoutMs < 1) {
    throw new AmisyncError(
      'USAGE',
      `writeIdleTimeoutMs must be a whole number of milliseconds, at least 1 (${writeIdleTimeoutMs})`,
    );
  }
  // Loaded on first open, so commands on SQLite start without the PostgreSQL client.
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({
    connectionString: target.connectionString,
    max: POOL_CONNECTIONS_MAX,
    options:
      `-c search_path=${target.schema}` + (readonly ? ' -c default_transaction_read_only=on' : ''),
  });
  // An idle client's error (the server restarted) must not crash the process; the next query
  // on a fresh client reports it as STORE_UNAVAILABLE.
  pool.on('error', () => undefined);
  let client: PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    await pool.end();
    throw new AmisyncError(
      'STORE_UNAVAILABLE',
      `cannot connect to PostgreSQL: ${(error as Error).message}`,
    );
  }
  const session = watchSession(client, writeEndedWhen(writeIdleTimeoutMs));
  try {
    if (readonly) await checkReadable(client, target.schema);
    else {
      const mustExist = options.mustExist === true;
      await migrate(client, target.schema, options.nowMs(), mustExist, writeIdleTimeoutMs);
    }
  } catch (error) {
    session.stop();
    client.release(true);
    await pool.end();
    throw session.ended() ?? asStoreError(error);
  }
  session.stop();
  client.release();
  return new PostgresStore(pool, target.schema, {
    self: currentOwner(),
    knownPartitions: new Set<string>(),
    scope: null,
    writeIdleTimeoutMs,
  });
}

export class PostgresStore implements Store {
  readonly engine = 'postgres';
  readonly pool: Pool;
  readonly schema: string;
  readonly #context: TransactionContext;
  /** False for a partition's view: the store it came from ends the pool. */
  readonly #ownsPool: boolean;

  constructor(pool: Pool, schema: string, context: TransactionContext) {
    this.pool = pool;
    this.schema = schema;
    this.#ownsPool = context.scope === null;
    this.#context = context;
  }

  /**
   * The same store, with every write transaction scoped to one worker partition (the schema lock
   * shared, the partition's exclusive, the fence checked; docs/workers.md). Shares this store's
   * pool; closing the view leaves the pool open.
   */
  forPartition(scope: PartitionScope): PostgresStore {
    return new PostgresStore(this.pool, this.schema, { ...this.#context, scope });
  }

  get #db(): Queryable {
    return this.pool;
  }

  async #rows(sql: string, params: unknown[] = []): Promise<PgRow[]> {
    try {
      return (await this.pool.query(sql, params)).rows as PgRow[];
    } catch (error) {
      throw asStoreError(error);
    }
  }

  /** A read outside any transaction, its engine errors classified as the store's. */
  async #read<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw asStoreError(error);
    }
  }

  async transaction<T>(fn: (tx: StoreTransaction) => Promise<T>): Promise<T> {
    return this.#inTransaction((db) => fn(transactionApi(db as PoolClient, this.#context)));
  }

  /**
   * `transaction`, also handing `fn` the transaction's client: for the engine's other role files
   * (billing) whose rows commit with the audit entry that records them.
   */
  async transactionWithClient<T>(
    fn: (client: Queryable, tx: StoreTransaction) => Promise<T>,
  ): Promise<T> {
    return this.#inTransaction((db) => fn(db, transactionApi(db, this.#context)));
  }

  async *#iterate<T>(
    sql: string,
    map: (row: PgRow) => T,
    params: unknown[] = [],
  ): AsyncIterable<T[]> {
    try {
      for await (const page of cursorPages(this.pool, sql, params, ITERATE_ROWS_PER_STEP)) {
        yield page.map(map);
      }
    } catch (error) {
      throw asStoreError(error);
    }
  }

  async listBreakerStates(): Promise<BreakerStateRow[]> {
    return selectBreakers(this.#db);
  }

  async createDelivery(delivery: DeliveryInsert): Promise<void> {
    await this.#inTransaction((db) => insertDelivery(db, delivery, this.#context.self));
  }

  /** Runs `fn` on one client inside the store's serialised transaction. */
  async #inTransaction<T>(fn: (db: PoolClient) => Promise<T>): Promise<T> {
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw asStoreError(error);
    }
    let broken = false;
    // The server may end the session between two statements (the idle timeout below, a restart).
    const session = watchSession(client, writeEndedWhen(this.#context.writeIdleTimeoutMs));
    try {
      await beginWrite(client, this.#context.writeIdleTimeoutMs);
      await takeWriteLocks(client, this.#context.scope);
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true;
      }
      throw session.ended() ?? asStoreError(error);
    } finally {
      session.stop();
      client.release(broken || session.ended() !== null);
    }
  }

  async putRawChunk(deliveryId: string, byteOffset: number, bytes: Uint8Array): Promise<string> {
    return this.#inTransaction((db) => putRawChunk(db, deliveryId, byteOffset, bytes));
  }

  async finishDelivery(
    deliveryId: string,
    sha256: string,
    sizeBytes: number,
    atMs: number,
  ): Promise<void> {
    await this.#inTransaction((db) => completeDelivery(db, deliveryId, sha256, sizeBytes, atMs));
  }

  async getDelivery(id: string): Promise<DeliveryRow | null> {
    const row = (await this.#rows(`${DELIVERY_SELECT} WHERE d.id = $1`, [id]))[0];
    return row === undefined ? null : deliveryFrom(row, this.#context.self);
  }

  async loadSourcePosition(sourceId: string): Promise<SourcePositionRow | null> {
    const row = (
      await this.#rows(
        `SELECT source_id, position, delivery_id, saved_at_ms FROM source_positions
         WHERE source_id = $1`,
        [sourceId],
      )
    )[0];
    if (row === undefined) return null;
    return {
      sourceId: text(row.source_id, 'source_id'),
      position: text(row.position, 'position'),
      deliveryId: text(row.delivery_id, 'delivery_id'),
      savedAtMs: int(row.saved_at_ms, 'saved_at_ms'),
    };
  }

  async listSourceSummaries(): Promise<SourceSummaryRow[]> {
    return selectSourceSummaries(this.#db);
  }

  async listDeliveries(limit: number): Promise<DeliveryRow[]> {
    return (
      await this.#rows(`${DELIVERY_SELECT} ORDER BY d.started_at_ms DESC, d.id LIMIT $1`, [limit])
    ).map((row) => deliveryFrom(row, this.#context.self));
  }

  async readDeliveryBytes(
    deliveryId: string,
    byteOffset: number,
    byteLength: number,
  ): Promise<Uint8Array> {
    return readDeliveryBytes(this.#db, deliveryId, byteOffset, byteLength);
  }
  async storedDeliveryBytes(deliveryId: string): Promise<number> {
    return storedDeliveryBytes(this.#db, deliveryId);
  }

  async status(): Promise<StoreStatus> {
    return selectStatus(this.#db, this.#context.self);
  }

  async listQuarantine(filter: QuarantineFilter): Promise<QuarantineRow[]> {
    const params: unknown[] = [filter.afterId ?? 0];
    const clauses = ['q.id > $1'];
    const add = (column: string, value: unknown): void => {
      params.push(value);
      clauses.push(`${column} = $${params.length}`);
    };
    if (filter.status !== undefined) add('q.status', filter.status);
    if (filter.deliveryId !== undefined) add('q.delivery_id', filter.deliveryId);
    if (filter.code !== undefined) add('q.first_code', filter.code);
    params.push(filter.limit);
    const sql = `${QUARANTINE_SELECT} WHERE ${clauses.join(' AND ')} ORDER BY q.id
      LIMIT $${params.length}`;
    return (await this.#rows(sql, params)).map(quarantineFrom);
  }

  async getQuarantine(id: number): Promise<QuarantineRow | null> {
    const row = (await this.#rows(`${QUARANTINE_SELECT} WHERE q.id = $1`, [id]))[0];
    return row === undefined ? null : quarantineFrom(row);
  }

  async listQuarantineActions(quarantineId: number): Promise<QuarantineActionInsert[]> {
    return (
      await this.#rows('SELECT * FROM quarantine_actions WHERE quarantine_id = $1 ORDER BY id', [
        quarantineId,
      ])
    ).map((row) => ({
      quarantineId: int(row.quarantine_id, 'quarantine_id'),
      action: text(row.action, 'action') as QuarantineActionInsert['action'],
      outcome: text(row.outcome, 'outcome') as QuarantineStatus,
      actor: text(row.actor, 'actor'),
      justification: text(row.justification, 'justification'),
      violations: json<Violation[]>(row.violations, 'violations'),
      batchId: intOrNull(row.batch_id, 'batch_id'),
      atMs: int(row.at_ms, 'at_ms'),
    }));
  }

  async listSequenceEvents(limit: number): Promise<SequenceEvent[]> {
    return (
      await this.#rows('SELECT * FROM sequence_events ORDER BY id DESC LIMIT $1', [limit])
    ).map((row) => ({
      meterId: text(row.meter_id, 'meter_id'),
      channel: text(row.channel, 'channel'),
      kind: text(row.kind, 'kind') as SequenceEvent['kind'],
      expectedSeq: int(row.expected_seq, 'expected_seq'),
      receivedSeq: int(row.received_seq, 'received_seq'),
      intervalStartMs: int(row.interval_start_ms, 'interval_start_ms'),
      batchId: int(row.batch_id, 'batch_id'),
    }));
  }

  async listAnomalies(filter: AnomalyFilter): Promise<AnomalyRow[]> {
    return selectAnomalies(this.#db, filter);
  }

  async getAnomaly(id: number): Promise<AnomalyRow | null> {
    return selectAnomaly(this.#db, id);
  }

  async listDeadLetters(filter: DeadLetterFilter): Promise<DeadLetterRow[]> {
    return selectDeadLetters(this.#db, filter);
  }

  async getDeadLetter(id: number): Promise<DeadLetterRow | null> {
    return selectDeadLetter(this.#db, id);
  }

  async anomalyBacklog(): Promise<AnomalyBacklog> {
    return selectAnomalyBacklog(this.#db);
  }

  async listMeterStreams(meterId: string): Promise<MeterStreamRow[]> {
    return this.#read(() => selectMeterStreams(this.#db, meterId));
  }

  async listLedgerRange(query: LedgerRangeQuery): Promise<LedgerRangeRow[]> {
    return this.#read(() => selectLedgerRange(this.#db, query));
  }

  async listIntervalVersions(interval: IntervalRef): Promise<LedgerRangeRow[]> {
    return this.#read(() => selectIntervalVersions(this.#db, interval));
  }

  async listQuarantineOfMeter(meterId: string, limit: number): Promise<QuarantineRow[]> {
    return this.#read(() => selectQuarantineOfMeter(this.#db, meterId, limit));
  }

  async worklistCounts(): Promise<WorklistCounts> {
    return selectWorklistCounts(this.#db);
  }

  async listDeliveryPage(filter: DeliveryPageFilter): Promise<DeliveryPageRow[]> {
    return this.#read(() => selectDeliveryPage(this.#db, filter, this.#context.self));
  }

  async discrepancyFigures(query: DiscrepancyQuery): Promise<DiscrepancyFigures> {
    return this.#read(() => selectDiscrepancyFigures(this.#db, query));
  }

  async streamSeries(query: StreamSeriesQuery): Promise<SeriesPoint[]> {
    return this.#read(() => selectStreamSeries(this.#db, query));
  }

  iterateArrivals(query: ArrivalQuery): AsyncIterable<ArrivalRow[]> {
    return this.#iterate(ARRIVALS_SQL, arrivalFrom, arrivalParams(query));
  }

  async listSlaAlerts(sourceIds: readonly string[]): Promise<SlaAlertRow[]> {
    return selectSlaAlerts(this.#db, sourceIds);
  }

  iterateCurrentLedger(): AsyncIterable<LedgerRow[]> {
    return this.#iterate(
      `SELECT * FROM ledger l WHERE ${CURRENT_ONLY} ORDER BY interval_start_ms, meter_id, channel`,
      ledgerFrom,
    );
  }

  iterateCurrentLedgerSpan(span: LedgerSpan): AsyncIterable<LedgerRow[]> {
    const meters = span.meterIds === null ? '' : 'AND l.meter_id = ANY($3::text[])';
    const params: unknown[] = [span.fromMs, span.toMs];
    if (span.meterIds !== null) params.push([...span.meterIds]);
    return this.#iterate(
      `SELECT * FROM ledger l WHERE l.interval_start_ms >= $1 AND l.interval_start_ms < $2
         ${meters} AND ${CURRENT_ONLY}
       ORDER BY interval_start_ms, meter_id, channel`,
      ledgerFrom,
      params,
    );
  }

  iterateLedgerByBatch(): AsyncIterable<LedgerRow[]> {
    return this.#iterate('SELECT * FROM ledger ORDER BY batch_id, batch_position', ledgerFrom);
  }

  async findLedgerRowsByKey(idempotencyKey: string): Promise<LedgerRow[]> {
    // The key is deliberately not indexed (see the SQLite migrations); proving one reading scans.
    return (
      await this.#rows('SELECT * FROM ledger WHERE idempotency_key = $1 ORDER BY version', [
        idempotencyKey,
      ])
    ).map(ledgerFrom);
  }

  async recomputeLedgerTotals(): Promise<{ readings: number; byUnit: UnitTotal[] }> {
    const byUnit = await unitTotals(
      this.#db,
      `SELECT commodity, unit, count(*) AS readings, sum(value_micro) AS value FROM ledger l
       WHERE ${CURRENT_ONLY} GROUP BY commodity, unit ORDER BY commodity, unit`,
    );
    return { readings: byUnit.reduce((sum, total) => sum + total.readings, 0), byUnit };
  }

  async ledgerRowsOfBatch(batchId: number): Promise<LedgerRow[]> {
    return (
      await this.#rows('SELECT * FROM ledger WHERE batch_id = $1 ORDER BY batch_position', [
        batchId,
      ])
    ).map(ledgerFrom);
  }

  async quarantineRowsOfBatch(batchId: number): Promise<QuarantineRow[]> {
    return (
      await this.#rows(`${QUARANTINE_SELECT} WHERE q.batch_id = $1 ORDER BY q.batch_position`, [
        batchId,
      ])
    ).map(quarantineFrom);
  }

  async quarantineRepeatsOfBatch(batchId: number): Promise<QuarantineRepeatInsert[]> {
    return (
      await this.#rows(
        'SELECT * FROM quarantine_repeats WHERE batch_id = $1 ORDER BY batch_position',
        [batchId],
      )
    ).map(repeatFrom);
  }

  async quarantineRepeatsOf(quarantineId: number): Promise<QuarantineRepeatInsert[]> {
    return (
      await this.#rows('SELECT * FROM quarantine_repeats WHERE quarantine_id = $1 ORDER BY id', [
        quarantineId,
      ])
    ).map(repeatFrom);
  }

  async anomalyRowsOfBatch(batchId: number): Promise<AnomalyInsert[]> {
    return (
      await this.#rows('SELECT * FROM anomalies WHERE batch_id = $1 ORDER BY batch_position', [
        batchId,
      ])
    ).map((row) => ({
      batchId: int(row.batch_id, 'batch_id'),
      batchPosition: int(row.batch_position, 'batch_position'),
      reading: json<AnomalyInsert['reading']>(row.reading, 'reading'),
      findings: json<AnomalyInsert['findings']>(row.findings, 'findings'),
    }));
  }

  iterateBatches(): AsyncIterable<BatchRow[]> {
    return this.#iterate('SELECT * FROM batches ORDER BY id', batchFrom);
  }

  async getBatch(id: number): Promise<BatchRow | null> {
    const row = (await this.#rows('SELECT * FROM batches WHERE id = $1', [id]))[0];
    return row === undefined ? null : batchFrom(row);
  }

  iterateAuditEntries(): AsyncIterable<AuditEntryRow[]> {
    return this.#iterate('SELECT * FROM audit_log ORDER BY seq', auditFrom);
  }

  async getAuditEntry(seq: number): Promise<AuditEntryRow | null> {
    const row = (await this.#rows('SELECT * FROM audit_log WHERE seq = $1', [seq]))[0];
    return row === undefined ? null : auditFrom(row);
  }

  async latestAuditEntryOfKind(kind: string): Promise<AuditEntryRow | null> {
    const row = (
      await this.#rows('SELECT * FROM audit_log WHERE kind = $1 ORDER BY seq DESC LIMIT 1', [kind])
    )[0];
    return row === undefined ? null : auditFrom(row);
  }

  async listCheckpoints(newest?: number): Promise<CheckpointRow[]> {
    if (newest === undefined) {
      return (await this.#rows('SELECT * FROM checkpoints ORDER BY id')).map(checkpointFrom);
    }
    const rows = await this.#rows('SELECT * FROM checkpoints ORDER BY id DESC LIMIT $1', [
      Math.max(0, Math.floor(newest)),
    ]);
    return rows.reverse().map(checkpointFrom);
  }

  async close(): Promise<void> {
    if (this.#ownsPool) await this.pool.end();
  }

  async listControls(): Promise<ControlRow[]> {
    return selectCurrentControls(this.#db);
  }

  async listControlHistory(): Promise<ControlRow[]> {
    return selectControlHistory(this.#db);
  }

  async addVendor(vendor: VendorInsert): Promise<void> {
    await this.#inTransaction((db) => insertVendor(db, vendor));
  }

  async listVendors(): Promise<VendorRow[]> {
    return selectVendors(this.#db);
  }

  async findVendorByKeyId(keyId: string): Promise<VendorRow | null> {
    return selectVendorBy(this.#db, 'key_id', keyId);
  }

  async findVendorByName(name: string): Promise<VendorRow | null> {
    return selectVendorBy(this.#db, 'name', name);
  }

  async revokeVendor(name: string, atMs: number): Promise<boolean> {
    return this.#inTransaction((db) => markVendorRevoked(db, name, atMs));
  }

  async findDeliveryByTransportId(
    sourceId: string,
    transportId: string,
  ): Promise<DeliveryRow | null> {
    const row = (
      await this.#rows(
        `${DELIVERY_SELECT} WHERE d.source_id = $1 AND d.transport_id = $2
           AND d.status = 'complete' ORDER BY d.finished_at_ms, d.id LIMIT 1`,
        [sourceId, transportId],
      )
    )[0];
    return row === undefined ? null : deliveryFrom(row, this.#context.self);
  }

  async addApiToken(token: ApiTokenInsert): Promise<void> {
    await this.#inTransaction((db) => insertApiToken(db, token));
  }

  async listApiTokens(): Promise<ApiTokenRow[]> {
    return selectApiTokens(this.#db);
  }

  async findApiTokenById(tokenId: string): Promise<ApiTokenRow | null> {
    return selectApiTokenById(this.#db, tokenId);
  }

  async revokeApiToken(name: string, atMs: number): Promise<boolean> {
    return this.#inTransaction((db) => markApiTokenRevoked(db, name, atMs));
  }
}
