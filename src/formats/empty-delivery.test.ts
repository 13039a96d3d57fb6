// Goal: an empty or whitespace-only delivery is one parse.empty span in every format, and a
// well-formed delivery with no records yields nothing. Method: every format, every chunking.
import { describe, expect, it } from 'vitest';
import { INPUT_FORMATS, type FormatContext, type InputFormat } from '../core/parser.js';
import { pushSplit } from '../test-support/split.js';
import { PARSER_FACTORIES } from './formats.js';
import { SEMICOLON_BERLIN_DIALECT, VENDOR_DIALECT } from '../test-support/dialects.js';

const encoder = new TextEncoder();

const CONTEXTS: Partial<Record<InputFormat, FormatContext>> = {
  cmep: { timeZone: 'UTC' },
  'csv-dialect': {
    dialect: SEMICOLON_BERLIN_DIALECT,
  },
  'json-dialect': { dialect: VENDOR_DIALECT },
};

/** Each format's items for `text`, checked to be the same at every split into two chunks. */
function parse(format: InputFormat, text: string) {
  const bytes = encoder.encode(text);
  const whole = pushSplit(PARSER_FACTORIES[format](CONTEXTS[format]), bytes);
  for (let cut = 0; cut <= bytes.length; cut++) {
    expect(pushSplit(PARSER_FACTORIES[format](CONTEXTS[format]), bytes, [cut])).toEqual(whole);
  }
  return whole;
}

describe('empty deliveries', () => {
  const blanks = ['', ' ', '\n', ' \r\n\t \n', '\ufeff', '\ufeff\r\n  '];
  for (const format of INPUT_FORMATS) {
    it.each(blanks.map((text) => [JSON.stringify(text), text]))(
      `quarantines ${format} %s as one parse.empty span over all its bytes`,
      (_, text) => {
        const items = parse(format, text);
        const byteLength = encoder.encode(text).length;
        expect(items).toHaveLength(1);
        const item = items[0];
        expect(item?.kind).toBe('reject');
        if (item?.kind !== 'reject') return;
        expect(item.reject.uncountedSpan).toBe(true);
        expect(item.reject.location).toEqual({
          recordIndex: 0,
          line: 1,
          byteOffset: 0,
          byteLength,
        });
        expect(item.reject.violations).toEqual([
          expect.objectContaining({
            code: 'parse.empty',
            field: 'record',
            value: `${byteLength} bytes`,
          }),
        ]);
      },
    );
  }

  it.each([
    ['json', '[]'],
    ['json', '\ufeff [ \n ] \n'],
    ['csv', 'meter_id,timestamp_utc,consumption_kwh,status_code\r\n'],
    ['csv', 'meter_id,seq'],
    ['nem12', '100,NEM12,200506081149,UNITEDDP,NEMMCO\n900\n'],
    ['csv-dialect', 'meter;channel;start;seconds;value;unit\n\n'],
    ['green-button', '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"></feed>'],
  ] as const)('reads %s %j as a valid delivery with no records', (format, text) => {
    expect(parse(format, text)).toEqual([]);
  });

  it.each([
    ['ndjson', ' x\n', 'parse.syntax'],
    ['json', ' \n[', 'parse.syntax'],
    ['nem12', '100,NEM12,200506081149,UNITEDDP,NEMMCO\n', 'parse.format'],
    ['cmep', '\n,\n', 'parse.format'],
  ] as const)('keeps the reader verdict on %s %j, which is not blank', (format, text, code) => {
    const items = parse(format, text);
    expect(items.length).toBeGreaterThan(0);
    const codes = items.map((item) => item.kind === 'reject' && item.reject.violations[0]?.code);
    expect(codes).toContain(code);
    expect(codes).not.toContain('parse.empty');
  });
});
