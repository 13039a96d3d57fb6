// Goal: the labelled feed is deterministic, its labels say exactly what was injected where, a clean
// feed has no label, and amisync ingests the feed as it is across a DST change.
// Method: the same seed is generated twice and compared byte for byte; a labelled feed is compared
// record by record with the clean feed of the same seed, so every difference must sit inside a
// label of the right kind; a small clean feed goes through the real pipeline into SQLite.
import { hash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';

import { openHarness, type Harness } from '../test-support/ingest-harness.js';
import type { FeedRecord } from './feed-generator.js';
import {
  EXPECTED_DETECTORS,
  LABEL_KINDS,
  generateLabelledFeed,
  labelledFeedNdjson,
  labelsJson,
  type FeedLabel,
  type LabelledFeed,
  type LabelledFeedOptions,
} from './labelled-feed.js';

const INTERVAL_MS = 900_000;
const CLOCK_BIT = 16;
const OPTIONS: LabelledFeedOptions = {
  seed: 11,
  meters: 8,
  days: 30,
  warmUpDays: 7,
  statusBits: { outage: 2, reverseFlow: 4, tamper: 8, clock: CLOCK_BIT },
};

function feedBytesSha256(feed: LabelledFeed): string {
  return hash('sha256', [...labelledFeedNdjson(feed)].join('') + labelsJson(feed.labels), 'hex');
}

function startMsOf(record: FeedRecord): number {
  return Date.parse(record['timestamp_utc'] as string);
}

/** Every record by `meter|UTC start ms`. */
function byReading(feed: LabelledFeed): Map<string, FeedRecord> {
  const map = new Map<string, FeedRecord>();
  for (const day of feed.days) {
    for (const record of day.records)
      map.set(`${String(record['meter_id'])}|${startMsOf(record)}`, record);
  }
  return map;
}

function spanKeys(label: { meterId: string; intervalStartUtc: string; intervals: number }) {
  const startMs = Date.parse(label.intervalStartUtc);
  return Array.from(
    { length: label.intervals },
    (_, at) => `${label.meterId}|${startMs + at * INTERVAL_MS}`,
  );
}

function whOf(record: FeedRecord | undefined): number {
  expect(record).toBeDefined();
  return Math.round((record?.['consumption_kwh'] as number) * 1000);
}

/** Checks that the labelled records of one label show its kind's defect against the clean ones. */
function expectInjected(
  label: FeedLabel,
  labelled: Map<string, FeedRecord>,
  clean: Map<string, FeedRecord>,
): void {
  const keys = spanKeys(label);
  const after = keys.map((key) => labelled.get(key));
  const before = keys.map((key) => clean.get(key));
  expect(before.every((record) => record?.['status_code'] === 0)).toBe(true);
  const beforeWh = before.map(whOf);
  switch (label.kind) {
    case 'gap':
      expect(after.every((record) => record === undefined)).toBe(true);
      return;
    case 'spike':
      expect(label.intervals).toBe(1);
      expect(whOf(after[0])).toBeGreaterThanOrEqual(5.9 * Math.max(...dayOf(label, clean)));
      return;
    case 'zero_run':
      expect(label.intervals).toBeGreaterThanOrEqual(8);
      expect(after.map(whOf).every((wh) => wh === 0)).toBe(true);
      expect(beforeWh.every((wh) => wh > 0)).toBe(true);
      expect(after.every((record) => record?.['status_code'] === 0)).toBe(true);
      return;
    case 'flat_line':
      expect(label.intervals).toBeGreaterThanOrEqual(8);
      expect(new Set(after.map(whOf)).size).toBe(1);
      expect(whOf(after[0])).toBeGreaterThan(0);
      expect(after.every((record) => record?.['status_code'] === 0)).toBe(true);
      return;
    case 'reverse_flow':
    case 'tamper':
    case 'clock': {
      const bit = { reverse_flow: 4, tamper: 8, clock: CLOCK_BIT }[label.kind];
      expect(after.map((record) => record?.['status_code'])).toEqual(keys.map(() => bit));
      expect(after.map(whOf)).toEqual(beforeWh);
      return;
    }
    case 'high_day':
    case 'low_day': {
      expect(label.intervals).toBe(dayOf(label, clean).length);
      const ratio = sum(after.map(whOf)) / sum(beforeWh);
      const [low, high] = label.kind === 'high_day' ? [1.99, 4.51] : [0.04, 0.41];
      expect(ratio).toBeGreaterThan(low);
      expect(ratio).toBeLessThan(high);
      return;
    }
    default:
      throw new Error(`unknown kind ${String(label.kind satisfies never)}`);
  }
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

/** The clean values of the label's meter on the local day that holds the label's start. */
function dayOf(label: FeedLabel, clean: Map<string, FeedRecord>): number[] {
  const day = cleanFeed.days.find((candidate) =>
    candidate.records.some(
      (record) =>
        record['meter_id'] === label.meterId &&
        startMsOf(record) === Date.parse(label.intervalStartUtc),
    ),
  );
  expect(day).toBeDefined();
  const records = (day?.records ?? []).filter((record) => record['meter_id'] === label.meterId);
  return records.map((record) => whOf(clean.get(`${label.meterId}|${startMsOf(record)}`)));
}

const labelledFeed = generateLabelledFeed(OPTIONS);
const cleanFeed = generateLabelledFeed({ ...OPTIONS, clean: true });

describe('generateLabelledFeed', () => {
  it('gives the same bytes for the same seed, and other bytes for another seed', () => {
    expect(feedBytesSha256(generateLabelledFeed(OPTIONS))).toBe(feedBytesSha256(labelledFeed));
    const other = generateLabelledFeed({ ...OPTIONS, seed: 12 });
    expect(feedBytesSha256(other)).not.toBe(feedBytesSha256(labelledFeed));
  });

  it('labels every kind, each with its expected detector codes', () => {
    const kinds = new Set(labelledFeed.labels.labels.map((label) => label.kind));
    expect([...kinds].sort()).toEqual([...LABEL_KINDS].sort());
    for (const label of labelledFeed.labels.labels) {
      expect(label.expectedDetectors).toEqual(EXPECTED_DETECTORS[label.kind]);
      expect(label.channel).toBe('1');
    }
  });

  it('labels exactly what was injected: each label shows its defect, nothing else differs', () => {
    const labelled = byReading(labelledFeed);
    const clean = byReading(cleanFeed);
    const covered = new Set<string>();
    for (const label of labelledFeed.labels.labels) {
      expectInjected(label, labelled, clean);
      for (const key of spanKeys(label)) {
        expect(covered.has(key), `labels overlap at ${key}`).toBe(false);
        covered.add(key);
      }
    }
    const gapKeys = labelledFeed.labels.labels
      .filter((label) => label.kind === 'gap')
      .flatMap(spanKeys);
    expect(clean.size - labelled.size).toBe(gapKeys.length);
    for (const [key, record] of clean) {
      if (!covered.has(key)) expect(labelled.get(key), key).toEqual(record);
    }
    expect(labelledFeed.labels.readings).toBe(labelled.size);
  });

  it('places history-based anomalies only after the warm-up', () => {
    const warmUpEndMs = Date.parse(labelledFeed.labels.fromUtc) + 7 * 86_400_000;
    const history = new Set(['spike', 'zero_run', 'flat_line', 'high_day', 'low_day']);
    const early = labelledFeed.labels.labels.filter(
      (label) =>
        history.has(label.kind) && Date.parse(label.intervalStartUtc) < warmUpEndMs - 3_600_000,
    );
    expect(early).toEqual([]);
  });

  it('injects no clock anomaly when the dictionary has no clock bit', () => {
    const feed = generateLabelledFeed({
      ...OPTIONS,
      statusBits: { outage: 2, reverseFlow: 4, tamper: 8 },
    });
    expect(feed.labels.labels.some((label) => label.kind === 'clock')).toBe(false);
    expect(feed.labels.labels.length).toBeGreaterThan(0);
  });
});

describe('clean mode', () => {
  it('has no labels, and the same outages as the labelled feed, zeros under the outage bit', () => {
    expect(cleanFeed.labels.clean).toBe(true);
    expect(cleanFeed.labels.labels).toEqual([]);
    expect(cleanFeed.labels.outages.length).toBeGreaterThan(0);
    expect(cleanFeed.labels.outages).toEqual(labelledFeed.labels.outages);
    const clean = byReading(cleanFeed);
    for (const outage of cleanFeed.labels.outages) {
      for (const key of spanKeys(outage)) {
        expect(clean.get(key)).toMatchObject({ consumption_kwh: 0, status_code: 2 });
      }
    }
    const zeros = [...clean.values()].filter((record) => record['consumption_kwh'] === 0);
    expect(zeros.length).toBe(sum(cleanFeed.labels.outages.map((outage) => outage.intervals)));
  });

  it('has realistic shapes: evening above night for households, weekdays above weekends for shops', () => {
    const byProfile = new Map(
      cleanFeed.labels.meters.map((meter) => [meter.meterId, meter.profile]),
    );
    const buckets = { evening: [0, 0], night: [0, 0], weekday: [0, 0], weekend: [0, 0] };
    const add = (bucket: number[], wh: number) => {
      bucket[0] = (bucket[0] ?? 0) + wh;
      bucket[1] = (bucket[1] ?? 0) + 1;
    };
    for (const day of cleanFeed.days) {
      for (const record of day.records) {
        const text = record['timestamp_utc'] as string;
        const hour = Number(text.slice(11, 13));
        const wh = whOf(record);
        if (byProfile.get(record['meter_id'] as string) === 'residential') {
          if (hour >= 18 && hour < 21) add(buckets.evening, wh);
          if (hour >= 1 && hour < 4) add(buckets.night, wh);
        } else {
          const weekday = new Date(`${text.slice(0, 10)}T12:00:00Z`).getUTCDay();
          add(weekday === 0 || weekday === 6 ? buckets.weekend : buckets.weekday, wh);
        }
      }
    }
    const mean = (bucket: number[]) => (bucket[0] ?? 0) / (bucket[1] ?? 1);
    expect(mean(buckets.evening)).toBeGreaterThan(3 * mean(buckets.night));
    expect(mean(buckets.weekday)).toBeGreaterThan(1.2 * mean(buckets.weekend));
  });
});

describe('the feed across a DST change, through the real pipeline', () => {
  let harness: Harness | undefined;
  afterEach(async () => harness?.close());

  it('has 100 intervals on the day DST ends, and amisync accepts every reading', async () => {
    const feed = generateLabelledFeed({
      seed: 3,
      meters: 3,
      days: 3,
      startDate: '2026-10-31',
      clean: true,
    });
    const dstDay = feed.days[1];
    expect(dstDay?.localDate).toBe('2026-11-01');
    expect(dstDay?.records.length).toBe(3 * 100);
    const stamps = new Set(dstDay?.records.map((record) => record['timestamp_utc']));
    expect(stamps.has('2026-11-01T01:15:00-05:00')).toBe(true);
    expect(stamps.has('2026-11-01T01:15:00-06:00')).toBe(true);

    harness = openHarness();
    harness.clock.advanceMs(Date.parse(feed.labels.toUtc) + 86_400_000 - harness.clock.nowMs());
    const report = await harness.ingest([...labelledFeedNdjson(feed)].join(''));
    expect(report.counts.received).toBe(feed.labels.readings);
    expect(report.counts.accepted).toBe(feed.labels.readings);
    const status = await harness.store.status();
    expect(status.ledger.readings).toBe(feed.labels.readings);
    const spanMs = Date.parse(feed.labels.toUtc) - Date.parse(feed.labels.fromUtc);
    expect(feed.labels.readings).toBe(3 * (spanMs / INTERVAL_MS));
  });
});
