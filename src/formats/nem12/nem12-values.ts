/**
 * Pure, string-exact helpers for NEM12 values, units and times. Quantities stay decimal strings
 * and times integer milliseconds: no float arithmetic touches a billed value.
 */
import assert from 'node:assert/strict';
import { NEM12_UNITS, type Nem12Unit } from './nem12-events.js';
import { movePoint } from '../decimal-text.js';

/** NEM time is UTC+10 all year, without daylight saving. */
export const NEM_TIME_OFFSET_MS = 10 * 60 * 60 * 1000;
export const MINUTES_PER_DAY = 1440;

const UNSIGNED_DECIMAL = /^(?:\d+(?:\.\d*)?|\.\d+)$/;
const SIGNED_DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?$/;
const DATE_PATTERN = /^(\d{4})(\d{2})(\d{2})$/;

const UNITS_BY_LOWER_CASE = new Map<string, Nem12Unit>(
  NEM12_UNITS.map((unit) => [unit.toLowerCase(), unit]),
);

/** True for an unsigned decimal as NEM12 sends interval values: `0`, `18.300`, `.5`. */
export function isUnsignedDecimal(text: string): boolean {
  return UNSIGNED_DECIMAL.test(text);
}

/** The canonical spelling of a unit of measure in any case, or null when it is not one. */
export function normaliseUnit(unitAsSent: string): Nem12Unit | null {
  return UNITS_BY_LOWER_CASE.get(unitAsSent.toLowerCase()) ?? null;
}

/** True for `YYYYMMDD` naming a real calendar date. */
export function isCalendarDate(text: string): boolean {
  const match = DATE_PATTERN.exec(text);
  if (match === null) return false;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  return (
    date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day
  );
}

/**
 * The UTC start, in epoch milliseconds, of interval `intervalIndex0` (0-based) of a NEM12 day:
 * interval i covers [date + i*L, date + (i+1)*L) in NEM time (UTC+10). The arguments must be
 * valid (a calendar date, L dividing a day, i within the day): callers validate data first.
 */
export function intervalStartUtcMs(
  date: string,
  intervalIndex0: number,
  intervalMinutes: number,
): number {
  const match = DATE_PATTERN.exec(date);
  assert.ok(match !== null && isCalendarDate(date), `not a YYYYMMDD date: ${date}`);
  assert.ok(Number.isInteger(intervalMinutes) && intervalMinutes > 0, 'interval minutes');
  assert.ok(MINUTES_PER_DAY % intervalMinutes === 0, 'interval minutes must divide a day');
  assert.ok(
    Number.isInteger(intervalIndex0) &&
      intervalIndex0 >= 0 &&
      intervalIndex0 < MINUTES_PER_DAY / intervalMinutes,
    `interval index ${intervalIndex0} outside the day`,
  );
  const dayStartUtcMs =
    Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])) - NEM_TIME_OFFSET_MS;
  return dayStartUtcMs + intervalIndex0 * intervalMinutes * 60_000;
}

/** Decimal places the point moves right to turn a value in this unit into kWh. */
const KWH_EXPONENT_BY_UNIT: ReadonlyMap<string, number> = new Map([
  ['wh', -3],
  ['kwh', 0],
  ['mwh', 3],
]);

/**
 * An energy value converted to kWh by moving its decimal point, exactly; null when the unit is
 * not an energy unit (Wh, kWh, MWh in any case) or the value is not a decimal. The result is
 * canonical: no leading zeros, no trailing fraction zeros, `0` for zero, `-` only when negative.
 */
export function toKwhDecimal(value: string, unit: string): string | null {
  const exponent = KWH_EXPONENT_BY_UNIT.get(unit.toLowerCase());
  return exponent === undefined ? null : shiftDecimalPoint(value, exponent);
}

/**
 * `value` times 10^exponent, exactly, by moving its decimal point; null when it is not a decimal.
 * Canonical like {@link toKwhDecimal}'s results.
 */
export function shiftDecimalPoint(value: string, exponent: number): string | null {
  const match = SIGNED_DECIMAL.exec(value);
  if (match === null) return null;
  const integerDigits = match[2] ?? '';
  const fractionDigits = match[3] ?? '';
  if (integerDigits.length + fractionDigits.length === 0) return null;
  return movePoint(match[1] === '-', integerDigits, fractionDigits, exponent);
}
