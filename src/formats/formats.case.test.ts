// Goal: every parser in PARSER_FACTORIES reads generated deliveries exactly, whatever the chunking,
// with locations that re-parse alone, and survives corruption. Method: fast-check over all formats.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { itemLocation, type RecordFormat, type ParseItem } from '../core/parser.js';
import type { RecordLocation } from '../core/reading.js';
import { PARSER_FACTORIES, parseOneRecord } from './formats.js';
import { pushSplit } from '../test-support/split.js';

const FIELD_NAMES = [
  'meter_id',
  'timestamp_utc',
  'consumption_kwh',
  'status_code',
  'seq',
  'quality',
];
type Value = string | number;
type Delivery = { bytes: Uint8Array; records: Record<string, Value>[] };

const encoder = new TextEncoder();

function parse(format: RecordFormat, bytes: Uint8Array, cuts: number[] = []): ParseItem[] {
  return pushSplit(PARSER_FACTORIES[format](), bytes, cuts);
}

function locationOf(item: ParseItem): RecordLocation {
  return itemLocation(item);
}

function lineOf(bytes: Uint8Array, offset: number): number {
  let line = 1;
  for (let index = 0; index < offset; index++) if (bytes[index] === 0x0a) line += 1;
  return line;
}

// Values mix ASCII, multi-byte characters (split by chunk cuts) and every character that means
// something to one of the formats. `quiet` leaves out what a corruption could turn into structure
// that no parser can tell from data (see the corruption property).
const LOUD_UNITS = ['"', ',', '\\', '\n', '\r', '{', '}', '[', ']', '\t'];
const QUIET_UNITS = ['a', 'Z', '0', ' ', '-', ':', '.', 'é', '€', '😀', '\u2028', '\ufeff'];

function deliveryArbitrary(format: RecordFormat, loud: boolean): fc.Arbitrary<Delivery> {
  const units = loud ? [...QUIET_UNITS, ...LOUD_UNITS] : QUIET_UNITS;
  const text = fc.string({ unit: fc.constantFrom(...units), maxLength: 12 });
  const value: fc.Arbitrary<Value> =
    format === 'csv' ? text : fc.oneof(text, fc.integer({ min: -1e6, max: 1e6 }));
  const record = fc
    .tuple(...FIELD_NAMES.map(() => value))
    .map((values) =>
      Object.fromEntries(FIELD_NAMES.map((name, index) => [name, values[index] ?? ''])),
    );
  const layout = fc.record({
    byteOrderMark: fc.boolean(),
    crlf: fc.boolean(),
    finalTerminator: fc.boolean(),
    gaps: fc.array(fc.constantFrom('', '', ' ', '\n', '\r\n', '\t', '\n\n'), { maxLength: 40 }),
    quoteAll: fc.boolean(),
  });
  return fc
    .tuple(fc.array(record, { maxLength: 12 }), layout)
    .map(([records, options]) => ({ records, bytes: serialise(format, records, options) }));
}

interface Layout {
  byteOrderMark: boolean;
  crlf: boolean;
  finalTerminator: boolean;
  gaps: string[];
  quoteAll: boolean;
}

function serialise(
  format: RecordFormat,
  records: Record<string, Value>[],
  layout: Layout,
): Uint8Array {
  const newline = layout.crlf ? '\r\n' : '\n';
  const gap = (index: number): string => layout.gaps[index % Math.max(layout.gaps.length, 1)] ?? '';
  let text: string;
  if (format === 'json') {
    const elements = records.map((record, index) =>
      index % 3 === 2 ? JSON.stringify(record, null, 2) : JSON.stringify(record),
    );
    text = `${gap(0)}[${elements.map((element, index) => gap(index + 1) + element).join(',')}]`;
  } else if (format === 'ndjson') {
    const lines = records.map((record, index) => {
      const blank = gap(index).includes('\n') ? newline : '';
      return blank + JSON.stringify(record);
    });
    text = lines.join(newline);
  } else {
    const quote = (value: Value): string => {
      const raw = String(value);
      const needed = /[",\r\n]/.test(raw) || layout.quoteAll;
      return needed ? `"${raw.replaceAll('"', '""')}"` : raw;
    };
    const header = FIELD_NAMES.map((name, index) => (index % 2 === 0 ? ` ${name}` : name));
    const rows = records.map((record, index) => {
      const blank = gap(index).includes('\n') ? newline : '';
      return blank + FIELD_NAMES.map((name) => quote(record[name] ?? '')).join(',');
    });
    text = [header.join(','), ...rows].join(newline);
  }
  if (layout.finalTerminator) text += newline;
  return encoder.encode((layout.byteOrderMark ? '\ufeff' : '') + text);
}

function expectedFields(
  format: RecordFormat,
  record: Record<string, Value>,
): Record<string, Value> {
  if (format !== 'csv') return record;
  return Object.fromEntries(Object.entries(record).map(([name, value]) => [name, String(value)]));
}

function cutsArbitrary(maxLength: number): fc.Arbitrary<number[]> {
  return fc.array(fc.integer({ min: 0, max: maxLength }), { maxLength: 24 });
}

describe.each(['json', 'ndjson', 'csv'] as const)('%s parser', (format) => {
  it('reads every generated record, in order, with exact locations', () => {
    fc.assert(
      fc.property(deliveryArbitrary(format, true), ({ bytes, records }) => {
        const items = parse(format, bytes);
        if (format === 'ndjson' && records.length === 0) {
          // NDJSON with no records is blank bytes: an empty delivery, one span for all of them.
          expect(items).toHaveLength(1);
          expect(items[0]?.kind === 'reject' && items[0].reject).toMatchObject({
            violations: [{ code: 'parse.empty' }],
            location: { byteOffset: 0, byteLength: bytes.length },
            uncountedSpan: true,
          });
          return;
        }
        const fields = items.map((item) => (item.kind === 'record' ? item.record.fields : item));
        expect(fields).toEqual(records.map((record) => expectedFields(format, record)));
        items.forEach((item, index) => {
          const location = locationOf(item);
          expect(location.recordIndex).toBe(index);
          expect(location.line).toBe(lineOf(bytes, location.byteOffset));
          const end = location.byteOffset + location.byteLength;
          const alone = bytes.subarray(location.byteOffset, end);
          const context = PARSER_FACTORIES[format]();
          context.push(bytes);
          expect(parseOneRecord(format, alone, context.context(), location)).toEqual(item);
        });
      }),
    );
  });

  it('gives the same items whatever the chunk boundaries', () => {
    const arbitrary = deliveryArbitrary(format, true).chain((delivery) =>
      fc.tuple(fc.constant(delivery), cutsArbitrary(delivery.bytes.length)),
    );
    fc.assert(
      fc.property(arbitrary, ([{ bytes }, cuts]) => {
        expect(parse(format, bytes, cuts)).toEqual(parse(format, bytes));
      }),
    );
  });

  it('gives the same items byte by byte as in one push', () => {
    fc.assert(
      fc.property(deliveryArbitrary(format, true), ({ bytes }) => {
        const everyByte = Array.from({ length: bytes.length }, (_, index) => index);
        expect(parse(format, bytes, everyByte)).toEqual(parse(format, bytes));
      }),
      { numRuns: 30 },
    );
  });

  // A corrupted byte may make a different record out of the record it lands in or next to; that
  // record's bytes or terminators then contain the corruption. What must never happen is a record
  // whose bytes are untouched but
  // which was not a record of the original delivery: a fragment, two records merged, or a nested
  // value taken for a record. Values here leave out brackets (JSON) and line breaks (CSV), which a
  // corruption could turn into a plausible record that no reader of the format could tell apart.
  it('under corruption never throws and yields no record that was not in the input', () => {
    const corruptByte = fc.oneof(
      fc.constantFrom(0x22, 0x2c, 0x0a, 0x0d, 0x7b, 0x7d, 0x5b, 0x5d, 0x5c, 0x3a, 0x20, 0xff, 0xc3),
      fc.integer({ min: 0, max: 255 }),
    );
    const corruption = fc.array(fc.tuple(fc.nat(), corruptByte), { minLength: 1, maxLength: 4 });
    const arbitrary = deliveryArbitrary(format, false).chain((delivery) =>
      fc.tuple(fc.constant(delivery), corruption, cutsArbitrary(delivery.bytes.length)),
    );
    fc.assert(
      fc.property(arbitrary, ([{ bytes: original }, changes, cuts]) => {
        fc.pre(original.length > 0);
        const bytes = original.slice();
        const corrupted = new Set<number>();
        for (const [position, byte] of changes) {
          bytes[position % bytes.length] = byte;
          corrupted.add(position % bytes.length);
        }
        const originalRecords = new Map<string, Readonly<Record<string, unknown>>>();
        for (const item of parse(format, original)) {
          if (item.kind !== 'record') continue;
          const { byteOffset, byteLength } = item.record.location;
          originalRecords.set(`${byteOffset}+${byteLength}`, item.record.fields);
        }
        const items = parse(format, bytes, cuts);
        expect(items).toEqual(parse(format, bytes));
        const context = PARSER_FACTORIES[format]();
        context.push(bytes);
        items.forEach((item, index) => {
          const location = locationOf(item);
          expect(location.recordIndex).toBe(index);
          expect(location.byteOffset + location.byteLength).toBeLessThanOrEqual(bytes.length);
          if (item.kind === 'reject' && item.reject.uncountedSpan) return;
          const end = location.byteOffset + location.byteLength;
          const alone = bytes.subarray(location.byteOffset, end);
          expect(parseOneRecord(format, alone, context.context(), location)).toEqual(item);
          if (item.kind !== 'record') return;
          // The bytes that delimit a record count as its own: a line feed written over a CSV value
          // makes a shorter row out of untouched bytes, which may have the right column count.
          const first = location.byteOffset - 1;
          const touched = [...corrupted].some((at) => at >= first && at <= end + 1);
          if (touched) return;
          // A CSV row's values are compared without names: a corrupted header renames every column.
          const shown = (fields: Readonly<Record<string, unknown>> | undefined): unknown =>
            format === 'csv' && fields !== undefined ? Object.values(fields) : fields;
          const before = originalRecords.get(`${location.byteOffset}+${location.byteLength}`);
          expect(shown(before)).toEqual(shown(item.record.fields));
        });
      }),
      { numRuns: 300 },
    );
  });
});
