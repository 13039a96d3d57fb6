// Goal: the dialect reader turns three vendors' exports into exact intervals, reports each broken
// record by code and line, and ignores chunking. Method: fixtures, hand-read figures, fast-check.
import { readFileSync } from 'node:fs';
import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatMilliWhAsKwh } from '../../core/decimal.js';
import {
  CSV_DIALECT_RECORD_BYTES_MAX,
  createCsvDialectReader,
  parseCsvDialect,
  type CsvDialect,
  type CsvDialectEvent,
  type CsvDialectIntervalEvent,
  type CsvDialectProblemCode,
} from './csv-dialect-reader.js';
import { pushSplit } from '../../test-support/split.js';
import { SEMICOLON_BERLIN_DIALECT } from '../../test-support/dialects.js';

const FIXTURES = new URL('../../../test/fixtures/csv-dialect/', import.meta.url);

function fixture(name: string): Buffer {
  return readFileSync(new URL(name, FIXTURES));
}

function fixtureDialect(name: string): CsvDialect {
  return parseCsvDialect(
    JSON.parse(readFileSync(new URL(`${name}.dialect.json`, FIXTURES), 'utf8')),
  );
}

const BERLIN = fixtureDialect('eu-semicolon-berlin');
const NEW_YORK = fixtureDialect('us-comma-new-york');
const HEADERLESS = fixtureDialect('headerless-pipe-fixed-offset');

function readAll(
  dialect: CsvDialect,
  bytes: Uint8Array,
  splitPoints: number[] = [],
): CsvDialectEvent[] {
  return pushSplit(createCsvDialectReader(dialect), bytes, splitPoints);
}

/** Events of `text`, checked to be the same for every chunk size from 1 to 7 bytes. */
function readEverySplit(dialect: CsvDialect, text: string | Uint8Array): CsvDialectEvent[] {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  const whole = readAll(dialect, bytes);
  for (let size = 1; size <= 7; size++) {
    const points = Array.from(
      { length: Math.ceil(bytes.length / size) },
      (_, index) => index * size,
    );
    expect(readAll(dialect, bytes, points)).toEqual(whole);
  }
  return whole;
}

function intervals(events: CsvDialectEvent[]): CsvDialectIntervalEvent[] {
  return events.filter((event): event is CsvDialectIntervalEvent => event.kind === 'interval');
}

function problemsOf(events: CsvDialectEvent[]): Array<[number, CsvDialectProblemCode]> {
  return events.flatMap((event) => (event.kind === 'problem' ? [[event.line, event.code]] : []));
}

function notesOf(events: CsvDialectEvent[]): Array<[number, string | number | null]> {
  return events.flatMap((event) => (event.kind === 'note' ? [[event.line, event.column]] : []));
}

/** Exact sum of six-decimal kWh strings, through BigInt milliWh. */
function totalKwh(events: CsvDialectIntervalEvent[]): string {
  const milliWh = events.reduce((sum, event) => sum + BigInt(event.valueKwh.replace('.', '')), 0n);
  return formatMilliWhAsKwh(milliWh);
}

const iso = (ms: number | undefined): string => new Date(ms ?? Number.NaN).toISOString();

describe('fixtures', () => {
  it('reads the Berlin export: decimal comma, interval ends, both DST days', () => {
    const events = readEverySplit(BERLIN, fixture('eu-semicolon-berlin.csv'));
    const all = intervals(events);
    // 12 + 4 on the spring day (an hour short), 5 on the autumn day (its repeated hour refused).
    expect(all).toHaveLength(21);
    expect(iso(all[0]?.intervalStartUtcMs)).toBe('2024-03-30T23:00:00.000Z');
    expect(iso(all.at(-1)?.intervalStartUtcMs)).toBe('2024-10-27T02:00:00.000Z');
    // 1.378 + 0.451 kWh for the household meter, 4399.875 kWh for the transformer-rated one.
    expect(totalKwh(all)).toBe('4401.704000');
    expect(problemsOf(events)).toEqual(
      [25, 26, 27, 28, 29, 30, 31, 32].map((line) => [line, 'timestamp_dst_ambiguous']),
    );
    expect(notesOf(events)).toEqual([
      [4, 'Zeit von'],
      [4, 'Bemerkung'],
    ]);
  });

  it('converts Berlin interval ends to starts across the spring gap', () => {
    const all = intervals(readAll(BERLIN, fixture('eu-semicolon-berlin.csv')));
    const household = all.filter((event) => event.meterId.endsWith('123456')).slice(0, 12);
    expect(household.map((event) => event.intervalStartUtcMs)).toEqual(
      Array.from(
        { length: 12 },
        (_, index) => Date.parse('2024-03-30T23:00:00Z') + index * 900_000,
      ),
    );
    expect(household[7]).toMatchObject({ line: 12, valueAsSent: '0,120', valueKwh: '0.120000' });
    expect(all.map((event) => event.quality).filter((quality) => quality !== 'actual')).toEqual([
      'substituted',
      'estimated',
      'substituted',
    ]);
  });

  it('locates a record with a quoted newline at its first line, with its exact bytes', () => {
    const bytes = fixture('eu-semicolon-berlin.csv');
    const record = intervals(readAll(BERLIN, bytes)).find((event) => event.line === 17);
    expect(record).toMatchObject({ valueAsSent: '1.204,250', valueKwh: '1204.250000' });
    const text = bytes.toString(
      'utf8',
      record?.byteOffset,
      (record?.byteOffset ?? 0) + (record?.byteLength ?? 0),
    );
    expect(text.endsWith('"Wandlerfaktor 40;\r\nZähler ""Z-17"" getauscht"')).toBe(true);
    expect(text.startsWith('DE0005626680200000000000000987654;')).toBe(true);
    const next = intervals(readAll(BERLIN, bytes)).find(
      (event) => event.valueAsSent === '1.198,000',
    );
    expect(next?.line).toBe(19);
  });

  it('reads the New York export: 12-hour local starts, Wh with grouping, the spring gap', () => {
    const events = readEverySplit(NEW_YORK, fixture('us-comma-new-york.csv'));
    const all = intervals(events);
    expect(all).toHaveLength(15);
    expect(iso(all[0]?.intervalStartUtcMs)).toBe('2024-03-10T05:00:00.000Z');
    expect(iso(all.at(-1)?.intervalStartUtcMs)).toBe('2024-03-10T07:30:00.000Z');
    // 6283.5 Wh on meter 88213456 and 27.75 Wh on meter 88213457.
    expect(totalKwh(all)).toBe('6.311250');
    expect(problemsOf(events)).toEqual([]);
    expect(notesOf(events)).toEqual([[1, 'Account Number']]);
    expect(all[8]).toMatchObject({
      meterId: '88213456',
      channel: '1',
      intervalStartUtcMs: Date.parse('2024-03-10T07:00:00Z'),
      valueAsSent: '1,250',
      valueKwh: '1.250000',
      unitAsSent: 'Wh',
    });
    expect(all.at(-1)).toMatchObject({ channel: '2', unitAsSent: 'WH', quality: 'estimated' });
  });

  it('maps drifted columns by name: the reordered export gives the same intervals', () => {
    const events = readEverySplit(NEW_YORK, fixture('us-comma-new-york-reordered.csv'));
    const strip = (event: CsvDialectIntervalEvent) => {
      const { byteOffset: _offset, byteLength: _length, ...rest } = event;
      return rest;
    };
    const original = intervals(readAll(NEW_YORK, fixture('us-comma-new-york.csv')));
    expect(intervals(events).map(strip)).toEqual(original.map(strip));
    expect(notesOf(events)).toEqual([
      [1, 'Service Address'],
      [1, 'Account Number'],
    ]);
    expect(problemsOf(events)).toEqual([]);
  });

  it('reads the headerless pipe export by position in a fixed offset', () => {
    const events = readEverySplit(HEADERLESS, fixture('headerless-pipe-fixed-offset.csv'));
    const all = intervals(events);
    expect(all).toHaveLength(8);
    expect(iso(all[0]?.intervalStartUtcMs)).toBe('2024-05-31T14:00:00.000Z');
    expect(iso(all.at(-1)?.intervalStartUtcMs)).toBe('2024-05-31T15:30:00.000Z');
    expect(totalKwh(all)).toBe('1.904000');
    expect(events.filter((event) => event.kind !== 'interval')).toEqual([]);
    expect(all.map((event) => event.line)).toEqual([2, 3, 4, 5, 7, 8, 9, 10]);
    expect(all.map((event) => event.channel)).toEqual([
      'E1',
      'E1',
      'E1',
      'E1',
      'B1',
      'B1',
      'B1',
      'B1',
    ]);
    expect(all.every((event) => event.intervalSeconds === 1800)).toBe(true);
  });

  it('gives every interval the byte span of its own record', () => {
    for (const [name, dialect] of [
      ['eu-semicolon-berlin.csv', BERLIN],
      ['us-comma-new-york-reordered.csv', NEW_YORK],
      ['headerless-pipe-fixed-offset.csv', HEADERLESS],
    ] as const) {
      const bytes = fixture(name);
      const lines = bytes
        .toString('utf8')
        .replace(/^\uFEFF/, '')
        .split('\n');
      for (const event of intervals(readAll(dialect, bytes))) {
        const text = bytes.toString('utf8', event.byteOffset, event.byteOffset + event.byteLength);
        if (event.line !== 17) expect(text).toBe(lines[event.line - 1]?.replace(/\r$/, ''));
        expect(bytes[event.byteOffset - 1]).toBe(0x0a);
      }
    }
  });
});

/** A small dialect for the problem cases: semicolons, decimal comma, local starts in Berlin. */
const TEST_DIALECT = parseCsvDialect({
  ...SEMICOLON_BERLIN_DIALECT,
  columns: {
    ...SEMICOLON_BERLIN_DIALECT.columns,
    quality: { column: 'flag', map: { A: 'actual', E: 'estimated' } },
  },
});
const HEADER = 'meter;channel;start;seconds;value;unit;flag';
const GOOD = 'M1;1;02.01.2024 00:00;900;0,5;kWh;A';

function lines(...rows: string[]): string {
  return `${rows.join('\n')}\n`;
}

describe('problems', () => {
  it('reports a file without a header; a header with no records is no problem', () => {
    expect(problemsOf(readEverySplit(TEST_DIALECT, ''))).toEqual([[1, 'header_missing']]);
    expect(problemsOf(readEverySplit(TEST_DIALECT, '\uFEFF\r\n \n'))).toEqual([
      [1, 'header_missing'],
    ]);
    const skipping = parseCsvDialect({ ...TEST_DIALECT, skipLines: 2 });
    expect(problemsOf(readEverySplit(skipping, 'banner\nmore banner\n'))).toEqual([
      [1, 'header_missing'],
    ]);
    // A header and nothing after it is a well-formed empty delivery (see empty-delivery.ts).
    expect(readEverySplit(TEST_DIALECT, HEADER)).toEqual([]);
    expect(readEverySplit(TEST_DIALECT, lines(HEADER, '', ';;;;;;', ' ; ;', '\r'))).toEqual([]);
  });

  it('reports a header that cannot be read once, and reads nothing after it', () => {
    const wide = Array.from({ length: 65 }, (_, index) => `c${index}`).join(';');
    const oversized = 'h'.repeat(CSV_DIALECT_RECORD_BYTES_MAX + 1);
    for (const header of ['meter;"channel;start', 'meter;ch"annel', wide, oversized]) {
      const events = readEverySplit(TEST_DIALECT, lines(header, GOOD));
      expect(problemsOf(events)).toEqual([[1, 'header_unreadable']]);
      expect(intervals(events)).toEqual([]);
    }
    const notUtf8 = Buffer.concat([Buffer.from('meter;\xff'), Buffer.from(`\n${GOOD}\n`)]);
    notUtf8[6] = 0xff;
    expect(problemsOf(readEverySplit(TEST_DIALECT, notUtf8))).toEqual([[1, 'header_unreadable']]);
  });

  it('reports each missing column once for the file, naming it', () => {
    const events = readEverySplit(TEST_DIALECT, lines('meter;start;value;flag', GOOD, GOOD));
    expect(problemsOf(events)).toEqual([
      [1, 'column_missing'],
      [1, 'column_missing'],
      [1, 'column_missing'],
    ]);
    expect(events.map((event) => event.kind === 'problem' && [event.field, event.column])).toEqual([
      ['channel', 'channel'],
      ['unit', 'unit'],
      ['intervalSeconds', 'seconds'],
    ]);
    expect(events[0]?.kind === 'problem' && events[0].message).toBe(
      'Line 1: the header has no column "channel" for the channel (dialect test-dialect); no ' +
        'record of the file is read.',
    );
  });

  it('reports a mapped column named twice, but reads by position whatever the names', () => {
    const doubled = lines('meter;channel;start;seconds;value;unit;flag;value', `${GOOD};7`);
    const events = readEverySplit(TEST_DIALECT, doubled);
    expect(problemsOf(events)).toEqual([[1, 'column_duplicate']]);
    expect(events[0]).toMatchObject({ field: 'value', column: 'value' });
    const byPosition = parseCsvDialect({
      ...TEST_DIALECT,
      columns: {
        meterId: 0,
        channel: 1,
        timestamp: 2,
        value: 4,
        unit: 5,
        quality: { column: 6, map: { A: 'actual' } },
        intervalSeconds: 3,
      },
    });
    const positional = readEverySplit(byPosition, lines('x;x;x;x;x;x;x', GOOD));
    expect(positional.map((event) => event.kind)).toEqual(['interval']);
  });

  it('notes a column the dialect does not map, including one without a name', () => {
    const events = readEverySplit(TEST_DIALECT, lines(`${HEADER};remark;`, `${GOOD};ok;`));
    expect(notesOf(events)).toEqual([
      [1, 'remark'],
      [1, ''],
    ]);
    expect(intervals(events)).toHaveLength(1);
  });

  it('skips an oversized record without holding it, and reads the next', () => {
    const reader = createCsvDialectReader(TEST_DIALECT);
    const events = [...reader.push(Buffer.from(lines(HEADER, GOOD) + 'M1;'))];
    const piece = Buffer.alloc(16 * 1024, 'x');
    for (let index = 0; index < 8; index++) events.push(...reader.push(piece));
    events.push(...reader.push(Buffer.from(`\r\n${GOOD}\n`)), ...reader.end());
    expect(problemsOf(events)).toEqual([[3, 'record_too_large']]);
    const tooLarge = events.find((event) => event.kind === 'problem');
    expect(tooLarge).toMatchObject({ byteLength: 3 + 8 * 16 * 1024, value: '131075 bytes' });
    expect(intervals(events).map((event) => event.line)).toEqual([2, 4]);
  });

  it('skips a record that is not UTF-8 or not well-formed, and one left open to the end', () => {
    const badUtf8 = Buffer.from(lines(HEADER, `M\u00e9;${GOOD.slice(3)}`, GOOD));
    badUtf8[HEADER.length + 2] = 0xc3;
    badUtf8[HEADER.length + 3] = 0x28;
    expect(problemsOf(readEverySplit(TEST_DIALECT, badUtf8))).toEqual([[2, 'encoding']]);
    const syntax = readEverySplit(
      TEST_DIALECT,
      lines(HEADER, 'M1;1;"02.01.2024 00:00"x;900;0,5;kWh;A', 'M"1;1;x', GOOD),
    );
    expect(problemsOf(syntax)).toEqual([
      [2, 'syntax'],
      [3, 'syntax'],
    ]);
    expect(syntax[0]?.kind === 'problem' && syntax[0].message).toBe(
      'Line 2: the record has text after the closing quote of field 3; it is skipped.',
    );
    const open = readEverySplit(TEST_DIALECT, lines(HEADER, GOOD, 'M1;"open', GOOD));
    expect(problemsOf(open)).toEqual([[3, 'quote_unclosed']]);
    expect(open[1]).toMatchObject({ byteLength: 8 + 1 + GOOD.length + 1 });
  });

  it('reports a record with too few or too many fields, and a headerless one too', () => {
    const events = readEverySplit(
      TEST_DIALECT,
      lines(HEADER, 'M1;1;02.01.2024 00:00', `${GOOD};x`, GOOD),
    );
    expect(problemsOf(events)).toEqual([
      [2, 'field_count'],
      [3, 'field_count'],
    ]);
    expect(events.map((event) => event.kind === 'problem' && event.message).slice(0, 2)).toEqual([
      'Line 2: the record has 3 fields, but the header has 7; it is skipped.',
      'Line 3: the record has 8 fields, but the header has 7; it is skipped.',
    ]);
    const headerless = readEverySplit(
      HEADERLESS,
      '#banner\n6102345678|E1|2024-06-01T00:00:00|0.4\n',
    );
    expect(problemsOf(headerless)).toEqual([[2, 'field_count']]);
    expect(headerless[0]?.kind === 'problem' && headerless[0].message).toBe(
      'Line 2: the record has 4 fields, but the dialect declares 5; it is skipped.',
    );
  });

  it('reports each unreadable cell of a record, by field and column', () => {
    const events = readEverySplit(
      TEST_DIALECT,
      lines(HEADER, ';1;02.01.2024 00:00;900;abc;kW;X', 'M1;;31.03.2024 02:30;0;0,5;kWh;E'),
    );
    expect(
      events.map((event) => event.kind === 'problem' && [event.line, event.code, event.field]),
    ).toEqual([
      [2, 'field_empty', 'meterId'],
      [2, 'unit_unknown', 'unit'],
      [2, 'value_not_decimal', 'value'],
      [2, 'quality_unknown', 'quality'],
      [3, 'field_empty', 'channel'],
      [3, 'interval_invalid', 'intervalSeconds'],
      [3, 'timestamp_dst_nonexistent', 'timestamp'],
    ]);
    expect(events[2]).toMatchObject({
      column: 'value',
      value: 'abc',
      message: 'Line 2: the value "abc" in column "value" is not a decimal number.',
    });
  });

  it('reports values that need an undeclared separator or cannot be exact kWh', () => {
    const cases: Array<[string, CsvDialectProblemCode]> = [
      ['1.234,5;kWh', 'value_separator'],
      ['1,5.0;kWh', 'value_separator'],
      ['0,0001;Wh', 'value_precision'],
      ['0,0000001;kWh', 'value_precision'],
      ['99999999999;kWh', 'value_range'],
      ['-0,000;kWh', 'value_negative_zero'],
    ];
    for (const [valueAndUnit, code] of cases) {
      const text = lines(HEADER, `M1;1;02.01.2024 00:00;900;${valueAndUnit};A`);
      expect(problemsOf(readEverySplit(TEST_DIALECT, text))).toEqual([[2, code]]);
    }
    const precision = readAll(
      TEST_DIALECT,
      Buffer.from(lines(HEADER, `M1;1;02.01.2024 00:00;900;0,0001;Wh;A`)),
    );
    expect(precision[0]?.kind === 'problem' && precision[0].message).toBe(
      'Line 2: the value "0,0001" in column "value" (Wh) has digits below 6 decimal places of a ' +
        'kWh (1 milliwatt-hour), which the ledger cannot store without rounding.',
    );
  });

  it('reports interval lengths and timestamps it cannot read without guessing', () => {
    const cases: Array<[string, string, CsvDialectProblemCode]> = [
      ['02.01.2024 00:00', '86401', 'interval_invalid'],
      ['02.01.2024 00:00', '15m', 'interval_invalid'],
      ['2024-01-02 00:00', '900', 'timestamp_format'],
      ['31.02.2024 00:00', '900', 'timestamp_format'],
      ['27.10.2024 02:15', '900', 'timestamp_dst_ambiguous'],
      ['31.03.2024 02:00', '900', 'timestamp_dst_nonexistent'],
      ['31.12.1999 23:00', '900', 'timestamp_range'],
    ];
    for (const [start, seconds, code] of cases) {
      const text = lines(HEADER, `M1;1;${start};${seconds};0,5;kWh;A`);
      expect(problemsOf(readEverySplit(TEST_DIALECT, text))).toEqual([[2, code]]);
    }
  });

  it('cuts a long problem value and names the fields of a two-column timestamp', () => {
    const long = `${'9'.repeat(150)}.${'9'.repeat(150)}`;
    const events = readAll(
      TEST_DIALECT,
      Buffer.from(lines(HEADER, `M1;1;02.01.2024 00:00;900;${long};kWh;A`)),
    );
    expect(events[0]).toMatchObject({
      code: 'value_separator',
      value: `${long.slice(0, 200)}... (301 chars)`,
    });
    const split = parseCsvDialect({
      ...TEST_DIALECT,
      columns: { ...TEST_DIALECT.columns, timestamp: { date: 'date', time: 'time' } },
    });
    const header = 'meter;channel;date;time;seconds;value;unit;flag';
    const problems = readEverySplit(
      split,
      lines(header, 'M1;1;31.03.2024;02:00;900;1;kWh;A', 'M1;1;;01:00;900;1;kWh;A'),
    );
    expect(
      problems.map((event) => event.kind === 'problem' && [event.code, event.field, event.column]),
    ).toEqual([
      ['timestamp_dst_nonexistent', 'timestamp', null],
      ['field_empty', 'date', 'date'],
    ]);
    expect(problems[0]?.kind === 'problem' && problems[0].message).toBe(
      'Line 2: the timestamp "31.03.2024 02:00" in columns "date" and "time" does not exist in ' +
        'Europe/Berlin (skipped when daylight saving time starts).',
    );
  });
});

describe('dialect features', () => {
  it('reads a byte order mark, CRLF and LF mixed, blank lines and quoted fields', () => {
    const quoted = '"M;1";"a""b";02.01.2024 00:00;900;"1,5";kWh;A';
    const text = `\uFEFF${HEADER}\r\n\r\n${quoted}\n\n"M\r\n2";1;02.01.2024 00:15;900;2;kwh;E\r\n`;
    const events = readEverySplit(TEST_DIALECT, text);
    expect(events).toEqual([
      {
        kind: 'interval',
        line: 3,
        byteOffset: 3 + HEADER.length + 4,
        byteLength: quoted.length,
        meterId: 'M;1',
        channel: 'a"b',
        intervalStartUtcMs: Date.parse('2024-01-01T23:00:00Z'),
        intervalSeconds: 900,
        valueKwh: '1.500000',
        valueAsSent: '1,5',
        unitAsSent: 'kWh',
        quality: 'actual',
      },
      expect.objectContaining({
        line: 5,
        meterId: 'M\r\n2',
        valueKwh: '2.000000',
        quality: 'estimated',
      }),
    ]);
  });

  it("reads a tab-delimited export quoted with ' in MWh, ends converted to starts", () => {
    const dialect = parseCsvDialect({
      name: 'tab',
      delimiter: '\t',
      quote: "'",
      thousandsSeparator: ',',
      columns: {
        meterId: 'id',
        timestamp: 'end',
        value: 'energy',
        unit: { constant: 'MWh' },
        intervalSeconds: { constant: 3600 },
      },
      timeZone: 'UTC',
      timestampMarks: 'end',
    });
    const text = lines(
      'id\tend\tenergy',
      "'A\t1'\t2024-01-01T01:00:00\t'1,000.5'",
      'B"\t2024-01-01T00:00:00Z\t0.000001',
    );
    const all = intervals(readEverySplit(dialect, text));
    expect(
      all.map((event) => [event.meterId, iso(event.intervalStartUtcMs), event.valueKwh]),
    ).toEqual([
      ['A\t1', '2024-01-01T00:00:00.000Z', '1000500.000000'],
      ['B"', '2023-12-31T23:00:00.000Z', '0.001000'],
    ]);
  });

  it('skips banner lines of any content before the header, and counts them in lines', () => {
    const dialect = parseCsvDialect({ ...TEST_DIALECT, skipLines: 2 });
    const events = readEverySplit(
      dialect,
      lines('Export "from;', 'x'.repeat(100_000), '', HEADER, GOOD),
    );
    expect(events.map((event) => [event.kind, event.line])).toEqual([['interval', 5]]);
  });

  it('reads a last record without a terminator, and a header without one as no records', () => {
    expect(intervals(readEverySplit(TEST_DIALECT, `${HEADER}\n${GOOD}`))).toHaveLength(1);
    expect(readEverySplit(TEST_DIALECT, `${HEADER}\r`)).toEqual([]);
  });
});

// ------------------------------------------------------------------------------------------------
// Properties.

const FIXTURE_CASES: ReadonlyArray<readonly [Buffer, CsvDialect]> = [
  [fixture('eu-semicolon-berlin.csv'), BERLIN],
  [fixture('us-comma-new-york.csv'), NEW_YORK],
  [fixture('us-comma-new-york-reordered.csv'), NEW_YORK],
  [fixture('headerless-pipe-fixed-offset.csv'), HEADERLESS],
];

/** A row of a generated export, and the interval the reader must give back for it. */
interface GeneratedRow {
  meterId: string;
  channel: string;
  startMs: number;
  seconds: number;
  milliWh: bigint;
  unit: string;
  quality: 'actual' | 'estimated' | 'substituted';
  grouped: boolean;
  quoted: boolean;
  lineEnd: '\n' | '\r\n';
}

interface GeneratedDialect {
  delimiter: ',' | ';' | '\t' | '|';
  quote: '"' | "'";
  decimalSeparator: '.' | ',';
  thousandsSeparator: '.' | ',' | ' ' | "'" | null;
  headerRow: boolean;
  order: number[];
  format: string;
  offsetMinutes: number;
  marks: 'start' | 'end';
  byteOrderMark: boolean;
}

const FIELD_NAMES = ['Meter; ID', 'Channel', 'Time "local"', 'Seconds', 'Energy', 'Unit', 'Q'];
const QUALITY_CODES = { actual: 'A', estimated: 'E', substituted: 'S' } as const;
const FORMATS = ['iso8601', 'DD.MM.YYYY HH:mm:ss', 'YYYY-MM-DD HH:mm', 'M/D/YYYY h:mm A'];

function buildDialect(generated: GeneratedDialect): CsvDialect {
  const ref = (field: number): string | number =>
    generated.headerRow ? (FIELD_NAMES[field] ?? '') : generated.order.indexOf(field);
  const offset = generated.offsetMinutes;
  const sign = offset < 0 ? '-' : '+';
  const hours = String(Math.floor(Math.abs(offset) / 60)).padStart(2, '0');
  const minutes = String(Math.abs(offset) % 60).padStart(2, '0');
  return parseCsvDialect({
    name: 'generated',
    delimiter: generated.delimiter,
    quote: generated.quote,
    decimalSeparator: generated.decimalSeparator,
    thousandsSeparator: generated.thousandsSeparator,
    headerRow: generated.headerRow,
    fieldCount: generated.headerRow ? null : FIELD_NAMES.length,
    columns: {
      meterId: ref(0),
      channel: ref(1),
      timestamp: ref(2),
      intervalSeconds: ref(3),
      value: ref(4),
      unit: ref(5),
      quality: { column: ref(6), map: { A: 'actual', E: 'estimated', S: 'substituted' } },
    },
    timestampFormat: generated.format,
    timeZone: offset === 0 ? 'UTC' : `${sign}${hours}:${minutes}`,
    timestampMarks: generated.marks,
  });
}

/** The test's own writer: renders rows as a dialect says, quoting only what must be quoted. */
function writeExport(generated: GeneratedDialect, rows: GeneratedRow[]): Buffer {
  const dialect = buildDialect(generated);
  const field = (text: string, quoted: boolean): string => {
    const needs = [dialect.delimiter, dialect.quote, '\r', '\n'].some((char) =>
      text.includes(char),
    );
    return needs || quoted
      ? `${dialect.quote}${text.replaceAll(dialect.quote, dialect.quote.repeat(2))}${dialect.quote}`
      : text;
  };
  const record = (cells: string[], quoted: boolean): string =>
    generated.order.map((index) => field(cells[index] ?? '', quoted)).join(dialect.delimiter);
  let text = generated.byteOrderMark ? '\uFEFF' : '';
  if (generated.headerRow) text += `${record(FIELD_NAMES, false)}\n`;
  for (const row of rows) {
    const stampMs = row.startMs + (generated.marks === 'end' ? row.seconds * 1000 : 0);
    const cells = [
      row.meterId,
      row.channel,
      writeTimestamp(stampMs, generated),
      String(row.seconds),
      writeValue(row, dialect),
      row.unit,
      QUALITY_CODES[row.quality],
    ];
    text += record(cells, row.quoted) + row.lineEnd;
  }
  return Buffer.from(text, 'utf8');
}

function writeTimestamp(epochMs: number, generated: GeneratedDialect): string {
  const local = new Date(epochMs + generated.offsetMinutes * 60_000);
  const pad = (value: number, width = 2): string => String(value).padStart(width, '0');
  const [year, month, day] = [local.getUTCFullYear(), local.getUTCMonth() + 1, local.getUTCDate()];
  const [hour, minute, second] = [
    local.getUTCHours(),
    local.getUTCMinutes(),
    local.getUTCSeconds(),
  ];
  switch (generated.format) {
    case 'iso8601':
      return `${pad(year, 4)}-${pad(month)}-${pad(day)}T${pad(hour)}:${pad(minute)}:${pad(second)}`;
    case 'DD.MM.YYYY HH:mm:ss':
      return `${pad(day)}.${pad(month)}.${pad(year, 4)} ${pad(hour)}:${pad(minute)}:${pad(second)}`;
    case 'YYYY-MM-DD HH:mm':
      return `${pad(year, 4)}-${pad(month)}-${pad(day)} ${pad(hour)}:${pad(minute)}`;
    default: {
      const hour12 = hour % 12 === 0 ? 12 : hour % 12;
      return `${month}/${day}/${pad(year, 4)} ${hour12}:${pad(minute)} ${hour < 12 ? 'AM' : 'PM'}`;
    }
  }
}

/** milliWh as a decimal in the row's unit, with the dialect's separators. */
function writeValue(row: GeneratedRow, dialect: CsvDialect): string {
  const scale = { wh: 3, kwh: 6, mwh: 9 }[row.unit.toLowerCase()] ?? 6;
  const negative = row.milliWh < 0n;
  const digits = (negative ? -row.milliWh : row.milliWh).toString().padStart(scale + 1, '0');
  let integer = digits.slice(0, digits.length - scale);
  const fraction = digits.slice(digits.length - scale).replace(/0+$/, '');
  if (row.grouped && dialect.thousandsSeparator !== null) {
    integer = integer.replace(/\B(?=(\d{3})+$)/g, dialect.thousandsSeparator);
  }
  const magnitude = fraction === '' ? integer : `${integer}${dialect.decimalSeparator}${fraction}`;
  return `${negative ? '-' : ''}${magnitude}`;
}

const textArbitrary = fc
  .string({
    unit: fc.constantFrom(
      'A',
      'z',
      '7',
      '-',
      ' ',
      ';',
      ',',
      '|',
      '\t',
      '"',
      "'",
      '\n',
      '\u00e9',
      '\u20ac',
    ),
    minLength: 1,
    maxLength: 10,
  })
  .filter((text) => text.trim() === text && text !== '');

const rowArbitrary: fc.Arbitrary<GeneratedRow> = fc.record({
  meterId: textArbitrary,
  channel: textArbitrary,
  startMs: fc
    .integer({ min: Date.UTC(2001, 0, 1) / 60_000, max: Date.UTC(2190, 0, 1) / 60_000 })
    .map((minutes) => minutes * 60_000),
  seconds: fc.constantFrom(300, 900, 1800, 3600),
  milliWh: fc.bigInt({ min: -(10n ** 13n), max: 10n ** 13n }),
  unit: fc.constantFrom('Wh', 'kWh', 'MWh', 'KWH', 'wh'),
  quality: fc.constantFrom('actual', 'estimated', 'substituted'),
  grouped: fc.boolean(),
  quoted: fc.boolean(),
  lineEnd: fc.constantFrom('\n', '\r\n'),
});

const dialectArbitrary: fc.Arbitrary<GeneratedDialect> = fc
  .record({
    delimiter: fc.constantFrom(',', ';', '\t', '|'),
    quote: fc.constantFrom('"', "'"),
    decimalSeparator: fc.constantFrom('.', ','),
    thousandsSeparator: fc.constantFrom('.', ',', ' ', "'", null),
    headerRow: fc.boolean(),
    order: fc.shuffledSubarray([0, 1, 2, 3, 4, 5, 6], { minLength: 7, maxLength: 7 }),
    format: fc.constantFrom(...FORMATS),
    offsetMinutes: fc.constantFrom(0, 330, -180, 600, -570),
    marks: fc.constantFrom('start', 'end'),
    byteOrderMark: fc.boolean(),
  })
  .filter(
    (generated) =>
      generated.thousandsSeparator !== generated.decimalSeparator &&
      generated.thousandsSeparator !== generated.quote,
  );

describe('properties', () => {
  it('gives identical events for any chunk split', () => {
    const marked = Buffer.from(
      `\uFEFF${HEADER}\r\n"M\u00e9\r\n1";1;02.01.2024 00:00;900;"1,5";kWh;A\r\n`,
    );
    const cases = fc.constantFrom(...FIXTURE_CASES, [marked, TEST_DIALECT] as const);
    fc.assert(
      fc.property(
        cases.chain(([bytes, dialect]) =>
          fc.tuple(
            fc.constant(bytes),
            fc.constant(dialect),
            fc.array(fc.integer({ min: 0, max: bytes.length }), { maxLength: 30 }),
          ),
        ),
        ([bytes, dialect, splitPoints]) => {
          expect(readAll(dialect, bytes, splitPoints)).toEqual(readAll(dialect, bytes));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('reads back exactly what the test writer wrote, in any dialect', () => {
    fc.assert(
      fc.property(
        dialectArbitrary,
        fc.array(rowArbitrary, { minLength: 1, maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 4 }),
        (generated, rows, splitPoints) => {
          const dialect = buildDialect(generated);
          // Patterns without seconds can only write whole minutes, which the rows all are.
          const bytes = writeExport(generated, rows);
          const points = splitPoints.map((point) => point % (bytes.length + 1));
          const events = readAll(dialect, bytes, points);
          expect(events.filter((event) => event.kind !== 'interval')).toEqual([]);
          expect(
            intervals(events).map((event) => [
              event.meterId,
              event.channel,
              event.intervalStartUtcMs,
              event.intervalSeconds,
              event.valueKwh,
              event.unitAsSent,
              event.quality,
            ]),
          ).toEqual(
            rows.map((row) => [
              row.meterId,
              row.channel,
              row.startMs,
              row.seconds,
              formatMilliWhAsKwh(row.milliWh),
              row.unit,
              row.quality,
            ]),
          );
        },
      ),
      { numRuns: 400 },
    );
  });

  it('never throws on corruption and never yields an interval that was not in its record', () => {
    const edit = fc.record({
      at: fc.nat(),
      length: fc.nat({ max: 40 }),
      insert: fc.string({
        unit: fc.constantFrom(
          ';',
          ',',
          '|',
          '"',
          '\n',
          '\r',
          '0',
          '5',
          '.',
          ' ',
          'W',
          '\u00e9',
          '\uFEFF',
        ),
        maxLength: 12,
      }),
    });
    fc.assert(
      fc.property(
        fc.constantFrom(...FIXTURE_CASES),
        fc.array(edit, { maxLength: 8 }),
        ([original, dialect], edits) => {
          let text = original.toString('latin1');
          for (const { at, length, insert } of edits) {
            const index = at % (text.length + 1);
            text = text.slice(0, index) + insert + text.slice(index + length);
          }
          const bytes = Buffer.from(text, 'latin1');
          const events = readAll(dialect, bytes);
          for (const event of events) {
            expect(event.byteOffset + event.byteLength).toBeLessThanOrEqual(bytes.length);
            if (event.kind !== 'interval') continue;
            const record = bytes.toString(
              'utf8',
              event.byteOffset,
              event.byteOffset + event.byteLength,
            );
            expect(record).toContain(event.valueAsSent);
            const quote = dialect.quote;
            const meterIdSent = [event.meterId, event.meterId.replaceAll(quote, quote + quote)];
            expect(meterIdSent.some((sent) => record.includes(sent))).toBe(true);
            expect(event.valueKwh).toMatch(/^-?\d+\.\d{6}$/);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
