// Goal: the JSON-array parser finds each element's exact bytes, rejects bad elements one by one and
// a broken structure once for the rest. Method: hand-made documents, pushed whole and in pieces.
import { describe, expect, it } from 'vitest';
import { at, parseEverySplitWith, parseWith, summary } from '../test-support/parse-items.js';
import type { ParseItem } from '../core/parser.js';
import { JSON_DEPTH_MAX, RECORD_BYTES_MAX } from '../core/limits.js';
import { createJsonArrayParser } from './json-array.js';

const encoder = new TextEncoder();

function parse(input: string | Uint8Array, chunkBytes = Infinity): ParseItem[] {
  return parseWith(createJsonArrayParser, input, chunkBytes);
}

function messages(items: ParseItem[]): string[] {
  return items.flatMap((item) =>
    item.kind === 'reject' ? item.reject.violations.map((entry) => entry.message) : [],
  );
}

function parseEverySplit(text: string): ParseItem[] {
  return parseEverySplitWith(createJsonArrayParser, text);
}

describe('json-array parser', () => {
  it('reads elements with whitespace anywhere, locating each from { to }', () => {
    const text = ' \n[ {"seq":1} ,\r\n\t{ "seq" : 2 }\n]\n ';
    expect(summary(parseEverySplit(text))).toEqual([
      { fields: { seq: 1 }, ...at(0, 2, 4, 9) },
      { fields: { seq: 2 }, ...at(1, 3, 18, 13) },
    ]);
  });

  it('yields nothing for an empty array', () => {
    expect(parseEverySplit('[]')).toEqual([]);
    expect(parseEverySplit('\ufeff [ \n ] \n')).toEqual([]);
  });

  it('skips a byte order mark and counts it in offsets', () => {
    expect(summary(parseEverySplit('\ufeff[{"seq":1}]'))).toEqual([
      { fields: { seq: 1 }, ...at(0, 1, 4, 9) },
    ]);
  });

  it('finds element ends despite braces, brackets, quotes and escapes inside strings', () => {
    const values = ['}', '},{', ']', '\\', '\\"}', '"', 'a\\\\', '\u2028', 'é€😀'];
    const text = `[${values.map((value) => JSON.stringify({ m: value })).join(',')}]`;
    const items = parseEverySplit(text);
    expect(items.map((item) => item.kind === 'record' && item.record.fields['m'])).toEqual(values);
  });

  it('reads nested objects, whose first closing brace is not the element end', () => {
    const text = '[{"a":{"b":1},"c":[{"d":2}]}, {"a":{}} ,{"e":"}"}]';
    const items = parseEverySplit(text);
    expect(items.map((item) => item.kind === 'record' && item.record.fields)).toEqual([
      { a: { b: 1 }, c: [{ d: 2 }] },
      { a: {} },
      { e: '}' },
    ]);
  });

  it('rejects an element JSON.parse refuses and goes on with the next', () => {
    const text = '[{"seq":1},{"a": 01},{"seq":3}]';
    expect(summary(parseEverySplit(text))).toEqual([
      { fields: { seq: 1 }, ...at(0, 1, 1, 9) },
      { code: 'parse.syntax', span: false, ...at(1, 1, 11, 9) },
      { fields: { seq: 3 }, ...at(2, 1, 21, 9) },
    ]);
  });

  it('rejects each element that is not an object', () => {
    const text = '[1, "x", [2], null, true, {"seq":1}]';
    expect(summary(parseEverySplit(text))).toEqual([
      { code: 'parse.not_an_object', span: false, ...at(0, 1, 1, 1) },
      { code: 'parse.not_an_object', span: false, ...at(1, 1, 4, 3) },
      { code: 'parse.not_an_object', span: false, ...at(2, 1, 9, 3) },
      { code: 'parse.not_an_object', span: false, ...at(3, 1, 14, 4) },
      { code: 'parse.not_an_object', span: false, ...at(4, 1, 20, 4) },
      { fields: { seq: 1 }, ...at(5, 1, 26, 9) },
    ]);
  });

  it('rejects a document that is not an array once, spanning the whole delivery', () => {
    const text = '\n {"seq":1}\n';
    const items = parseEverySplit(text);
    expect(summary(items)).toEqual([{ code: 'parse.syntax', span: true, ...at(0, 2, 2, 10) }]);
    expect(messages(items)[0]).toMatch(/^Line 2, byte 2: expected '\[' to open the JSON array/);
  });

  it('rejects an empty delivery: there is no array in it', () => {
    expect(summary(parse(''))).toEqual([{ code: 'parse.syntax', span: true, ...at(0, 1, 0, 0) }]);
  });

  it('spans the rest of the delivery from garbage between elements, counting every byte', () => {
    const text = '[{"seq":1},\n{"seq":2} x {"seq":3}, {"seq":4}]';
    const items = parseEverySplit(text);
    expect(summary(items)).toEqual([
      { fields: { seq: 1 }, ...at(0, 1, 1, 9) },
      { fields: { seq: 2 }, ...at(1, 2, 12, 9) },
      { code: 'parse.syntax', span: true, ...at(2, 2, 22, 23) },
    ]);
    expect(messages(items)[0]).toMatch(/^Line 2, byte 22: expected ',' or '\]' after an element/);
  });

  it('spans the rest from a trailing comma and from bytes after the closing bracket', () => {
    expect(summary(parseEverySplit('[{"seq":1},]'))).toEqual([
      { fields: { seq: 1 }, ...at(0, 1, 1, 9) },
      { code: 'parse.syntax', span: true, ...at(1, 1, 11, 1) },
    ]);
    expect(summary(parseEverySplit('[{"seq":1}] [')).slice(1)).toEqual([
      { code: 'parse.syntax', span: true, ...at(1, 1, 12, 1) },
    ]);
  });

  it('rejects a truncated element as an uncounted span from its first byte', () => {
    const text = '[{"seq":1},\n {"seq":2, "m":"abc';
    expect(summary(parseEverySplit(text))).toEqual([
      { fields: { seq: 1 }, ...at(0, 1, 1, 9) },
      { code: 'parse.syntax', span: true, ...at(1, 2, 13, 18) },
    ]);
  });

  it('rejects a missing closing bracket after whole elements, spanning the trailing bytes', () => {
    const items = parseEverySplit('[{"seq":1}, {"seq":2} ,\n ');
    expect(summary(items)).toEqual([
      { fields: { seq: 1 }, ...at(0, 1, 1, 9) },
      { fields: { seq: 2 }, ...at(1, 1, 12, 9) },
      { code: 'parse.syntax', span: true, ...at(2, 1, 21, 4) },
    ]);
    expect(messages(items)[0]).toMatch(/not closed with '\]'/);
    expect(summary(parse('[{"seq":1}'))[1]).toMatchObject({ byteOffset: 10, byteLength: 0 });
    expect(summary(parse('[ '))[0]).toMatchObject({ span: true, byteOffset: 1, byteLength: 1 });
  });

  it('rejects invalid UTF-8 in one element and reads the next', () => {
    const bytes = Uint8Array.from([
      ...encoder.encode('[{"m":"'),
      0xff,
      ...encoder.encode('"},{"seq":2}]'),
    ]);
    expect(summary(parse(bytes))).toEqual([
      { code: 'parse.encoding', span: false, ...at(0, 1, 1, 9) },
      { fields: { seq: 2 }, ...at(1, 1, 11, 9) },
    ]);
    expect(summary(parse(bytes, 3))).toEqual(summary(parse(bytes)));
  });

  it('rejects an oversized element without holding it, and reads the next', () => {
    const length = RECORD_BYTES_MAX * 4;
    const long = `{"m":"${'x'.repeat(length - 8)}"}`;
    const text = `[${long},{"seq":2}]`;
    for (const chunkBytes of [1000, 65_536, Infinity]) {
      expect(summary(parse(text, chunkBytes))).toEqual([
        {
          code: 'parse.record_too_large',
          span: false,
          recordIndex: 0,
          line: 1,
          byteOffset: 1,
          byteLength: length,
        },
        { fields: { seq: 2 }, ...at(1, 1, length + 2, 9) },
      ]);
    }
  });

  it('rejects nesting deeper than the limit but reads nesting at the limit', () => {
    const nested = (depth: number): string =>
      '{"a":'.repeat(depth - 1) + '{}' + '}'.repeat(depth - 1);
    const items = parseEverySplit(`[${nested(JSON_DEPTH_MAX)},${nested(JSON_DEPTH_MAX + 1)}]`);
    expect(summary(items).map((item) => (item as { code?: string }).code)).toEqual([
      undefined,
      'parse.record_too_large',
    ]);
  });

  it('reads a long run of nested records the same after the flat-record shortcut gives up', () => {
    const records = Array.from({ length: 40 }, (_, seq) => ({ seq, meta: { source: 'x' } }));
    const text = JSON.stringify([...records, { seq: 40 }]);
    const items = parse(text);
    expect(items.map((item) => item.kind === 'record' && item.record.fields)).toEqual([
      ...records,
      { seq: 40 },
    ]);
    expect(parse(text, 7)).toEqual(items);
  });
});
