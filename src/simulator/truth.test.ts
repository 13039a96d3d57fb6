// Goal: the simulators' ground truth is exactly what a correct ingestion ends with, stream by
// stream, in the documented shape.
// Method: generate feeds with every fault on, ingest them through the pipeline, compare the ledger
// read back per meter and channel, and the delivery's counts, with feedTruth.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openHarness } from '../test-support/ingest-harness.js';
import { removeTempDirs, tempDir } from '../test-support/temp.js';
import { ledgerStreams } from '../test-support/truth-check.js';
import { FEED_START_MS } from '../test-support/ingest-harness.js';
import { generateFeed, toNdjson } from './feed-generator.js';
import { feedTruth, formatKwh, writeTruth } from './truth.js';

afterAll(removeTempDirs);

describe('feedTruth', () => {
  it('formats milli-watt-hours as kWh with six decimals', () => {
    expect(formatKwh(0n)).toBe('0.000000');
    expect(formatKwh(12_345_678n)).toBe('12.345678');
    expect(formatKwh(5n)).toBe('0.000005');
    expect(formatKwh(-1_500_000n)).toBe('-1.500000');
  });

  it.each([
    { name: 'a clean feed', rates: {} },
    {
      name: 'a feed with estimates, retransmissions, conflicts and bad records',
      rates: { estimateRate: 0.05, retransmitRate: 0.03, conflictRate: 0.02, badRate: 0.02 },
    },
  ])('equals the ledger and the counts after ingesting $name', async ({ rates }) => {
    const feed = generateFeed({
      seed: 7,
      meters: 6,
      startMs: FEED_START_MS,
      intervals: 96,
      ...rates,
    });
    const truth = feedTruth(feed);
    const harness = openHarness();
    try {
      const report = await harness.ingest([...toNdjson(feed.records)].join(''));
      expect(await ledgerStreams(harness.store)).toEqual(truth.streams);
      expect(truth.streams).toHaveLength(6);
      expect(truth.streams.reduce((sum, s) => sum + s.readings, 0)).toBe(truth.currentReadings);
      expect(report.counts.received).toBe(truth.received);
      expect(report.counts.accepted).toBe(truth.valid);
      expect(report.counts.duplicates).toBe(truth.duplicates);
      expect(report.counts.quarantined).toBe(truth.invalid + truth.conflicts);
      expect(report.counts.revisions).toBe(truth.revisions);
    } finally {
      await harness.close();
    }
  });

  it('adds a transport fault repeating readings to duplicates and received', () => {
    const feed = generateFeed({ seed: 1, meters: 2, startMs: FEED_START_MS, intervals: 4 });
    const plain = feedTruth(feed);
    const repeated = feedTruth(feed, { duplicates: 3, invalid: 2 });
    expect(repeated.duplicates).toBe(plain.duplicates + 3);
    expect(repeated.invalid).toBe(plain.invalid + 2);
    expect(repeated.received).toBe(plain.received + 5);
    expect(repeated.valid).toBe(plain.valid);
    expect(repeated.streams).toEqual(plain.streams);
  });

  it('writes the documented keys first', () => {
    const feed = generateFeed({ seed: 1, meters: 1, startMs: FEED_START_MS, intervals: 2 });
    const path = join(tempDir(), 'truth.json');
    writeTruth(path, feedTruth(feed));
    const written = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    expect(Object.keys(written).slice(0, 4)).toEqual(['valid', 'duplicates', 'invalid', 'streams']);
    expect(Object.keys((written.streams as object[])[0]!)).toEqual([
      'meterId',
      'channel',
      'readings',
      'kwh',
    ]);
  });
});
