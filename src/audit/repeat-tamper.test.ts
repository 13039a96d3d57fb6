// Goal: verifyAudit catches any edit, deletion or insertion of a quarantine repeat, by batch.
// Method: ingest one file with bad records twice into SQLite, copy, drop triggers, tamper, verify.
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatUtcSeconds } from '../core/identity.js';
import { FEED_START_MS, openHarness } from '../test-support/ingest-harness.js';
import { tamperCopy } from '../test-support/attacker.js';
import { removeTempDirs, tempDir } from '../test-support/temp.js';
import { recordJson } from '../test-support/wire-text.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import { verifyAudit, type VerifyReport } from './verify.js';

const record = (slot: number, kwh: string) =>
  recordJson({
    meter_id: 'MTR-AAAA0003',
    timestamp_utc: formatUtcSeconds(FEED_START_MS + slot * 900_000),
    consumption_kwh: kwh,
    status_code: 0,
    seq: slot + 1,
  });
const TEXT = `${[record(0, '0.5'), record(1, '12abc'), record(2, '1500'), record(3, '0.1')].join('\n')}\n`;

let basePath = '';
/** Audit seq of the batch that recorded the repeats. */
let repeatSeq = 0;

beforeAll(async () => {
  const harness = openHarness();
  await harness.ingest(TEXT);
  await harness.ingest(TEXT);
  const batch = harness.store.db
    .prepare(
      'SELECT b.audit_seq AS seq FROM quarantine_repeats r JOIN batches b ON b.id = r.batch_id',
    )
    .get() as { seq: number };
  repeatSeq = batch.seq;
  basePath = harness.path;
  await harness.close();
});

afterAll(removeTempDirs);

async function attack(tamper: (db: Database.Database) => void): Promise<VerifyReport> {
  const path = join(tempDir('amisync-repeat-tamper-'), 'attacked.db');
  tamperCopy(basePath, path, tamper);
  const store = openSqliteStore(path, { nowMs: () => 0 });
  try {
    return await verifyAudit(store, null);
  } finally {
    await store.close();
  }
}

describe('verifyAudit over quarantine repeats', () => {
  it('passes on the untampered store', async () => {
    const report = await attack(() => undefined);
    expect(report.firstProblem).toBeNull();
  });

  const ATTACKS: [string, string][] = [
    ['moves a repeat to another line', 'UPDATE quarantine_repeats SET line = line + 1'],
    ['moves a repeat to another item', 'UPDATE quarantine_repeats SET quarantine_id = 999'],
    ['deletes a repeat', 'DELETE FROM quarantine_repeats WHERE id = 1'],
    [
      'adds a repeat to the batch',
      `INSERT INTO quarantine_repeats (quarantine_id, delivery_id, batch_id, batch_position,
         record_index, line, byte_offset, byte_length, raw_sha256, created_at_ms)
       SELECT quarantine_id, delivery_id, batch_id, batch_position + 10, record_index, line,
         byte_offset, byte_length, raw_sha256, created_at_ms FROM quarantine_repeats WHERE id = 1`,
    ],
  ];
  for (const [name, sql] of ATTACKS) {
    it(`fails at the batch entry when an attacker ${name}`, async () => {
      const report = await attack((db) => db.exec(sql));
      expect(report.ok).toBe(false);
      expect(report.firstProblem?.auditSeq, report.firstProblem?.reason).toBe(repeatSeq);
    });
  }

  it('reports a repeat no entry covers', async () => {
    const report = await attack((db) => db.exec('UPDATE quarantine_repeats SET batch_id = 999'));
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => p.reason).join('\n')).toMatch(/covered by no entry/);
  });
});
