/**
 * Exact decimal energy values (ARCH 2.7). A consumption in kWh arrives as a JSON number or a
 * decimal string and becomes an integer of milliwatt-hours (1 kWh = 1,000,000 milliWh) without any
 * rounding: the decimal digits are scaled as digits, so "0.1" is exactly 100000 and "0.0000001" is
 * rejected, never rounded to zero.
 */
import assert from 'node:assert/strict';

import { ENERGY_DECIMALS, ENERGY_MILLI_WH_PER_KWH } from './reading.js';
import type { RejectCode } from './reject.js';

export type KwhRejectCode = Extract<
  RejectCode,
  | 'consumption.not_decimal'
  | 'consumption.not_finite'
  | 'consumption.negative_zero'
  | 'consumption.precision'
>;

export type KwhParseResult =
  { ok: true; milliWh: number } | { ok: false; code: KwhRejectCode; message: string };

/** A milliWh value must stay a safe integer; larger magnitudes are rejected as not finite. */
const MILLI_WH_DIGITS_MAX = String(Number.MAX_SAFE_INTEGER).length;
/** Whole kWh below this bound times 1e6 stay below 2^53, so that product is exact. */
const KWH_INTEGER_FAST_MAX = Math.floor(Number.MAX_SAFE_INTEGER / ENERGY_MILLI_WH_PER_KWH);
/** Exponents are clamped here while scanned; no string can be long enough to offset this. */
const EXPONENT_CLAMP = 1e12;

// The scanner returns either the safe-integer result or one of these failure markers. They lie
// beyond Number.MAX_SAFE_INTEGER, so no successful result can be mistaken for one.
const FAIL_NOT_DECIMAL = 2 ** 60;
const FAIL_NOT_FINITE = 2 ** 61;
const FAIL_NEGATIVE_ZERO = 2 ** 62;
const FAIL_PRECISION = 2 ** 63;

const CHAR_ZERO = 48;
const CHAR_NINE = 57;
const CHAR_MINUS = 45;
const CHAR_PLUS = 43;
const CHAR_DOT = 46;
const CHAR_LOWER_E = 101;
const CHAR_UPPER_E = 69;

const NON_FINITE_TEXTS: ReadonlySet<string> = new Set([
  'Infinity',
  '-Infinity',
  '+Infinity',
  'NaN',
]);

/**
 * Parses a consumption in kWh into exact milliWh. Accepts finite JSON numbers (read through their
 * shortest round-trip text, `String(n)`) and strings `-?digits(.digits)?([eE][+-]?digits)?`.
 */
export function parseKwhToMilliWh(value: unknown): KwhParseResult {
  const scanned = scanKwh(value);
  if (Math.abs(scanned) <= Number.MAX_SAFE_INTEGER) return { ok: true, milliWh: scanned };
  const code = failureCode(scanned);
  return { ok: false, code, message: failureMessage(code) };
}

/**
 * Hot-path form of parseKwhToMilliWh: the milliWh, or NaN exactly when parseKwhToMilliWh rejects
 * (call it then for the reason). It allocates nothing for string input or whole-kWh numbers.
 */
export function kwhToMilliWhOrNaN(value: unknown): number {
  const scanned = scanKwh(value);
  return Math.abs(scanned) <= Number.MAX_SAFE_INTEGER ? scanned : Number.NaN;
}

/**
 * Renders a value in millionths of its unit with exactly six decimals: the same digits as
 * {@link formatMilliWhAsKwh}, named for values of any unit.
 */
export function formatValueMicro(valueMicro: number | bigint): string {
  return formatMilliWhAsKwh(valueMicro);
}

/** Renders milliWh as kWh with exactly six decimals ("1.250000", "-0.000001"); exact for bigint. */
export function formatMilliWhAsKwh(milliWh: number | bigint): string {
  if (typeof milliWh === 'number') {
    assert.ok(Number.isSafeInteger(milliWh), `milliWh must be a safe integer, got ${milliWh}`);
  }
  let digits = String(milliWh);
  const negative = digits.charCodeAt(0) === CHAR_MINUS;
  if (negative) digits = digits.slice(1);
  digits = digits.padStart(ENERGY_DECIMALS + 1, '0');
  const split = digits.length - ENERGY_DECIMALS;
  return `${negative ? '-' : ''}${digits.slice(0, split)}.${digits.slice(split)}`;
}

function scanKwh(value: unknown): number {
  if (typeof value === 'string') return scanDecimalText(value);
  if (typeof value !== 'number') return FAIL_NOT_DECIMAL;
  if (!Number.isFinite(value)) return FAIL_NOT_FINITE;
  if (Object.is(value, -0)) return FAIL_NEGATIVE_ZERO;
  // Both factors are integers and the product stays below 2^53, so this multiplication is exact.
  if (Number.isInteger(value) && Math.abs(value) <= KWH_INTEGER_FAST_MAX) {
    return value * ENERGY_MILLI_WH_PER_KWH;
  }
  return scanDecimalText(String(value));
}

function isDigit(charCode: number): boolean {
  return charCode >= CHAR_ZERO && charCode <= CHAR_NINE;
}

/** Scans `-?digits(.digits)?([eE][+-]?digits)?` and hands the mantissa span to scaleDigits. */
function scanDecimalText(text: string): number {
  const length = text.length;
  let index = text.charCodeAt(0) === CHAR_MINUS ? 1 : 0;
  const mantissaStart = index;
  while (index < length && isDigit(text.charCodeAt(index))) index += 1;
  if (index === mantissaStart) {
    return NON_FINITE_TEXTS.has(text) ? FAIL_NOT_FINITE : FAIL_NOT_DECIMAL;
  }
  let dotIndex = -1;
  if (index < length && text.charCodeAt(index) === CHAR_DOT) {
    dotIndex = index;
    index += 1;
    while (index < length && isDigit(text.charCodeAt(index))) index += 1;
    if (index === dotIndex + 1) return FAIL_NOT_DECIMAL;
  }
  const mantissaEnd = index;
  let exponent = 0;
  const exponentMark = text.charCodeAt(index);
  if (exponentMark === CHAR_LOWER_E || exponentMark === CHAR_UPPER_E) {
    index += 1;
    const sign = text.charCodeAt(index);
    if (sign === CHAR_MINUS || sign === CHAR_PLUS) index += 1;
    const exponentStart = index;
    while (index < length && isDigit(text.charCodeAt(index))) {
      const digit = text.charCodeAt(index) - CHAR_ZERO;
      if (exponent < EXPONENT_CLAMP) exponent = exponent * 10 + digit;
      index += 1;
    }
    if (index === exponentStart) return FAIL_NOT_DECIMAL;
    if (sign === CHAR_MINUS) exponent = -exponent;
  }
  if (index !== length) return FAIL_NOT_DECIMAL;
  return scaleDigits(text, mantissaStart, mantissaEnd, dotIndex, exponent);
}

function isZeroOrDot(charCode: number): boolean {
  return charCode === CHAR_ZERO || charCode === CHAR_DOT;
}

/**
 * The mantissa `text[start, end)` holds digits and at most one dot at dotIndex (-1 when none). The
 * value is digits x 10^(exponent - fractionDigits) kWh, so digits x 10^power milliWh with power =
 * exponent - fractionDigits + 6. Trailing zeros of the digits raise the power; a negative power
 * left over means digits below 1 milliWh. The digits are accumulated as integers; every
 * intermediate is at most the final value, which is checked against 2^53 before it is trusted.
 */
function scaleDigits(
  text: string,
  start: number,
  end: number,
  dotIndex: number,
  exponent: number,
): number {
  // The mantissa starts after the sign, so it starts at 1 exactly when there is a minus sign.
  const negative = start === 1;
  let first = start;
  while (first < end && isZeroOrDot(text.charCodeAt(first))) first += 1;
  if (first === end) return negative ? FAIL_NEGATIVE_ZERO : 0;
  let last = end - 1;
  while (isZeroOrDot(text.charCodeAt(last))) last -= 1;
  const dotAfterLast = dotIndex > last ? 1 : 0;
  const trailingZeros = end - 1 - last - dotAfterLast;
  const fractionDigits = dotIndex < 0 ? 0 : end - dotIndex - 1;
  const power = exponent - fractionDigits + ENERGY_DECIMALS + trailingZeros;
  if (power < 0) return FAIL_PRECISION;
  const dotInside = dotIndex > first && dotIndex < last ? 1 : 0;
  if (last - first + 1 - dotInside + power > MILLI_WH_DIGITS_MAX) return FAIL_NOT_FINITE;
  let milliWh = 0;
  for (let index = first; index <= last; index += 1) {
    const charCode = text.charCodeAt(index);
    if (charCode !== CHAR_DOT) milliWh = milliWh * 10 + (charCode - CHAR_ZERO);
  }
  for (let step = 0; step < power; step += 1) milliWh *= 10;
  if (milliWh > Number.MAX_SAFE_INTEGER) return FAIL_NOT_FINITE;
  return negative ? -milliWh : milliWh;
}

function failureCode(scanned: number): KwhRejectCode {
  switch (scanned) {
    case FAIL_NOT_DECIMAL:
      return 'consumption.not_decimal';
    case FAIL_NOT_FINITE:
      return 'consumption.not_finite';
    case FAIL_NEGATIVE_ZERO:
      return 'consumption.negative_zero';
    case FAIL_PRECISION:
      return 'consumption.precision';
    default:
      assert.fail(`not a failure marker: ${scanned}`);
  }
}

function failureMessage(code: KwhRejectCode): string {
  switch (code) {
    case 'consumption.not_decimal':
      return (
        'is not a decimal number in kWh (expected digits with an optional fraction and ' +
        'exponent, such as 1.25 or 1.5e-3, with no spaces, plus sign, commas or hex)'
      );
    case 'consumption.not_finite':
      return (
        'is not finite, or its magnitude exceeds ' +
        `${formatMilliWhAsKwh(Number.MAX_SAFE_INTEGER)} kWh`
      );
    case 'consumption.negative_zero':
      return 'is negative zero, which says a direction the value does not have; send 0';
    case 'consumption.precision':
      return (
        `has digits below ${ENERGY_DECIMALS} decimal places of a kWh (1 milliwatt-hour), ` +
        'which the ledger cannot store without rounding'
      );
  }
}
