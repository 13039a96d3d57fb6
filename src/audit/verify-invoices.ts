/**
 * The invoices table against the audit chain (docs/billing.md, "What an invoice records"): each
 * invoice is issued in one transaction with its `billing.invoice` entry, which records its account,
 * period, kind, total, tariffs, ledger as of, ledger digest and override. So every invoice row must
 * say what its entry says, its lines must add up to the total the entry records, it must follow the
 * chain head it names, and every invoice entry must have its row. An invoice edited or deleted
 * past the append-only triggers shows here; `bill verify` additionally recomputes its lines.
 */
import type { InvoiceRow } from '../core/billing-store.js';
import { canonicalJson } from './canonical-json.js';

export const INVOICE_ENTRY_KIND = 'billing.invoice';

/** What a `billing.invoice` entry records, as it was written (src/billing/billing.ts). */
interface InvoiceClaim {
  readonly seq: number;
  readonly atMs: number;
  readonly payload: Record<string, unknown> | null;
}

/** Reads the chain's invoice entries, and the hash of every entry an invoice may name as head. */
export class InvoiceEntries {
  readonly bySeq = new Map<number, InvoiceClaim>();

  read(seq: number, kind: string, payload: string, atMs: number): void {
    if (kind !== INVOICE_ENTRY_KIND) return;
    let parsed: Record<string, unknown> | null;
    try {
      const value = JSON.parse(payload) as unknown;
      parsed =
        typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : null;
    } catch {
      parsed = null;
    }
    this.bySeq.set(seq, { seq, atMs, payload: parsed });
  }
}

/** The reader of the invoices table: BillingStore.listInvoices on either engine. */
export interface InvoiceRows {
  listInvoices(filter: { accountId?: string; period?: string }): Promise<InvoiceRow[]>;
}

function parsedOrNull(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** The tariff sha256 of each service point in the invoice's basis, in its order. */
function tariffsOf(row: InvoiceRow): unknown {
  const basis = parsedOrNull(row.basisJson) as { servicePoints?: unknown } | null | undefined;
  if (!Array.isArray(basis?.servicePoints)) return undefined;
  return (basis.servicePoints as ({ tariffSha256?: unknown } | null)[]).map(
    (sp) => sp?.tariffSha256 ?? null,
  );
}

/** The sum of the line amounts, or null when the lines are not a list of whole-cent amounts. */
function linesTotalCents(row: InvoiceRow): number | null {
  const lines = parsedOrNull(row.linesJson);
  if (!Array.isArray(lines)) return null;
  let total = 0;
  for (const line of lines as { amountCents?: unknown }[]) {
    if (!Number.isSafeInteger(line.amountCents)) return null;
    total += line.amountCents as number;
  }
  return total;
}

/** The fields of the row that differ from its entry, by name; empty when they agree. */
function differingFields(row: InvoiceRow, claim: InvoiceClaim): string[] {
  const recorded = claim.payload ?? {};
  // The entry's payload was written as canonical JSON (sorted keys), the row's JSON as issued.
  const same = (left: unknown, right: unknown) =>
    left !== undefined && right !== undefined && canonicalJson(left) === canonicalJson(right);
  const fields: [string, unknown, unknown][] = [
    ['account', row.accountId, recorded.accountId],
    ['period', row.period, recorded.period],
    ['kind', row.kind, recorded.kind],
    ['total', row.totalCents, recorded.totalCents],
    ['tariffs', tariffsOf(row), recorded.tariffs],
    ['ledger row id max', row.ledgerRowIdMax, recorded.ledgerRowIdMax],
    ['ledger digest', row.ledgerDigest, recorded.ledgerDigest],
    ['override', parsedOrNull(row.overrideJson), recorded.override],
    ['issue time', row.createdAtMs, claim.atMs],
  ];
  return fields.filter(([, left, right]) => !same(left, right)).map(([name]) => name);
}

function describe(row: InvoiceRow): string {
  return `invoice ${row.id} (${row.accountId} ${row.period})`;
}

export async function verifyInvoices(
  invoices: InvoiceRows,
  entries: InvoiceEntries,
  hashes: ReadonlyMap<number, string>,
  problem: (auditSeq: number | null, reason: string) => void,
): Promise<number> {
  const rows = await invoices.listInvoices({});
  const covered = new Set<number>();
  let lastSeq = 0;
  for (const row of [...rows].sort((left, right) => left.id - right.id)) {
    const claim = entries.bySeq.get(row.auditSeq);
    if (claim === undefined) {
      problem(
        null,
        `${describe(row)} names audit entry ${row.auditSeq}, which records no invoice ` +
          '(inserted or changed outside amisync)',
      );
      continue;
    }
    covered.add(row.auditSeq);
    const at = `entry ${row.auditSeq}: ${describe(row)}`;
    const fields = differingFields(row, claim);
    if (fields.length > 0) {
      problem(row.auditSeq, `${at} differs from its audit entry in ${fields.join(', ')} (edited)`);
    }
    const linesTotal = linesTotalCents(row);
    if (linesTotal !== row.totalCents) {
      problem(
        row.auditSeq,
        `${at}: its lines add up to ${linesTotal ?? 'no amount'} cents, its total is ` +
          `${row.totalCents} (a line or the total was edited)`,
      );
    }
    const headHash = row.auditHeadSeq === 0 ? '' : hashes.get(row.auditHeadSeq);
    if (row.auditHeadSeq !== row.auditSeq - 1 || headHash !== row.auditHeadHash) {
      problem(row.auditSeq, `${at}: the chain head it names is not the entry before its own`);
    }
    if (row.auditSeq < lastSeq) {
      problem(row.auditSeq, `${at} is out of the audit order (reordered)`);
    }
    lastSeq = row.auditSeq;
  }
  for (const claim of entries.bySeq.values()) {
    if (!covered.has(claim.seq)) {
      const { accountId, period } = claim.payload ?? {};
      problem(
        claim.seq,
        `entry ${claim.seq} records an invoice of ${String(accountId)} for ${String(period)} ` +
          'whose row is missing (deleted)',
      );
    }
  }
  return rows.length;
}
