// Goal: the registry covers every input format, detection goes by extension then content, and
// replay of one record gives the stream's verdict. Method: examples, including per-record rejects.
import { describe, expect, it } from 'vitest';
import { INPUT_FORMATS, RECORD_FORMATS, itemLocation, type ParseItem } from '../core/parser.js';
import { RECORD_BYTES_MAX } from '../core/limits.js';
import { PARSER_FACTORIES, detectFormat, parseOneRecord } from './formats.js';

const encoder = new TextEncoder();

describe('PARSER_FACTORIES', () => {
  it('has one factory per input format, each making a fresh parser', () => {
    expect(Object.keys(PARSER_FACTORIES).sort()).toEqual([...INPUT_FORMATS].sort());
    for (const format of RECORD_FORMATS) {
      expect(PARSER_FACTORIES[format]()).not.toBe(PARSER_FACTORIES[format]());
    }
  });
});

describe('detectFormat', () => {
  const head = (text: string): Uint8Array => encoder.encode(text);

  it('trusts the extension first, in any case', () => {
    expect(detectFormat('reads.json', head('meter_id,seq'))).toBe('json');
    expect(detectFormat('reads.NDJSON', head('['))).toBe('ndjson');
    expect(detectFormat('reads.jsonl', head(''))).toBe('ndjson');
    expect(detectFormat('dir.v2/reads.Csv', head('{'))).toBe('csv');
  });

  it('reads the content when the extension says nothing', () => {
    expect(detectFormat('reads', head('\ufeff \r\n [{"seq":1}]'))).toBe('json');
    expect(detectFormat('reads.txt', head('\n{"seq":1}\n'))).toBe('ndjson');
    expect(detectFormat('reads.dat', head('\ufeffmeter_id,seq\nMTR-1,1\n'))).toBe('csv');
    expect(detectFormat('reads.dat', head('id,seq\nmeter_id,1\n'))).toBeNull();
    expect(detectFormat('reads', head(''))).toBeNull();
    expect(detectFormat('reads', head('<xml/>'))).toBeNull();
  });
});

describe('parseOneRecord', () => {
  function streamed(format: (typeof INPUT_FORMATS)[number], text: string) {
    const bytes = encoder.encode(text);
    const parser = PARSER_FACTORIES[format]();
    const items: ParseItem[] = [...parser.push(bytes), ...parser.end()];
    return { bytes, items, context: parser.context() };
  }

  it('gives each streamed record and per-record reject again from its bytes alone', () => {
    const cases = [
      streamed('ndjson', '{"seq":1}\r\n{"seq":2,}\n[3]\n'),
      streamed('json', '[{"seq":1}, {"a": 01}, 7, {"seq":{"b":[]}}]'),
      streamed('csv', 'meter_id,seq\nMTR-1,1\nMTR-2\n"MTR-3","a""b"\nx,y"\n'),
    ] as const;
    for (const [index, { bytes, items, context }] of cases.entries()) {
      const format = (['ndjson', 'json', 'csv'] as const)[index] ?? 'json';
      expect(items.length).toBeGreaterThanOrEqual(3);
      for (const item of items) {
        const location = itemLocation(item);
        const alone = bytes.slice(location.byteOffset, location.byteOffset + location.byteLength);
        expect(parseOneRecord(format, alone, context, location)).toEqual(item);
      }
    }
  });

  it('rejects a duplicate key and an inexact number in NDJSON, a JSON array, and on replay', () => {
    const records = [
      '{"meter_id":"MTR-A","meter_id":"MTR-B","seq":1}',
      '{"meter\\u005fid":"MTR-A","seq":2,"meter_id":"MTR-B"}',
      '{"meter_id":"MTR-A","status_code":9007199254740993}',
      '{"meter_id":"MTR-A","seq":9007199254740993e0}',
      '{"meter_id":"MTR-A","seq":3}',
    ];
    const expected = [
      ['parse.duplicate_key', 'meter_id', 'meter_id'],
      ['parse.duplicate_key', 'meter_id', 'meter_id'],
      ['parse.inexact_number', 'status_code', '9007199254740993'],
      ['parse.inexact_number', 'seq', '9007199254740993e0'],
      null,
    ];
    const cases = [
      { format: 'ndjson', ...streamed('ndjson', records.join('\n')) },
      { format: 'json', ...streamed('json', `[${records.join(',\n')}]`) },
    ] as const;
    for (const { format, bytes, items, context } of cases) {
      const verdicts = items.map((item) => {
        if (item.kind !== 'reject') return null;
        const { code, field, value } = item.reject.violations[0] ?? {};
        return [code, field, value];
      });
      expect(verdicts, format).toEqual(expected);
      for (const item of items) {
        const location = itemLocation(item);
        const alone = bytes.slice(location.byteOffset, location.byteOffset + location.byteLength);
        expect(parseOneRecord(format, alone, context, location)).toEqual(item);
      }
    }
  });

  it('rejects an oversized record again without reading it', () => {
    const location = { recordIndex: 0, line: 1, byteOffset: 0, byteLength: RECORD_BYTES_MAX + 1 };
    const bytes = new Uint8Array(RECORD_BYTES_MAX + 1).fill(0x20);
    for (const format of RECORD_FORMATS) {
      const item = parseOneRecord(format, bytes, { header: ['a'] }, location);
      const code = item.kind === 'reject' ? item.reject.violations[0]?.code : undefined;
      expect(code).toBe('parse.record_too_large');
    }
  });

  it('cannot read a CSV row without its header, and says so', () => {
    const location = { recordIndex: 0, line: 2, byteOffset: 4, byteLength: 3 };
    for (const context of [{}, { header: [] }, { header: 'a,b' }]) {
      const item = parseOneRecord('csv', encoder.encode('1,2'), context, location);
      expect(item.kind === 'reject' && item.reject.violations[0]?.code).toBe('parse.csv_header');
    }
  });
});
