// Goal: `--db postgres://...`, $AMISYNC_DB and `database:` make the built CLI keep its ledger in
// PostgreSQL, with the same counts, audit and proofs as on SQLite, and never print a password.
// Method: dist/cli/main.js in child processes against fresh schemas; a superuser tampers.
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { generateFeed, toNdjson } from '../simulator/feed-generator.js';
import { FEED_START_MS } from '../test-support/ingest-harness.js';
import {
  dropPostgresSchemas,
  freshPostgresSchema,
  postgresServerUrl,
  probePostgres,
  runAsSuperuser,
} from '../test-support/postgres.js';
import { requireOrSkip } from '../test-support/services.js';
import { removeTempDirs, tempDir } from '../test-support/temp.js';
import { openReadView } from './context.js';
import { cliSync, jsonOf, type CliRun as Run } from '../test-support/cli-sync.js';

const probe = await probePostgres();
const runs = requireOrSkip('PostgreSQL', probe.available, probe.reason);
/** Every CLI start takes seconds on a loaded machine; each test runs a dozen. */
const TEST_MS_MAX = 240_000;
const PASSWORD = 'hunter2-must-not-leak';

interface Counts {
  received: number;
  accepted: number;
  duplicates: number;
  quarantined: number;
  anomalyHeld: number;
  deadLettered: number;
}

function cli(args: readonly string[], env: Record<string, string> = {}, cwd?: string): Run {
  return cliSync(args, {
    env: { AMISYNC_ACTOR: 'postgres-cli-test', ...env },
    ...(cwd === undefined ? {} : { cwd }),
  });
}

const json = jsonOf;

/** A command that must succeed; its JSON output. */
function ok<T>(args: readonly string[], env: Record<string, string> = {}): T {
  const run = cli([...args, '--json'], env);
  expect(run.status, `${args.join(' ')}\n${run.stderr}`).toBe(0);
  return json<T>(run);
}

/** The server URL with a password written into it (the server here trusts loopback). */
function withPassword(url: string): string {
  const parsed = new URL(url);
  parsed.password = PASSWORD;
  return parsed.toString();
}

async function schemaExists(schema: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: postgresServerUrl() });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    return found.rowCount === 1;
  } finally {
    await client.end();
  }
}

/** A feed file with duplicates and bad records, and what it should count. */
function feedFile(folder: string, seed: number): { file: string; records: number } {
  const feed = generateFeed({
    seed,
    meters: 3,
    startMs: FEED_START_MS,
    intervals: 48,
    badRate: 0.05,
  });
  const file = join(folder, `feed-${seed}.ndjson`);
  writeFileSync(file, [...toNdjson(feed.records)].join(''));
  return { file, records: feed.records.length };
}

afterAll(async () => {
  await dropPostgresSchemas();
  removeTempDirs();
});

describe.runIf(runs)('the built CLI on PostgreSQL', () => {
  it(
    'ingests twice (duplicates the second time), reports, proves and detects tampering',
    async () => {
      const folder = tempDir('amisync-pg-cli-');
      const { schema, url } = freshPostgresSchema();
      const key = join(folder, 'signing-key.pem');
      const db = ['--db', url, '--signing-key', key];
      const { file, records } = feedFile(folder, 23);

      const first = ok<Counts & { conserved: boolean }>(['ingest', file, ...db]);
      expect(first.received).toBe(records);
      expect(first.accepted).toBeGreaterThan(0);
      expect(first.quarantined).toBeGreaterThan(0);
      expect(first.conserved).toBe(true);
      // The second run goes through $AMISYNC_DB and $AMISYNC_SIGNING_KEY instead of flags.
      const env = { AMISYNC_DB: url, AMISYNC_SIGNING_KEY: key };
      const second = ok<Counts & { conserved: boolean }>(['ingest', file], env);
      expect(second).toMatchObject({ received: records, accepted: 0, conserved: true });
      expect(second.duplicates + second.quarantined).toBe(records);
      expect(second.duplicates).toBe(first.accepted);

      const status = ok<{ totals: Counts; ledger: { readings: number } }>(['status', ...db]);
      expect(status.totals.received).toBe(2 * records);
      expect(status.totals.accepted).toBe(first.accepted);
      expect(status.totals.duplicates).toBe(second.duplicates);
      expect(status.ledger.readings).toBe(first.accepted);
      expect(readdirSync(folder).sort()).toEqual([`feed-23.ndjson`, 'signing-key.pem']);

      const verified = ok<{ ok: boolean; ledgerRows: number; checkpointsVerified: number }>(
        ['audit', 'verify'],
        env,
      );
      expect(verified).toMatchObject({ ok: true, ledgerRows: first.accepted });
      expect(verified.checkpointsVerified).toBeGreaterThan(0);

      const quarantine = ok<{ items: { id: number; status: string }[] }>([
        'quarantine',
        'list',
        ...db,
      ]);
      expect(quarantine.items.length).toBe(first.quarantined);
      expect(quarantine.items.every((item) => item.status === 'open')).toBe(true);

      const exported = cli(['ledger', 'export', '--format', 'csv', ...db]);
      expect(exported.status, exported.stderr).toBe(0);
      const lines = exported.stdout.trimEnd().split('\n');
      expect(lines.length).toBe(first.accepted + 1);
      const header = (lines[0] ?? '').split(',');
      const firstRow = (lines[1] ?? '').split(',');
      const meter = firstRow[header.indexOf('meter_id')] ?? '';
      const idempotencyKey = firstRow[header.indexOf('idempotency_key')] ?? '';
      expect(idempotencyKey).toMatch(/^[0-9a-f]{64}$/);

      const shown = cli(['ledger', 'show', '--meter', meter, '--json', '--db', url]);
      expect(shown.status, shown.stderr).toBe(0);
      const page = json<{ items: { meterId: string }[] }>(shown);
      expect(page.items.length).toBeGreaterThan(0);
      expect(page.items.every((row) => row.meterId === meter)).toBe(true);

      const proof = ok<{ verified: boolean; proofs: { row: { meterId: string } }[] }>([
        'audit',
        'prove',
        idempotencyKey,
        ...db,
      ]);
      expect(proof.verified).toBe(true);
      expect(proof.proofs[0]?.row.meterId).toBe(meter);

      await runAsSuperuser(
        schema,
        `SET session_replication_role = replica;
         UPDATE ledger SET value_micro = value_micro + 1000 WHERE id = (SELECT min(id) FROM ledger)`,
      );
      const tampered = cli(['audit', 'verify', ...db]);
      expect(tampered.status).toBe(10);
      expect(tampered.stdout).toMatch(/FAILED at entry \d+: /);
    },
    TEST_MS_MAX,
  );

  it(
    'runs a directory source with `database: postgres://...` in the config file',
    async () => {
      const folder = tempDir('amisync-pg-run-');
      const inbox = join(folder, 'inbox');
      mkdirSync(inbox);
      const { file, records } = feedFile(inbox, 29);
      const { url } = freshPostgresSchema();
      const withSecret = withPassword(url);
      const config = join(folder, 'amisync.yaml');
      writeFileSync(
        config,
        [
          `database: ${JSON.stringify(withSecret)}`,
          'sources:',
          '  - { kind: directory, id: drop, path: ./inbox }',
        ].join('\n'),
      );
      const key = join(folder, 'key.pem');

      const missingKey = cli(['run', '--config', config, '--once', '--json']);
      expect(missingKey.status).toBe(64);
      expect(json<{ message: string }>(missingKey).message).toContain('--signing-key');
      expect(missingKey.stdout + missingKey.stderr).not.toContain(PASSWORD);

      const checked = ok<{ database: string }>(['config', 'check', '--config', config]);
      expect(checked.database).toBe(
        url.replace('postgres://postgres@', 'postgres://postgres:***@'),
      );

      const summary = ok<{ conserved: boolean; counts: Counts }>([
        'run',
        '--config',
        config,
        '--once',
        '--signing-key',
        key,
      ]);
      expect(summary.conserved).toBe(true);
      expect(summary.counts.received).toBe(records);
      expect(summary.counts.accepted).toBeGreaterThan(0);
      expect(readdirSync(inbox)).not.toContain(file.split('/').at(-1));

      const status = ok<{ totals: Counts; ledger: { readings: number } }>(['status', '--db', url]);
      expect(status.ledger.readings).toBe(summary.counts.accepted);
      const unkeyed = cli(['audit', 'verify', '--db', url, '--json']);
      expect(unkeyed.status).toBe(64);
      expect(json<{ message: string }>(unkeyed).message).toContain('--signing-key');
      const verified = ok<{ ok: boolean }>(['audit', 'verify', '--db', url, '--signing-key', key]);
      expect(verified.ok).toBe(true);
    },
    TEST_MS_MAX,
  );

  it(
    'refuses a schema without amisync tables for read-only commands, creating nothing',
    async () => {
      const { schema, url } = freshPostgresSchema();
      for (const args of [
        ['status', '--db', withPassword(url)],
        ['quarantine', 'list', '--db', withPassword(url)],
        ['audit', 'verify', '--db', withPassword(url), '--signing-key', '/nonexistent.pem'],
      ]) {
        const run = cli([...args, '--json']);
        expect(run.status, args.join(' ')).toBe(3);
        const error = json<{ error: string; message: string }>(run);
        expect(error.error).toBe('NOT_FOUND');
        expect(error.message).toContain(`schema ${schema} holds no amisync tables`);
        expect(error.message).toContain('postgres:***@');
        expect(run.stdout + run.stderr).not.toContain(PASSWORD);
      }
      expect(await schemaExists(schema)).toBe(false);
    },
    TEST_MS_MAX,
  );

  it('masks the password when the server cannot be reached', () => {
    // Port 9 (discard) has no PostgreSQL: the connection is refused.
    const url = `postgres://amisync:${PASSWORD}@127.0.0.1:9/ledger?schema=nowhere`;
    const run = cli(['status', '--db', url, '--json']);
    expect(run.status).toBe(69);
    const error = json<{ error: string; message: string }>(run);
    expect(error.error).toBe('STORE_UNAVAILABLE');
    expect(error.message).toContain('postgres://amisync:***@127.0.0.1:9/ledger');
    expect(run.stdout + run.stderr).not.toContain(PASSWORD);
  });

  it(
    'opens a read view as a read-only session: the server refuses its writes',
    async () => {
      const folder = tempDir('amisync-pg-ro-');
      const { url } = freshPostgresSchema();
      const key = join(folder, 'key.pem');
      const { file } = feedFile(folder, 31);
      ok(['ingest', file, '--db', url, '--signing-key', key]);
      const view = await openReadView({ db: url });
      try {
        expect((await view.status()).ledger.readings).toBeGreaterThan(0);
        await expect(
          view.addVendor({
            name: 'read-only-probe',
            keyId: 'probe',
            keySha256: '0'.repeat(64),
            meters: null,
            meterPattern: null,
            anyMeter: true,
            createdAtMs: 0,
          }),
        ).rejects.toThrow(/read-only transaction/);
      } finally {
        await view.close();
      }
    },
    TEST_MS_MAX,
  );
});
