// Goal: a dialect file is checked strictly, resolves to frozen defaults, and every mistake is named
// with its path. Method: the fixture dialects, a minimal dialect, and one broken key at a time.
import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseCsvDialect } from './csv-dialect-config.js';

const FIXTURES = new URL('../../../test/fixtures/csv-dialect/', import.meta.url);

const MINIMAL = {
  name: 'minimal',
  columns: {
    meterId: 'meter',
    timestamp: 'start',
    value: 'kwh',
    unit: { constant: 'kWh' },
    intervalSeconds: { constant: 900 },
  },
  timeZone: 'UTC',
  timestampMarks: 'start',
};

function withKeys(keys: Record<string, unknown>, columns: Record<string, unknown> = {}): unknown {
  return { ...MINIMAL, ...keys, columns: { ...MINIMAL.columns, ...columns } };
}

/** The lines of the error a dialect is refused with. */
function refusal(json: unknown): string[] {
  try {
    parseCsvDialect(json);
  } catch (error) {
    return (error as Error).message.split('\n');
  }
  return [];
}

describe('csv dialect config', () => {
  it('reads every fixture dialect', () => {
    const names = readdirSync(FIXTURES).filter((name) => name.endsWith('.dialect.json'));
    expect(names).toHaveLength(3);
    for (const name of names) {
      const json: unknown = JSON.parse(readFileSync(new URL(name, FIXTURES), 'utf8'));
      expect(() => parseCsvDialect(json)).not.toThrow();
    }
  });

  it('fills defaults and freezes the result deeply', () => {
    const dialect = parseCsvDialect(MINIMAL);
    expect(dialect).toEqual({
      ...MINIMAL,
      delimiter: ',',
      quote: '"',
      decimalSeparator: '.',
      thousandsSeparator: null,
      headerRow: true,
      fieldCount: null,
      skipLines: 0,
      columns: { ...MINIMAL.columns, channel: null, quality: null },
      timestampFormat: 'iso8601',
    });
    expect(Object.isFrozen(dialect)).toBe(true);
    expect(Object.isFrozen(dialect.columns.unit)).toBe(true);
  });

  it('requires the time zone and whether timestamps mark starts or ends', () => {
    const { timeZone: _zone, timestampMarks: _marks, ...rest } = MINIMAL;
    expect(refusal(rest)).toEqual([
      'Invalid CSV dialect:',
      '  - timeZone: Invalid input: expected string, received undefined',
      '  - timestampMarks: Invalid option: expected one of "start"|"end"',
    ]);
  });

  it('names unknown keys, at any depth, by path', () => {
    expect(refusal(withKeys({ delimeter: ';' }, { meterID: 'x' }))).toEqual([
      'Invalid CSV dialect:',
      '  - columns.meterID: unknown key',
      '  - delimeter: unknown key',
    ]);
  });

  it('refuses separators, zones and formats outside the documented sets', () => {
    const lines = refusal(
      withKeys({
        delimiter: ':',
        decimalSeparator: '·',
        timeZone: 'Europe/Atlantis',
        timestampFormat: 'DD.MM.YY HH:mm',
      }),
    );
    expect(lines.map((line) => line.split(':')[0])).toEqual([
      'Invalid CSV dialect',
      '  - delimiter',
      '  - decimalSeparator',
      '  - timestampFormat',
      '  - timeZone',
    ]);
    for (const timeZone of ['+0530', '+5:30', 'GMT+1', '+24:00']) {
      expect(refusal(withKeys({ timeZone }))[1]).toMatch(/^ {2}- timeZone: must be an IANA/);
    }
    for (const timeZone of ['UTC', 'Europe/Berlin', '+05:30', '-03:00', 'Etc/GMT+5']) {
      expect(refusal(withKeys({ timeZone }))).toEqual([]);
    }
  });

  it('refuses a column named with edge spaces and a quality map that cannot be used', () => {
    expect(refusal(withKeys({}, { meterId: ' meter' }))[1]).toMatch(/^ {2}- columns\.meterId: /);
    const lines = refusal(
      withKeys({}, { quality: { column: 'q', map: JSON.parse('{"__proto__": "actual"}') } }),
    );
    expect(lines[1]).toBe('  - columns.quality.map.__proto__: is not a usable code');
    expect(refusal(withKeys({}, { quality: { column: 'q', map: {} } }))[1]).toBe(
      '  - columns.quality.map: must map at least one code',
    );
    expect(refusal(withKeys({}, { quality: { column: 'q', map: { A: 'good' } } }))[1]).toMatch(
      /^ {2}- columns\.quality\.map\.A: /,
    );
  });

  it('checks rules that relate keys once the keys are well-formed', () => {
    expect(refusal(withKeys({}, { meterId: 0 }))).toEqual([
      'Invalid CSV dialect:',
      '  - columns: names some columns by header text and others by position; use one kind',
    ]);
    expect(refusal(withKeys({ headerRow: false }))).toEqual([
      'Invalid CSV dialect:',
      '  - headerRow: a file without a header row must name every column by position',
      '  - fieldCount: is required when there is no header row: records are checked against it',
    ]);
    expect(refusal(withKeys({ fieldCount: 3 }))).toEqual([
      'Invalid CSV dialect:',
      '  - fieldCount: is only for files without a header row; the header gives the count',
    ]);
    expect(
      refusal(
        withKeys({ headerRow: false, fieldCount: 2 }, { meterId: 0, timestamp: 1, value: 2 }),
      ),
    ).toEqual([
      'Invalid CSV dialect:',
      '  - columns.value: position 2 is past the last field of 2',
    ]);
    expect(refusal(withKeys({}, { value: 'meter' }))).toEqual([
      'Invalid CSV dialect:',
      '  - columns.value: maps the column "meter" again (already columns.meterId)',
    ]);
    expect(
      refusal(withKeys({ decimalSeparator: ',', thousandsSeparator: ',', quote: "'" })),
    ).toEqual([
      'Invalid CSV dialect:',
      '  - thousandsSeparator: must differ from decimalSeparator',
    ]);
    expect(refusal(withKeys({ thousandsSeparator: "'", quote: "'" }))).toEqual([
      'Invalid CSV dialect:',
      '  - thousandsSeparator: must differ from quote',
    ]);
  });

  it('accepts two columns for date and time, and positions when there is no header', () => {
    const dialect = parseCsvDialect(
      withKeys(
        { headerRow: false, fieldCount: 4, timestampFormat: 'YYYY-MM-DD HH:mm' },
        { meterId: 0, timestamp: { date: 1, time: 2 }, value: 3 },
      ),
    );
    expect(dialect.columns.timestamp).toEqual({ date: 1, time: 2 });
  });
});
