// Goal: the cell readers turn separators, units and local times into exact kWh and UTC instants,
// refusing what is ambiguous. Method: hand-checked cases, with BigInt and Temporal as oracles.
import fc from 'fast-check';
import { Temporal } from 'temporal-polyfill';
import { describe, expect, it } from 'vitest';
import {
  compileTimestampPattern,
  createDecimalReader,
  createTimestampReader,
  normaliseEnergyUnit,
  readIntervalSeconds,
  toKwhDecimal,
} from './csv-dialect-values.js';

describe('decimal reader', () => {
  it('reads a decimal comma with dot grouping, grouped or not', () => {
    const read = createDecimalReader(',', '.');
    expect(read('1.234,5')).toEqual({ ok: true, decimal: '1234.5' });
    expect(read('1.234.567')).toEqual({ ok: true, decimal: '1234567' });
    expect(read('1234,5')).toEqual({ ok: true, decimal: '1234.5' });
    expect(read('-0,125')).toEqual({ ok: true, decimal: '-0.125' });
    expect(read('987,5')).toEqual({ ok: true, decimal: '987.5' });
  });

  it('refuses grouping by anything but threes, and a second decimal separator', () => {
    const read = createDecimalReader(',', '.');
    for (const text of ['12.34,5', '1.2345', '1,2,3', ',5', '5,', '1.234,5.6']) {
      expect(read(text)).toMatchObject({ ok: false, code: 'value_separator' });
    }
  });

  it('never guesses an undeclared thousands separator', () => {
    const comma = createDecimalReader(',', null);
    expect(comma('1.234,5')).toEqual({
      ok: false,
      code: 'value_separator',
      reason:
        'holds ".", which the dialect declares neither as its decimal separator (",") nor as ' +
        'a thousands separator',
    });
    expect(comma('1.234')).toMatchObject({ code: 'value_separator' });
    const dot = createDecimalReader('.', null);
    expect(dot('1,234')).toMatchObject({ code: 'value_separator' });
    expect(dot('1,5')).toMatchObject({ code: 'value_separator' });
    expect(dot('1.5')).toEqual({ ok: true, decimal: '1.5' });
  });

  it('reads space and no-break space groups only as declared', () => {
    const read = createDecimalReader('.', ' ');
    expect(read('1 234.5')).toEqual({ ok: true, decimal: '1234.5' });
    expect(read('1\u00a0234.5')).toMatchObject({ code: 'value_separator' });
    expect(createDecimalReader(',', '\u00a0')('1\u00a0234,5')).toEqual({
      ok: true,
      decimal: '1234.5',
    });
  });

  it('calls text without digits, signs other than minus and exponents not decimal', () => {
    const read = createDecimalReader('.', ',');
    for (const text of ['abc', '+1', '1e3', '0x10', '1.5 kWh', '-', '--1', 'NaN']) {
      expect(read(text)).toMatchObject({ ok: false, code: 'value_not_decimal' });
    }
  });
});

describe('kWh conversion', () => {
  it('moves the point exactly for Wh, kWh and MWh', () => {
    expect(toKwhDecimal('1234.5', 'Wh')).toEqual({ ok: true, valueKwh: '1.234500' });
    expect(toKwhDecimal('0.001', 'Wh')).toEqual({ ok: true, valueKwh: '0.000001' });
    expect(toKwhDecimal('18.300', 'kWh')).toEqual({ ok: true, valueKwh: '18.300000' });
    expect(toKwhDecimal('0.0125', 'MWh')).toEqual({ ok: true, valueKwh: '12.500000' });
    expect(toKwhDecimal('-2', 'MWh')).toEqual({ ok: true, valueKwh: '-2000.000000' });
    expect(toKwhDecimal('000', 'Wh')).toEqual({ ok: true, valueKwh: '0.000000' });
  });

  it('refuses digits below a milliwatt-hour, magnitudes past 2^53 milliWh and -0', () => {
    expect(toKwhDecimal('0.0001', 'Wh')).toMatchObject({ ok: false, code: 'value_precision' });
    expect(toKwhDecimal('0.0000001', 'kWh')).toMatchObject({ code: 'value_precision' });
    expect(toKwhDecimal('9007199254.741', 'kWh')).toMatchObject({ code: 'value_range' });
    expect(toKwhDecimal('9007199.254740991', 'MWh')).toEqual({
      ok: true,
      valueKwh: '9007199254.740991',
    });
    expect(toKwhDecimal('-0.000', 'kWh')).toMatchObject({ code: 'value_negative_zero' });
  });

  it('normalises unit case and refuses other units', () => {
    expect(normaliseEnergyUnit('KWH')).toBe('kWh');
    expect(normaliseEnergyUnit('wh')).toBe('Wh');
    expect(normaliseEnergyUnit('MWh')).toBe('MWh');
    for (const unit of ['kW', 'kVArh', 'kWh ', 'J', ''])
      expect(normaliseEnergyUnit(unit)).toBeNull();
  });

  it('is exact per BigInt for any decimal and unit, or refuses only what it must', () => {
    const decimal = fc
      .tuple(
        fc.boolean(),
        fc.string({ unit: fc.constantFrom('0', '1', '4', '9'), minLength: 1, maxLength: 12 }),
        fc.option(fc.string({ unit: fc.constantFrom('0', '3', '8'), minLength: 1, maxLength: 10 })),
      )
      .map(([negative, integer, fraction]) => ({
        text: `${negative ? '-' : ''}${integer}${fraction === null ? '' : `.${fraction}`}`,
        negative,
        digits: BigInt(`${integer}${fraction ?? ''}`),
        scale: fraction?.length ?? 0,
      }));
    const units = fc.constantFrom(['Wh', -3], ['kWh', 0], ['MWh', 3]) as fc.Arbitrary<
      ['Wh' | 'kWh' | 'MWh', number]
    >;
    fc.assert(
      fc.property(decimal, units, (value, [unit, exponent]) => {
        // The exact value in milliWh is digits * 10^(exponent + 6 - scale).
        const power = exponent + 6 - value.scale;
        const divisor = power < 0 ? 10n ** BigInt(-power) : 1n;
        const exact = power < 0 ? value.digits : value.digits * 10n ** BigInt(power);
        const result = toKwhDecimal(value.text, unit);
        if (exact % divisor !== 0n) {
          expect(result).toMatchObject({ code: 'value_precision' });
          return;
        }
        const milliWh = exact / divisor;
        if (milliWh > BigInt(Number.MAX_SAFE_INTEGER)) {
          expect(result).toMatchObject({ code: 'value_range' });
        } else if (milliWh === 0n && value.negative) {
          expect(result).toMatchObject({ code: 'value_negative_zero' });
        } else {
          const signed = value.negative ? -milliWh : milliWh;
          expect(result.ok && BigInt(result.valueKwh.replace('.', ''))).toBe(signed);
          expect(result.ok && result.valueKwh).toMatch(/^-?\d+\.\d{6}$/);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('interval length reader', () => {
  it('reads whole seconds from 1 to the maximum only', () => {
    expect(readIntervalSeconds('900', 86_400)).toBe(900);
    expect(readIntervalSeconds('86400', 86_400)).toBe(86_400);
    for (const text of ['0', '86401', '15m', '900.0', '-900', '', '000000900']) {
      expect(readIntervalSeconds(text, 86_400)).toBeNull();
    }
  });
});

describe('timestamp patterns', () => {
  it('compiles tokens and literals, and explains what is not a pattern', () => {
    expect(compileTimestampPattern('DD.MM.YYYY HH:mm')).toMatchObject({
      roles: ['day', 'month', 'year', 'hour', 'minute'],
    });
    expect(compileTimestampPattern('M/D/YYYY h:mm:ss A')).toMatchObject({
      roles: ['month', 'day', 'year', 'hour12', 'minute', 'second', 'meridiem'],
    });
    expect(compileTimestampPattern('YYYY-MM-DDTHH:mm')).not.toBeTypeOf('string');
    expect(compileTimestampPattern('YYYYMMDDHHmm')).not.toBeTypeOf('string');
    expect(compileTimestampPattern('DD.MM.YY HH:mm')).toBe('holds the letter Y, not a token');
    expect(compileTimestampPattern('DD.MM.YYYY HH:MM')).toBe('repeats the month token');
    expect(compileTimestampPattern('DD.MM.YYYY HH')).toBe('has no minute token');
    expect(compileTimestampPattern('DD.MM.YYYY hh:mm')).toBe(
      'needs A exactly when the hour is hh or h',
    );
    expect(compileTimestampPattern('DD.MM.YYYY HH:mm A')).toBe(
      'needs A exactly when the hour is hh or h',
    );
    expect(compileTimestampPattern('DD.MM.YYYY mm')).toBe(
      'needs one hour token, HH or H or hh or h',
    );
  });

  it('reads day-first local times in Berlin and refuses the DST gap and overlap', () => {
    const read = createTimestampReader('DD.MM.YYYY HH:mm', 'Europe/Berlin');
    expect(read('31.03.2024 01:45')).toEqual({
      ok: true,
      epochMs: Date.parse('2024-03-31T00:45:00Z'),
    });
    expect(read('31.03.2024 03:00')).toEqual({
      ok: true,
      epochMs: Date.parse('2024-03-31T01:00:00Z'),
    });
    expect(read('31.03.2024 02:30')).toMatchObject({ code: 'timestamp_dst_nonexistent' });
    expect(read('27.10.2024 02:30')).toMatchObject({ code: 'timestamp_dst_ambiguous' });
    expect(read('27.10.2024 03:00')).toEqual({
      ok: true,
      epochMs: Date.parse('2024-10-27T02:00:00Z'),
    });
    for (const text of ['31.02.2024 00:00', '1.3.2024 00:00', '31.03.2024 1:45', '2024-03-31']) {
      expect(read(text)).toMatchObject({ code: 'timestamp_format' });
    }
    expect(read('31.12.1999 23:00')).toMatchObject({ code: 'timestamp_range' });
  });

  it('reads 12-hour US times with AM and PM, and 24:00 as the next midnight', () => {
    const read = createTimestampReader('M/D/YYYY h:mm A', 'America/New_York');
    expect(read('3/10/2024 12:00 AM')).toEqual({
      ok: true,
      epochMs: Date.parse('2024-03-10T05:00:00Z'),
    });
    expect(read('3/10/2024 12:30 pm')).toEqual({
      ok: true,
      epochMs: Date.parse('2024-03-10T16:30:00Z'),
    });
    expect(read('03/10/2024 2:15 AM')).toMatchObject({ code: 'timestamp_dst_nonexistent' });
    expect(read('11/3/2024 1:15 AM')).toMatchObject({ code: 'timestamp_dst_ambiguous' });
    for (const text of ['3/10/2024 13:00 PM', '3/10/2024 0:15 AM', '3/10/2024 1:15']) {
      expect(read(text)).toMatchObject({ code: 'timestamp_format' });
    }
    const endOfDay = createTimestampReader('DD.MM.YYYY HH:mm', 'UTC');
    expect(endOfDay('31.12.2024 24:00')).toEqual({
      ok: true,
      epochMs: Date.parse('2025-01-01T00:00:00Z'),
    });
    expect(endOfDay('29.02.2024 24:00')).toEqual({
      ok: true,
      epochMs: Date.parse('2024-03-01T00:00:00Z'),
    });
    for (const text of ['31.12.2024 24:15', '30.02.2024 24:00', '01.01.2024 25:00']) {
      expect(endOfDay(text)).toMatchObject({ code: 'timestamp_format' });
    }
  });

  it('reads ISO 8601 as sent when it has an offset, else in the zone or fixed offset', () => {
    const fixed = createTimestampReader('iso8601', '+10:00');
    expect(fixed('2024-06-01T00:00:00')).toEqual({
      ok: true,
      epochMs: Date.parse('2024-05-31T14:00:00Z'),
    });
    expect(fixed('2024-06-01T00:00:00Z')).toEqual({
      ok: true,
      epochMs: Date.parse('2024-06-01T00:00:00Z'),
    });
    expect(fixed('2024-06-01 00:00:00')).toMatchObject({ code: 'timestamp_format' });
    expect(fixed('2024-06-01T00:00:00.5')).toMatchObject({ code: 'timestamp_format' });
  });

  it("refuses a local time exactly where Temporal's disambiguation 'reject' does", () => {
    const zones = ['Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe'] as const;
    // Minutes around the transitions of 2024 and 2025, where the interesting cases are.
    const transitions = [
      '2024-03-10T00:00',
      '2024-03-31T00:00',
      '2024-04-07T00:00',
      '2024-10-06T00:00',
      '2024-10-27T00:00',
      '2024-11-03T00:00',
      '2025-03-30T00:00',
      '2025-10-26T00:00',
    ].map((text) => Temporal.PlainDateTime.from(text));
    fc.assert(
      fc.property(
        fc.constantFrom(...zones),
        fc.constantFrom(...transitions),
        fc.integer({ min: -180, max: 72 * 60 }),
        (zone, day, minutes) => {
          const local = day.add({ minutes });
          const text = local.toString({ smallestUnit: 'minute' }).replace('T', ' ');
          const result = createTimestampReader('YYYY-MM-DD HH:mm', zone)(text);
          let expected: number | null;
          try {
            expected = local.toZonedDateTime(zone, { disambiguation: 'reject' }).epochMilliseconds;
          } catch {
            expected = null;
          }
          expect(result.ok ? result.epochMs : null).toBe(expected);
        },
      ),
      { numRuns: 2_000 },
    );
  });
});
