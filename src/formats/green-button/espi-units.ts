/**
 * Exact ESPI value arithmetic and unit names. An IntervalReading value is an integer in the
 * ReadingType's uom times 10^powerOfTenMultiplier; scaling is done on decimal digits, never on
 * floats, because billing must not round.
 */
import assert from 'node:assert/strict';

/** ESPI multipliers run from -9 to 9 (UnitMultiplierKind); this bound only keeps strings small. */
export const POWER_OF_TEN_ABS_MAX = 24;

const ESPI_INTEGER_PATTERN = /^[+-]?\d+$/;

/** ESPI UnitSymbolKind codes (NAESB REQ.21, from IEC 61968-9) seen in energy feeds. */
export const UOM_NAMES: Readonly<Record<string, string>> = {
  '0': 'none',
  '5': 'A',
  '29': 'V',
  '33': 'Hz',
  '38': 'W',
  '42': 'm3',
  '61': 'VA',
  '63': 'VAr',
  '65': 'cosTheta',
  '71': 'VAh',
  '72': 'Wh',
  '73': 'VArh',
  '106': 'Ah',
  '119': 'ft3',
  '122': 'ft3/h',
  '125': 'm3/h',
  '128': 'USGal',
  '129': 'USGal/h',
  '130': 'ImperialGal',
  '132': 'BTU',
  '133': 'BTU/h',
  '134': 'L',
  '137': 'L/h',
  '169': 'therm',
};

/** True when text is an ESPI integer as scaledValue accepts it. */
export function isEspiInteger(text: string): boolean {
  return ESPI_INTEGER_PATTERN.test(text);
}

/**
 * The exact decimal `value * 10^powerOfTenMultiplier`, canonical (no leading zeros, no trailing
 * fractional zeros, no "-0"): ("1234", "-3") gives "1.234". Callers check both inputs with
 * isEspiInteger first; anything else is a programmer error.
 */
export function scaledValue(value: string, powerOfTenMultiplier: string): string {
  assert.ok(isEspiInteger(value), `scaledValue: value "${value}" is not an integer`);
  assert.ok(isEspiInteger(powerOfTenMultiplier), 'scaledValue: multiplier is not an integer');
  const exponent = Number(powerOfTenMultiplier);
  assert.ok(Math.abs(exponent) <= POWER_OF_TEN_ABS_MAX, 'scaledValue: multiplier out of range');
  const negative = value.startsWith('-');
  const digits = value.replace(/^[+-]/, '').replace(/^0+/, '');
  if (digits === '') return '0';
  const sign = negative ? '-' : '';
  if (exponent >= 0) return sign + digits + '0'.repeat(exponent);
  const padded = digits.padStart(-exponent + 1, '0');
  const whole = padded.slice(0, exponent);
  const fraction = padded.slice(exponent).replace(/0+$/, '');
  return sign + whole + (fraction === '' ? '' : `.${fraction}`);
}

/** The unit symbol for a uom code; an unknown code is returned as sent. */
export function uomName(code: string): string {
  return Object.hasOwn(UOM_NAMES, code) ? (UOM_NAMES[code] ?? code) : code;
}
