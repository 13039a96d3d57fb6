// Goal: readings held in the anomaly ledger are covered by their batch's audit entry like any row.
// Method: ingest with a detector that holds large readings, tamper with the holds, and verify.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CountingRandom, ManualClock } from '../core/clock.js';
import type { Detector } from '../detect/detect.js';
import { DEFAULT_DICTIONARY } from '../dictionary/dictionary.js';
import { ingestDelivery } from '../pipeline/ingest.js';
import { generateFeed, toNdjson } from '../simulator/feed-generator.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import { tamperCopy } from '../test-support/attacker.js';
import { removeTempDirs, tempDir } from '../test-support/temp.js';
import { verifyAudit } from './verify.js';

/** Holds every reading above 0.3 kWh: a stand-in for the real detectors to come. */
const LARGE: Detector = {
  name: 'large',
  inspect: (reading) =>
    reading.valueMicro > 300_000 ? [{ detector: 'large', message: 'above 0.3 kWh' }] : [],
};

let basePath = '';
let heldBatchSeq = 0;

beforeAll(async () => {
  basePath = join(tempDir(), 'held.db');
  const store = openSqliteStore(basePath, { nowMs: () => 0 });
  const feed = generateFeed({ seed: 9, meters: 10, intervals: 40, startMs: Date.UTC(2025, 6, 7) });
  const bytes = Buffer.from([...toNdjson(feed.records)].join(''));
  async function* chunks() {
    yield bytes;
  }
  const report = await ingestDelivery(chunks(), {
    store,
    dictionary: DEFAULT_DICTIONARY,
    clock: new ManualClock(Date.UTC(2026, 0, 1)),
    random: new CountingRandom(),
    format: 'ndjson',
    name: 'held.ndjson',
    sourceId: 'test',
    detectors: [LARGE],
    batchReadingsMax: 100,
  });
  expect(report.counts.anomalyHeld).toBeGreaterThan(0);
  const held = store.db
    .prepare('SELECT b.audit_seq AS seq FROM anomalies a JOIN batches b ON b.id = a.batch_id')
    .get() as { seq: number };
  heldBatchSeq = held.seq;
  expect((await verifyAudit(store, null)).firstProblem).toBeNull();
  await store.close();
});

afterAll(removeTempDirs);

async function verifyTampered(sql: string) {
  const path = join(tempDir(), 'tampered.db');
  tamperCopy(basePath, path, (db) => db.exec(sql));
  const store = openSqliteStore(path, { nowMs: () => 0 });
  try {
    return await verifyAudit(store, null);
  } finally {
    await store.close();
  }
}

describe('anomaly holds under audit', () => {
  it.each([
    ['an edited held reading', "UPDATE anomalies SET findings = '[]' WHERE id = 1"],
    ['a deleted hold', 'DELETE FROM anomalies WHERE id = 1'],
  ])('names the batch entry of %s', async (_name, sql) => {
    const report = await verifyTampered(sql);
    expect(report.ok).toBe(false);
    expect(report.firstProblem?.auditSeq).toBe(heldBatchSeq);
    expect(report.firstProblem?.reason).toMatch(/anomaly holds/);
  });
});
