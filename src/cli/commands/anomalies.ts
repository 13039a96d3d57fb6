/**
 * `amisync anomalies list|show|release|reject`: the anomaly ledger's worklist. Readings that
 * detectors held wait here, apart from billing, until an operator releases one into the billing
 * ledger or rejects it (its interval then stays a gap for estimation), each with a note.
 */
import type { Command } from 'commander';
import { formatMilliWhAsKwh, formatValueMicro } from '../../core/decimal.js';
import { AmisyncError } from '../../core/errors.js';
import { LIST_PAGE_ROWS_MAX } from '../../core/limits.js';
import {
  ANOMALY_STATUSES,
  type AnomalyBacklog,
  type AnomalyFilter,
  type AnomalyStatus,
} from '../../core/store.js';
import { rejectAnomaly, releaseAnomaly } from '../../pipeline/anomalies.js';
import {
  actorFor,
  openExistingStore,
  openReadView,
  runtime,
  type GlobalOptions,
} from '../context.js';
import { printJson, printLines, table } from '../output.js';
import { action, parseListLimit, parseRowId, withStore } from '../command-kit.js';
import { anomalyJson, pageOf } from '../views.js';

interface AnomalyOptions extends GlobalOptions {
  json?: boolean;
  status?: string;
  meter?: string;
  detector?: string;
  from?: string;
  to?: string;
  limit?: string;
  after?: string;
  note?: string;
}

function parseId(text: string): number {
  return parseRowId(text, 'an anomaly id');
}

/** A UTC date (`2026-10-01`) or instant (`2026-10-01T06:00:00Z`), as epoch milliseconds. */
function parseInstant(flag: string, text: string): number {
  const ms = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?Z)?$/.test(text)
    ? Date.parse(text)
    : Number.NaN;
  if (Number.isNaN(ms)) {
    throw new AmisyncError(
      'USAGE',
      `${flag} must be a UTC date or instant, e.g. 2026-10-01 or 2026-10-01T06:00:00Z`,
    );
  }
  return ms;
}

function filterOf(options: AnomalyOptions, limit: number): AnomalyFilter {
  const status = options.status;
  if (status !== undefined && !(ANOMALY_STATUSES as readonly string[]).includes(status)) {
    throw new AmisyncError('USAGE', `--status must be one of ${ANOMALY_STATUSES.join(', ')}`);
  }
  return {
    limit,
    ...(status === undefined ? {} : { status: status as AnomalyStatus }),
    ...(options.meter === undefined ? {} : { meterId: options.meter }),
    ...(options.detector === undefined ? {} : { detector: options.detector }),
    ...(options.from === undefined ? {} : { fromMs: parseInstant('--from', options.from) }),
    ...(options.to === undefined ? {} : { toMs: parseInstant('--to', options.to) }),
    ...(options.after === undefined ? {} : { afterId: parseId(options.after) }),
  };
}

function isoOf(ms: number): string {
  return new Date(ms).toISOString();
}

export async function runAnomaliesList(options: AnomalyOptions): Promise<void> {
  const limit = parseListLimit(options.limit);
  const filter = filterOf(options, limit + 1);
  const store = await openReadView(options, runtime.clock);
  try {
    const fetched = await store.listAnomalies(filter);
    const { items: rows, nextAfter } = pageOf(fetched, limit);
    if (options.json === true) {
      printJson({ items: rows.map(anomalyJson), nextAfter });
      return;
    }
    printLines([
      ...table([
        ['id', 'status', 'meter', 'channel', 'interval start', 'value', 'detectors'],
        ...rows.map((row) => [
          String(row.id),
          row.status,
          row.reading.meterId,
          row.reading.channel,
          isoOf(row.reading.intervalStartMs),
          `${formatValueMicro(row.reading.valueMicro)} ${row.reading.unit}`,
          [...new Set(row.findings.map((f) => f.detector))].join(', '),
        ]),
      ]),
      ...(nextAfter === null ? [] : [`more: --after ${nextAfter}`]),
    ]);
  } finally {
    await store.close();
  }
}

export async function runAnomaliesShow(id: string, options: AnomalyOptions): Promise<void> {
  const store = await openReadView(options, runtime.clock);
  try {
    const row = await store.getAnomaly(parseId(id));
    if (row === null) throw new AmisyncError('NOT_FOUND', `anomaly ${id} does not exist`);
    if (options.json === true) {
      printJson(anomalyJson(row));
      return;
    }
    const reading = row.reading;
    const decision = row.decision;
    printLines([
      `anomaly ${row.id} (${row.status}): meter ${reading.meterId} channel ${reading.channel}, ` +
        `interval ${isoOf(reading.intervalStartMs)} (${reading.intervalSeconds} s), ` +
        `${formatValueMicro(reading.valueMicro)} ${reading.unit}, ${reading.quality}, ` +
        `status ${reading.statusCode}, seq ${reading.seq}`,
      `held by batch ${row.batchId} at ${isoOf(row.heldAtMs)}, delivery ${row.deliveryId}, ` +
        `source ${row.sourceId}, key ${reading.idempotencyKey}`,
      ...row.findings.map((finding) => `  ${finding.detector}: ${finding.message}`),
      decision === null
        ? 'awaiting review: amisync anomalies release|reject <id> --note "..."'
        : `${decision.status} by ${decision.actor} at ${isoOf(decision.atMs)}` +
          (decision.resolvedBatchId === null ? '' : ` in batch ${decision.resolvedBatchId}`) +
          `: ${decision.note}`,
    ]);
  } finally {
    await store.close();
  }
}

export async function runAnomalyDecision(
  decision: 'release' | 'reject',
  id: string,
  options: AnomalyOptions,
): Promise<void> {
  const store = await openExistingStore(options, runtime.clock);
  try {
    const context = { store, clock: runtime.clock, actor: actorFor(options) };
    const note = options.note ?? '';
    if (decision === 'release') {
      const report = await releaseAnomaly(context, parseId(id), note);
      if (options.json === true) printJson(report);
      else {
        printLines([
          report.outcome === 'released'
            ? `anomaly ${id} released into the ledger as version ${report.version ?? '?'} ` +
              `(${formatValueMicro(report.valueMicro)}, batch ${report.batchId})`
            : `anomaly ${id} released; the ledger already held this reading ` +
              `(${report.idempotencyKey}), so nothing was added`,
        ]);
      }
      return;
    }
    const report = await rejectAnomaly(context, parseId(id), note);
    if (options.json === true) printJson(report);
    else printLines([`anomaly ${id} rejected; its interval stays out of the ledger`]);
  } finally {
    await store.close();
  }
}

export function backlogLines(backlog: AnomalyBacklog): string[] {
  return [
    `anomalies: ${backlog.held} held (${formatMilliWhAsKwh(backlog.heldEnergyMilliWh)} kWh ` +
      `kept from billing), ${backlog.released} released, ${backlog.rejected} rejected`,
    ...backlog.byDetector.map(
      (row) =>
        `  held by ${row.detector}: ${row.held} (${formatMilliWhAsKwh(row.heldEnergyMilliWh)} kWh)`,
    ),
  ];
}

export function addAnomaliesCommands(program: Command): void {
  const anomalies = program
    .command('anomalies')
    .description('review readings held in the anomaly ledger');
  withStore(anomalies.command('list'))
    .description('held and decided readings, oldest first')
    .option('--status <status>', `one of ${ANOMALY_STATUSES.join(', ')}`)
    .option('--meter <id>', 'only this meter')
    .option('--detector <name>', 'only holds with a finding of this detector')
    .option('--from <date>', 'interval start at or after this UTC date or instant')
    .option('--to <date>', 'interval start before this UTC date or instant')
    .option('--limit <n>', `rows per page (max ${LIST_PAGE_ROWS_MAX})`, '100')
    .option('--after <id>', 'page after this id')
    .action(action(async (opts: AnomalyOptions) => runAnomaliesList(opts)));
  withStore(anomalies.command('show <id>'))
    .description('one held reading: its findings, where it came from and any decision')
    .action(action(async (id: string, opts: AnomalyOptions) => runAnomaliesShow(id, opts)));
  for (const decision of ['release', 'reject'] as const) {
    withStore(anomalies.command(`${decision} <id>`))
      .description(
        decision === 'release'
          ? 'move the reading into the billing ledger as a new version (note required)'
          : 'keep the reading out of the ledger for good; its interval stays a gap (note required)',
      )
      .requiredOption('--note <text>', 'why, at least 10 characters ("field verified: ...")')
      .option('--actor <name>', 'who is acting (default: $AMISYNC_ACTOR or the login name)')
      .addHelpText(
        'after',
        `\nExample:\n  amisync anomalies ${decision} 12 --note "field verified: meter healthy"`,
      )
      .action(
        action(async (id: string, opts: AnomalyOptions) => runAnomalyDecision(decision, id, opts)),
      );
  }
}
