// Goal: text that is stored and hashed is well-formed, and escaping changes nothing else.
// Method: examples at the edges, and a property over arbitrary UTF-16 code units.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describeValue, VIOLATION_VALUE_CHARS_MAX, violation } from './reject.js';
import { escapeUnpairedSurrogates, isWellFormedText } from './text.js';

/** The engine's own check (ES2024), an oracle independent of the one under test. */
function nativeWellFormed(text: string): boolean {
  return (text as unknown as { isWellFormed(): boolean }).isWellFormed();
}

const codeUnits = fc.string({
  unit: fc.integer({ min: 0, max: 0xffff }).map((unit) => String.fromCharCode(unit)),
});

describe('well-formed text', () => {
  it.each([
    ['\ud800', false],
    ['a\udfffb', false],
    ['\ude00\ud83d', false],
    ['\ud83d\ude00', true],
    ['\u0000\ufffe\uffff', true],
    ['', true],
  ])('%j is well-formed: %s', (text, expected) => {
    expect(isWellFormedText(text)).toBe(expected);
  });

  it('escapes exactly the unpaired surrogates, leaving well-formed text unchanged', () => {
    expect(escapeUnpairedSurrogates('a\ud800b\ud83d\ude00')).toBe('a\\ud800b\ud83d\ude00');
    fc.assert(
      fc.property(codeUnits, (text) => {
        const escaped = escapeUnpairedSurrogates(text);
        expect(nativeWellFormed(escaped)).toBe(true);
        if (nativeWellFormed(text)) expect(escaped).toBe(text);
        else
          expect(escaped).toBe(
            text.replace(/[\uD800-\uDFFF]/gu, (u) => `\\u${u.charCodeAt(0).toString(16)}`),
          );
      }),
    );
  });

  it('keeps every text of a violation well-formed, however the value is cut', () => {
    fc.assert(
      fc.property(codeUnits, codeUnits, (value, field) => {
        const found = violation('field.type', field, value, `about ${value}`);
        for (const text of [found.field, found.value, found.message]) {
          expect(nativeWellFormed(text)).toBe(true);
        }
      }),
    );
    const pairAtCut = `${'x'.repeat(VIOLATION_VALUE_CHARS_MAX - 1)}\ud83d\ude00tail`;
    expect(nativeWellFormed(describeValue(pairAtCut))).toBe(true);
  });
});
