/**
 * The BillingStore contract: what the rate engine (src/billing) reads and writes. Tariffs,
 * accounts, service points and meter assignments, and invoices are append-only: a new tariff is a
 * new row, a meter exchange a new assignment, a re-bill a new (adjustment) invoice. Every write
 * happens in `transaction(fn)`, with the audit entry that records it (appended through the same
 * transaction).
 * Implementations: src/store/sqlite/sqlite-billing.ts, src/store/postgres/postgres-billing.ts
 * (one conformance suite, src/store/billing.case.test.ts, runs both).
 */
import type { AuditEntryRow } from './store.js';

export interface TariffRow {
  id: number;
  label: string;
  name: string;
  utility: string;
  /** Canonical JSON of the URDB rate object (sorted keys) and its sha256. */
  json: string;
  sha256: string;
  startMs: number | null;
  endMs: number | null;
  importedAtMs: number;
  auditSeq: number;
}

export type TariffInsert = Omit<TariffRow, 'id'>;

/** One meter on one service point over [fromMs, toMs); toMs null while it serves. */
export interface AssignmentRow {
  id: number;
  accountId: string;
  servicePointId: string;
  meterId: string;
  /** The tariff as the account file names it (a label or a name). */
  tariff: string;
  timeZone: string;
  fromMs: number;
  toMs: number | null;
  /** The meter's register digit count (rollover) and multiplier; null and 1 when not set. */
  registerDigits: number | null;
  multiplier: number;
  importedAtMs: number;
  auditSeq: number;
}

export type AssignmentInsert = Omit<AssignmentRow, 'id'>;

export const INVOICE_KINDS = ['invoice', 'adjustment'] as const;
export type InvoiceKind = (typeof INVOICE_KINDS)[number];

export interface InvoiceRow {
  id: number;
  accountId: string;
  period: string;
  kind: InvoiceKind;
  totalCents: number;
  /** JSON texts: the line items, and what they were computed from (BillBasis, src/billing). */
  linesJson: string;
  basisJson: string;
  /** The ledger as it stood: every row with id up to this one. */
  ledgerRowIdMax: number;
  /** sha256 over the (key, version) of every ledger row used, sorted; and their count. */
  ledgerDigest: string;
  ledgerRows: number;
  /** The audit chain head before the invoice's own entry. */
  auditHeadSeq: number;
  auditHeadHash: string;
  /** A forced bill's override (the hold reasons and the justification) as JSON; null otherwise. */
  overrideJson: string | null;
  createdAtMs: number;
  auditSeq: number;
}

export type InvoiceInsert = Omit<InvoiceRow, 'id'>;

/** A ledger row as billing reads it (current as of a ledger row id). */
export interface BillingLedgerRow {
  id: number;
  meterId: string;
  channel: string;
  intervalStartMs: number;
  intervalSeconds: number;
  valueMicro: number;
  quality: string;
  idempotencyKey: string;
  version: number;
}

/** A ledger row as billing names it: its id, meter and interval start. */
export type LedgerRowRef = Pick<BillingLedgerRow, 'id' | 'meterId' | 'intervalStartMs'>;

export interface BillingLedgerQuery {
  meterIds: readonly string[];
  fromMs: number;
  toMs: number;
  /** Only rows with id at most this (the ledger as it stood then). */
  rowIdMax: number;
  /** Register reads only (src/core/register.ts), found by their own index. */
  registerReads?: boolean;
}

export interface BillingPeriodQuery {
  meterIds: ReadonlySet<string>;
  fromMs: number;
  toMs: number;
  rowIdMax: number;
}

export interface HeldAnomalyStart {
  meterId: string;
  intervalStartMs: number;
}

export interface BillingTransaction {
  auditHead(): Promise<{ seq: number; hash: string } | null>;
  appendAuditEntry(entry: AuditEntryRow): Promise<void>;
  insertTariff(row: TariffInsert): Promise<number>;
  insertAssignments(rows: readonly AssignmentInsert[]): Promise<void>;
  insertInvoice(row: InvoiceInsert): Promise<number>;
  /** Invoices of one account and period, oldest first, as this transaction reads them. */
  invoicesOf(accountId: string, period: string): Promise<InvoiceRow[]>;
  /** The ledger's highest row id now (0 when empty). */
  ledgerRowIdMax(): Promise<number>;
}

export interface BillingStore {
  transaction<T>(fn: (tx: BillingTransaction) => Promise<T>): Promise<T>;
  listTariffs(): Promise<TariffRow[]>;
  findTariffBySha256(sha256: string): Promise<TariffRow | null>;
  listAssignments(accountIds?: readonly string[]): Promise<AssignmentRow[]>;
  listInvoices(filter: { accountId?: string; period?: string }): Promise<InvoiceRow[]>;
  getInvoice(id: number): Promise<InvoiceRow | null>;
  /**
   * For each (meter, channel, interval) in the span, the highest version among rows up to
   * `rowIdMax`, electricity in kWh only, in (interval start, meter, channel) order.
   */
  billingLedger(query: BillingLedgerQuery): Promise<BillingLedgerRow[]>;
  /**
   * `billingLedger` for many meters at once: one range scan of the span, the current rows of the
   * meters in `meterIds` grouped by meter (each list in interval order). A bill run reads its
   * period with this once, whatever the number of accounts.
   */
  billingLedgerByMeter(query: BillingPeriodQuery): Promise<Map<string, BillingLedgerRow[]>>;
  /** Held (undecided) anomaly readings whose interval starts in [fromMs, toMs): meter and start. */
  heldAnomalyStarts(fromMs: number, toMs: number): Promise<HeldAnomalyStart[]>;
  /**
   * The batch of each ledger row given, by row id (bill prove finds the Merkle leaves of its
   * readings); a row not found is left out. Each row comes with its meter and interval start, so
   * an engine without an index on id alone finds it through its meter's index.
   */
  batchIdsOfLedgerRows(rows: readonly LedgerRowRef[]): Promise<Map<number, number>>;
  /** Held (undecided) anomaly readings of these meters whose interval starts in [fromMs, toMs). */
  heldAnomalies(meterIds: readonly string[], fromMs: number, toMs: number): Promise<number>;
}

/**
 * Appends `reading` to `current`, or replaces the last row when that is an earlier version of the
 * same interval: both engines read rows in interval order with versions in order, so the last
 * one of an interval is current.
 */
export function keepCurrentVersion(current: BillingLedgerRow[], reading: BillingLedgerRow): void {
  const last = current[current.length - 1];
  const sameInterval =
    last !== undefined &&
    last.intervalStartMs === reading.intervalStartMs &&
    last.meterId === reading.meterId &&
    last.channel === reading.channel;
  if (sameInterval) current[current.length - 1] = reading;
  else current.push(reading);
}
