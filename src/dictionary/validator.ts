/**
 * The validator built from a data dictionary: one untrusted SourceRecord in, a Reading or a Reject
 * out. A reject lists every rule the record breaks, not just the first, so one round trip to the
 * vendor fixes them all. It runs once per record on the hot path, so it is hand-written: no schema
 * library per record, and nothing allocated on the happy path beyond the Reading, its key and the
 * result.
 */
import assert from 'node:assert/strict';

import type { Clock } from '../core/clock.js';
import { idempotencyKey, isKeyableText } from '../core/identity.js';
import {
  isQuality,
  QUALITIES,
  type Quality,
  type Reading,
  type SourceRecord,
} from '../core/reading.js';
import {
  recordReject,
  violation,
  VIOLATION_VALUE_CHARS_MAX,
  type Reject,
  type RejectCode,
  type Violation,
} from '../core/reject.js';
import { checksumFormatMessage, computeRecordChecksum, normalizeChecksum } from './checksum.js';
import { formatMilliWhAsKwh, kwhToMilliWhOrNaN, parseKwhToMilliWh } from '../core/decimal.js';
import { compilePattern, isChannelName, type DataDictionary } from './dictionary.js';
import { parseTimestamp, timestampToEpochMsOrNaN } from '../core/timestamp.js';

export type ValidationResult = { ok: true; reading: Reading } | { ok: false; reject: Reject };

export type RecordValidator = (record: SourceRecord) => ValidationResult;

/** The reference feed's field names; others are `field.unknown` unless the dictionary allows. */
export const RECORD_FIELD_NAMES = [
  'meter_id',
  'channel',
  'timestamp_utc',
  'interval_seconds',
  'consumption_kwh',
  'status_code',
  'seq',
  'quality',
  'checksum_sha256',
] as const;

/**
 * Builds the validator for one dictionary. The clock is read once per record, for the future check.
 * The returned function is synchronous and keeps no state between records.
 */
export function createValidator(dictionary: DataDictionary, clock: Clock): RecordValidator {
  const validation = new RecordValidation(compileDictionary(dictionary), clock);
  return function validateRecord(record: SourceRecord): ValidationResult {
    return validation.validate(record);
  };
}

export interface CompiledRange {
  /** Where the bounds come from, for messages: `channel "2"` or `meter class "industrial"`. */
  readonly label: string;
  readonly minMilliWh: number | undefined;
  readonly maxMilliWh: number | undefined;
}

export interface CompiledOverride extends CompiledRange {
  readonly intervalSecondsAllowed: readonly number[] | undefined;
}

export interface CompiledClass extends CompiledRange {
  readonly meterIdRegex: RegExp;
}

export interface CompiledDictionary {
  readonly meterIdRegex: RegExp;
  readonly channelRegex: RegExp;
  readonly channels: ReadonlySet<string> | null;
  readonly defaultChannel: string;
  readonly intervalSecondsAllowed: readonly number[];
  readonly defaultIntervalSeconds: number;
  readonly minMilliWh: number;
  readonly maxMilliWh: number;
  readonly statusCodeMax: number;
  readonly estimatedMask: number;
  readonly clockSkewToleranceSeconds: number;
  readonly clockSkewToleranceMs: number;
  readonly timeZone: string | null;
  readonly requireIntervalAlignment: boolean;
  readonly allowUnknownFields: boolean;
  readonly overrides: ReadonlyMap<string, CompiledOverride>;
  readonly classes: readonly CompiledClass[];
}

const KNOWN_FIELDS: ReadonlySet<string> = new Set(RECORD_FIELD_NAMES);
const MS_PER_SECOND = 1000;

/** kWh bounds in a resolved dictionary were checked when it was parsed; this only converts them. */
function toMilliWh(kwh: number): number {
  const parsed = parseKwhToMilliWh(kwh);
  assert.ok(parsed.ok, `dictionary bound ${kwh} kWh is not an exact milliWh value`);
  return parsed.milliWh;
}

function optionalMilliWh(kwh: number | undefined): number | undefined {
  return kwh === undefined ? undefined : toMilliWh(kwh);
}

export function compileDictionary(dictionary: DataDictionary): CompiledDictionary {
  const channelRegex = compilePattern(dictionary.channelPattern);
  const defaultChannel = dictionary.defaultChannel;
  assert.ok(
    isChannelName(defaultChannel, channelRegex) &&
      (dictionary.channels === null || dictionary.channels.includes(defaultChannel)),
    `defaultChannel "${defaultChannel}" is not a valid channel; use parseDictionary to build one`,
  );
  const overrides = new Map<string, CompiledOverride>();
  for (const [channel, override] of Object.entries(dictionary.channelOverrides)) {
    overrides.set(channel, {
      label: `channel "${channel}"`,
      minMilliWh: optionalMilliWh(override.consumptionKwhMin),
      maxMilliWh: optionalMilliWh(override.consumptionKwhMax),
      intervalSecondsAllowed: override.intervalSecondsAllowed,
    });
  }
  const classes = dictionary.meterClasses.map((meterClass) => ({
    label: `meter class "${meterClass.name}"`,
    meterIdRegex: compilePattern(meterClass.meterIdPattern),
    minMilliWh: optionalMilliWh(meterClass.consumptionKwhMin),
    maxMilliWh: optionalMilliWh(meterClass.consumptionKwhMax),
  }));
  return {
    meterIdRegex: compilePattern(dictionary.meterIdPattern),
    channelRegex,
    channels: dictionary.channels === null ? null : new Set(dictionary.channels),
    defaultChannel: dictionary.defaultChannel,
    intervalSecondsAllowed: dictionary.intervalSecondsAllowed,
    defaultIntervalSeconds: dictionary.defaultIntervalSeconds,
    minMilliWh: toMilliWh(dictionary.consumptionKwhMin),
    maxMilliWh: toMilliWh(dictionary.consumptionKwhMax),
    statusCodeMax: dictionary.statusCodeMax,
    estimatedMask: dictionary.statusBits.estimated,
    clockSkewToleranceSeconds: dictionary.clockSkewToleranceSeconds,
    clockSkewToleranceMs: dictionary.clockSkewToleranceSeconds * MS_PER_SECOND,
    timeZone: dictionary.timeZone,
    requireIntervalAlignment: dictionary.requireIntervalAlignment,
    allowUnknownFields: dictionary.allowUnknownFields,
    overrides,
    classes,
  };
}

/** Optional fields may be left out, sent as null, or (in CSV) sent as an empty cell. */
function isAbsent(value: unknown): boolean {
  return value === undefined || value === null || value === '';
}

const CHAR_ZERO = 48;
const CHAR_NINE = 57;
const CHAR_MINUS = 45;

/**
 * An integer from a JSON number or a canonical integer string (`0`, `-12`, `900`; not `012`,
 * `12.0`, `-0`, `+1` or ` 1`); NaN when it is neither. Too many digits give a value above
 * MAX_SAFE_INTEGER, which the caller's range check rejects.
 */
function integerValue(value: number | string): number {
  // Adding 0 turns -0 into 0, so a JSON -0 reads as the integer 0.
  if (typeof value === 'number') return Number.isInteger(value) ? value + 0 : Number.NaN;
  const length = value.length;
  const negative = value.charCodeAt(0) === CHAR_MINUS;
  let index = negative ? 1 : 0;
  if (index >= length) return Number.NaN;
  if (value.charCodeAt(index) === CHAR_ZERO) return length === 1 ? 0 : Number.NaN;
  let result = 0;
  for (; index < length; index += 1) {
    const charCode = value.charCodeAt(index);
    if (charCode < CHAR_ZERO || charCode > CHAR_NINE) return Number.NaN;
    result = result * 10 + (charCode - CHAR_ZERO);
  }
  return negative ? -result : result;
}

/** Names where the effective bounds came from, for a range message: empty for the defaults. */
export function boundsScope(
  override: CompiledOverride | undefined,
  meterClass: CompiledClass | undefined,
): string {
  const minSource =
    override?.minMilliWh !== undefined
      ? override
      : meterClass?.minMilliWh !== undefined
        ? meterClass
        : undefined;
  const maxSource =
    override?.maxMilliWh !== undefined
      ? override
      : meterClass?.maxMilliWh !== undefined
        ? meterClass
        : undefined;
  const labels = [minSource, maxSource]
    .filter((source, index, sources) => source !== undefined && sources.indexOf(source) === index)
    .map((source) => source?.label);
  return labels.length === 0 ? '' : ` (bounds set for ${labels.join(' and ')})`;
}

function isNumberOrString(value: unknown): value is number | string {
  return typeof value === 'number' || typeof value === 'string';
}

/** The largest instant a Date can hold (ECMAScript 21.4.1.1); beyond it toISOString throws. */
const DATE_MS_MAX = 8.64e15;

function isoOrText(epochMs: number): string {
  return Number.isFinite(epochMs) && Math.abs(epochMs) <= DATE_MS_MAX
    ? new Date(epochMs).toISOString()
    : String(epochMs);
}

/**
 * One record's checks. The fields marked "per record" are scratch state, reset by each check, so
 * the happy path allocates nothing for intermediate values. Validation is synchronous, so one
 * instance is never used by two records at once.
 */
class RecordValidation {
  readonly #dictionary: CompiledDictionary;
  readonly #clock: Clock;
  // Per record. NaN and null mean "no usable value" (absent, or failed to parse).
  #violations: Violation[] | null = null;
  #meterId: string | null = null;
  #channel: string | null = null;
  #intervalSeconds = Number.NaN;
  #intervalAllowed = false;
  #intervalStartMs = Number.NaN;
  #valueMicro = Number.NaN;
  #statusCode = Number.NaN;
  #seq = Number.NaN;
  /**
   * Parsed integers kept for the checksum even when out of range: a mismatch still shows transit.
   */
  #statusCodeSent = Number.NaN;
  #seqSent = Number.NaN;
  #quality: Quality | null = null;
  #checksumSha256: string | null = null;

  constructor(dictionary: CompiledDictionary, clock: Clock) {
    this.#dictionary = dictionary;
    this.#clock = clock;
  }

  validate(record: SourceRecord): ValidationResult {
    const fields = record.fields;
    this.#violations = null;
    this.#checkMeterId(fields['meter_id']);
    this.#checkChannel(fields['channel']);
    this.#checkIntervalSeconds(fields['interval_seconds']);
    this.#checkTimestamp(fields['timestamp_utc']);
    this.#checkConsumption(fields['consumption_kwh']);
    this.#checkStatusCode(fields['status_code']);
    this.#checkSeq(fields['seq']);
    this.#checkQuality(fields['quality']);
    this.#checkChecksum(fields['checksum_sha256']);
    if (!this.#dictionary.allowUnknownFields) this.#checkUnknownFields(fields);
    const violations = this.#violations;
    if (violations !== null) {
      const meterId = fields['meter_id'];
      const knownMeterId =
        typeof meterId === 'string' && meterId.length <= VIOLATION_VALUE_CHARS_MAX ? meterId : null;
      return { ok: false, reject: recordReject(violations, record.location, knownMeterId) };
    }
    return { ok: true, reading: this.#reading() };
  }

  #add(code: RejectCode, field: string, value: unknown, message: string): void {
    const found = violation(code, field, value, message);
    if (this.#violations === null) this.#violations = [found];
    else this.#violations.push(found);
  }

  #missing(field: string): void {
    this.#add('field.missing', field, undefined, `${field} is required but absent.`);
  }

  #wrongType(field: string, value: unknown, expected: string): void {
    this.#add('field.type', field, value, `${field} must be ${expected}, not ${typeof value}.`);
  }

  #checkMeterId(value: unknown): void {
    this.#meterId = null;
    if (value === undefined) return this.#missing('meter_id');
    if (typeof value !== 'string') return this.#wrongType('meter_id', value, 'a string');
    this.#meterId = value;
    if (!this.#dictionary.meterIdRegex.test(value) || !isKeyableText(value)) {
      const message =
        `meter_id does not match the dictionary's pattern ${this.#dictionary.meterIdRegex.source}` +
        ' (and may never contain "|").';
      this.#add('meter_id.pattern', 'meter_id', value, message);
    }
  }

  #checkChannel(value: unknown): void {
    const dictionary = this.#dictionary;
    this.#channel = null;
    let name: string;
    if (isAbsent(value)) {
      // compileDictionary asserted that the default channel passes the pattern and allow-list.
      this.#channel = dictionary.defaultChannel;
      return;
    }
    if (typeof value === 'string') name = value;
    else if (Number.isSafeInteger(value) && (value as number) >= 0) name = String(value);
    else return this.#wrongType('channel', value, 'a string or a non-negative integer');
    this.#channel = name;
    if (!isChannelName(name, dictionary.channelRegex)) {
      const message =
        `channel does not match the dictionary's pattern ${dictionary.channelRegex.source}` +
        ' (and may never contain "|").';
      this.#add('channel.pattern', 'channel', value, message);
    } else if (dictionary.channels !== null && !dictionary.channels.has(name)) {
      const allowed = [...dictionary.channels].join(', ');
      this.#add('channel.not_allowed', 'channel', value, `channel must be one of: ${allowed}.`);
    }
  }

  #override(): CompiledOverride | undefined {
    const channel = this.#channel;
    const overrides = this.#dictionary.overrides;
    return channel === null || overrides.size === 0 ? undefined : overrides.get(channel);
  }

  #meterClass(): CompiledClass | undefined {
    const meterId = this.#meterId;
    if (meterId === null) return undefined;
    for (const meterClass of this.#dictionary.classes) {
      if (meterClass.meterIdRegex.test(meterId)) return meterClass;
    }
    return undefined;
  }

  #checkIntervalSeconds(value: unknown): void {
    const dictionary = this.#dictionary;
    this.#intervalSeconds = Number.NaN;
    this.#intervalAllowed = false;
    let seconds = dictionary.defaultIntervalSeconds;
    if (!isAbsent(value)) {
      if (!isNumberOrString(value)) {
        return this.#wrongType('interval_seconds', value, 'an integer or an integer string');
      }
      seconds = integerValue(value);
      if (Number.isNaN(seconds)) {
        const message =
          'interval_seconds must be a whole number of seconds, written without ' +
          'sign, fraction, exponent or leading zeros.';
        return this.#add('interval_seconds.not_integer', 'interval_seconds', value, message);
      }
    }
    this.#intervalSeconds = seconds;
    const override = this.#override();
    const allowed = override?.intervalSecondsAllowed ?? dictionary.intervalSecondsAllowed;
    if (allowed.includes(seconds)) {
      this.#intervalAllowed = true;
      return;
    }
    const scope = override?.intervalSecondsAllowed === undefined ? '' : ` on ${override.label}`;
    const message =
      `an interval of ${seconds} s is not allowed${scope}; allowed: ` + `${allowed.join(', ')} s.`;
    const shown = isAbsent(value) ? seconds : value;
    this.#add('interval_seconds.not_allowed', 'interval_seconds', shown, message);
  }

  #checkTimestamp(value: unknown): void {
    const dictionary = this.#dictionary;
    this.#intervalStartMs = Number.NaN;
    if (value === undefined) return this.#missing('timestamp_utc');
    const startMs = timestampToEpochMsOrNaN(value, dictionary.timeZone);
    if (Number.isNaN(startMs)) {
      const parsed = parseTimestamp(value, dictionary.timeZone);
      if (!parsed.ok) {
        this.#add(parsed.code, 'timestamp_utc', value, `timestamp_utc ${parsed.message}.`);
      }
      return;
    }
    this.#intervalStartMs = startMs;
    this.#checkFuture(value, startMs);
    const intervalMs = this.#intervalSeconds * MS_PER_SECOND;
    const aligned = !this.#intervalAllowed || startMs % intervalMs === 0;
    if (dictionary.requireIntervalAlignment && !aligned) {
      const message =
        `timestamp_utc is not on a ${this.#intervalSeconds} s interval boundary ` +
        '(a multiple of the interval length since 1970-01-01T00:00:00Z).';
      this.#add('timestamp.alignment', 'timestamp_utc', value, message);
    }
  }

  /**
   * A reading can only exist once its interval is over, so the interval END (start plus length) may
   * not lie after now plus the clock-skew tolerance. When the length is unusable, the start is
   * checked.
   */
  #checkFuture(value: unknown, startMs: number): void {
    const seconds = Number.isNaN(this.#intervalSeconds) ? 0 : this.#intervalSeconds;
    const endMs = startMs + seconds * MS_PER_SECOND;
    const nowMs = this.#clock.nowMs();
    if (endMs <= nowMs + this.#dictionary.clockSkewToleranceMs) return;
    const message =
      `the interval ends at ${isoOrText(endMs)}, later than the current time ${isoOrText(nowMs)} ` +
      `plus the clock-skew tolerance of ${this.#dictionary.clockSkewToleranceSeconds} s.`;
    this.#add('timestamp.future', 'timestamp_utc', value, message);
  }

  #checkConsumption(value: unknown): void {
    this.#valueMicro = Number.NaN;
    if (value === undefined) return this.#missing('consumption_kwh');
    const valueMicro = kwhToMilliWhOrNaN(value);
    if (Number.isNaN(valueMicro)) {
      const parsed = parseKwhToMilliWh(value);
      if (!parsed.ok) {
        this.#add(parsed.code, 'consumption_kwh', value, `consumption_kwh ${parsed.message}.`);
      }
      return;
    }
    this.#valueMicro = valueMicro;
    const dictionary = this.#dictionary;
    const override = this.#override();
    const meterClass = dictionary.classes.length === 0 ? undefined : this.#meterClass();
    const minMilliWh = override?.minMilliWh ?? meterClass?.minMilliWh ?? dictionary.minMilliWh;
    const maxMilliWh = override?.maxMilliWh ?? meterClass?.maxMilliWh ?? dictionary.maxMilliWh;
    if (valueMicro >= minMilliWh && valueMicro <= maxMilliWh) return;
    const scope = boundsScope(override, meterClass);
    const message =
      `consumption_kwh ${formatMilliWhAsKwh(valueMicro)} kWh is outside the allowed range ` +
      `${formatMilliWhAsKwh(minMilliWh)}..${formatMilliWhAsKwh(maxMilliWh)} kWh${scope}.`;
    this.#add('consumption.range', 'consumption_kwh', value, message);
  }

  #checkStatusCode(value: unknown): void {
    this.#statusCode = Number.NaN;
    this.#statusCodeSent = Number.NaN;
    if (value === undefined) return this.#missing('status_code');
    if (!isNumberOrString(value)) {
      return this.#wrongType('status_code', value, 'an integer or an integer string');
    }
    const statusCode = integerValue(value);
    if (Number.isNaN(statusCode)) {
      const message =
        'status_code must be an integer, written without fraction, exponent or ' + 'leading zeros.';
      return this.#add('status_code.not_integer', 'status_code', value, message);
    }
    if (Number.isSafeInteger(statusCode)) this.#statusCodeSent = statusCode;
    const statusCodeMax = this.#dictionary.statusCodeMax;
    if (statusCode < 0 || statusCode > statusCodeMax) {
      const message = `status_code must be between 0 and ${statusCodeMax}.`;
      return this.#add('status_code.range', 'status_code', value, message);
    }
    this.#statusCode = statusCode;
  }

  #checkSeq(value: unknown): void {
    this.#seq = Number.NaN;
    this.#seqSent = Number.NaN;
    if (isAbsent(value)) {
      this.#seq = 0;
      this.#seqSent = 0;
      return;
    }
    if (!isNumberOrString(value)) {
      return this.#wrongType('seq', value, 'an integer or an integer string');
    }
    const seq = integerValue(value);
    if (Number.isNaN(seq)) {
      const message =
        'seq must be an integer, written without fraction, exponent or leading zeros.';
      return this.#add('seq.not_integer', 'seq', value, message);
    }
    if (Number.isSafeInteger(seq)) this.#seqSent = seq;
    if (seq < 0 || seq > Number.MAX_SAFE_INTEGER) {
      const message = `seq must be between 0 and ${Number.MAX_SAFE_INTEGER}.`;
      return this.#add('seq.range', 'seq', value, message);
    }
    this.#seq = seq;
  }

  #hasEstimatedBit(): boolean {
    return (this.#statusCode & this.#dictionary.estimatedMask) !== 0;
  }

  #checkQuality(value: unknown): void {
    this.#quality = null;
    if (isAbsent(value)) return;
    if (typeof value !== 'string') return this.#wrongType('quality', value, 'a string');
    if (!isQuality(value)) {
      const message = `quality must be one of: ${QUALITIES.join(', ')}.`;
      return this.#add('quality.unknown', 'quality', value, message);
    }
    this.#quality = value;
    if (value === 'actual' && !Number.isNaN(this.#statusCode) && this.#hasEstimatedBit()) {
      const message =
        `quality says actual, but status_code ${this.#statusCode} has the ` +
        `estimated bit (mask ${this.#dictionary.estimatedMask}) set.`;
      this.#add('quality.contradicts_status', 'quality', value, message);
    }
  }

  #checkChecksum(value: unknown): void {
    this.#checksumSha256 = null;
    if (isAbsent(value)) return;
    if (typeof value !== 'string') return this.#wrongType('checksum_sha256', value, 'a string');
    const expected = this.#expectedChecksum();
    // A lowercase checksum equal to the expected one is well-formed; only others are scanned.
    if (expected !== null && value === expected) {
      this.#checksumSha256 = expected;
      return;
    }
    const checksumSha256 = normalizeChecksum(value);
    if (checksumSha256 === null) {
      const message = `checksum_sha256 ${checksumFormatMessage()}.`;
      return this.#add('checksum.format', 'checksum_sha256', value, message);
    }
    this.#checksumSha256 = checksumSha256;
    if (expected === null || checksumSha256 === expected) return;
    const message = `checksum_sha256 does not match the record's values; expected ${expected}.`;
    this.#add('checksum.mismatch', 'checksum_sha256', value, message);
  }

  /**
   * The checksum the record's values call for, or null when one of them did not parse. It is
   * compared whenever every value it covers parsed to something the ledger could hold, even when
   * the meter id or channel breaks its pattern, the consumption its range or the timestamp the
   * future or alignment rule: a mismatch then tells the operator the data changed in transit.
   * Status codes and seqs out of range may not be exact integers, so they prevent the comparison.
   */
  #expectedChecksum(): string | null {
    const meterId = this.#meterId;
    const channel = this.#channel;
    const intervalStartMs = this.#intervalStartMs;
    const valueMicro = this.#valueMicro;
    const statusCode = this.#statusCodeSent;
    const seq = this.#seqSent;
    if (meterId === null || channel === null) return null;
    if (Number.isNaN(intervalStartMs + valueMicro + statusCode + seq)) return null;
    const fields = { meterId, channel, intervalStartMs, valueMicro, statusCode, seq };
    return computeRecordChecksum(fields);
  }

  #checkUnknownFields(fields: Readonly<Record<string, unknown>>): void {
    for (const name in fields) {
      if (KNOWN_FIELDS.has(name)) continue;
      const message =
        `${name} is not a field of the reference feed, and the dictionary does not ` +
        'allow unknown fields.';
      this.#add('field.unknown', name, fields[name], message);
    }
  }

  /** Only called when every check passed, so every scratch value is set. */
  #reading(): Reading {
    const meterId = this.#meterId as string;
    const channel = this.#channel as string;
    const intervalStartMs = this.#intervalStartMs;
    const seq = this.#seq;
    const derived: Quality = this.#hasEstimatedBit() ? 'estimated' : 'actual';
    return {
      meterId,
      channel,
      intervalStartMs,
      intervalSeconds: this.#intervalSeconds,
      valueMicro: this.#valueMicro,
      statusCode: this.#statusCode,
      seq,
      commodity: 'electricity',
      unit: 'kWh',
      quality: this.#quality ?? derived,
      qualityDetail: null,
      checksumSha256: this.#checksumSha256,
      idempotencyKey: idempotencyKey(meterId, channel, intervalStartMs, seq),
    };
  }
}
