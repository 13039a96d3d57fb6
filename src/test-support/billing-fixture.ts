/**
 * A billed month built by the real CLI (dist/cli/main.js) in a temporary folder: October 2026 of
 * 15-minute readings for three meters in New York, ingested (which signs a checkpoint), three
 * tariffs (a tiered residential one, a flat-demand one, and a weekday TOU tariff with TOU demand)
 * and three accounts imported, and `bill run --tax-percent 5` issuing one invoice per account.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI_MAIN } from './crash-runs.js';
import { tempDir } from './temp.js';

const SLOT_MS = 900_000;
/** 2026-10-01 00:00 in New York (EDT, UTC-4). */
const OCT_START_MS = Date.UTC(2026, 9, 1, 4);
const FIXTURES = new URL('../../test/fixtures/urdb/', import.meta.url);

export interface BilledInvoice {
  invoiceId: number;
  accountId: string;
  totalCents: number;
  lines: { kind: string; amountCents: number; description: string }[];
}

export interface BillingFixture {
  folder: string;
  db: string;
  invoices: BilledInvoice[];
  /** Runs the CLI on the fixture's database. */
  cli(...args: string[]): { status: number | null; stdout: string; stderr: string };
}

/** A load that varies by hour and meter, so TOU periods and demand peaks differ. */
function feed(meterId: string, salt: number): string {
  const lines: string[] = [];
  for (let slot = 0; slot < 31 * 96; slot += 1) {
    const startMs = OCT_START_MS + slot * SLOT_MS;
    const kwh = 0.1 + ((slot * 7 + salt * 13) % 50) / 100 + (slot % 96 > 56 ? 0.4 : 0);
    lines.push(
      JSON.stringify({
        meter_id: meterId,
        timestamp_utc: new Date(startMs).toISOString().replace('.000Z', 'Z'),
        consumption_kwh: kwh.toFixed(3),
        status_code: 0,
      }),
    );
  }
  return `${lines.join('\n')}\n`;
}

/** Weekdays 14:00-19:00 local are period 1 (peak), everything else period 0. */
function touSchedule(weekday: boolean): number[][] {
  return Array.from({ length: 12 }, () =>
    Array.from({ length: 24 }, (_, hour) => (weekday && hour >= 14 && hour < 19 ? 1 : 0)),
  );
}

export const TOU_TARIFF = {
  label: 'amisync-fixture-tou-demand',
  name: 'Fixture TOU with demand',
  utility: 'amisync fixture',
  fixedchargefirstmeter: 0.33,
  fixedchargeunits: '$/day',
  energyratestructure: [
    [{ max: 400, rate: 0.08123, adj: 0.00101, unit: 'kWh' }, { rate: 0.09 }],
    [{ max: 10, rate: 0.21, unit: 'kWh daily' }, { rate: 0.25 }],
  ],
  energyweekdayschedule: touSchedule(true),
  energyweekendschedule: touSchedule(false),
  demandratestructure: [[{ rate: 1.5 }], [{ rate: 7.25 }]],
  demandweekdayschedule: touSchedule(true),
  demandweekendschedule: touSchedule(false),
  mincharge: 20,
  minchargeunits: '$/month',
};

/**
 * The month billed into a SQLite file in the fixture's folder, or into `store`: a postgres:// URL
 * and the environment it needs (AMISYNC_SIGNING_KEY).
 */
export function buildBillingFixture(
  store: { db: string; env: Readonly<Record<string, string>> } | null = null,
): BillingFixture {
  const folder = tempDir('amisync-billing-fixture-');
  const db = store?.db ?? join(folder, 'amisync.db');
  const cli = (...args: string[]) => {
    const result = spawnSync(process.execPath, [CLI_MAIN, ...args, '--db', db], {
      encoding: 'utf8',
      env: { ...process.env, AMISYNC_ACTOR: 'billing-clerk', ...store?.env },
    });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  };
  const must = (...args: string[]): string => {
    const run = cli(...args);
    if (run.status !== 0) throw new Error(`${args.join(' ')}: ${run.status} ${run.stderr}`);
    return run.stdout;
  };
  writeFileSync(
    join(folder, 'october.ndjson'),
    feed('MTR-PRUF0001', 1) + feed('MTR-PRUF0002', 2) + feed('MTR-PRUF0003', 3),
  );
  must('ingest', join(folder, 'october.ndjson'), '--json');
  const fixture = (name: string) =>
    JSON.parse(readFileSync(new URL(name, FIXTURES), 'utf8')) as unknown;
  writeFileSync(
    join(folder, 'urdb.json'),
    JSON.stringify({
      items: [
        fixture('elberton-residential-seasonal.json'),
        fixture('wiec-large-power-rate-4.json'),
        TOU_TARIFF,
      ],
    }),
  );
  must('tariffs', 'import', join(folder, 'urdb.json'));
  writeFileSync(
    join(folder, 'accounts.csv'),
    [
      'account_id,service_point_id,meter_id,tariff,time_zone,from,to',
      'ACC-R,SP-R,MTR-PRUF0001,amisync-fixture-elberton-res,America/New_York,2026-01-01,',
      'ACC-D,SP-D,MTR-PRUF0002,amisync-fixture-wiec-rate4,America/New_York,2026-01-01,',
      'ACC-T,SP-T,MTR-PRUF0003,amisync-fixture-tou-demand,America/New_York,2026-01-01,',
    ].join('\n'),
  );
  must('accounts', 'import', join(folder, 'accounts.csv'));
  const run = JSON.parse(
    must('bill', 'run', '--period', '2026-10', '--tax-percent', '5', '--json'),
  ) as { invoices: BilledInvoice[] };
  return { folder, db, invoices: run.invoices, cli };
}
