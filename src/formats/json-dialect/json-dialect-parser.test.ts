// Goal: a JSON page in a vendor's own shape becomes candidate readings as its dialect says (paths,
// units, timestamps, quality, sequence), bad records and bad pages become precise rejects.
// Method: parse pages whole and split at every byte boundary, and compare items field by field.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';

import type { FormatContext, ParseItem } from '../../core/parser.js';
import { parseEverySplitWith, parseWith } from '../../test-support/parse-items.js';
import { VENDOR_DIALECT, vendorPage } from '../../test-support/dialects.js';
import { PARSER_FACTORIES } from '../formats.js';
import { createJsonDialectParser } from './json-dialect-parser.js';

const READING = {
  meterNumber: 'MTR-AAAA0001',
  channelId: '1',
  intervalStart: '2026-03-02T00:15:00Z',
  value: '310.5',
  uom: 'Wh',
  qualityFlag: 'A',
  sequence: 17,
};

const START_MS = Date.UTC(2026, 2, 2, 0, 15);

function parser(context: FormatContext = { dialect: VENDOR_DIALECT }) {
  return () => createJsonDialectParser(context);
}

function page(...records: unknown[]): string {
  return vendorPage(records as Record<string, unknown>[], 'c2');
}

/** The one violation of each reject: its code, field and value. */
function violations(items: readonly ParseItem[]) {
  return items.map((item) => {
    if (item.kind !== 'reject') return item.kind;
    return item.reject.violations.map(({ code, field, value }) => ({ code, field, value }));
  });
}

describe('json-dialect parser: mapping', () => {
  it('reads a vendor reading as a kWh candidate at its exact location, whatever the chunking', () => {
    const text = page(READING, { ...READING, intervalStart: '2026-03-02T00:30:00Z', value: '1' });
    const items = parseEverySplitWith(parser(), text);
    expect(items).toHaveLength(2);
    const first = items[0];
    expect(first?.kind).toBe('candidate');
    if (first?.kind !== 'candidate') return;
    expect(first.candidate).toMatchObject({
      meterId: 'MTR-AAAA0001',
      channel: '1',
      intervalStartMs: START_MS,
      intervalSeconds: 900,
      unit: 'kWh',
      value: '0.310500',
      quality: 'actual',
      seq: 17,
    });
    const offset = text.indexOf('{"meterNumber"');
    const length = JSON.stringify(READING).length;
    expect(first.candidate.location).toEqual({
      recordIndex: 0,
      line: 1,
      byteOffset: offset,
      byteLength: length,
    });
    expect(items[1]?.kind === 'candidate' && items[1].candidate.value).toBe('0.001000');
  });

  it('reads units, JSON numbers, nested paths, constants, zones and end marks', () => {
    const dialect = {
      name: 'nested',
      recordsPath: ['payload', 'series.items'],
      decimalSeparator: ',',
      fields: {
        meterId: 'device.serial',
        channel: { constant: 'E1' },
        timestamp: { date: 'when.day', time: 'when.time' },
        value: 'energy.amount',
        unit: 'energy.unit',
        intervalSeconds: 'length',
        sequence: ['meta', 'rev.no'],
      },
      timestampFormat: 'DD.MM.YYYY HH:mm',
      timeZone: 'Europe/Berlin',
      timestampMarks: 'end',
    };
    const record = (amount: unknown, unit: string, extra: object = {}) => ({
      device: { serial: 12345 },
      when: { day: '02.03.2026', time: '01:15' },
      energy: { amount, unit },
      length: '900',
      meta: { 'rev.no': '7' },
      ...extra,
    });
    const text = JSON.stringify({
      payload: {
        'series.items': [
          record('1,5', 'MWh'),
          record(2.25, 'kWh'),
          record(0.5, 'wh', { vendorNote: 'kept' }),
        ],
        skipped: { records: [[[['deep']]]] },
      },
      meta: 'after',
    });
    const items = parseEverySplitWith(parser({ dialect }), text);
    const values = items.map((item) => (item.kind === 'candidate' ? item.candidate.value : item));
    expect(values).toEqual(['1500.000000', '2.250000', '0.000500']);
    const first = items[0];
    if (first?.kind !== 'candidate') throw new Error('expected a candidate');
    // 01:15 Berlin (UTC+1) ends the interval, so it starts at 00:00 UTC.
    expect(first.candidate).toMatchObject({
      meterId: '12345',
      channel: 'E1',
      intervalStartMs: Date.UTC(2026, 2, 2, 0, 0),
      seq: 7,
    });
  });

  it('reads a top-level array when the records path is empty, and the context can override it', () => {
    const dialect = { ...VENDOR_DIALECT, recordsPath: null };
    const array = JSON.stringify([READING]);
    expect(parseWith(parser({ dialect }), array).map((item) => item.kind)).toEqual(['candidate']);
    const wrapped = JSON.stringify({ items: [READING] });
    const context = { dialect: VENDOR_DIALECT, recordsPath: 'items' };
    expect(parseWith(parser(context), wrapped).map((item) => item.kind)).toEqual(['candidate']);
    expect(createJsonDialectParser(context).context()).toEqual({
      dialect: VENDOR_DIALECT,
      recordsPath: ['items'],
    });
  });

  it('maps quality flags, and an empty page is a well-formed page with no records', () => {
    const items = parseWith(parser(), page({ ...READING, qualityFlag: 'E' }));
    expect(items[0]?.kind === 'candidate' && items[0].candidate.quality).toBe('estimated');
    expect(parseWith(parser(), page())).toEqual([]);
  });
});

describe('json-dialect parser: bad records', () => {
  const cases: Array<[string, Record<string, unknown>, string, string]> = [
    ['a value that is not decimal', { value: '12abc' }, 'json-dialect.value_not_decimal', '12abc'],
    ['an empty value', { value: '' }, 'json-dialect.field_empty', ''],
    [
      'a value below a milliwatt-hour',
      { value: '0.0001' },
      'json-dialect.value_precision',
      '0.0001',
    ],
    ['an unknown unit', { uom: 'Ws' }, 'json-dialect.unit_unknown', 'Ws'],
    ['an unknown quality flag', { qualityFlag: 'X' }, 'json-dialect.quality_unknown', 'X'],
    [
      'a bad month',
      { intervalStart: '2026-13-01T00:00:00Z' },
      'json-dialect.timestamp_format',
      '2026-13-01T00:00:00Z',
    ],
    [
      'a time without an offset',
      { intervalStart: '2026-03-02T00:15:00' },
      'json-dialect.timestamp_format',
      '2026-03-02T00:15:00',
    ],
    ['an absent meter', { meterNumber: undefined }, 'json-dialect.field_missing', ''],
    ['a null value', { value: null }, 'json-dialect.field_missing', ''],
    ['an object for the meter', { meterNumber: { id: 1 } }, 'json-dialect.field_type', '{"id":1}'],
    ['a boolean value', { value: true }, 'json-dialect.field_type', 'true'],
    ['a negative sequence', { sequence: -1 }, 'json-dialect.sequence_invalid', '-1'],
    ['a sequence with letters', { sequence: '1a' }, 'json-dialect.sequence_invalid', '1a'],
    ['a key the dialect does not map', { foo: 'bar' }, 'json-dialect.field_unknown', 'foo'],
  ];
  for (const [name, change, field, value] of cases) {
    it(`rejects ${name} with its field, rule and value`, () => {
      const items = parseWith(parser(), page({ ...READING, ...change }, READING));
      expect(violations(items)).toEqual([[{ code: 'parse.format', field, value }], 'candidate']);
      const reject = items[0];
      if (reject?.kind !== 'reject') return;
      expect(reject.reject.uncountedSpan).toBe(false);
      expect(reject.reject.violations[0]?.message).toMatch(/^Line 1: /);
    });
  }

  it('names the field path in its messages and reports every problem of a record', () => {
    const items = parseWith(parser(), page({ ...READING, value: 'x', uom: 'Ws' }));
    const reject = items[0];
    if (reject?.kind !== 'reject') throw new Error('expected a reject');
    expect(reject.reject.violations.map((v) => v.field)).toEqual([
      'json-dialect.unit_unknown',
      'json-dialect.value_not_decimal',
    ]);
    expect(reject.reject.violations[1]?.message).toContain('in field value is not a decimal');
    expect(reject.reject.meterId).toBe('MTR-AAAA0001');
  });

  it('rejects records that are not objects, duplicate keys and inexact numbers as JSON does', () => {
    const text =
      '{"data":{"readings":[5,"text",{"value":"1","value":"2"},' +
      '{"meterNumber":"MTR-AAAA0001","value":100.000000000000001}]}}';
    const codes = violations(parseEverySplitWith(parser(), text)).map(
      (v) => (v as Array<{ code: string }>)[0]?.code,
    );
    expect(codes).toEqual([
      'parse.not_an_object',
      'parse.not_an_object',
      'parse.duplicate_key',
      'parse.inexact_number',
    ]);
  });
});

describe('json-dialect parser: bad pages', () => {
  function pageReject(text: string, context?: FormatContext) {
    const items = parseEverySplitWith(
      () => PARSER_FACTORIES['json-dialect'](context ?? { dialect: VENDOR_DIALECT }),
      text,
    );
    return items.map((item) => {
      if (item.kind !== 'reject') return item.kind;
      const [first] = item.reject.violations;
      const { byteOffset, byteLength } = item.reject.location;
      const span = item.reject.uncountedSpan;
      return { code: first?.code, field: first?.field, span, byteOffset, byteLength };
    });
  }

  it('quarantines an HTML error page whole as not JSON', () => {
    const html = '<html><body>502 Bad Gateway</body></html>\n';
    expect(pageReject(html)).toEqual([
      {
        code: 'parse.not_json',
        field: 'record',
        span: true,
        byteOffset: 0,
        byteLength: html.length,
      },
    ]);
  });

  it('quarantines a page whose records path is missing or not an array', () => {
    const missing = '{"data":{"items":[{"a":1}]},"next":null}';
    const notObject = '{"data":[1,2]}';
    const notArray = '{"data":{"readings":{"a":1}}}';
    const topArray = '[{"a":1}]';
    const whole = (text: string, field: string) => [
      { code: 'parse.format', field, span: true, byteOffset: 0, byteLength: text.length },
    ];
    expect(pageReject(missing)).toEqual(whole(missing, 'json-dialect.records_path_missing'));
    expect(pageReject(notObject)).toEqual(whole(notObject, 'json-dialect.records_path_missing'));
    expect(pageReject(notArray)).toEqual(whole(notArray, 'json-dialect.records_not_array'));
    expect(pageReject(topArray)).toEqual(whole(topArray, 'json-dialect.records_path_missing'));
    const dialect = { ...VENDOR_DIALECT, recordsPath: null };
    const object = '{"readings":[]}';
    expect(pageReject(object, { dialect })).toEqual(
      whole(object, 'json-dialect.records_not_array'),
    );
  });

  it('keeps the records read before a syntax error and quarantines the rest of the page', () => {
    const good = JSON.stringify(READING);
    const text = `{"data":{"readings":[${good} ${good}]}}`;
    const at = text.lastIndexOf(good);
    expect(pageReject(text)).toEqual([
      'candidate',
      {
        code: 'parse.syntax',
        field: 'record',
        span: true,
        byteOffset: at,
        byteLength: text.length - at,
      },
    ]);
  });

  it('quarantines a page cut short inside a record, and after its last record', () => {
    const good = JSON.stringify(READING);
    const cutInside = `{"data":{"readings":[${good},{"meterNumber":"MTR`;
    const second = cutInside.lastIndexOf('{"meterNumber"');
    expect(pageReject(cutInside)).toEqual([
      'candidate',
      {
        code: 'parse.syntax',
        field: 'record',
        span: true,
        byteOffset: second,
        byteLength: cutInside.length - second,
      },
    ]);
    const cutAfter = `{"data":{"readings":[${good}]`;
    expect(pageReject(cutAfter)).toEqual([
      'candidate',
      {
        code: 'parse.syntax',
        field: 'record',
        span: true,
        byteOffset: 0,
        byteLength: cutAfter.length,
      },
    ]);
  });

  it('walks over keys escaped, keys that only start like a path key, and values of every kind', () => {
    const text =
      '{"dat":{"readings":1},"d\\u0061ta":{"read":[1,{"x":"]}"}],"readings":' +
      `[${JSON.stringify(READING)}],"more":"\\"}"},"n":-1.5e3,"t":true,"z":null}`;
    expect(pageReject(text)).toEqual(['candidate']);
  });

  it('refuses text after the end of the page', () => {
    const text = `${page(READING)} trailing`;
    const at = text.indexOf('trailing');
    expect(pageReject(text)).toEqual([
      'candidate',
      {
        code: 'parse.syntax',
        field: 'record',
        span: true,
        byteOffset: at,
        byteLength: text.length - at,
      },
    ]);
  });
});

describe('the documented example', () => {
  const examples = new URL('../../../examples/', import.meta.url);
  const dialectText = readFileSync(new URL('vendor-api-dialect.yaml', examples), 'utf8');
  const pageText = readFileSync(new URL('vendor-api-page.json', examples), 'utf8');

  it('is the dialect the README shows, and reads the example page as the README says', () => {
    const readme = readFileSync(new URL('./README.md', import.meta.url), 'utf8');
    const shown = /```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
    const dialect: unknown = parseYaml(dialectText);
    expect(parseYaml(shown ?? '')).toEqual(dialect);
    const items = parseWith(parser({ dialect }), pageText);
    expect(items.map((item) => item.kind)).toEqual(['candidate', 'candidate', 'reject']);
    expect(items[0]?.kind === 'candidate' && items[0].candidate).toMatchObject({
      meterId: 'MTR-NG000001',
      channel: '1',
      intervalStartMs: Date.UTC(2025, 0, 6),
      intervalSeconds: 900,
      value: '0.312500',
      quality: 'actual',
      seq: 1,
    });
    expect(items[1]?.kind === 'candidate' && items[1].candidate).toMatchObject({
      value: '0.290000',
      quality: 'estimated',
      seq: 2,
    });
    expect(violations(items.slice(2))).toEqual([
      [
        {
          code: 'parse.format',
          field: 'json-dialect.timestamp_format',
          value: '2025-01-06T00:30:00',
        },
      ],
    ]);
  });
});
