/**
 * The rate engine's operations over a BillingStore: import tariffs and accounts, run the bills of
 * a period (with holds, overrides and adjustments) and verify an invoice by recomputing it. Each
 * write is one transaction with its audit entry; the audit entry is made by the injected
 * `appendAudit` (the CLI passes the audit chain's), since billing imports only core.
 */
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import type {
  AssignmentRow,
  BillingLedgerQuery,
  BillingLedgerRow,
  BillingStore,
  BillingTransaction,
  HeldAnomalyStart,
  InvoiceRow,
  TariffRow,
} from '../core/billing-store.js';
import { AmisyncError } from '../core/errors.js';
import { isRegisterRead } from '../core/register.js';
import { parseAccounts, type AccountProblem } from './accounts.js';
import { parsePeriod, periodSpan, type BillingPeriod } from './billing-period.js';
import { completenessOf, type Determinants, type MeterSpan } from './determinants.js';
import { lineKey, servicePointLines, taxLine, totalCents, type InvoiceLine } from './invoice.js';
import {
  parseUrdbRate,
  rateObjectsOf,
  tariffFromJson,
  type Tariff,
  type TariffProblem,
} from './tariff.js';
import type { RegisterFinding, RegisterFindingCode, RegisterUse } from './register.js';
import { servicePointDeterminants } from './register-determinants.js';

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
  code: 'completeness' | 'anomalies' | 'estimates' | 'tariff' | RegisterFindingCode;
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
  /** Worker threads pricing the accounts (1: in this thread). */
  threads?: number;
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
        ...registerConfigOf(row),
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

/** A meter's register settings as a span carries them: only what differs from the default. */
function registerConfigOf(row: AssignmentRow): Pick<MeterSpan, 'registerDigits' | 'multiplier'> {
  return {
    ...(row.registerDigits === null ? {} : { registerDigits: row.registerDigits }),
    ...(row.multiplier === 1 ? {} : { multiplier: row.multiplier }),
  };
}

export interface ServicePointBill {
  basis: ServicePointBasis;
  lines: InvoiceLine[];
  rows: BillingLedgerRow[];
  findings: RegisterFinding[];
  kind: 'interval' | 'register';
  /** The register uses billed, for an AMR service point (empty otherwise). */
  registerUses: RegisterUse[];
}

function billServicePoint(
  plan: Omit<ServicePointPlan, 'tariff'> & {
    tariffSha256: string;
    tariffLabel: string;
  },
  tariff: Tariff,
  rows: readonly BillingLedgerRow[],
  taxPercent: string,
): ServicePointBill {
  const { determinants, used, findings, kind, registerUses } = servicePointDeterminants(
    tariff,
    plan.timeZone,
    plan.spans,
    rows,
    { days: plan.days, month: plan.month },
  );
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
    findings,
    kind,
    registerUses,
  };
}

function holdReasons(
  bill: Pick<ServicePointBill, 'basis' | 'findings'>,
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
  for (const finding of bill.findings) {
    reasons.push({
      code: finding.code,
      servicePointId: id,
      message: finding.message,
      value: finding.value,
      threshold: finding.threshold,
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

/** Invoices written per transaction (each with its audit entry), so a run commits in bulk. */
export const INVOICES_PER_TRANSACTION = 500;

interface PlannedAccount {
  accountId: string;
  plans: ServicePointPlan[];
  reasons: HoldReason[];
}

/** How far before and after a period register reads are looked for: a read cycle of a year. */
export const REGISTER_READ_LOOKAROUND_MS = 400 * 86_400_000;

/**
 * The interval rows of the span and the register reads around it (the reads before and after a
 * period prorate its consumption, src/billing/register.ts).
 */
async function billingRows(
  store: BillingStore,
  query: BillingLedgerQuery,
): Promise<BillingLedgerRow[]> {
  const rows = await store.billingLedger(query);
  const reads = await store.billingLedger({
    ...query,
    fromMs: query.fromMs - REGISTER_READ_LOOKAROUND_MS,
    toMs: query.toMs + REGISTER_READ_LOOKAROUND_MS,
    registerReads: true,
  });
  return [...rows.filter((row) => !isRegisterRead(row)), ...reads];
}

/** A service point plan as the pricing (in this thread or a worker) needs it. */
type PricingPlan = Omit<ServicePointPlan, 'tariff'> & { tariffSha256: string; tariffLabel: string };

/** What pricing needs: plain data, so that it can be sent to a worker thread. */
export interface PricingJob {
  taxPercent: string;
  /** Tariff JSON by sha256. */
  tariffs: Record<string, string>;
  accounts: { accountId: string; plans: PricingPlan[]; rows: BillingLedgerRow[] }[];
}

export interface PricedAccount {
  accountId: string;
  bills: { basis: ServicePointBasis; lines: InvoiceLine[]; findings: RegisterFinding[] }[];
  ledgerDigest: string;
  ledgerRows: number;
}

/** Prices accounts: determinants, lines and ledger digest of each. Pure. */
export function priceAccounts(job: PricingJob): PricedAccount[] {
  const parsed = new Map<string, ReturnType<typeof tariffFromJson>>();
  const tariffOf = (sha256: string) => {
    const known = parsed.get(sha256);
    if (known !== undefined) return known;
    const tariff = tariffFromJson(job.tariffs[sha256] ?? '');
    parsed.set(sha256, tariff);
    return tariff;
  };
  return job.accounts.map((account) => {
    const bills = account.plans.map((plan) =>
      billServicePoint(plan, tariffOf(plan.tariffSha256), account.rows, job.taxPercent),
    );
    const rows = bills.flatMap((bill) => bill.rows);
    return {
      accountId: account.accountId,
      bills: bills.map(({ basis, lines, findings }) => ({ basis, lines, findings })),
      ledgerDigest: ledgerDigest(rows),
      ledgerRows: rows.length,
    };
  });
}

/** Prices in `threads` worker threads (contiguous slices, so the order is kept), or here. */
async function priceInParallel(job: PricingJob, threads: number): Promise<PricedAccount[]> {
  if (threads <= 1 || job.accounts.length < 2) return priceAccounts(job);
  const size = Math.ceil(job.accounts.length / threads);
  const slices: PricingJob['accounts'][] = [];
  for (let at = 0; at < job.accounts.length; at += size) {
    slices.push(job.accounts.slice(at, at + size));
  }
  const results = await Promise.all(slices.map((accounts) => priceInWorker({ ...job, accounts })));
  return results.flat();
}

function priceInWorker(job: PricingJob): Promise<PricedAccount[]> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./price-worker.js', import.meta.url));
    let done = false;
    worker.once('message', (result: PricedAccount[]) => {
      done = true;
      resolve(result);
      void worker.terminate();
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (!done) reject(new Error(`a pricing worker exited with code ${code} before answering`));
    });
    worker.postMessage(job);
  });
}

function pricingJob(
  planned: readonly PlannedAccount[],
  rowsByMeter: ReadonlyMap<string, readonly BillingLedgerRow[]>,
  taxPercent: string,
): PricingJob {
  const tariffs: Record<string, string> = {};
  const accounts = planned.map((account) => {
    const meters = new Set(account.plans.flatMap((plan) => plan.spans.map((s) => s.meterId)));
    const plans = account.plans.map(({ tariff, ...plan }) => {
      tariffs[tariff.sha256] = tariff.json;
      return { ...plan, tariffSha256: tariff.sha256, tariffLabel: tariff.label };
    });
    return {
      accountId: account.accountId,
      plans,
      rows: [...meters].flatMap((meter) => rowsByMeter.get(meter) ?? []),
    };
  });
  return { taxPercent, tariffs, accounts };
}

/** Counts held anomaly readings of a service point's meters within its period. */
function heldCounter(starts: readonly HeldAnomalyStart[]) {
  const byMeter = new Map<string, number[]>();
  for (const held of starts) {
    byMeter.set(held.meterId, [...(byMeter.get(held.meterId) ?? []), held.intervalStartMs]);
  }
  return (basis: ServicePointBasis): number => {
    const meters = new Set(basis.spans.map((s) => s.meterId));
    let count = 0;
    for (const meter of meters) {
      for (const start of byMeter.get(meter) ?? []) {
        if (start >= basis.startMs && start < basis.endMs) count += 1;
      }
    }
    return count;
  };
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

/** The current rows of every meter the plans name, by meter, in one scan of the period. */
async function readPeriod(
  store: BillingStore,
  planned: readonly PlannedAccount[],
  rowIdMax: number,
): Promise<{
  rowsByMeter: Map<string, BillingLedgerRow[]>;
  held: (basis: ServicePointBasis) => number;
}> {
  const plans = planned.flatMap((account) => account.plans);
  if (plans.length === 0) return { rowsByMeter: new Map(), held: () => 0 };
  let fromMs = Number.POSITIVE_INFINITY;
  let toMs = Number.NEGATIVE_INFINITY;
  for (const plan of plans) {
    fromMs = Math.min(fromMs, plan.startMs);
    toMs = Math.max(toMs, plan.endMs);
  }
  const meterIds = new Set(plans.flatMap((plan) => plan.spans.map((s) => s.meterId)));
  const rowsByMeter = await store.billingLedgerByMeter({ meterIds, fromMs, toMs, rowIdMax });
  // Register reads come from their own index, from a read cycle before the period to one after
  // (the reads around a period prorate its consumption, src/billing/register.ts).
  const reads = await store.billingLedger({
    meterIds: [...meterIds],
    fromMs: fromMs - REGISTER_READ_LOOKAROUND_MS,
    toMs: toMs + REGISTER_READ_LOOKAROUND_MS,
    rowIdMax,
    registerReads: true,
  });
  for (const [meterId, rows] of rowsByMeter) {
    if (rows.some(isRegisterRead))
      rowsByMeter.set(
        meterId,
        rows.filter((row) => !isRegisterRead(row)),
      );
  }
  for (const read of reads) {
    const list = rowsByMeter.get(read.meterId);
    if (list === undefined) rowsByMeter.set(read.meterId, [read]);
    else list.push(read);
  }
  const held = heldCounter(await store.heldAnomalyStarts(fromMs, toMs));
  return { rowsByMeter, held };
}

interface Issuable {
  accountId: string;
  priced: PricedAccount;
  reasons: HoldReason[];
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
  const planned = accountIds.map((accountId) => {
    const reasons: HoldReason[] = [];
    const plans = planServicePoints(byAccount.get(accountId) ?? [], tariffs, period, reasons);
    return { accountId, plans, reasons };
  });
  const { rowsByMeter, held } = await readPeriod(context.store, planned, rowIdMax);
  const job = pricingJob(planned, rowsByMeter, request.taxPercent);
  rowsByMeter.clear();
  const priced = await priceInParallel(job, request.threads ?? 1);
  onProgress?.(0, accountIds.length);
  const issuable: Issuable[] = [];
  priced.forEach((account, index) => {
    const reasons = [...(planned[index]?.reasons ?? [])];
    for (const bill of account.bills) {
      reasons.push(...holdReasons(bill, held(bill.basis), request.thresholds));
    }
    if (account.bills.length === 0 && reasons.length === 0) return;
    const blocking = reasons.some((r) => r.code === 'tariff');
    if (reasons.length > 0 && (request.forceJustification === null || blocking)) {
      report.held.push({ accountId: account.accountId, period: period.period, reasons });
      return;
    }
    issuable.push({ accountId: account.accountId, priced: account, reasons });
  });
  for (let at = 0; at < issuable.length; at += INVOICES_PER_TRANSACTION) {
    const chunk = issuable.slice(at, at + INVOICES_PER_TRANSACTION);
    const results = await context.store.transaction(async (tx) => {
      const issued: Issued[] = [];
      for (const account of chunk) {
        issued.push(await issueInvoice(tx, context, account, period.period, request, rowIdMax));
      }
      return issued;
    });
    for (const issued of results) {
      if (issued.kind === 'unchanged') report.unchanged.push(issued.unchanged);
      else report.invoices.push(issued.invoice);
    }
    onProgress?.(at + chunk.length, issuable.length);
  }
  return report;
}

type Issued =
  | { kind: 'issued'; invoice: InvoiceReport }
  | { kind: 'unchanged'; unchanged: { accountId: string; period: string; totalCents: number } };

async function issueInvoice(
  tx: BillingTransaction,
  context: BillingContext,
  account: Issuable,
  period: string,
  request: BillRequest,
  rowIdMax: number,
): Promise<Issued> {
  const { accountId, priced } = account;
  const due = priced.bills.flatMap((bill) => bill.lines);
  const basis: BillBasis = {
    taxPercent: request.taxPercent,
    servicePoints: priced.bills.map((b) => b.basis),
  };
  const override =
    account.reasons.length === 0 || request.forceJustification === null
      ? null
      : {
          reasons: account.reasons,
          justification: request.forceJustification,
          actor: context.actor,
        };
  const earlier = await tx.invoicesOf(accountId, period);
  const lines = earlier.length === 0 ? due : differenceLines(due, earlier);
  if (earlier.length > 0 && lines.length === 0) {
    return {
      kind: 'unchanged',
      unchanged: { accountId, period, totalCents: totalCents(due) },
    };
  }
  const kind = earlier.length === 0 ? ('invoice' as const) : ('adjustment' as const);
  const head = (await tx.auditHead()) ?? { seq: 0, hash: '' };
  const digest = priced.ledgerDigest;
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
    ledgerRows: priced.ledgerRows,
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
  return { kind: 'issued', invoice };
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

/**
 * Each service point of an invoice billed again from its basis: the tariff by sha256 and the
 * ledger as of the invoice's `ledgerRowIdMax` (bill verify compares the result; bill prove takes
 * the ledger rows and register uses that the invoice was computed from).
 */
export async function recomputeServicePoints(
  store: BillingStore,
  invoice: InvoiceRow,
): Promise<ServicePointBill[]> {
  const basis = JSON.parse(invoice.basisJson) as BillBasis;
  const bills: ServicePointBill[] = [];
  for (const sp of basis.servicePoints) {
    const tariff = await store.findTariffBySha256(sp.tariffSha256);
    if (tariff === null)
      throw new AmisyncError(
        'NOT_FOUND',
        `tariff ${sp.tariffSha256} of invoice ${invoice.id} is gone`,
      );
    const ledgerRows = await billingRows(store, {
      meterIds: [...new Set(sp.spans.map((s) => s.meterId))],
      fromMs: sp.startMs,
      toMs: sp.endMs,
      rowIdMax: invoice.ledgerRowIdMax,
    });
    const bill = billServicePoint(
      {
        servicePointId: sp.servicePointId,
        tariffSha256: tariff.sha256,
        tariffLabel: tariff.label,
        timeZone: sp.timeZone,
        startMs: sp.startMs,
        endMs: sp.endMs,
        days: sp.determinants.days,
        month: sp.determinants.month,
        spans: sp.spans,
      },
      tariffFromJson(tariff.json),
      ledgerRows,
      basis.taxPercent,
    );
    bills.push(bill);
  }
  return bills;
}

/** Recomputes an invoice from its tariffs, ledger rows and earlier invoices; compares exactly. */
export async function verifyInvoice(
  store: BillingStore,
  invoiceId: number,
): Promise<InvoiceVerification> {
  const invoice = await store.getInvoice(invoiceId);
  if (invoice === null)
    throw new AmisyncError('NOT_FOUND', `no invoice ${invoiceId} (amisync bill list)`);
  const bills = await recomputeServicePoints(store, invoice);
  const due = bills.flatMap((bill) => bill.lines);
  const rows = bills.flatMap((bill) => bill.rows);
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
