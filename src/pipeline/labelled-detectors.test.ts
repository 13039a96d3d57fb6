// Goal: the reference detectors, run by default through the normal pipeline, reach known precision
// and recall per detector on a seeded labelled feed (24 meters x 35 days, America/Chicago, across
// the end of DST); a clean feed is flagged on under 0.1% of its readings; the same readings in
// another interleaving of time-ordered deliveries hold the same set, and days delivered out of
// order meet only the stateless detectors (docs/detectors.md, backfill rule); releasing and
// rejecting held readings moves exactly their kWh, with conservation and audit verify holding.
// Method: generate the feed with src/simulator/labelled-feed.ts, ingest it day by day into real
// SQLite stores, score the anomaly ledger against the labels with src/simulator/labelled-score.ts.
// AMISYNC_VEE_SEEDS (`npm run test:vee-long`) runs the figures on more seeds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAudit } from '../audit/verify.js';
import { formatUtcSeconds } from '../core/identity.js';
import type { AnomalyRow } from '../core/store.js';
import { parseDictionary } from '../dictionary/dictionary.js';
import { Mulberry32, toNdjson, type FeedRecord } from '../simulator/feed-generator.js';
import { generateLabelledFeed, type LabelledFeed } from '../simulator/labelled-feed.js';
import {
  readFlaggedReadings,
  scoreLabelled,
  type DetectorScore,
  type LabelledScore,
} from '../simulator/labelled-score.js';
import { openHarness, type Harness } from '../test-support/ingest-harness.js';
import { removeTempDirs } from '../test-support/temp.js';
import { rejectAnomaly, releaseAnomaly } from './anomalies.js';
import { isConserved } from './commit.js';

const SEEDS = (process.env.AMISYNC_VEE_SEEDS ?? '1').split(',').map(Number);
const METERS = 24;
const DAYS = 35;
const DICTIONARY = parseDictionary({ timeZone: 'America/Chicago' });
const STATELESS = new Set(['reverse_flow', 'tamper', 'clock']);
const TEST_TIMEOUT_MS = 300_000;

type Floors = Record<string, { precision: number; recall: number }>;

/**
 * Floors per detector code on seed 1 (the short form): its figures, rounded down. A detector that
 * falls below one has got worse at its job.
 */
const SEED_1_FLOORS: Floors = {
  spike: { precision: 1, recall: 1 },
  zscore: { precision: 0.96, recall: 1 },
  mad: { precision: 1, recall: 1 },
  iqr: { precision: 1, recall: 1 },
  // Runs of 2..8 hours are injected; the detector needs 16 intervals (4 hours).
  zero_run: { precision: 1, recall: 0.57 },
  flat_line: { precision: 1, recall: 0.46 },
  reverse_flow: { precision: 1, recall: 1 },
  tamper: { precision: 1, recall: 1 },
  clock: { precision: 1, recall: 1 },
  // Low days of 0.05..0.4 of the true day are injected; the limit is 80% below the average.
  daily_low: { precision: 1, recall: 0.33 },
  // High days of 2..4.5 times the true day are injected; the limit is 200% above the average, so
  // a day under three times its average is not one to flag.
  daily_high: { precision: 1, recall: 0.66 },
};

/** Floors on any other seed: the lowest figures measured on seeds 1 to 5, rounded down. */
const ANY_SEED_FLOORS: Floors = {
  ...SEED_1_FLOORS,
  zscore: { precision: 0.88, recall: 1 },
  zero_run: { precision: 1, recall: 0.53 },
  daily_low: { precision: 1, recall: 0.27 },
  daily_high: { precision: 1, recall: 0.53 },
};

afterAll(removeTempDirs);

function feedOf(seed: number, clean = false): LabelledFeed {
  return generateLabelledFeed({ seed, meters: METERS, days: DAYS, clean });
}

function openAfter(feed: LabelledFeed): Harness {
  const harness = openHarness();
  harness.clock.setMs(Date.parse(feed.labels.toUtc) + 86_400_000);
  return harness;
}

function ndjson(records: readonly FeedRecord[]): string {
  return [...toNdjson(records)].join('');
}

/** One delivery per local day, in time order. */
async function ingestByDay(feed: LabelledFeed): Promise<Harness> {
  const harness = openAfter(feed);
  for (const day of feed.days) {
    await harness.ingest(ndjson(day.records), { dictionary: DICTIONARY, name: day.localDate });
  }
  return harness;
}

async function heldRows(harness: Harness): Promise<AnomalyRow[]> {
  const rows: AnomalyRow[] = [];
  for (;;) {
    const last = rows[rows.length - 1];
    const page = await harness.store.listAnomalies({
      limit: 1000,
      ...(last === undefined ? {} : { afterId: last.id }),
    });
    rows.push(...page);
    if (page.length < 1000) return rows;
  }
}

/** Each held reading with its detectors, as comparable text, sorted. */
function heldSet(rows: readonly AnomalyRow[]): string[] {
  return rows
    .map((row) => {
      const detectors = [...new Set(row.findings.map((finding) => finding.detector))].sort();
      const { meterId, intervalStartMs } = row.reading;
      return `${meterId} ${formatUtcSeconds(intervalStartMs)} ${detectors.join(',')}`;
    })
    .sort();
}

for (const seed of SEEDS) {
  describe(`seed ${seed}: precision and recall per detector`, () => {
    let harness: Harness;
    let feed: LabelledFeed;
    let score: LabelledScore;

    beforeAll(async () => {
      feed = feedOf(seed);
      harness = await ingestByDay(feed);
      score = scoreLabelled(feed.labels, await readFlaggedReadings(harness.store));
    }, TEST_TIMEOUT_MS);
    afterAll(async () => harness.close());

    const detectorScore = (code: string): DetectorScore => {
      const found = score.detectors.find((one) => one.detector === code);
      expect(found, `${code} is expected by a label or flagged something`).toBeDefined();
      return found as DetectorScore;
    };

    for (const [code, floor] of Object.entries(seed === 1 ? SEED_1_FLOORS : ANY_SEED_FLOORS)) {
      it(`${code}: precision >= ${floor.precision}, recall >= ${floor.recall}`, () => {
        const one = detectorScore(code);
        expect(one.expected, `labels expecting ${code}`).toBeGreaterThan(5);
        expect(one.precision ?? 0).toBeGreaterThanOrEqual(floor.precision);
        expect(one.recall ?? 0).toBeGreaterThanOrEqual(floor.recall);
      });
    }

    it('catches every high day by some detector, and flags under 0.1% of unlabelled readings', () => {
      const highDays = score.kinds.find((kind) => kind.kind === 'high_day');
      expect(highDays?.labels).toBeGreaterThan(5);
      expect(highDays?.caughtByAny).toBeGreaterThanOrEqual((highDays?.labels ?? 0) * 0.8);
      expect(score.cleanFlagRate).toBeLessThan(0.001);
      expect(score.flaggedOutageReadings).toBe(0);
      expect(score.ignoredFlags).toBe(0);
    });
  });
}

describe('clean data', () => {
  it(
    'flags under 0.1% of the readings of a clean feed, and no outage reading',
    async () => {
      const feed = feedOf(SEEDS[0] ?? 1, true);
      const harness = await ingestByDay(feed);
      try {
        const flags = await readFlaggedReadings(harness.store);
        const score = scoreLabelled(feed.labels, flags);
        expect(score.unlabelledReadings).toBe(feed.labels.readings);
        expect(score.flaggedUnlabelled / feed.labels.readings).toBeLessThan(0.001);
        expect(score.flaggedOutageReadings).toBe(0);
        expect(feed.labels.outages.length).toBeGreaterThan(0);
      } finally {
        await harness.close();
      }
    },
    TEST_TIMEOUT_MS,
  );
});

describe('replay invariance and the ledgers', () => {
  const feed = feedOf(SEEDS[0] ?? 1);
  let inOrder: Harness;
  let inOrderHeld: string[];

  beforeAll(async () => {
    inOrder = await ingestByDay(feed);
    inOrderHeld = heldSet(await heldRows(inOrder));
  }, TEST_TIMEOUT_MS);
  afterAll(async () => inOrder.close());

  it(
    'holds the same set when groups of meters deliver their days interleaved, in other batches',
    async () => {
      const groups = 4;
      // Meters are split into groups by their position in the labels' meter list.
      const groupOf = new Map(
        feed.labels.meters.map((meter, index) => [meter.meterId, index % groups]),
      );
      const next = Array.from({ length: groups }, () => 0);
      const random = new Mulberry32(99);
      const harness = openAfter(feed);
      try {
        // Each group's days stay in time order; which group delivers next is shuffled.
        while (next.some((day) => day < feed.days.length)) {
          const open = next.flatMap((day, group) => (day < feed.days.length ? [group] : []));
          const group = open[random.nextInt(0, open.length - 1)] as number;
          const day = feed.days[next[group] as number];
          next[group] = (next[group] as number) + 1;
          const records = (day?.records ?? []).filter(
            (record) => groupOf.get(record['meter_id'] as string) === group,
          );
          await harness.ingest(ndjson(records), {
            dictionary: DICTIONARY,
            name: `${group}-${day?.localDate}`,
            batchReadingsMax: 777,
          });
        }
        expect(heldSet(await heldRows(harness))).toEqual(inOrderHeld);
        expect(inOrderHeld.length).toBeGreaterThan(100);
      } finally {
        await harness.close();
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'judges days delivered after a later day by the stateless detectors only (backfill rule)',
    async () => {
      const order = feed.days.map((_, index) => index);
      const random = new Mulberry32(7);
      for (let at = order.length - 1; at > 0; at--) {
        const other = random.nextInt(0, at);
        [order[at], order[other]] = [order[other] as number, order[at] as number];
      }
      const harness = openAfter(feed);
      const late = new Set<string>();
      try {
        let newest = -1;
        for (const index of order) {
          const day = feed.days[index];
          if (day === undefined) continue;
          if (index < newest) late.add(day.localDate);
          newest = Math.max(newest, index);
          await harness.ingest(ndjson(day.records), {
            dictionary: DICTIONARY,
            name: day.localDate,
          });
        }
        const rows = await heldRows(harness);
        const lateRows = rows.filter((row) => late.has(localDateOf(feed, row)));
        expect(late.size).toBeGreaterThan(10);
        expect(lateRows.length).toBeGreaterThan(0);
        for (const row of lateRows) {
          for (const finding of row.findings) expect(STATELESS.has(finding.detector)).toBe(true);
        }
        // The stateless labels of late days are still all held.
        const heldKeys = new Set(
          rows.map((row) => `${row.reading.meterId} ${row.reading.intervalStartMs}`),
        );
        const lateStatusLabels = feed.labels.labels.filter(
          (label) =>
            STATELESS.has(label.kind) && late.has(localDateOfLabel(feed, label.intervalStartUtc)),
        );
        expect(lateStatusLabels.length).toBeGreaterThan(0);
        for (const label of lateStatusLabels) {
          expect(heldKeys.has(`${label.meterId} ${Date.parse(label.intervalStartUtc)}`)).toBe(true);
        }
      } finally {
        await harness.close();
      }
    },
    TEST_TIMEOUT_MS,
  );

  it('release and reject move exactly the held kWh, conserved and verified', async () => {
    const store = inOrder.store;
    const held = (await store.listAnomalies({ status: 'held', limit: 12 })).slice(0, 12);
    expect(held.length).toBe(12);
    const released = held.slice(0, 6);
    const rejected = held.slice(6);
    const before = await snapshot(inOrder);
    const context = { store, clock: inOrder.clock, actor: 'field-crew' };
    for (const row of released) {
      const report = await releaseAnomaly(context, row.id, 'field verified: meter healthy');
      expect(report.outcome).toBe('released');
    }
    for (const row of rejected) await rejectAnomaly(context, row.id, 'meter replaced 2026-11-02');
    const after = await snapshot(inOrder);
    const sum = (rows: readonly AnomalyRow[]) =>
      rows.reduce((total, row) => total + BigInt(row.reading.valueMicro), 0n);
    expect(after.ledgerMilliWh - before.ledgerMilliWh).toBe(sum(released));
    expect(after.ledgerReadings - before.ledgerReadings).toBe(released.length);
    expect(before.heldMilliWh - after.heldMilliWh).toBe(sum(released) + sum(rejected));
    expect([after.held, after.released, after.rejected]).toEqual([before.held - 12, 6, 6]);
    expect(after.totals).toEqual(before.totals);
    expect(after.conserved).toBe(true);
    const audit = await verifyAudit(store, null);
    expect(audit.problems).toEqual([]);
    expect(audit.ok).toBe(true);
  });
});

async function snapshot(harness: Harness) {
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
    conserved: isConserved(status.totals) && isConserved(status.operatorTotals),
  };
}

/** The local day (as the feed names it) whose records hold this UTC interval start. */
function localDateOfLabel(feed: LabelledFeed, intervalStartUtc: string): string {
  const startMs = Date.parse(intervalStartUtc);
  for (const day of feed.days) {
    const first = day.records[0];
    const last = day.records[day.records.length - 1];
    if (first === undefined || last === undefined) continue;
    const firstMs = Date.parse(first['timestamp_utc'] as string);
    const lastMs = Date.parse(last['timestamp_utc'] as string);
    if (startMs >= firstMs && startMs <= lastMs) return day.localDate;
  }
  return '';
}

function localDateOf(feed: LabelledFeed, row: AnomalyRow): string {
  return localDateOfLabel(feed, formatUtcSeconds(row.reading.intervalStartMs));
}
