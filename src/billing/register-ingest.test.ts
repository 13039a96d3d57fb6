// Goal: a real NEM13 file goes through the pipeline as register reads (validated, keyed, counted)
// and is billed to a hand-computed total; a register that goes backwards is held in the anomaly
// ledger under register_backwards and holds the bill instead of billing negative consumption.
// Method: the public NEM13 sample and a NEM13 file written here, ingested into a real SQLite
// store; tariffs, accounts and bills through the billing operations on the same store.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { nextEntry } from '../audit/hash-chain.js';
import { SqliteBillingStore } from '../store/sqlite/sqlite-billing.js';
import { openHarness, type Harness } from '../test-support/ingest-harness.js';
import { flatRegisterTariff, registerAccountsCsv } from '../test-support/register-fixture.js';
import { toNdjsonText } from '../test-support/wire-text.js';
import { removeTempDirs } from '../test-support/temp.js';
import {
  DEFAULT_HOLD_THRESHOLDS,
  importAccounts,
  importTariffs,
  runBills,
  verifyInvoice,
  type BillingContext,
} from './billing.js';

let harness: Harness | null = null;
afterEach(async () => {
  await harness?.close();
  harness = null;
  removeTempDirs();
});

const TARIFF = JSON.stringify(flatRegisterTariff('AMR-1', 'Basic meter'));

function fixture(name: string): Uint8Array {
  return readFileSync(new URL(`../../test/fixtures/nem12/valid/${name}`, import.meta.url));
}

async function setUp(...accounts: string[]): Promise<{ h: Harness; context: BillingContext }> {
  const h = openHarness();
  harness = h;
  const context: BillingContext = {
    store: new SqliteBillingStore(h.store),
    nowMs: () => h.clock.nowMs(),
    actor: 'tester',
    appendAudit: async (tx, kind, payload, atMs) => {
      const entry = nextEntry(await tx.auditHead(), kind, payload, atMs);
      await tx.appendAuditEntry(entry);
      return entry.seq;
    },
  };
  await importTariffs(context, TARIFF);
  await importAccounts(context, registerAccountsCsv(accounts));
  return { h, context };
}

const request = {
  accountIds: null,
  taxPercent: '0',
  thresholds: DEFAULT_HOLD_THRESHOLDS,
  forceJustification: null,
};

describe('NEM13 register reads through the pipeline and the bill run', () => {
  it('bills the public NEM13 sample to the hand-computed total', async () => {
    const { h, context } = await setUp('A1,SP1,VABC005890,AMR-1,Australia/Brisbane,2003-10-01,,6,');
    const report = await h.ingest(fixture('nemreader-Example_NEM13_consumption_data.csv'), {
      format: 'nem12',
    });
    // One 250 record: its previous and its current read.
    expect(report.counts).toMatchObject({ received: 2, accepted: 2, quarantined: 0 });
    const rows = h.store.db
      .prepare('SELECT channel, interval_start_ms, interval_seconds, value_micro FROM ledger')
      .all();
    expect(rows).toEqual([
      // 20031005093055 and 20040107100333 in NEM time (UTC+10).
      {
        channel: 'reg:11',
        interval_start_ms: Date.parse('2003-10-04T23:30:55Z'),
        interval_seconds: 0,
        value_micro: 6_342_800_000,
      },
      {
        channel: 'reg:11',
        interval_start_ms: Date.parse('2004-01-07T00:03:33Z'),
        interval_seconds: 0,
        value_micro: 7_654_900_000,
      },
    ]);
    // 1,312.1 kWh between the reads, over 8,123,558,000 ms. November 2003 in Brisbane (UTC+10)
    // is 2003-10-31T14:00Z to 2003-11-30T14:00Z; the energy up to each end is
    // floor(1,312,100,000 x elapsed / 8,123,558,000) millionths of a kWh:
    //   up to the end:   floor(1,312,100,000 x 4,890,545,000 / 8,123,558,000) = 789,910,540
    //   up to the start: floor(1,312,100,000 x 2,298,545,000 / 8,123,558,000) = 371,256,153
    // November = 418,654,387 = 418.654387 kWh x $0.25 = $104.66359675, rounded $104.66;
    // plus $10.00 fixed = $114.66.
    const bill = await runBills(context, { ...request, period: '2003-11' });
    expect(bill.held).toEqual([]);
    expect(bill.invoices.map((i) => [i.accountId, i.totalCents])).toEqual([['A1', 11_466]]);
    const energy = bill.invoices[0]?.lines.find((line) => line.kind === 'energy');
    expect(energy?.quantity).toBe('418.654387');
    const verified = await verifyInvoice(context.store, bill.invoices[0]!.invoiceId);
    expect(verified.ok).toBe(true);
    // Ingesting the same file again changes nothing: both reads are duplicates.
    const again = await h.ingest(fixture('nemreader-Example_NEM13_consumption_data.csv'), {
      format: 'nem12',
      name: 'again',
    });
    expect(again.counts).toMatchObject({ received: 2, accepted: 0, duplicates: 2 });
  });

  it('holds a register that goes backwards in the anomaly ledger and holds the bill', async () => {
    const { h, context } = await setUp('A2,SP2,NCDE001234,AMR-1,Australia/Brisbane,2004-01-01,,5,');
    // 5,000.0 on 2004-01-02, then 4,900.0 on 2004-01-25: a fall that is no rollover.
    const nem13 =
      '100,NEM13,200402010000,MDA1,Ret1\n' +
      '250,NCDE001234,11,1,11,11,MET1,E,005000.0,20040102000000,A,,,004900.0,' +
      '20040125000000,A,,,0,kWh,20040301,20040201000000,20040201000000\n' +
      '900\n';
    const report = await h.ingest(nem13, { format: 'nem12' });
    expect(report.counts).toMatchObject({ received: 2, accepted: 1, anomalyHeld: 1 });
    const held = h.store.db.prepare('SELECT reading, findings FROM anomalies').all() as {
      reading: string;
      findings: string;
    }[];
    expect(held).toHaveLength(1);
    expect(JSON.parse(held[0]!.reading)).toMatchObject({ valueMicro: 4_900_000_000 });
    expect(JSON.parse(held[0]!.findings)).toMatchObject([
      { detector: 'register_backwards', value: 4900, statistic: -100, threshold: 0 },
    ]);
    const bill = await runBills(context, { ...request, period: '2004-01' });
    expect(bill.invoices).toEqual([]);
    expect(bill.held[0]?.reasons.map((r) => r.code)).toContain('anomalies');
  });
});

describe('walk-by register reads in the reference feed, billed beside an interval meter', () => {
  const HOUR_MS = 3_600_000;
  const MARCH_MS = Date.UTC(2026, 2, 1);

  it('validates, counts and bills a mix of interval and AMR accounts in one run', async () => {
    const { h, context } = await setUp(
      'I1,SP-I,MTR-INTERV01,AMR-1,UTC,2026-03-01,,,',
      'R1,SP-R,MTR-AMRMTR01,AMR-1,UTC,2026-03-01,,5,2',
    );
    await h.clock.advance(40 * 86_400_000);
    const intervals = Array.from({ length: 744 }, (_, hour) => ({
      meter_id: 'MTR-INTERV01',
      timestamp_utc: new Date(MARCH_MS + hour * HOUR_MS).toISOString(),
      interval_seconds: 3600,
      consumption_kwh: '0.5',
      status_code: 0,
    }));
    const intervalReport = await h.ingest(toNdjsonText(intervals), { detectors: [] });
    expect(intervalReport.counts).toMatchObject({ received: 744, accepted: 744 });
    const reads = [
      // The interval meter's register moves 372 kWh over March, as its intervals do.
      { meter_id: 'MTR-INTERV01', timestamp_utc: '2026-03-01T00:00:00Z', register_kwh: 100 },
      { meter_id: 'MTR-INTERV01', timestamp_utc: '2026-04-01T00:00:00Z', register_kwh: '472' },
      // The AMR meter rolls over; its mid-month estimate is replaced by the actual read after it.
      { meter_id: 'MTR-AMRMTR01', timestamp_utc: '2026-03-01T00:00:00Z', register_kwh: '99900' },
      {
        meter_id: 'MTR-AMRMTR01',
        timestamp_utc: '2026-03-15T00:00:00Z',
        register_kwh: '99990',
        quality: 'estimated',
      },
      { meter_id: 'MTR-AMRMTR01', timestamp_utc: '2026-04-01T00:00:00Z', register_kwh: '200' },
      // Two bad reads, each quarantined with its field and rule.
      { meter_id: 'MTR-AMRMTR01', timestamp_utc: '2026-03-20T00:00:00Z', register_kwh: '-5' },
      {
        meter_id: 'MTR-AMRMTR01',
        timestamp_utc: '2026-03-21T00:00:00Z',
        register_kwh: '5',
        consumption_kwh: '1',
      },
    ];
    const report = await h.ingest(toNdjsonText(reads), { name: 'walk-by' });
    expect(report.counts).toMatchObject({ received: 7, accepted: 5, quarantined: 2 });
    const violations = (
      h.store.db.prepare('SELECT violations FROM quarantine ORDER BY id').all() as {
        violations: string;
      }[]
    ).map((row) => (JSON.parse(row.violations) as { code: string; field: string }[])[0]);
    expect(violations).toMatchObject([
      { code: 'consumption.range', field: 'register_kwh' },
      { code: 'field.unknown', field: 'consumption_kwh' },
    ]);
    const keys = h.store.db
      .prepare('SELECT DISTINCT channel FROM ledger WHERE interval_seconds = 0 ORDER BY 1')
      .all();
    expect(keys).toEqual([{ channel: 'reg:1' }]);
    // Interval account: 744 x 0.5 = 372 kWh x $0.25 = $93.00 + $10.00 = $103.00, and the
    // register's 372 kWh agree (no sum-check finding).
    // AMR account: 99,900 to 200 on five digits = 300 kWh, x 2 = 600 kWh x $0.25 = $150.00 +
    // $10.00 = $160.00; the estimate of 03-15 is not used since an actual follows it.
    const bill = await runBills(context, { ...request, period: '2026-03' });
    expect(bill.held).toEqual([]);
    expect(bill.invoices.map((i) => [i.accountId, i.totalCents])).toEqual([
      ['I1', 10_300],
      ['R1', 16_000],
    ]);
  });
});

describe('CMEP register records', () => {
  it('reads KWHREG triples as register reads at their stamps and bills them', async () => {
    const { h, context } = await setUp('C1,SP-C,CMEPAMR01,AMR-1,UTC,2026-03-01,,,');
    await h.clock.advance(40 * 86_400_000);
    // Two monthly kWh register reads stamped 2026-03-01 and 2026-04-01, calculation constant 2.
    const cmep =
      'MEPMD01,19970819,UTIL,CUST,ESP,C-1,202604020000,CMEPAMR01,OK,E,KWHREG,2,01000000,2,' +
      '202603010000,,1000,202604010000,,1150\n';
    const report = await h.ingest(cmep, { format: 'cmep' });
    expect(report.counts).toMatchObject({ received: 2, accepted: 2 });
    const rows = h.store.db
      .prepare('SELECT channel, interval_start_ms, value_micro FROM ledger ORDER BY 2')
      .all();
    expect(rows).toEqual([
      {
        channel: 'reg:kWh.delivered',
        interval_start_ms: Date.UTC(2026, 2, 1),
        value_micro: 2_000_000_000,
      },
      {
        channel: 'reg:kWh.delivered',
        interval_start_ms: Date.UTC(2026, 3, 1),
        value_micro: 2_300_000_000,
      },
    ]);
    // (1,150 - 1,000) x 2 = 300 kWh x $0.25 = $75.00 + $10.00 = $85.00.
    const bill = await runBills(context, { ...request, period: '2026-03' });
    expect(bill.invoices.map((i) => [i.accountId, i.totalCents])).toEqual([['C1', 8_500]]);
  });
});
