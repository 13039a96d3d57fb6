// Goal: each way an invoice row can disagree with the chain is named, with its entry, and a row
// that agrees raises nothing. Method: an invoice row and the entry issueInvoice writes for it,
// built as billing writes them, then one field, row or entry changed at a time.
import { describe, expect, it } from 'vitest';
import type { InvoiceRow } from '../core/billing-store.js';
import { canonicalJson } from './canonical-json.js';
import { InvoiceEntries, verifyInvoices } from './verify-invoices.js';

const SHA = 'a'.repeat(64);

function invoiceRow(id: number, auditSeq: number, changes: Partial<InvoiceRow> = {}): InvoiceRow {
  return {
    id,
    accountId: `ACC-${id}`,
    period: '2026-10',
    kind: 'invoice',
    totalCents: 1234,
    linesJson: JSON.stringify([{ amountCents: 1000 }, { amountCents: 234 }]),
    basisJson: JSON.stringify({ taxPercent: 0, servicePoints: [{ tariffSha256: SHA }] }),
    ledgerRowIdMax: 99,
    ledgerDigest: 'b'.repeat(64),
    ledgerRows: 10,
    auditHeadSeq: auditSeq - 1,
    auditHeadHash: `hash-${auditSeq - 1}`,
    overrideJson: null,
    createdAtMs: 1_000 + auditSeq,
    auditSeq,
    ...changes,
  };
}

/** The entry billing writes with `row`, as canonical JSON like the chain keeps it. */
function entryOf(row: InvoiceRow): [number, string, string, number] {
  const payload = {
    accountId: row.accountId,
    period: row.period,
    kind: row.kind,
    totalCents: row.totalCents,
    tariffs: [SHA],
    ledgerRowIdMax: row.ledgerRowIdMax,
    ledgerDigest: row.ledgerDigest,
    override: null,
  };
  return [row.auditSeq, 'billing.invoice', canonicalJson(payload), row.createdAtMs];
}

async function problemsOf(rows: InvoiceRow[], entries: InvoiceRow[] = rows) {
  const claims = new InvoiceEntries();
  for (const entry of entries) claims.read(...entryOf(entry));
  claims.read(1, 'batch', '{}', 0);
  const hashes = new Map(Array.from({ length: 20 }, (_, seq) => [seq, `hash-${seq}`] as const));
  const found: [number | null, string][] = [];
  const checked = await verifyInvoices(
    { listInvoices: async () => rows },
    claims,
    hashes,
    (seq, reason) => found.push([seq, reason]),
  );
  expect(checked).toBe(rows.length);
  return found;
}

describe('invoices against their audit entries', () => {
  it('raises nothing for rows that say what their entries say', async () => {
    expect(await problemsOf([invoiceRow(1, 5), invoiceRow(2, 8)])).toEqual([]);
  });

  it('names each edited field, and lines that do not add up to the total', async () => {
    const issued = invoiceRow(1, 5);
    const edited = { ...issued, ledgerDigest: 'c'.repeat(64), overrideJson: '{"actor":"x"}' };
    expect(await problemsOf([edited], [issued])).toEqual([
      [
        5,
        'entry 5: invoice 1 (ACC-1 2026-10) differs from its audit entry in ledger digest, override (edited)',
      ],
    ]);
    const line = {
      ...issued,
      linesJson: JSON.stringify([{ amountCents: 1234 }, { amountCents: 1 }]),
    };
    expect(await problemsOf([line], [issued])).toEqual([
      [
        5,
        'entry 5: invoice 1 (ACC-1 2026-10): its lines add up to 1235 cents, its total is 1234 (a line or the total was edited)',
      ],
    ]);
  });

  it('names a row with no entry, a missing row, a wrong head and a reordered row', async () => {
    const first = invoiceRow(1, 5);
    const second = invoiceRow(2, 8);
    expect(await problemsOf([first, invoiceRow(3, 12)], [first])).toEqual([
      [
        null,
        'invoice 3 (ACC-3 2026-10) names audit entry 12, which records no invoice (inserted or changed outside amisync)',
      ],
    ]);
    expect(await problemsOf([first], [first, second])).toEqual([
      [8, 'entry 8 records an invoice of ACC-2 for 2026-10 whose row is missing (deleted)'],
    ]);
    const wrongHead = { ...second, auditHeadHash: 'hash-3' };
    expect(await problemsOf([first, wrongHead], [first, second])).toEqual([
      [
        8,
        'entry 8: invoice 2 (ACC-2 2026-10): the chain head it names is not the entry before its own',
      ],
    ]);
    const swapped = [
      { ...first, id: 2 },
      { ...second, id: 1 },
    ];
    expect(await problemsOf(swapped, [first, second])).toEqual([
      [5, 'entry 5: invoice 2 (ACC-1 2026-10) is out of the audit order (reordered)'],
    ]);
  });
});
