// Goal: the NDJSON parser reads each line alone, with exact locations, and makes each bad line one
// reject without losing its neighbours. Method: hand-made deliveries pushed whole and in pieces.
import { describe, expect, it } from 'vitest';
import { at, parseWith, summary as summarize } from '../test-support/parse-items.js';
import type { ParseItem } from '../core/parser.js';
import { JSON_DEPTH_MAX, RECORD_BYTES_MAX, RECORD_FIELDS_MAX } from '../core/limits.js';
import { createNdjsonParser } from './ndjson.js';

const encoder = new TextEncoder();

function parse(input: string | Uint8Array, chunkBytes = Infinity): ParseItem[] {
  return parseWith(createNdjsonParser, input, chunkBytes);
}

function summary(items: ParseItem[]): unknown[] {
  return summarize(items, false);
}

describe('ndjson parser', () => {
  it('reads LF and CRLF lines with locations that exclude the terminator', () => {
    const text = '{"seq":1}\r\n{"seq":2}\n{"seq":3}';
    expect(summary(parse(text))).toEqual([
      { fields: { seq: 1 }, ...at(0, 1, 0, 9) },
      { fields: { seq: 2 }, ...at(1, 2, 11, 9) },
      { fields: { seq: 3 }, ...at(2, 3, 21, 9) },
    ]);
  });

  it('reads a CRLF split between two chunks as one terminator', () => {
    const bytes = encoder.encode('{"seq":1}\r\n{"seq":2}\r\n');
    const parser = createNdjsonParser();
    const items = [
      ...parser.push(bytes.subarray(0, 10)),
      ...parser.push(bytes.subarray(10, 11)),
      ...parser.push(bytes.subarray(11)),
      ...parser.end(),
    ];
    expect(summary(items)).toEqual(summary(parse(bytes)));
    expect(summary(items)[0]).toMatchObject({ byteOffset: 0, byteLength: 9 });
  });

  it('skips a byte order mark at the start, even split across chunks, and offsets count it', () => {
    const text = '\ufeff{"seq":1}\n';
    for (const chunkBytes of [1, 2, 3, 100]) {
      expect(summary(parse(text, chunkBytes))).toEqual([{ fields: { seq: 1 }, ...at(0, 1, 3, 9) }]);
    }
  });

  it('rejects a byte order mark that is not at the start of the delivery', () => {
    const items = parse('{"seq":1}\n\ufeff{"seq":2}\n');
    expect(summary(items)[1]).toMatchObject({ code: 'parse.syntax', line: 2 });
  });

  it('skips blank and whitespace-only lines without counting them as records', () => {
    const items = parse('\n{"seq":1}\n\r\n  \t\n{"seq":2}\n\n');
    expect(summary(items)).toEqual([
      { fields: { seq: 1 }, ...at(0, 2, 1, 9) },
      { fields: { seq: 2 }, ...at(1, 5, 17, 9) },
    ]);
  });

  it('keeps the neighbours of a bad line in the middle, and says where and why', () => {
    const items = parse('{"seq":1}\n{"seq":2,}\n{"seq":3}\n');
    expect(summary(items)).toEqual([
      { fields: { seq: 1 }, ...at(0, 1, 0, 9) },
      { code: 'parse.syntax', ...at(1, 2, 10, 10) },
      { fields: { seq: 3 }, ...at(2, 3, 21, 9) },
    ]);
    const reject = items[1]?.kind === 'reject' ? items[1].reject : null;
    expect(reject?.uncountedSpan).toBe(false);
    expect(reject?.violations[0]?.message).toMatch(
      /^Line 2: the record is not valid JSON \(.+\)\.$/,
    );
    expect(reject?.violations[0]?.value).toBe('{"seq":2,}');
  });

  it('rejects JSON values that are not objects', () => {
    const items = parse('[1,2]\n"text"\n42\nnull\n{"seq":1}\n');
    expect(summary(items).map((item) => (item as { code?: string }).code)).toEqual([
      'parse.not_an_object',
      'parse.not_an_object',
      'parse.not_an_object',
      'parse.not_an_object',
      undefined,
    ]);
  });

  it('rejects invalid UTF-8 as an encoding error and reads the next line', () => {
    const bytes = Uint8Array.from([
      ...encoder.encode('{"m":"'),
      0xc3,
      0x28,
      ...encoder.encode('"}\n{"seq":1}\n'),
    ]);
    expect(summary(parse(bytes))).toEqual([
      { code: 'parse.encoding', ...at(0, 1, 0, 10) },
      { fields: { seq: 1 }, ...at(1, 2, 11, 9) },
    ]);
  });

  it('decodes a multi-byte character split across chunks', () => {
    const text = '{"m":"é€😀"}\n';
    for (let chunkBytes = 1; chunkBytes <= 6; chunkBytes++) {
      expect(summary(parse(text, chunkBytes))).toEqual(summary(parse(text)));
    }
    expect(summary(parse(text))[0]).toMatchObject({ fields: { m: 'é€😀' }, byteLength: 17 });
  });

  it('rejects an oversized line without holding it, and reads the next line', () => {
    const length = RECORD_BYTES_MAX * 5;
    const long = `{"m":"${'x'.repeat(length - 8)}"}`;
    const text = `{"seq":1}\n${long}\r\n{"seq":2}\n`;
    // Chunks smaller than the line prove it is counted, not buffered: the record buffer asserts its
    // bound, so holding the line would throw.
    for (const chunkBytes of [1000, 65_536, Infinity]) {
      expect(summary(parse(text, chunkBytes))).toEqual([
        { fields: { seq: 1 }, ...at(0, 1, 0, 9) },
        {
          code: 'parse.record_too_large',
          recordIndex: 1,
          line: 2,
          byteOffset: 10,
          byteLength: length,
        },
        { fields: { seq: 2 }, ...at(2, 3, 12 + length, 9) },
      ]);
    }
  });

  it('reads a line of exactly the byte limit, with or without a carriage return after it', () => {
    const line = `{"m":"${'x'.repeat(RECORD_BYTES_MAX - 8)}"}`;
    for (const terminator of ['\n', '\r\n', '']) {
      const items = parse(line + terminator, 4096);
      expect(items[0]?.kind).toBe('record');
      expect(summary(items)[0]).toMatchObject({ byteLength: RECORD_BYTES_MAX });
    }
    expect(summary(parse(`${line} \n`, 4096))[0]).toMatchObject({
      code: 'parse.record_too_large',
      byteLength: RECORD_BYTES_MAX + 1,
    });
  });

  it('rejects nesting deeper than the limit and more fields than the limit', () => {
    const nested = (depth: number): string =>
      '{"a":'.repeat(depth - 1) + '{}' + '}'.repeat(depth - 1);
    const fields = (count: number): string =>
      JSON.stringify(Object.fromEntries(Array.from({ length: count }, (_, i) => [`f${i}`, i])));
    const text = [
      nested(JSON_DEPTH_MAX),
      nested(JSON_DEPTH_MAX + 1),
      fields(RECORD_FIELDS_MAX),
      fields(RECORD_FIELDS_MAX + 1),
      `{"a":${'['.repeat(JSON_DEPTH_MAX)}${']'.repeat(JSON_DEPTH_MAX)}}`,
    ].join('\n');
    const items = parse(text);
    const kinds = items.map((item) => item.kind);
    expect(kinds).toEqual(['record', 'reject', 'record', 'reject', 'reject']);
    for (const index of [1, 3, 4]) {
      const item = items[index];
      expect(item?.kind === 'reject' && item.reject.violations[0]?.code).toBe(
        'parse.record_too_large',
      );
    }
  });

  it('reads a last line without a terminator and returns nothing more from a second end()', () => {
    const parser = createNdjsonParser();
    expect(parser.push(encoder.encode('{"seq":1}\n{"seq":2}'))).toHaveLength(1);
    expect(parser.end()).toHaveLength(1);
    expect(parser.end()).toEqual([]);
    expect(parser.context()).toEqual({});
  });

  it('yields nothing for an empty delivery', () => {
    expect(parse('')).toEqual([]);
    expect(parse('\ufeff')).toEqual([]);
  });
});
