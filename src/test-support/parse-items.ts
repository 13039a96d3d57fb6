/**
 * Shared by the parser tests: push a delivery through a fresh parser (whole or in pieces), and
 * render the items compactly for comparison.
 */
import { expect } from 'vitest';
import type { ParseItem, StreamParser } from '../core/parser.js';

const encoder = new TextEncoder();

/** Items of `input` pushed in pieces of `chunkBytes` (whole by default), then `end()`. */
export function parseWith(
  createParser: () => StreamParser,
  input: string | Uint8Array,
  chunkBytes = Infinity,
): ParseItem[] {
  const bytes = typeof input === 'string' ? encoder.encode(input) : input;
  const parser = createParser();
  const items: ParseItem[] = [];
  for (let start = 0; start < bytes.length; start += chunkBytes) {
    items.push(...parser.push(bytes.subarray(start, start + chunkBytes)));
  }
  return [...items, ...parser.end()];
}

/** The same items for every chunk size from 1 to 8 bytes: the parse ignores boundaries. */
export function parseEverySplitWith(createParser: () => StreamParser, text: string): ParseItem[] {
  const whole = parseWith(createParser, text);
  for (let chunkBytes = 1; chunkBytes <= 8; chunkBytes++) {
    expect(parseWith(createParser, text, chunkBytes)).toEqual(whole);
  }
  return whole;
}

export function at(recordIndex: number, line: number, byteOffset: number, byteLength: number) {
  return { recordIndex, line, byteOffset, byteLength };
}

/** Records as fields and location; rejects as first code (and span flag, if asked) and location. */
export function summary(items: readonly ParseItem[], withSpan = true): unknown[] {
  return items.map((item) => {
    if (item.kind === 'record') return { fields: item.record.fields, ...item.record.location };
    if (item.kind === 'candidate') return { candidate: item.candidate };
    const code = item.reject.violations[0]?.code;
    return withSpan
      ? { code, span: item.reject.uncountedSpan, ...item.reject.location }
      : { code, ...item.reject.location };
  });
}
