/**
 * Reporting commands: status, ledger export, and the audit commands (verify, prove, export,
 * public-key).
 */
import { QUIET_PROGRESS, startProgress } from '../progress.js';
import { createWriteStream, readFileSync } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { exportAudit } from '../../audit/export.js';
import { proveReading } from '../../audit/prove.js';
import { verifyAudit, type VerifyReport } from '../../audit/verify.js';
import type { Alert } from '../../core/alert.js';
import { AmisyncError } from '../../core/errors.js';
import { formatMilliWhAsKwh } from '../../core/decimal.js';
import type { ChannelTotal, SourceSummaryRow } from '../../core/store.js';
import { csvField, LEDGER_CSV_COLUMNS, ledgerCsvLine } from '../../pipeline/ledger-state.js';
import {
  databaseLabel,
  invoiceRowsOf,
  openExistingStore,
  openReadView,
  publicKeyFor,
  runtime,
  signingKeyFor,
  type GlobalOptions,
} from '../context.js';
import { printJson, printLines, table } from '../output.js';
import { backlogLines } from './anomalies.js';
import { deadLetterLines } from './dead-letters.js';
import { countsTable } from './ingest.js';
import { pauseLine } from './pause.js';
import { breakerLines } from './breakers.js';
import { commandAlerts } from './run.js';
import { statusReport } from '../views.js';

export async function runStatus(options: GlobalOptions & { json?: boolean }) {
  const store = await openReadView(options, runtime.clock);
  try {
    const { status, anomalies, report } = await statusReport(store);
    const sources = report.sources;
    if (options.json === true) {
      printJson(report);
      return;
    }
    printLines([
      ...countsTable(['ingested', status.totals], ['operator actions', status.operatorTotals]),
      `conservation: ${report.conserved ? 'holds for every batch' : 'BROKEN'}`,
      `ledger: ${status.ledger.readings} current readings, ${report.ledger.energyKwh} kWh, ` +
        `${status.ledger.versions} versions, ${status.ledger.streams} meter channels`,
      ...channelLines(report.ledger.byChannel),
      ...report.ledger.byUnit
        .filter((total) => total.unit !== 'kWh')
        .map(
          (total) =>
            `  also ${total.readings} ${total.commodity} readings in ${total.unit}, ` +
            `${total.value} ${total.unit} (never summed into kWh)`,
        ),
      `quarantine: ${status.quarantine.open} open, ${status.quarantine.replayed} replayed, ` +
        `${status.quarantine.accepted} accepted by override, ${status.quarantine.rejected} rejected ` +
        `(distinct problems; ${status.quarantineRepeats} bad records arrived again as repeats)`,
      ...backlogLines(anomalies),
      ...deadLetterLines(status.deadLetters),
      `sequence: ${status.sequence.gaps} gaps, ${status.sequence.regressions} regressions ` +
        `(${status.sequence.streamsWithGaps} meter channels with gaps; a gap is a feed sequence ` +
        'number the ledger has not accepted: never sent, or still in quarantine)',
      ...sourceLines(sources),
      `deliveries: ${status.deliveries.complete} complete, ${status.deliveries.running} running, ` +
        `${status.deliveries.interrupted} interrupted`,
      ...interruptedLines(report.recentDeliveries),
      ...breakerLines(report.breakers),
      `audit: ${status.auditEntries} entries, last checkpoint at entry ` +
        `${status.lastCheckpoint?.auditSeq ?? 'none'}`,
      ...(report.pauses.length === 0
        ? ['pauses: none (every source reads)']
        : [
            'PAUSED (nothing is read or acknowledged):',
            ...report.pauses.map((p) => `  ${pauseLine(p)}`),
          ]),
    ]);
  } finally {
    await store.close();
  }
}

/** One row per source: its deliveries, counts, last delivery and last saved position. */
function sourceLines(
  sources: readonly (SourceSummaryRow & {
    lastFinishedAt: string | null;
    positionSavedAt: string | null;
  })[],
): string[] {
  if (sources.length === 0) return [];
  return [
    'sources:',
    ...table([
      ['  source', 'deliveries', 'unfinished', 'received', 'accepted', 'last delivery', 'position'],
      ...sources.map((source) => [
        `  ${source.sourceId}`,
        String(source.complete),
        String(source.unfinished),
        String(source.counts.received),
        String(source.counts.accepted),
        source.lastFinishedAt ?? '-',
        source.positionSavedAt === null ? '-' : `saved ${source.positionSavedAt}`,
      ]),
    ]),
  ];
}

async function write(out: Writable, text: string): Promise<void> {
  if (!out.write(text)) await once(out, 'drain');
}

export async function runLedgerExport(
  options: GlobalOptions & { format?: string; output?: string },
) {
  const format = options.format ?? 'csv';
  if (format !== 'csv' && format !== 'ndjson') {
    throw new AmisyncError('USAGE', '--format must be csv or ndjson');
  }
  const store = await openReadView(options, runtime.clock);
  const out: Writable =
    options.output === undefined ? process.stdout : createWriteStream(options.output);
  const progress = startProgress({
    label: 'ledger export',
    total: 0,
    unit: 'readings',
    json: false,
  });
  try {
    // The total costs a count: only for a bar someone watches.
    if (progress !== QUIET_PROGRESS) progress.update(0, (await store.status()).ledger.readings);
    let written = 0;
    if (format === 'csv') await write(out, `${LEDGER_CSV_COLUMNS.map(csvField).join(',')}\n`);
    for await (const page of store.iterateCurrentLedger()) {
      written += page.length;
      progress.update(written);
      const lines = page.map((row) =>
        format === 'csv'
          ? ledgerCsvLine(row)
          : JSON.stringify({ ...row, consumptionKwh: formatMilliWhAsKwh(row.valueMicro) }),
      );
      await write(out, `${lines.join('\n')}\n`);
    }
  } finally {
    progress.stop();
    if (out !== process.stdout) {
      out.end();
      await once(out, 'finish');
    }
    await store.close();
  }
}

type AuditOptions = GlobalOptions & { json?: boolean; publicKey?: string; config?: string };

export async function runAuditVerify(options: AuditOptions) {
  // With --config, a failure raises the audit.verify_failed alert to the file's webhook.
  const alerting = options.config === undefined ? null : commandAlerts(options);
  const globals = alerting === null ? options : { ...options, ...alerting.globals };
  const store = await openExistingStore(globals, runtime.clock);
  try {
    const report = await verifyAudit(store, publicKeyFor(globals), invoiceRowsOf(store));
    if (!report.ok) alerting?.alerts.raise(verifyFailedAlert(databaseLabel(globals), report));
    if (options.json === true) printJson(report);
    else {
      printLines([
        `audit: ${report.entries} entries, ${report.batches} batches, ${report.ledgerRows} ledger ` +
          `rows, ${report.quarantineRows} quarantine rows, ${report.invoices ?? 0} invoices, ` +
          `${report.checkpointsVerified}/` +
          `${report.checkpoints} checkpoints verified`,
        report.ok
          ? `verified: chain head ${report.headSeq} ${report.headHash ?? ''}`
          : `FAILED at ${report.firstProblem?.auditSeq === null ? 'a row no entry covers' : `entry ${report.firstProblem?.auditSeq}`}: ${report.firstProblem?.reason}`,
      ]);
    }
    if (!report.ok) {
      process.exitCode = new AmisyncError('AUDIT_VERIFY_FAILED', 'audit verify failed').exitCode;
    }
  } finally {
    await store.close();
    await alerting?.close();
  }
}

/** The audit.verify_failed alert: the first bad entry and what was checked. */
function verifyFailedAlert(database: string, report: VerifyReport): Omit<Alert, 'atMs'> {
  const problem = report.firstProblem;
  const where = problem?.auditSeq == null ? 'a row no entry covers' : `entry ${problem.auditSeq}`;
  return {
    rule: 'audit.verify_failed',
    source: null,
    severity: 'critical',
    message: `audit verify failed on ${database} at ${where}: ${problem?.reason ?? 'unknown'}`,
    figures: {
      database,
      firstBadSeq: problem?.auditSeq ?? null,
      reason: problem?.reason ?? null,
      entries: report.entries,
      headSeq: report.headSeq,
      checkpoints: report.checkpoints,
      checkpointsVerified: report.checkpointsVerified,
    },
  };
}

export async function runAuditProve(key: string, options: AuditOptions) {
  if (!/^[0-9a-fA-F]{64}$/.test(key)) {
    throw new AmisyncError('USAGE', 'an idempotency key is 64 hexadecimal characters');
  }
  const store = await openExistingStore(options, runtime.clock);
  try {
    const report = await proveReading(store, key, publicKeyFor(options));
    if (report.proofs.length === 0) {
      throw new AmisyncError('NOT_FOUND', `no ledger reading has idempotency key ${key}`);
    }
    if (options.json === true) printJson(report);
    else {
      const lines: string[] = [];
      for (const proof of report.proofs) {
        lines.push(
          `reading ${proof.row.meterId} ch ${proof.row.channel} version ${proof.row.version}: ` +
            `row ${proof.rowInLeaf} of leaf ${proof.leafIndex} (of ${proof.treeSize}) in batch ${proof.row.batchId}`,
          `  audit entry ${proof.auditEntry.seq} ${proof.auditEntry.hash}`,
          `  path: ${proof.auditPath.join(' ')}`,
          `  checks: ${Object.entries(proof.checks)
            .map(([k, v]) => `${k}=${v}`)
            .join(' ')}`,
        );
      }
      lines.push(report.verified ? 'proof verified' : 'proof FAILED');
      printLines(lines);
    }
    if (!report.verified) {
      process.exitCode = new AmisyncError('AUDIT_VERIFY_FAILED', 'proof failed').exitCode;
    }
  } finally {
    await store.close();
  }
}

export async function runAuditExport(options: AuditOptions & { out: string }) {
  const store = await openExistingStore(options, runtime.clock);
  try {
    const key = signingKeyFor(options);
    const manifest = await exportAudit(store, options.out, key.publicKeyPem);
    if (options.json === true) printJson(manifest);
    else printLines([`wrote ${manifest.files.join(', ')} to ${options.out}`]);
  } finally {
    await store.close();
  }
}

export function runAuditPublicKey(options: AuditOptions) {
  const key = signingKeyFor(options);
  if (options.json === true) printJson({ fingerprint: key.fingerprint, pem: key.publicKeyPem });
  else process.stdout.write(key.publicKeyPem);
}

export function readJustification(options: { justification?: string; justificationFile?: string }) {
  if (options.justificationFile !== undefined)
    return readFileSync(options.justificationFile, 'utf8');
  return options.justification ?? '';
}

/** Recent interrupted deliveries, each with what it committed and what delivered it again. */
function interruptedLines(
  deliveries: readonly {
    id: string;
    name: string;
    status: string;
    counts: { received: number };
    redelivers: string | null;
    redeliveredBy: string[];
  }[],
): string[] {
  const lines: string[] = [];
  for (const d of deliveries) {
    if (d.status === 'interrupted') {
      const again = d.redeliveredBy.length > 0 ? d.redeliveredBy.join(', ') : 'not yet';
      lines.push(
        `  interrupted ${d.id} ${d.name}: ${d.counts.received} records committed; ` +
          `redelivered by ${again}`,
      );
    } else if (d.redelivers !== null) {
      lines.push(`  ${d.id} ${d.name} redelivers interrupted ${d.redelivers}`);
    }
  }
  return lines;
}

/** Channels shown by name in the text status; `--json` lists them all. */
const CHANNELS_SHOWN_MAX = 8;

/**
 * The kWh total split by channel name, when there is more than one: an export or reverse-flow
 * channel is summed into the kWh total like any other, and this is where it shows apart.
 */
function channelLines(byChannel: readonly (ChannelTotal & { value: string })[]): string[] {
  const kwh = byChannel.filter((total) => total.unit === 'kWh');
  if (kwh.length < 2) return [];
  const shown = kwh
    .slice(0, CHANNELS_SHOWN_MAX)
    .map((total) => `${total.channel} ${total.value} (${total.readings} readings)`);
  const more = kwh.length - shown.length;
  return [
    `  kWh by channel (the total sums every kWh channel, export ones included): ` +
      `${shown.join(', ')}${more > 0 ? `, and ${more} more channels (--json lists them)` : ''}`,
  ];
}
