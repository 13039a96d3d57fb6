// Goal: the record checksum has one documented canonical form, pinned by the README's test vectors.
// Method: recompute the README vectors byte-exactly and check the README text; probe format rules.
import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import {
  canonicalChecksumInput,
  checkRecordChecksum,
  computeRecordChecksum,
  normalizeChecksum,
  type ChecksumFields,
} from './checksum.js';

const VECTORS: { fields: ChecksumFields; input: string; checksum: string }[] = [
  {
    fields: {
      meterId: 'MTR-00000001',
      channel: '1',
      intervalStartMs: Date.UTC(2026, 0, 1, 0, 0, 0),
      valueMicro: 1_250_000,
      statusCode: 0,
      seq: 0,
    },
    input: 'MTR-00000001|1|2026-01-01T00:00:00Z|1.250000|0|0',
    checksum: 'a3df5761245a66ab8f25fa57fbc6fdc915e14d62ad6d666c5b4809c03de2957c',
  },
  {
    fields: {
      meterId: 'MTR-ABCD1234',
      channel: 'A2',
      intervalStartMs: Date.UTC(2026, 2, 8, 7, 15, 0),
      valueMicro: 1,
      statusCode: 9,
      seq: 42,
    },
    input: 'MTR-ABCD1234|A2|2026-03-08T07:15:00Z|0.000001|9|42',
    checksum: '3d64bdbf758d5c0acf802178fcd1f2a002151f5cf600f03b348fa2ab436ea9f2',
  },
];

describe('record checksum test vectors', () => {
  it.each(VECTORS)('$input', ({ fields, input, checksum }) => {
    expect(canonicalChecksumInput(fields)).toBe(input);
    expect(computeRecordChecksum(fields)).toBe(checksum);
    expect(checkRecordChecksum(checksum, fields)).toEqual({ ok: true, checksumSha256: checksum });
  });

  it('are the vectors the README documents', () => {
    const readme = readFileSync(new URL('./README.md', import.meta.url), 'utf8');
    for (const { input, checksum } of VECTORS) {
      expect(readme).toContain(`\`${input.replaceAll('|', '\\|')}\``);
      expect(readme).toContain(`\`${checksum}\``);
      expect(readme).toContain(`printf '%s' '${VECTORS[0]?.input}'`);
    }
  });

  it('renders negative energy and large seq exactly', () => {
    const fields = { ...VECTORS[0]?.fields, valueMicro: -1, seq: 2 ** 53 - 1 } as ChecksumFields;
    expect(canonicalChecksumInput(fields)).toBe(
      'MTR-00000001|1|2026-01-01T00:00:00Z|-0.000001|0|9007199254740991',
    );
  });
});

describe('checksum format', () => {
  const checksum = VECTORS[0]?.checksum ?? '';

  it('accepts any case and compares in lower case', () => {
    expect(normalizeChecksum(checksum.toUpperCase())).toBe(checksum);
    const fields = VECTORS[0]?.fields as ChecksumFields;
    expect(checkRecordChecksum(checksum.toUpperCase(), fields)).toEqual({
      ok: true,
      checksumSha256: checksum,
    });
  });

  it.each<[unknown]>([
    [checksum.slice(1)],
    [`${checksum}0`],
    [`${checksum.slice(1)}g`],
    [` ${checksum.slice(1)}`],
    [''],
    [123],
    [null],
  ])('checksum.format: %s', (value) => {
    expect(normalizeChecksum(value)).toBeNull();
    const fields = VECTORS[0]?.fields as ChecksumFields;
    const result = checkRecordChecksum(value, fields);
    expect(result).toMatchObject({ ok: false, code: 'checksum.format' });
  });

  it('checksum.mismatch names the expected value', () => {
    const fields = VECTORS[1]?.fields as ChecksumFields;
    const result = checkRecordChecksum(checksum, fields);
    expect(result).toMatchObject({ ok: false, code: 'checksum.mismatch' });
    if (!result.ok) expect(result.message).toContain(VECTORS[1]?.checksum);
  });
});
