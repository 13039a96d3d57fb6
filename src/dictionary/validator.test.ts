// Goal: every rule of the data dictionary yields its reject code, field and value, all at once.
// Method: validate hand-built records against default and tailored dictionaries, on a manual clock.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { ManualClock } from '../core/clock.js';
import { idempotencyKey } from '../core/identity.js';
import type { RecordLocation } from '../core/reading.js';
import type { RejectCode } from '../core/reject.js';
import { computeRecordChecksum } from './checksum.js';
import { DEFAULT_DICTIONARY, parseDictionary, type DataDictionary } from './dictionary.js';
import { createValidator, type RecordValidator, type ValidationResult } from './validator.js';

const NOW_MS = Date.UTC(2026, 5, 1, 12, 0, 0);
const START_MS = Date.UTC(2026, 0, 1, 0, 15);
const location: RecordLocation = { recordIndex: 3, line: 4, byteOffset: 120, byteLength: 97 };

const GOOD = {
  meter_id: 'MTR-00000001',
  timestamp_utc: '2026-01-01T00:15:00Z',
  consumption_kwh: 1.25,
  status_code: 0,
  seq: 7,
};

function validatorFor(config: object = {}, nowMs = NOW_MS): RecordValidator {
  const dictionary: DataDictionary =
    Object.keys(config).length === 0 ? DEFAULT_DICTIONARY : parseDictionary(config);
  return createValidator(dictionary, new ManualClock(nowMs));
}

const validateDefault = validatorFor();

function run(fields: Record<string, unknown>, validate = validateDefault): ValidationResult {
  return validate({ fields, location });
}

function violationsOf(fields: Record<string, unknown>, validate = validateDefault) {
  const result = run(fields, validate);
  if (result.ok) throw new Error(`expected a reject, got ${JSON.stringify(result.reading)}`);
  return result.reject.violations.map(({ code, field, value }) => ({ code, field, value }));
}

function readingOf(fields: Record<string, unknown>, validate = validateDefault) {
  const result = run(fields, validate);
  if (!result.ok) throw new Error(`expected a reading, got ${JSON.stringify(result.reject)}`);
  return result.reading;
}

describe('a good record', () => {
  const expected = {
    meterId: 'MTR-00000001',
    channel: '1',
    intervalStartMs: START_MS,
    intervalSeconds: 900,
    valueMicro: 1_250_000,
    statusCode: 0,
    seq: 7,
    quality: 'actual',
    qualityDetail: null,
    commodity: 'electricity',
    unit: 'kWh',
    checksumSha256: null,
    idempotencyKey: idempotencyKey('MTR-00000001', '1', START_MS, 7),
  };

  it('becomes the exact Reading, keyed as core/identity.ts keys it', () => {
    expect(run(GOOD)).toEqual({ ok: true, reading: expected });
    // sha256 of "v1|MTR-00000001|1|2026-01-01T00:15:00Z|7", recomputed with sha256sum.
    expect(expected.idempotencyKey).toBe(
      'ac8739d1e2d1d44788a1e6ff842716ca75d953a3056c77c101516d6b458070ca',
    );
  });

  it('reads the same from CSV strings, empty optional cells meaning "not sent"', () => {
    const csv = {
      meter_id: 'MTR-00000001',
      timestamp_utc: '2026-01-01T00:15:00Z',
      consumption_kwh: '1.250',
      status_code: '0',
      seq: '7',
      channel: '',
      interval_seconds: '',
      quality: '',
      checksum_sha256: '',
    };
    expect(run(csv)).toEqual({ ok: true, reading: expected });
    expect(readingOf({ ...csv, channel: '1', interval_seconds: '900' })).toEqual(expected);
  });

  it('takes null optional fields as not sent', () => {
    const fields = { ...GOOD, channel: null, interval_seconds: null, quality: null };
    expect(readingOf({ ...fields, checksum_sha256: null })).toEqual(expected);
  });

  it('normalises an offset timestamp to the same interval and key', () => {
    const reading = readingOf({ ...GOOD, timestamp_utc: '2026-01-01T01:15:00+01:00' });
    expect(reading).toEqual(expected);
  });

  it('defaults seq to 0 and accepts an integer channel', () => {
    const { seq: _seq, ...withoutSeq } = GOOD;
    const validate = validatorFor({ channels: ['1', '2'] });
    const reading = readingOf({ ...withoutSeq, channel: 2 }, validate);
    expect(reading).toMatchObject({ channel: '2', seq: 0 });
    expect(reading.idempotencyKey).toBe(idempotencyKey('MTR-00000001', '2', START_MS, 0));
  });

  it('keeps no state between records', () => {
    expect(run({ meter_id: 7 }).ok).toBe(false);
    expect(run(GOOD)).toEqual({ ok: true, reading: expected });
  });
});

describe('quality', () => {
  it.each([
    [0, undefined, 'actual'],
    [1, undefined, 'estimated'],
    [9, undefined, 'estimated'],
    [2, undefined, 'actual'],
    [1, 'estimated', 'estimated'],
    [1, 'substituted', 'substituted'],
    [0, 'estimated', 'estimated'],
  ])('status %d with quality %s is %s', (status, quality, expected) => {
    const fields = { ...GOOD, status_code: status, quality };
    expect(readingOf(fields).quality).toBe(expected);
  });

  it('uses the configured estimated mask', () => {
    const validate = validatorFor({ statusBits: { estimated: 16 } });
    expect(readingOf({ ...GOOD, status_code: 1 }, validate).quality).toBe('actual');
    expect(readingOf({ ...GOOD, status_code: 17 }, validate).quality).toBe('estimated');
  });
});

/** A rule, fields breaking it (the first is reported) and the value shown when not a string. */
type Case = [RejectCode, Record<string, unknown>, string?];

function v(code: RejectCode, field: string, value: string) {
  return { code, field, value };
}

const BAD_VALUES: Case[] = [
  // field.missing: required fields that are absent.
  ['field.missing', { meter_id: undefined }, '(absent)'],
  ['field.missing', { timestamp_utc: undefined }, '(absent)'],
  ['field.missing', { consumption_kwh: undefined }, '(absent)'],
  ['field.missing', { status_code: undefined }, '(absent)'],
  // field.unknown and field.type.
  ['field.unknown', { reading_type: 'kwh' }],
  ['field.type', { meter_id: 42 }, '42'],
  ['field.type', { meter_id: null }, 'null'],
  ['field.type', { timestamp_utc: 1767226500 }, '1767226500'],
  ['field.type', { status_code: true }, 'true'],
  ['field.type', { status_code: null }, 'null'],
  ['field.type', { seq: {} }, '{}'],
  ['field.type', { channel: 1.5 }, '1.5'],
  ['field.type', { channel: -1 }, '-1'],
  ['field.type', { channel: true }, 'true'],
  ['field.type', { interval_seconds: [900] }, '[900]'],
  ['field.type', { quality: 1 }, '1'],
  ['field.type', { checksum_sha256: 5 }, '5'],
  // meter_id.pattern.
  ['meter_id.pattern', { meter_id: 'MTR-0000001' }],
  ['meter_id.pattern', { meter_id: 'mtr-00000001' }],
  ['meter_id.pattern', { meter_id: 'MTR-0000|001' }],
  ['meter_id.pattern', { meter_id: '' }],
  // channel.pattern.
  ['channel.pattern', { channel: 'ABCDEFGHI' }],
  ['channel.pattern', { channel: 'a-b' }],
  // timestamps.
  ['timestamp.format', { timestamp_utc: '2026-02-30T00:00:00Z' }],
  ['timestamp.format', { timestamp_utc: '' }],
  ['timestamp.no_offset', { timestamp_utc: '2026-01-01T00:15:00' }],
  ['timestamp.range', { timestamp_utc: '1999-12-31T23:45:00Z' }],
  ['timestamp.alignment', { timestamp_utc: '2026-01-01T00:15:00.5Z' }],
  ['timestamp.alignment', { timestamp_utc: '2026-01-01T00:07:00Z' }],
  ['timestamp.future', { timestamp_utc: '2026-06-01T12:00:00Z' }],
  // interval_seconds.
  ['interval_seconds.not_integer', { interval_seconds: '900.0' }],
  ['interval_seconds.not_integer', { interval_seconds: '15m' }],
  ['interval_seconds.not_integer', { interval_seconds: '0900' }],
  ['interval_seconds.not_integer', { interval_seconds: 900.5 }, '900.5'],
  ['interval_seconds.not_allowed', { interval_seconds: 600 }, '600'],
  ['interval_seconds.not_allowed', { interval_seconds: '0' }],
  ['interval_seconds.not_allowed', { interval_seconds: -900 }, '-900'],
  // consumption.
  ['consumption.not_decimal', { consumption_kwh: '12abc' }],
  ['consumption.not_decimal', { consumption_kwh: '' }],
  ['consumption.not_decimal', { consumption_kwh: '1,5' }],
  ['consumption.not_decimal', { consumption_kwh: '0x10' }],
  ['consumption.not_decimal', { consumption_kwh: ' 1' }],
  ['consumption.not_decimal', { consumption_kwh: true }, 'true'],
  ['consumption.not_decimal', { consumption_kwh: null }, 'null'],
  ['consumption.not_decimal', { consumption_kwh: { kwh: 1 } }, '{"kwh":1}'],
  ['consumption.not_finite', { consumption_kwh: 'Infinity' }],
  ['consumption.not_finite', { consumption_kwh: Number.NaN }, 'NaN'],
  ['consumption.not_finite', { consumption_kwh: JSON.parse('1e309') }, 'Infinity'],
  ['consumption.not_finite', { consumption_kwh: '1e20' }],
  ['consumption.negative_zero', { consumption_kwh: -0 }, '-0'],
  ['consumption.negative_zero', { consumption_kwh: '-0.0' }],
  ['consumption.precision', { consumption_kwh: '0.0000001' }],
  ['consumption.precision', { consumption_kwh: 1.1234567 }, '1.1234567'],
  ['consumption.range', { consumption_kwh: '1000.000001' }],
  ['consumption.range', { consumption_kwh: -1 }, '-1'],
  // status_code.
  ['status_code.not_integer', { status_code: '12.0' }],
  ['status_code.not_integer', { status_code: '012' }],
  ['status_code.not_integer', { status_code: '+1' }],
  ['status_code.not_integer', { status_code: 1.5 }, '1.5'],
  ['status_code.not_integer', { status_code: '' }],
  ['status_code.range', { status_code: 256 }, '256'],
  ['status_code.range', { status_code: '256' }],
  ['status_code.range', { status_code: -1 }, '-1'],
  // seq.
  ['seq.not_integer', { seq: '1.0' }],
  ['seq.not_integer', { seq: 1.5 }, '1.5'],
  ['seq.not_integer', { seq: '01' }],
  ['seq.range', { seq: -1 }, '-1'],
  ['seq.range', { seq: 2 ** 53 }, '9007199254740992'],
  ['seq.range', { seq: '9007199254740992' }],
  // quality.
  ['quality.unknown', { quality: 'ACTUAL' }],
  ['quality.unknown', { quality: 'measured' }],
  ['quality.contradicts_status', { quality: 'actual', status_code: 1 }],
  // checksum.
  ['checksum.format', { checksum_sha256: 'abc' }],
  ['checksum.mismatch', { checksum_sha256: '0'.repeat(64) }],
];

describe('each bad value yields its code, field and value', () => {
  it.each(BAD_VALUES)('%s: %j', (code, patch, shown) => {
    const [field = ''] = Object.keys(patch);
    const value = shown ?? patch[field];
    expect(violationsOf({ ...GOOD, ...patch })).toEqual([{ code, field, value }]);
  });

  it('gives every violation a sentence', () => {
    const result = run({ ...GOOD, consumption_kwh: 2000 });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.reject.violations[0]?.message).toBe(
      'consumption_kwh 2000.000000 kWh is outside the allowed range 0.000000..1000.000000 kWh.',
    );
    expect(result.reject).toMatchObject({
      location,
      meterId: 'MTR-00000001',
      idempotencyKey: null,
      relatedIdempotencyKey: null,
      uncountedSpan: false,
    });
  });
});

describe('a record with several problems', () => {
  it('reports all of them, in field order, unknown fields last', () => {
    const fields = {
      meter_id: 'MTR-bad',
      channel: 'a b',
      timestamp_utc: '2026-01-01T00:15:00',
      interval_seconds: 'quarter',
      consumption_kwh: '-0',
      status_code: 999,
      seq: -3,
      quality: 'guess',
      checksum_sha256: 'xyz',
      vendor_note: 'hello',
    };
    expect(violationsOf(fields).map(({ code, field }) => `${code} ${field}`)).toEqual([
      'meter_id.pattern meter_id',
      'channel.pattern channel',
      'interval_seconds.not_integer interval_seconds',
      'timestamp.no_offset timestamp_utc',
      'consumption.negative_zero consumption_kwh',
      'status_code.range status_code',
      'seq.range seq',
      'quality.unknown quality',
      'checksum.format checksum_sha256',
      'field.unknown vendor_note',
    ]);
    const result = run(fields);
    expect(result.ok ? null : result.reject.meterId).toBe('MTR-bad');
  });

  it('reports every missing field of an empty record', () => {
    expect(violationsOf({}).map(({ code, field }) => `${code} ${field}`)).toEqual([
      'field.missing meter_id',
      'field.missing timestamp_utc',
      'field.missing consumption_kwh',
      'field.missing status_code',
    ]);
  });

  it('reports a future interval and an out-of-range value together', () => {
    const codes = violationsOf({
      ...GOOD,
      timestamp_utc: '2027-01-01T00:00:00Z',
      status_code: 300,
    }).map(({ code }) => code);
    expect(codes).toEqual(['timestamp.future', 'status_code.range']);
  });
});

describe('timestamp.future', () => {
  // Now is 12:00:00Z and the tolerance 300 s, so an interval may end at 12:05:00Z at the latest.
  const endingAtTolerance = {
    ...GOOD,
    timestamp_utc: '2026-06-01T12:00:00Z',
    interval_seconds: 300,
  };

  it('allows an interval ending exactly at now plus the tolerance', () => {
    expect(run(endingAtTolerance).ok).toBe(true);
  });

  it('rejects it a second earlier', () => {
    const validate = validatorFor({}, NOW_MS - 1000);
    expect(violationsOf(endingAtTolerance, validate)).toEqual([
      v('timestamp.future', 'timestamp_utc', '2026-06-01T12:00:00Z'),
    ]);
  });

  it('says when the interval ends and what the time is', () => {
    const result = run({ ...GOOD, timestamp_utc: '2026-06-01T12:00:00Z' });
    expect(result.ok ? '' : result.reject.violations[0]?.message).toBe(
      'the interval ends at 2026-06-01T12:15:00.000Z, later than the current time ' +
        '2026-06-01T12:00:00.000Z plus the clock-skew tolerance of 300 s.',
    );
  });

  it('reads the clock for every record', () => {
    const clock = new ManualClock(NOW_MS);
    const validate = createValidator(DEFAULT_DICTIONARY, clock);
    const record = { fields: { ...GOOD, timestamp_utc: '2026-06-01T12:00:00Z' }, location };
    expect(validate(record).ok).toBe(false);
    clock.advanceMs(600_000);
    expect(validate(record).ok).toBe(true);
  });

  it('checks the start alone when the interval length is unusable', () => {
    const fields = { ...GOOD, timestamp_utc: '2026-06-01T12:10:00Z', interval_seconds: 'x' };
    expect(violationsOf(fields).map(({ code }) => code)).toEqual([
      'interval_seconds.not_integer',
      'timestamp.future',
    ]);
  });
});

describe('tailored dictionaries', () => {
  it('rejects a "|" in a meter id or channel whatever the patterns allow', () => {
    const validate = validatorFor({ meterIdPattern: '.+', channelPattern: '.+' });
    expect(violationsOf({ ...GOOD, meter_id: 'A|B', channel: 'c|d' }, validate)).toEqual([
      v('meter_id.pattern', 'meter_id', 'A|B'),
      v('channel.pattern', 'channel', 'c|d'),
    ]);
    expect(readingOf({ ...GOOD, meter_id: 'anything', channel: 'x y' }, validate)).toMatchObject({
      meterId: 'anything',
      channel: 'x y',
    });
  });

  it('applies the channel allow-list', () => {
    const validate = validatorFor({ channels: ['1', '2'] });
    expect(violationsOf({ ...GOOD, channel: '3' }, validate)).toEqual([
      v('channel.not_allowed', 'channel', '3'),
    ]);
    expect(violationsOf({ ...GOOD, channel: 3 }, validate)).toEqual([
      v('channel.not_allowed', 'channel', '3'),
    ]);
  });

  it('skips alignment when the dictionary does not require it', () => {
    const validate = validatorFor({ requireIntervalAlignment: false });
    const reading = readingOf({ ...GOOD, timestamp_utc: '2026-01-01T00:07:00Z' }, validate);
    expect(reading.intervalStartMs).toBe(Date.UTC(2026, 0, 1, 0, 7));
  });

  it("aligns to the record's own interval length", () => {
    const fields = { ...GOOD, timestamp_utc: '2026-01-01T00:05:00Z', interval_seconds: '300' };
    expect(readingOf(fields)).toMatchObject({ intervalSeconds: 300 });
  });

  it('allows unknown fields when told to', () => {
    const validate = validatorFor({ allowUnknownFields: true });
    expect(run({ ...GOOD, vendor_note: 'x' }, validate).ok).toBe(true);
  });

  it('reads naive local times in its time zone, refusing DST gaps and overlaps', () => {
    const validate = validatorFor({ timeZone: 'America/New_York' });
    const at = (timestamp: string) => ({ ...GOOD, timestamp_utc: timestamp });
    expect(readingOf(at('2026-01-15T12:00:00'), validate).intervalStartMs).toBe(
      Date.UTC(2026, 0, 15, 17),
    );
    expect(violationsOf(at('2026-03-08T02:30:00'), validate)).toEqual([
      v('timestamp.dst_nonexistent', 'timestamp_utc', '2026-03-08T02:30:00'),
    ]);
    expect(violationsOf(at('2026-11-01T01:30:00'), validate)).toEqual([
      v('timestamp.dst_ambiguous', 'timestamp_utc', '2026-11-01T01:30:00'),
    ]);
  });
});

describe('effective consumption ranges: channel override > meter class > default', () => {
  const validate = validatorFor({
    channels: ['1', '2', '3'],
    channelOverrides: {
      '2': { consumptionKwhMin: -10, consumptionKwhMax: 10 },
      '3': { consumptionKwhMin: -5, intervalSecondsAllowed: [3600] },
    },
    meterClasses: [
      { name: 'big', meterIdPattern: '^MTR-B.*$', consumptionKwhMax: 5000 },
      { name: 'medium', meterIdPattern: '^MTR-.*$', consumptionKwhMax: 2000 },
    ],
  });
  const record = (meterId: string, channel: string, kwh: number) => ({
    ...GOOD,
    meter_id: meterId,
    channel,
    consumption_kwh: kwh,
    interval_seconds: channel === '3' ? 3600 : 900,
    timestamp_utc: '2026-01-01T00:00:00Z',
  });

  it.each([
    ['MTR-B0000001', '1', 4000, null],
    ['MTR-B0000001', '1', 6000, '0.000000..5000.000000 kWh (bounds set for meter class "big")'],
    ['MTR-00000001', '1', 1500, null],
    ['MTR-00000001', '1', 2500, '0.000000..2000.000000 kWh (bounds set for meter class "medium")'],
    ['MTR-B0000001', '2', -5, null],
    ['MTR-B0000001', '2', 20, '-10.000000..10.000000 kWh (bounds set for channel "2")'],
    ['MTR-B0000001', '3', 4000, null],
    ['MTR-B0000001', '3', -4, null],
    [
      'MTR-B0000001',
      '3',
      -6,
      '-5.000000..5000.000000 kWh (bounds set for channel "3" and meter class "big")',
    ],
  ])('%s channel %s, %d kWh', (meterId, channel, kwh, range) => {
    const result = run(record(meterId, channel, kwh), validate);
    if (range === null) {
      expect(result.ok).toBe(true);
      return;
    }
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.reject.violations).toHaveLength(1);
    expect(result.reject.violations[0]).toMatchObject({ code: 'consumption.range' });
    expect(result.reject.violations[0]?.message).toContain(`allowed range ${range}.`);
  });

  it('takes allowed interval lengths from the channel override', () => {
    const { interval_seconds: _interval, ...fields } = record('MTR-B0000001', '3', 1);
    expect(violationsOf(fields, validate)).toEqual([
      v('interval_seconds.not_allowed', 'interval_seconds', '900'),
    ]);
    expect(violationsOf({ ...fields, interval_seconds: 900 }, validate)[0]?.code).toBe(
      'interval_seconds.not_allowed',
    );
  });
});

describe('checksum_sha256', () => {
  const vectorOne = {
    meter_id: 'MTR-00000001',
    timestamp_utc: '2026-01-01T00:00:00Z',
    consumption_kwh: 1.25,
    status_code: 0,
    checksum_sha256: 'a3df5761245a66ab8f25fa57fbc6fdc915e14d62ad6d666c5b4809c03de2957c',
  };
  const vectorTwo = {
    meter_id: 'MTR-ABCD1234',
    channel: 'A2',
    timestamp_utc: '2026-03-08T02:15:00-05:00',
    consumption_kwh: '0.000001',
    status_code: 9,
    seq: 42,
    checksum_sha256: '3d64bdbf758d5c0acf802178fcd1f2a002151f5cf600f03b348fa2ab436ea9f2',
  };

  it('accepts the README test vectors as records', () => {
    expect(readingOf(vectorOne).checksumSha256).toBe(vectorOne.checksum_sha256);
    expect(readingOf(vectorTwo)).toMatchObject({
      checksumSha256: vectorTwo.checksum_sha256,
      quality: 'estimated',
      valueMicro: 1,
    });
  });

  it('accepts upper case and stores lower case', () => {
    const fields = { ...vectorOne, checksum_sha256: vectorOne.checksum_sha256.toUpperCase() };
    expect(readingOf(fields).checksumSha256).toBe(vectorOne.checksum_sha256);
  });

  it('names the expected value on a mismatch', () => {
    const result = run({ ...vectorOne, consumption_kwh: 1.26 });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const expected = computeRecordChecksum({
      meterId: 'MTR-00000001',
      channel: '1',
      intervalStartMs: Date.UTC(2026, 0, 1),
      valueMicro: 1_260_000,
      statusCode: 0,
      seq: 0,
    });
    expect(result.reject.violations[0]?.message).toContain(`expected ${expected}`);
  });

  it('is compared even when a value breaks its range', () => {
    const fields = { ...GOOD, consumption_kwh: 2000, checksum_sha256: '1'.repeat(64) };
    expect(violationsOf(fields).map(({ code }) => code)).toEqual([
      'consumption.range',
      'checksum.mismatch',
    ]);
    const reading = { meterId: 'MTR-00000001', channel: '1', intervalStartMs: START_MS, seq: 7 };
    const right = computeRecordChecksum({ ...reading, valueMicro: 2e9, statusCode: 0 });
    expect(violationsOf({ ...fields, checksum_sha256: right }).map(({ code }) => code)).toEqual([
      'consumption.range',
    ]);
  });

  it('is not compared when a value it covers did not parse, but its format still is', () => {
    const unparsed = { ...vectorOne, timestamp_utc: 'soon', status_code: 1e3 };
    expect(
      violationsOf({ ...unparsed, checksum_sha256: '1'.repeat(64) }).map(({ code }) => code),
    ).toEqual(['timestamp.format', 'status_code.range']);
    expect(violationsOf({ ...unparsed, checksum_sha256: 'nope' }).map(({ code }) => code)).toEqual([
      'timestamp.format',
      'status_code.range',
      'checksum.format',
    ]);
  });
});

describe('the idempotency key of a validated reading', () => {
  const quarterHourOf2025 = fc.integer({ min: 0, max: 96 * 365 - 1 });

  it('is the core key of the UTC start, whatever offset the feed wrote the start with', () => {
    fc.assert(
      fc.property(quarterHourOf2025, fc.integer({ min: -12, max: 14 }), (slot, hours) => {
        const start = Date.UTC(2025, 0, 1) + slot * 900_000;
        const wall = new Date(start + hours * 3_600_000).toISOString().slice(0, 19);
        const offset = `${hours < 0 ? '-' : '+'}${String(Math.abs(hours)).padStart(2, '0')}:00`;
        const reading = readingOf({ ...GOOD, timestamp_utc: `${wall}${offset}` });
        expect(reading.idempotencyKey).toBe(idempotencyKey('MTR-00000001', '1', start, 7));
      }),
    );
  });
});
