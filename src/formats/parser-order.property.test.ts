// Goal: every reader keeps the parser contract's order on damaged input: items in delivery order,
// each within the delivery, never holding the bytes of a later item, numbered 0 to n - 1 once
// each, and an uncounted span only last; the same items wherever the chunks are cut. A Green Button
// reading whose end tag was damaged once swallowed the three readings after it and came out after
// them; a Green Button chunk holding an invalid byte was once dropped whole, and the line its
// message gave for XML that is not well-formed depended on where a chunk ended.
// Method: fast-check damages the fuzz harness's valid delivery of every reader (bytes and one
// field) and parses it alone, split at random points, checking every item's location.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { itemLocation, type ParseItem } from '../core/parser.js';
import { applyDamages, damagesFor, fuzzSeeds, type Seed } from '../test-support/fuzz.js';
import { pushSplit } from '../test-support/split.js';
import { PARSER_FACTORIES } from './formats.js';

const RUNS = 150;

function parse(seed: Seed, bytes: Uint8Array, cuts: readonly number[]): ParseItem[] {
  return pushSplit(PARSER_FACTORIES[seed.format](seed.formatContext ?? {}), bytes, cuts);
}

/**
 * The order an item's location must keep against the one before it: the same bytes (readings of one
 * line or element share them), or bytes that begin where the earlier ones end or later.
 */
function expectDeliveryOrder(items: readonly ParseItem[], deliveryBytes: number): void {
  // Numbered once each, but not always in the order given: NEM12 numbers a line it cannot read when
  // it reads it, and a 300 line's readings when they are given, after the 400 lines that follow.
  // Replay finds a quarantined record by its number, so the numbering stays as it is stored.
  const indexes = items.map((item) => itemLocation(item).recordIndex);
  expect([...indexes].sort((a, b) => a - b)).toEqual(indexes.map((_, index) => index));
  let previous: { byteOffset: number; byteLength: number } | null = null;
  items.forEach((item, index) => {
    const location = itemLocation(item);
    expect(location.byteOffset).toBeGreaterThanOrEqual(0);
    expect(location.byteOffset + location.byteLength).toBeLessThanOrEqual(deliveryBytes);
    if (item.kind === 'reject' && item.reject.uncountedSpan) {
      expect(index, 'an uncounted span is the last item').toBe(items.length - 1);
    }
    if (previous !== null) {
      const sameBytes =
        location.byteOffset === previous.byteOffset && location.byteLength === previous.byteLength;
      if (!sameBytes) {
        expect(location.byteOffset).toBeGreaterThanOrEqual(
          previous.byteOffset + previous.byteLength,
        );
      }
    }
    previous = location;
  });
}

describe.each(fuzzSeeds().map((seed) => [seed.name, seed] as const))('%s', (_name, seed) => {
  it('gives the valid delivery in order', () => {
    const items = parse(seed, seed.bytes, []);
    expect(items.length).toBeGreaterThan(0);
    expectDeliveryOrder(items, seed.bytes.length);
  });

  it('gives every damaged delivery in order, and the same whatever the chunking', () => {
    fc.assert(
      fc.property(
        damagesFor(seed),
        fc.array(fc.nat({ max: seed.bytes.length * 2 }), { maxLength: 6 }),
        (damages, cutsWanted) => {
          const bytes = applyDamages(seed, damages);
          const cuts = cutsWanted.filter((cut) => cut <= bytes.length);
          const items = parse(seed, bytes, cuts);
          expectDeliveryOrder(items, bytes.length);
          // And the same items as in one chunk: what is read never depends on where bytes were cut.
          expect(items).toEqual(parse(seed, bytes, []));
        },
      ),
      { numRuns: RUNS },
    );
  });
});
