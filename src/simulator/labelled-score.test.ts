// Goal: the scorer computes precision and recall per detector code and the clean-data flag rate
// exactly, and reads every row of a real anomaly ledger.
// Method: a hand-made labels file and flags whose answers were worked out by hand (in the comments
// beside them); then readings held by stand-in detectors in a real SQLite store, read back in
// pages smaller than the ledger.
import { afterEach, describe, expect, it } from 'vitest';

import { FEED_START_MS, openHarness, type Harness } from '../test-support/ingest-harness.js';
import {
  HELD_METER,
  OTHER_HELD_METER,
  TEST_DETECTORS,
  heldFeed,
} from '../test-support/held-readings.js';
import { toNdjsonText } from '../test-support/wire-text.js';
import type { AnomalyFilter } from '../core/store.js';
import { LABELS_FORMAT, type FeedLabel, type LabelsDocument } from './labelled-feed.js';
import {
  parseLabelsDocument,
  readFlaggedReadings,
  scoreLabelled,
  type FlaggedReading,
} from './labelled-score.js';

const A = 'MTR-AAAA0001';
const B = 'MTR-BBBB0002';
const START_MS = Date.UTC(2026, 9, 1);
const INTERVAL_MS = 900_000;

function at(slot: number): string {
  return new Date(START_MS + slot * INTERVAL_MS).toISOString().replace('.000Z', 'Z');
}

function label(
  meterId: string,
  kind: FeedLabel['kind'],
  slot: number,
  intervals: number,
  expectedDetectors: string[],
): FeedLabel {
  return { meterId, channel: '1', kind, intervalStartUtc: at(slot), intervals, expectedDetectors };
}

/** Two meters, 40 intervals each (10 hours), a 2-interval gap: 78 readings, 14 of them labelled. */
const LABELS: LabelsDocument = {
  format: LABELS_FORMAT,
  seed: 1,
  clean: false,
  timeZone: 'UTC',
  startDate: '2026-10-01',
  days: 1,
  intervalSeconds: 900,
  fromUtc: at(0),
  toUtc: at(40),
  readings: 78,
  meters: [
    { meterId: A, profile: 'residential' },
    { meterId: B, profile: 'commercial' },
  ],
  labels: [
    label(A, 'spike', 4, 1, ['spike', 'zscore']),
    label(A, 'zero_run', 10, 8, ['zero_run']),
    label(B, 'gap', 20, 2, []),
    label(B, 'high_day', 0, 4, ['daily_high']),
    label(B, 'tamper', 30, 1, ['tamper']),
  ],
  outages: [{ meterId: A, channel: '1', intervalStartUtc: at(30), intervals: 4 }],
};

function flag(meterId: string, slot: number, ...detectors: string[]): FlaggedReading {
  return { meterId, channel: '1', intervalStartMs: START_MS + slot * INTERVAL_MS, detectors };
}

const FLAGS: FlaggedReading[] = [
  flag(A, 4, 'spike', 'zscore'), // the spike, caught by both expected detectors
  flag(A, 4, 'spike'), // a second row for the same reading: counted once
  flag(A, 12, 'zero_run'), // two readings of the zero run
  flag(A, 13, 'zero_run'),
  flag(B, 2, 'zscore'), // on the high day, but not by daily_high
  flag(A, 25, 'zscore'), // unlabelled: a false positive
  flag(A, 31, 'zero_run'), // an outage reading: a false positive
  flag('MTR-CCCC0003', 5, 'spike'), // a meter outside the feed: ignored
  flag(A, 40, 'spike'), // after the feed's end: ignored
];

describe('scoreLabelled', () => {
  const score = scoreLabelled(LABELS, FLAGS);

  it('counts readings, the clean-data flag rate, outage flags and ignored flags', () => {
    expect(score).toMatchObject({
      readings: 78,
      labelledReadings: 14, // 1 + 8 + 4 + 1; a gap has no reading
      unlabelledReadings: 64,
      flaggedUnlabelled: 2, // A25 and A31
      cleanFlagRate: 2 / 64,
      flaggedOutageReadings: 1,
      ignoredFlags: 2,
    });
  });

  it('gives precision and recall per detector code', () => {
    expect(score.detectors).toEqual([
      {
        detector: 'daily_high',
        flagged: 0,
        onLabelled: 0,
        precision: null,
        expected: 1,
        caught: 0,
        recall: 0,
      },
      {
        detector: 'spike',
        flagged: 1,
        onLabelled: 1,
        precision: 1,
        expected: 1,
        caught: 1,
        recall: 1,
      },
      {
        detector: 'tamper',
        flagged: 0,
        onLabelled: 0,
        precision: null,
        expected: 1,
        caught: 0,
        recall: 0,
      },
      // A12, A13 labelled; A31 an outage.
      {
        detector: 'zero_run',
        flagged: 3,
        onLabelled: 2,
        precision: 2 / 3,
        expected: 1,
        caught: 1,
        recall: 1,
      },
      // A4 and B2 labelled (B2 on a label that does not expect it); A25 not.
      {
        detector: 'zscore',
        flagged: 3,
        onLabelled: 2,
        precision: 2 / 3,
        expected: 1,
        caught: 1,
        recall: 1,
      },
    ]);
  });

  it('gives per kind the labels caught by an expected detector and by any', () => {
    expect(score.kinds).toEqual([
      { kind: 'spike', labels: 1, caughtByExpected: 1, caughtByAny: 1 },
      { kind: 'zero_run', labels: 1, caughtByExpected: 1, caughtByAny: 1 },
      { kind: 'gap', labels: 1, caughtByExpected: 0, caughtByAny: 0 },
      { kind: 'tamper', labels: 1, caughtByExpected: 0, caughtByAny: 0 },
      { kind: 'high_day', labels: 1, caughtByExpected: 0, caughtByAny: 1 },
    ]);
  });

  it('scores no flags as zero recall and a zero clean-data rate', () => {
    const none = scoreLabelled(LABELS, []);
    expect(none.cleanFlagRate).toBe(0);
    expect(none.detectors.map((detector) => [detector.detector, detector.recall])).toEqual([
      ['daily_high', 0],
      ['spike', 0],
      ['tamper', 0],
      ['zero_run', 0],
      ['zscore', 0],
    ]);
  });
});

describe('parseLabelsDocument', () => {
  it('reads a labels file back and names what a wrong one lacks', () => {
    expect(parseLabelsDocument(JSON.stringify(LABELS), 'l.json')).toEqual(LABELS);
    expect(() => parseLabelsDocument('{"format":"x","labels":[]}', 'l.json')).toThrow(
      /l\.json is not a labels file: format is not amisync\.labelled-feed\.v1; readings/,
    );
    expect(() => parseLabelsDocument('nope', 'l.json')).toThrow(/not JSON/);
  });
});

describe('readFlaggedReadings', () => {
  let harness: Harness | undefined;
  afterEach(async () => harness?.close());

  it('reads every row of a real anomaly ledger, page by page, each detector once', async () => {
    harness = openHarness();
    await harness.ingest(toNdjsonText(heldFeed()), { detectors: TEST_DETECTORS });
    const store = harness.store;
    const pages: AnomalyFilter[] = [];
    const listing = {
      listAnomalies: (filter: AnomalyFilter) => {
        pages.push(filter);
        return store.listAnomalies(filter);
      },
    };
    const flags = await readFlaggedReadings(listing, 2);
    // The held feed holds A's 40 kWh (slot 2) and 0 kWh (slot 4) and B's 25 kWh (slot 1).
    const seen = flags.map((one) => [one.meterId, (one.intervalStartMs - FEED_START_MS) / 900_000]);
    expect(seen.sort()).toEqual(
      [
        [HELD_METER, 2],
        [HELD_METER, 4],
        [OTHER_HELD_METER, 1],
      ].sort(),
    );
    expect(flags.map((one) => one.detectors).sort()).toEqual([
      ['test.spike'],
      ['test.spike'],
      ['test.zero'],
    ]);
    // Pages of 2: a full page, then a short one.
    expect(pages.map((page) => page.limit)).toEqual([2, 2]);
  });
});
