// Goal: the accounts file's cross-row rules (one account, tariff and zone per service point; one
// place per meter; equal rows skipped) still hold, and checking them is linear in the rows.
// Method: small files with each conflict; then files of 50k and 100k service points with meter
// exchanges, counting the row pairs compared (parseAccounts reports them), not timing them.
import { describe, expect, it } from 'vitest';
import type { AssignmentRow } from '../core/billing-store.js';
import { parseAccounts } from './accounts.js';

const HEADER = 'account_id,service_point_id,meter_id,tariff,time_zone,from,to';
const TARIFFS = new Set(['R1', 'R2']);

function file(rows: readonly string[]): string {
  return [HEADER, ...rows].join('\n');
}

/** `points` service points; every `exchangeEvery`-th has its meter exchanged on 2026-06-01. */
function bigFile(points: number, exchangeEvery: number): { text: string; exchanges: number } {
  const rows: string[] = [];
  let exchanges = 0;
  for (let point = 0; point < points; point += 1) {
    const id = String(point).padStart(6, '0');
    if (point % exchangeEvery === 0) {
      rows.push(`A${id},SP${id},M${id}a,R1,America/Chicago,2026-01-01,2026-06-01`);
      rows.push(`A${id},SP${id},M${id}b,R1,America/Chicago,2026-06-01,`);
      exchanges += 1;
    } else rows.push(`A${id},SP${id},M${id}a,R1,America/Chicago,2026-01-01,`);
  }
  return { text: file(rows), exchanges };
}

describe('parseAccounts cross-row rules', () => {
  it('names a service point on two accounts, tariffs or zones, and a meter in two places', () => {
    const parsed = parseAccounts(
      file([
        'A1,SP1,M1,R1,UTC,2026-01-01,2026-06-01',
        'A2,SP1,M2,R1,UTC,2026-06-01,',
        'A1,SP1,M3,R2,UTC,2026-06-01,',
        'A1,SP1,M4,R1,America/Chicago,2026-06-01,',
        'A3,SP3,M1,R1,UTC,2026-03-01,',
        'A1,SP1,M1,R1,UTC,2026-01-01,2026-06-01',
      ]),
      [],
      TARIFFS,
    );
    // A row in conflict is still compared with the rows after it, so each conflict is named
    // once for every earlier row of the service point it disagrees with.
    expect(parsed.problems.map((p) => [p.row, p.column, p.rule])).toEqual([
      [3, 'account_id', 'service_point.account'],
      [4, 'tariff', 'service_point.tariff'],
      [4, 'account_id', 'service_point.account'],
      [5, 'time_zone', 'service_point.time_zone'],
      [5, 'account_id', 'service_point.account'],
      [5, 'tariff', 'service_point.tariff'],
      [6, 'meter_id', 'meter.overlap'],
    ]);
    expect(parsed.skipped).toBe(1);
  });

  it('checks against stored assignments and skips rows equal to a stored one', () => {
    const first = parseAccounts(file(['A1,SP1,M1,R1,UTC,2026-01-01,']), [], TARIFFS);
    const { row: _row, ...spec } = first.assignments[0]!;
    const stored: AssignmentRow[] = [{ ...spec, id: 7, importedAtMs: 0, auditSeq: 1 }];
    const again = parseAccounts(
      file(['A1,SP1,M1,R1,UTC,2026-01-01,', 'A9,SP9,M1,R1,UTC,2026-02-01,']),
      stored,
      TARIFFS,
    );
    expect(again.skipped).toBe(1);
    expect(again.problems).toMatchObject([
      { row: 3, rule: 'meter.overlap', message: expect.stringContaining('stored assignment 7') },
    ]);
  });
});

describe('parseAccounts work', () => {
  it('compares each row only with the rows of its service point and meter', () => {
    const { text, exchanges } = bigFile(50_000, 4);
    const parsed = parseAccounts(text, [], TARIFFS);
    expect(parsed.problems).toEqual([]);
    expect(parsed.assignments).toHaveLength(50_000 + exchanges);
    // The second row of an exchange meets the first on its service point; nothing else meets.
    expect(parsed.comparisons).toBe(exchanges);
  });

  it('grows linearly: twice the service points, twice the comparisons', () => {
    const small = parseAccounts(bigFile(50_000, 2).text, [], TARIFFS);
    const large = parseAccounts(bigFile(100_000, 2).text, [], TARIFFS);
    expect(small.comparisons).toBeGreaterThan(0);
    expect(large.comparisons).toBe(2 * small.comparisons);
  });

  it('re-imports 50k stored rows as skipped without comparing any pair', () => {
    const first = parseAccounts(bigFile(50_000, 5).text, [], TARIFFS);
    const stored = first.assignments.map(({ row: _row, ...spec }, id): AssignmentRow => ({
      ...spec,
      id,
      importedAtMs: 0,
      auditSeq: 1,
    }));
    const again = parseAccounts(bigFile(50_000, 5).text, stored, TARIFFS);
    expect(again.skipped).toBe(first.assignments.length);
    expect(again.assignments).toEqual([]);
    expect(again.comparisons).toBe(0);
  });
});
