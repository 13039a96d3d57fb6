// Goal: the MDFF reader turns real NEM12/NEM13 files into exact events, reports every broken file's
// problems by line, and never depends on chunking. Method: fixtures, hand-read facts, fast-check.
import { readFileSync, readdirSync } from 'node:fs';
import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  NEM12_LINE_BYTES_MAX,
  createNem12Reader,
  intervalStartUtcMs,
  toKwhDecimal,
  type Nem12Event,
  type Nem12IntervalDayEvent,
  type Nem12ProblemCode,
} from './nem12-reader.js';
import { INVALID_EXPECTATIONS } from './nem12-fixtures.js';
import { pushSplit } from '../../test-support/split.js';

const FIXTURES = new URL('../../../test/fixtures/nem12/', import.meta.url);
const VALID_FILES = readdirSync(new URL('valid/', FIXTURES)).sort();
const INVALID_FILES = readdirSync(new URL('invalid/', FIXTURES)).sort();

function fixture(folder: 'valid' | 'invalid', name: string): Buffer {
  // The names hold '#', which a URL would read as a fragment.
  return readFileSync(`${new URL(`${folder}/`, FIXTURES).pathname}${name}`);
}

function readAll(bytes: Uint8Array, splitPoints: number[] = []): Nem12Event[] {
  return pushSplit(createNem12Reader(), bytes, splitPoints);
}

function readText(text: string): Nem12Event[] {
  return readAll(Buffer.from(text, 'utf8'));
}

function problemsOf(events: Nem12Event[]): Array<[number, Nem12ProblemCode]> {
  return events.flatMap((event) => (event.kind === 'problem' ? [[event.line, event.code]] : []));
}

function days(events: Nem12Event[]): Nem12IntervalDayEvent[] {
  return events.filter((event): event is Nem12IntervalDayEvent => event.kind === 'intervalDay');
}

/** Exact sum of unsigned decimals as a canonical decimal string, through BigInt. */
function sumDecimals(values: string[]): string {
  const scale = Math.max(0, ...values.map((value) => (value.split('.')[1] ?? '').length));
  const total = values.reduce((sum, value) => {
    const [integer = '', fraction = ''] = value.split('.');
    return sum + BigInt(`${integer || '0'}${fraction.padEnd(scale, '0')}`);
  }, 0n);
  const digits = total.toString().padStart(scale + 1, '0');
  const integer = digits.slice(0, digits.length - scale);
  const fraction = digits.slice(digits.length - scale).replace(/0+$/, '');
  return fraction === '' ? integer : `${integer}.${fraction}`;
}

describe('valid fixtures', () => {
  it.each(VALID_FILES)('%s reads without problems, a full day per 300', (name) => {
    const events = readAll(fixture('valid', name));
    expect(problemsOf(events)).toEqual([]);
    expect(events[0]?.kind).toBe('header');
    expect(events.filter((event) => event.kind === 'end')).toHaveLength(1);
    for (const day of days(events)) {
      expect(day.values).toHaveLength(1440 / day.channel.intervalMinutes);
    }
  });

  it('reads hand-checked facts of nemreader multiple_quality (one V day, three 400s)', () => {
    const events = readAll(fixture('valid', 'nemreader-Example_NEM12_multiple_quality.csv'));
    const [day] = days(events);
    expect(day?.channel).toMatchObject({ nmi: 'CCCC123456', nmiSuffix: 'E1', unit: 'kWh' });
    expect(day?.intervalDate).toBe('20040417');
    expect(day?.qualityFlag).toBe('V');
    expect(day?.updateDateTime).toBe('20040418203500');
    expect(sumDecimals(day?.values ?? [])).toBe('896.99');
    const ranges = events.flatMap((event) =>
      event.kind === 'intervalEvent'
        ? [[event.startInterval, event.endInterval, event.qualityMethod, event.reasonCode]]
        : [],
    );
    expect(ranges).toEqual([
      [1, 20, 'F14', '76'],
      [21, 24, 'A', null],
      [25, 48, 'S14', '1'],
    ]);
  });

  it('reads hand-checked facts of AEMO 000000000000003 (repeated 200s, KWH and KVARH)', () => {
    const events = readAll(fixture('valid', 'aemo-NEM12#000000000000003#CNRGYMDP#NEMMCO.csv'));
    const all = days(events);
    expect(all).toHaveLength(8);
    expect(new Set(all.map((day) => `${day.channel.nmiSuffix}:${day.channel.unit}`))).toEqual(
      new Set(['E1:kWh', 'Q1:kVArh']),
    );
    const first = all[0];
    expect(first?.channel.nmi).toBe('NEM1203042');
    expect(first?.intervalDate).toBe('20040410');
    expect(sumDecimals(first?.values ?? [])).toBe('869.1');
    const details = events.filter((event) => event.kind === 'nmiDetails');
    expect(details[0]).toMatchObject({ unitAsSent: 'KWH', unit: 'kWh', intervalMinutes: 30 });
    // Every line of AEMO's file ends with CRLF, which is not a departure; its units and repeated
    // 200s are.
    const tolerated = new Set(events.flatMap((event) => event.tolerated.map((note) => note.code)));
    expect(tolerated).toEqual(new Set(['unit_case', 'repeated_nmi_details']));
    expect(details[2]?.tolerated.map((note) => note.code)).toContain('repeated_nmi_details');
    const second400 = events.filter((event) => event.kind === 'intervalEvent')[1];
    expect(second400).toMatchObject({
      line: 5,
      startInterval: 7,
      endInterval: 7,
      reasonCode: '89',
    });
  });

  it('reads hand-checked facts of GLOBALM 05050200001000000 (15-minute Wh)', () => {
    const events = readAll(fixture('valid', 'aemo-NEM12#05050200001000000#GLOBALM#NEMMCO'));
    const all = days(events);
    expect(all).toHaveLength(8);
    const first = all[0];
    expect(first?.channel).toMatchObject({ nmi: 'NEM1201005', unit: 'Wh', intervalMinutes: 15 });
    expect(first?.values).toHaveLength(96);
    expect(first?.qualityFlag).toBe('A');
    expect(sumDecimals(first?.values ?? [])).toBe('10656');
    expect(toKwhDecimal(sumDecimals(first?.values ?? []), first?.channel.unit ?? '')).toBe(
      '10.656',
    );
    expect(new Set(all.map((day) => day.channel.nmiSuffix))).toEqual(new Set(['E1', 'E2']));
  });

  it('reads hand-checked facts of nemreader partialchannel (5-minute, LF, no padding)', () => {
    const all = days(readAll(fixture('valid', 'nemreader-Example_NEM12_partialchannel.csv')));
    expect(all.filter((day) => day.channel.nmiSuffix === 'B1')).toHaveLength(1);
    expect(all.filter((day) => day.channel.nmiSuffix === 'E1')).toHaveLength(31);
    expect(all[0]?.values).toHaveLength(288);
    expect(all[0]?.intervalDate).toBe('20230301');
    expect(sumDecimals(all[0]?.values ?? [])).toBe('23.166');
  });

  it('reads a NEM13 250 accumulation read exactly', () => {
    const events = readAll(fixture('valid', 'nemreader-Example_NEM13_consumption_data.csv'));
    expect(events[0]).toMatchObject({ kind: 'header', version: 'NEM13' });
    const read = events.find((event) => event.kind === 'accumulation');
    expect(read).toMatchObject({
      indicator: '250',
      nmi: 'VABC005890',
      previousRegisterRead: '006342.8',
      currentRegisterRead: '007654.9',
      quantity: '1312.1',
      unit: 'kWh',
      updateDateTime: '20040108100333',
    });
    expect(read?.tolerated.map((note) => note.code)).toContain('whitespace_trimmed');
  });

  it('gives every event the byte span of its own line', () => {
    const bytes = fixture('valid', 'aemo-NEM12#SCENARIO10#UNITEDDP#NEMMCO.csv');
    const lines = bytes.toString('latin1').split('\n');
    for (const event of readAll(bytes)) {
      const text = bytes.toString('latin1', event.byteOffset, event.byteOffset + event.byteLength);
      expect(text).toBe(lines[event.line - 1]?.replace(/\r$/, ''));
    }
  });
});

describe('invalid fixtures', () => {
  it('has an expectation for every invalid fixture', () => {
    expect(Object.keys(INVALID_EXPECTATIONS).sort()).toEqual(INVALID_FILES);
  });

  it.each(INVALID_FILES)('%s yields its documented problems and keeps the rest', (name) => {
    const expected = INVALID_EXPECTATIONS[name];
    const events = readAll(fixture('invalid', name));
    expect(problemsOf(events)).toEqual(expected?.problems);
    expect(days(events)).toHaveLength(expected?.days ?? -1);
    for (const event of events) {
      if (event.kind === 'problem') expect(event.message).toMatch(/^[A-Z0-9].*\.$/);
    }
  });

  it('names the counts in an interval count mismatch', () => {
    const events = readAll(fixture('invalid', 'nemreader-Example_NEM12_15min_200_30min_300.csv'));
    const mismatch = events.find((event) => event.kind === 'problem');
    expect(mismatch?.kind === 'problem' && mismatch.message).toBe(
      'The 300 record on line 3 has 48 interval values, but the 200 record on line 2 declares ' +
        '15-minute intervals, so it needs 96.',
    );
  });
});

const HEADER = '100,NEM12,200505121042,MDP,RETAILER';
const DETAILS_30 = '200,NMI0000001,E1Q1,1,E1,N1,MET1,kWh,30,20050501';
const values = (count: number, value = '1.5'): string => Array(count).fill(value).join(',');
const day = (date: string, count = 48): string =>
  `300,${date},${values(count)},A,,,20050402000000,`;

describe('dialects and synthetic errors', () => {
  it('tolerates padding, missing optional fields, case, CRLF, blank lines and a second 900', () => {
    const text = [
      '',
      '',
      `${HEADER},,,`,
      '200,NMI0000001,E1Q1,1,E1,N1,MET1,kwh,30',
      `300,20050401,${values(48)},A`,
      '200,NMI0000001,E1Q1,1,E1,N1,MET1,KWH,30,',
      day('20050402'),
      '900',
      '900',
    ].join('\r\n');
    const events = readText(text);
    expect(problemsOf(events)).toEqual([]);
    const notes = (line: number): string[] =>
      events.find((event) => event.line === line)?.tolerated.map((note) => note.code) ?? [];
    expect(notes(3)).toEqual(['blank_lines_skipped', 'trailing_empty_fields']);
    expect(notes(4)).toEqual(['optional_fields_missing', 'unit_case']);
    expect(notes(5)).toEqual(['optional_fields_missing']);
    expect(notes(6)).toContain('repeated_nmi_details');
    expect(notes(9)).toEqual(['repeated_end']);
    expect(days(events).map((event) => event.channel.unit)).toEqual(['kWh', 'kWh']);
  });

  it('reports a hard-wrapped 300 row on each of its lines and reads on', () => {
    const text = [
      HEADER,
      DETAILS_30,
      `300,20050401,${values(20)},`,
      `${values(28)},A,,,20050402000000,`,
      day('20050402'),
      '900',
      '',
    ].join('\n');
    const events = readText(text);
    expect(problemsOf(events)).toEqual([
      [3, 'record_truncated'],
      [4, 'interval_row_wrapped'],
    ]);
    expect(days(events).map((event) => event.intervalDate)).toEqual(['20050402']);
  });

  it('reports bad values, flags, indicators and dates, and later records after 900', () => {
    const text = [
      HEADER,
      DETAILS_30,
      `300,20050401,${values(47)},1e3,A,,,,`,
      `300,20050402,${values(48)},E,,,,`,
      `300,20050403,${values(48)},X52,,,,`,
      `300,20050231,${values(48)},A,,,,`,
      '350,whatever',
      day('20050404'),
      '900',
      day('20050405'),
    ].join('\n');
    const events = readText(text);
    expect(problemsOf(events)).toEqual([
      [3, 'value_not_decimal'],
      [4, 'quality_invalid'],
      [5, 'quality_invalid'],
      [6, 'interval_date_invalid'],
      [7, 'unknown_record'],
      [10, 'records_after_end'],
    ]);
    expect(days(events).map((event) => event.intervalDate)).toEqual(['20050404', '20050405']);
    const bad = events.find((event) => event.kind === 'problem');
    expect(bad?.kind === 'problem' && bad.message).toBe(
      "The 300 record on line 3 holds '1e3' for interval 48, " +
        'which is not an unsigned decimal number.',
    );
  });

  it('refuses an UpdateDateTime that is not a DateTime(14), since it becomes the seq', () => {
    const text = [
      HEADER,
      DETAILS_30,
      `300,20050401,${values(48)},A,,,2005040\u000012345,`,
      `300,20050402,${values(48)},A,,,1e400,`,
      `300,20050403,${values(48)},A,,,20050404010203,2005040401020`,
      `300,20050404,${values(48)},A,,,20050405010203,20050405010203`,
      '900',
    ].join('\n');
    const events = readText(text);
    expect(problemsOf(events)).toEqual([
      [3, 'update_datetime_invalid'],
      [4, 'update_datetime_invalid'],
      [5, 'update_datetime_invalid'],
    ]);
    expect(days(events).map((event) => event.updateDateTime)).toEqual(['20050405010203']);
  });

  it('skips an oversized line without holding it, then reads on', () => {
    const reader = createNem12Reader();
    const events = [...reader.push(Buffer.from(`${HEADER}\n${DETAILS_30}\n300,20050401,`))];
    const piece = Buffer.alloc(64 * 1024, '1,');
    for (let index = 0; index < 20; index++) events.push(...reader.push(piece));
    events.push(...reader.push(Buffer.from(`A,,,,\n${day('20050402')}\n900\n`)), ...reader.end());
    expect(problemsOf(events)).toEqual([[3, 'line_too_long']]);
    const tooLong = events.find((event) => event.kind === 'problem');
    expect(tooLong?.byteLength).toBeGreaterThan(NEM12_LINE_BYTES_MAX);
    expect(days(events).map((event) => event.line)).toEqual([4]);
  });

  it('reports a file of blank lines as empty, and a byte order mark is skipped', () => {
    expect(problemsOf(readText('\n\r\n  \n'))).toEqual([[3, 'empty_file']]);
    const events = readText(`\uFEFF${HEADER}\n${DETAILS_30}\n${day('20050401')}\n900\n`);
    expect(problemsOf(events)).toEqual([]);
    expect(events[0]).toMatchObject({ kind: 'header', byteOffset: 3, fromParticipant: 'MDP' });
  });
});

describe('properties', () => {
  const samples = [
    'aemo-NEM12#000000000000003#CNRGYMDP#NEMMCO.csv',
    'aemo-NEM12#SCENARIO10#UNITEDDP#NEMMCO.csv',
    'nemreader-Example_NEM12_partialchannel.csv',
    'nemreader-Example_NEM13_forward_estimate.csv',
  ].map((name) => fixture('valid', name));
  const invalidSamples = INVALID_FILES.map((name) => fixture('invalid', name));
  // A byte order mark and multi-byte UTF-8 that split points may cut through.
  const markedSample = Buffer.from(
    `\uFEFF100,NEM12,200505121042,MDP\u00e9,RET\r\n${DETAILS_30}\r\n${day('20050401')}\r\n900`,
  );
  const anyFile = fc.constantFrom(...samples, ...invalidSamples, markedSample);

  it('gives identical events for any chunk split', () => {
    fc.assert(
      fc.property(
        anyFile.chain((bytes) =>
          fc.tuple(
            fc.constant(bytes),
            fc.array(fc.integer({ min: 0, max: bytes.length }), { maxLength: 30 }),
          ),
        ),
        ([bytes, splitPoints]) => {
          expect(readAll(bytes, splitPoints)).toEqual(readAll(bytes));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('never throws on corruption and never yields a value that was not in its line', () => {
    const edit = fc.record({
      at: fc.nat(),
      length: fc.nat({ max: 40 }),
      insert: fc.string({
        unit: fc.constantFrom(
          ',',
          '\n',
          '\r',
          '3',
          '0',
          '.',
          'A',
          'V',
          '-',
          ' ',
          '\u00e9',
          '\uFEFF',
        ),
        maxLength: 12,
      }),
    });
    fc.assert(
      fc.property(anyFile, fc.array(edit, { maxLength: 8 }), (original, edits) => {
        let text = original.toString('latin1');
        for (const { at, length, insert } of edits) {
          const index = at % (text.length + 1);
          text = text.slice(0, index) + insert + text.slice(index + length);
        }
        const bytes = Buffer.from(text, 'utf8');
        const events = readAll(bytes);
        for (const event of events) {
          const line = bytes.toString(
            'utf8',
            event.byteOffset,
            event.byteOffset + event.byteLength,
          );
          const fields = line.split(',').map((field) => field.trim());
          if (event.kind === 'intervalDay') {
            expect(event.values.every((value) => fields.includes(value))).toBe(true);
          }
          if (event.kind === 'accumulation' && event.indicator === '250') {
            expect(fields).toContain(event.quantity);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});

/** Days since 1970-01-01 of a proleptic Gregorian date, in BigInt (H. Hinnant's algorithm). */
function daysFromCivil(year: bigint, month: bigint, day: bigint): bigint {
  const shiftedYear = month <= 2n ? year - 1n : year;
  const era = (shiftedYear >= 0n ? shiftedYear : shiftedYear - 399n) / 400n;
  const yearOfEra = shiftedYear - era * 400n;
  const dayOfYear = (153n * (month > 2n ? month - 3n : month + 9n) + 2n) / 5n + day - 1n;
  const dayOfEra = yearOfEra * 365n + yearOfEra / 4n - yearOfEra / 100n + dayOfYear;
  return era * 146097n + dayOfEra - 719468n;
}

describe('time helper', () => {
  it('starts the first interval of a NEM day at 14:00 UTC the day before', () => {
    expect(intervalStartUtcMs('20040417', 0, 30)).toBe(Date.parse('2004-04-16T14:00:00Z'));
    expect(intervalStartUtcMs('20050101', 95, 15)).toBe(Date.parse('2005-01-01T13:45:00Z'));
    expect(() => intervalStartUtcMs('20050229', 0, 30)).toThrow();
    expect(() => intervalStartUtcMs('20050101', 48, 30)).toThrow();
  });

  it('matches exact BigInt arithmetic for any date, length and interval', () => {
    const date = fc.record({
      year: fc.integer({ min: 1990, max: 2200 }),
      month: fc.integer({ min: 1, max: 12 }),
      day: fc.integer({ min: 1, max: 28 }),
    });
    const length = fc.constantFrom(5, 15, 30);
    fc.assert(
      fc.property(date, length, fc.nat(), ({ year, month, day }, minutes, seed) => {
        const index = seed % (1440 / minutes);
        const text = `${year}${String(month).padStart(2, '0')}${String(day).padStart(2, '0')}`;
        const days = daysFromCivil(BigInt(year), BigInt(month), BigInt(day));
        const expected =
          days * 86_400_000n - 36_000_000n + BigInt(index) * BigInt(minutes) * 60_000n;
        expect(BigInt(intervalStartUtcMs(text, index, minutes))).toBe(expected);
      }),
    );
  });
});

describe('unit helper', () => {
  it('moves the decimal point exactly and refuses non-energy units', () => {
    expect(toKwhDecimal('1500', 'Wh')).toBe('1.5');
    expect(toKwhDecimal('0.5', 'WH')).toBe('0.0005');
    expect(toKwhDecimal('18.300', 'kWh')).toBe('18.3');
    expect(toKwhDecimal('0.0125', 'mwh')).toBe('12.5');
    expect(toKwhDecimal('000', 'Wh')).toBe('0');
    expect(toKwhDecimal('12.5', 'kVArh')).toBeNull();
    expect(toKwhDecimal('12.5', 'kW')).toBeNull();
    expect(toKwhDecimal('.', 'kWh')).toBeNull();
    expect(toKwhDecimal('1e3', 'kWh')).toBeNull();
  });

  /** A decimal string as an exact fraction numerator / 10^scale. */
  const rational = (text: string): { numerator: bigint; scale: number } => {
    const [integer = '', fraction = ''] = text.replace('-', '').split('.');
    const magnitude = BigInt(`${integer}${fraction}` || '0');
    return { numerator: text.startsWith('-') ? -magnitude : magnitude, scale: fraction.length };
  };

  it('is exact and canonical for any decimal, per BigInt', () => {
    const decimal = fc
      .tuple(
        fc.boolean(),
        fc.string({ unit: fc.constantFrom('0', '1', '5', '9'), minLength: 1, maxLength: 25 }),
        fc.option(fc.string({ unit: fc.constantFrom('0', '3', '7'), maxLength: 25 })),
      )
      .map(
        ([negative, integer, fraction]) =>
          `${negative ? '-' : ''}${integer}${fraction === null ? '' : `.${fraction}`}`,
      );
    const units = fc.constantFrom(['Wh', -3], ['kWh', 0], ['MWh', 3], ['wH', -3]) as fc.Arbitrary<
      [string, number]
    >;
    fc.assert(
      fc.property(decimal, units, (value, [unit, exponent]) => {
        const result = toKwhDecimal(value, unit);
        expect(result).toMatch(/^(-?(0|[1-9]\d*)(\.\d*[1-9])?)$/);
        expect(result).not.toBe('-0');
        const input = rational(value);
        const output = rational(result ?? '');
        // output = input * 10^exponent, cross-multiplied so that no side is ever divided.
        const left = output.numerator * 10n ** BigInt(input.scale + Math.max(0, -exponent));
        const right = input.numerator * 10n ** BigInt(output.scale + Math.max(0, exponent));
        expect(left).toBe(right);
      }),
    );
  });
});
