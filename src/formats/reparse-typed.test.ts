// Goal: replay finds every typed record by its stored number, even where numbers are not given in
// order: NEM12 numbers a line it cannot read before the readings of the 300 line above it.
// Method: a real AEMO NEM12 sample with one 400 line's indicator damaged; every item of the whole
// parse is looked up again alone, in small reads, and must come back with the same location.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { itemLocation } from '../core/parser.js';
import { pushSplit } from '../test-support/split.js';
import { PARSER_FACTORIES, reparseTypedItem, reparseTypedItems } from './formats.js';

const SAMPLE =
  new URL('../../test/fixtures/nem12/valid/', import.meta.url).pathname +
  'aemo-NEM12#000000000000008#CNRGYMDP#NEMMCO.csv';

/** The sample with line 9's `400,1,1,S52,30` made an unknown record (`450`). */
function damagedSample(): Buffer {
  const text = readFileSync(SAMPLE, 'latin1');
  const damaged = text.replace('\n400,1,1,S52,30', '\n450,1,1,S52,30');
  expect(damaged).not.toBe(text);
  return Buffer.from(damaged, 'latin1');
}

/** The byte offset where 1-based `line` begins. */
function offsetOfLine(bytes: Buffer, line: number): number {
  let offset = 0;
  for (let at = 1; at < line; at += 1) offset = bytes.indexOf('\n', offset) + 1;
  return offset;
}

function reader(bytes: Uint8Array, readBytes = 64) {
  return async (offset: number) => bytes.subarray(offset, offset + readBytes);
}

describe('reparseTypedItems', () => {
  const bytes = damagedSample();
  const items = pushSplit(PARSER_FACTORIES.nem12({}), bytes);
  const unknownLine = items.find((item) => itemLocation(item).line === 9);

  it('is given a delivery whose numbers are out of order', () => {
    expect(unknownLine?.kind).toBe('reject');
    const indexes = items.map((item) => itemLocation(item).recordIndex);
    expect(indexes).not.toEqual([...indexes].sort((a, b) => a - b));
  });

  it('finds the line numbered before the readings given ahead of it', async () => {
    const index = itemLocation(unknownLine!).recordIndex;
    const found = await reparseTypedItem('nem12', {}, reader(bytes), index, 'ended');
    expect(found).toEqual(unknownLine);
  });

  it('finds every item by its number, alone or all in one pass', async () => {
    for (const item of items) {
      const index = itemLocation(item).recordIndex;
      expect(await reparseTypedItem('nem12', {}, reader(bytes), index, 'ended')).toEqual(item);
    }
    const all = new Set(items.map((item) => itemLocation(item).recordIndex));
    const found = await reparseTypedItems('nem12', {}, reader(bytes), all, 'ended');
    expect(found.size).toBe(items.length);
  });

  it('of a delivery cut short, finds only what its stored bytes give out alone', async () => {
    // Stored up to line 11: line 8's readings, and lines 9 to 11 given out after them in byte
    // order, wait for line 12, which is not there. Only line 3's readings were given out.
    const lineEnd = (line: number) => bytes.indexOf('\n', offsetOfLine(bytes, line)) + 1;
    const stored = bytes.subarray(0, lineEnd(11));
    const wanted = new Set(items.map((item) => itemLocation(item).recordIndex));
    const found = await reparseTypedItems('nem12', {}, reader(stored), wanted, 'cut-short');
    const lines = [...found.values()].map((item) => itemLocation(item).line);
    expect(new Set(lines)).toEqual(new Set([3]));
    expect(found.size).toBe(48);
    for (const [index, item] of found) {
      expect(item).toEqual(items.find((whole) => itemLocation(whole).recordIndex === index));
    }
    // Ended there instead, numbers from 51 on would go to other records than they first did.
    const first = items.find((item) => itemLocation(item).recordIndex === 51);
    const guessed = await reparseTypedItem('nem12', {}, reader(stored), 51, 'ended');
    expect(guessed).not.toBeNull();
    expect(guessed).not.toEqual(first);
  });

  it('reports a number the delivery does not yield as absent', async () => {
    expect(await reparseTypedItem('nem12', {}, reader(bytes), items.length, 'ended')).toBeNull();
  });
});
