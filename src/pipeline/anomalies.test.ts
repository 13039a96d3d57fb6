// Goal: releasing or rejecting a held reading moves exactly its kWh between the anomaly ledger and
// the billing ledger (or none), audited, conserved and verifiable, and one decision wins a race.
// Method: hold readings with stand-in detectors on a real SQLite store, decide them, compare the
// backlog, the ledger totals, the operator totals and audit verify before and after.
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyAudit } from '../audit/verify.js';
import type { AnomalyRow } from '../core/store.js';
import {
  auditKinds,
  currentLedgerRows,
  FEED_START_MS,
  openHarness,
  type Harness,
} from '../test-support/ingest-harness.js';
import {
  HELD_METER,
  heldFeed,
  heldRecord,
  INTERVAL_MS,
  OTHER_HELD_METER,
  TEST_DETECTORS,
} from '../test-support/held-readings.js';
import { removeTempDirs } from '../test-support/temp.js';
import { toNdjsonText } from '../test-support/wire-text.js';
import { releaseAnomaly, rejectAnomaly, type AnomalyActionContext } from './anomalies.js';
import { isConserved } from './commit.js';

let harness: Harness;

beforeEach(() => {
  harness = openHarness();
});

afterEach(async () => {
  await harness.close();
});

afterAll(removeTempDirs);

function context(actor = 'engineer@utility'): AnomalyActionContext {
  return { store: harness.store, clock: harness.clock, actor };
}

async function holdFeed(): Promise<AnomalyRow[]> {
  const report = await harness.ingest(toNdjsonText(heldFeed()), { detectors: TEST_DETECTORS });
  expect(report.counts).toMatchObject({ received: 8, accepted: 5, anomalyHeld: 3 });
  return harness.store.listAnomalies({ limit: 100 });
}

async function heldAt(meter: string, slot: number): Promise<AnomalyRow> {
  const rows = await harness.store.listAnomalies({ meterId: meter, limit: 100 });
  const row = rows.find((r) => r.reading.intervalStartMs === FEED_START_MS + slot * INTERVAL_MS);
  expect(row).toBeDefined();
  return row!;
}

/** Everything the two ledgers and conservation say, in one comparable value. */
async function snapshot() {
  const status = await harness.store.status();
  const backlog = await harness.store.anomalyBacklog();
  return {
    ledgerMilliWh: status.ledger.energyMilliWh,
    ledgerReadings: status.ledger.readings,
    heldMilliWh: backlog.heldEnergyMilliWh,
    held: backlog.held,
    released: backlog.released,
    rejected: backlog.rejected,
    totals: status.totals,
    operatorTotals: status.operatorTotals,
    conserved: isConserved(status.totals) && isConserved(status.operatorTotals),
  };
}

async function expectVerified() {
  const audit = await verifyAudit(harness.store, null);
  expect(audit.problems).toEqual([]);
  expect(audit.ok).toBe(true);
}

describe('the anomaly ledger', () => {
  it('holds flagged readings apart with their findings, and sums the backlog by detector', async () => {
    const rows = await holdFeed();
    expect(rows.map((r) => [r.reading.meterId, r.reading.valueMicro, r.status])).toEqual([
      [HELD_METER, 40_000_000, 'held'],
      [HELD_METER, 0, 'held'],
      [OTHER_HELD_METER, 25_000_000, 'held'],
    ]);
    expect(rows[0]?.findings).toEqual([
      { detector: 'test.spike', message: 'above 10 kWh in one interval' },
    ]);
    expect(rows[0]).toMatchObject({ sourceId: 'test', decision: null });
    expect(await harness.store.anomalyBacklog()).toEqual({
      held: 3,
      heldEnergyMilliWh: 65_000_000n,
      released: 0,
      rejected: 0,
      byDetector: [
        { detector: 'test.spike', held: 2, heldEnergyMilliWh: 65_000_000n },
        { detector: 'test.zero', held: 1, heldEnergyMilliWh: 0n },
      ],
    });
    const before = await snapshot();
    expect(before).toMatchObject({ ledgerMilliWh: 2_500_000n, ledgerReadings: 5, conserved: true });
  });

  it('filters by meter, detector, period and status, a page at a time', async () => {
    const rows = await holdFeed();
    const ids = (list: AnomalyRow[]) => list.map((r) => r.id);
    const store = harness.store;
    expect(ids(await store.listAnomalies({ meterId: OTHER_HELD_METER, limit: 10 }))).toEqual([
      rows[2]!.id,
    ]);
    expect(ids(await store.listAnomalies({ detector: 'test.zero', limit: 10 }))).toEqual([
      rows[1]!.id,
    ]);
    const slot = (n: number) => FEED_START_MS + n * INTERVAL_MS;
    expect(ids(await store.listAnomalies({ fromMs: slot(2), toMs: slot(4), limit: 10 }))).toEqual([
      rows[0]!.id,
    ]);
    expect(ids(await store.listAnomalies({ limit: 2 }))).toEqual([rows[0]!.id, rows[1]!.id]);
    expect(ids(await store.listAnomalies({ afterId: rows[1]!.id, limit: 2 }))).toEqual([
      rows[2]!.id,
    ]);
    await rejectAnomaly(context(), rows[1]!.id, 'meter replaced 2026-10-03');
    expect(ids(await store.listAnomalies({ status: 'held', limit: 10 }))).toEqual([
      rows[0]!.id,
      rows[2]!.id,
    ]);
    expect(ids(await store.listAnomalies({ status: 'rejected', limit: 10 }))).toEqual([
      rows[1]!.id,
    ]);
  });
});

describe('release', () => {
  it('moves exactly the reading into the billing ledger as an audited new version', async () => {
    await holdFeed();
    const spike = await heldAt(HELD_METER, 2);
    const before = await snapshot();
    const kinds = await auditKinds(harness);

    const report = await releaseAnomaly(context(), spike.id, 'field verified: meter healthy');
    expect(report).toMatchObject({ anomalyId: spike.id, outcome: 'released', version: 1 });

    const after = await snapshot();
    expect(after.ledgerMilliWh - before.ledgerMilliWh).toBe(40_000_000n);
    expect(before.heldMilliWh - after.heldMilliWh).toBe(40_000_000n);
    expect(after.ledgerReadings).toBe(before.ledgerReadings + 1);
    expect([after.held, after.released, after.rejected]).toEqual([2, 1, 0]);
    // The feed's own totals stand as delivered; the release is an operator batch that balances.
    expect(after.totals).toEqual(before.totals);
    expect(after.operatorTotals).toMatchObject({ received: 1, accepted: 1, anomalyHeld: 0 });
    expect(after.conserved).toBe(true);

    const ledger = await currentLedgerRows(harness);
    const row = ledger.find((r) => r.idempotencyKey === spike.reading.idempotencyKey);
    expect(row).toMatchObject({ valueMicro: 40_000_000, version: 1, batchId: report.batchId });
    const batch = await harness.store.getBatch(report.batchId);
    expect(batch).toMatchObject({ kind: 'override', auditSeq: report.auditSeq });
    const entry = await harness.store.getAuditEntry(report.auditSeq);
    expect(JSON.parse(entry!.payload)).toMatchObject({
      releaseOf: spike.id,
      actor: 'engineer@utility',
      note: 'field verified: meter healthy',
      ledgerLeaves: 1,
    });
    expect(await auditKinds(harness)).toEqual({ ...kinds, batch: (kinds.batch ?? 0) + 1 });
    expect(await harness.store.getAnomaly(spike.id)).toMatchObject({
      status: 'released',
      decision: {
        status: 'released',
        actor: 'engineer@utility',
        note: 'field verified: meter healthy',
        atMs: harness.clock.nowMs(),
        resolvedBatchId: report.batchId,
      },
    });
    await expectVerified();
  });

  it('counts a retransmitted held reading as a duplicate of its hold, never billing it', async () => {
    // The same delivery twice: its held readings are duplicates of their holds the second time,
    // not second holds, and nothing reaches the billing ledger without a release.
    const held = await holdFeed();
    const before = await snapshot();
    const report = await harness.ingest(toNdjsonText(heldFeed()), {
      detectors: TEST_DETECTORS,
      name: 'again',
    });
    expect(report.counts).toMatchObject({
      received: 8,
      accepted: 0,
      duplicates: 8,
      anomalyHeld: 0,
    });
    const after = await snapshot();
    expect(await harness.store.listAnomalies({ limit: 100 })).toHaveLength(held.length);
    expect(after.ledgerMilliWh).toBe(before.ledgerMilliWh);
    expect(after.heldMilliWh).toBe(before.heldMilliWh);
    expect(after.conserved).toBe(true);
    const [first] = await harness.store.listAnomalies({ meterId: OTHER_HELD_METER, limit: 9 });
    const released = await releaseAnomaly(context(), first!.id, 'field verified: meter healthy');
    expect(released).toMatchObject({ outcome: 'released' });
    expect((await snapshot()).ledgerMilliWh - after.ledgerMilliWh).toBe(25_000_000n);
    await expectVerified();
  });

  it('writes nothing when the ledger now holds another value for the interval', async () => {
    await holdFeed();
    const spike = await heldAt(HELD_METER, 2);
    // The vendor's corrected read of the same interval, under its own sequence number.
    await harness.ingest(toNdjsonText([heldRecord(2, 30, '0.5')]), { detectors: TEST_DETECTORS });
    const before = await snapshot();
    const kinds = await auditKinds(harness);
    await expect(
      releaseAnomaly(context(), spike.id, 'field verified: meter healthy'),
    ).rejects.toMatchObject({ code: 'INVALID_STATE', message: /stays held/ });
    expect(await snapshot()).toEqual(before);
    expect(await auditKinds(harness)).toEqual(kinds);
    expect((await harness.store.getAnomaly(spike.id))?.status).toBe('held');
    await expectVerified();
  });

  it('needs a note, an existing hold, and a hold still held', async () => {
    const [row] = await holdFeed();
    await expect(releaseAnomaly(context(), row!.id, 'ok')).rejects.toMatchObject({
      code: 'USAGE',
    });
    await expect(
      releaseAnomaly(context(), 999, 'field verified: meter healthy'),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await rejectAnomaly(context(), row!.id, 'meter replaced 2026-10-03');
    await expect(
      releaseAnomaly(context(), row!.id, 'field verified: meter healthy'),
    ).rejects.toMatchObject({ code: 'INVALID_STATE' });
  });
});

describe('reject', () => {
  it('keeps the reading out of the billing ledger and leaves its interval a gap', async () => {
    await holdFeed();
    const spike = await heldAt(HELD_METER, 2);
    const before = await snapshot();
    const report = await rejectAnomaly(context(), spike.id, 'meter replaced 2026-10-03');
    const after = await snapshot();
    expect(after.ledgerMilliWh).toBe(before.ledgerMilliWh);
    expect(after.ledgerReadings).toBe(before.ledgerReadings);
    expect(before.heldMilliWh - after.heldMilliWh).toBe(40_000_000n);
    expect([after.held, after.released, after.rejected]).toEqual([2, 0, 1]);
    expect(after.totals).toEqual(before.totals);
    expect(after.operatorTotals).toEqual(before.operatorTotals);
    expect(after.conserved).toBe(true);
    const ledger = await currentLedgerRows(harness);
    const slots = ledger
      .filter((r) => r.meterId === HELD_METER)
      .map((r) => (r.intervalStartMs - FEED_START_MS) / INTERVAL_MS);
    expect(slots).toEqual([0, 1, 3, 5]);
    const entry = await harness.store.getAuditEntry(report.auditSeq);
    expect(entry?.kind).toBe('anomaly.reject');
    expect(JSON.parse(entry!.payload)).toMatchObject({
      anomaly: spike.id,
      actor: 'engineer@utility',
      note: 'meter replaced 2026-10-03',
    });
    await expectVerified();
  });
});

describe('two decisions on one hold at once', () => {
  const note = 'field verified: meter healthy';
  const decide = {
    release: (id: number) => releaseAnomaly(context('first@utility'), id, note),
    reject: (id: number) => rejectAnomaly(context('second@utility'), id, note),
  };

  it.each([
    ['release', 'reject'],
    ['reject', 'release'],
    ['release', 'release'],
    ['reject', 'reject'],
  ] as const)('%s and %s: exactly one succeeds', async (first, second) => {
    await holdFeed();
    const spike = await heldAt(HELD_METER, 2);
    const before = await snapshot();
    const kinds = await auditKinds(harness);
    const outcomes = await Promise.allSettled([decide[first](spike.id), decide[second](spike.id)]);
    const lost = outcomes.filter((o) => o.status === 'rejected');
    expect(lost).toHaveLength(1);
    expect((lost[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'INVALID_STATE' });
    const winner = outcomes[0]?.status === 'fulfilled' ? first : second;
    const after = await snapshot();
    expect(after.ledgerMilliWh - before.ledgerMilliWh).toBe(
      winner === 'release' ? 40_000_000n : 0n,
    );
    expect(before.heldMilliWh - after.heldMilliWh).toBe(40_000_000n);
    expect((await harness.store.getAnomaly(spike.id))?.status).toBe(
      winner === 'release' ? 'released' : 'rejected',
    );
    const grown = await auditKinds(harness);
    expect([
      (grown.batch ?? 0) - (kinds.batch ?? 0),
      (grown['anomaly.reject'] ?? 0) - (kinds['anomaly.reject'] ?? 0),
    ]).toEqual(winner === 'release' ? [1, 0] : [0, 1]);
    expect(after.conserved).toBe(true);
    await expectVerified();
  });
});

describe('decisions under audit', () => {
  it('a decided hold never changes, and a decision made outside amisync is found', async () => {
    const [spike, zero, other] = await holdFeed();
    await releaseAnomaly(context(), spike!.id, 'field verified: meter healthy');
    await rejectAnomaly(context(), zero!.id, 'meter replaced 2026-10-03');
    await expectVerified();
    const db = harness.store.db;
    expect(() => db.exec(`UPDATE anomalies SET status = 'held' WHERE id = ${spike!.id}`)).toThrow(
      /cannot change/,
    );
    expect(() => db.exec(`UPDATE anomalies SET note = 'x' WHERE id = ${zero!.id}`)).toThrow(
      /cannot change/,
    );
    expect(() => db.exec(`UPDATE anomalies SET status = 'gone' WHERE id = ${other!.id}`)).toThrow(
      /held, released or rejected/,
    );
    // Dropping the backlog by hand: the hold is closed with no entry that says so.
    db.exec(`UPDATE anomalies SET status = 'rejected' WHERE id = ${other!.id}`);
    const tampered = await verifyAudit(harness.store, null);
    expect(tampered.ok).toBe(false);
    expect(tampered.problems.map((p) => p.reason)).toEqual([
      `anomaly ${other!.id} is rejected but no audit entry records that decision (changed ` +
        'outside amisync)',
    ]);
  });

  it('finds a decision undone outside amisync', async () => {
    const [spike] = await holdFeed();
    await releaseAnomaly(context(), spike!.id, 'field verified: meter healthy');
    harness.store.db.exec('DROP TRIGGER anomalies_decision_final');
    harness.store.db.exec(`UPDATE anomalies SET status = 'held' WHERE id = ${spike!.id}`);
    const tampered = await verifyAudit(harness.store, null);
    expect(tampered.problems.map((p) => p.reason)).toEqual([
      `the audit trail records a decision on anomaly ${spike!.id}, which is not so decided ` +
        '(changed outside amisync)',
    ]);
  });
});
