// Goal: the feed generator is deterministic and realistic, and its oracle matches its records.
// Method: fast-check recounts each injected kind; the real parser, validator and identity agree.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { ManualClock } from '../core/clock.js';
import type { RecordFormat } from '../core/parser.js';
import { DEFAULT_DICTIONARY } from '../dictionary/dictionary.js';
import { createValidator } from '../dictionary/validator.js';
import { PARSER_FACTORIES } from '../formats/formats.js';
import { identifyBatch, type IdentifiedReading } from '../pipeline/identify.js';
import {
  CSV_COLUMNS,
  generateFeed,
  generateFeedRecords,
  generateMeterIds,
  toCsv,
  toJsonArray,
  toNdjson,
  type FeedOptions,
  type FeedRecord,
} from './feed-generator.js';

/** Monday 2025-01-06T00:00:00Z. */
const START_MS = Date.UTC(2025, 0, 6);
const METER_ID_PATTERN = /^MTR-[A-Z0-9]{8}$/;

const FAULTY: Omit<FeedOptions, 'seed' | 'meters' | 'intervals'> = {
  startMs: START_MS,
  estimateRate: 0.1,
  retransmitRate: 0.05,
  conflictRate: 0.05,
  badRate: 0.05,
  checksumRate: 0.5,
};

const optionsArbitrary: fc.Arbitrary<FeedOptions> = fc.record({
  seed: fc.integer({ min: -1_000_000, max: 1_000_000 }),
  meters: fc.integer({ min: 1, max: 6 }),
  startMs: fc.integer({ min: 0, max: 2_000_000 }).map((n) => START_MS + n * 900_000),
  intervals: fc.integer({ min: 1, max: 40 }),
  estimateRate: fc.double({ min: 0, max: 1, noNaN: true }),
  retransmitRate: fc.double({ min: 0, max: 1, noNaN: true }),
  conflictRate: fc.double({ min: 0, max: 1, noNaN: true }),
  badRate: fc.double({ min: 0, max: 1, noNaN: true }),
  checksumRate: fc.double({ min: 0, max: 1, noNaN: true }),
});

function whOf(record: FeedRecord): number {
  return Math.round((record['consumption_kwh'] as number) * 1000);
}

interface Recount {
  currentReadings: number;
  energyMilliWh: bigint;
  duplicates: number;
  conflicts: number;
  invalid: number;
  revisions: number;
  estimates: number;
  /** Per meter, the seqs of new readings in send order. */
  newSeqs: Map<string, number[]>;
}

/** A minimal ledger written for this test: first key wins, an actual replaces an estimate. */
function recount(records: readonly FeedRecord[], meterIds: ReadonlySet<string>): Recount {
  const byKey = new Map<string, string>();
  const current = new Map<string, { wh: number; estimated: boolean }>();
  const result: Recount = {
    currentReadings: 0,
    energyMilliWh: 0n,
    duplicates: 0,
    conflicts: 0,
    invalid: 0,
    revisions: 0,
    estimates: 0,
    newSeqs: new Map(),
  };
  for (const record of records) {
    const meterId = record['meter_id'];
    if (typeof meterId !== 'string' || !meterIds.has(meterId)) {
      result.invalid += 1;
      continue;
    }
    const interval = `${meterId}|${String(record['timestamp_utc'])}`;
    const key = `${interval}|${String(record['seq'])}`;
    const seen = byKey.get(key);
    if (seen !== undefined) {
      if (seen === JSON.stringify(record)) result.duplicates += 1;
      else result.conflicts += 1;
      continue;
    }
    byKey.set(key, JSON.stringify(record));
    const seqs = result.newSeqs.get(meterId) ?? [];
    seqs.push(record['seq'] as number);
    result.newSeqs.set(meterId, seqs);
    const estimated = ((record['status_code'] as number) & 1) === 1;
    if (estimated) result.estimates += 1;
    const before = current.get(interval);
    if (before === undefined) current.set(interval, { wh: whOf(record), estimated });
    else if (before.estimated && !estimated) {
      result.revisions += 1;
      current.set(interval, { wh: whOf(record), estimated });
    } else {
      throw new Error(`unexpected second reading for ${interval}`);
    }
  }
  for (const value of current.values()) result.energyMilliWh += BigInt(value.wh) * 1000n;
  result.currentReadings = current.size;
  return result;
}

function validIntervalEndMs(options: FeedOptions): number {
  return options.startMs + options.intervals * (options.intervalSeconds ?? 900) * 1000;
}

describe('generateFeed', () => {
  it('is a pure function of its options, and the seed matters', () => {
    fc.assert(
      fc.property(optionsArbitrary, (options) => {
        const feed = generateFeed(options);
        expect(generateFeed({ ...options })).toEqual(feed);
        const other = generateFeed({ ...options, seed: options.seed + 1 });
        expect(other.records).not.toEqual(feed.records);
      }),
      { numRuns: 60 },
    );
  });

  it('derives unique meter ids of the reference pattern from seed and index', () => {
    const feed = generateFeed({ seed: 3, meters: 5000, startMs: START_MS, intervals: 1 });
    const ids = feed.records.map((record) => record['meter_id'] as string);
    expect(new Set(ids).size).toBe(5000);
    for (const id of ids) expect(id).toMatch(METER_ID_PATTERN);
    expect(ids).toEqual(generateMeterIds(3, 5000));
    expect(generateMeterIds(3, 10)).toEqual(ids.slice(0, 10));
    expect(generateMeterIds(4, 10)).not.toEqual(ids.slice(0, 10));
  });

  it('sends a clean feed of meters x intervals readings whose energy the oracle sums exactly', () => {
    const options = { seed: 11, meters: 40, startMs: START_MS, intervals: 96 * 3 };
    const { records, expected } = generateFeed(options);
    expect(records.length).toBe(40 * 96 * 3);
    let energyMilliWh = 0n;
    const perMeter = new Map<string, { readings: number; energyMilliWh: bigint }>();
    for (const [index, record] of records.entries()) {
      const kwh = record['consumption_kwh'] as number;
      expect(Object.keys(record)).toEqual([
        'meter_id',
        'timestamp_utc',
        'consumption_kwh',
        'status_code',
        'seq',
      ]);
      expect(kwh >= 0 && kwh <= 1000).toBe(true);
      expect(String(kwh)).toMatch(/^\d+(\.\d{1,3})?$/);
      expect(record['status_code']).toBe(0);
      expect(record['seq']).toBe(Math.floor(index / 40) + 1);
      energyMilliWh += BigInt(whOf(record)) * 1000n;
      const meter = String(record.meter_id);
      const stream = perMeter.get(meter) ?? { readings: 0, energyMilliWh: 0n };
      perMeter.set(meter, {
        readings: stream.readings + 1,
        energyMilliWh: stream.energyMilliWh + BigInt(whOf(record)) * 1000n,
      });
    }
    const { streams, channel, ...totals } = expected;
    expect(channel).toBe('1');
    expect(streams).toEqual(perMeter);
    expect(totals).toEqual({
      currentReadings: 40 * 96 * 3,
      energyMilliWh,
      duplicates: 0,
      conflicts: 0,
      invalid: 0,
      revisions: 0,
      received: records.length,
    });
  });

  it('orders the clean feed by interval, then meter, with timestamps on the interval grid', () => {
    const options = {
      seed: 5,
      meters: 3,
      startMs: START_MS,
      intervals: 4,
      intervalSeconds: 300,
      channel: 'kwh',
    };
    const { records } = generateFeed(options);
    const stamps = records.map((record) => record['timestamp_utc']);
    expect(stamps).toEqual(
      ['00:00', '00:05', '00:10', '00:15'].flatMap((time) =>
        Array.from({ length: 3 }, () => `2025-01-06T${time}:00Z`),
      ),
    );
    for (const record of records) {
      expect(record['channel']).toBe('kwh');
      expect(record['interval_seconds']).toBe(300);
    }
  });

  it('has an oracle that a recount of the records confirms, for any rates', () => {
    fc.assert(
      fc.property(optionsArbitrary, (options) => {
        const { records, expected } = generateFeed(options);
        const meterIds = new Set(generateMeterIds(options.seed, options.meters));
        const counted = recount(records, meterIds);
        expect(expected.received).toBe(records.length);
        expect(counted.currentReadings).toBe(options.meters * options.intervals);
        expect(expected).toMatchObject({
          currentReadings: counted.currentReadings,
          energyMilliWh: counted.energyMilliWh,
          duplicates: counted.duplicates,
          conflicts: counted.conflicts,
          invalid: counted.invalid,
          revisions: counted.revisions,
        });
        // Every estimate is corrected, and new readings take 1, 2, 3... per meter in send order.
        expect(counted.revisions).toBe(counted.estimates);
        for (const seqs of counted.newSeqs.values()) {
          expect(seqs).toEqual(seqs.map((_, index) => index + 1));
        }
      }),
      { numRuns: 150 },
    );
  });

  it('injects each kind at roughly its rate and keeps the true values of the clean feed', () => {
    const base = { seed: 21, meters: 50, startMs: START_MS, intervals: 200 };
    const clean = generateFeed(base);
    const faulty = generateFeed({ ...base, ...FAULTY });
    const readings = 50 * 200;
    expect(faulty.expected.energyMilliWh).toBe(clean.expected.energyMilliWh);
    const near = (count: number, rate: number) =>
      expect(Math.abs(count / readings - rate)).toBeLessThan(0.015);
    near(faulty.expected.revisions, 0.1);
    near(faulty.expected.duplicates, 0.05);
    // Conflicts repeat only readings that were not estimates.
    near(faulty.expected.conflicts, 0.05 * 0.9);
    near(faulty.expected.invalid, 0.05);
    const withChecksum = faulty.records.filter((record) => 'checksum_sha256' in record).length;
    expect(Math.abs(withChecksum / faulty.records.length - 0.5)).toBeLessThan(0.05);
  });

  it('ends every interval by startMs + intervals x intervalSeconds', () => {
    const options = { ...FAULTY, seed: 8, meters: 10, intervals: 30, intervalSeconds: 1800 };
    const endMs = validIntervalEndMs(options);
    for (const record of generateFeed(options).records) {
      const startMs = Date.parse(String(record['timestamp_utc']));
      if (Number.isNaN(startMs)) continue;
      expect(startMs + 1_800_000).toBeLessThanOrEqual(endMs);
      expect(startMs).toBeGreaterThanOrEqual(options.startMs);
    }
  });
});

describe('load shape', () => {
  const options = { seed: 99, meters: 60, startMs: START_MS, intervals: 96 * 14 };
  const records = generateFeed(options).records;

  function meanKwh(keep: (hour: number, day: number) => boolean): number {
    let sum = 0;
    let count = 0;
    for (const record of records) {
      const at = new Date(String(record['timestamp_utc']));
      if (!keep(at.getUTCHours(), at.getUTCDay())) continue;
      sum += record['consumption_kwh'] as number;
      count += 1;
    }
    return sum / count;
  }

  it('peaks in the evening and in the morning over a low night', () => {
    const night = meanKwh((hour) => hour < 5);
    const morning = meanKwh((hour) => hour >= 7 && hour < 9);
    const evening = meanKwh((hour) => hour >= 17 && hour < 21);
    expect(evening).toBeGreaterThan(2 * night);
    expect(morning).toBeGreaterThan(1.5 * night);
  });

  it('differs between weekdays and weekends', () => {
    const weekdayMorning = meanKwh((hour, day) => hour === 7 && day >= 1 && day <= 5);
    const weekendMorning = meanKwh((hour, day) => hour === 7 && (day === 0 || day === 6));
    expect(Math.abs(weekdayMorning - weekendMorning) / weekdayMorning).toBeGreaterThan(0.15);
  });

  it('scales meters differently, with noise and some vacant intervals', () => {
    const perMeter = new Map<string, number>();
    for (const record of records) {
      const id = record['meter_id'] as string;
      perMeter.set(id, (perMeter.get(id) ?? 0) + (record['consumption_kwh'] as number));
    }
    const totals = [...perMeter.values()];
    expect(Math.max(...totals) / Math.min(...totals)).toBeGreaterThan(3);
    const zeros = records.filter((record) => record['consumption_kwh'] === 0).length;
    expect(zeros).toBeGreaterThan(0);
    expect(zeros / records.length).toBeLessThan(0.1);
    expect(new Set(records.map((record) => record['consumption_kwh'])).size).toBeGreaterThan(500);
  });
});

describe('generateFeedRecords', () => {
  it('streams exactly the records of generateFeed', () => {
    fc.assert(
      fc.property(optionsArbitrary, fc.boolean(), (options, clean) => {
        const chosen = clean
          ? {
              seed: options.seed,
              meters: options.meters,
              startMs: options.startMs,
              intervals: options.intervals,
            }
          : options;
        expect([...generateFeedRecords(chosen)]).toEqual(generateFeed(chosen).records);
      }),
      { numRuns: 60 },
    );
  });

  it('is lazy: the first records of a huge feed come without generating the rest', () => {
    const options = { seed: 1, meters: 10, startMs: START_MS, intervals: 10_000_000 };
    const first: FeedRecord[] = [];
    for (const record of generateFeedRecords(options)) {
      first.push(record);
      if (first.length === 25) break;
    }
    expect(first.map((record) => record['seq'])).toEqual(
      Array.from({ length: 25 }, (_, index) => Math.floor(index / 10) + 1),
    );
  });
});

function parseWith(format: RecordFormat, text: string) {
  const parser = PARSER_FACTORIES[format]();
  return [...parser.push(Buffer.from(text, 'utf8')), ...parser.end()];
}

function serialize(format: RecordFormat, records: readonly FeedRecord[]): string {
  const lines =
    format === 'csv'
      ? toCsv(records)
      : format === 'json'
        ? toJsonArray(records)
        : toNdjson(records);
  return [...lines].join('');
}

describe('serializers', () => {
  const options = { ...FAULTY, seed: 31, meters: 20, intervals: 48, channel: '2' };
  const feed = generateFeed(options);

  it('write NDJSON and JSON arrays that JSON.parse reads back', () => {
    const ndjson = [...toNdjson(feed.records)];
    expect(ndjson.every((line) => line.endsWith('\n') && !line.slice(0, -1).includes('\n'))).toBe(
      true,
    );
    expect(ndjson.map((line) => JSON.parse(line) as unknown)).toEqual(feed.records);
    expect(JSON.parse(serialize('json', feed.records))).toEqual(feed.records);
    expect(serialize('json', feed.records.slice(0, 2))).toBe(
      `[\n${JSON.stringify(feed.records[0])},\n${JSON.stringify(feed.records[1])}\n]\n`,
    );
    expect(JSON.parse(serialize('json', []))).toEqual([]);
  });

  it('writes CSV with the reference header and an empty cell for each absent field', () => {
    const text = serialize('csv', feed.records);
    const lines = text.split('\n');
    expect(lines[0]).toBe(CSV_COLUMNS.join(','));
    expect(lines.length).toBe(feed.records.length + 2);
    const items = parseWith('csv', text);
    expect(items.length).toBe(feed.records.length);
    for (const [index, item] of items.entries()) {
      const record = feed.records[index] as FeedRecord;
      if (item.kind !== 'record') {
        expect(record).toHaveProperty('foo');
        continue;
      }
      for (const column of CSV_COLUMNS) {
        const value = record[column];
        expect(item.record.fields[column]).toBe(value === undefined ? '' : String(value));
      }
    }
  });

  it.each(['ndjson', 'json', 'csv'] as const)(
    "give, through the real %s parser and validator, exactly the oracle's invalid records",
    (format) => {
      const endMs = validIntervalEndMs(options);
      const validate = createValidator(DEFAULT_DICTIONARY, new ManualClock(endMs));
      let rejected = 0;
      let withChecksum = 0;
      for (const item of parseWith(format, serialize(format, feed.records))) {
        if (item.kind !== 'record') {
          rejected += 1;
          continue;
        }
        const result = validate(item.record);
        if (!result.ok) rejected += 1;
        else if (result.reading.checksumSha256 !== null) withChecksum += 1;
      }
      expect(feed.expected.invalid).toBeGreaterThan(20);
      expect(rejected).toBe(feed.expected.invalid);
      expect(withChecksum).toBeGreaterThan(100);
    },
  );
});

describe('oracle against the real identity stage', () => {
  it('matches what identifyBatch decides for the validated feed', () => {
    const options = { ...FAULTY, seed: 41, meters: 30, intervals: 96 };
    const feed = generateFeed(options);
    const clock = new ManualClock(validIntervalEndMs(options));
    const validate = createValidator(DEFAULT_DICTIONARY, clock);
    const items: IdentifiedReading[] = [];
    let invalid = 0;
    for (const item of parseWith('ndjson', serialize('ndjson', feed.records))) {
      const result = item.kind === 'record' ? validate(item.record) : null;
      if (result?.ok === true && item.kind === 'record') {
        items.push({ reading: result.reading, location: item.record.location });
      } else {
        invalid += 1;
      }
    }
    const { decisions, states } = identifyBatch(items, new Map(), []);
    const count = (test: (decision: (typeof decisions)[number]) => boolean) =>
      decisions.filter(test).length;
    let energyMilliWh = 0n;
    let currentReadings = 0;
    for (const state of states.values()) {
      energyMilliWh += BigInt(state.currentValueMicro);
      currentReadings += state.currentReadings;
      expect(feed.expected.streams.get(state.meterId)).toEqual({
        readings: state.currentReadings,
        energyMilliWh: BigInt(state.currentValueMicro),
      });
    }
    expect(states.size).toBe(feed.expected.streams.size);
    expect({
      currentReadings,
      energyMilliWh,
      duplicates: count((decision) => decision.kind === 'duplicate'),
      conflicts: count(
        (decision) =>
          decision.kind === 'hold' && decision.reject.violations[0]?.code === 'identity.conflict',
      ),
      invalid,
      revisions: count((decision) => decision.kind === 'accept' && decision.supersedes !== null),
      received: feed.records.length,
    }).toEqual({ ...feed.expected, channel: undefined, streams: undefined });
    expect(count((decision) => decision.kind === 'hold')).toBe(feed.expected.conflicts);
  });
});
