// Goal: the records array is found at its path inside any JSON page, each element's exact bytes
// are handed over whatever the chunking, and a corrupted page never throws or invents a span.
// Method: fast-check pages with random keys, values around the path, layout and chunk cuts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { EmbeddedArrayScanner, type EmbeddedArrayEvent } from './json-embedded-array.js';
import { pushSplit } from '../test-support/split.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const UNITS = ['a', 'Z', '0', ' ', '.', ':', ',', '"', '\\', '{', '}', '[', ']', '\n', 'é', '😀'];
const keyArbitrary = fc.string({ unit: fc.constantFrom(...UNITS), maxLength: 6 });
const valueArbitrary = fc.jsonValue({ maxDepth: 3 });

interface Page {
  bytes: Uint8Array;
  path: string[];
  records: unknown[];
}

/** An object holding `inner` at `key` among other keys, none of them `key`. */
function around(key: string, inner: unknown, others: Array<[string, unknown]>, at: number) {
  const entries = others.filter(([other]) => other !== key && other !== '__proto__');
  entries.splice(at % (entries.length + 1), 0, [key, inner]);
  return Object.fromEntries(entries);
}

const pageArbitrary: fc.Arbitrary<Page> = fc
  .record({
    path: fc.array(keyArbitrary, { maxLength: 3 }),
    records: fc.array(valueArbitrary, { maxLength: 8 }),
    others: fc.array(fc.array(fc.tuple(keyArbitrary, valueArbitrary), { maxLength: 3 }), {
      minLength: 3,
      maxLength: 3,
    }),
    at: fc.nat(),
    indent: fc.constantFrom(0, 1, 2),
    byteOrderMark: fc.boolean(),
  })
  .map(({ path, records, others, at, indent, byteOrderMark }) => {
    let value: unknown = records;
    for (let level = path.length - 1; level >= 0; level--) {
      value = around(path[level] ?? '', value, others[level] ?? [], at);
    }
    const text = (byteOrderMark ? '\ufeff' : '') + JSON.stringify(value, null, indent);
    return { bytes: encoder.encode(text), path, records };
  });

/** Events without their byte views, which are only valid until the next push (text says all). */
function scan(page: { bytes: Uint8Array; path: readonly string[] }, cuts: number[] = []) {
  const events = pushSplit(new EmbeddedArrayScanner(page.path), page.bytes, cuts);
  return events.map((event: EmbeddedArrayEvent) => {
    if (event.kind !== 'element') return event;
    const { bytes: _view, ...rest } = event;
    return rest;
  });
}

function cutsOf(length: number): fc.Arbitrary<number[]> {
  return fc.array(fc.integer({ min: 0, max: length }), { maxLength: 24 });
}

describe('EmbeddedArrayScanner', () => {
  it('hands over every element of the array at the path, with its exact bytes', () => {
    fc.assert(
      fc.property(pageArbitrary, (page) => {
        const events = scan(page);
        expect(events.map((event) => event.kind)).toEqual(page.records.map(() => 'element'));
        events.forEach((event, index) => {
          if (event.kind !== 'element') return;
          const { byteOffset, byteLength } = event.span;
          const bytes = page.bytes.subarray(byteOffset, byteOffset + byteLength);
          expect(event.text).toBe(decoder.decode(bytes));
          const expected: unknown = JSON.parse(JSON.stringify(page.records[index]));
          expect(JSON.parse(event.text ?? '')).toEqual(expected);
          const before = decoder.decode(page.bytes.subarray(0, byteOffset));
          expect(event.span.line).toBe(before.split('\n').length);
        });
      }),
      { numRuns: 300 },
    );
  });

  it('gives the same events whatever the chunk boundaries', () => {
    const arbitrary = pageArbitrary.chain((page) =>
      fc.tuple(fc.constant(page), cutsOf(page.bytes.length)),
    );
    fc.assert(
      fc.property(arbitrary, ([page, cuts]) => {
        expect(scan(page, cuts)).toEqual(scan(page));
      }),
      { numRuns: 300 },
    );
  });

  it('under corruption never throws, and its spans stay in order inside the page', () => {
    const corruptByte = fc.oneof(
      fc.constantFrom(0x22, 0x2c, 0x0a, 0x7b, 0x7d, 0x5b, 0x5d, 0x5c, 0x3a, 0x20, 0xff, 0x3c),
      fc.integer({ min: 0, max: 255 }),
    );
    const arbitrary = pageArbitrary.chain((page) =>
      fc.tuple(
        fc.constant(page),
        fc.array(fc.tuple(fc.nat(), corruptByte), { minLength: 1, maxLength: 4 }),
        cutsOf(page.bytes.length),
      ),
    );
    fc.assert(
      fc.property(arbitrary, ([page, changes, cuts]) => {
        const bytes = page.bytes.slice();
        for (const [position, byte] of changes) bytes[position % bytes.length] = byte;
        const corrupted = { bytes, path: page.path };
        const events = scan(corrupted, cuts);
        expect(events).toEqual(scan(corrupted));
        let end = 0;
        for (const event of events) {
          const { byteOffset, byteLength } = event.span;
          expect(byteOffset + byteLength).toBeLessThanOrEqual(bytes.length);
          if (event.kind === 'element') {
            expect(byteOffset).toBeGreaterThanOrEqual(end);
            end = byteOffset + byteLength;
          }
        }
        const problems = events.filter((event) => event.kind === 'page_problem');
        expect(problems.length).toBeLessThanOrEqual(1);
      }),
      { numRuns: 300 },
    );
  });
});
