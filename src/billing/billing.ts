/**
 * The rate engine's operations over a BillingStore: import tariffs and accounts, run the bills of
 * a period (with holds, overrides and adjustments) and verify an invoice by recomputing it. Each
 * write is one transaction with its audit entry; the audit entry is made by the injected
 * `appendAudit` (the CLI passes the audit chain's), since billing imports only core.
 */
import { createHash } from 'node:crypto';
import type {
  AssignmentRow,
  BillingLedgerRow,
  BillingStore,
  BillingTransaction,
  InvoiceRow,
  TariffRow,
} from '../core/billing-store.js';
import { AmisyncError } from '../core/errors.js';
import { parseAccounts, type AccountProblem } from './accounts.js';
import { parsePeriod, periodSpan, type BillingPeriod } from './billing-period.js';
import {
  completenessOf,
  determinantsOf,
  type Determinants,
  type MeterSpan,
} from './determinants.js';
import { lineKey, servicePointLines, taxLine, totalCents, type InvoiceLine } from './invoice.js';
import { parseUrdbRate, rateObjectsOf, tariffFromJson, type TariffProblem } from './tariff.js';

/** Appends one audit entry in the transaction and returns its seq. */
export type AuditAppend = (
  tx: BillingTransaction,
  kind: string,
  payload: unknown,
  atMs: number,
) => Promise<number>;

export interface BillingContext {
  store: BillingStore;
  nowMs: () => number;
  appendAudit: AuditAppend;
  actor: string;
}

export const BILLING_AUDIT_KINDS = {
  tariff: 'billing.tariff',
  accounts: 'billing.accounts',
  invoice: 'billing.invoice',
} as const;

// ---------------------------------------------------------------------------------------------
// Tariffs

export interface TariffImport {
  imported: TariffRow[];
  /** Tariffs whose exact JSON (same sha256) was imported before. */
  existing: TariffRow[];
}

export async function importTariffs(context: BillingContext, text: string): Promise<TariffImport> {
  let document: unknown;
  try {
    document = JSON.parse(text) as unknown;
  } catch (error) {
    throw new AmisyncError(
      'INPUT_UNREADABLE',
      `the tariff file is not JSON: ${(error as Error).message}`,
    );
  }
  const objects = rateObjectsOf(document);
  const prefix = (index: number): string =>
    objects.length === 1 && objects[0] === document ? '' : `items[${index}]`;
  const parsed = objects.map((object, index) => parseUrdbRate(object, prefix(index)));
  const problems: TariffProblem[] = parsed.flatMap((result) => (result.ok ? [] : result.problems));
  if (problems.length > 0) {
    const first = problems[0];
    throw new AmisyncError(
      'INPUT_UNREADABLE',
      `${problems.length} problem(s) in the tariff file; first: ${first?.path}: ${first?.message} ` +
        `(rule ${first?.rule}, value ${JSON.stringify(first?.value)})`,
      { problems },
    );
  }
  return context.store.transaction(async (tx) => {
    const result: TariffImport = { imported: [], existing: [] };
    for (const entry of parsed) {
      if (!entry.ok) continue;
      const known = await context.store.findTariffBySha256(entry.sha256);
      if (known !== null) {
        result.existing.push(known);
        continue;
      }
      const atMs = context.nowMs();
      const payload = {
        label: entry.tariff.label,
        name: entry.tariff.name,
        sha256: entry.sha256,
        actor: context.actor,
      };
      const auditSeq = await context.appendAudit(tx, BILLING_AUDIT_KINDS.tariff, payload, atMs);
      const row = {
        label: entry.tariff.label,
        name: entry.tariff.name,
        utility: entry.tariff.utility,
        json: entry.json,
        sha256: entry.sha256,
        startMs: entry.tariff.startMs,
        endMs: entry.tariff.endMs,
        importedAtMs: atMs,
        auditSeq,
      };
      result.imported.push({ id: await tx.insertTariff(row), ...row });
    }
    return result;
  });
}

/** The tariff an account names (label first, then name) in force at `atMs`; null when none. */
export function resolveTariff(
  tariffs: readonly TariffRow[],
  named: string,
  atMs: number,
): TariffRow | null {
  const inForce = (row: TariffRow): boolean =>
    (row.startMs === null || row.startMs <= atMs) && (row.endMs === null || atMs < row.endMs);
  const byLabel = tariffs.filter((row) => row.label === named && inForce(row));
  const candidates =
    byLabel.length > 0 ? byLabel : tariffs.filter((row) => row.name === named && inForce(row));
  // The latest import of the latest start wins among tariffs in force.
  return (
    candidates.sort((a, b) => (a.startMs ?? 0) - (b.startMs ?? 0) || a.id - b.id).at(-1) ?? null
  );
}

// ---------------------------------------------------------------------------------------------
// Accounts

export interface AccountsImport {
  imported: number;
  skipped: number;
  accounts: number;
  servicePoints: number;
}

export async function importAccounts(
  context: BillingContext,
  text: string,
): Promise<AccountsImport> {
  const stored = await context.store.listAssignments();
  const tariffs = await context.store.listTariffs();
  const names = new Set(tariffs.flatMap((row) => [row.label, row.name]));
  const parsed = parseAccounts(text, stored, names);
  if (parsed.problems.length > 0) {
    throw accountsError(parsed.problems);
  }
  return context.store.transaction(async (tx) => {
    const atMs = context.nowMs();
    const specs = parsed.assignments;
    const summary = {
      imported: specs.length,
      skipped: parsed.skipped,
      accounts: new Set(specs.map((s) => s.accountId)).size,
      servicePoints: new Set(specs.map((s) => s.servicePointId)).size,
    };
    if (specs.length === 0) return summary;
    const digest = createHash('sha256').update(text, 'utf8').digest('hex');
    const auditSeq = await context.appendAudit(
      tx,
      BILLING_AUDIT_KINDS.accounts,
      { ...summary, fileSha256: digest, actor: context.actor },
      atMs,
    );
    await tx.insertAssignments(
      specs.map(({ row: _row, ...spec }) => ({ ...spec, importedAtMs: atMs, auditSeq })),
    );
    return summary;
  });
}

function accountsError(problems: readonly AccountProblem[]): AmisyncError {
  const first = problems[0];
  return new AmisyncError(
    'INPUT_UNREADABLE',
    `${problems.length} problem(s) in the accounts file; first: row ${first?.row}, column ` +
      `${first?.column}, rule ${first?.rule}, value ${JSON.stringify(first?.value)}: ${first?.message}`,
    { problems },
  );
}

// ---------------------------------------------------------------------------------------------
// Bills

export interface HoldThresholds {
  /** Below this share of expected intervals, a service point is held (0..1). */
  completenessMin: number;
  /** Above this share of estimated intervals, a service point is held (0..1). */
  estimatedShareMax: number;
}

export const DEFAULT_HOLD_THRESHOLDS: HoldThresholds = {
  completenessMin: 0.98,
  estimatedShareMax: 0.1,
};

export interface HoldReason {
  code: 'completeness' | 'anomalies' | 'estimates' | 'tariff';
  servicePointId: string;
  message: string;
  value: number | string;
  threshold: number | string | null;
}

/** What one service point was billed from: enough to recompute it exactly (bill verify). */
export interface ServicePointBasis {
  servicePointId: string;
  tariffSha256: string;
  tariffLabel: string;
  timeZone: string;
  startMs: number;
  endMs: number;
  spans: MeterSpan[];
  determinants: Determinants;
}

export interface BillBasis {
  taxPercent: string;
  servicePoints: ServicePointBasis[];
}

export interface BillRequest {
  period: string;
  accountIds: readonly string[] | null;
  taxPercent: string;
  thresholds: HoldThresholds;
  /** Bill held accounts too, recording this justification as an override. */
  forceJustification: string | null;
}

export interface InvoiceReport {
  invoiceId: number;
  accountId: string;
  period: string;
  kind: 'invoice' | 'adjustment';
  totalCents: number;
  lines: InvoiceLine[];
  ledgerRowIdMax: number;
  ledgerDigest: string;
  override: { reasons: HoldReason[]; justification: string; actor: string } | null;
}

export interface BillRunReport {
  period: string;
  invoices: InvoiceReport[];
  held: { accountId: string; period: string; reasons: HoldReason[] }[];
  /** Accounts billed before whose bill has not changed: nothing new was issued. */
  unchanged: { accountId: string; period: string; totalCents: number }[];
}

function periodOrThrow(text: string): BillingPeriod {
  const period = parsePeriod(text);
  if (period === null) {
    throw new AmisyncError(
      'USAGE',
      `--period ${JSON.stringify(text)} is not a month (YYYY-MM, e.g. 2026-10)`,
    );
  }
  return period;
}

/** The sha256 naming exactly the ledger rows used: their keys and versions, sorted. */
export function ledgerDigest(rows: readonly BillingLedgerRow[]): string {
  const lines = rows.map((row) => `${row.idempotencyKey}:${row.version}`).sort();
  return createHash('sha256').update(lines.join('\n'), 'utf8').digest('hex');
}

interface ServicePointPlan {
  servicePointId: string;
  tariff: TariffRow;
  timeZone: string;
  startMs: number;
  endMs: number;
  days: number;
  month: number;
  spans: MeterSpan[];
}

function planServicePoints(
  assignments: readonly AssignmentRow[],
  tariffs: readonly TariffRow[],
  period: BillingPeriod,
  reasons: HoldReason[],
): ServicePointPlan[] {
  const byPoint = new Map<string, AssignmentRow[]>();
  for (const row of assignments)
    byPoint.set(row.servicePointId, [...(byPoint.get(row.servicePointId) ?? []), row]);
  const plans: ServicePointPlan[] = [];
  for (const [servicePointId, rows] of byPoint) {
    const first = rows[0];
    if (first === undefined) continue;
    const span = periodSpan(period, first.timeZone);
    const spans = rows
      .map((row) => ({
        meterId: row.meterId,
        fromMs: Math.max(row.fromMs, span.startMs),
        toMs: Math.min(row.toMs ?? Number.POSITIVE_INFINITY, span.endMs),
      }))
      .filter((s) => s.toMs > s.fromMs)
      .sort((a, b) => a.fromMs - b.fromMs || (a.meterId < b.meterId ? -1 : 1));
    if (spans.length === 0) continue;
    const tariff = resolveTariff(tariffs, first.tariff, span.startMs);
    if (tariff === null) {
      reasons.push({
        code: 'tariff',
        servicePointId,
        message: `no tariff named ${first.tariff} is in force on ${period.period}-01`,
        value: first.tariff,
        threshold: null,
      });
      continue;
    }
    plans.push({
      servicePointId,
      tariff,
      timeZone: first.timeZone,
      ...span,
      month: period.month - 1,
      spans,
    });
  }
  return plans.sort((a, b) => (a.servicePointId < b.servicePointId ? -1 : 1));
}

interface ServicePointBill {
  basis: ServicePointBasis;
  lines: InvoiceLine[];
  rows: BillingLedgerRow[];
}

function billServicePoint(
  plan: Omit<ServicePointPlan, 'tariff'> & {
    tariffJson: string;
    tariffSha256: string;
    tariffLabel: string;
  },
  rows: readonly BillingLedgerRow[],
  taxPercent: string,
): ServicePointBill {
  const tariff = tariffFromJson(plan.tariffJson);
  const used = rows.filter((row) =>
    plan.spans.some(
      (s) =>
        s.meterId === row.meterId &&
        row.intervalStartMs >= s.fromMs &&
        row.intervalStartMs < s.toMs,
    ),
  );
  const determinants = determinantsOf(tariff, plan.timeZone, plan.spans, used, {
    days: plan.days,
    month: plan.month,
  });
  const lines = servicePointLines(plan.servicePointId, tariff, determinants);
  const tax = taxLine(plan.servicePointId, lines, taxPercent);
  if (tax !== null) lines.push(tax);
  return {
    basis: {
      servicePointId: plan.servicePointId,
      tariffSha256: plan.tariffSha256,
      tariffLabel: plan.tariffLabel,
      timeZone: plan.timeZone,
      startMs: plan.startMs,
      endMs: plan.endMs,
      spans: plan.spans,
      determinants,
    },
    lines,
    rows: used,
  };
}

function holdReasons(
  bill: ServicePointBill,
  held: number,
  thresholds: HoldThresholds,
): HoldReason[] {
  const d = bill.basis.determinants;
  const id = bill.basis.servicePointId;
  const reasons: HoldReason[] = [];
  const completeness = completenessOf(d);
  if (completeness < thresholds.completenessMin) {
    reasons.push({
      code: 'completeness',
      servicePointId: id,
      message: `${d.actualIntervals + d.estimatedIntervals} of ${d.expectedIntervals} intervals present`,
      value: completeness,
      threshold: thresholds.completenessMin,
    });
  }
  if (held > 0) {
    reasons.push({
      code: 'anomalies',
      servicePointId: id,
      message: `${held} reading(s) of its meters in the period are held in the anomaly ledger`,
      value: held,
      threshold: 0,
    });
  }
  const present = d.actualIntervals + d.estimatedIntervals;
  const share = present === 0 ? 0 : d.estimatedIntervals / present;
  if (share > thresholds.estimatedShareMax) {
    reasons.push({
      code: 'estimates',
      servicePointId: id,
      message: `${d.estimatedIntervals} of ${present} intervals are estimates`,
      value: share,
      threshold: thresholds.estimatedShareMax,
    });
  }
  return reasons;
}

/** The lines still to bill: what is due now minus what earlier invoices of the period billed. */
export function differenceLines(
  due: readonly InvoiceLine[],
  earlier: readonly InvoiceRow[],
): InvoiceLine[] {
  const billed = new Map<string, InvoiceLine>();
  for (const invoice of earlier) {
    for (const line of JSON.parse(invoice.linesJson) as InvoiceLine[]) {
      const known = billed.get(lineKey(line));
      billed.set(lineKey(line), {
        ...line,
        amountCents: (known?.amountCents ?? 0) + line.amountCents,
      });
    }
  }
  const result: InvoiceLine[] = [];
  for (const line of due) {
    const before = billed.get(lineKey(line));
    billed.delete(lineKey(line));
    const amountCents = line.amountCents - (before?.amountCents ?? 0);
    if (amountCents !== 0)
      result.push({ ...line, description: `${line.description} (adjustment)`, amountCents });
  }
  for (const line of billed.values()) {
    if (line.amountCents !== 0) {
      result.push({
        ...line,
        description: `${line.description} (reversed)`,
        quantity: '0',
        amountCents: -line.amountCents,
      });
    }
  }
  return result;
}

interface AccountBill {
  bills: ServicePointBill[];
  reasons: HoldReason[];
}

/** Accounts whose ledger rows are read in one range scan of the period. */
export const BILL_ACCOUNTS_PER_READ = 200;

interface PlannedAccount {
  accountId: string;
  plans: ServicePointPlan[];
  reasons: HoldReason[];
}

/** The current rows of every meter the accounts' plans name, by meter, in one ledger read. */
async function prefetchRows(
  store: BillingStore,
  accounts: readonly PlannedAccount[],
  rowIdMax: number,
): Promise<Map<string, BillingLedgerRow[]>> {
  const plans = accounts.flatMap((account) => account.plans);
  const byMeter = new Map<string, BillingLedgerRow[]>();
  if (plans.length === 0) return byMeter;
  const rows = await store.billingLedger({
    meterIds: [...new Set(plans.flatMap((plan) => plan.spans.map((s) => s.meterId)))],
    fromMs: Math.min(...plans.map((plan) => plan.startMs)),
    toMs: Math.max(...plans.map((plan) => plan.endMs)),
    rowIdMax,
  });
  for (const row of rows) {
    const list = byMeter.get(row.meterId);
    if (list === undefined) byMeter.set(row.meterId, [row]);
    else list.push(row);
  }
  return byMeter;
}

async function billAccount(
  context: BillingContext,
  account: PlannedAccount,
  rowsByMeter: ReadonlyMap<string, readonly BillingLedgerRow[]>,
  request: BillRequest,
): Promise<AccountBill> {
  const reasons = [...account.reasons];
  const bills: ServicePointBill[] = [];
  for (const plan of account.plans) {
    const meters = [...new Set(plan.spans.map((s) => s.meterId))];
    const bill = billServicePoint(
      {
        ...plan,
        tariffJson: plan.tariff.json,
        tariffSha256: plan.tariff.sha256,
        tariffLabel: plan.tariff.label,
      },
      meters.flatMap((meter) => rowsByMeter.get(meter) ?? []),
      request.taxPercent,
    );
    const held = await context.store.heldAnomalies(meters, plan.startMs, plan.endMs);
    reasons.push(...holdReasons(bill, held, request.thresholds));
    bills.push(bill);
  }
  return { bills, reasons };
}

function groupByAccount(assignments: readonly AssignmentRow[]): Map<string, AssignmentRow[]> {
  const byAccount = new Map<string, AssignmentRow[]>();
  for (const row of assignments) {
    const list = byAccount.get(row.accountId);
    if (list === undefined) byAccount.set(row.accountId, [row]);
    else list.push(row);
  }
  return byAccount;
}

export async function runBills(
  context: BillingContext,
  request: BillRequest,
  /** Told after each account how many are billed (or held), of how many. */
  onProgress?: (done: number, total: number) => void,
): Promise<BillRunReport> {
  const period = periodOrThrow(request.period);
  const assignments = await context.store.listAssignments(request.accountIds ?? undefined);
  const tariffs = await context.store.listTariffs();
  const accountIds = [...new Set(assignments.map((row) => row.accountId))].sort();
  if (request.accountIds !== null) {
    const unknown = request.accountIds.filter((id) => !accountIds.includes(id));
    if (unknown.length > 0)
      throw new AmisyncError(
        'NOT_FOUND',
        `no account ${unknown.join(', ')} (amisync accounts list)`,
      );
  }
  const report: BillRunReport = { period: period.period, invoices: [], held: [], unchanged: [] };
  const rowIdMax = await context.store.transaction((tx) => tx.ledgerRowIdMax());
  const byAccount = groupByAccount(assignments);
  let done = 0;
  onProgress?.(done, accountIds.length);
  for (let at = 0; at < accountIds.length; at += BILL_ACCOUNTS_PER_READ) {
    const chunk = accountIds.slice(at, at + BILL_ACCOUNTS_PER_READ).map((accountId) => {
      const reasons: HoldReason[] = [];
      const plans = planServicePoints(byAccount.get(accountId) ?? [], tariffs, period, reasons);
      return { accountId, plans, reasons };
    });
    const rowsByMeter = await prefetchRows(context.store, chunk, rowIdMax);
    for (const planned of chunk) {
      await billPlannedAccount(context, planned, rowsByMeter, period, request, rowIdMax, report);
      done += 1;
      onProgress?.(done, accountIds.length);
    }
  }
  return report;
}

async function billPlannedAccount(
  context: BillingContext,
  planned: PlannedAccount,
  rowsByMeter: ReadonlyMap<string, readonly BillingLedgerRow[]>,
  period: BillingPeriod,
  request: BillRequest,
  rowIdMax: number,
  report: BillRunReport,
): Promise<void> {
  const accountId = planned.accountId;
  const account = await billAccount(context, planned, rowsByMeter, request);
  if (account.bills.length === 0 && account.reasons.length === 0) return;
  const blocking = account.reasons.some((r) => r.code === 'tariff');
  if (account.reasons.length > 0 && (request.forceJustification === null || blocking)) {
    report.held.push({ accountId, period: period.period, reasons: account.reasons });
    return;
  }
  const issued = await issueInvoice(context, accountId, period.period, account, request, rowIdMax);
  if (issued.kind === 'unchanged') report.unchanged.push(issued.unchanged);
  else report.invoices.push(issued.invoice);
}

type Issued =
  | { kind: 'issued'; invoice: InvoiceReport }
  | { kind: 'unchanged'; unchanged: { accountId: string; period: string; totalCents: number } };

async function issueInvoice(
  context: BillingContext,
  accountId: string,
  period: string,
  account: AccountBill,
  request: BillRequest,
  rowIdMax: number,
): Promise<Issued> {
  const due = account.bills.flatMap((bill) => bill.lines);
  const rows = account.bills.flatMap((bill) => bill.rows);
  const basis: BillBasis = {
    taxPercent: request.taxPercent,
    servicePoints: account.bills.map((b) => b.basis),
  };
  const override =
    account.reasons.length === 0 || request.forceJustification === null
      ? null
      : {
          reasons: account.reasons,
          justification: request.forceJustification,
          actor: context.actor,
        };
  return context.store.transaction(async (tx) => {
    const earlier = await tx.invoicesOf(accountId, period);
    const lines = earlier.length === 0 ? due : differenceLines(due, earlier);
    if (earlier.length > 0 && lines.length === 0) {
      return {
        kind: 'unchanged',
        unchanged: { accountId, period, totalCents: totalCents(due) },
      } as const;
    }
    const kind = earlier.length === 0 ? ('invoice' as const) : ('adjustment' as const);
    const head = (await tx.auditHead()) ?? { seq: 0, hash: '' };
    const digest = ledgerDigest(rows);
    const total = totalCents(lines);
    const atMs = context.nowMs();
    const auditSeq = await context.appendAudit(
      tx,
      BILLING_AUDIT_KINDS.invoice,
      {
        accountId,
        period,
        kind,
        totalCents: total,
        tariffs: basis.servicePoints.map((sp) => sp.tariffSha256),
        ledgerRowIdMax: rowIdMax,
        ledgerDigest: digest,
        override,
      },
      atMs,
    );
    const invoiceId = await tx.insertInvoice({
      accountId,
      period,
      kind,
      totalCents: total,
      linesJson: JSON.stringify(lines),
      basisJson: JSON.stringify(basis),
      ledgerRowIdMax: rowIdMax,
      ledgerDigest: digest,
      ledgerRows: rows.length,
      auditHeadSeq: head.seq,
      auditHeadHash: head.hash,
      overrideJson: override === null ? null : JSON.stringify(override),
      createdAtMs: atMs,
      auditSeq,
    });
    const invoice: InvoiceReport = {
      invoiceId,
      accountId,
      period,
      kind,
      totalCents: total,
      lines,
      ledgerRowIdMax: rowIdMax,
      ledgerDigest: digest,
      override,
    };
    return { kind: 'issued', invoice } as const;
  });
}

// ---------------------------------------------------------------------------------------------
// Verify

export interface InvoiceVerification {
  invoiceId: number;
  ok: boolean;
  totalCents: number;
  recomputedTotalCents: number;
  ledgerDigestMatches: boolean;
  /** Line keys whose stored amount differs from the recomputed one. */
  differences: { key: string; storedCents: number; recomputedCents: number }[];
}

/** Recomputes an invoice from its tariffs, ledger rows and earlier invoices; compares exactly. */
export async function verifyInvoice(
  store: BillingStore,
  invoiceId: number,
): Promise<InvoiceVerification> {
  const invoice = await store.getInvoice(invoiceId);
  if (invoice === null)
    throw new AmisyncError('NOT_FOUND', `no invoice ${invoiceId} (amisync bill list)`);
  const basis = JSON.parse(invoice.basisJson) as BillBasis;
  const due: InvoiceLine[] = [];
  const rows: BillingLedgerRow[] = [];
  for (const sp of basis.servicePoints) {
    const tariff = await store.findTariffBySha256(sp.tariffSha256);
    if (tariff === null)
      throw new AmisyncError(
        'NOT_FOUND',
        `tariff ${sp.tariffSha256} of invoice ${invoiceId} is gone`,
      );
    const ledgerRows = await store.billingLedger({
      meterIds: [...new Set(sp.spans.map((s) => s.meterId))],
      fromMs: sp.startMs,
      toMs: sp.endMs,
      rowIdMax: invoice.ledgerRowIdMax,
    });
    const bill = billServicePoint(
      {
        servicePointId: sp.servicePointId,
        tariffJson: tariff.json,
        tariffSha256: tariff.sha256,
        tariffLabel: tariff.label,
        timeZone: sp.timeZone,
        startMs: sp.startMs,
        endMs: sp.endMs,
        days: sp.determinants.days,
        month: sp.determinants.month,
        spans: sp.spans,
      },
      ledgerRows,
      basis.taxPercent,
    );
    due.push(...bill.lines);
    rows.push(...bill.rows);
  }
  const earlier = (
    await store.listInvoices({ accountId: invoice.accountId, period: invoice.period })
  ).filter((row) => row.id < invoice.id);
  const recomputed = invoice.kind === 'invoice' ? due : differenceLines(due, earlier);
  const stored = JSON.parse(invoice.linesJson) as InvoiceLine[];
  const differences = compareLines(stored, recomputed);
  const digestOk =
    ledgerDigest(rows) === invoice.ledgerDigest && rows.length === invoice.ledgerRows;
  const recomputedTotal = totalCents(recomputed);
  return {
    invoiceId,
    ok: digestOk && differences.length === 0 && recomputedTotal === invoice.totalCents,
    totalCents: invoice.totalCents,
    recomputedTotalCents: recomputedTotal,
    ledgerDigestMatches: digestOk,
    differences,
  };
}

function compareLines(stored: readonly InvoiceLine[], recomputed: readonly InvoiceLine[]) {
  const amounts = new Map<string, { storedCents: number; recomputedCents: number }>();
  for (const line of stored)
    amounts.set(lineKey(line), { storedCents: line.amountCents, recomputedCents: 0 });
  for (const line of recomputed) {
    const known = amounts.get(lineKey(line)) ?? { storedCents: 0, recomputedCents: 0 };
    amounts.set(lineKey(line), { ...known, recomputedCents: line.amountCents });
  }
  return [...amounts]
    .filter(([, a]) => a.storedCents !== a.recomputedCents)
    .map(([key, a]) => ({ key, ...a }));
}
