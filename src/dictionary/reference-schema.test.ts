// Goal: the hand-written validator and the readable zod reference schema judge every record alike.
// Method: fast-check records, valid or with defects, under default and generated dictionaries.
import fc from 'fast-check';
import { Temporal } from 'temporal-polyfill';
import { describe, expect, it } from 'vitest';

import { ManualClock } from '../core/clock.js';
import type { RecordLocation } from '../core/reading.js';
import { REJECT_CODES, type RejectCode } from '../core/reject.js';
import { computeRecordChecksum } from './checksum.js';
import { formatMilliWhAsKwh } from '../core/decimal.js';
import {
  compilePattern,
  DEFAULT_DICTIONARY,
  isChannelName,
  parseDictionary,
  type DataDictionary,
} from './dictionary.js';
import { referenceRecordSchema, referenceViolations } from './reference-schema.js';
import { createValidator, type ValidationResult } from './validator.js';

const LOCATION: RecordLocation = { recordIndex: 0, line: 1, byteOffset: 0, byteLength: 1 };
const MS_PER_SECOND = 1000;
const RUNS = 1500;
/** The seed of the run whose records must reach every rule (see its test). */
const COVERAGE_SEED = 20_261_130;

// ------------------------------------------------------------------------------------------------
// Dictionaries: the defaults, and configs built from parts chosen so every combination is
// consistent (parseDictionary would throw otherwise, failing the test).

const OVERRIDES = {
  '2': { consumptionKwhMin: -1000, consumptionKwhMax: 0 },
  A2: { intervalSecondsAllowed: [300, 3600] },
  '3': { consumptionKwhMax: 2.5 },
} as const;

const METER_CLASSES = [
  {
    name: 'tiny',
    meterIdPattern: '^MTR-T[0-9]{7}$',
    consumptionKwhMin: 0.001,
    consumptionKwhMax: 10,
  },
  { name: 'broad-t', meterIdPattern: 'MTR-T.*', consumptionKwhMax: 99 },
  { name: 'industrial', meterIdPattern: '^MTR-I[A-Z0-9]{7}$', consumptionKwhMax: 50000 },
];

const CONFIG_PARTS = {
  meterIdPattern: fc.constantFrom('^MTR-[A-Z0-9]{8}$', 'MTR-[A-Z0-9]+', 'MTR-.*'),
  // The second pattern admits "|", which a channel name may never contain.
  channelPattern: fc.constantFrom('^[A-Za-z0-9]{1,8}$', '[A-Z0-9|]{1,4}'),
  channels: fc.constantFrom(null, ['1', '2', '3', 'A2', 'B']),
  defaultChannel: fc.constantFrom('1', 'B'),
  intervals: fc.constantFrom(
    { intervalSecondsAllowed: [300, 900, 1800, 3600], defaultIntervalSeconds: 900 },
    { intervalSecondsAllowed: [900, 3600], defaultIntervalSeconds: 3600 },
    { intervalSecondsAllowed: [60, 300, 900], defaultIntervalSeconds: 300 },
  ),
  range: fc.constantFrom(
    { consumptionKwhMin: 0, consumptionKwhMax: 1000 },
    { consumptionKwhMin: -5, consumptionKwhMax: 20.5 },
  ),
  statusCodeMax: fc.constantFrom(15, 255, 65535),
  estimatedMask: fc.constantFrom(1, 2, 9),
  clockSkewToleranceSeconds: fc.constantFrom(0, 300, 3600),
  timeZone: fc.constantFrom(
    null,
    'America/New_York',
    'Europe/Berlin',
    'Australia/Lord_Howe',
    'Asia/Kolkata',
  ),
  requireIntervalAlignment: fc.boolean(),
  allowUnknownFields: fc.boolean(),
  overrideNames: fc.subarray(Object.keys(OVERRIDES) as (keyof typeof OVERRIDES)[]),
  meterClasses: fc.shuffledSubarray(METER_CLASSES),
};

function configOf(parts: typeof CONFIG_PARTS) {
  return fc.record(parts).map(({ intervals, range, estimatedMask, overrideNames, ...rest }) => ({
    ...rest,
    ...intervals,
    ...range,
    statusBits: { estimated: estimatedMask },
    channelOverrides: Object.fromEntries(overrideNames.map((name) => [name, OVERRIDES[name]])),
  }));
}

const configArbitrary = configOf(CONFIG_PARTS);

type Config = typeof configArbitrary extends fc.Arbitrary<infer T> ? T : never;

const dictionaries = new Map<string, DataDictionary>();

function dictionaryFor(config: Config | null): DataDictionary {
  if (config === null) return DEFAULT_DICTIONARY;
  const key = JSON.stringify(config);
  let dictionary = dictionaries.get(key);
  if (dictionary === undefined) {
    dictionary = parseDictionary(config);
    dictionaries.set(key, dictionary);
  }
  return dictionary;
}

// ------------------------------------------------------------------------------------------------
// Records: a valid record planned from the dictionary, then zero or more defects.

type TimestampForm = 'Z' | 'zeroFraction' | 'naive' | `${'+' | '-'}${string}:${string}`;

const TIMESTAMP_FORMS: readonly TimestampForm[] = [
  'Z',
  'Z',
  'zeroFraction',
  '+00:00',
  '-00:00',
  '+05:30',
  '-04:00',
  '+14:00',
  '+05:45',
  'naive',
  'naive',
];

const PLAN_PARTS = {
  meterId: fc.constantFrom(
    'MTR-00000001',
    'MTR-ABCD1234',
    'MTR-I1234567',
    'MTR-T1234567',
    'MTR-TXYZ0000',
  ),
  channelIndex: fc.nat(),
  channelForm: fc.constantFrom('absent', 'null', 'empty', 'string', 'string', 'number'),
  intervalIndex: fc.nat(),
  intervalForm: fc.constantFrom('absent', 'null', 'empty', 'number', 'number', 'string'),
  anchorMs: fc.integer({ min: Date.UTC(2025, 9, 1), max: Date.UTC(2026, 11, 31) }),
  intervalsBack: fc.oneof(
    { weight: 9, arbitrary: fc.integer({ min: 1, max: 3000 }) },
    { weight: 1, arbitrary: fc.constantFrom(0, -1) },
  ),
  // null: the clock reads the anchor; a number: it reads end - tolerance + that many ms.
  clockAtEndMs: fc.oneof(
    { weight: 4, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary: fc.constantFrom(-1, 0, 1) },
  ),
  timestampForm: fc.constantFrom(...TIMESTAMP_FORMS),
  valueMicro: fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: 0, max: 2_500_000 }) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        ...[0, 1, 999, 1000, 2_500_000, 2_500_001, 10_000_000, 10_000_001, 20_500_000],
        ...[20_500_001, 99_000_000, 1_000_000_000, 1_000_000_001, -1, -5_000_000, -5_000_001],
        ...[-1_000_000_000, -1_000_000_001, 50_000_000_000, 50_000_000_001],
      ),
    },
    { weight: 1, arbitrary: fc.integer({ min: -2_000_000_000, max: 60_000_000_000 }) },
  ),
  // Otherwise a bound of the record's effective range (override > class > default), plus this.
  energyAtBound: fc.oneof(
    { weight: 2, arbitrary: fc.constant(null) },
    {
      weight: 1,
      arbitrary: fc.record({
        bound: fc.constantFrom('min', 'max'),
        deltaMilliWh: fc.integer({ min: -1, max: 1 }),
      }),
    },
  ),
  energyForm: fc.constantFrom('number', 'string', 'sixDecimals', 'exponent'),
  statusCode: fc.oneof(fc.constantFrom(0, 1, 2, 3, 8, 9, 15), fc.integer({ min: 0, max: 255 })),
  statusForm: fc.constantFrom('number', 'string'),
  seq: fc.oneof(
    fc.constant(null),
    fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    fc.constantFrom(0, 1, Number.MAX_SAFE_INTEGER),
  ),
  seqForm: fc.constantFrom('absent', 'null', 'empty', 'number', 'string'),
  quality: fc.constantFrom('absent', 'null', 'derived', 'estimated', 'substituted'),
  checksum: fc.constantFrom('absent', 'absent', 'lower', 'upper'),
};

const planArbitrary = fc.record(PLAN_PARTS);

type Plan = typeof planArbitrary extends fc.Arbitrary<infer T> ? T : never;

/** Values a validator rejects, by field; some are fine under some dictionaries. */
const BAD_VALUES: Readonly<Record<string, readonly unknown[]>> = {
  meter_id: [
    ...['', 'MTR-0000000', 'mtr-00000001', 'MTR-0000|001', 'MTR-00000001 ', 'xMTR-00000001y'],
    ...['MTR-', 'MTR-T123456', null, 12345678, {}, ['MTR-00000001'], true],
  ],
  channel: [
    ...['A|B', '|', 'toolongname', 'Z9', 'b', 'toString', '__proto__', 'é', ' 1', '2', 'A2', '3'],
    ...[2, 0, -0, -1, 1.5, 1e21, 3, Number.NaN, true, {}, ['1']],
  ],
  interval_seconds: [
    ...[600, 0, -900, -0, 900.5, 1e21, 3600, 86400, 60, Infinity, Number.NaN, true, {}],
    ...['-900', '900', '0900', '-0', '9e2', '900.0', 'abc', ' 900', '3600', '60'],
  ],
  timestamp_utc: [
    ...['', '2026-01-01 00:15:00Z', '2026-01-01T00:15:00z', '2026-01-01t00:15:00Z'],
    ...['2026-02-30T00:00:00Z', '2026-01-01T24:00:00Z', '2026-06-30T23:59:60Z'],
    ...['2024-02-29T00:00:00Z', '2025-02-29T00:00:00Z', '2100-02-29T00:00:00Z'],
    ...['2000-02-29T00:00:00Z', '2026-01-01T00:15:00+24:00', '2026-01-01T00:15:00+05:60'],
    ...['2026-01-01T00:15:00+05', '2026-01-01T00:15:00+0530', '2026-01-01T00:15:00.Z'],
    ...['2026-01-01T00:15:00.1234567890Z', '2026-01-01T00:15:00.000000000Z'],
    ...['2026-01-01T00:15:00.000000001Z', '2026-01-01T00:15:00.5', '1999-12-31T23:45:00Z'],
    ...['1999-12-31T23:45:00.5Z', '1999-12-31T23:45:00', '2200-01-01T00:00:00Z'],
    ...['1999-12-31T23:00:00-01:00', '2000-01-01T00:30:00+01:00', '2000-01-01T00:00:00Z'],
    ...['2000-01-01T00:30:00', '2199-12-31T23:45:00Z', '2199-12-31T23:59:59-00:01'],
    ...[
      '2199-12-31T23:45:00.5-01:00',
      '2199-12-31T23:00:00-01:00',
      '2199-12-31T22:59:59-01:00',
      '2000-01-01T01:00:00+01:00',
      '2000-01-01T00:59:59+01:00',
      '2026-01-01T00:15:00',
      '2026-03-08T02:30:00',
    ],
    ...['2026-11-01T01:30:00', '2026-03-29T02:30:00', '2026-10-25T02:30:00'],
    ...['2026-04-05T01:45:00', '2026-10-04T02:15:00', '2026-10-04T02:15:00.5'],
    ...['２０２６-01-01T00:15:00Z', '2026-01-01T00:15:00Z ', ' 2026-01-01T00:15:00Z'],
    ...['2026-1-01T00:15:00Z', '+2026-01-01T00:15:00Z', '2026-01-01T00:15Z'],
    ...[null, 1_767_226_500_000, {}, true],
  ],
  consumption_kwh: [
    ...['12abc', '', ' 1', '0x10', '1,5', '+1', '.5', '1.', '1e', '1e+', '-', '--1', '1_000'],
    ...[Number.NaN, Infinity, -Infinity, 'Infinity', '-Infinity', '+Infinity', 'NaN', 'infinity'],
    ...[-0, '-0', '-0.0', '-0e3', '-0.0000001', 0.0000001, '0.0000001', '1.1234567', '1.2300000'],
    ...[1e-7, '1e-7', '1e-6', 1e-6, '9007199254.740991', '-9007199254.740991'],
    ...['9007199254.740992', 9007199254.740993, '1e300', 1e300, 1e21, '1E3', '5e-324', 5e-324],
    ...[0.1 + 0.2, true, null, {}, [1], 1000.000001, '1000.000001', -0.000001, 50000],
    ...[50000.000001, 2.5, '2.500001', 10.000001, 0.0009, '0.001', 99, 20.500001, -5, -5.000001],
    ...[-1000, '-1000.000001'],
  ],
  status_code: [
    ...[-1, 16, 256, 65535, 65536, 1.5, -0, 1e21, Number.NaN, Infinity, true, null, {}, 9, 1],
    ...['012', '12.0', '+1', '-0', '-1', '', ' 1', '1e2', '2147483648', '9'.repeat(400), '9'],
  ],
  seq: [
    ...[-1, 2 ** 53, Number.MAX_SAFE_INTEGER, 1.5, true, -0, 1e21, null, {}],
    ...['-1', '9007199254740992', '9007199254740991', '007', '1.0', 'x', '-0', ''],
  ],
  quality: [
    ...['actual', 'estimated', 'substituted', 'ACTUAL', 'Actual', 'other', ' actual', ''],
    ...[null, 1, true, {}],
  ],
  checksum_sha256: [
    ...['', 'g'.repeat(64), 'a'.repeat(63), 'a'.repeat(65), ' '.repeat(64), '0'.repeat(64)],
    ...['A'.repeat(64), null, 123, {}],
  ],
};

const UNKNOWN_NAMES = [
  ...['foo', 'Meter_ID', 'meterId', 'constructor', 'toString', '__proto__', 'timestamp'],
  ...[' meter_id', 'hasOwnProperty', 'quality '],
];

const REQUIRED_FIELDS = ['meter_id', 'timestamp_utc', 'consumption_kwh', 'status_code'];

type Defect =
  | { kind: 'set'; field: string; value: unknown }
  | { kind: 'delete'; field: string }
  | { kind: 'misalign'; shiftSeconds: number }
  | { kind: 'future'; intervalsAhead: number }
  | { kind: 'render'; form: TimestampForm }
  | { kind: 'unknown'; name: string; value: unknown }
  | { kind: 'tamperChecksum' }
  | { kind: 'dst'; index: number };

/** Local times that daylight saving skips or repeats, per zone (checked with Temporal). */
const DST_LOCAL_TIMES: Readonly<Record<string, readonly string[]>> = {
  'America/New_York': ['2026-03-08T02:30:00', '2026-11-01T01:30:00', '2025-11-02T01:30:00'],
  'Europe/Berlin': ['2026-03-29T02:30:00', '2026-10-25T02:30:00', '2025-10-26T02:00:00'],
  // Lord Howe Island moves its clocks by 30 minutes.
  'Australia/Lord_Howe': ['2026-10-04T02:15:00', '2026-04-05T01:45:00', '2025-10-05T02:00:00'],
};

const defectArbitrary: fc.Arbitrary<Defect> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc
      .constantFrom(...Object.keys(BAD_VALUES))
      .chain((field) =>
        fc
          .constantFrom(...(BAD_VALUES[field] ?? []))
          .map((value): Defect => ({ kind: 'set', field, value })),
      ),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(...REQUIRED_FIELDS)
      .map((field): Defect => ({ kind: 'delete', field })),
  },
  {
    weight: 2,
    arbitrary: fc
      .constantFrom(1, 59, 60, 150, 300, 450, 1800)
      .map((shiftSeconds): Defect => ({ kind: 'misalign', shiftSeconds })),
  },
  {
    weight: 2,
    arbitrary: fc
      .integer({ min: 0, max: 3 })
      .map((intervalsAhead): Defect => ({ kind: 'future', intervalsAhead })),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(...TIMESTAMP_FORMS)
      .map((form): Defect => ({ kind: 'render', form })),
  },
  {
    weight: 2,
    arbitrary: fc
      .record({ name: fc.constantFrom(...UNKNOWN_NAMES), value: fc.constantFrom(1, 'x', null) })
      .map(({ name, value }): Defect => ({ kind: 'unknown', name, value })),
  },
  { weight: 1, arbitrary: fc.constant<Defect>({ kind: 'tamperChecksum' }) },
  { weight: 1, arbitrary: fc.nat().map((index): Defect => ({ kind: 'dst', index })) },
);

const defectsArbitrary = fc.oneof(
  { weight: 2, arbitrary: fc.constant<Defect[]>([]) },
  { weight: 3, arbitrary: fc.array(defectArbitrary, { minLength: 1, maxLength: 3 }) },
);

function pad(value: number, width = 2): string {
  return String(value).padStart(width, '0');
}

/** The interval start as a feed might write it: UTC, with an offset, or naive in `timeZone`. */
function renderTimestamp(epochMs: number, form: TimestampForm, timeZone: string | null): string {
  if (form === 'naive') {
    const local = Temporal.Instant.fromEpochMilliseconds(epochMs).toZonedDateTimeISO(
      timeZone ?? 'UTC',
    );
    const date = `${pad(local.year, 4)}-${pad(local.month)}-${pad(local.day)}`;
    return `${date}T${pad(local.hour)}:${pad(local.minute)}:${pad(local.second)}`;
  }
  const utc = new Date(epochMs).toISOString().slice(0, 19);
  if (form === 'Z') return `${utc}Z`;
  if (form === 'zeroFraction') return `${utc}.000Z`;
  const sign = form.startsWith('-') ? -1 : 1;
  const offsetMinutes = sign * (Number(form.slice(1, 3)) * 60 + Number(form.slice(4, 6)));
  const local = new Date(epochMs + offsetMinutes * 60_000).toISOString().slice(0, 19);
  return `${local}${form}`;
}

function renderEnergy(milliWh: number, form: Plan['energyForm']): number | string {
  switch (form) {
    case 'number':
      return milliWh / 1_000_000;
    case 'sixDecimals':
      return formatMilliWhAsKwh(milliWh);
    case 'string':
      return formatMilliWhAsKwh(milliWh).replace(/0+$/, '').replace(/\.$/, '');
    case 'exponent':
      return `${milliWh}e-6`;
  }
}

function validChannels(dictionary: DataDictionary): string[] {
  const channelRegex = compilePattern(dictionary.channelPattern);
  return ['1', '2', '3', 'A2', 'B', 'toString', '0'].filter(
    (name) =>
      isChannelName(name, channelRegex) &&
      (dictionary.channels === null || dictionary.channels.includes(name)),
  );
}

function pick<T>(values: readonly T[], index: number): T {
  const value = values[index % values.length];
  if (value === undefined) throw new Error('pick from an empty list');
  return value;
}

function absentForm(form: string): unknown {
  return form === 'null' ? null : form === 'empty' ? '' : undefined;
}

/**
 * The planned consumption. A bound is found the way the README states the rule; were this wrong,
 * only the mix of values would suffer, since both sides judge every record.
 */
function plannedEnergyMilliWh(dictionary: DataDictionary, plan: Plan, channel: string): number {
  if (plan.energyAtBound === null) return plan.valueMicro;
  const override = Object.hasOwn(dictionary.channelOverrides, channel)
    ? dictionary.channelOverrides[channel]
    : undefined;
  const meterClass = dictionary.meterClasses.find((candidate) =>
    compilePattern(candidate.meterIdPattern).test(plan.meterId),
  );
  const { bound, deltaMilliWh } = plan.energyAtBound;
  const kwh =
    bound === 'min'
      ? (override?.consumptionKwhMin ??
        meterClass?.consumptionKwhMin ??
        dictionary.consumptionKwhMin)
      : (override?.consumptionKwhMax ??
        meterClass?.consumptionKwhMax ??
        dictionary.consumptionKwhMax);
  return Math.round(kwh * 1_000_000) + deltaMilliWh;
}

interface Draft {
  readonly dictionary: DataDictionary;
  readonly plan: Plan;
  readonly fields: Record<string, unknown>;
  readonly startMs: number;
  readonly intervalMs: number;
  readonly nowMs: number;
}

/** The valid record of a plan, and the clock reading it is judged at. */
function draftOf(dictionary: DataDictionary, plan: Plan): Draft {
  const fields: Record<string, unknown> = { meter_id: plan.meterId };
  const chosenChannel = pick(validChannels(dictionary), plan.channelIndex);
  const channelSent = plan.channelForm === 'string' || plan.channelForm === 'number';
  const channel = channelSent ? chosenChannel : dictionary.defaultChannel;
  if (channelSent) {
    fields['channel'] =
      plan.channelForm === 'number' && /^(?:0|[1-9][0-9]*)$/.test(channel)
        ? Number(channel)
        : channel;
  } else if (plan.channelForm !== 'absent') {
    fields['channel'] = absentForm(plan.channelForm);
  }
  const override = Object.hasOwn(dictionary.channelOverrides, channel)
    ? dictionary.channelOverrides[channel]
    : undefined;
  const allowed = override?.intervalSecondsAllowed ?? dictionary.intervalSecondsAllowed;
  const intervalSent = plan.intervalForm === 'number' || plan.intervalForm === 'string';
  const intervalSeconds = intervalSent
    ? pick(allowed, plan.intervalIndex)
    : dictionary.defaultIntervalSeconds;
  if (intervalSent) {
    fields['interval_seconds'] =
      plan.intervalForm === 'number' ? intervalSeconds : String(intervalSeconds);
  } else if (plan.intervalForm !== 'absent') {
    fields['interval_seconds'] = absentForm(plan.intervalForm);
  }
  const intervalMs = intervalSeconds * MS_PER_SECOND;
  const startMs = (Math.floor(plan.anchorMs / intervalMs) - plan.intervalsBack) * intervalMs;
  const toleranceMs = dictionary.clockSkewToleranceSeconds * MS_PER_SECOND;
  const nowMs =
    plan.clockAtEndMs === null
      ? plan.anchorMs
      : startMs + intervalMs - toleranceMs + plan.clockAtEndMs;
  const form =
    plan.timestampForm === 'naive' && dictionary.timeZone === null ? 'Z' : plan.timestampForm;
  fields['timestamp_utc'] = renderTimestamp(startMs, form, dictionary.timeZone);
  const valueMicro = plannedEnergyMilliWh(dictionary, plan, channel);
  fields['consumption_kwh'] = renderEnergy(valueMicro, plan.energyForm);
  fields['status_code'] = plan.statusForm === 'number' ? plan.statusCode : String(plan.statusCode);
  const seq = plan.seq ?? 0;
  if (plan.seq !== null && (plan.seqForm === 'number' || plan.seqForm === 'string')) {
    fields['seq'] = plan.seqForm === 'number' ? plan.seq : String(plan.seq);
  } else if (plan.seqForm === 'null' || plan.seqForm === 'empty') {
    fields['seq'] = absentForm(plan.seqForm);
  }
  const estimated = (plan.statusCode & dictionary.statusBits.estimated) !== 0;
  if (plan.quality === 'derived') fields['quality'] = estimated ? 'estimated' : 'actual';
  else if (plan.quality === 'null') fields['quality'] = null;
  else if (plan.quality !== 'absent') fields['quality'] = plan.quality;
  if (plan.checksum !== 'absent') {
    const checksum = computeRecordChecksum({
      meterId: plan.meterId,
      channel,
      intervalStartMs: startMs,
      valueMicro,
      statusCode: plan.statusCode,
      seq,
    });
    fields['checksum_sha256'] = plan.checksum === 'upper' ? checksum.toUpperCase() : checksum;
  }
  return { dictionary, plan, fields, startMs, intervalMs, nowMs };
}

function applyDefect(draft: Draft, defect: Defect): void {
  const { dictionary, fields, intervalMs } = draft;
  const form = draft.plan.timestampForm;
  const render = (epochMs: number): string => renderTimestamp(epochMs, form, dictionary.timeZone);
  switch (defect.kind) {
    case 'set':
      fields[defect.field] = defect.value;
      return;
    case 'delete':
      delete fields[defect.field];
      return;
    case 'misalign':
      fields['timestamp_utc'] = render(draft.startMs + defect.shiftSeconds * MS_PER_SECOND);
      return;
    case 'future': {
      const earliestMs = draft.nowMs + dictionary.clockSkewToleranceSeconds * MS_PER_SECOND;
      const startMs = (Math.ceil(earliestMs / intervalMs) + defect.intervalsAhead) * intervalMs;
      fields['timestamp_utc'] = render(startMs);
      return;
    }
    case 'render':
      fields['timestamp_utc'] = renderTimestamp(draft.startMs, defect.form, dictionary.timeZone);
      return;
    case 'unknown':
      // defineProperty makes "__proto__" an own key, as JSON.parse does.
      Object.defineProperty(fields, defect.name, {
        value: defect.value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
      return;
    case 'tamperChecksum': {
      const sent = fields['checksum_sha256'];
      const text = typeof sent === 'string' && sent.length > 0 ? sent : '0'.repeat(64);
      fields['checksum_sha256'] = (text.startsWith('0') ? '1' : '0') + text.slice(1);
      return;
    }
    case 'dst': {
      // Without a zone (or in one without DST) these are naive times of another zone.
      const times = DST_LOCAL_TIMES[dictionary.timeZone ?? ''] ?? DST_LOCAL_TIMES['Europe/Berlin'];
      fields['timestamp_utc'] = pick(times ?? [], defect.index);
      return;
    }
  }
}

interface Case {
  /** null: the default dictionary. */
  readonly config: Config | null;
  readonly nowMs: number;
  readonly fields: Record<string, unknown>;
}

function casesOf(
  configs: fc.Arbitrary<Config | null>,
  plans: fc.Arbitrary<Plan>,
  defects: fc.Arbitrary<Defect[]>,
): fc.Arbitrary<Case> {
  return configs.chain((config) =>
    fc.record({ plan: plans, defects }).map(({ plan, defects: planned }) => {
      const draft = draftOf(dictionaryFor(config), plan);
      for (const defect of planned) applyDefect(draft, defect);
      return { config, nowMs: draft.nowMs, fields: draft.fields };
    }),
  );
}

const caseArbitrary = casesOf(
  fc.oneof({ weight: 1, arbitrary: fc.constant(null) }, { weight: 2, arbitrary: configArbitrary }),
  planArbitrary,
  defectsArbitrary,
);

// The effective range is the one rule that needs three things to line up (a channel with an
// override, a meter of a class, a value at a bound), too rare in the mix above to be tested well.
const rangeCaseArbitrary = casesOf(
  configOf({
    ...CONFIG_PARTS,
    overrideNames: fc.constant(['2', 'A2', '3'] as const),
    meterClasses: fc.shuffledSubarray(METER_CLASSES, { minLength: 2 }),
  }),
  fc.record({
    ...PLAN_PARTS,
    meterId: fc.constantFrom('MTR-T1234567', 'MTR-TXYZ0000', 'MTR-I1234567', 'MTR-00000001'),
    channelForm: fc.constantFrom('absent', 'string', 'number'),
    energyAtBound: fc.record({
      bound: fc.constantFrom('min', 'max'),
      deltaMilliWh: fc.integer({ min: -1, max: 1 }),
    }),
  }),
  fc.constant([]),
);

// ------------------------------------------------------------------------------------------------
// Comparison.

interface Verdicts {
  readonly validation: ValidationResult;
  readonly reference: ReturnType<ReturnType<typeof referenceRecordSchema>['safeParse']>;
}

function judge(testCase: Case): Verdicts {
  const dictionary = dictionaryFor(testCase.config);
  const clock = new ManualClock(testCase.nowMs);
  const validate = createValidator(dictionary, clock);
  const validation = validate({ fields: testCase.fields, location: LOCATION });
  const reference = referenceRecordSchema(dictionary, testCase.nowMs).safeParse(testCase.fields);
  return { validation, reference };
}

type CodesByField = Map<string, Set<RejectCode>>;

function codesByField(violations: readonly { field: string; code: RejectCode }[]): CodesByField {
  const byField: CodesByField = new Map();
  for (const { field, code } of violations) {
    const codes = byField.get(field) ?? new Set<RejectCode>();
    codes.add(code);
    byField.set(field, codes);
  }
  return byField;
}

function validatorCodes(verdicts: Verdicts): CodesByField | null {
  return verdicts.validation.ok ? null : codesByField(verdicts.validation.reject.violations);
}

function referenceCodes(verdicts: Verdicts): CodesByField | null {
  const reference = verdicts.reference;
  return reference.success ? null : codesByField(referenceViolations(reference.error));
}

function sorted(values: Iterable<string>): string[] {
  return [...values].sort();
}

function expectSameAcceptance(verdicts: Verdicts): void {
  const show = (codes: CodesByField | null) =>
    codes && Object.fromEntries([...codes].map(([field, fieldCodes]) => [field, [...fieldCodes]]));
  const described = JSON.stringify({
    validator: show(validatorCodes(verdicts)),
    reference: show(referenceCodes(verdicts)),
  });
  expect(verdicts.validation.ok, described).toBe(verdicts.reference.success);
}

function expectSameReading({ validation, reference }: Verdicts): void {
  if (!validation.ok || !reference.success) return;
  expect(validation.reading).toStrictEqual(reference.data);
}

// Every field but timestamp_utc has its codes compared exactly: each value breaks at most one
// rule of its field, or rules both sides report together (timestamp.future and .alignment).
// While reading a timestamp, one value can break several rules the README lists in no order (a
// written year outside 2000..2199, a non-zero fraction, no offset and no zone). The validator
// scans and stops at the first; the reference reports every one. So for timestamp_utc the field
// must agree and the validator's codes must be among the reference's.
function expectSameViolations(verdicts: Verdicts): void {
  const validator = validatorCodes(verdicts);
  const reference = referenceCodes(verdicts);
  if (validator === null || reference === null) return;
  expect(sorted(validator.keys())).toEqual(sorted(reference.keys()));
  for (const [field, codes] of validator) {
    const expected = sorted(reference.get(field) ?? []);
    if (field === 'timestamp_utc') expect(expected).toEqual(expect.arrayContaining([...codes]));
    else expect(sorted(codes), field).toEqual(expected);
  }
}

/** The rules a record (rather than its bytes or the ledger) can break. */
const RECORD_CODES = REJECT_CODES.filter(
  (code) => !code.startsWith('parse.') && !code.startsWith('identity.'),
);

describe('the validator agrees with the reference schema', () => {
  it('accepts exactly the records the reference accepts', () => {
    let accepted = 0;
    let cases = 0;
    const seen = new Set<RejectCode>();
    fc.assert(
      fc.property(caseArbitrary, (testCase) => {
        cases += 1;
        const verdicts = judge(testCase);
        const codes = validatorCodes(verdicts);
        if (codes === null) accepted += 1;
        for (const fieldCodes of codes?.values() ?? [])
          fieldCodes.forEach((code) => seen.add(code));
        expectSameAcceptance(verdicts);
      }),
      // Fixed, because the rule-coverage check below is about this run's records: with a fresh
      // seed, 1500 random records now and then never hit a rare rule (-0) and the check failed.
      { numRuns: RUNS, seed: COVERAGE_SEED },
    );
    // A comparison that only ever saw rejects, or never met some rule, would prove little.
    // Counted, not RUNS: the long form of the properties runs more cases.
    expect(accepted).toBeGreaterThan(cases * 0.1);
    expect(accepted).toBeLessThan(cases * 0.9);
    expect(sorted(seen)).toEqual(sorted(RECORD_CODES));
  });

  it('builds the deep-equal Reading when both accept', () => {
    fc.assert(
      fc.property(caseArbitrary, (testCase) => {
        expectSameReading(judge(testCase));
      }),
      { numRuns: RUNS },
    );
  });

  it('rejects for the same fields, with the same codes, when both reject', () => {
    fc.assert(
      fc.property(caseArbitrary, (testCase) => {
        expectSameViolations(judge(testCase));
      }),
      { numRuns: RUNS },
    );
  });

  it('agrees on effective consumption ranges: channel override > meter class > default', () => {
    fc.assert(
      fc.property(rangeCaseArbitrary, (testCase) => {
        const verdicts = judge(testCase);
        expectSameAcceptance(verdicts);
        expectSameReading(verdicts);
        expectSameViolations(verdicts);
      }),
      { numRuns: RUNS / 3 },
    );
  });
});

describe('cases that once disagreed', () => {
  const plannedDefault = (plan: Plan): Draft => draftOf(DEFAULT_DICTIONARY, plan);

  it('rejects an absurd interval length as data instead of throwing', () => {
    const secondsArbitrary = fc.oneof(
      fc.constantFrom<unknown>(1e21, '9000000000000', Number.MAX_SAFE_INTEGER),
      fc.integer({ min: 8_000_000_000_000, max: Number.MAX_SAFE_INTEGER }),
    );
    fc.assert(
      fc.property(planArbitrary, secondsArbitrary, (plan, seconds) => {
        const draft = plannedDefault(plan);
        draft.fields['interval_seconds'] = seconds;
        const testCase = { config: null, nowMs: draft.nowMs, fields: draft.fields };
        expect(() => judge(testCase)).not.toThrow();
        expectSameViolations(judge(testCase));
      }),
      { numRuns: 200 },
    );
  });

  it('compares the checksum of a record whose status code or seq is out of range', () => {
    const outOfRange = fc.oneof(
      fc.record({
        field: fc.constant('status_code'),
        value: fc.integer({ min: 256, max: 2 ** 31 }),
      }),
      fc.record({ field: fc.constant('status_code'), value: fc.constantFrom(-1, '-7', '300') }),
      fc.record({ field: fc.constant('seq'), value: fc.constantFrom(-1, '-42') }),
    );
    fc.assert(
      fc.property(planArbitrary, outOfRange, (plan, { field, value }) => {
        const draft = plannedDefault({ ...plan, checksum: 'lower' });
        draft.fields[field] = value;
        expectSameViolations(judge({ config: null, nowMs: draft.nowMs, fields: draft.fields }));
      }),
      { numRuns: 200 },
    );
  });
});
