// Goal: the PostgreSQL ledger is append-only for the role amisync writes with, and `audit verify`
// detects a superuser who turns the triggers off. Method: ingest a simulated feed into a fresh
// schema, attack it as the writer role and as the superuser, and verify the audit trail.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CountingRandom, ManualClock } from '../../core/clock.js';
import { DEFAULT_DICTIONARY, dictionaryFingerprint } from '../../dictionary/dictionary.js';
import { verifyAudit } from '../../audit/verify.js';
import { recordConfig } from '../../audit/record.js';
import { ingestDelivery } from '../../pipeline/ingest.js';
import { generateFeed, toNdjson } from '../../simulator/feed-generator.js';
import {
  dropPostgresSchemas,
  freshPostgresSchema,
  probePostgres,
  runAsSuperuser,
} from '../../test-support/postgres.js';
import { requireOrSkip } from '../../test-support/services.js';
import { WRITER_ROLE } from './postgres-migrations.js';
import { openPostgresStore, type PostgresStore } from './postgres-store.js';

const START_MS = Date.UTC(2026, 0, 31, 20);
const probe = await probePostgres();
const runs = requireOrSkip('PostgreSQL', probe.available, probe.reason);

async function* chunksOf(bytes: Buffer, size: number): AsyncIterable<Uint8Array> {
  for (let at = 0; at < bytes.byteLength; at += size) yield bytes.subarray(at, at + size);
}

/** A schema holding a pipeline-built ledger over two months (two ledger partitions). */
async function builtLedger(): Promise<{ store: PostgresStore; schema: string }> {
  const clock = new ManualClock(START_MS + 86_400_000);
  const { schema, url } = freshPostgresSchema();
  const store = await openPostgresStore(url, { nowMs: () => clock.nowMs() });
  await recordConfig(
    store,
    dictionaryFingerprint(DEFAULT_DICTIONARY),
    DEFAULT_DICTIONARY,
    clock.nowMs(),
  );
  const feed = generateFeed({
    seed: 41,
    meters: 4,
    startMs: START_MS,
    intervals: 60,
    retransmitRate: 0.06,
    badRate: 0.06,
  });
  const bytes = Buffer.from([...toNdjson(feed.records)].join(''), 'utf8');
  const report = await ingestDelivery(chunksOf(bytes, 4096), {
    store,
    dictionary: DEFAULT_DICTIONARY,
    clock,
    random: new CountingRandom(),
    format: 'ndjson',
    name: 'feed.ndjson',
    sourceId: 'append-only-test',
    batchReadingsMax: 50,
  });
  expect(report.counts.accepted).toBeGreaterThan(0);
  return { store, schema };
}

afterAll(dropPostgresSchemas);

describe.runIf(runs)('PostgreSQL append-only ledger', () => {
  let built: { store: PostgresStore; schema: string };

  beforeAll(async () => {
    built = await builtLedger();
  });

  afterAll(async () => {
    await built.store.close();
  });

  it('verifies as written, with the ledger split into monthly partitions', async () => {
    const report = await verifyAudit(built.store, null);
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    const partitions = await built.store.pool.query(
      `SELECT count(*) AS n FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent
       JOIN pg_namespace s ON s.oid = p.relnamespace
       WHERE p.relname = 'ledger' AND s.nspname = $1`,
      [built.schema],
    );
    expect(Number(partitions.rows[0]?.n)).toBeGreaterThanOrEqual(2);
  });

  it('gives the writer role no DELETE, TRUNCATE or UPDATE on the ledger and audit log', async () => {
    const asWriter = (sql: string) =>
      runAsSuperuser(built.schema, `SET ROLE ${WRITER_ROLE}; ${sql}`);
    await expect(asWriter('DELETE FROM ledger')).rejects.toThrow(/permission denied/);
    await expect(asWriter('TRUNCATE audit_log')).rejects.toThrow(/permission denied/);
    await expect(asWriter('UPDATE ledger SET value_micro = 0')).rejects.toThrow(
      /permission denied/,
    );
    await expect(asWriter("UPDATE audit_log SET payload = '{}'")).rejects.toThrow(
      /permission denied/,
    );
    // What the pipeline needs it still has: reading, and moving a quarantine item's status.
    await expect(asWriter('SELECT count(*) FROM ledger')).resolves.toBeUndefined();
    await expect(
      asWriter("UPDATE quarantine SET status = status WHERE status = 'open'"),
    ).resolves.toBeUndefined();
  });

  it('gives the writer role only SELECT and INSERT on the billing tables', async () => {
    const asWriter = (sql: string) =>
      runAsSuperuser(built.schema, `SET ROLE ${WRITER_ROLE}; ${sql}`);
    for (const table of ['tariffs', 'meter_assignments', 'invoices']) {
      await expect(asWriter(`DELETE FROM ${table}`)).rejects.toThrow(/permission denied/);
      await expect(asWriter(`TRUNCATE ${table}`)).rejects.toThrow(/permission denied/);
      await expect(asWriter(`UPDATE ${table} SET audit_seq = 0`)).rejects.toThrow(
        /permission denied/,
      );
      await expect(asWriter(`SELECT count(*) FROM ${table}`)).resolves.toBeUndefined();
    }
    await expect(
      asWriter(
        `INSERT INTO tariffs (label, name, utility, json, sha256, imported_at_ms, audit_seq)
         VALUES ('l', 'n', 'u', '{}', 'writer-can-insert', 1, 1)`,
      ),
    ).resolves.toBeUndefined();
  });

  it('is detected by audit verify when a superuser disables the triggers and edits a row', async () => {
    // The triggers refuse the edit first.
    await expect(
      runAsSuperuser(built.schema, 'UPDATE ledger SET value_micro = value_micro + 1'),
    ).rejects.toThrow(/append-only/);
    await runAsSuperuser(
      built.schema,
      `SET session_replication_role = replica;
       UPDATE ledger SET value_micro = value_micro + 1000
       WHERE id = (SELECT min(id) FROM ledger)`,
    );
    const report = await verifyAudit(built.store, null);
    expect(report.ok).toBe(false);
    expect(report.firstProblem?.auditSeq).not.toBeNull();
  });
});
