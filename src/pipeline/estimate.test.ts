// Goal: gaps list finds missing and rejected intervals, estimate fills them as audited estimated
// readings once, and a later actual replaces an estimate by exactly the difference. Method: a
// real SQLite store fed through ingestDelivery (stand-in detectors hold a spike, an operator
// rejects it), then listGaps, estimateGaps, a late actual, status and audit verify.
import { readFileSync } from 'node:fs';
import { Temporal } from 'temporal-polyfill';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAudit } from '../audit/verify.js';
import { formatUtcSeconds, idempotencyKey } from '../core/identity.js';
import type { LedgerRow, StoreStatus } from '../core/store.js';
import { DEFAULT_DICTIONARY } from '../dictionary/dictionary.js';
import { TEST_DETECTORS } from '../test-support/held-readings.js';
import {
  auditKinds,
  currentLedgerRows,
  openHarness,
  type Harness,
} from '../test-support/ingest-harness.js';
import { removeTempDirs } from '../test-support/temp.js';
import { toNdjsonText, type WireRecord } from '../test-support/wire-text.js';
import { rejectAnomaly } from './anomalies.js';
import { isConserved } from './commit.js';
import {
  ESTIMATE_SEQ,
  estimateGaps,
  listGaps,
  planEstimates,
  writeEstimatePlan,
  type EstimateReport,
} from './estimate.js';

afterAll(removeTempDirs);

const SLOT_MS = 900_000;
const DAY_MS = 86_400_000;
/** Monday 2026-03-02: five weekdays of data follow. */
const MONDAY_MS = Date.UTC(2026, 2, 2);
const METER = 'MTR-ESTM0001';
const SPIKY = 'MTR-ESTM0002';
/** Wednesday 06:00-12:00 UTC: a 6-hour hole (like days). */
const LONG_FROM_MS = MONDAY_MS + 2 * DAY_MS + 6 * 3_600_000;
const LONG_TO_MS = LONG_FROM_MS + 6 * 3_600_000;
/** Wednesday 14:00-15:00 UTC: a 1-hour hole (interpolation). */
const SHORT_FROM_MS = MONDAY_MS + 2 * DAY_MS + 14 * 3_600_000;
const SHORT_TO_MS = SHORT_FROM_MS + 3_600_000;
const PERIOD = { fromMs: MONDAY_MS, toMs: MONDAY_MS + 5 * DAY_MS, meterIds: null };

/** Linear within each day, a different level each day: interpolation recovers it exactly. */
function valueMicro(startMs: number): number {
  const day = Math.floor((startMs - MONDAY_MS) / DAY_MS);
  const minute = (startMs - MONDAY_MS - day * DAY_MS) / 60_000;
  return 100_000 + day * 1_000 + minute * 100;
}

/** A reference-feed record; without a seq the feed's seq is 0, as for most vendors. */
function record(meter: string, startMs: number, kwh: string, seq?: number): WireRecord {
  return {
    meter_id: meter,
    timestamp_utc: formatUtcSeconds(startMs),
    consumption_kwh: kwh,
    status_code: 0,
    seq,
  };
}

function kwhOf(micro: number): string {
  return (micro / 1_000_000).toFixed(6);
}

function inHole(startMs: number): boolean {
  return (
    (startMs >= LONG_FROM_MS && startMs < LONG_TO_MS) ||
    (startMs >= SHORT_FROM_MS && startMs < SHORT_TO_MS)
  );
}

function feed(): WireRecord[] {
  const records: WireRecord[] = [];
  let seq = 1;
  for (let startMs = MONDAY_MS; startMs < PERIOD.toMs; startMs += SLOT_MS) {
    if (!inHole(startMs)) records.push(record(METER, startMs, kwhOf(valueMicro(startMs)), seq));
    seq += 1;
  }
  // The second meter reads 0.5 kWh throughout; slot 40 is a 40 kWh spike the detector holds.
  for (let slot = 0; slot < 5 * 96; slot++) {
    records.push(record(SPIKY, MONDAY_MS + slot * SLOT_MS, slot === 40 ? '40' : '0.5', slot + 1));
  }
  return records;
}

let harness: Harness;
let first: EstimateReport;
let statusBefore: StoreStatus;

function context() {
  return {
    store: harness.store,
    clock: harness.clock,
    dictionary: DEFAULT_DICTIONARY,
    actor: 'billing-analyst',
  };
}

async function currentRow(meter: string, startMs: number): Promise<LedgerRow | undefined> {
  return (await currentLedgerRows(harness)).find(
    (row) => row.meterId === meter && row.intervalStartMs === startMs,
  );
}

beforeAll(async () => {
  harness = openHarness();
  await harness.clock.advance(9 * DAY_MS);
  // Only the second meter is judged, so the first meter's readings all reach the ledger.
  await harness.ingest(toNdjsonText(feed().filter((r) => r.meter_id === METER)));
  await harness.ingest(toNdjsonText(feed().filter((r) => r.meter_id === SPIKY)), {
    detectors: TEST_DETECTORS,
  });
  const [held] = await harness.store.listAnomalies({ status: 'held', limit: 10 });
  if (held === undefined) throw new Error('the spike was not held');
  await rejectAnomaly(
    { store: harness.store, clock: harness.clock, actor: 'engineer' },
    held.id,
    'field verified: the spike was a test current',
  );
  statusBefore = await harness.store.status();
});

describe('gaps list', () => {
  it('lists missing and rejected intervals per stream as runs', async () => {
    const report = await listGaps(harness.store, harness.clock, PERIOD);
    expect(report.intervals).toEqual({ missing: 28, rejected: 1 });
    const runs = report.streams.map((stream) => [
      stream.meterId,
      stream.intervalSeconds,
      stream.runs.map((run) => [run.fromMs, run.toMs, run.intervals, run.why]),
    ]);
    expect(runs).toEqual([
      [
        METER,
        900,
        [
          [LONG_FROM_MS, LONG_TO_MS, 24, 'missing'],
          [SHORT_FROM_MS, SHORT_TO_MS, 4, 'missing'],
        ],
      ],
      [SPIKY, 900, [[MONDAY_MS + 40 * SLOT_MS, MONDAY_MS + 41 * SLOT_MS, 1, 'rejected']]],
    ]);
    const one = await listGaps(harness.store, harness.clock, { ...PERIOD, meterIds: [SPIKY] });
    expect(one.intervals).toEqual({ missing: 0, rejected: 1 });
  });
});

describe('estimate', () => {
  beforeAll(async () => {
    first = await estimateGaps(context(), PERIOD, 'October close: fill before billing');
  });

  it('fills short holes by interpolation and long ones by like days, in one audited batch', async () => {
    expect(first).toMatchObject({
      estimated: 29,
      interpolated: 5,
      likeDay: 24,
      filledMeanwhile: 0,
    });
    expect(first.skipped).toEqual([]);
    expect(first.batches).toHaveLength(1);
    expect(first.timeZone).toBe('UTC');
    expect(first.registerAdvance).toContain('no register reads');
    const entry = await harness.store.getAuditEntry(first.batches[0]?.auditSeq ?? 0);
    const payload = JSON.parse(entry?.payload ?? '{}') as Record<string, unknown>;
    expect(payload).toMatchObject({
      kind: 'override',
      actor: 'billing-analyst',
      note: 'October close: fill before billing',
      estimate: { shortGapMinutes: 120, likeDays: 3, timeZone: 'UTC', seq: -1 },
      counts: { received: 29, accepted: 29 },
    });
  });

  it('marks every estimate and keys it with the estimate seq', async () => {
    const estimated = (await currentLedgerRows(harness)).filter((r) => r.quality === 'estimated');
    expect(estimated).toHaveLength(29);
    for (const row of estimated) {
      expect(row.seq).toBe(ESTIMATE_SEQ);
      expect(row.statusCode).toBe(DEFAULT_DICTIONARY.statusBits.estimated);
      expect(row.idempotencyKey).toBe(
        idempotencyKey(row.meterId, row.channel, row.intervalStartMs, ESTIMATE_SEQ),
      );
      expect(row.version).toBe(1);
    }
  });

  it('interpolates the linear day exactly and the rejected spike from its neighbours', async () => {
    for (let startMs = SHORT_FROM_MS; startMs < SHORT_TO_MS; startMs += SLOT_MS) {
      const row = await currentRow(METER, startMs);
      expect(row?.valueMicro).toBe(valueMicro(startMs));
      expect(row?.qualityDetail).toMatch(/^interpolation: linear between /);
    }
    const spike = await currentRow(SPIKY, MONDAY_MS + 40 * SLOT_MS);
    expect(spike?.valueMicro).toBe(500_000);
  });

  it('averages the 3 nearest weekdays at the same time of day for the long hole', async () => {
    for (let startMs = LONG_FROM_MS; startMs < LONG_TO_MS; startMs += SLOT_MS) {
      const row = await currentRow(METER, startMs);
      // Tuesday, Thursday and Monday: day levels 1, 3 and 0 thousand, averaged.
      const sameTime = (days: number) => valueMicro(startMs + days * DAY_MS);
      const expected = Math.round((sameTime(-1) + sameTime(1) + sameTime(-2)) / 3);
      expect(row?.valueMicro).toBe(expected);
      expect(row?.qualityDetail).toBe(
        'like-day: average of 3 weekday day(s) 2026-03-03 2026-03-05 2026-03-02 at the same ' +
          'wall-clock time (UTC)',
      );
    }
  });

  it('adds nothing when run again, and gaps list then finds none', async () => {
    const kinds = await auditKinds(harness);
    const again = await estimateGaps(context(), PERIOD, null);
    expect(again).toMatchObject({ estimated: 0, batches: [] });
    expect(await auditKinds(harness)).toEqual(kinds);
    const gaps = await listGaps(harness.store, harness.clock, PERIOD);
    expect(gaps.intervals).toEqual({ missing: 0, rejected: 0 });
  });

  it('moves the ledger total by exactly the estimates, and keeps conservation and the audit', async () => {
    const status = await harness.store.status();
    const added = status.ledger.energyMilliWh - statusBefore.ledger.energyMilliWh;
    expect(added).toBe(first.estimatedEnergyMilliWh);
    expect(status.ledger.readings - statusBefore.ledger.readings).toBe(29);
    expect(isConserved(status.totals)).toBe(true);
    expect(isConserved(status.operatorTotals)).toBe(true);
    const verified = await verifyAudit(harness.store, null);
    expect(verified.problems).toEqual([]);
    expect(verified.ok).toBe(true);
  });
});

describe('an actual arriving after the estimate', () => {
  it('replaces it as a revision and moves the totals by exactly the difference', async () => {
    const likeDaySlot = LONG_FROM_MS + 8 * SLOT_MS;
    const interpolatedSlot = SHORT_FROM_MS + SLOT_MS;
    const noSeqSlot = LONG_FROM_MS + 9 * SLOT_MS;
    const slots = [likeDaySlot, interpolatedSlot, noSeqSlot];
    const estimates = await Promise.all(slots.map((startMs) => currentRow(METER, startMs)));
    const before = await harness.store.status();
    // The feed's own seq for two slots, none (seq 0) for the third; values unlike the estimates.
    const seqOf = (startMs: number) => (startMs - MONDAY_MS) / SLOT_MS + 1;
    const actuals = [
      record(METER, likeDaySlot, '0.987654', seqOf(likeDaySlot)),
      record(METER, interpolatedSlot, '0.012345', seqOf(interpolatedSlot)),
      record(METER, noSeqSlot, '0.5'),
    ];
    const report = await harness.ingest(toNdjsonText(actuals), { name: 'late-actuals' });
    expect(report.counts).toMatchObject({
      received: 3,
      accepted: 3,
      revisions: 3,
      quarantined: 0,
      conflicts: 0,
    });
    const after = await harness.store.status();
    const estimatedMicro = estimates.reduce((sum, row) => sum + (row?.valueMicro ?? 0), 0);
    expect(after.ledger.energyMilliWh - before.ledger.energyMilliWh).toBe(
      BigInt(987_654 + 12_345 + 500_000 - estimatedMicro),
    );
    expect(after.ledger.readings).toBe(before.ledger.readings);
    for (const [index, startMs] of slots.entries()) {
      const row = await currentRow(METER, startMs);
      expect(row).toMatchObject({ quality: 'actual', version: 2 });
      expect(row?.supersedesKey).toBe(estimates[index]?.idempotencyKey);
    }
    expect((await verifyAudit(harness.store, null)).ok).toBe(true);
    // The estimate stays in the ledger, superseded; another run does not estimate the slot again.
    const again = await estimateGaps(context(), PERIOD, null);
    expect(again.estimated).toBe(0);
  });
});

describe("in the dictionary's time zone, across the spring change", () => {
  const ZONE = 'America/New_York';
  const NY_METER = 'MTR-ESTMNY01';
  const local = (date: string, time: string) =>
    Temporal.PlainDateTime.from(`${date}T${time}`).toZonedDateTime(ZONE).toInstant()
      .epochMilliseconds;
  /** Depends on the local wall-clock time only: a like day at the same local time matches. */
  const wallValue = (ms: number) => {
    const zoned = Temporal.Instant.fromEpochMilliseconds(ms).toZonedDateTimeISO(ZONE);
    return 100_000 + (zoned.hour * 60 + zoned.minute) * 100;
  };
  // Sunday 2026-03-08 00:00-05:00 local: four hours, since 02:00-02:59 does not exist.
  const holeFromMs = local('2026-03-08', '00:00');
  const holeToMs = local('2026-03-08', '05:00');
  const raceMs = local('2026-03-08', '04:00');
  let ny: Harness;

  beforeAll(async () => {
    ny = openHarness();
    await ny.clock.advance(30 * DAY_MS);
    const records: WireRecord[] = [];
    for (let ms = local('2026-02-27', '00:00'); ms < local('2026-03-23', '00:00'); ms += SLOT_MS) {
      if (ms >= holeFromMs && ms < holeToMs) continue;
      records.push(record(NY_METER, ms, kwhOf(wallValue(ms))));
    }
    await ny.ingest(toNdjsonText(records));
  });

  it('fills the 23-hour day from like days at the same local time, leaving an actual that came meanwhile', async () => {
    const dictionary = { ...DEFAULT_DICTIONARY, timeZone: ZONE };
    const nyContext = { store: ny.store, clock: ny.clock, dictionary, actor: 'billing-analyst' };
    const period = { fromMs: local('2026-03-08', '00:00'), toMs: local('2026-03-09', '00:00') };
    const plan = await planEstimates(nyContext, { ...period, meterIds: null });
    expect(plan.settings.timeZone).toBe(ZONE);
    expect(plan.readings).toHaveLength(16);
    // An actual for 04:00 arrives between the read and the write.
    await ny.ingest(toNdjsonText([record(NY_METER, raceMs, '0.777')]), { name: 'meanwhile' });
    const report = await writeEstimatePlan(nyContext, plan, null);
    expect(report).toMatchObject({ estimated: 15, likeDay: 15, filledMeanwhile: 1 });
    expect(await ny.store.listQuarantine({ limit: 10 })).toEqual([]);
    const rows = (await currentLedgerRows(ny)).filter(
      (row) => row.intervalStartMs >= holeFromMs && row.intervalStartMs < holeToMs,
    );
    expect(rows).toHaveLength(16);
    for (const row of rows) {
      if (row.intervalStartMs === raceMs) {
        expect(row).toMatchObject({ quality: 'actual', valueMicro: 777_000, version: 1 });
        continue;
      }
      expect(row.quality).toBe('estimated');
      expect(row.valueMicro).toBe(wallValue(row.intervalStartMs));
      expect(row.qualityDetail).toBe(
        'like-day: average of 3 weekend day(s) 2026-03-07 2026-03-14 2026-03-01 at the same ' +
          `wall-clock time (${ZONE})`,
      );
    }
  });
});

describe('the documented key of an estimate', () => {
  it('is in docs/idempotency-key.md', () => {
    const doc = readFileSync(new URL('../../docs/idempotency-key.md', import.meta.url), 'utf8');
    const key = idempotencyKey(
      'MTR-0A1B2C3D',
      '1',
      Date.parse('2026-03-01T00:00:00Z'),
      ESTIMATE_SEQ,
    );
    expect(doc).toContain(`| \`${key}\` |`);
    expect(doc).toContain('2026-03-01T00:00:00Z\\|-1`');
  });
});
