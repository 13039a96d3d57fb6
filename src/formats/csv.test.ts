// Goal: the CSV parser reads RFC 4180 rows under a sound header with exact locations, rejects bad
// rows one by one and a bad header once. Method: hand-made deliveries, pushed whole and in pieces.
import { describe, expect, it } from 'vitest';
import { at, parseEverySplitWith, parseWith, summary } from '../test-support/parse-items.js';
import type { ParseItem } from '../core/parser.js';
import { RECORD_BYTES_MAX, RECORD_FIELDS_MAX } from '../core/limits.js';
import { createCsvParser, splitCsvRow } from './csv.js';

const encoder = new TextEncoder();

function parse(input: string | Uint8Array, chunkBytes = Infinity): ParseItem[] {
  return parseWith(createCsvParser, input, chunkBytes);
}

function parseEverySplit(text: string): ParseItem[] {
  return parseEverySplitWith(createCsvParser, text);
}

describe('csv parser', () => {
  it('reads rows under trimmed header names, locating each row without its terminator', () => {
    const text = ' meter_id , seq\r\nMTR-1,1\r\nMTR-2, 2 \r\n';
    expect(summary(parseEverySplit(text))).toEqual([
      { fields: { meter_id: 'MTR-1', seq: '1' }, ...at(0, 2, 17, 7) },
      { fields: { meter_id: 'MTR-2', seq: ' 2 ' }, ...at(1, 3, 26, 9) },
    ]);
    const parser = createCsvParser();
    expect(parser.context()).toEqual({ header: [] });
    parser.push(encoder.encode(text));
    expect(parser.context()).toEqual({ header: ['meter_id', 'seq'] });
  });

  it('reads quoted commas, doubled quotes and newlines, counting quoted lines', () => {
    const text = 'a,b\n"x,1","say ""hi"""\n"two\r\nlines",""\n,last\n';
    expect(summary(parseEverySplit(text))).toEqual([
      { fields: { a: 'x,1', b: 'say "hi"' }, ...at(0, 2, 4, 18) },
      { fields: { a: 'two\r\nlines', b: '' }, ...at(1, 3, 23, 15) },
      { fields: { a: '', b: 'last' }, ...at(2, 5, 39, 5) },
    ]);
  });

  it('reads a CRLF split between chunks as one terminator', () => {
    const bytes = encoder.encode('a\r\n1\r\n2\r\n');
    const parser = createCsvParser();
    const items = [
      ...parser.push(bytes.subarray(0, 5)),
      ...parser.push(bytes.subarray(5, 6)),
      ...parser.push(bytes.subarray(6)),
      ...parser.end(),
    ];
    expect(summary(items)).toEqual([
      { fields: { a: '1' }, ...at(0, 2, 3, 1) },
      { fields: { a: '2' }, ...at(1, 3, 6, 1) },
    ]);
  });

  it('skips a byte order mark before the header and counts it in offsets', () => {
    expect(summary(parseEverySplit('\ufeffmeter_id\nMTR-1\n'))).toEqual([
      { fields: { meter_id: 'MTR-1' }, ...at(0, 2, 12, 5) },
    ]);
  });

  it('decodes multi-byte characters split across chunks', () => {
    const items = parseEverySplit('m\n"é€😀"\n');
    expect(items.map((item) => item.kind === 'record' && item.record.fields)).toEqual([
      { m: 'é€😀' },
    ]);
  });

  it('skips blank lines before the header and between rows', () => {
    const text = '\n\r\na\n\n1\r\n\r\n2';
    expect(summary(parseEverySplit(text))).toEqual([
      { fields: { a: '1' }, ...at(0, 5, 6, 1) },
      { fields: { a: '2' }, ...at(1, 7, 11, 1) },
    ]);
  });

  it('rejects a row whose column count drifts from the header, and reads its neighbours', () => {
    const text = 'meter_id,seq\nMTR-1,1\nMTR-2,2,extra\nMTR-3\nMTR-4,4\n';
    const items = parseEverySplit(text);
    expect(summary(items)).toEqual([
      { fields: { meter_id: 'MTR-1', seq: '1' }, ...at(0, 2, 13, 7) },
      { code: 'parse.csv_columns', span: false, ...at(1, 3, 21, 13) },
      { code: 'parse.csv_columns', span: false, ...at(2, 4, 35, 5) },
      { fields: { meter_id: 'MTR-4', seq: '4' }, ...at(3, 5, 41, 7) },
    ]);
    const reject = items[1]?.kind === 'reject' ? items[1].reject : null;
    expect(reject?.meterId).toBe('MTR-2');
    expect(reject?.violations[0]?.message).toBe(
      'Line 3: the row has 3 fields but the header has 2.',
    );
  });

  it('rejects a duplicate header name once, for the whole delivery', () => {
    const text = '\ufeffmeter_id,seq, meter_id\nMTR-1,1,2\nMTR-2,2,3\n';
    const items = parseEverySplit(text);
    expect(summary(items)).toEqual([{ code: 'parse.csv_header', span: true, ...at(0, 1, 0, 46) }]);
    const violation = items[0]?.kind === 'reject' ? items[0].reject.violations[0] : undefined;
    expect(violation?.message).toMatch(
      /^Line 1: the header names the column "meter_id" more than once/,
    );
  });

  it('rejects an empty header name, a header over the column limit and a broken header', () => {
    const wide = Array.from({ length: RECORD_FIELDS_MAX + 1 }, (_, index) => `c${index}`).join(',');
    for (const header of ['a,,b', 'a, ', wide, '"a', 'a"b,c', '"a"b']) {
      const text = `${header}\n1,2,3\n`;
      expect(summary(parse(text))).toEqual([
        {
          code: 'parse.csv_header',
          span: true,
          recordIndex: 0,
          line: 1,
          byteOffset: 0,
          byteLength: encoder.encode(text).length,
        },
      ]);
    }
  });

  it('rejects an oversized row without holding it, and reads the next', () => {
    const length = RECORD_BYTES_MAX * 3;
    const text = `a,b\n1,${'x'.repeat(length - 2)}\r\n2,y\n`;
    for (const chunkBytes of [1000, 65_536, Infinity]) {
      expect(summary(parse(text, chunkBytes))).toEqual([
        { code: 'parse.record_too_large', span: false, ...at(0, 2, 4, length) },
        { fields: { a: '2', b: 'y' }, ...at(1, 3, 6 + length, 3) },
      ]);
    }
  });

  it('rejects an oversized quoted row whose newlines would otherwise be rows', () => {
    const quoted = `"${'line\n'.repeat(RECORD_BYTES_MAX / 4)}"`;
    const items = parse(`a,b\n1,${quoted}\n2,y\n`, 4096);
    expect(summary(items).map((item) => (item as { code?: string }).code)).toEqual([
      'parse.record_too_large',
      undefined,
    ]);
    expect(summary(items)[1]).toMatchObject({ line: 3 + RECORD_BYTES_MAX / 4 });
  });

  it('rejects a header row over the byte limit as a bad header', () => {
    const text = `${'h'.repeat(RECORD_BYTES_MAX + 1)}\n1\n`;
    expect(summary(parse(text, 4096))[0]).toMatchObject({ code: 'parse.csv_header', span: true });
  });

  it('rejects a stray quote inside a value as one row, not the rest of the delivery', () => {
    const text = 'a,b\n1,say "hi"\n2,"x"y\n3,z\n';
    expect(summary(parseEverySplit(text))).toEqual([
      { code: 'parse.syntax', span: false, ...at(0, 2, 4, 10) },
      { code: 'parse.syntax', span: false, ...at(1, 3, 15, 6) },
      { fields: { a: '3', b: 'z' }, ...at(2, 4, 22, 3) },
    ]);
  });

  it('rejects a quoted field left open at the end as an uncounted span', () => {
    const text = 'a,b\n1,x\n2,"open\n3,z\n';
    expect(summary(parseEverySplit(text))).toEqual([
      { fields: { a: '1', b: 'x' }, ...at(0, 2, 4, 3) },
      { code: 'parse.syntax', span: true, ...at(1, 3, 8, 12) },
    ]);
  });

  it('rejects invalid UTF-8 in one row and reads the next', () => {
    const cut = [0xe2, 0x82];
    const bytes = Uint8Array.from([...encoder.encode('a\nx'), ...cut, ...encoder.encode('\ny\n')]);
    expect(summary(parse(bytes))).toEqual([
      { code: 'parse.encoding', span: false, ...at(0, 2, 2, 3) },
      { fields: { a: 'y' }, ...at(1, 3, 6, 1) },
    ]);
  });

  it('keeps a column named __proto__ as data', () => {
    const items = parse('__proto__,a\nx,y\n');
    const fields = items[0]?.kind === 'record' ? items[0].record.fields : {};
    expect(Object.keys(fields)).toEqual(['__proto__', 'a']);
    expect(Object.getPrototypeOf(fields)).toBe(Object.prototype);
  });

  it('yields nothing for an empty delivery or a header alone', () => {
    expect(parse('')).toEqual([]);
    expect(parse('a,b')).toEqual([]);
    expect(parse('a,b\r\n\r\n')).toEqual([]);
  });
});

describe('splitCsvRow', () => {
  it('splits RFC 4180 fields and explains what is not', () => {
    expect(splitCsvRow('')).toEqual(['']);
    expect(splitCsvRow('a,,b,')).toEqual(['a', '', 'b', '']);
    expect(splitCsvRow('"",""""," , "')).toEqual(['', '"', ' , ']);
    expect(splitCsvRow('"a\nb",c')).toEqual(['a\nb', 'c']);
    expect(splitCsvRow('a"b')).toBe('has a quote inside the unquoted field 1');
    expect(splitCsvRow('x,"a"b')).toBe('has text after the closing quote of field 2');
    expect(splitCsvRow('x,"a')).toBe('has a quoted field 2 that is never closed');
  });
});
