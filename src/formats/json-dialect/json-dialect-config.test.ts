// Goal: a JSON dialect is checked strictly, every mistake reported at once with its key path (under
// the caller's path when the dialect sits inside a larger config), and resolved with its defaults.
// Method: parseJsonDialect and jsonDialectSchema on the shared vendor dialect and variations of it.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';

import { AmisyncError } from '../../core/errors.js';
import { VENDOR_DIALECT } from '../../test-support/dialects.js';
import { jsonDialectSchema, parseJsonDialect } from './json-dialect-config.js';

/** The problem lines of the error parseJsonDialect throws for `value`. */
function problems(value: unknown, keyPath: PropertyKey[] = []): string[] {
  try {
    parseJsonDialect(value, keyPath);
  } catch (error) {
    expect(error).toBeInstanceOf(AmisyncError);
    expect((error as AmisyncError).code).toBe('CONFIG_INVALID');
    return (error as Error).message.split('\n').slice(1);
  }
  throw new Error('the dialect was accepted');
}

function withFields(fields: Record<string, unknown>): unknown {
  return { ...VENDOR_DIALECT, fields: { ...VENDOR_DIALECT.fields, ...fields } };
}

describe('parseJsonDialect', () => {
  it('resolves paths to keys and fills in the defaults', () => {
    const dialect = parseJsonDialect({
      name: 'minimal',
      fields: {
        meterId: 'a.b',
        timestamp: ['t.with.dots'],
        value: 'v',
        unit: { constant: 'kWh' },
        intervalSeconds: { constant: 900 },
      },
      timeZone: 'UTC',
      timestampMarks: 'start',
    });
    expect(dialect).toEqual({
      name: 'minimal',
      recordsPath: null,
      decimalSeparator: '.',
      thousandsSeparator: null,
      fields: {
        meterId: ['a', 'b'],
        channel: null,
        timestamp: ['t.with.dots'],
        value: ['v'],
        unit: { constant: 'kWh' },
        quality: null,
        intervalSeconds: { constant: 900 },
        sequence: null,
      },
      timestampFormat: 'iso8601',
      timeZone: 'UTC',
      timestampMarks: 'start',
      unknownFields: 'ignore',
    });
    expect(Object.isFrozen(dialect.fields.meterId)).toBe(true);
    expect(parseJsonDialect(VENDOR_DIALECT).recordsPath).toEqual(['data', 'readings']);
    expect(parseJsonDialect({ ...VENDOR_DIALECT, recordsPath: '' }).recordsPath).toEqual([]);
  });

  it('reports every mistake at once, each with its path under the caller', () => {
    const value = {
      ...VENDOR_DIALECT,
      name: '',
      fields: { ...VENDOR_DIALECT.fields, meterID: 'x', value: 'a..b', unit: { constant: 'J' } },
      timeZone: 'Mars/Olympus',
    };
    expect(problems(value, ['sources', 0, 'dialect'])).toEqual([
      '  - sources.0.dialect.name: Too small: expected string to have >=1 characters',
      expect.stringMatching(/^ {2}- sources\.0\.dialect\.fields\.value: /),
      expect.stringMatching(/^ {2}- sources\.0\.dialect\.fields\.unit: /),
      '  - sources.0.dialect.fields.meterID: unknown key',
      expect.stringMatching(/^ {2}- sources\.0\.dialect\.timeZone: must be an IANA time zone/),
    ]);
  });

  it('requires timeZone to be stated, and a zone for a pattern format', () => {
    const { timeZone: _omitted, ...withoutZone } = VENDOR_DIALECT;
    expect(problems(withoutZone)).toEqual([expect.stringMatching(/^ {2}- timeZone: /)]);
    expect(problems({ ...VENDOR_DIALECT, timestampFormat: 'DD.MM.YYYY HH:mm' })).toEqual([
      expect.stringMatching(/^ {2}- timeZone: must name a zone when timestampFormat is a pattern/),
    ]);
  });

  it('refuses a path mapped twice, a path inside another, and equal separators', () => {
    expect(problems(withFields({ channel: 'meterNumber' }))).toEqual([
      '  - fields.channel: maps the field meterNumber again (already fields.meterId)',
    ]);
    expect(problems(withFields({ value: 'reading', unit: 'reading.unit' }))).toEqual([
      '  - fields.value: reading holds reading.unit (fields.unit), so it cannot also be a value',
    ]);
    expect(problems({ ...VENDOR_DIALECT, decimalSeparator: ',', thousandsSeparator: ',' })).toEqual(
      ['  - thousandsSeparator: must differ from decimalSeparator'],
    );
  });

  it('refuses paths too deep, with empty keys, and a quality map without codes', () => {
    const deep = Array.from({ length: 9 }, (_, index) => `k${index}`).join('.');
    expect(problems(withFields({ value: deep }))).toEqual([
      '  - fields.value: must have at most 8 keys',
    ]);
    expect(problems(withFields({ meterId: ['a', ''] }))).toHaveLength(1);
    expect(problems(withFields({ quality: { field: 'q', map: {} } }))).toEqual([
      '  - fields.quality.map: must map at least one code',
    ]);
  });

  it('is a schema a larger config embeds, reporting its mistakes at their full path', () => {
    const config = z.strictObject({
      sources: z.array(z.strictObject({ dialect: jsonDialectSchema })),
    });
    const result = config.safeParse({
      sources: [{ dialect: withFields({ channel: 'meterNumber' }) }],
    });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((issue) => issue.path.join('.'))).toEqual([
      'sources.0.dialect.fields.channel',
    ]);
  });
});
