// Goal: writing a batch's ledger rows in meter order changes no audit root or chain hash, and the
// audit still reads each batch in batch-position order. Method: fixed generated feeds (two
// channels, estimates, retransmissions, conflicts, bad records) through the real pipeline and
// SQLite store; their roots and head hash are pinned as computed before meter order.
import { describe, expect, it } from 'vitest';
import { verifyAudit } from '../../audit/verify.js';
import type { LedgerRow } from '../../core/store.js';
import { generateFeedRecords, toNdjson } from '../../simulator/feed-generator.js';
import {
  allBatches,
  allLedgerRows,
  collect,
  FEED_START_MS,
  openHarness,
} from '../../test-support/ingest-harness.js';
import { inBatchPositionOrder, inMeterOrder } from './sqlite-ledger-order.js';

function feed(channel: string, seed: number): string {
  const records = generateFeedRecords({
    seed,
    meters: 40,
    startMs: FEED_START_MS,
    intervals: 12,
    channel,
    estimateRate: 0.1,
    retransmitRate: 0.05,
    conflictRate: 0.02,
    badRate: 0.02,
    checksumRate: 0.3,
  });
  return [...toNdjson(records)].join('');
}

/** Pinned from the pipeline that wrote rows in batch-position order (before meter order). */
const PINNED = {
  headHash: 'fa9e5261e96777aa036d5c078646757874cc18772ae4762a5c6852e1f38015b2',
  ledgerRoots: [
    'd9f6e1beb926060d680df0ef0afc052bf8df196a14280d4f14e3f6c7e220421b',
    'ff70d5b21e14508dab1b7fb8c28cfe5eb5503c46c7a276a5137345daf4f015e2',
    '3af1b5699646a1947938b902b140c04e2a846af5919dc167b93daba88f0c3fef',
    'f1b1346f3a479536f73be0b4910acfd49a76d0aebf32e829a0db4756ee9a57e2',
    '72e409ec0d12d959537c5a444d20117c8de18f5c899a5c23cb548a30c7a51dd8',
    '9cdd37ee2150cb04ec40664deeeb8bc44bd61933815bceb925823a0fb22e535d',
    '571d2f07e1aa193c1ec3f39dca1e92ba02647a9f12be04c2c73b94d80f0d1c84',
    'a7e0cecddd4ba444a4e9ca279774221be94ce4f9d1fb1096be87e4bfcbd8c1f6',
    'abcca27efef75edf81c2487ef35f0d38640b59e626a2cd712828c35b0e8e8161',
    '890692eef731637f4de420eff03923e2fadd8750f087a16efe11028ce8ea1fae',
    '2445e4136196333c75e625bc1dcabde0c8e537182bed13b65c050a7c868440f0',
  ],
};

describe('ledger rows written in meter order', () => {
  it('keeps every audit root, the chain head and batch order; row ids follow the meter', async () => {
    const harness = openHarness();
    await harness.ingest(feed('1', 11), { batchReadingsMax: 97 });
    await harness.ingest(feed('kvarh', 12), { batchReadingsMax: 131 });
    const batches = await allBatches(harness);
    const audit = await verifyAudit(harness.store, null);
    const byBatch = await allLedgerRows(harness);
    const raw = harness.store.db
      .prepare('SELECT id, meter_id AS meterId, batch_id AS batchId FROM ledger ORDER BY id')
      .all() as { id: number; meterId: string; batchId: number }[];
    await harness.close();
    expect(audit.ok).toBe(true);
    expect({ headHash: audit.headHash, ledgerRoots: batches.map((b) => b.ledgerRoot) }).toEqual(
      PINNED,
    );
    // The audit's reading order: batch by batch, each in batch-position order.
    for (let index = 1; index < byBatch.length; index++) {
      const before = byBatch[index - 1] as LedgerRow;
      const row = byBatch[index] as LedgerRow;
      if (row.batchId === before.batchId) expect(row.batchPosition).toBe(before.batchPosition + 1);
      else expect(row.batchId).toBeGreaterThan(before.batchId);
    }
    // The rows as stored: within a batch, row ids follow the meter ids, unlike batch positions.
    expect(raw.map((r) => r.batchId)).toEqual(byBatch.map((r) => r.batchId));
    let reordered = 0;
    for (let index = 1; index < raw.length; index++) {
      const before = raw[index - 1] as (typeof raw)[number];
      const stored = raw[index] as (typeof raw)[number];
      if (stored.batchId !== before.batchId) continue;
      expect(stored.meterId >= before.meterId).toBe(true);
      if (stored.meterId !== byBatch[index]?.meterId) reordered += 1;
    }
    expect(reordered).toBeGreaterThan(0);
  });
});

function row(meterId: string, batchId: number, batchPosition: number): LedgerRow {
  return { meterId, batchId, batchPosition } as LedgerRow;
}

describe('inMeterOrder', () => {
  it('groups by meter in code-unit order and keeps batch order within a meter', () => {
    const rows = [row('MTR-B', 1, 0), row('MTR-A', 1, 1), row('MTR-B', 1, 2), row('MTR-A', 1, 3)];
    expect(inMeterOrder(rows, (r) => r.meterId).map((r) => r.batchPosition)).toEqual([1, 3, 0, 2]);
  });
});

describe('inBatchPositionOrder', () => {
  it('gives each run of a batch in position order when it is stored as the store writes', async () => {
    async function* pages(): AsyncIterable<LedgerRow[]> {
      // Batch 1 in meter order, batch 2 in position order (written before meter order), then a
      // row of batch 1 moved past batch 2.
      yield [row('MTR-A', 1, 1), row('MTR-B', 1, 0)];
      yield [row('MTR-B', 1, 2), row('MTR-B', 2, 0), row('MTR-A', 2, 1), row('MTR-C', 1, 3)];
    }
    const order = (await collect(inBatchPositionOrder(pages()))).map(
      (r) => `${r.batchId}:${r.batchPosition}`,
    );
    expect(order).toEqual(['1:0', '1:1', '1:2', '2:0', '2:1', '1:3']);
  });

  it('gives a run stored in another order (rows swapped) in row id order', async () => {
    async function* pages(): AsyncIterable<LedgerRow[]> {
      yield [row('MTR-A', 1, 2), row('MTR-A', 1, 1), row('MTR-B', 1, 0)];
    }
    const order = (await collect(inBatchPositionOrder(pages()))).map((r) => r.batchPosition);
    expect(order).toEqual([2, 1, 0]);
  });
});
