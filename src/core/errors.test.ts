// Goal: the error registry, the reject codes and docs/errors.md never drift apart.
// Method: read the document and check every code (with its exit and HTTP status) appears in it, and
// back.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AmisyncError, ERROR_CODES } from './errors.js';
import { REJECT_CODES } from './reject.js';

const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');

describe('error registry', () => {
  it('documents every operating error with its exit code and HTTP status', () => {
    for (const [code, spec] of Object.entries(ERROR_CODES)) {
      expect(doc).toContain(`| \`${code}\` | ${spec.exitCode} | ${spec.httpStatus} |`);
    }
    const documented = [...doc.matchAll(/^\| `([A-Z_]+)` \| \d+ \|/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });

  it('documents every reject code, and no other', () => {
    const documented = [...doc.matchAll(/^\| `([a-z_]+\.[a-z_]+)` \|/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual([...REJECT_CODES].sort());
  });

  it('never uses exit code 0 or 1 for an error', () => {
    for (const spec of Object.values(ERROR_CODES)) expect(spec.exitCode).toBeGreaterThan(1);
    const error = new AmisyncError('NOT_FOUND', 'gone', { id: 3 });
    expect(error.toJSON()).toEqual({ error: 'NOT_FOUND', message: 'gone', id: 3 });
    expect(error.exitCode).toBe(3);
  });
});
