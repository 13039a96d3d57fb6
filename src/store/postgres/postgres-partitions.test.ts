// Goal: partition transactions on PostgreSQL write at the same time as each other, while one
// partition's writers, and the schema-wide transactions, still wait; the audit chain stays one
// verifiable chain; the lease fence refuses a stale owner; a new lease holder ends the session of
// an earlier holder frozen mid-COPY, and only that one; the partition count cannot change.
// Method: a partition transaction held open on a gate while others run (bounded waits tell done
// from blocked), two pipelines ingesting into different partitions at once, then `verifyAudit`;
// raw sessions stopped inside a COPY on two partitions.
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock, type Random } from '../../core/clock.js';
import { DEFAULT_DICTIONARY } from '../../dictionary/dictionary.js';
import { verifyAudit } from '../../audit/verify.js';
import { appendAuditEntry } from '../../audit/record.js';
import { ingestDelivery } from '../../pipeline/ingest.js';
import { generateFeed, toNdjson } from '../../simulator/feed-generator.js';
import {
  dropPostgresSchemas,
  freshPostgresSchema,
  probePostgres,
  sessionFrozenInCopy,
} from '../../test-support/postgres.js';
import { requireOrSkip } from '../../test-support/services.js';
import {
  endEarlierHolders,
  fixPartitionCount,
  releaseLease,
  takeFreeLeases,
  type PartitionScope,
} from './postgres-partitions.js';
import { openPostgresStore, type PostgresStore } from './postgres-store.js';

const START_MS = Date.UTC(2026, 0, 5);
/** Long enough for a free transaction to finish on a loaded machine; a blocked one never does. */
const SETTLE_MS = 1_500;
const probe = await probePostgres();
const runs = requireOrSkip('PostgreSQL', probe.available, probe.reason);

afterAll(dropPostgresSchemas);

async function freshStore(): Promise<PostgresStore> {
  const { url } = freshPostgresSchema();
  return openPostgresStore(url, { nowMs: () => START_MS });
}

function scope(partition: number): PartitionScope {
  return { partition, fence: null };
}

/** Resolves 'done' when `promise` settles within `ms`, else 'blocked' (the promise runs on). */
async function within(promise: Promise<unknown>, ms: number): Promise<'done' | 'blocked'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'blocked'>((resolve) => {
    timer = setTimeout(() => resolve('blocked'), ms);
  });
  try {
    return await Promise.race([promise.then(() => 'done' as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function* chunksOf(bytes: Buffer, size: number): AsyncIterable<Uint8Array> {
  for (let at = 0; at < bytes.byteLength; at += size) yield bytes.subarray(at, at + size);
}

/** Delivery ids that differ between feeds, as a process's random ids would. */
function seededIds(seed: number): Random {
  let counter = 0;
  return {
    hex: (byteCount) => {
      counter += 1;
      const text = `${seed.toString(16)}f${counter.toString(16)}`;
      return text.padStart(byteCount * 2, '0').slice(-byteCount * 2);
    },
  };
}

function ingestFeed(store: PostgresStore, seed: number) {
  const feed = generateFeed({ seed, meters: 3, startMs: START_MS, intervals: 96, badRate: 0.02 });
  const bytes = Buffer.from([...toNdjson(feed.records)].join(''), 'utf8');
  return ingestDelivery(chunksOf(bytes, 4096), {
    store,
    dictionary: DEFAULT_DICTIONARY,
    clock: new ManualClock(START_MS + 2 * 86_400_000),
    random: seededIds(seed),
    format: 'ndjson',
    name: `feed-${seed}.ndjson`,
    sourceId: `partition-test-${seed}`,
    batchReadingsMax: 40,
    detectors: [],
  });
}

describe.runIf(runs)('PostgreSQL partition transactions', () => {
  it('lets another partition commit a whole batch while one partition is held open', async () => {
    const store = await freshStore();
    try {
      let open!: () => void;
      const gate = new Promise<void>((resolve) => (open = resolve));
      let started!: () => void;
      const holding = new Promise<void>((resolve) => (started = resolve));
      const held = store.forPartition(scope(0)).transaction(async (tx) => {
        await tx.allocateBatchId();
        started();
        await gate;
      });
      await holding;
      const other = ingestFeed(store.forPartition(scope(1)), 7);
      expect(await within(other, SETTLE_MS * 10)).toBe('done');
      expect((await other).counts.accepted).toBeGreaterThan(0);
      // Started after, since a waiting schema-wide lock queues later partition writers behind it.
      const samePartition = store.forPartition(scope(0)).transaction(async () => 'ran');
      const schemaWide = appendAuditEntry(store, 'test.note', { note: 'x' }, START_MS);
      expect(await within(samePartition, SETTLE_MS)).toBe('blocked');
      expect(await within(schemaWide, SETTLE_MS)).toBe('blocked');
      open();
      await Promise.all([held, samePartition, schemaWide]);
      expect((await verifyAudit(store, null)).problems).toEqual([]);
    } finally {
      await store.close();
    }
  }, 60_000);

  it('keeps one verifiable chain when two partitions ingest at once', async () => {
    const store = await freshStore();
    try {
      const [left, right] = await Promise.all([
        ingestFeed(store.forPartition(scope(0)), 11),
        ingestFeed(store.forPartition(scope(1)), 12),
      ]);
      expect(left.batches).toBeGreaterThan(3);
      expect(right.batches).toBeGreaterThan(3);
      const report = await verifyAudit(store, null);
      expect(report.problems).toEqual([]);
      expect(report.batches).toBe(left.batches + right.batches);
      const ids = await store.pool.query('SELECT count(DISTINCT id) AS n FROM batches');
      expect(Number(ids.rows[0].n)).toBe(left.batches + right.batches);
    } finally {
      await store.close();
    }
  }, 60_000);

  it('refuses a write under a lease that another worker has taken over', async () => {
    const store = await freshStore();
    try {
      await fixPartitionCount(store.pool, 2);
      const [first] = await takeFreeLeases(store.pool, 'worker-a', 2, 1, 60_000);
      expect(first).toMatchObject({ partition: 0, owner: 'worker-a', generation: 1 });
      expect(await takeFreeLeases(store.pool, 'worker-b', 2, 2, 60_000)).toEqual([
        { partition: 1, owner: 'worker-b', generation: 1 },
      ]);
      const stale = store.forPartition({ partition: 0, fence: first ?? null });
      expect(await stale.transaction(async () => 'ok')).toBe('ok');
      await releaseLease(store.pool, first!);
      const [takeover] = await takeFreeLeases(store.pool, 'worker-b', 2, 1, 60_000);
      expect(takeover).toMatchObject({ partition: 0, owner: 'worker-b', generation: 2 });
      await expect(stale.transaction(async () => 'ok')).rejects.toMatchObject({
        code: 'STORE_UNAVAILABLE',
      });
      const fresh = store.forPartition({ partition: 0, fence: takeover ?? null });
      expect(await fresh.transaction(async () => 'ok')).toBe('ok');
    } finally {
      await store.close();
    }
  });

  it("ends an earlier holder frozen in a partition's COPY, and no other session", async () => {
    const { schema, url } = freshPostgresSchema();
    const store = await openPostgresStore(url, { nowMs: () => START_MS });
    // Earlier holders of partitions 0 and 1, each frozen in the middle of a batch's COPY: the
    // server waits for the rest of their rows, so no idle timeout applies to them.
    const [zero, one] = [
      await sessionFrozenInCopy(schema, 0),
      await sessionFrozenInCopy(schema, 1),
    ];
    try {
      const firstWrite = store.forPartition(scope(0)).transaction(async (tx) => tx.auditHead());
      expect(await within(firstWrite, SETTLE_MS)).toBe('blocked');
      expect(await endEarlierHolders(store.pool, 0)).toBe(1);
      expect(await within(firstWrite, SETTLE_MS)).toBe('done');
      expect(zero.ended).toContain('57P01');
      // Partition 1's holder is not partition 0's business.
      expect(one.ended).toEqual([]);
      expect(await endEarlierHolders(store.pool, 0)).toBe(0);
    } finally {
      await one.close();
      await zero.close();
      await store.close();
    }
  });

  it('fixes the partition count on first use and refuses another', async () => {
    const store = await freshStore();
    try {
      await fixPartitionCount(store.pool, 4);
      await fixPartitionCount(store.pool, 4);
      await expect(fixPartitionCount(store.pool, 5)).rejects.toMatchObject({
        code: 'CONFIG_INVALID',
      });
    } finally {
      await store.close();
    }
  });
});
