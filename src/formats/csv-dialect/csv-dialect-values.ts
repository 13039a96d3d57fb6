/**
 * Pure leaves that read one cell of a dialect's export: decimals with declared separators, energy
 * units, interval lengths and timestamps in a declared format and zone. Quantities stay decimal
 * text until decimal.ts scales them to exact milliwatt-hours, and times go through timestamp.ts,
 * so a vendor CSV is held to the same exactness and DST rules as the reference feed.
 */
import assert from 'node:assert/strict';

import { formatMilliWhAsKwh, parseKwhToMilliWh } from '../../core/decimal.js';
import { parseTimestamp } from '../../core/timestamp.js';
import type {
  CsvDecimalSeparator,
  CsvEnergyUnit,
  CsvThousandsSeparator,
} from './csv-dialect-config.js';
import type { CsvDialectProblemCode } from './csv-dialect-events.js';

/** The format read as timestamp.ts reads it: `YYYY-MM-DDTHH:MM:SS[.fraction][Z|+HH:MM]`. */
export const ISO_8601_FORMAT = 'iso8601';

/** A cell that could not be read: the problem code and why, as the end of a sentence. */
export interface CellFailure {
  ok: false;
  code: CsvDialectProblemCode;
  reason: string;
}

// ------------------------------------------------------------------------------------------------
// Decimals and units.

const KWH_EXPONENT_BY_UNIT: ReadonlyMap<string, { unit: CsvEnergyUnit; exponent: string }> =
  new Map([
    ['wh', { unit: 'Wh', exponent: 'e-3' }],
    ['kwh', { unit: 'kWh', exponent: '' }],
    ['mwh', { unit: 'MWh', exponent: 'e3' }],
  ]);

/** Characters some export uses to separate decimals or group digits. */
const SEPARATOR_CANDIDATES = ".,' \u00a0\u202f";
const NUMERIC_LOOKING = /^-?[\d.,' \u00a0\u202f]*\d[\d.,' \u00a0\u202f]*$/u;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export type DecimalResult = { ok: true; decimal: string } | CellFailure;

/**
 * A reader of decimal cells written with the dialect's separators. It returns the value as plain
 * `-?digits(.digits)?` text. Digits grouped by the declared thousands separator must be grouped by
 * threes throughout; a separator the dialect does not declare is refused, never interpreted.
 */
export function createDecimalReader(
  decimalSeparator: CsvDecimalSeparator,
  thousandsSeparator: CsvThousandsSeparator | null,
): (text: string) => DecimalResult {
  const decimal = escapeRegExp(decimalSeparator);
  const plain = new RegExp(`^(-?)(\\d+)(?:${decimal}(\\d+))?$`);
  const grouped =
    thousandsSeparator === null
      ? null
      : new RegExp(
          `^(-?)(\\d{1,3}(?:${escapeRegExp(thousandsSeparator)}\\d{3})+)(?:${decimal}(\\d+))?$`,
        );
  return (text) => {
    const match = plain.exec(text) ?? grouped?.exec(text) ?? null;
    if (match !== null) {
      const integer = (match[2] ?? '').replace(/\D/g, '');
      const fraction = match[3] === undefined ? '' : `.${match[3]}`;
      return { ok: true, decimal: `${match[1] ?? ''}${integer}${fraction}` };
    }
    if (!NUMERIC_LOOKING.test(text)) {
      return { ok: false, code: 'value_not_decimal', reason: 'is not a decimal number' };
    }
    return {
      ok: false,
      code: 'value_separator',
      reason: separatorReason(text, decimalSeparator, thousandsSeparator),
    };
  };
}

function separatorReason(
  text: string,
  decimalSeparator: string,
  thousandsSeparator: string | null,
): string {
  const undeclared = [...text].find(
    (char) =>
      SEPARATOR_CANDIDATES.includes(char) &&
      char !== decimalSeparator &&
      char !== thousandsSeparator,
  );
  if (undeclared !== undefined) {
    return (
      `holds ${JSON.stringify(undeclared)}, which the dialect declares neither as its decimal ` +
      `separator (${JSON.stringify(decimalSeparator)}) nor as a thousands separator`
    );
  }
  if (thousandsSeparator === null) {
    return `is not digits with at most one decimal separator ${JSON.stringify(decimalSeparator)}`;
  }
  return (
    `does not group its digits by threes with ${JSON.stringify(thousandsSeparator)} before ` +
    `at most one decimal separator ${JSON.stringify(decimalSeparator)}`
  );
}

/** The canonical unit for its text in any case (`KWH`, `wh`), or null when not Wh, kWh or MWh. */
export function normaliseEnergyUnit(unitAsSent: string): CsvEnergyUnit | null {
  return KWH_EXPONENT_BY_UNIT.get(unitAsSent.toLowerCase())?.unit ?? null;
}

export type KwhResult = { ok: true; valueKwh: string } | CellFailure;

/**
 * A plain decimal in `unit` as exact kWh with six decimals. The unit is applied as a decimal
 * exponent (`12.5` Wh is read as `12.5e-3` kWh), so decimal.ts scales digits, never floats.
 */
export function toKwhDecimal(decimal: string, unit: CsvEnergyUnit): KwhResult {
  const exponent = KWH_EXPONENT_BY_UNIT.get(unit.toLowerCase())?.exponent ?? '';
  const parsed = parseKwhToMilliWh(`${decimal}${exponent}`);
  if (parsed.ok) return { ok: true, valueKwh: formatMilliWhAsKwh(parsed.milliWh) };
  switch (parsed.code) {
    case 'consumption.precision':
      return { ok: false, code: 'value_precision', reason: parsed.message };
    case 'consumption.not_finite':
      return { ok: false, code: 'value_range', reason: parsed.message };
    case 'consumption.negative_zero':
      return { ok: false, code: 'value_negative_zero', reason: parsed.message };
    case 'consumption.not_decimal':
      return { ok: false, code: 'value_not_decimal', reason: 'is not a decimal number' };
  }
}

const WHOLE_SECONDS = /^\d{1,5}$/;

/** An interval length cell: whole seconds, 1 to 86400; null otherwise. */
export function readIntervalSeconds(text: string, secondsMax: number): number | null {
  if (!WHOLE_SECONDS.test(text)) return null;
  const seconds = Number(text);
  return seconds >= 1 && seconds <= secondsMax ? seconds : null;
}

// ------------------------------------------------------------------------------------------------
// Timestamps.

type TimestampRole =
  'year' | 'month' | 'day' | 'hour' | 'hour12' | 'minute' | 'second' | 'meridiem';

/** Pattern tokens, longest first so that `MM` is not read as two `M`. */
const TOKENS: ReadonlyArray<{ token: string; role: TimestampRole; regex: string }> = [
  { token: 'YYYY', role: 'year', regex: '(\\d{4})' },
  { token: 'MM', role: 'month', regex: '(\\d{2})' },
  { token: 'DD', role: 'day', regex: '(\\d{2})' },
  { token: 'HH', role: 'hour', regex: '(\\d{2})' },
  { token: 'hh', role: 'hour12', regex: '(\\d{2})' },
  { token: 'mm', role: 'minute', regex: '(\\d{2})' },
  { token: 'ss', role: 'second', regex: '(\\d{2})' },
  { token: 'M', role: 'month', regex: '(\\d{1,2})' },
  { token: 'D', role: 'day', regex: '(\\d{1,2})' },
  { token: 'H', role: 'hour', regex: '(\\d{1,2})' },
  { token: 'h', role: 'hour12', regex: '(\\d{1,2})' },
  { token: 'A', role: 'meridiem', regex: '([AaPp][Mm])' },
];

/** A timestamp pattern compiled to one anchored regular expression and the role of each group. */
export interface CompiledTimestampPattern {
  regex: RegExp;
  roles: readonly TimestampRole[];
}

/**
 * Compiles a pattern such as `DD.MM.YYYY HH:mm` or `M/D/YYYY h:mm A`, or returns why it cannot
 * be one. Letters other than tokens are refused (but `T`, as in ISO 8601), so a mistyped token is
 * an error in the dialect rather than a literal that never matches.
 */
export function compileTimestampPattern(pattern: string): CompiledTimestampPattern | string {
  let source = '';
  const roles: TimestampRole[] = [];
  let index = 0;
  while (index < pattern.length) {
    const found = TOKENS.find(({ token }) => pattern.startsWith(token, index));
    if (found !== undefined) {
      if (roles.includes(found.role)) return `repeats the ${found.role} token`;
      roles.push(found.role);
      source += found.regex;
      index += found.token.length;
      continue;
    }
    const char = pattern.charAt(index);
    if (/[A-Za-z]/.test(char) && char !== 'T') return `holds the letter ${char}, not a token`;
    source += escapeRegExp(char);
    index += 1;
  }
  const missing = missingRole(roles);
  if (missing !== null) return missing;
  return { regex: new RegExp(`^${source}$`), roles };
}

function missingRole(roles: readonly TimestampRole[]): string | null {
  for (const role of ['year', 'month', 'day', 'minute'] as const) {
    if (!roles.includes(role)) return `has no ${role} token`;
  }
  const twelveHour = roles.includes('hour12');
  if (roles.includes('hour') === twelveHour) return 'needs one hour token, HH or H or hh or h';
  if (twelveHour !== roles.includes('meridiem')) return 'needs A exactly when the hour is hh or h';
  return null;
}

export type TimestampResult = { ok: true; epochMs: number } | CellFailure;

/**
 * A reader of timestamp cells in `format` (`iso8601` or a pattern). A timestamp without an offset
 * is read in `timeZone`; where that zone's DST makes the wall time occur twice or never, the cell
 * is a problem, exactly where Temporal's `disambiguation: 'reject'` would refuse it.
 */
export function createTimestampReader(
  format: string,
  timeZone: string,
): (text: string) => TimestampResult {
  if (format === ISO_8601_FORMAT) return (text) => readInstant(text, timeZone, null);
  const compiled = compileTimestampPattern(format);
  assert.ok(typeof compiled !== 'string', `the dialect's timestamp format ${format} ${compiled}`);
  return (text) => {
    const local = patternToIsoLocal(text, compiled);
    if (local === null) {
      const reason = `does not match the timestamp format "${format}" as a real date and time`;
      return { ok: false, code: 'timestamp_format', reason };
    }
    return readInstant(local, timeZone, format);
  };
}

function readInstant(text: string, timeZone: string, format: string | null): TimestampResult {
  const parsed = parseTimestamp(text, timeZone);
  if (parsed.ok) return parsed;
  switch (parsed.code) {
    case 'timestamp.dst_ambiguous':
      return {
        ok: false,
        code: 'timestamp_dst_ambiguous',
        reason: `occurs twice in ${timeZone} (daylight saving time ends), so its instant is unknown`,
      };
    case 'timestamp.dst_nonexistent':
      return {
        ok: false,
        code: 'timestamp_dst_nonexistent',
        reason: `does not exist in ${timeZone} (skipped when daylight saving time starts)`,
      };
    case 'timestamp.range':
      return { ok: false, code: 'timestamp_range', reason: parsed.message };
    default: {
      const reason =
        format === null
          ? parsed.message
          : `does not match the timestamp format "${format}" as a real date and time`;
      return { ok: false, code: 'timestamp_format', reason };
    }
  }
}

const MINUTES_PER_HOUR = 60;

/**
 * The cell's local date and time as `YYYY-MM-DDTHH:MM:SS`, or null when it does not match. Only
 * field ranges are checked here; timestamp.ts checks the calendar date. `24:00` (the end of a day,
 * as some exports stamp the last interval) becomes 00:00 of the next day.
 */
function patternToIsoLocal(text: string, compiled: CompiledTimestampPattern): string | null {
  const match = compiled.regex.exec(text);
  if (match === null) return null;
  const parts = new Map<TimestampRole, string>();
  compiled.roles.forEach((role, index) => parts.set(role, match[index + 1] ?? ''));
  let year = Number(parts.get('year'));
  let month = Number(parts.get('month'));
  let day = Number(parts.get('day'));
  let hour = hourOf(parts);
  const minute = Number(parts.get('minute'));
  const second = Number(parts.get('second') ?? '0');
  if (hour < 0 || minute >= MINUTES_PER_HOUR || second >= 60) return null;
  if (hour === 24) {
    if (minute !== 0 || second !== 0 || month < 1 || month > 12) return null;
    if (day < 1 || day > daysInMonth(year, month)) return null;
    hour = 0;
    day += 1;
    if (day > daysInMonth(year, month)) [day, month] = [1, month + 1];
    if (month > 12) [month, year] = [1, year + 1];
  }
  const pad = (value: number, width = 2): string => String(value).padStart(width, '0');
  return `${pad(year, 4)}-${pad(month)}-${pad(day)}T${pad(hour)}:${pad(minute)}:${pad(second)}`;
}

/** The hour on a 24-hour clock (24 allowed, for end-of-day stamps), or -1 when out of range. */
function hourOf(parts: ReadonlyMap<TimestampRole, string>): number {
  const hour12 = parts.get('hour12');
  if (hour12 === undefined) {
    const hour = Number(parts.get('hour'));
    return hour <= 24 ? hour : -1;
  }
  const hour = Number(hour12);
  if (hour < 1 || hour > 12) return -1;
  const afternoon = (parts.get('meridiem') ?? '').toUpperCase() === 'PM';
  return (hour % 12) + (afternoon ? 12 : 0);
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}
