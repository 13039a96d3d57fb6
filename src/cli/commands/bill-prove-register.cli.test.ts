// Goal: `bill prove` of invoices billed from register (AMR) reads gives a bundle whose register
// part (reads, rollover, multiplier, exchange, estimates, proration) the independent checker
// recomputes to the invoice total, and any register value altered in it fails a named check.
// Method: walk-by reads ingested by the built CLI, billed for October 2026 in Chicago (a meter
// exchange with a rollover, and a TOU account forced past its hold), totals worked out here.
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flatRegisterTariff, registerAccountsCsv } from '../../test-support/register-fixture.js';
import { removeTempDirs, tempDir } from '../../test-support/temp.js';
import { cliSync } from '../../test-support/cli-sync.js';

const CHECKER = fileURLToPath(new URL('../../../scripts/check-bill-proof.mjs', import.meta.url));
const MICRO = 1_000_000;
/** October 2026 in America/Chicago (CDT, UTC-5 on both ends). */
const OCT_START_MS = Date.UTC(2026, 9, 1, 5);
const NOV_START_MS = Date.UTC(2026, 10, 1, 5);
const EXCHANGE_MS = Date.UTC(2026, 9, 16, 5);

afterAll(removeTempDirs);

const peak = (weekday: boolean) =>
  Array.from({ length: 12 }, () =>
    Array.from({ length: 24 }, (_, hour) => (weekday && hour >= 14 && hour < 19 ? 1 : 0)),
  );
const TARIFFS = {
  items: [
    flatRegisterTariff('amr-flat', 'AMR flat'),
    {
      label: 'amr-tou',
      name: 'TOU for a register meter',
      energyratestructure: [[{ rate: 0.1 }], [{ rate: 0.3 }]],
      energyweekdayschedule: peak(true),
      energyweekendschedule: peak(false),
    },
  ],
};

const READS = [
  // The old meter (5 digits, multiplier 2) rolls over; its final read is the exchange.
  { meter_id: 'MTR-AMROLD01', timestamp_utc: '2026-09-25T15:00:00Z', register_kwh: '99800.5' },
  { meter_id: 'MTR-AMROLD01', timestamp_utc: '2026-10-16T05:00:00Z', register_kwh: '30.25' },
  // The new meter's initial read; its estimate is replaced by the actual read after it.
  { meter_id: 'MTR-AMRNEW01', timestamp_utc: '2026-10-16T05:00:00Z', register_kwh: '0' },
  {
    meter_id: 'MTR-AMRNEW01',
    timestamp_utc: '2026-10-20T12:00:00Z',
    register_kwh: '41',
    quality: 'estimated',
  },
  { meter_id: 'MTR-AMRNEW01', timestamp_utc: '2026-11-05T16:00:00Z', register_kwh: '180.4' },
  // The TOU account's meter: its closing read is an estimate.
  { meter_id: 'MTR-AMRTOU01', timestamp_utc: '2026-09-30T20:00:00Z', register_kwh: '5000' },
  {
    meter_id: 'MTR-AMRTOU01',
    timestamp_utc: '2026-11-02T18:00:00Z',
    register_kwh: '5750',
    quality: 'estimated',
  },
];

/** The docs' proration: energy up to t is floor(E x (t - t0) / (t1 - t0)). */
function within(energyMicro: number, t0: number, t1: number, from: number, to: number): number {
  const upTo = (t: number) =>
    t <= t0
      ? 0n
      : t >= t1
        ? BigInt(energyMicro)
        : (BigInt(energyMicro) * BigInt(t - t0)) / BigInt(t1 - t0);
  return Number(upTo(to) - upTo(from));
}

/** Dollars per kWh times millionths of a kWh, in whole cents, half away from zero. */
function cents(energyMicro: number, centsPerKwh: number): number {
  return Math.round((energyMicro * centsPerKwh) / MICRO);
}

interface Report {
  ok: boolean;
  checks: { name: string; ok: boolean; detail: string }[];
}
interface Invoice {
  invoiceId: number;
  accountId: string;
  totalCents: number;
  lines: { kind: string; period: number | null; quantity: string }[];
}
interface UseProof {
  meterId: string;
  rollover: boolean;
  estimated: boolean;
  multiplier: number;
  registerDigits: number | null;
  billedMicro: number;
  start: { valueMicro: number };
  end: { valueMicro: number; quality: string };
}
interface Bundle {
  servicePoints: {
    spans: { meterId: string; multiplier?: number }[];
    register?: { readsRoot: string; reads: number; uses: UseProof[] };
  }[];
  readings: { lines: string[] };
  batches: { leaves: { leafData: string }[] }[];
}

let folder = '';
let invoices: Invoice[] = [];
let held: { accountId: string; reasons: { code: string; message: string }[] }[] = [];

function cli(...args: string[]) {
  const db = join(folder, 'amisync.db');
  return cliSync([...args, '--db', db]);
}

function must(...args: string[]): string {
  const run = cli(...args);
  if (run.status !== 0) throw new Error(`${args.join(' ')}: ${run.status} ${run.stderr}`);
  return run.stdout;
}

function checkBundle(dir: string): { status: number | null; failed: Report['checks'] } {
  const run = spawnSync(process.execPath, [CHECKER, dir, '--json'], { encoding: 'utf8' });
  expect(run.stderr).toBe('');
  const report = JSON.parse(run.stdout) as Report;
  return { status: run.status, failed: report.checks.filter((c) => !c.ok) };
}

function prove(accountId: string): string {
  const invoice = invoices.find((i) => i.accountId === accountId)!;
  const out = join(folder, `proof-${accountId}`);
  must('bill', 'prove', String(invoice.invoiceId), '--out', out, '--json');
  return out;
}

function tampered(source: string, name: string, edit: (bundle: Bundle) => void) {
  const dir = join(folder, `tampered-${name}`);
  cpSync(source, dir, { recursive: true });
  const bundle = JSON.parse(readFileSync(join(dir, 'bundle.json'), 'utf8')) as Bundle;
  edit(bundle);
  writeFileSync(join(dir, 'bundle.json'), JSON.stringify(bundle));
  return checkBundle(dir);
}

beforeAll(() => {
  folder = tempDir('amisync-register-proof-');
  writeFileSync(join(folder, 'reads.ndjson'), READS.map((r) => JSON.stringify(r)).join('\n'));
  must('ingest', join(folder, 'reads.ndjson'), '--json');
  writeFileSync(join(folder, 'urdb.json'), JSON.stringify(TARIFFS));
  must('tariffs', 'import', join(folder, 'urdb.json'));
  writeFileSync(
    join(folder, 'accounts.csv'),
    registerAccountsCsv([
      'A-X,SP-X,MTR-AMROLD01,amr-flat,America/Chicago,2026-01-01,2026-10-16,5,2',
      'A-X,SP-X,MTR-AMRNEW01,amr-flat,America/Chicago,2026-10-16,,6,',
      'A-T,SP-T,MTR-AMRTOU01,amr-tou,America/Chicago,2026-01-01,,,',
    ]),
  );
  must('accounts', 'import', join(folder, 'accounts.csv'));
  const run = JSON.parse(must('bill', 'run', '--period', '2026-10', '--json')) as {
    invoices: Invoice[];
    held: typeof held;
  };
  held = run.held;
  const forced = JSON.parse(
    must(
      'bill',
      'run',
      '--period',
      '2026-10',
      '--accounts',
      'A-T',
      '--force',
      '--justification',
      'customer agreed to the off-peak fallback while the meter is replaced',
      '--json',
    ),
  ) as { invoices: Invoice[] };
  invoices = [...run.invoices, ...forced.invoices];
}, 180_000);

describe('register (AMR) invoices and their proof bundles', () => {
  it('bills the exchange with a rollover, and holds the TOU account with a clear reason', () => {
    // Old meter: 99,800.5 to 30.25 on five digits = 229.75 kWh, x 2 = 459.5 kWh over its read
    // span, of which October's part is prorated; new meter: 0 to 180.4 kWh (the estimate of
    // 10-20 is replaced by the actual of 11-05), October's part prorated.
    const oldMicro = within(
      459_500_000,
      Date.parse(READS[0]!.timestamp_utc),
      EXCHANGE_MS,
      OCT_START_MS,
      EXCHANGE_MS,
    );
    const newMicro = within(
      180_400_000,
      EXCHANGE_MS,
      Date.parse(READS[4]!.timestamp_utc),
      EXCHANGE_MS,
      NOV_START_MS,
    );
    const x = invoices.find((i) => i.accountId === 'A-X');
    expect(x?.totalCents).toBe(1000 + cents(oldMicro + newMicro, 25));
    expect(held.map((h) => h.accountId)).toEqual(['A-T']);
    const reasons = held[0]!.reasons;
    expect(reasons.map((r) => r.code).sort()).toEqual(['estimates', 'register_tou']);
    expect(reasons.find((r) => r.code === 'register_tou')?.message).toContain(
      'MTR-AMRTOU01 is read as a register',
    );
  });

  it('bills a forced TOU register account in the period with the most hours', () => {
    const t0 = Date.parse(READS[5]!.timestamp_utc);
    const t1 = Date.parse(READS[6]!.timestamp_utc);
    const billed = within(750 * MICRO, t0, t1, OCT_START_MS, NOV_START_MS);
    // Weekdays 14:00-19:00 are period 1: 22 weekdays x 5 h = 110 of October's 744 hours, so the
    // off-peak period 0 has the most hours and takes all the energy.
    const t = invoices.find((i) => i.accountId === 'A-T');
    expect(t?.lines.filter((l) => l.kind === 'energy').map((l) => l.period)).toEqual([0]);
    expect(t?.totalCents).toBe(cents(billed, 10));
  });

  it('proves both invoices; the checker recomputes the register kWh and the totals', () => {
    for (const accountId of ['A-X', 'A-T']) {
      const dir = prove(accountId);
      const { status, failed } = checkBundle(dir);
      expect(failed).toEqual([]);
      expect(status).toBe(0);
    }
    const bundle = JSON.parse(readFileSync(join(prove('A-X'), 'bundle.json'), 'utf8')) as Bundle;
    const register = bundle.servicePoints[0]!.register!;
    expect(register.reads).toBe(4);
    expect(
      register.uses.map((u) => [u.meterId, u.rollover, u.multiplier, u.registerDigits]),
    ).toEqual([
      ['MTR-AMRNEW01', false, 1, 6],
      ['MTR-AMROLD01', true, 2, 5],
    ]);
    expect(bundle.readings.lines).toHaveLength(4);
  });

  it('fails, naming the read, when a register value in the register part is altered', () => {
    const source = prove('A-X');
    const result = tampered(source, 'use-end', (bundle) => {
      bundle.servicePoints[0]!.register!.uses[1]!.end.valueMicro += 1000;
    });
    expect(result.status).toBe(1);
    expect(result.failed.map((c) => c.name)).toEqual([
      'SP-X register uses recompute from the proven reads',
    ]);
    expect(result.failed[0]!.detail).toContain('use 1 (MTR-AMROLD01 reg:1) end read valueMicro');
  });

  it('fails when a register read is altered in the readings and in its Merkle leaf', () => {
    const source = prove('A-X');
    const result = tampered(source, 'read-line', (bundle) => {
      const at = bundle.readings.lines.findIndex((line) => line.includes('|MTR-AMROLD01|'));
      const original = bundle.readings.lines[at]!;
      const parts = original.split('|');
      parts[7] = String(Number(parts[7]) + 1000);
      const changed = parts.join('|');
      bundle.readings.lines[at] = changed;
      for (const batch of bundle.batches)
        for (const leaf of batch.leaves) leaf.leafData = leaf.leafData.replace(original, changed);
    });
    expect(result.status).toBe(1);
    const names = result.failed.map((c) => c.name);
    expect(names).toContain('every leaf leads to its batch ledger root');
    expect(names).toContain('SP-X register uses recompute from the proven reads');
    expect(names).toContain('SP-X register reads Merkle root');
    expect(names).toContain('determinants recompute from the readings');
  });

  it('fails when the multiplier a span states is altered', () => {
    const source = prove('A-X');
    const result = tampered(source, 'multiplier', (bundle) => {
      bundle.servicePoints[0]!.spans.find((s) => s.meterId === 'MTR-AMROLD01')!.multiplier = 3;
    });
    expect(result.status).toBe(1);
    const names = result.failed.map((c) => c.name);
    expect(names).toContain('SP-X register uses recompute from the proven reads');
    expect(names).toContain('every invoice line recomputes');
  });
});
