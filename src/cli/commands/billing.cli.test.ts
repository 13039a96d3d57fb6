// Goal: the built CLI bills a month end to end: tariffs (a URDB API response) and accounts import,
// `bill run --json` issues exact invoices, holds an incomplete account with its reason, bills a
// meter exchange, `bill verify` recomputes, a late reading yields an adjustment of exactly the
// difference (then nothing), `--force` records an override, bad input exits with precise errors,
// and `audit verify` checks every invoice against its audit entry, naming one edited or deleted.
// Method: NDJSON feeds ingested by dist/cli/main.js into a temporary SQLite file, then the billing
// commands in child processes; expected totals are worked out by hand in comments.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_MAIN } from '../../test-support/crash-runs.js';
import { removeTempDirs, tempDir } from '../../test-support/temp.js';
import { cliSync } from '../../test-support/cli-sync.js';

afterAll(removeTempDirs);

const SLOT_MS = 900_000;
/** 2026-10-01 00:00 in New York (EDT, UTC-4). */
const OCT_START_MS = Date.UTC(2026, 9, 1, 4);
const FIXTURES = new URL('../../../test/fixtures/urdb/', import.meta.url);

let folder = '';
let db = '';

function cli(...args: string[]) {
  return cliSync([...args, '--db', db], { env: { AMISYNC_ACTOR: 'billing-clerk' } });
}

function json<T>(...args: string[]): T {
  const run = cli(...args, '--json');
  expect(run.stderr, run.stderr).toBe('');
  expect(run.status).toBe(0);
  return JSON.parse(run.stdout) as T;
}

/** 0.200 kWh at local midnight rising by 0.001 kWh each 15 minutes of the day. */
function feed(meterId: string, fromDay: number, toDay: number, skipFirst = false): string {
  const lines: string[] = [];
  for (let slot = fromDay * 96; slot < toDay * 96; slot += 1) {
    if (skipFirst && slot === fromDay * 96) continue;
    const startMs = OCT_START_MS + slot * SLOT_MS;
    lines.push(
      JSON.stringify({
        meter_id: meterId,
        timestamp_utc: new Date(startMs).toISOString().replace('.000Z', 'Z'),
        consumption_kwh: (0.2 + (slot % 96) / 1000).toFixed(3),
        status_code: 0,
      }),
    );
  }
  return `${lines.join('\n')}\n`;
}

function ingest(name: string, text: string): void {
  const path = join(folder, name);
  writeFileSync(path, text);
  const run = cli('ingest', path, '--json');
  expect(run.status, run.stderr).toBe(0);
  expect((JSON.parse(run.stdout) as { anomalyHeld: number }).anomalyHeld).toBe(0);
}

interface Line {
  kind: string;
  amountCents: number;
}
interface Invoice {
  invoiceId: number;
  accountId: string;
  period: string;
  kind: string;
  totalCents: number;
  lines: Line[];
  override: { justification: string; actor: string } | null;
}
/** A row of `bill list --json`. */
interface ListedInvoice {
  invoiceId: number;
  accountId: string;
  period: string;
  totalCents: number;
  auditSeq: number;
}

interface BillRun {
  invoices: Invoice[];
  held: { accountId: string; reasons: { code: string; value: number }[] }[];
  unchanged: { accountId: string }[];
}

beforeAll(() => {
  folder = tempDir('amisync-billing-cli-');
  db = join(folder, 'amisync.db');
  // MTR-BILL0001 lacks its first reading (it arrives late); MTR-BILL0002 reads half the month;
  // MTR-BILL0003 is exchanged for MTR-BILL0004 on the 15th but keeps reading all month.
  ingest(
    'october.ndjson',
    feed('MTR-BILL0001', 0, 31, true) +
      feed('MTR-BILL0002', 0, 15) +
      feed('MTR-BILL0003', 0, 31) +
      feed('MTR-BILL0004', 14, 31),
  );
  const anderson = JSON.parse(
    readFileSync(new URL('city-of-anderson-residential.json', FIXTURES), 'utf8'),
  ) as unknown;
  const wiec = JSON.parse(
    readFileSync(new URL('wiec-large-power-rate-4.json', FIXTURES), 'utf8'),
  ) as unknown;
  writeFileSync(join(folder, 'urdb.json'), JSON.stringify({ items: [anderson, wiec] }));
  writeFileSync(
    join(folder, 'accounts.csv'),
    [
      'account_id,service_point_id,meter_id,tariff,time_zone,from,to',
      'ACC-1,SP-1,MTR-BILL0001,amisync-fixture-anderson-rs,America/New_York,2026-01-01,',
      'ACC-2,SP-2,MTR-BILL0002,Residential Service,America/New_York,2026-01-01,',
      'ACC-3,SP-3,MTR-BILL0003,amisync-fixture-anderson-rs,America/New_York,2026-01-01,2026-10-15',
      'ACC-3,SP-3,MTR-BILL0004,amisync-fixture-anderson-rs,America/New_York,2026-10-15,',
    ].join('\n'),
  );
});

describe('amisync billing', () => {
  let first: BillRun;

  it('imports tariffs from a URDB API response and accounts from CSV', () => {
    const tariffs = json<{ imported: { label: string; sha256: string }[] }>(
      'tariffs',
      'import',
      join(folder, 'urdb.json'),
    );
    expect(tariffs.imported.map((t) => t.label)).toEqual([
      'amisync-fixture-anderson-rs',
      'amisync-fixture-wiec-rate4',
    ]);
    const again = json<{ imported: unknown[]; existing: unknown[] }>(
      'tariffs',
      'import',
      join(folder, 'urdb.json'),
    );
    expect([again.imported.length, again.existing.length]).toEqual([0, 2]);
    const accounts = json<{ imported: number; accounts: number }>(
      'accounts',
      'import',
      join(folder, 'accounts.csv'),
    );
    expect(accounts).toMatchObject({ imported: 4, accounts: 3 });
    const show = json<{ assignments: { meterId: string }[] }>('accounts', 'show', 'ACC-3');
    expect(show.assignments.map((a) => a.meterId)).toEqual(['MTR-BILL0003', 'MTR-BILL0004']);
  });

  it('bills the month: exact invoices, a held account with its reason', () => {
    first = json<BillRun>(
      'bill',
      'run',
      '--period',
      '2026-10',
      '--tax-percent',
      '5',
      '--threads',
      '3',
    );
    const byAccount = new Map(first.invoices.map((i) => [i.accountId, i]));
    // ACC-1: 31 days x (96 x 0.2 + 0.001 x 4560) = 736.56 kWh less the missing 0.2 = 736.36 kWh;
    // 500 x 0.102243 = $51.1215 -> 51.12; 236.36 x 0.08309 = 19.6391... -> 19.64; + 9.86 = 80.62;
    // tax 5% = 4.031 -> 4.03; total $84.65.
    expect(byAccount.get('ACC-1')?.totalCents).toBe(8465);
    // ACC-3: the old meter until the 15th, the new one from it: 736.56 kWh; 236.56 x 0.08309 =
    // 19.6557... -> 19.66; 9.86 + 51.12 + 19.66 = 80.64; tax 4.032 -> 4.03; total $84.67.
    expect(byAccount.get('ACC-3')?.totalCents).toBe(8467);
    expect(first.held).toEqual([
      expect.objectContaining({
        accountId: 'ACC-2',
        reasons: [expect.objectContaining({ code: 'completeness', value: 1440 / 2976 })],
      }),
    ]);
  });

  it('prices the same invoices in worker threads as in one thread', () => {
    // A second database billed from the same inputs: --threads 1 here, --threads 3 in the first.
    const other = join(folder, 'one-thread.db');
    const inOther = (...args: string[]) => {
      const run = spawnSync(process.execPath, [CLI_MAIN, ...args, '--db', other, '--json'], {
        encoding: 'utf8',
        env: { ...process.env, AMISYNC_ACTOR: 'billing-clerk' },
      });
      expect(run.status, run.stderr).toBe(0);
      return run.stdout;
    };
    inOther('ingest', join(folder, 'october.ndjson'));
    inOther('tariffs', 'import', join(folder, 'urdb.json'));
    inOther('accounts', 'import', join(folder, 'accounts.csv'));
    const single = JSON.parse(
      inOther('bill', 'run', '--period', '2026-10', '--tax-percent', '5', '--threads', '1'),
    ) as BillRun;
    const strip = (run: BillRun) => ({
      invoices: run.invoices.map(({ invoiceId: _id, ...invoice }) => invoice),
      held: run.held,
    });
    expect(strip(single)).toEqual(strip(first));
    expect(single.invoices).toHaveLength(2);
  });

  it('verifies every invoice by recomputing it', () => {
    for (const invoice of first.invoices) {
      const check = json<{ ok: boolean; recomputedTotalCents: number }>(
        'bill',
        'verify',
        String(invoice.invoiceId),
      );
      expect(check).toMatchObject({ ok: true, recomputedTotalCents: invoice.totalCents });
    }
  });

  it('issues an adjustment for exactly the late reading, then nothing', () => {
    const late = feed('MTR-BILL0001', 0, 1).split('\n')[0]!;
    ingest('late.ndjson', `${late}\n`);
    const rerun = json<BillRun>('bill', 'run', '--period', '2026-10', '--tax-percent', '5');
    // 0.2 kWh more at $0.08309 = 1.66 c: tier line 19.64 -> 19.66 (+2 c); tax 4.031 -> 4.032,
    // still 4.03: the adjustment is +$0.02 and the account's bills sum to $84.67.
    expect(rerun.invoices).toEqual([
      expect.objectContaining({ accountId: 'ACC-1', kind: 'adjustment', totalCents: 2 }),
    ]);
    expect(rerun.unchanged.map((u) => u.accountId)).toEqual(['ACC-3']);
    const adjustment = rerun.invoices[0]!;
    const check = json<{ ok: boolean }>('bill', 'verify', String(adjustment.invoiceId));
    expect(check.ok).toBe(true);
    const third = json<BillRun>('bill', 'run', '--period', '2026-10', '--tax-percent', '5');
    expect(third.invoices).toEqual([]);
    const list = json<{ invoices: Invoice[] }>('bill', 'list', '--account', 'ACC-1');
    expect(list.invoices.reduce((sum, i) => sum + i.totalCents, 0)).toBe(8467);
  });

  it('bills a held account with --force, recording the override', () => {
    const refused = cli('bill', 'run', '--period', '2026-10', '--accounts', 'ACC-2', '--force');
    expect(refused.status).toBe(64);
    expect(refused.stderr).toContain('--justification');
    const forced = json<BillRun>(
      'bill',
      'run',
      '--period',
      '2026-10',
      '--accounts',
      'ACC-2',
      '--force',
      '--justification',
      'meter B replaced; customer agreed to bill the readings held',
    );
    expect(forced.invoices[0]?.override).toMatchObject({ actor: 'billing-clerk' });
    expect(forced.held).toEqual([]);
  });

  it('refuses bad input with precise errors and usage exits', () => {
    const period = cli('bill', 'run', '--period', '2026-13');
    expect(period.status).toBe(64);
    expect(period.stderr).toContain('--period "2026-13"');
    writeFileSync(
      join(folder, 'bad.csv'),
      'account_id,service_point_id,meter_id,tariff,time_zone,from,to\n' +
        'ACC-9,SP-9,MTR-BILL0009,no-such-tariff,America/New_York,2026-01-01,\n',
    );
    const bad = cli('accounts', 'import', join(folder, 'bad.csv'), '--json');
    expect(bad.status).toBe(74);
    const error = JSON.parse(bad.stdout) as {
      error: string;
      problems: { row: number; column: string; rule: string }[];
    };
    expect(error.error).toBe('INPUT_UNREADABLE');
    expect(bad.stderr).toContain('row 2, column tariff, rule tariff.known');
    expect(error.problems[0]).toMatchObject({
      row: 2,
      column: 'tariff',
      rule: 'tariff.known',
    });
    expect(cli('bill', 'verify', 'abc').status).toBe(64);
    expect(cli('bill', 'run', '--period', '2026-10', '--threads', '0').status).toBe(64);
    expect(cli('bill', 'run', '--help').stdout).toContain('Example:');
  });

  it('leaves an audit trail that verifies', () => {
    const run = cli('audit', 'verify');
    expect(run.status, run.stdout + run.stderr).toBe(0);
    const listed = json<{ invoices: ListedInvoice[] }>('bill', 'list').invoices;
    expect(listed.length).toBeGreaterThan(1);
    expect(run.stdout).toContain(` ${listed.length} invoices, `);
  });

  // Last: it edits the database past its triggers.
  it('audit verify names an invoice edited or deleted past the triggers', () => {
    const { invoices } = json<{ invoices: ListedInvoice[] }>('bill', 'list');
    const [edited, deleted] = [invoices[0]!, invoices[invoices.length - 1]!];
    const database = new Database(db);
    try {
      database.exec('DROP TRIGGER invoices_no_update');
      database
        .prepare('UPDATE invoices SET total_cents = total_cents + 100 WHERE id = ?')
        .run(edited.invoiceId);
    } finally {
      database.close();
    }
    const at =
      `entry ${edited.auditSeq}: invoice ${edited.invoiceId} ` +
      `(${edited.accountId} ${edited.period})`;
    const run = cli('audit', 'verify');
    expect(run.status).toBe(10);
    expect(run.stdout).toContain(
      `FAILED at entry ${edited.auditSeq}: ${at} differs from its audit entry in total (edited)`,
    );
    const report = JSON.parse(cli('audit', 'verify', '--json').stdout) as {
      ok: boolean;
      problems: { auditSeq: number | null; reason: string }[];
    };
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([
      {
        auditSeq: edited.auditSeq,
        reason: `${at} differs from its audit entry in total (edited)`,
      },
      {
        auditSeq: edited.auditSeq,
        reason:
          `${at}: its lines add up to ${edited.totalCents} cents, its total is ` +
          `${edited.totalCents + 100} (a line or the total was edited)`,
      },
    ]);

    const again = new Database(db);
    try {
      again.exec('DROP TRIGGER invoices_no_delete');
      again.prepare('DELETE FROM invoices WHERE id = ?').run(deleted.invoiceId);
    } finally {
      again.close();
    }
    const afterDelete = JSON.parse(cli('audit', 'verify', '--json').stdout) as typeof report;
    expect(afterDelete.problems).toContainEqual({
      auditSeq: deleted.auditSeq,
      reason:
        `entry ${deleted.auditSeq} records an invoice of ${deleted.accountId} for ` +
        `${deleted.period} ` +
        'whose row is missing (deleted)',
    });
  });
});
