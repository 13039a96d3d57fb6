// Goal: every billing command of the built CLI works on `--db postgres://...`: a month ingested,
// real URDB tariffs and accounts imported, `bill run` issues the same invoices as on SQLite from
// the same input, `bill verify`, `bill prove` (and the independent checker) and `audit verify`
// pass; a URL needs a signing key and never shows its password; a superuser who edits an invoice
// row past the triggers is found by `bill verify`, by the proof checker and by `audit verify`.
// Method: the billing fixture (dist/cli/main.js in child processes) built once into a SQLite file
// and once into a fresh PostgreSQL schema; the superuser connection of test-support/postgres.ts.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBillingFixture, type BillingFixture } from '../../test-support/billing-fixture.js';
import { CLI_MAIN } from '../../test-support/crash-runs.js';
import {
  dropPostgresSchemas,
  freshPostgresSchema,
  postgresServerUrl,
  probePostgres,
  runAsSuperuser,
} from '../../test-support/postgres.js';
import { requireOrSkip } from '../../test-support/services.js';
import { removeTempDirs, tempDir } from '../../test-support/temp.js';

const CHECKER = fileURLToPath(new URL('../../../scripts/check-bill-proof.mjs', import.meta.url));
const probe = await probePostgres();
const runs = requireOrSkip('PostgreSQL', probe.available, probe.reason);
/** Building a billed month takes a dozen CLI starts, each seconds on a loaded machine. */
const SETUP_MS_MAX = 400_000;
const TEST_MS_MAX = 240_000;
const PASSWORD = 'hunter2-must-not-leak';
/** Exit codes of docs/errors.md. */
const EXIT = { usage: 64, notFound: 3, auditVerifyFailed: 10 } as const;

afterAll(async () => {
  await dropPostgresSchemas();
  removeTempDirs();
});

/** The kinds of the audit chain's entries in order, on PostgreSQL or in a SQLite file. */
async function auditKinds(sqlitePath?: string): Promise<string[]> {
  if (sqlitePath !== undefined) {
    const db = new Database(sqlitePath, { readonly: true });
    try {
      const rows = db.prepare('SELECT kind FROM audit_log ORDER BY seq').all() as {
        kind: string;
      }[];
      return rows.map((row) => row.kind);
    } finally {
      db.close();
    }
  }
  const client = new pg.Client({ connectionString: postgresServerUrl() });
  await client.connect();
  try {
    const found = await client.query(`SELECT kind FROM ${schema}.audit_log ORDER BY seq`);
    return found.rows.map((row: { kind: string }) => row.kind);
  } finally {
    await client.end();
  }
}

let onSqlite: BillingFixture;
let onPostgres: BillingFixture;
let schema = '';

describe.runIf(runs)('billing commands of the built CLI on PostgreSQL', () => {
  beforeAll(() => {
    const fresh = freshPostgresSchema();
    schema = fresh.schema;
    const key = join(tempDir('amisync-billing-pg-key-'), 'signing-key.pem');
    onPostgres = buildBillingFixture({ db: fresh.url, env: { AMISYNC_SIGNING_KEY: key } });
    onSqlite = buildBillingFixture();
  }, SETUP_MS_MAX);

  it('issues the same invoices as SQLite, with the same audit entries in one chain', async () => {
    expect(onPostgres.invoices).toHaveLength(3);
    expect(onPostgres.invoices.every((invoice) => invoice.totalCents > 0)).toBe(true);
    expect(onPostgres.invoices).toEqual(onSqlite.invoices);
    const listed = JSON.parse(onPostgres.cli('bill', 'list', '--json').stdout) as {
      invoices: { invoiceId: number; totalCents: number }[];
    };
    expect(listed.invoices.map((i) => [i.invoiceId, i.totalCents])).toEqual(
      onSqlite.invoices.map((i) => [i.invoiceId, i.totalCents]),
    );
    // Each import and invoice has its entry among the batches', in the order SQLite has them.
    const kinds = await auditKinds();
    expect(kinds).toEqual(await auditKinds(onSqlite.db));
    expect(kinds.filter((kind) => kind === 'billing.invoice')).toHaveLength(3);
  });

  it(
    'verifies and proves every invoice, and audit verify passes',
    () => {
      for (const invoice of onPostgres.invoices) {
        const verify = onPostgres.cli('bill', 'verify', String(invoice.invoiceId), '--json');
        expect(verify.status, verify.stderr).toBe(0);
        expect(JSON.parse(verify.stdout)).toMatchObject({
          ok: true,
          recomputedTotalCents: invoice.totalCents,
        });
        const out = join(onPostgres.folder, `proof-${invoice.invoiceId}`);
        const prove = onPostgres.cli('bill', 'prove', String(invoice.invoiceId), '--out', out);
        expect(prove.status, prove.stderr).toBe(0);
        const checked = spawnSync(process.execPath, [CHECKER, out, '--json'], {
          encoding: 'utf8',
        });
        expect(checked.status, checked.stdout).toBe(0);
      }
      const audit = onPostgres.cli('audit', 'verify', '--json');
      expect(audit.status, audit.stderr).toBe(0);
      expect(JSON.parse(audit.stdout)).toMatchObject({ ok: true });
    },
    TEST_MS_MAX,
  );

  it('needs a signing key with a URL, before writing anything, and never shows a password', () => {
    const unset = { ...process.env };
    delete unset['AMISYNC_SIGNING_KEY'];
    const noKey = spawnSync(
      process.execPath,
      [CLI_MAIN, 'bill', 'run', '--period', '2026-11', '--db', onPostgres.db, '--json'],
      { encoding: 'utf8', env: unset },
    );
    expect(noKey.status, noKey.stdout).toBe(EXIT.usage);
    expect(noKey.stdout).toMatch(/--signing-key/);
    const listed = JSON.parse(onPostgres.cli('bill', 'list', '--json').stdout) as {
      invoices: unknown[];
    };
    expect(listed.invoices).toHaveLength(3);

    const secret = new URL(onPostgres.db);
    secret.password = PASSWORD;
    secret.searchParams.set('schema', `${schema}_absent`);
    const missing = spawnSync(
      process.execPath,
      [CLI_MAIN, 'bill', 'list', '--db', secret.toString(), '--json'],
      { encoding: 'utf8', env: unset },
    );
    expect(missing.status, missing.stdout).toBe(EXIT.notFound);
    expect(missing.stdout + missing.stderr).not.toContain(PASSWORD);
    expect(missing.stdout).toContain('***');
  });

  it(
    'finds an invoice row a superuser edits past the triggers',
    async () => {
      const invoice = onPostgres.invoices[0]!;
      await expect(
        runAsSuperuser(schema, 'UPDATE invoices SET total_cents = total_cents + 100'),
      ).rejects.toThrow(/append-only/);
      const before = join(onPostgres.folder, 'proof-before');
      expect(
        onPostgres.cli('bill', 'prove', String(invoice.invoiceId), '--out', before).status,
      ).toBe(0);
      await runAsSuperuser(
        schema,
        `SET session_replication_role = replica;
         UPDATE invoices SET total_cents = total_cents + 100 WHERE id = ${invoice.invoiceId}`,
      );
      const verify = onPostgres.cli('bill', 'verify', String(invoice.invoiceId), '--json');
      expect(verify.status).toBe(EXIT.auditVerifyFailed);
      // The report, then the error: two JSON documents.
      const report = verify.stdout.slice(0, verify.stdout.indexOf('\n}\n') + 2);
      expect(JSON.parse(report)).toMatchObject({
        ok: false,
        totalCents: invoice.totalCents + 100,
        recomputedTotalCents: invoice.totalCents,
      });
      const listed = JSON.parse(onPostgres.cli('bill', 'list', '--json').stdout) as {
        invoices: { invoiceId: number; accountId: string; period: string; auditSeq: number }[];
      };
      const row = listed.invoices.find((listedRow) => listedRow.invoiceId === invoice.invoiceId)!;
      const audit = onPostgres.cli('audit', 'verify');
      expect(audit.status).toBe(EXIT.auditVerifyFailed);
      expect(audit.stdout).toContain(
        `FAILED at entry ${row.auditSeq}: entry ${row.auditSeq}: invoice ${row.invoiceId} ` +
          `(${row.accountId} ${row.period}) differs from its audit entry in total (edited)`,
      );
      const after = join(onPostgres.folder, 'proof-after');
      onPostgres.cli('bill', 'prove', String(invoice.invoiceId), '--out', after);
      const checked = spawnSync(process.execPath, [CHECKER, after, '--json'], {
        encoding: 'utf8',
      });
      expect(checked.status).not.toBe(0);
    },
    TEST_MS_MAX,
  );
});
