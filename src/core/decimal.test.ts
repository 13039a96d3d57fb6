// Goal: kWh values become exact milliWh or the right reject code, and milliWh render back exactly.
// Method: tables for every accepted and rejected form; fast-check against BigInt digit arithmetic.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { formatMilliWhAsKwh, kwhToMilliWhOrNaN, parseKwhToMilliWh } from './decimal.js';

/** Independent oracle: the decimal text scaled with BigInt, following the same rules. */
function oracle(text: string): { milliWh: number } | { code: string } {
  const match = /^(-)?(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (match === null) return { code: 'consumption.not_decimal' };
  const [, sign, integerDigits = '', fractionDigits = '', exponentText = '0'] = match;
  const mantissa = BigInt(integerDigits + fractionDigits);
  if (mantissa === 0n) return sign === '-' ? { code: 'consumption.negative_zero' } : { milliWh: 0 };
  const power = Number(exponentText) - fractionDigits.length + 6;
  let scaled: bigint;
  if (power >= 0) {
    scaled = mantissa * 10n ** BigInt(power);
  } else {
    const divisor = 10n ** BigInt(-power);
    if (mantissa % divisor !== 0n) return { code: 'consumption.precision' };
    scaled = mantissa / divisor;
  }
  if (scaled > BigInt(Number.MAX_SAFE_INTEGER)) return { code: 'consumption.not_finite' };
  return { milliWh: Number(sign === '-' ? -scaled : scaled) };
}

function outcome(value: unknown): { milliWh: number } | { code: string } {
  const parsed = parseKwhToMilliWh(value);
  return parsed.ok ? { milliWh: parsed.milliWh } : { code: parsed.code };
}

describe('parseKwhToMilliWh accepts exact decimals', () => {
  it.each([
    ['1', 1_000_000],
    ['0', 0],
    ['0.1', 100_000],
    ['1.25', 1_250_000],
    ['1.2300000', 1_230_000],
    ['0.0000000', 0],
    ['00.5', 500_000],
    ['-0.000001', -1],
    ['1e-6', 1],
    ['1.5e3', 1_500_000_000],
    ['1E2', 100_000_000],
    ['25e-1', 2_500_000],
    ['1000e-9', 1],
    ['9007199254.740991', Number.MAX_SAFE_INTEGER],
    ['-9007199254.740991', -Number.MAX_SAFE_INTEGER],
  ])('string %s -> %d milliWh', (text, milliWh) => {
    expect(parseKwhToMilliWh(text)).toEqual({ ok: true, milliWh });
  });

  it.each([
    [0, 0],
    [1, 1_000_000],
    [0.1, 100_000],
    [0.3, 300_000],
    [1.005, 1_005_000],
    [1e-6, 1],
    [-2.5, -2_500_000],
    [1000, 1_000_000_000],
    [9007199254, 9_007_199_254_000_000],
    [9007199254.74099, 9_007_199_254_740_990],
  ])('number %d -> %d milliWh', (value, milliWh) => {
    expect(parseKwhToMilliWh(value)).toEqual({ ok: true, milliWh });
  });
});

describe('parseKwhToMilliWh rejects with the right code', () => {
  it.each<[unknown]>([
    ['12abc'],
    [''],
    [' 1'],
    ['1 '],
    ['0x10'],
    ['1,5'],
    ['+1'],
    ['.5'],
    ['5.'],
    ['1e'],
    ['1e+'],
    ['--1'],
    ['-'],
    ['1.2.3'],
    ['١'],
    ['inf'],
    [true],
    [false],
    [null],
    [undefined],
    [{}],
    [[]],
    [10n],
  ])('not_decimal: %s', (value) => {
    expect(outcome(value)).toEqual({ code: 'consumption.not_decimal' });
  });

  it.each<[unknown]>([
    [Number.NaN],
    [Number.POSITIVE_INFINITY],
    [Number.NEGATIVE_INFINITY],
    ['Infinity'],
    ['-Infinity'],
    ['NaN'],
    [JSON.parse('1e309')],
    ['1e309'],
    ['99999999999'],
    ['9007199254.740992'],
    [9007199254.740992],
    [1e21],
    ['1e1000000000000000000000'],
  ])('not_finite: %s', (value) => {
    expect(outcome(value)).toEqual({ code: 'consumption.not_finite' });
  });

  it.each<[unknown]>([[-0], ['-0'], ['-0.0'], ['-0e5'], ['-0.000000000']])(
    'negative_zero: %s',
    (value) => {
      expect(outcome(value)).toEqual({ code: 'consumption.negative_zero' });
    },
  );

  it.each<[unknown]>([
    ['0.0000001'],
    ['1.1234567'],
    ['-0.0000001'],
    ['1e-7'],
    [1e-7],
    [5e-324],
    [0.1 + 0.2],
    ['1e-1000000000000'],
  ])('precision: %s', (value) => {
    expect(outcome(value)).toEqual({ code: 'consumption.precision' });
  });

  it('gives a message with every rejection', () => {
    const parsed = parseKwhToMilliWh('1,5');
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.message).toMatch(/decimal/);
  });
});

describe('parseKwhToMilliWh against a BigInt oracle', () => {
  const digits = (minLength: number, maxLength: number): fc.Arbitrary<string> =>
    fc.string({ unit: fc.constantFrom(...'0123456789'), minLength, maxLength });

  it('is exact for decimals with at most six places', () => {
    fc.assert(
      fc.property(fc.boolean(), digits(1, 9), digits(0, 6), (negative, whole, fraction) => {
        const text = `${negative ? '-' : ''}${whole}${fraction === '' ? '' : `.${fraction}`}`;
        const expected = BigInt(whole + fraction.padEnd(6, '0')) * (negative ? -1n : 1n);
        const parsed = parseKwhToMilliWh(text);
        if (negative && expected === 0n) {
          expect(parsed).toMatchObject({ ok: false, code: 'consumption.negative_zero' });
        } else {
          expect(parsed).toEqual({ ok: true, milliWh: Number(expected) });
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('agrees with the oracle on any decimal text, exponents included', () => {
    const exponent = fc.option(fc.integer({ min: -30, max: 30 }), { nil: undefined });
    fc.assert(
      fc.property(
        fc.boolean(),
        digits(1, 20),
        digits(0, 12),
        exponent,
        fc.constantFrom('e', 'E'),
        (negative, whole, fraction, power, mark) => {
          const text =
            `${negative ? '-' : ''}${whole}${fraction === '' ? '' : `.${fraction}`}` +
            `${power === undefined ? '' : `${mark}${power}`}`;
          expect(outcome(text)).toEqual(oracle(text));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('reads any finite number through its shortest round-trip text', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (value) => {
        const expected = Object.is(value, -0)
          ? { code: 'consumption.negative_zero' }
          : oracle(String(value));
        expect(outcome(value)).toEqual(expected);
      }),
      { numRuns: 3000 },
    );
  });

  it('reads whole numbers and millis exactly', () => {
    fc.assert(
      fc.property(fc.integer({ min: -9_007_199_254, max: 9_007_199_254 }), (kwh) => {
        expect(parseKwhToMilliWh(kwh)).toEqual({ ok: true, milliWh: kwh * 1_000_000 + 0 });
        expect(parseKwhToMilliWh(kwh / 1000)).toEqual(oracleResult(String(kwh / 1000)));
      }),
    );
  });

  it('kwhToMilliWhOrNaN is NaN exactly when parseKwhToMilliWh rejects', () => {
    for (const value of ['1.5', '1e-7', '-0', 'x', 2.5, Number.NaN, null]) {
      const parsed = parseKwhToMilliWh(value);
      expect(kwhToMilliWhOrNaN(value)).toEqual(parsed.ok ? parsed.milliWh : Number.NaN);
    }
  });
});

function oracleResult(text: string): unknown {
  const expected = oracle(text);
  return 'milliWh' in expected
    ? { ok: true, milliWh: expected.milliWh }
    : expect.objectContaining({ ok: false, code: expected.code });
}

describe('formatMilliWhAsKwh', () => {
  it.each<[number | bigint, string]>([
    [1_250_000, '1.250000'],
    [-1, '-0.000001'],
    [0, '0.000000'],
    [-0, '0.000000'],
    [1, '0.000001'],
    [999_999, '0.999999'],
    [1_000_000, '1.000000'],
    [-1_234_567_890, '-1234.567890'],
    [Number.MAX_SAFE_INTEGER, '9007199254.740991'],
    [12_345_678_901_234_567_890_123n, '12345678901234567.890123'],
    [-5n, '-0.000005'],
  ])('%s -> %s', (milliWh, text) => {
    expect(formatMilliWhAsKwh(milliWh)).toBe(text);
  });

  it('refuses a number that is not a safe integer (a programmer error)', () => {
    expect(() => formatMilliWhAsKwh(1.5)).toThrow(/safe integer/);
    expect(() => formatMilliWhAsKwh(2 ** 53)).toThrow(/safe integer/);
  });

  it('round-trips through parseKwhToMilliWh', () => {
    fc.assert(
      fc.property(fc.maxSafeInteger(), (milliWh) => {
        const text = formatMilliWhAsKwh(milliWh);
        expect(text).toMatch(/^-?\d+\.\d{6}$/);
        expect(parseKwhToMilliWh(text)).toEqual({ ok: true, milliWh: milliWh + 0 });
      }),
      { numRuns: 3000 },
    );
  });

  it('is exact for bigint sums beyond 2^53', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }), (milliWh) => {
        const text = formatMilliWhAsKwh(milliWh);
        const [whole = '', fraction = ''] = text.replace('-', '').split('.');
        const sign = text.startsWith('-') ? -1n : 1n;
        expect(sign * BigInt(whole + fraction)).toBe(milliWh);
        expect(fraction).toHaveLength(6);
      }),
    );
  });
});
