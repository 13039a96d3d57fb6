// Goal: every named limit is documented with its value, and the document names no removed limit.
// Method: read docs/limits.md and compare its table with the constants exported by limits.ts.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as limits from './limits.js';

const doc = readFileSync(new URL('../../docs/limits.md', import.meta.url), 'utf8');

const MIB = 1024 * 1024;

function documentedValue(value: number): string {
  if (value % MIB === 0) return `${value / MIB} MiB`;
  if (value % 1024 === 0) return `${value / 1024} KiB`;
  return value.toLocaleString('en-US');
}

describe('limits', () => {
  it('documents every limit with its value', () => {
    for (const [name, value] of Object.entries(limits)) {
      expect(doc, name).toContain(`| \`${name}\` | ${documentedValue(value)} |`);
    }
  });

  it('documents no other limit', () => {
    const documented = [...doc.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual(Object.keys(limits).sort());
  });
});
