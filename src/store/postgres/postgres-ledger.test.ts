// Goal: a ledger row's COPY text line reads back as exactly the row, whatever its text holds, and
// the chunks sent hold exactly those lines in order. Method: property tests: escape any strings
// (tabs, newlines, backslashes), split the line at its tabs, undo the text format's escapes as
// PostgreSQL does, and compare field by field; join the chunks and compare with the lines' UTF-8.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LedgerRow } from '../../core/store.js';
import { ledgerCopyChunks, ledgerCopyLine } from './postgres-ledger.js';

/** PostgreSQL's reading of one text-format field: \N is null, backslash escapes undone. */
function unescapeField(field: string): string | null {
  if (field === '\\N') return null;
  return field.replace(/\\(.)/g, (_, c: string) =>
    c === 't' ? '\t' : c === 'n' ? '\n' : c === 'r' ? '\r' : c,
  );
}

const text = fc.string({ unit: fc.constantFrom('a', 'Z', '1', '\\', '\t', '\n', '\r', 'é', 'N') });

describe('ledger COPY lines', () => {
  it('read back as the row, whatever its text holds', () => {
    fc.assert(
      fc.property(
        text,
        text,
        fc.option(text, { nil: null }),
        fc.option(text, { nil: null }),
        (meterId, idempotencyKey, checksumSha256, qualityDetail) => {
          const row: LedgerRow = {
            meterId,
            channel: '1',
            intervalStartMs: 1_767_225_600_000,
            intervalSeconds: 900,
            commodity: 'electricity',
            unit: 'kWh',
            valueMicro: -12_345,
            statusCode: 3,
            seq: 7,
            quality: 'actual',
            qualityDetail,
            checksumSha256,
            idempotencyKey,
            version: 2,
            supersedesKey: null,
            batchId: 11,
            batchPosition: 4,
          };
          const fields = ledgerCopyLine(row).split('\t').map(unescapeField);
          expect(fields).toEqual([
            '1767225600000',
            meterId,
            '1',
            '2',
            '7',
            '900',
            '-12345',
            '3',
            'actual',
            checksumSha256,
            idempotencyKey,
            null,
            '11',
            '4',
            'electricity',
            'kWh',
            qualityDetail,
          ]);
        },
      ),
    );
  });

  it('are sent in chunks that hold exactly the lines, in order, however long a line is', () => {
    const base: LedgerRow = {
      meterId: 'MTR-AAAAAAAA',
      channel: '1',
      intervalStartMs: 1_767_225_600_000,
      intervalSeconds: 900,
      commodity: 'electricity',
      unit: 'kWh',
      valueMicro: 1,
      statusCode: 0,
      seq: 0,
      quality: 'actual',
      qualityDetail: null,
      checksumSha256: null,
      idempotencyKey: 'k',
      version: 1,
      supersedesKey: null,
      batchId: 1,
      batchPosition: 0,
    };
    fc.assert(
      fc.property(
        fc.array(fc.record({ detail: fc.option(text, { nil: null }), count: fc.nat(3_000) }), {
          minLength: 1,
          maxLength: 4,
        }),
        fc.nat(300_000),
        (groups, longLength) => {
          const rows: LedgerRow[] = [];
          for (const { detail, count } of groups) {
            for (let index = 0; index < count; index++) {
              rows.push({ ...base, qualityDetail: detail, batchPosition: rows.length });
            }
          }
          // One line longer than a chunk, of characters that take 2 bytes each.
          rows.push({ ...base, qualityDetail: 'é'.repeat(longLength), batchPosition: rows.length });
          const chunks = [...ledgerCopyChunks(rows)];
          const expected = Buffer.from(rows.map((row) => `${ledgerCopyLine(row)}\n`).join(''));
          expect(Buffer.concat(chunks).equals(expected)).toBe(true);
          expect(chunks.every((chunk) => chunk.byteLength > 0)).toBe(true);
        },
      ),
      { numRuns: 20 },
    );
  });
});
