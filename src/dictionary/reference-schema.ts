/**
 * The readable reference for the per-record rules of the data dictionary (README.md in this
 * folder, "Records"), written as a zod schema. It is NOT used on the hot path: the validator that
 * ingestion runs (`createValidator` in validator.ts) is hand-written for speed, and
 * reference-schema.test.ts proves with fast-check that the two accept the same records, build the
 * same Reading and name the same fields when they reject (STACK.md, "validation"). Write this file
 * for a reader: each rule once, plainly, in the README's words; speed does not matter here.
 *
 * A record is judged in two steps.
 *  1. Reading: each field on its own becomes a typed value (a string, an integer, an instant, an
 *     exact number of milliWh), or the reason it cannot. Absent, null and '' mean "not sent" for
 *     optional fields, which then take their defaults.
 *  2. Rules: the dictionary judges the values that could be read, several fields at a time where a
 *     rule needs them (the channel picks the interval lengths and consumption range, the interval
 *     length drives the future and alignment rules, the checksum covers six fields).
 * Every issue of the schema is a zod `custom` issue whose `path[0]` is the field and whose
 * `params.rejectCode` is the code from src/core/reject.ts; `referenceViolations` lists them.
 *
 * It reuses only what is not a rule: exact decimal scaling (`parseKwhToMilliWh`), the checksum and
 * idempotency-key hashes, and the dictionary's pattern compiler; time zones go through Temporal.
 */
import assert from 'node:assert/strict';

import { Temporal } from 'temporal-polyfill';
import { z } from 'zod';

import { idempotencyKey, isKeyableText } from '../core/identity.js';
import { isQuality, type Quality, type Reading } from '../core/reading.js';
import { REJECT_CODES, type RejectCode } from '../core/reject.js';
import { computeRecordChecksum } from './checksum.js';
import { parseKwhToMilliWh } from '../core/decimal.js';
import {
  compilePattern,
  type ChannelOverride,
  type DataDictionary,
  type MeterClass,
} from './dictionary.js';
import { RECORD_FIELD_NAMES } from './validator.js';

/** A record's fields as a parser found them. */
export type RecordFields = Readonly<Record<string, unknown>>;

/** One violated rule of a rejected record, as the reference names it. */
export interface ReferenceViolation {
  readonly field: string;
  readonly code: RejectCode;
}

const MS_PER_SECOND = 1000;
const MS_PER_MINUTE = 60_000;
const INSTANT_MS_MIN = Date.UTC(2000, 0, 1, 0, 0, 0);
const INSTANT_MS_MAX = Date.UTC(2199, 11, 31, 23, 59, 59);

// ------------------------------------------------------------------------------------------------
// Step 1: reading each field on its own.

/** zod options for a check that fails with one reject code. */
function rule(rejectCode: RejectCode, message: string) {
  return { error: message, params: { rejectCode } };
}

/** Like rule, but later checks of the same value are skipped: they would not make sense. */
function stop(rejectCode: RejectCode, message: string) {
  return { ...rule(rejectCode, message), abort: true };
}

function isAbsent(value: unknown): boolean {
  return value === undefined || value === null || value === '';
}

/** A required field: a missing key is `field.missing`; null and '' are values to judge. */
function required<Output>(schema: z.ZodType<Output>): z.ZodType<Output> {
  return z
    .unknown()
    .refine(
      (value): boolean => value !== undefined,
      stop('field.missing', 'is required but absent'),
    )
    .pipe(schema);
}

/** An optional field: a missing key, null and '' all mean "not sent", read as `whenAbsent`. */
function optional<Output>(schema: z.ZodType<Output>, whenAbsent: Output): z.ZodType<Output> {
  return z
    .preprocess((value) => (isAbsent(value) ? undefined : value), schema.optional())
    .transform((value) => (value === undefined ? whenAbsent : value));
}

/**
 * Any JSON number. zod's z.number() refuses NaN and the infinities as wrong types; the rules here
 * call them numbers that are not integers (or, for a channel, not non-negative integers).
 */
const anyNumber = z.custom<number>((value) => typeof value === 'number');

/** `0`, `12`, `-12`; not `012`, `-0`, `+1`, `12.0`, `1e2`, ` 1`. */
const CANONICAL_INTEGER_TEXT = /^(?:0|-?[1-9][0-9]*)$/;

/**
 * An integer sent as a JSON number (any integer, however large) or as a canonical integer string.
 * A JSON -0 is the integer 0. Integers beyond the safe range read approximately; the range rules
 * reject all of them, and the checksum is not compared with one.
 */
function integerSchema(notInteger: RejectCode, field: string): z.ZodType<number> {
  return z
    .union([anyNumber, z.string()], { error: `${field} must be an integer or an integer string` })
    .refine(
      (value) =>
        typeof value === 'number' ? Number.isInteger(value) : CANONICAL_INTEGER_TEXT.test(value),
      rule(notInteger, `${field} must be an integer without fraction, exponent or leading zeros`),
    )
    .transform((value) => Number(value) + 0);
}

/** A channel is a name, or a non-negative integer standing for its decimal name (`2` is "2"). */
const channelNameSchema = z
  .union([z.string(), anyNumber], { error: 'channel must be a string or a number' })
  .refine(
    (value) => typeof value === 'string' || (Number.isSafeInteger(value) && value >= 0),
    rule('field.type', 'channel must be a string or a non-negative integer'),
  )
  .transform((value) => String(value));

const QUALITY_MESSAGE = 'quality must be one of: actual, estimated, substituted';
const qualitySchema = z
  .string()
  .pipe(z.custom<Quality>(isQuality, rule('quality.unknown', QUALITY_MESSAGE)));

const checksumSchema = z
  .string()
  .refine(
    (text) => /^[0-9A-Fa-f]{64}$/.test(text),
    rule('checksum.format', 'checksum_sha256 must be 64 hex characters (a sha256 digest)'),
  )
  .transform((text) => text.toLowerCase());

// Consumption: `-?digits(.digits)?([eE][+-]?digits)?`, or a JSON number read as its shortest text.
const DECIMAL_TEXT = /^-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;
const NON_FINITE_TEXT = /^(?:[+-]?Infinity|NaN)$/;
/** A decimal text whose digits are all zero, written with a minus sign. */
const NEGATIVE_ZERO_TEXT = /^-0+(?:\.0+)?(?:[eE][+-]?[0-9]+)?$/;

function isNonFinite(value: number | string): boolean {
  return typeof value === 'number' ? !Number.isFinite(value) : NON_FINITE_TEXT.test(value);
}

function isNegativeZero(value: number | string): boolean {
  return typeof value === 'number' ? Object.is(value, -0) : NEGATIVE_ZERO_TEXT.test(value);
}

/**
 * The exact value in milliWh. The syntax was checked above; decimal.ts does the scaling, so only
 * its two value rules can still fail: digits below one milliWh, or a magnitude past 2^53 milliWh.
 */
function toMilliWh(value: number | string, context: z.RefinementCtx): number {
  const parsed = parseKwhToMilliWh(value);
  if (parsed.ok) return parsed.milliWh;
  assert.ok(
    parsed.code === 'consumption.precision' || parsed.code === 'consumption.not_finite',
    `decimal.ts rejects ${String(value)} as ${parsed.code}, which the reference's syntax allows`,
  );
  context.addIssue({
    code: 'custom',
    message: parsed.message,
    params: { rejectCode: parsed.code },
  });
  return z.NEVER;
}

const consumptionSchema = z
  .unknown()
  .refine(
    (value) => typeof value === 'number' || typeof value === 'string',
    stop('consumption.not_decimal', 'consumption_kwh must be a decimal number or string'),
  )
  .transform((value) => value as number | string)
  .refine((value) => !isNonFinite(value), stop('consumption.not_finite', 'is not finite'))
  .refine(
    (value) => typeof value === 'number' || DECIMAL_TEXT.test(value),
    stop('consumption.not_decimal', 'is not a decimal such as 1.25 or 1.5e-3'),
  )
  .refine((value) => !isNegativeZero(value), stop('consumption.negative_zero', 'is -0; send 0'))
  .transform(toMilliWh);

// Timestamps: `YYYY-MM-DDTHH:MM:SS`, an optional fraction of 1 to 9 digits, then `Z`, an offset or
// nothing. Upper-case T and Z only; ASCII digits only (no `u` flag, so \d is [0-9]).
const TIMESTAMP_TEXT =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})?$/;

interface TimestampParts {
  readonly dateTime: {
    readonly year: number;
    readonly month: number;
    readonly day: number;
    readonly hour: number;
    readonly minute: number;
    readonly second: number;
  };
  readonly fraction: string;
  /** `Z`, `+HH:MM` or `-HH:MM`; undefined for a naive local time. */
  readonly offset: string | undefined;
}

function timestampParts(text: string): TimestampParts {
  const match = TIMESTAMP_TEXT.exec(text);
  assert.ok(match !== null, 'the format rule ran first');
  const [year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0] = match
    .slice(1, 7)
    .map(Number);
  return {
    dateTime: { year, month, day, hour, minute, second },
    fraction: match[7] ?? '',
    offset: match[8],
  };
}

/** A real calendar date (leap years included), hours 00..23, no leap second, offset <= 23:59. */
function isRealDateTime({ dateTime, offset }: TimestampParts): boolean {
  try {
    Temporal.PlainDateTime.from(dateTime, { overflow: 'reject' });
  } catch {
    return false;
  }
  if (offset === undefined || offset === 'Z') return true;
  return Number(offset.slice(1, 3)) <= 23 && Number(offset.slice(4, 6)) <= 59;
}

function offsetMinutes(offset: string): number {
  if (offset === 'Z') return 0;
  const minutes = Number(offset.slice(1, 3)) * 60 + Number(offset.slice(4, 6));
  return offset.startsWith('-') ? -minutes : minutes;
}

/**
 * The instant of the interval start. With an offset, the written time minus the offset. Without
 * one, the local time in the dictionary's zone; a time that daylight saving makes occur twice or
 * never is quarantined, never guessed (Temporal's `disambiguation: 'reject'`).
 */
function toEpochMs(parts: TimestampParts, timeZone: string | null, context: z.RefinementCtx) {
  const local = Temporal.PlainDateTime.from(parts.dateTime);
  if (parts.offset !== undefined) {
    const asIfUtc = local.toZonedDateTime('UTC').epochMilliseconds;
    return asIfUtc - offsetMinutes(parts.offset) * MS_PER_MINUTE;
  }
  assert.ok(timeZone !== null, 'the no_offset rule ran first');
  try {
    return local.toZonedDateTime(timeZone, { disambiguation: 'reject' }).epochMilliseconds;
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
  }
  // 'compatible' keeps the wall time of a repeated hour and moves a skipped one past the gap.
  const repeated = local.toZonedDateTime(timeZone).toPlainDateTime().equals(local);
  const [rejectCode, message] = repeated
    ? (['timestamp.dst_ambiguous', `occurs twice in ${timeZone}`] as const)
    : (['timestamp.dst_nonexistent', `does not exist in ${timeZone}`] as const);
  context.addIssue({ code: 'custom', message, params: { rejectCode } });
  return z.NEVER;
}

/**
 * Reading the interval start. The year, fraction and offset rules are independent, so all that
 * apply are reported; the instant is only computed when none does.
 */
function timestampSchema(timeZone: string | null): z.ZodType<number> {
  return z
    .string()
    .refine(
      (text) => TIMESTAMP_TEXT.test(text),
      stop('timestamp.format', 'is not YYYY-MM-DDTHH:MM:SS with an optional fraction and offset'),
    )
    .transform(timestampParts)
    .refine(isRealDateTime, stop('timestamp.format', 'is not a real date and time of day'))
    .refine(
      ({ dateTime }) => dateTime.year >= 2000 && dateTime.year <= 2199,
      rule('timestamp.range', 'is written with a year outside 2000..2199'),
    )
    .refine(
      ({ fraction }) => /^0*$/.test(fraction),
      rule('timestamp.alignment', 'has a non-zero fraction; an interval starts on a whole second'),
    )
    .refine(
      ({ offset }) => offset !== undefined || timeZone !== null,
      rule('timestamp.no_offset', 'has no offset, and the dictionary sets no time zone'),
    )
    .transform((parts, context) => toEpochMs(parts, timeZone, context))
    .refine(
      (epochMs) => epochMs >= INSTANT_MS_MIN && epochMs <= INSTANT_MS_MAX,
      rule('timestamp.range', 'is outside 2000-01-01T00:00:00Z..2199-12-31T23:59:59Z'),
    );
}

/**
 * The reader of every field of the reference feed, built for one dictionary. `satisfies` keeps
 * these names and the validator's RECORD_FIELD_NAMES the same set; any other name is unknown.
 */
function fieldReaders(dictionary: DataDictionary) {
  return {
    meter_id: required(z.string({ error: 'meter_id must be a string' })),
    channel: optional(channelNameSchema, dictionary.defaultChannel),
    interval_seconds: optional(
      integerSchema('interval_seconds.not_integer', 'interval_seconds'),
      dictionary.defaultIntervalSeconds,
    ),
    timestamp_utc: required(timestampSchema(dictionary.timeZone)),
    consumption_kwh: required(consumptionSchema),
    status_code: required(integerSchema('status_code.not_integer', 'status_code')),
    seq: optional(integerSchema('seq.not_integer', 'seq'), 0),
    quality: optional<Quality | null>(qualitySchema, null),
    checksum_sha256: optional<string | null>(checksumSchema, null),
  } satisfies Record<(typeof RECORD_FIELD_NAMES)[number], z.ZodType>;
}

type FieldReaders = ReturnType<typeof fieldReaders>;

/** What reading gave each field; undefined where the field could not be read. */
type ReadValues = { [Name in keyof FieldReaders]: z.output<FieldReaders[Name]> | undefined };

// ------------------------------------------------------------------------------------------------
// Step 2: the dictionary's rules over the values that could be read.

interface CompiledPatterns {
  readonly meterId: RegExp;
  readonly channel: RegExp;
  readonly meterClasses: readonly (readonly [MeterClass, RegExp])[];
}

type Report = (field: string, rejectCode: RejectCode, message: string) => void;

function channelOverride(dictionary: DataDictionary, channel: string | undefined) {
  if (channel === undefined || !Object.hasOwn(dictionary.channelOverrides, channel)) return;
  return dictionary.channelOverrides[channel] as ChannelOverride;
}

function exactMilliWh(kwh: number): number {
  const parsed = parseKwhToMilliWh(kwh);
  assert.ok(parsed.ok, `dictionary bound ${kwh} kWh was checked when the dictionary was parsed`);
  return parsed.milliWh;
}

/** Each bound on its own: the channel override's, else the meter class's, else the default. */
function consumptionRangeMilliWh(
  dictionary: DataDictionary,
  patterns: CompiledPatterns,
  read: ReadValues,
): readonly [number, number] {
  const override = channelOverride(dictionary, read.channel);
  const meterId = read.meter_id;
  const meterClass =
    meterId === undefined
      ? undefined
      : patterns.meterClasses.find(([, regex]) => regex.test(meterId))?.[0];
  const minKwh =
    override?.consumptionKwhMin ?? meterClass?.consumptionKwhMin ?? dictionary.consumptionKwhMin;
  const maxKwh =
    override?.consumptionKwhMax ?? meterClass?.consumptionKwhMax ?? dictionary.consumptionKwhMax;
  return [exactMilliWh(minKwh), exactMilliWh(maxKwh)];
}

function intervalSecondsAllowed(dictionary: DataDictionary, channel: string | undefined) {
  return (
    channelOverride(dictionary, channel)?.intervalSecondsAllowed ??
    dictionary.intervalSecondsAllowed
  );
}

function checkNames(
  dictionary: DataDictionary,
  patterns: CompiledPatterns,
  read: ReadValues,
  report: Report,
): void {
  const { meter_id: meterId, channel } = read;
  // "|" separates the fields of the idempotency key and of the checksum input.
  if (meterId !== undefined && (!patterns.meterId.test(meterId) || !isKeyableText(meterId))) {
    report('meter_id', 'meter_id.pattern', 'meter_id does not match meterIdPattern or has "|"');
  }
  if (channel === undefined) return;
  if (!patterns.channel.test(channel) || !isKeyableText(channel)) {
    report('channel', 'channel.pattern', 'channel does not match channelPattern or has "|"');
  } else if (dictionary.channels !== null && !dictionary.channels.includes(channel)) {
    // Only a well-formed name is looked up: every allowed name is well-formed, so a malformed one
    // is not allowed either, and saying so twice would tell the vendor nothing more.
    report('channel', 'channel.not_allowed', 'channel is not in the channels allow-list');
  }
}

/**
 * The interval length must be allowed for the channel. The interval END must not lie past the
 * clock plus the tolerance (with the length as sent, allowed or not; a length that could not be
 * read counts as 0, so the start is checked). With requireIntervalAlignment, the start must be a
 * multiple of the length since the epoch; that rule needs an allowed length to mean anything.
 */
function checkInterval(
  dictionary: DataDictionary,
  nowMs: number,
  read: ReadValues,
  report: Report,
): void {
  const { interval_seconds: intervalSeconds, timestamp_utc: startMs } = read;
  const allowed =
    intervalSeconds !== undefined &&
    intervalSecondsAllowed(dictionary, read.channel).includes(intervalSeconds);
  if (intervalSeconds !== undefined && !allowed) {
    const message = 'interval_seconds is not allowed for this channel';
    report('interval_seconds', 'interval_seconds.not_allowed', message);
  }
  if (startMs === undefined) return;
  const endMs = startMs + (intervalSeconds ?? 0) * MS_PER_SECOND;
  if (endMs > nowMs + dictionary.clockSkewToleranceSeconds * MS_PER_SECOND) {
    report('timestamp_utc', 'timestamp.future', 'the interval ends after now plus the tolerance');
  }
  if (dictionary.requireIntervalAlignment && allowed) {
    if (startMs % (intervalSeconds * MS_PER_SECOND) !== 0) {
      report('timestamp_utc', 'timestamp.alignment', 'the start is not on an interval boundary');
    }
  }
}

function hasEstimatedBit(dictionary: DataDictionary, statusCode: number): boolean {
  return (statusCode & dictionary.statusBits.estimated) !== 0;
}

function isValidStatusCode(dictionary: DataDictionary, statusCode: number | undefined) {
  return statusCode !== undefined && statusCode >= 0 && statusCode <= dictionary.statusCodeMax;
}

function checkValues(
  dictionary: DataDictionary,
  patterns: CompiledPatterns,
  read: ReadValues,
  report: Report,
): void {
  const valueMicro = read.consumption_kwh;
  if (valueMicro !== undefined) {
    const [minMilliWh, maxMilliWh] = consumptionRangeMilliWh(dictionary, patterns, read);
    if (valueMicro < minMilliWh || valueMicro > maxMilliWh) {
      report('consumption_kwh', 'consumption.range', 'consumption_kwh is outside its range');
    }
  }
  const statusCode = read.status_code;
  if (statusCode !== undefined && !isValidStatusCode(dictionary, statusCode)) {
    report('status_code', 'status_code.range', 'status_code is outside 0..statusCodeMax');
  }
  const seq = read.seq;
  if (seq !== undefined && (seq < 0 || seq > Number.MAX_SAFE_INTEGER)) {
    report('seq', 'seq.range', 'seq is not a non-negative safe integer');
  }
  // The bits of a status code outside the dictionary's range mean nothing, so they contradict
  // nothing.
  if (
    read.quality === 'actual' &&
    statusCode !== undefined &&
    isValidStatusCode(dictionary, statusCode) &&
    hasEstimatedBit(dictionary, statusCode)
  ) {
    report('quality', 'quality.contradicts_status', 'quality says actual; status says estimated');
  }
}

/**
 * A sent checksum is compared whenever every value it covers was read, even when one breaks
 * another rule (a range, a pattern, the future rule), so a mismatch shows the data changed in
 * transit. Integers beyond the safe range were read only approximately and prevent the comparison.
 */
function checkChecksum(read: ReadValues, report: Report): void {
  const { checksum_sha256: sent, meter_id: meterId, channel, seq } = read;
  const { timestamp_utc: intervalStartMs, consumption_kwh: valueMicro } = read;
  const statusCode = read.status_code;
  if (sent === undefined || sent === null) return;
  if (meterId === undefined || channel === undefined || intervalStartMs === undefined) return;
  if (valueMicro === undefined || statusCode === undefined || seq === undefined) return;
  if (!Number.isSafeInteger(statusCode) || !Number.isSafeInteger(seq)) return;
  const fields = { meterId, channel, intervalStartMs, valueMicro, statusCode, seq };
  if (sent !== computeRecordChecksum(fields)) {
    report('checksum_sha256', 'checksum.mismatch', 'checksum_sha256 does not match the values');
  }
}

function checkUnknownFields(
  dictionary: DataDictionary,
  readers: FieldReaders,
  fields: RecordFields,
  report: Report,
): void {
  if (dictionary.allowUnknownFields) return;
  for (const name of Object.keys(fields)) {
    if (!Object.hasOwn(readers, name)) {
      report(name, 'field.unknown', `${name} is not a field of the reference feed`);
    }
  }
}

// ------------------------------------------------------------------------------------------------
// The schema.

function readFields(readers: FieldReaders, fields: RecordFields, report: Report): ReadValues {
  const readOne = <Output>(name: string, reader: z.ZodType<Output>): Output | undefined => {
    const result = reader.safeParse(Object.hasOwn(fields, name) ? fields[name] : undefined);
    if (result.success) return result.data;
    for (const issue of result.error.issues) report(name, rejectCodeOf(issue), issue.message);
    return undefined;
  };
  return {
    meter_id: readOne('meter_id', readers.meter_id),
    channel: readOne('channel', readers.channel),
    interval_seconds: readOne('interval_seconds', readers.interval_seconds),
    timestamp_utc: readOne('timestamp_utc', readers.timestamp_utc),
    consumption_kwh: readOne('consumption_kwh', readers.consumption_kwh),
    status_code: readOne('status_code', readers.status_code),
    seq: readOne('seq', readers.seq),
    quality: readOne('quality', readers.quality),
    checksum_sha256: readOne('checksum_sha256', readers.checksum_sha256),
  };
}

/** A wrong JSON type is `field.type`; every other issue names its reject code. */
function rejectCodeOf(issue: z.core.$ZodIssue): RejectCode {
  if (issue.code === 'invalid_type' || issue.code === 'invalid_union') return 'field.type';
  const rejectCode: unknown = issue.code === 'custom' ? issue.params?.['rejectCode'] : undefined;
  assert.ok(isRejectCode(rejectCode), `reference issue without a reject code: ${issue.code}`);
  return rejectCode;
}

function isRejectCode(value: unknown): value is RejectCode {
  return (REJECT_CODES as readonly unknown[]).includes(value);
}

/** Only called once every field was read and passed every rule. */
function toReading(dictionary: DataDictionary, read: ReadValues): Reading {
  const meterId = read.meter_id;
  const channel = read.channel;
  const intervalStartMs = read.timestamp_utc;
  const { interval_seconds: intervalSeconds, consumption_kwh: valueMicro } = read;
  const { status_code: statusCode, seq, quality, checksum_sha256: checksumSha256 } = read;
  assert.ok(meterId !== undefined && channel !== undefined && intervalStartMs !== undefined);
  assert.ok(intervalSeconds !== undefined && valueMicro !== undefined);
  assert.ok(statusCode !== undefined && seq !== undefined);
  assert.ok(quality !== undefined && checksumSha256 !== undefined);
  const derived: Quality = hasEstimatedBit(dictionary, statusCode) ? 'estimated' : 'actual';
  return {
    meterId,
    channel,
    intervalStartMs,
    intervalSeconds,
    valueMicro,
    statusCode,
    seq,
    commodity: 'electricity',
    unit: 'kWh',
    quality: quality ?? derived,
    qualityDetail: null,
    checksumSha256,
    idempotencyKey: idempotencyKey(meterId, channel, intervalStartMs, seq),
  };
}

/**
 * The zod schema of one record's fields under `dictionary`, judged at `nowMs` (the validator's
 * clock reading). It parses to the Reading the validator would build, or fails with one issue per
 * violated rule (see `referenceViolations`). Build it once per dictionary and clock reading.
 */
export function referenceRecordSchema(
  dictionary: DataDictionary,
  nowMs: number,
): z.ZodType<Reading, RecordFields> {
  const readers = fieldReaders(dictionary);
  const patterns: CompiledPatterns = {
    meterId: compilePattern(dictionary.meterIdPattern),
    channel: compilePattern(dictionary.channelPattern),
    meterClasses: dictionary.meterClasses.map((meterClass) => [
      meterClass,
      compilePattern(meterClass.meterIdPattern),
    ]),
  };
  return z
    .custom<RecordFields>(
      (value) => typeof value === 'object' && value !== null && !Array.isArray(value),
      rule('parse.not_an_object', 'a record is an object of named fields'),
    )
    .transform((fields, context) => {
      let violated = false;
      const report: Report = (field, rejectCode, message) => {
        violated = true;
        context.addIssue({ code: 'custom', path: [field], message, params: { rejectCode } });
      };
      const read = readFields(readers, fields, report);
      checkNames(dictionary, patterns, read, report);
      checkInterval(dictionary, nowMs, read, report);
      checkValues(dictionary, patterns, read, report);
      checkChecksum(read, report);
      checkUnknownFields(dictionary, readers, fields, report);
      return violated ? z.NEVER : toReading(dictionary, read);
    });
}

/** The violations of a failed parse: the field each issue is about, and its reject code. */
export function referenceViolations(error: z.ZodError): ReferenceViolation[] {
  return error.issues.map((issue) => ({
    field: issue.path.length === 0 ? 'record' : String(issue.path[0]),
    code: rejectCodeOf(issue),
  }));
}
