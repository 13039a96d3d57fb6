// Goal: replay of a typed delivery cut short (its process died) rests on one promise of every typed
// reader: bytes read only up to some point give out a prefix of the items the whole delivery gives,
// with the same numbers and verdicts, whatever the chunking. Then a record re-read from the stored
// bytes, without ending the parse, is the very record the first read committed, never a sibling.
// Method: fast-check damages the fuzz harness's valid delivery of each typed reader, cuts it at a
// random point and reads the cut bytes in random chunks without end(); reparseTypedItems, asked for
// every number, must find only items equal to the whole read's.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isTypedFormat, itemLocation } from '../core/parser.js';
import { applyDamages, damagesFor, fuzzSeeds, type Seed } from '../test-support/fuzz.js';
import { pushSplit } from '../test-support/split.js';
import { PARSER_FACTORIES, reparseTypedItems } from './formats.js';

const RUNS = 100;

function parser(seed: Seed) {
  if (!isTypedFormat(seed.format)) throw new Error(`${seed.name} is not a typed format`);
  return PARSER_FACTORIES[seed.format](seed.formatContext ?? {});
}

/** A reader of `bytes` in reads of `size`, as replay reads the raw store. */
function reader(bytes: Uint8Array, size: number) {
  return async (offset: number) => bytes.subarray(offset, offset + size);
}

const typedSeeds = fuzzSeeds().filter((seed) => isTypedFormat(seed.format));

describe.each(typedSeeds.map((seed) => [seed.name, seed] as const))('%s', (_name, seed) => {
  it('gives out items before its end: a cut at the last byte finds records', async () => {
    const whole = pushSplit(parser(seed), seed.bytes);
    const numbers = new Set(whole.map((item) => itemLocation(item).recordIndex));
    const found = await reparseTypedItems(
      seed.format as never,
      seed.formatContext ?? {},
      reader(seed.bytes, 4096),
      numbers,
      'cut-short',
    );
    expect(found.size).toBeGreaterThan(0);
  });

  it('gives out a prefix of the whole read from any cut, and replay finds only those', async () => {
    await fc.assert(
      fc.asyncProperty(
        damagesFor(seed),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.array(fc.nat({ max: seed.bytes.length * 2 }), { maxLength: 6 }),
        fc.integer({ min: 1, max: 4096 }),
        async (damages, cutAt, cuts, readSize) => {
          const bytes = applyDamages(seed, damages);
          const whole = pushSplit(parser(seed), bytes);
          const stored = bytes.subarray(0, Math.floor(cutAt * bytes.length));
          const given = pushSplit(parser(seed), stored, cuts, false);
          expect(given).toEqual(whole.slice(0, given.length));
          const byNumber = new Map(whole.map((item) => [itemLocation(item).recordIndex, item]));
          const found = await reparseTypedItems(
            seed.format as never,
            seed.formatContext ?? {},
            reader(stored, readSize),
            new Set(byNumber.keys()),
            'cut-short',
          );
          expect(found.size).toBe(given.length);
          for (const [number, item] of found) expect(item).toEqual(byNumber.get(number));
        },
      ),
      { numRuns: RUNS },
    );
  });
});
