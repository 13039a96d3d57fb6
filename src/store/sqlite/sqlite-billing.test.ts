// Goal: billing reads the ledger only as it stood (the highest version up to a row id), holds an
// account for open anomalies and for too many estimates, and its tables refuse edits.
// Method: a real SQLite store fed through the pipeline with stand-in detectors and estimated
// status bits; tariffs, accounts and bills written through the billing operations.
import { afterEach, describe, expect, it } from 'vitest';
import { nextEntry } from '../../audit/hash-chain.js';
import {
  DEFAULT_HOLD_THRESHOLDS,
  importAccounts,
  importTariffs,
  runBills,
  type BillingContext,
} from '../../billing/billing.js';
import {
  HELD_METER,
  OTHER_HELD_METER,
  TEST_DETECTORS,
  heldFeed,
  heldRecord,
} from '../../test-support/held-readings.js';
import { FEED_START_MS, openHarness, type Harness } from '../../test-support/ingest-harness.js';
import { removeTempDirs } from '../../test-support/temp.js';
import { toNdjsonText } from '../../test-support/wire-text.js';
import { SqliteBillingStore } from './sqlite-billing.js';

let harness: Harness | null = null;
afterEach(async () => {
  await harness?.close();
  harness = null;
  removeTempDirs();
});

const flat = Array.from({ length: 12 }, () => Array<number>(24).fill(0));
const TARIFF = JSON.stringify({
  label: 'T1',
  name: 'Flat',
  fixedchargefirstmeter: 5,
  energyratestructure: [[{ rate: 0.2 }]],
  energyweekdayschedule: flat,
  energyweekendschedule: flat,
});

async function setUp(): Promise<{ h: Harness; context: BillingContext }> {
  const h = openHarness();
  harness = h;
  await h.clock.advance(40 * 86_400_000);
  await h.ingest(toNdjsonText(heldFeed()), { detectors: TEST_DETECTORS });
  const estimates = [2, 3, 4, 5].map((slot) => ({
    ...heldRecord(slot, slot + 1, '0.5', OTHER_HELD_METER),
    status_code: 1,
  }));
  await h.ingest(toNdjsonText(estimates), { detectors: TEST_DETECTORS, name: 'estimates' });
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
  await importAccounts(
    context,
    'account_id,service_point_id,meter_id,tariff,time_zone,from,to\n' +
      `A,SP-A,${HELD_METER},T1,UTC,2026-03-01,\n` +
      `B,SP-B,${OTHER_HELD_METER},Flat,UTC,2026-03-01,\n`,
  );
  return { h, context };
}

const request = {
  period: '2026-03',
  accountIds: null,
  taxPercent: '0',
  thresholds: { ...DEFAULT_HOLD_THRESHOLDS, completenessMin: 0, estimatedShareMax: 0.5 },
  forceJustification: null,
};

describe('SqliteBillingStore', () => {
  it('holds accounts with open anomalies and with too many estimates, saying why', async () => {
    const { context } = await setUp();
    const report = await runBills(context, request);
    expect(report.invoices).toEqual([]);
    const reasons = new Map(report.held.map((h) => [h.accountId, h.reasons]));
    // Meter A: slot 2 (40 kWh) and slot 4 (0 kWh) are held; meter B: slot 1 (25 kWh) is held
    // and 4 of its 5 ledger intervals are estimates.
    expect(reasons.get('A')?.map((r) => [r.code, r.value])).toEqual([['anomalies', 2]]);
    expect(reasons.get('B')?.map((r) => [r.code, r.value])).toEqual([
      ['anomalies', 1],
      ['estimates', 0.8],
    ]);
  });

  it('reads the ledger as it stood at a row id: the estimate before, the actual after', async () => {
    const { h, context } = await setUp();
    const before = await context.store.transaction((tx) => tx.ledgerRowIdMax());
    await h.ingest(toNdjsonText([heldRecord(2, 20, '0.75', OTHER_HELD_METER)]), {
      detectors: TEST_DETECTORS,
      name: 'actual',
    });
    const after = await context.store.transaction((tx) => tx.ledgerRowIdMax());
    const slot2 = FEED_START_MS + 2 * 900_000;
    const query = { meterIds: [OTHER_HELD_METER], fromMs: slot2, toMs: slot2 + 900_000 };
    const old = await context.store.billingLedger({ ...query, rowIdMax: before });
    const now = await context.store.billingLedger({ ...query, rowIdMax: after });
    expect(old.map((r) => [r.version, r.quality, r.valueMicro])).toEqual([
      [1, 'estimated', 500_000],
    ]);
    expect(now.map((r) => [r.version, r.quality, r.valueMicro])).toEqual([[2, 'actual', 750_000]]);
  });

  it('bills once holds are lifted, and its tables refuse edits', async () => {
    const { h, context } = await setUp();
    const report = await runBills(context, {
      ...request,
      accountIds: ['A'],
      forceJustification: 'reviewed the two held readings with the meter shop',
    });
    // Meter A's ledger holds 4 x 0.5 kWh = 2 kWh x $0.20 = $0.40, plus $5.00.
    expect(report.invoices.map((i) => [i.accountId, i.totalCents])).toEqual([['A', 540]]);
    expect(report.invoices[0]?.override?.reasons.map((r) => r.code)).toEqual(['anomalies']);
    expect(() => h.store.db.prepare('UPDATE invoices SET total_cents = 1').run()).toThrow(
      /append-only/,
    );
    expect(() => h.store.db.prepare('DELETE FROM tariffs').run()).toThrow(/append-only/);
    expect(() => h.store.db.prepare('DELETE FROM meter_assignments').run()).toThrow(/append-only/);
  });
});
