/**
 * Interval-start timestamps. A feed sends ISO 8601
 * `YYYY-MM-DDTHH:MM:SS[.fraction][Z|+HH:MM|-HH:MM]`; an instant with an offset is taken as sent,
 * and a naive local time is read in the dictionary's time zone. A local time that DST makes
 * ambiguous or non-existent is rejected, never guessed (ARCH 5).
 */
import assert from 'node:assert/strict';

import { Temporal } from 'temporal-polyfill';

import type { RejectCode } from './reject.js';

export type TimestampRejectCode = Extract<
  RejectCode,
  | 'field.type'
  | 'timestamp.format'
  | 'timestamp.no_offset'
  | 'timestamp.dst_ambiguous'
  | 'timestamp.dst_nonexistent'
  | 'timestamp.range'
  | 'timestamp.alignment'
>;

export type TimestampParseResult =
  { ok: true; epochMs: number } | { ok: false; code: TimestampRejectCode; message: string };

/** Interval starts are accepted from 2000-01-01T00:00:00Z (inclusive) ... */
export const TIMESTAMP_YEAR_MIN = 2000;
/** ... to 2199-12-31T23:59:59Z: before that is a meter with a reset clock, after it a typo. */
export const TIMESTAMP_YEAR_MAX = 2199;
const EPOCH_MS_MIN = Date.UTC(TIMESTAMP_YEAR_MIN, 0, 1);
const EPOCH_MS_END = Date.UTC(TIMESTAMP_YEAR_MAX + 1, 0, 1);
const FRACTION_DIGITS_MAX = 9;

// The scanner returns the epoch milliseconds (at least EPOCH_MS_MIN) or one of these negative
// markers.
const FAIL_TYPE = -1;
const FAIL_FORMAT = -2;
const FAIL_NO_OFFSET = -3;
const FAIL_DST_AMBIGUOUS = -4;
const FAIL_DST_NONEXISTENT = -5;
const FAIL_RANGE = -6;
const FAIL_ALIGNMENT = -7;

const CHAR_ZERO = 48;
const CHAR_DASH = 45;
const CHAR_PLUS = 43;
const CHAR_COLON = 58;
const CHAR_DOT = 46;
const CHAR_T = 84;
const CHAR_Z = 90;

const MS_PER_SECOND = 1000;
const MS_PER_MINUTE = 60_000;
const SECONDS_PER_DAY = 86_400;

/**
 * Parses an interval start into UTC epoch milliseconds. The start must be a whole second: a
 * fraction is accepted syntactically but must be zero (`timestamp.alignment` otherwise). `timeZone`
 * (an IANA name, already validated by the dictionary) is used only for timestamps without an
 * offset.
 */
export function parseTimestamp(value: unknown, timeZone: string | null): TimestampParseResult {
  const scanned = scanTimestamp(value, timeZone);
  if (scanned >= 0) return { ok: true, epochMs: scanned };
  const code = failureCode(scanned);
  return { ok: false, code, message: failureMessage(code, timeZone) };
}

/**
 * Hot-path form of parseTimestamp: the epoch milliseconds, or NaN exactly when parseTimestamp
 * rejects (call it then for the reason). Allocates nothing for timestamps with an offset.
 */
export function timestampToEpochMsOrNaN(value: unknown, timeZone: string | null): number {
  const scanned = scanTimestamp(value, timeZone);
  return scanned >= 0 ? scanned : Number.NaN;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (days-from-civil, H. Hinnant). */
function daysFromCivil(year: number, month: number, day: number): number {
  const marchYear = month <= 2 ? year - 1 : year;
  const era = Math.floor(marchYear / 400);
  const yearOfEra = marchYear - era * 400;
  const monthFromMarch = month > 2 ? month - 3 : month + 9;
  const dayOfYear = Math.floor((153 * monthFromMarch + 2) / 5) + day - 1;
  const dayOfEra =
    yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

/** Two decimal digits at `index` as a number, or -1 when either character is not a digit. */
function twoDigits(text: string, index: number): number {
  const high = text.charCodeAt(index) - CHAR_ZERO;
  const low = text.charCodeAt(index + 1) - CHAR_ZERO;
  // `>>> 0` turns a negative difference (or NaN) into a large number, so one comparison checks
  // both.
  return high >>> 0 <= 9 && low >>> 0 <= 9 ? high * 10 + low : -1;
}

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return isLeapYear(year) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

function hasDateTimeSeparators(text: string): boolean {
  return (
    text.charCodeAt(4) === CHAR_DASH &&
    text.charCodeAt(7) === CHAR_DASH &&
    text.charCodeAt(10) === CHAR_T &&
    text.charCodeAt(13) === CHAR_COLON &&
    text.charCodeAt(16) === CHAR_COLON
  );
}

function scanTimestamp(value: unknown, timeZone: string | null): number {
  if (typeof value !== 'string') return FAIL_TYPE;
  const text = value;
  if (text.length < 19 || !hasDateTimeSeparators(text)) return FAIL_FORMAT;
  const century = twoDigits(text, 0);
  const yearOfCentury = twoDigits(text, 2);
  if (century < 0 || yearOfCentury < 0) return FAIL_FORMAT;
  const year = century * 100 + yearOfCentury;
  const month = twoDigits(text, 5);
  const day = twoDigits(text, 8);
  const hour = twoDigits(text, 11);
  const minute = twoDigits(text, 14);
  const second = twoDigits(text, 17);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) {
    return FAIL_FORMAT;
  }
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) {
    return FAIL_FORMAT;
  }
  const fractionEnd = scanFraction(text);
  if (fractionEnd < 0) return FAIL_FORMAT;
  const offsetMinutes = scanOffsetMinutes(text, fractionEnd);
  if (offsetMinutes === OFFSET_INVALID) return FAIL_FORMAT;
  if (year < TIMESTAMP_YEAR_MIN || year > TIMESTAMP_YEAR_MAX) return FAIL_RANGE;
  if (!isZeroFraction(text, fractionEnd)) return FAIL_ALIGNMENT;
  let epochMs: number;
  if (offsetMinutes === OFFSET_NONE) {
    if (timeZone === null) return FAIL_NO_OFFSET;
    epochMs = localToEpochMs(timeZone, year, month, day, hour, minute, second);
    if (epochMs < 0) return epochMs;
  } else {
    const epochSeconds =
      daysFromCivil(year, month, day) * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second;
    epochMs = epochSeconds * MS_PER_SECOND - offsetMinutes * MS_PER_MINUTE;
  }
  return epochMs >= EPOCH_MS_MIN && epochMs < EPOCH_MS_END ? epochMs : FAIL_RANGE;
}

/** Index just after an optional `.digits` at 19, or -1 when the fraction is malformed. */
function scanFraction(text: string): number {
  if (text.charCodeAt(19) !== CHAR_DOT) return 19;
  let index = 20;
  while (index < text.length && (text.charCodeAt(index) - CHAR_ZERO) >>> 0 <= 9) index += 1;
  const digitCount = index - 20;
  return digitCount >= 1 && digitCount <= FRACTION_DIGITS_MAX ? index : -1;
}

function isZeroFraction(text: string, fractionEnd: number): boolean {
  for (let index = 20; index < fractionEnd; index += 1) {
    if (text.charCodeAt(index) !== CHAR_ZERO) return false;
  }
  return true;
}

// Offsets are at most 23:59 (1439 minutes) either way; these small integers cannot be offsets.
const OFFSET_NONE = 100_000;
const OFFSET_INVALID = 200_000;

/**
 * The offset that ends the text at `index`, in minutes east of UTC; OFFSET_NONE when there is none
 * (a naive local time) and OFFSET_INVALID when what follows is not `Z` or `+HH:MM` / `-HH:MM`.
 */
function scanOffsetMinutes(text: string, index: number): number {
  const remaining = text.length - index;
  if (remaining === 0) return OFFSET_NONE;
  const sign = text.charCodeAt(index);
  if (remaining === 1) return sign === CHAR_Z ? 0 : OFFSET_INVALID;
  if (remaining !== 6 || (sign !== CHAR_PLUS && sign !== CHAR_DASH)) return OFFSET_INVALID;
  if (text.charCodeAt(index + 3) !== CHAR_COLON) return OFFSET_INVALID;
  const hours = twoDigits(text, index + 1);
  const minutes = twoDigits(text, index + 4);
  if (hours < 0 || hours > 23 || minutes < 0 || minutes > 59) return OFFSET_INVALID;
  const offsetMinutes = hours * 60 + minutes;
  return sign === CHAR_DASH ? -offsetMinutes : offsetMinutes;
}

/**
 * Reads a local wall-clock time in an IANA zone. When the zone maps it to exactly one instant, the
 * 'earlier' and 'later' disambiguations agree. When they differ, the wall time either occurs twice
 * (a fall-back overlap: both candidates still show that wall time) or never (a spring-forward gap:
 * the candidates were shifted across the gap and show another wall time).
 */
function localToEpochMs(
  timeZone: string,
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
): number {
  const local = new Temporal.PlainDateTime(year, month, day, hour, minute, second);
  const earlier = local.toZonedDateTime(timeZone, { disambiguation: 'earlier' });
  const later = local.toZonedDateTime(timeZone, { disambiguation: 'later' });
  if (earlier.epochMilliseconds === later.epochMilliseconds) return earlier.epochMilliseconds;
  return earlier.toPlainDateTime().equals(local) ? FAIL_DST_AMBIGUOUS : FAIL_DST_NONEXISTENT;
}

function failureCode(scanned: number): TimestampRejectCode {
  switch (scanned) {
    case FAIL_TYPE:
      return 'field.type';
    case FAIL_FORMAT:
      return 'timestamp.format';
    case FAIL_NO_OFFSET:
      return 'timestamp.no_offset';
    case FAIL_DST_AMBIGUOUS:
      return 'timestamp.dst_ambiguous';
    case FAIL_DST_NONEXISTENT:
      return 'timestamp.dst_nonexistent';
    case FAIL_RANGE:
      return 'timestamp.range';
    case FAIL_ALIGNMENT:
      return 'timestamp.alignment';
    default:
      assert.fail(`not a timestamp failure marker: ${scanned}`);
  }
}

function failureMessage(code: TimestampRejectCode, timeZone: string | null): string {
  switch (code) {
    case 'field.type':
      return 'must be an ISO 8601 timestamp string';
    case 'timestamp.format':
      return (
        'is not a valid ISO 8601 timestamp YYYY-MM-DDTHH:MM:SS with optional fraction and ' +
        'Z or +HH:MM offset (and a real calendar date and time of day)'
      );
    case 'timestamp.no_offset':
      return 'has no UTC offset, and the data dictionary sets no time zone to read local times in';
    case 'timestamp.dst_ambiguous':
      return (
        `occurs twice in ${timeZone ?? 'the time zone'} (daylight saving time ends), so ` +
        'the instant is ambiguous; send it with a UTC offset'
      );
    case 'timestamp.dst_nonexistent':
      return (
        `does not exist in ${timeZone ?? 'the time zone'} (skipped when daylight saving ` +
        'time starts); send it with a UTC offset'
      );
    case 'timestamp.range':
      return `is outside the years ${TIMESTAMP_YEAR_MIN}..${TIMESTAMP_YEAR_MAX} (UTC)`;
    case 'timestamp.alignment':
      return 'has a non-zero fraction of a second; an interval starts on a whole second';
  }
}
