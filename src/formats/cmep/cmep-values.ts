/**
 * Pure, string-exact helpers for CMEP values, units, intervals and times. Quantities stay decimal
 * strings and times integer milliseconds: no float arithmetic touches a billed value.
 *
 * Local times need the time zone database, so this file imports temporal-polyfill, the library
 * the data dictionary already uses for the same job (STACK.md: DST handled with 'reject').
 */
import assert from 'node:assert/strict';
import { Temporal } from 'temporal-polyfill';
import type { CmepFlow, CmepIntervalLength, CmepMeasurement, CmepUnit } from './cmep-events.js';
import { movePoint } from '../decimal-text.js';

export const MS_PER_MINUTE = 60_000;
const MINUTES_PER_HOUR = 60;
const MINUTES_PER_DAY = 1440;
/**
 * Largest exponent magnitude of a value in scientific notation. Numeric fields are at most 16
 * characters, so no honest value needs more; a larger one would expand to a huge string.
 */
export const SCIENTIFIC_EXPONENT_MAX = 64;

const PLAIN_DECIMAL = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)$/;
const SCIENTIFIC_DECIMAL = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)[EeDd]([+-]?\d+)$/;
const DATE_TIME_PATTERN = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})$/;
const INTERVAL_PATTERN = /^(\d{2})(\d{2})(\d{2})(\d{2})$/;

/** What a unit's protocol text means. */
export interface CmepUnitMeaning {
  unit: CmepUnit;
  measurement: CmepMeasurement;
  flow: CmepFlow;
}

function meaning(unit: CmepUnit, measurement: CmepMeasurement, flow: CmepFlow): CmepUnitMeaning {
  return { unit, measurement, flow };
}

/** The protocol text "UNITS" list, every entry and nothing else. */
const UNIT_MEANINGS: ReadonlyMap<string, CmepUnitMeaning> = new Map([
  ['KWHREG', meaning('kWh', 'register', 'delivered')],
  ['KVAHREG', meaning('kVAh', 'register', 'delivered')],
  ['KVARHREG', meaning('kVArh', 'register', 'delivered')],
  ['GASREG', meaning('dial', 'register', 'delivered')],
  ['PULSE', meaning('pulse', 'accumulation', 'delivered')],
  ['KW', meaning('kW', 'demand', 'delivered')],
  ['KVA', meaning('kVA', 'demand', 'delivered')],
  ['KVAR', meaning('kVAr', 'demand', 'delivered')],
  ['KWH', meaning('kWh', 'accumulation', 'delivered')],
  ['KVAH', meaning('kVAh', 'accumulation', 'delivered')],
  ['KVARH', meaning('kVArh', 'accumulation', 'delivered')],
  ['GKW', meaning('kW', 'demand', 'received')],
  ['GKVA', meaning('kVA', 'demand', 'received')],
  ['GKVAR', meaning('kVAr', 'demand', 'received')],
  ['GKWH', meaning('kWh', 'accumulation', 'received')],
  ['GKVAH', meaning('kVAh', 'accumulation', 'received')],
  ['GKVARH', meaning('kVArh', 'accumulation', 'received')],
  ['VOLTS', meaning('V', 'level', 'delivered')],
  ['BTU', meaning('BTU', 'accumulation', 'delivered')],
  ['THERM', meaning('therm', 'accumulation', 'delivered')],
  ['GAL', meaning('gal', 'accumulation', 'delivered')],
  ['CF', meaning('ft3', 'accumulation', 'delivered')],
  ['CCF', meaning('hft3', 'accumulation', 'delivered')],
  ['MCF', meaning('kft3', 'accumulation', 'delivered')],
  ['ACFT', meaning('acre-ft', 'accumulation', 'delivered')],
  ['LBS', meaning('lb', 'accumulation', 'delivered')],
  ['$', meaning('USD', 'accumulation', 'delivered')],
]);

/** The unit protocol texts, as the protocol spells them. */
export const CMEP_UNIT_TEXTS: readonly string[] = [...UNIT_MEANINGS.keys()];

/** The meaning of a unit's protocol text in any case, or null when the protocol lists no such. */
export function unitMeaning(unitAsSent: string): CmepUnitMeaning | null {
  return UNIT_MEANINGS.get(unitAsSent.toUpperCase()) ?? null;
}

/**
 * A decimal as the reader reports it, or null when the text is not one: plain decimals keep their
 * text (a leading `+` dropped), scientific notation (`1.5E3`, `2d-1`) is rewritten exactly.
 */
export function parseDecimal(text: string): { decimal: string; scientific: boolean } | null {
  const plain = PLAIN_DECIMAL.exec(text);
  if (plain !== null) {
    return { decimal: plain[1] === '-' ? `-${plain[2]}` : (plain[2] ?? ''), scientific: false };
  }
  const scientific = SCIENTIFIC_DECIMAL.exec(text);
  if (scientific === null) return null;
  const exponent = Number(scientific[3]);
  if (Math.abs(exponent) > SCIENTIFIC_EXPONENT_MAX) return null;
  const [integerDigits = '', fractionDigits = ''] = (scientific[2] ?? '').split('.');
  const decimal = movePoint(scientific[1] === '-', integerDigits, fractionDigits, exponent);
  return { decimal, scientific: true };
}

/**
 * A value in engineering units: `value` times the record's calculation constant, exactly (BigInt),
 * as a canonical decimal. Both arguments must be decimals as the reader reports them.
 */
export function applyCalculationConstant(value: string, calculationConstant: string): string {
  const left = scaledInteger(value);
  const right = scaledInteger(calculationConstant);
  const product = left.digits * right.digits;
  const magnitude = (product < 0n ? -product : product).toString();
  const scale = left.scale + right.scale;
  const padded = magnitude.padStart(scale + 1, '0');
  const integerDigits = padded.slice(0, padded.length - scale);
  const fractionDigits = padded.slice(padded.length - scale);
  return movePoint(product < 0n, integerDigits, fractionDigits, 0);
}

function scaledInteger(decimal: string): { digits: bigint; scale: number } {
  const match = PLAIN_DECIMAL.exec(decimal);
  assert.ok(match !== null, `not a decimal: ${decimal}`);
  const [integerDigits = '', fractionDigits = ''] = (match[2] ?? '').split('.');
  const magnitude = BigInt(`${integerDigits}${fractionDigits}` || '0');
  return { digits: match[1] === '-' ? -magnitude : magnitude, scale: fractionDigits.length };
}

/**
 * The MMDDHHMM Interval field as a length, or null when it is not one the reader can step by:
 * minutes and hours (no months or days) dividing a day, and under an hour dividing the hour, as
 * the protocol requires intervals to repeat on the hour and at midnight; or whole days (01-31);
 * or whole months (01-12). A zero interval, mixed calendar and clock parts, or hours past 23 or
 * minutes past 59 are refused rather than interpreted.
 */
export function parseIntervalLength(text: string): CmepIntervalLength | null {
  const match = INTERVAL_PATTERN.exec(text);
  if (match === null) return null;
  const [months, days, hours, minutes] = [1, 2, 3, 4].map((index) => Number(match[index]));
  if (months === undefined || days === undefined || hours === undefined || minutes === undefined) {
    return null;
  }
  if (hours > 23 || minutes > 59) return null;
  if (months === 0 && days === 0) return clockInterval(hours * MINUTES_PER_HOUR + minutes);
  if (hours !== 0 || minutes !== 0 || (months !== 0 && days !== 0)) return null;
  if (days !== 0) return days <= 31 ? { unit: 'day', days } : null;
  return months <= 12 ? { unit: 'month', months } : null;
}

function clockInterval(minutes: number): CmepIntervalLength | null {
  if (minutes === 0) return null;
  const period = minutes < MINUTES_PER_HOUR ? MINUTES_PER_HOUR : MINUTES_PER_DAY;
  return period % minutes === 0 ? { unit: 'minute', minutes } : null;
}

/** A CCYYMMDDHHMM date-time of the protocol as a wall-clock time, or null when not a real one. */
export function parseDateTime(text: string): Temporal.PlainDateTime | null {
  const match = DATE_TIME_PATTERN.exec(text);
  if (match === null) return null;
  const [year, month, day, hour, minute] = [1, 2, 3, 4, 5].map((index) => Number(match[index]));
  if (
    year === undefined ||
    month === undefined ||
    day === undefined ||
    hour === undefined ||
    minute === undefined
  ) {
    return null;
  }
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  if (hour > 23 || minute > 59) return null;
  return new Temporal.PlainDateTime(year, month, day, hour, minute);
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** A wall-clock time as `CCYYMMDDHHMM`, for messages. */
export function formatDateTime(wall: Temporal.PlainDateTime): string {
  const two = (value: number): string => String(value).padStart(2, '0');
  return (
    `${String(wall.year).padStart(4, '0')}${two(wall.month)}${two(wall.day)}` +
    `${two(wall.hour)}${two(wall.minute)}`
  );
}

export type LocalTimeResult =
  { ok: true; epochMs: number } | { ok: false; code: 'dst_ambiguous' | 'dst_nonexistent' };

/**
 * The instant of a wall-clock time in `timeZone`, rejecting, never guessing, a time that daylight
 * saving makes occur twice (fall back) or never (spring forward). With 'reject' Temporal throws
 * for both; the 'earlier' candidate tells them apart, as it still shows the wall time only when
 * the time occurs twice.
 */
export function localToUtcMs(wall: Temporal.PlainDateTime, timeZone: string): LocalTimeResult {
  try {
    const zoned = wall.toZonedDateTime(timeZone, { disambiguation: 'reject' });
    return { ok: true, epochMs: zoned.epochMilliseconds };
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    const earlier = wall.toZonedDateTime(timeZone, { disambiguation: 'earlier' });
    const twice = earlier.toPlainDateTime().equals(wall);
    return { ok: false, code: twice ? 'dst_ambiguous' : 'dst_nonexistent' };
  }
}

/**
 * A calendar interval stepped forward (+1) or back (-1) on the wall clock, or null when the step
 * lands on a day the month lacks (31 January plus a month): the protocol does not say whether
 * that means the last day of February or early March, so the reader does not pick.
 */
export function stepCalendar(
  wall: Temporal.PlainDateTime,
  length: Exclude<CmepIntervalLength, { unit: 'minute' }>,
  direction: 1 | -1,
): Temporal.PlainDateTime | null {
  const duration =
    length.unit === 'day'
      ? { days: length.days * direction }
      : { months: length.months * direction };
  try {
    return wall.add(duration, { overflow: 'reject' });
  } catch (error) {
    if (error instanceof RangeError) return null;
    throw error;
  }
}

/** The canonical id of a time zone (IANA name, `UTC` or a fixed `±HH:MM` offset), or null. */
export function canonicalTimeZone(timeZone: string): string | null {
  try {
    return new Temporal.ZonedDateTime(0n, timeZone).timeZoneId;
  } catch (error) {
    if (error instanceof RangeError) return null;
    throw error;
  }
}
