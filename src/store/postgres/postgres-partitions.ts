/**
 * Several workers on one PostgreSQL store (docs/workers.md): the write locks a transaction takes
 * (the schema's, shared or exclusive; its partition's; the audit chain's), the batch id sequence,
 * the partition count fixed per deployment, and the leases that give each partition one worker at
 * a time. Every lease time comes from the database clock, so workers on hosts whose clocks differ
 * still agree on when a lease has expired.
 */
import { AmisyncError } from '../../core/errors.js';
import { int, text } from './postgres-codecs.js';
import { all, type Queryable } from './postgres-query.js';

/** Who may write a partition: the worker and the generation of the lease it took. */
export interface LeaseFence {
  readonly owner: string;
  readonly generation: number;
}

/**
 * What a write transaction is scoped to. Null: the whole schema (exclusive, as on a single
 * process). A partition: the schema shared, the partition exclusive, and, with a fence, the lease.
 */
export interface PartitionScope {
  readonly partition: number;
  readonly fence: LeaseFence | null;
}

/** A lease a worker holds. */
export interface PartitionLease extends LeaseFence {
  readonly partition: number;
}

/** Largest partition count a deployment may fix (matches the migration's CHECK). */
export const PARTITIONS_MAX = 4096;

/** The second key of the audit chain's lock: partitions are 0 and above, so it is never one. */
const CHAIN_LOCK_KEY = -1;

const DB_NOW_MS = '(extract(epoch FROM clock_timestamp()) * 1000)::bigint';

/**
 * Takes a write transaction's locks, in the one order every transaction uses (schema, then
 * partition, then chain at the audit head), so that they cannot deadlock; then checks the fence.
 */
export async function takeWriteLocks(db: Queryable, scope: PartitionScope | null): Promise<void> {
  if (scope === null) {
    await db.query('SELECT pg_advisory_xact_lock(hashtext(current_schema()))');
    return;
  }
  await db.query('SELECT pg_advisory_xact_lock_shared(hashtext(current_schema()))');
  await db.query('SELECT pg_advisory_xact_lock(hashtext(current_schema()), $1)', [scope.partition]);
  if (scope.fence !== null) await checkFence(db, scope.partition, scope.fence);
}

/**
 * Ends every other session that holds a partition's lock, for the worker that has just taken the
 * partition's lease, before its first transaction there: only a partition's writers take that
 * lock, and every earlier one is fenced, so whatever such a session holds it can never commit.
 * A frozen earlier holder (a stopped process, a paused VM, a host gone with its connection open)
 * would otherwise keep the lock until it woke: the write-idle timeout ends a transaction silent
 * between statements, but not one stopped in the middle of a COPY, where the server waits for the
 * client's rows and neither that timeout nor a statement timeout applies. Returns the sessions
 * ended. A server that refuses (sessions of another role, without the right to signal them)
 * leaves them to end by themselves, as before.
 */
export async function endEarlierHolders(db: Queryable, partition: number): Promise<number> {
  const ended = await all(
    db,
    `SELECT pg_terminate_backend(l.pid) AS ended FROM pg_locks l
     WHERE l.locktype = 'advisory' AND l.granted AND l.pid <> pg_backend_pid()
       AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
       AND l.classid = hashtext(current_schema())::oid AND l.objid = $1::int::oid
       AND l.objsubid = 2`,
    [partition],
  );
  return ended.filter((row) => row.ended === true).length;
}

async function checkFence(db: Queryable, partition: number, fence: LeaseFence): Promise<void> {
  const found = await all(
    db,
    `SELECT 1 FROM partition_leases WHERE partition = $1 AND owner = $2 AND generation = $3
       AND expires_at_ms > ${DB_NOW_MS}`,
    [partition, fence.owner, fence.generation],
  );
  if (found.length === 0) {
    // The lease expired or another worker took the partition: committing now could reorder a
    // meter's readings behind the new owner's, so the batch rolls back and is redelivered there.
    throw new AmisyncError(
      'STORE_UNAVAILABLE',
      `partition ${partition}: the lease of ${fence.owner} (generation ${fence.generation}) ` +
        'is no longer held',
    );
  }
}

/**
 * Takes the audit chain's lock until commit. Inside a schema-exclusive transaction it is already
 * implied, and taking it again costs one round trip.
 */
export async function takeChainLock(db: Queryable): Promise<void> {
  await db.query('SELECT pg_advisory_xact_lock(hashtext(current_schema()), $1)', [CHAIN_LOCK_KEY]);
}

/**
 * The next batch id. A partition transaction takes it from the sequence (no global step; a
 * rollback leaves a gap). A schema-exclusive one takes max(id) + 1, as a single process always
 * did, and moves the sequence past it; no partition transaction runs meanwhile.
 */
export async function nextBatchId(db: Queryable, scope: PartitionScope | null): Promise<number> {
  if (scope !== null) {
    return int((await all(db, "SELECT nextval('batch_ids') AS id"))[0]?.id, 'id');
  }
  const id = int(
    (await all(db, 'SELECT coalesce(max(id), 0) + 1 AS id FROM batches'))[0]?.id,
    'id',
  );
  await db.query(
    `SELECT setval('batch_ids', greatest($1::bigint, (SELECT last_value FROM batch_ids)))`,
    [id],
  );
  return id;
}

/**
 * Records the deployment's partition count the first time, and refuses a different one later:
 * changing it would move meters between partitions while their messages are still queued.
 */
export async function fixPartitionCount(db: Queryable, partitions: number): Promise<void> {
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > PARTITIONS_MAX) {
    throw new AmisyncError('USAGE', `partitions must be 1 to ${PARTITIONS_MAX}, not ${partitions}`);
  }
  await db.query(
    `INSERT INTO worker_partitions (id, partitions, set_at_ms) VALUES (1, $1, ${DB_NOW_MS})
     ON CONFLICT (id) DO NOTHING`,
    [partitions],
  );
  const stored = int((await all(db, 'SELECT partitions FROM worker_partitions'))[0]?.partitions);
  if (stored !== partitions) {
    throw new AmisyncError(
      'CONFIG_INVALID',
      `this store is partitioned ${stored} ways; a worker cannot use ${partitions}`,
    );
  }
}

/** Renews the worker's own row; returns how many workers are live, this one included. */
export async function heartbeatWorker(
  db: Queryable,
  owner: string,
  leaseMs: number,
): Promise<number> {
  await db.query(
    `INSERT INTO workers (owner, started_at_ms, expires_at_ms)
     VALUES ($1, ${DB_NOW_MS}, ${DB_NOW_MS} + $2)
     ON CONFLICT (owner) DO UPDATE SET expires_at_ms = excluded.expires_at_ms`,
    [owner, leaseMs],
  );
  const found = await all(
    db,
    `SELECT count(*) AS live FROM workers WHERE expires_at_ms > ${DB_NOW_MS}`,
  );
  return int(found[0]?.live, 'live');
}

/**
 * Renews the leases `owner` holds; returns the ones still held (a lease missing from the result
 * was lost: it expired and another worker took it).
 */
export async function renewLeases(
  db: Queryable,
  owner: string,
  leases: readonly PartitionLease[],
  leaseMs: number,
): Promise<PartitionLease[]> {
  if (leases.length === 0) return [];
  const renewed = await all(
    db,
    `UPDATE partition_leases l SET expires_at_ms = ${DB_NOW_MS} + $2
     FROM unnest($3::int[], $4::bigint[]) AS k (partition, generation)
     WHERE l.partition = k.partition AND l.generation = k.generation AND l.owner = $1
       AND l.expires_at_ms > ${DB_NOW_MS}
     RETURNING l.partition`,
    [owner, leaseMs, leases.map((l) => l.partition), leases.map((l) => l.generation)],
  );
  const held = new Set(renewed.map((row) => int(row.partition, 'partition')));
  return leases.filter((lease) => held.has(lease.partition));
}

/**
 * Takes up to `wanted` partitions that no live lease holds, lowest first; returns the leases
 * taken. Two workers racing for one partition: the row lock makes one of them see it held.
 */
export async function takeFreeLeases(
  db: Queryable,
  owner: string,
  partitions: number,
  wanted: number,
  leaseMs: number,
): Promise<PartitionLease[]> {
  if (wanted <= 0) return [];
  const taken = await all(
    db,
    `INSERT INTO partition_leases AS l (partition, owner, generation, taken_at_ms, expires_at_ms)
     SELECT p, $1, 1, ${DB_NOW_MS}, ${DB_NOW_MS} + $2 FROM generate_series(0, $3 - 1) AS p
     WHERE NOT EXISTS (SELECT 1 FROM partition_leases h WHERE h.partition = p
       AND h.expires_at_ms > ${DB_NOW_MS})
     ORDER BY p LIMIT $4
     ON CONFLICT (partition) DO UPDATE SET owner = excluded.owner,
       generation = l.generation + 1, taken_at_ms = excluded.taken_at_ms,
       expires_at_ms = excluded.expires_at_ms
     WHERE l.expires_at_ms <= ${DB_NOW_MS}
     RETURNING l.partition, l.owner, l.generation`,
    [owner, leaseMs, partitions, wanted],
  );
  return taken.map((row) => ({
    partition: int(row.partition, 'partition'),
    owner: text(row.owner, 'owner'),
    generation: int(row.generation, 'generation'),
  }));
}

/** Gives a lease back (expires it now), after its partition's consumer has stopped. */
export async function releaseLease(db: Queryable, lease: PartitionLease): Promise<void> {
  await db.query(
    `UPDATE partition_leases SET expires_at_ms = ${DB_NOW_MS}
     WHERE partition = $1 AND owner = $2 AND generation = $3`,
    [lease.partition, lease.owner, lease.generation],
  );
}

/** The partitions whose lease is live now, and who holds each: what operators are shown. */
export async function heldPartitions(
  db: Queryable,
): Promise<{ partition: number; owner: string }[]> {
  const rows = await all(
    db,
    `SELECT partition, owner FROM partition_leases WHERE expires_at_ms > ${DB_NOW_MS}
     ORDER BY partition`,
  );
  return rows.map((row) => ({
    partition: int(row.partition, 'partition'),
    owner: text(row.owner, 'owner'),
  }));
}
