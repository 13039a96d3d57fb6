// Goal: pages of a vendor's JSON API read with a JSON dialect end in the ledger exactly as the
// generator's oracle says, conserved, with every bad record and every bad page quarantined with
// its bytes, and the process going on after hostile pages.
// Method: a generated feed in the vendor's shape (test-support/dialects.ts), in one page and in
// many, through ingestDelivery on a real SQLite store; hostile pages built by hand.
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';

import { ManualClock } from '../core/clock.js';
import type { BatchCounts } from '../core/store.js';
import { parseDictionary, type DataDictionary } from '../dictionary/dictionary.js';
import { generateFeed, type GeneratedFeed } from '../simulator/feed-generator.js';
import { toVendorRecord, VENDOR_DIALECT, vendorPage } from '../test-support/dialects.js';
import {
  FEED_START_MS,
  currentLedgerRows,
  openHarness,
  outcomesSum,
  quarantineOf,
  rawBytesOf,
  sha256Hex,
  type Harness,
} from '../test-support/ingest-harness.js';
import { removeTempDirs } from '../test-support/temp.js';
import { emptyCounts, addCounts } from './commit.js';
import { ledgerState } from './ledger-state.js';
import { replayQuarantine } from './quarantine.js';

afterAll(removeTempDirs);

const CONTEXT = { dialect: VENDOR_DIALECT, recordsPath: 'data.readings' };
const GOOD = {
  meterNumber: 'MTR-AAAA0001',
  channelId: '1',
  intervalStart: '2026-03-01T00:15:00Z',
  value: '310.5',
  uom: 'Wh',
  qualityFlag: 'A',
  sequence: 1,
};

function feed(): GeneratedFeed {
  return generateFeed({
    seed: 20261205,
    meters: 12,
    startMs: FEED_START_MS,
    intervals: 96,
    estimateRate: 0.05,
    retransmitRate: 0.03,
    conflictRate: 0.02,
    badRate: 0.03,
  });
}

function ingestPage(harness: Harness, text: string, chunkBytes?: number) {
  return harness.ingest(text, {
    format: 'json-dialect',
    formatContext: CONTEXT,
    name: 'page',
    ...(chunkBytes === undefined ? {} : { chunkBytes }),
  });
}

async function expectLedgerOf(harness: Harness, generated: GeneratedFeed, counts: BatchCounts) {
  const { expected } = generated;
  expect(counts.received).toBe(expected.received);
  expect(outcomesSum(counts)).toBe(counts.received);
  expect(counts.duplicates).toBe(expected.duplicates);
  expect(counts.conflicts).toBe(expected.conflicts);
  expect(counts.quarantined).toBe(expected.invalid + expected.conflicts);
  expect(counts.revisions).toBe(expected.revisions);
  const state = await ledgerState(harness.store);
  expect(state.readings).toBe(expected.currentReadings);
  expect(state.energyMilliWh).toBe(expected.energyMilliWh);
}

describe('a generated feed in the vendor shape', () => {
  let harness: Harness;
  beforeEach(() => {
    harness = openHarness();
  });
  afterEach(async () => {
    await harness.close();
  });

  it('ends as the oracle says when sent as one page, read in small chunks', async () => {
    const generated = feed();
    expect(generated.expected.invalid).toBeGreaterThan(0);
    expect(generated.expected.conflicts).toBeGreaterThan(0);
    expect(generated.expected.revisions).toBeGreaterThan(0);
    const text = vendorPage(generated.records.map(toVendorRecord), null);
    const report = await ingestPage(harness, text, 4093);
    await expectLedgerOf(harness, generated, report.counts);
    // Every quarantined record keeps its exact bytes: one vendor record of the page.
    for (const row of await quarantineOf(harness, report.deliveryId)) {
      const raw = await rawBytesOf(harness, row);
      expect(sha256Hex(raw)).toBe(row.rawSha256);
      // Bad records may lack any reference field but seq, so each one still has its sequence.
      const record: unknown = JSON.parse(raw.toString('utf8'));
      expect(record).toHaveProperty('sequence');
    }
  });

  it('ends as the oracle says when sent as many pages, one delivery each', async () => {
    const generated = feed();
    const vendorRecords = generated.records.map(toVendorRecord);
    const counts = emptyCounts();
    const pageRecords = 97;
    for (let at = 0; at < vendorRecords.length; at += pageRecords) {
      const next = at + pageRecords < vendorRecords.length ? `cursor-${at + pageRecords}` : null;
      const page = vendorPage(vendorRecords.slice(at, at + pageRecords), next);
      const report = await ingestPage(harness, page);
      addCounts(counts, report.counts);
    }
    await expectLedgerOf(harness, generated, counts);
  });

  it('replays a quarantined vendor record from its page once the dictionary allows it', async () => {
    const page = vendorPage([{ ...GOOD, meterNumber: 'VENDOR-7' }], null);
    const report = await ingestPage(harness, page);
    expect(report.counts.quarantined).toBe(1);
    const [row] = await quarantineOf(harness, report.deliveryId);
    expect(row?.violations[0]?.code).toBe('meter_id.pattern');
    const mapped: DataDictionary = parseDictionary({
      formats: { 'json-dialect': { meterIds: { 'VENDOR-7': 'MTR-VENDOR07' } } },
    });
    const context = {
      store: harness.store,
      dictionary: mapped,
      clock: new ManualClock(harness.clock.nowMs()),
      actor: 'test',
    };
    const replayed = await replayQuarantine(context, [row?.id ?? -1], 1);
    expect(replayed.accepted).toBe(1);
    const [reading] = await currentLedgerRows(harness);
    expect(reading).toMatchObject({ meterId: 'MTR-VENDOR07', valueMicro: 310_500, seq: 1 });
  });
});

describe('hostile pages', () => {
  let harness: Harness;
  beforeEach(() => {
    harness = openHarness();
  });
  afterEach(async () => {
    await harness.close();
  });

  async function quarantinedWhole(text: string, code: string) {
    const report = await ingestPage(harness, text, 1000);
    expect(report.counts).toMatchObject({ received: 1, quarantined: 1, accepted: 0 });
    const [row] = await quarantineOf(harness, report.deliveryId);
    expect(row?.violations[0]?.code).toBe(code);
    expect((await rawBytesOf(harness, row!)).toString('utf8')).toBe(text);
  }

  it('quarantines an HTML error page sent with status 200 whole, and goes on', async () => {
    const html = `<!DOCTYPE html><html><body><h1>Service Unavailable</h1>${'x'.repeat(5000)}</body></html>`;
    await quarantinedWhole(html, 'parse.not_json');
    const report = await ingestPage(harness, vendorPage([GOOD], null));
    expect(report.counts.accepted).toBe(1);
  });

  it('quarantines a page without the records path, or with something else there', async () => {
    await quarantinedWhole('{"error":{"code":500,"message":"internal"}}', 'parse.format');
    await quarantinedWhole('{"data":{"readings":"none"}}', 'parse.format');
    await quarantinedWhole('"just a string"', 'parse.format');
  });

  it('walks over deep nesting and huge strings beside the records without holding them', async () => {
    const depth = 200_000;
    const deep = `${'['.repeat(depth)}${']'.repeat(depth)}`;
    const huge = 'y'.repeat(8 * 1024 * 1024);
    const page =
      `{"trace":${deep},"blob":"${huge}","${'k'.repeat(100_000)}":1,` +
      `"data":{"readings":[${JSON.stringify(GOOD)}]}}`;
    const report = await ingestPage(harness, page, 65_536);
    expect(report.counts).toMatchObject({ received: 1, accepted: 1 });
  });

  it('quarantines a deeply nested record and a huge record with their bytes, and reads the next', async () => {
    const deepRecord = `{"meterNumber":${'['.repeat(50_000)}${']'.repeat(50_000)}}`;
    const hugeRecord = JSON.stringify({ ...GOOD, value: 'z'.repeat(200_000) });
    const page = `{"data":{"readings":[${deepRecord},${hugeRecord},${JSON.stringify(GOOD)}]}}`;
    const report = await ingestPage(harness, page, 8192);
    expect(report.counts).toMatchObject({ received: 3, accepted: 1, quarantined: 2 });
    const rows = await quarantineOf(harness, report.deliveryId);
    expect(rows.map((row) => row.violations[0]?.code)).toEqual([
      'parse.record_too_large',
      'parse.record_too_large',
    ]);
    const raw = await rawBytesOf(harness, rows[1]!);
    expect(raw.toString('utf8')).toBe(hugeRecord);
  });

  it('quarantines a page that is not UTF-8 or is cut short, counting what it read', async () => {
    const bad = Buffer.concat([
      Buffer.from('{"data":{"readings":[{"meterNumber":"MTR-'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from(`"},${JSON.stringify(GOOD)}`),
    ]);
    const report = await harness.ingest(bad, { format: 'json-dialect', formatContext: CONTEXT });
    const rows = await quarantineOf(harness, report.deliveryId);
    expect(rows.map((row) => row.violations[0]?.code)).toEqual(['parse.encoding', 'parse.syntax']);
    expect(report.counts).toMatchObject({ received: 3, accepted: 1, quarantined: 2 });
  });
});
