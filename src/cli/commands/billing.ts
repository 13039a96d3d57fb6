/**
 * `amisync tariffs import|list|show`, `amisync accounts import|list|show` and
 * `amisync bill run|verify|list`: the rate engine's commands (docs/billing.md). Each write is one
 * transaction with its audit entry; money is printed from integer cents.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { stringify } from 'csv-stringify/sync';
import { Option, type Command } from 'commander';
import { nextEntry } from '../../audit/hash-chain.js';
import { writeCheckpoint } from '../../audit/record.js';
import {
  DEFAULT_HOLD_THRESHOLDS,
  importAccounts,
  importTariffs,
  runBills,
  verifyInvoice,
  type AuditAppend,
  type BillingContext,
  type BillRunReport,
} from '../../billing/billing.js';
import type { InvoiceLine } from '../../billing/invoice.js';
import { invoiceDocument, invoiceHtml } from '../../billing/invoice-html.js';
import { writeBillProof } from './bill-prove.js';
import { formatCents, parseScaled } from '../../billing/money.js';
import { AmisyncError } from '../../core/errors.js';
import { csvTextCell } from '../../report/discrepancy-csv.js';
import type { Store } from '../../core/store.js';
import {
  actorFor,
  billingStoreOf,
  openExistingStore,
  runtime,
  signingKeyFor,
  signingKeyPath,
  type GlobalOptions,
} from '../context.js';
import { handleError, printJson, printLines, table } from '../output.js';
import { withStore } from '../command-kit.js';
import { startProgress } from '../progress.js';

interface BillingOptions extends GlobalOptions {
  json?: boolean;
  period?: string;
  accounts?: string;
  csv?: string;
  taxPercent?: string;
  completenessMin?: string;
  estimatedShareMax?: string;
  force?: boolean;
  justification?: string;
  account?: string;
  format?: string;
  threads?: string;
  out?: string;
}

const JUSTIFICATION_CHARS_MIN = 10;

function billingAction<A extends unknown[]>(fn: (...args: A) => Promise<void>) {
  return async (...args: A): Promise<void> => {
    const command = args[args.length - 1] as Command;
    try {
      await fn(...args);
    } catch (error) {
      handleError(error, command.opts<BillingOptions>().json === true);
    }
  };
}

const appendAudit: AuditAppend = async (tx, kind, payload, atMs) => {
  const entry = nextEntry(await tx.auditHead(), kind, payload, atMs);
  await tx.appendAuditEntry(entry);
  return entry.seq;
};

/**
 * Opens the store --db names (a SQLite file or a PostgreSQL schema, which must exist) and its
 * billing tables, for one command.
 */
async function withBilling<T>(
  options: BillingOptions,
  fn: (context: BillingContext, store: Store) => Promise<T>,
): Promise<T> {
  const store = await openExistingStore(options, runtime.clock);
  try {
    return await fn(
      {
        store: billingStoreOf(store),
        nowMs: () => runtime.clock.nowMs(),
        appendAudit,
        actor: actorFor(options),
      },
      store,
    );
  } finally {
    await store.close();
  }
}

function readInput(file: string): string {
  if (!existsSync(file)) throw new AmisyncError('INPUT_NOT_FOUND', `${file} does not exist`);
  return readFileSync(file, 'utf8');
}

function share(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || value > 1) {
    throw new AmisyncError('USAGE', `${flag} ${JSON.stringify(text)} must be a share from 0 to 1`);
  }
  return value;
}

function taxPercentOf(text: string | undefined): string {
  const value = text ?? '0';
  const parsed = parseScaled(value, 6, 'percent');
  if (!/^\d+(\.\d+)?$/.test(value) || !parsed.ok || parsed.scaled > 100_000_000n) {
    throw new AmisyncError(
      'USAGE',
      `--tax-percent ${JSON.stringify(value)} must be a percentage from 0 to 100 with at most 6 ` +
        'decimals',
    );
  }
  return value;
}

const THREADS_MAX = 64;

function threadsOf(text: string | undefined): number {
  if (text === undefined) return availableParallelism();
  const value = Number(text);
  if (!/^[1-9]\d*$/.test(text) || value > THREADS_MAX) {
    throw new AmisyncError(
      'USAGE',
      `--threads ${JSON.stringify(text)} must be 1 to ${THREADS_MAX}`,
    );
  }
  return value;
}

function justificationOf(options: BillingOptions): string | null {
  if (options.force !== true) return null;
  const text = (options.justification ?? '').trim();
  if (text.length < JUSTIFICATION_CHARS_MIN) {
    throw new AmisyncError(
      'USAGE',
      `--force needs --justification of at least ${JUSTIFICATION_CHARS_MIN} characters`,
    );
  }
  return text;
}

function addTariffCommands(program: Command): void {
  const tariffs = program.command('tariffs').description('rate schedules in OpenEI URDB JSON');
  withStore(tariffs.command('import <file>'))
    .description('import one URDB rate object, or a URDB API response with items')
    .addHelpText('after', '\nExample:\n  amisync tariffs import URDB.json --db ./amisync.db')
    .action(
      billingAction(async (file: string, options: BillingOptions) => {
        const text = readInput(file);
        const result = await withBilling(options, (context) => importTariffs(context, text));
        if (options.json === true) {
          printJson({
            imported: result.imported.map(({ json: _json, ...row }) => row),
            existing: result.existing.map(({ json: _json, ...row }) => row),
          });
          return;
        }
        printLines([
          ...result.imported.map((t) => `imported ${t.label} (${t.name}) sha256 ${t.sha256}`),
          ...result.existing.map((t) => `already imported ${t.label} (${t.name})`),
        ]);
      }),
    );
  withStore(tariffs.command('list'))
    .description('imported tariffs')
    .action(
      billingAction(async (options: BillingOptions) => {
        const rows = await withBilling(options, (c) => c.store.listTariffs());
        if (options.json === true) {
          printJson({ tariffs: rows.map(({ json: _json, ...row }) => row) });
          return;
        }
        printLines(
          table([
            ['id', 'label', 'name', 'utility', 'sha256'],
            ...rows.map((r) => [String(r.id), r.label, r.name, r.utility, r.sha256.slice(0, 16)]),
          ]),
        );
      }),
    );
  withStore(tariffs.command('show <labelOrName>'))
    .description('one tariff: its stored URDB JSON and sha256')
    .addHelpText('after', '\nExample:\n  amisync tariffs show 5f1b2c3d4e5f60718293a4b5 --json')
    .action(
      billingAction(async (named: string, options: BillingOptions) => {
        const rows = await withBilling(options, (c) => c.store.listTariffs());
        const row = rows.filter((r) => r.label === named || r.name === named).at(-1);
        if (row === undefined) throw new AmisyncError('NOT_FOUND', `no tariff ${named}`);
        const rate = JSON.parse(row.json) as unknown;
        if (options.json === true) printJson({ ...row, json: undefined, rate });
        else printLines([`${row.label} ${row.name} sha256 ${row.sha256}`, JSON.stringify(rate)]);
      }),
    );
}

function addAccountCommands(program: Command): void {
  const accounts = program
    .command('accounts')
    .description('accounts, service points and the meters on them over time');
  withStore(accounts.command('import <file>'))
    .description(
      'import accounts.csv: account_id, service_point_id, meter_id, tariff, time_zone, from, to',
    )
    .option('--actor <name>', 'who is acting (default: $AMISYNC_ACTOR or the login name)')
    .addHelpText(
      'after',
      '\nExample:\n  amisync accounts import accounts.csv --db ./amisync.db\n' +
        'from and to are local dates (YYYY-MM-DD, midnight in time_zone) or ISO instants; ' +
        'an empty to means still in service.',
    )
    .action(
      billingAction(async (file: string, options: BillingOptions) => {
        const text = readInput(file);
        const result = await withBilling(options, (context) => importAccounts(context, text));
        if (options.json === true) printJson(result);
        else {
          printLines([
            `imported ${result.imported} assignment(s) (${result.accounts} account(s), ` +
              `${result.servicePoints} service point(s)); ${result.skipped} already stored`,
          ]);
        }
      }),
    );
  withStore(accounts.command('list'))
    .description('accounts with their service points and meters')
    .action(
      billingAction(async (options: BillingOptions) => {
        const rows = await withBilling(options, (c) => c.store.listAssignments());
        if (options.json === true) {
          printJson({ assignments: rows });
          return;
        }
        printLines(
          table([
            ['account', 'service point', 'meter', 'tariff', 'time zone', 'from', 'to'],
            ...rows.map((r) => [
              r.accountId,
              r.servicePointId,
              r.meterId,
              r.tariff,
              r.timeZone,
              new Date(r.fromMs).toISOString(),
              r.toMs === null ? '' : new Date(r.toMs).toISOString(),
            ]),
          ]),
        );
      }),
    );
  withStore(accounts.command('show <accountId>'))
    .description("one account's service points, meters and invoices")
    .action(
      billingAction(async (accountId: string, options: BillingOptions) => {
        const [rows, invoices] = await withBilling(
          options,
          async (c) =>
            [
              await c.store.listAssignments([accountId]),
              await c.store.listInvoices({ accountId }),
            ] as const,
        );
        if (rows.length === 0) throw new AmisyncError('NOT_FOUND', `no account ${accountId}`);
        const summary = invoices.map((i) => ({
          invoiceId: i.id,
          period: i.period,
          kind: i.kind,
          totalCents: i.totalCents,
        }));
        if (options.json === true) printJson({ accountId, assignments: rows, invoices: summary });
        else {
          printLines([
            `account ${accountId}`,
            ...rows.map((r) => `  ${r.servicePointId} ${r.meterId} ${r.tariff} ${r.timeZone}`),
            ...summary.map(
              (i) => `  invoice ${i.invoiceId} ${i.period} ${i.kind} ${formatCents(i.totalCents)}`,
            ),
          ]);
        }
      }),
    );
}

function billCsv(report: BillRunReport): string {
  const header = [
    'invoice_id',
    'account_id',
    'period',
    'invoice_kind',
    'service_point_id',
    'line_kind',
    'tou_period',
    'tier',
    'description',
    'quantity',
    'unit',
    'price',
    'amount_cents',
  ];
  const rows = report.invoices.flatMap((invoice) =>
    invoice.lines.map((line: InvoiceLine) => [
      invoice.invoiceId,
      csvTextCell(invoice.accountId),
      invoice.period,
      invoice.kind,
      csvTextCell(line.servicePointId),
      line.kind,
      line.period ?? '',
      line.tier ?? '',
      csvTextCell(line.description),
      line.quantity,
      line.unit,
      line.price,
      line.amountCents,
    ]),
  );
  return stringify([header, ...rows]);
}

function printBillRun(report: BillRunReport, json: boolean): void {
  if (json) {
    printJson(report);
    return;
  }
  printLines([
    `period ${report.period}: ${report.invoices.length} issued, ${report.held.length} held, ` +
      `${report.unchanged.length} unchanged`,
    ...report.invoices.map(
      (i) =>
        `  ${i.kind} ${i.invoiceId} ${i.accountId} ${formatCents(i.totalCents)}` +
        (i.override === null ? '' : ' (forced)'),
    ),
    ...report.held.map(
      (h) =>
        `  held ${h.accountId}: ${h.reasons.map((r) => `${r.code} (${r.message})`).join('; ')}`,
    ),
  ]);
}

function addBillCommands(program: Command): void {
  const bill = program.command('bill').description('invoices from the billing ledger');
  withStore(bill.command('run'))
    .description('bill every account (or some) for a month: invoices, holds and adjustments')
    .requiredOption('--period <YYYY-MM>', "the month, in each service point's local time")
    .option('--accounts <ids>', 'only these accounts, comma-separated')
    .option('--csv <file>', 'also write the issued lines as CSV')
    .option('--tax-percent <n>', "tax as a percentage of each service point's charges", '0')
    .option('--completeness-min <share>', 'hold below this share of intervals present', '0.98')
    .option('--estimated-share-max <share>', 'hold above this share of estimated intervals', '0.1')
    .option('--force', 'bill held accounts too, recording an override')
    .option('--justification <text>', 'why the override (with --force; at least 10 characters)')
    .option('--actor <name>', 'who is acting (default: $AMISYNC_ACTOR or the login name)')
    .option(
      '--signing-key <path>',
      'Ed25519 checkpoint key (default: <db>.signing-key.pem; required with a URL)',
    )
    .option('--threads <n>', 'worker threads pricing the accounts (default: the core count)')
    .addHelpText(
      'after',
      '\nExample:\n  amisync bill run --period 2026-10 --tax-percent 5 --json --db ./amisync.db\n' +
        'A second run after late or revised data issues an adjustment for the difference.',
    )
    .action(
      billingAction(async (options: BillingOptions) => {
        const request = {
          period: options.period ?? '',
          accountIds:
            options.accounts === undefined
              ? null
              : options.accounts
                  .split(',')
                  .map((id) => id.trim())
                  .filter((id) => id !== ''),
          taxPercent: taxPercentOf(options.taxPercent),
          thresholds: {
            completenessMin: share(
              '--completeness-min',
              options.completenessMin,
              DEFAULT_HOLD_THRESHOLDS.completenessMin,
            ),
            estimatedShareMax: share(
              '--estimated-share-max',
              options.estimatedShareMax,
              DEFAULT_HOLD_THRESHOLDS.estimatedShareMax,
            ),
          },
          forceJustification: justificationOf(options),
          threads: threadsOf(options.threads),
        };
        // The run ends with a signed checkpoint: a URL without a key is refused before any
        // invoice is written, not after.
        signingKeyPath(options);
        const progress = startProgress({
          label: 'bill run',
          total: 0,
          unit: 'accounts',
          json: options.json === true,
        });
        let report: BillRunReport;
        try {
          report = await withBilling(options, async (context, store) => {
            const result = await runBills(context, request, (done, total) =>
              progress.update(done, total),
            );
            // A signed checkpoint right after the run covers every invoice it issued, so each can
            // be proven against a signature at once (bill show, bill prove).
            if (result.invoices.length > 0) {
              await writeCheckpoint(store, signingKeyFor(options), runtime.clock.nowMs());
            }
            return result;
          });
        } finally {
          progress.stop();
        }
        if (options.csv !== undefined) writeFileSync(options.csv, billCsv(report));
        printBillRun(report, options.json === true);
      }),
    );
  withStore(bill.command('verify <invoice>'))
    .description('recompute an invoice from its tariff and ledger rows; exit 0 only when equal')
    .addHelpText('after', '\nExample:\n  amisync bill verify 12 --json --db ./amisync.db')
    .action(
      billingAction(async (invoice: string, options: BillingOptions) => {
        if (!/^[1-9]\d*$/.test(invoice)) {
          throw new AmisyncError(
            'USAGE',
            `INVOICE ${JSON.stringify(invoice)} must be an invoice id`,
          );
        }
        const result = await withBilling(options, (c) => verifyInvoice(c.store, Number(invoice)));
        if (options.json === true) printJson(result);
        else {
          printLines([
            `invoice ${result.invoiceId}: ${result.ok ? 'verified' : 'DIFFERS'} ` +
              `(stored ${formatCents(result.totalCents)}, recomputed ` +
              `${formatCents(result.recomputedTotalCents)}, ledger rows ` +
              `${result.ledgerDigestMatches ? 'match' : 'differ'})`,
            ...result.differences.map(
              (d) => `  ${d.key}: ${d.storedCents} vs ${d.recomputedCents}`,
            ),
          ]);
        }
        if (!result.ok) {
          throw new AmisyncError('AUDIT_VERIFY_FAILED', `invoice ${invoice} does not recompute`);
        }
      }),
    );
  addBillShowCommand(bill);
  addBillProveCommand(bill);
  withStore(bill.command('list'))
    .description('issued invoices and adjustments')
    .option('--account <id>', 'only this account')
    .option('--period <YYYY-MM>', 'only this month')
    .action(
      billingAction(async (options: BillingOptions) => {
        const rows = await withBilling(options, (c) =>
          c.store.listInvoices({
            ...(options.account === undefined ? {} : { accountId: options.account }),
            ...(options.period === undefined ? {} : { period: options.period }),
          }),
        );
        const invoices = rows.map((r) => ({
          invoiceId: r.id,
          accountId: r.accountId,
          period: r.period,
          kind: r.kind,
          totalCents: r.totalCents,
          lines: JSON.parse(r.linesJson) as InvoiceLine[],
          ledgerRowIdMax: r.ledgerRowIdMax,
          ledgerDigest: r.ledgerDigest,
          auditSeq: r.auditSeq,
        }));
        if (options.json === true) printJson({ invoices });
        else {
          printLines(
            table([
              ['id', 'account', 'period', 'kind', 'total'],
              ...invoices.map((i) => [
                String(i.invoiceId),
                i.accountId,
                i.period,
                i.kind,
                formatCents(i.totalCents),
              ]),
            ]),
          );
        }
      }),
    );
}

function invoiceIdOf(text: string): number {
  if (!/^[1-9]\d*$/.test(text)) {
    throw new AmisyncError('USAGE', `INVOICE ${JSON.stringify(text)} must be an invoice id`);
  }
  return Number(text);
}

function addBillProveCommand(bill: Command): void {
  withStore(bill.command('prove <invoice>'))
    .description(
      'write a self-contained proof bundle of an invoice, checkable without amisync ' +
        '(scripts/check-bill-proof.mjs)',
    )
    .requiredOption('--out <dir>', 'directory to write the bundle into')
    .option(
      '--signing-key <path>',
      'Ed25519 checkpoint key (default: <db>.signing-key.pem; required with a URL)',
    )
    .action(
      billingAction(async (invoice: string, options: BillingOptions) => {
        const invoiceId = invoiceIdOf(invoice);
        const summary = await withBilling(options, (context, store) =>
          writeBillProof({
            store,
            billing: context.store,
            invoiceId,
            out: options.out ?? '',
            key: signingKeyFor(options),
            nowMs: runtime.clock.nowMs(),
          }),
        );
        if (options.json === true) printJson(summary);
        else {
          printLines([
            `wrote the proof of invoice ${invoiceId} to ${summary.out}: ${summary.readings} ` +
              `readings (root ${summary.readingsRoot}) from ${summary.batches} batch(es), ` +
              `${summary.chainEntries} chain entries to checkpoint ${summary.checkpoint.auditSeq}`,
            `check it with: node scripts/check-bill-proof.mjs ${summary.out}`,
          ]);
        }
      }),
    );
}

function addBillShowCommand(bill: Command): void {
  withStore(bill.command('show <invoice>'))
    .description('one invoice: its lines, basis and provenance, as JSON or a printable HTML page')
    .addOption(
      new Option('--format <format>', 'json, or html: one self-contained printable page')
        .choices(['json', 'html'])
        .default('json'),
    )
    .option('--out <file>', 'write the page (or JSON) to this file instead of stdout')
    .action(
      billingAction(async (invoice: string, options: BillingOptions) => {
        const invoiceId = invoiceIdOf(invoice);
        const doc = await withBilling(options, async (context, store) => {
          const row = await context.store.getInvoice(invoiceId);
          if (row === null)
            throw new AmisyncError('NOT_FOUND', `no invoice ${invoiceId} (amisync bill list)`);
          return invoiceDocument(row, await store.listCheckpoints());
        });
        const text =
          options.format === 'html' ? invoiceHtml(doc) : `${JSON.stringify(doc, null, 2)}\n`;
        if (options.out === undefined) process.stdout.write(text);
        else {
          writeFileSync(options.out, text);
          if (options.json === true) printJson({ invoiceId, file: options.out });
          else
            printLines([
              `wrote ${options.format ?? 'json'} of invoice ${invoiceId} to ${options.out}`,
            ]);
        }
      }),
    );
}

export function addBillingCommands(program: Command): void {
  addTariffCommands(program);
  addAccountCommands(program);
  addBillCommands(program);
}
