// Goal: bill verify and bill prove read one account's meters through an index by meter (interval
// rows and register reads alike), never by a range scan of every meter's month.
// Method: SQLite's query plan for the billing ledger query on a real migrated store, and the rows
// it returns for one meter among others compared with the rows written.
import { afterEach, describe, expect, it } from 'vitest';
import { openHarness, type Harness } from '../../test-support/ingest-harness.js';
import { toNdjsonText } from '../../test-support/wire-text.js';
import { removeTempDirs } from '../../test-support/temp.js';
import { billingLedgerSql, SqliteBillingStore } from './sqlite-billing.js';

let harness: Harness | null = null;
afterEach(async () => {
  await harness?.close();
  harness = null;
  removeTempDirs();
});

function plan(h: Harness, registerReads: boolean): string {
  const rows = h.store.db
    .prepare(`EXPLAIN QUERY PLAN ${billingLedgerSql(2, registerReads)}`)
    .all('MTR-A0000001', 'MTR-A0000002', 0, 1, 1) as { detail: string }[];
  return rows.map((row) => row.detail).join('\n');
}

describe('the billing ledger query', () => {
  it('searches the ledger by meter for intervals and for register reads', () => {
    harness = openHarness();
    const intervals = plan(harness, false);
    expect(intervals).toMatch(/SEARCH ledger USING INDEX ledger_by_meter \(meter_id=\? AND/);
    expect(intervals).not.toMatch(/SCAN ledger/);
    const reads = plan(harness, true);
    expect(reads).toMatch(/SEARCH ledger USING INDEX ledger_register_reads \(meter_id=\?/);
    expect(reads).not.toMatch(/SCAN ledger/);
  });

  it('returns the current rows of the meters asked for, in interval order', async () => {
    const h = openHarness();
    harness = h;
    await h.clock.advance(40 * 86_400_000);
    const startMs = Date.UTC(2026, 2, 1);
    const meters = ['MTR-A0000001', 'MTR-A0000002', 'MTR-A0000003'];
    const rows = meters.flatMap((meterId, index) =>
      Array.from({ length: 24 }, (_, hour) => ({
        meter_id: meterId,
        timestamp_utc: new Date(startMs + hour * 3_600_000).toISOString(),
        interval_seconds: 3600,
        consumption_kwh: String(index + 1),
        status_code: 0,
      })),
    );
    await h.ingest(toNdjsonText(rows), { detectors: [] });
    const billing = new SqliteBillingStore(h.store);
    const found = await billing.billingLedger({
      meterIds: ['MTR-A0000002'],
      fromMs: startMs + 2 * 3_600_000,
      toMs: startMs + 12 * 3_600_000,
      rowIdMax: Number.MAX_SAFE_INTEGER,
    });
    expect(found.map((row) => [row.meterId, row.intervalStartMs, row.valueMicro])).toEqual(
      Array.from({ length: 10 }, (_, at) => [
        'MTR-A0000002',
        startMs + (at + 2) * 3_600_000,
        2_000_000,
      ]),
    );
  });
});
