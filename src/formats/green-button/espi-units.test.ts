// Goal: ESPI values scale exactly (no floats) and uom codes name their units.
// Method: worked examples from the spec and a BigInt round-trip property over random values.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isEspiInteger, scaledValue, uomName } from './espi-units.js';

describe('scaledValue', () => {
  it.each([
    ['1234', '-3', '1.234'],
    ['12000', '-3', '12'],
    ['5', '-3', '0.005'],
    ['-1205', '-2', '-12.05'],
    ['-0', '-3', '0'],
    ['007', '0', '7'],
    ['+42', '3', '42000'],
    ['0', '6', '0'],
  ])('scales %s by 10^%s to %s', (value, multiplier, expected) => {
    expect(scaledValue(value, multiplier)).toBe(expected);
  });

  it('refuses what is not an integer', () => {
    expect(() => scaledValue('1.5', '0')).toThrow();
    expect(() => scaledValue('1', 'x')).toThrow();
    expect(isEspiInteger('1e3')).toBe(false);
  });

  it('round-trips exactly through BigInt arithmetic', () => {
    fc.assert(
      fc.property(fc.bigInt(), fc.integer({ min: -12, max: 12 }), (value, exponent) => {
        const scaled = scaledValue(value.toString(), String(exponent));
        const [whole = '', fraction = ''] = scaled.split('.');
        const shift = exponent < 0 ? -exponent : 0;
        const unscaled = BigInt(whole.replace('-', '') + fraction.padEnd(shift, '0'));
        const signed = whole.startsWith('-') ? -unscaled : unscaled;
        expect(signed).toBe(exponent < 0 ? value : value * 10n ** BigInt(exponent));
      }),
    );
  });
});

describe('uomName', () => {
  it('names the common codes and keeps unknown ones', () => {
    expect(['72', '169', '38', '42', '128', '119'].map(uomName)).toEqual([
      'Wh',
      'therm',
      'W',
      'm3',
      'USGal',
      'ft3',
    ]);
    expect(uomName('999')).toBe('999');
    expect(uomName('toString')).toBe('toString');
  });
});
