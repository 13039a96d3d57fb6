// Goal: SQLite and PostgreSQL keep the same books. The same deliveries and the same operator
// decisions (quarantine replay and reject, anomaly release and reject, gap estimation, a whole
// retransmission) leave the same ledger, quarantine, anomaly ledger, audit chain and signed
// checkpoints on both engines, and `audit verify` passes on both.
// Method: run one scripted day of work, with one seeded feed and one manual clock per engine,
// against a SQLite file and a fresh PostgreSQL schema; compare every row of every table read back
// through the Store contract. PostgreSQL skips with a printed reason when the server is absent.
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadOrCreateSigningKey } from '../audit/checkpoint.js';
import { recordConfig, writeCheckpoint } from '../audit/record.js';
import { verifyAudit } from '../audit/verify.js';
import { CountingRandom, ManualClock } from '../core/clock.js';
import type { Store } from '../core/store.js';
import { DEFAULT_DICTIONARY, dictionaryFingerprint } from '../dictionary/dictionary.js';
import { rejectAnomaly, releaseAnomaly } from '../pipeline/anomalies.js';
import { estimateGaps } from '../pipeline/estimate.js';
import { ingestDelivery } from '../pipeline/ingest.js';
import { rejectQuarantined, replayQuarantine } from '../pipeline/quarantine.js';
import { generateFeed, toNdjson, type FeedRecord } from '../simulator/feed-generator.js';
import {
  dropPostgresSchemas,
  freshPostgresSchema,
  probePostgres,
} from '../test-support/postgres.js';
import { requireOrSkip } from '../test-support/services.js';
import { removeTempDirs, tempDir } from '../test-support/temp.js';
import { openPostgresStore } from './postgres/postgres-store.js';
import { openSqliteStore } from './sqlite/sqlite-store.js';

const START_MS = Date.UTC(2026, 2, 1);
const DAY_MS = 86_400_000;
const REVERSE_FLOW = DEFAULT_DICTIONARY.statusBits.reverseFlow;
const probe = await probePostgres();
const runs = requireOrSkip('PostgreSQL', probe.available, probe.reason);

afterAll(async () => {
  await dropPostgresSchemas();
  removeTempDirs();
});

const KEY = loadOrCreateSigningKey(join(tempDir(), 'signing-key.pem')).key;

/** Every 41st record reports reverse flow, so the reference detectors hold it. */
function feedBytes(): Buffer {
  const feed = generateFeed({
    seed: 97,
    meters: 5,
    startMs: START_MS,
    intervals: 96,
    retransmitRate: 0.05,
    estimateRate: 0.03,
    badRate: 0.04,
  });
  const records = feed.records.map((record: FeedRecord, index) =>
    index % 41 === 7 && typeof record['status_code'] === 'number'
      ? { ...record, status_code: (record['status_code'] as number) | REVERSE_FLOW }
      : record,
  );
  return Buffer.from([...toNdjson(records)].join(''), 'utf8');
}

async function* chunksOf(bytes: Buffer, size: number): AsyncIterable<Uint8Array> {
  for (let at = 0; at < bytes.byteLength; at += size) yield bytes.subarray(at, at + size);
}

/** The day's work, the same on every engine; returns what it read back. */
async function keepBooks(store: Store): Promise<Record<string, unknown>> {
  const clock = new ManualClock(START_MS + 2 * DAY_MS);
  const random = new CountingRandom();
  const dictionary = DEFAULT_DICTIONARY;
  const actor = 'billing-operator';
  const bytes = feedBytes();
  await recordConfig(store, dictionaryFingerprint(dictionary), dictionary, clock.nowMs());
  const ingest = (name: string) =>
    ingestDelivery(chunksOf(bytes, 8192), {
      store,
      dictionary,
      clock,
      random,
      format: 'ndjson',
      name,
      sourceId: 'engines-agree',
      batchReadingsMax: 100,
    });
  const first = await ingest('day-1.ndjson');
  clock.advanceMs(60_000);
  await writeCheckpoint(store, KEY, clock.nowMs());

  const open = await store.listQuarantine({ status: 'open', limit: 1_000 });
  const replay = await replayQuarantine({ store, dictionary, clock, actor }, 'all');
  clock.advanceMs(60_000);
  const rejected = open[0];
  if (rejected !== undefined) {
    await rejectQuarantined({ store, dictionary, clock, actor }, rejected.id, 'vendor confirmed');
  }

  const held = await store.listAnomalies({ status: 'held', limit: 1_000 });
  // An actual can be released into its interval; an estimate behind an actual cannot.
  const [toRelease, toReject] = held.filter((row) => row.reading.quality === 'actual');
  if (toRelease !== undefined) {
    await releaseAnomaly({ store, clock, actor }, toRelease.id, 'field verified: meter healthy');
  }
  clock.advanceMs(60_000);
  if (toReject !== undefined) {
    await rejectAnomaly({ store, clock, actor }, toReject.id, 'export meter wired backwards');
  }
  clock.advanceMs(60_000);
  const estimate = await estimateGaps(
    { store, clock, dictionary, actor },
    { fromMs: START_MS, toMs: START_MS + DAY_MS, meterIds: null },
    'gaps of day 1',
  );
  clock.advanceMs(60_000);
  const second = await ingest('day-1-again.ndjson');
  await writeCheckpoint(store, KEY, clock.nowMs());

  const collect = async <T>(rows: AsyncIterable<T[]>): Promise<T[]> => {
    const all: T[] = [];
    for await (const page of rows) all.push(...page);
    return all;
  };
  const verify = await verifyAudit(store, KEY.publicKey);
  return {
    counts: { first: first.counts, second: second.counts },
    replay: { ...replay, outcomes: replay.outcomes.map((o) => o.outcome) },
    estimate,
    heldAtFirst: held.length,
    ledger: await collect(store.iterateLedgerByBatch()),
    quarantine: await store.listQuarantine({ limit: 1_000 }),
    anomalies: await store.listAnomalies({ limit: 1_000 }),
    batches: await collect(store.iterateBatches()),
    audit: await collect(store.iterateAuditEntries()),
    checkpoints: await store.listCheckpoints(),
    totals: await store.recomputeLedgerTotals(),
    verify: { ok: verify.ok, problems: verify.problems },
  };
}

describe.runIf(runs)('SQLite and PostgreSQL', () => {
  it('keep the same books for the same day of work', { timeout: 120_000 }, async () => {
    const sqlite = openSqliteStore(join(tempDir(), 'books.db'), {
      nowMs: () => START_MS + 2 * DAY_MS,
    });
    const onSqlite = await keepBooks(sqlite).finally(() => sqlite.close());
    const postgres = await openPostgresStore(freshPostgresSchema().url, {
      nowMs: () => START_MS + 2 * DAY_MS,
    });
    const onPostgres = await keepBooks(postgres).finally(() => postgres.close());

    // The script did what it means to on the reference engine.
    expect(onSqlite['verify']).toEqual({ ok: true, problems: [] });
    expect(onSqlite['heldAtFirst']).toBeGreaterThanOrEqual(2);
    expect((onSqlite['quarantine'] as unknown[]).length).toBeGreaterThan(0);
    expect((onSqlite['estimate'] as { estimated: number }).estimated).toBeGreaterThan(0);
    expect((onSqlite['checkpoints'] as unknown[]).length).toBe(2);
    for (const part of Object.keys(onSqlite)) {
      expect({ part, value: onPostgres[part] }).toEqual({ part, value: onSqlite[part] });
    }
  });
});
