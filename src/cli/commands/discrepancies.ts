/**
 * `amisync report discrepancies`: the month's anomaly ledger and estimates for finance, written
 * as a CSV table or one self-contained HTML page (docs/reports.md).
 */
import { existsSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { formatMilliWhAsKwh } from '../../core/decimal.js';
import { AmisyncError } from '../../core/errors.js';
import { REPORT_TOP_METERS_MAX } from '../../core/limits.js';
import type { HoldTotal } from '../../core/store.js';
import { loadChartAssets } from '../../report/chart-assets.js';
import {
  collectDiscrepancyReport,
  TOP_METERS_DEFAULT,
  type DiscrepancyReport,
} from '../../report/discrepancies.js';
import { discrepancyCsv } from '../../report/discrepancy-csv.js';
import { discrepancyHtml } from '../../report/discrepancy-html.js';
import { localIso, monthPeriod } from '../../report/period.js';
import { dictionaryFor, openReadView, runtime, type GlobalOptions } from '../context.js';
import { handleError, printJson, printLines } from '../output.js';

export const REPORT_FORMATS = ['csv', 'html'] as const;
type ReportFormat = (typeof REPORT_FORMATS)[number];

interface DiscrepancyOptions extends GlobalOptions {
  json?: boolean;
  period: string;
  source?: string[];
  format?: ReportFormat;
  out: string;
  top?: string;
}

function parseTop(text: string | undefined): number {
  if (text === undefined) return TOP_METERS_DEFAULT;
  const top = Number(text);
  if (!/^\d+$/.test(text) || top > REPORT_TOP_METERS_MAX) {
    throw new AmisyncError('USAGE', `--top must be 0..${REPORT_TOP_METERS_MAX}`);
  }
  return top;
}

/** The format asked for, else the one the output file's name ends with, else CSV. */
function formatOf(options: DiscrepancyOptions): ReportFormat {
  if (options.format !== undefined) return options.format;
  const extension = extname(options.out).toLowerCase();
  return extension === '.html' || extension === '.htm' ? 'html' : 'csv';
}

function totalJson(total: HoldTotal) {
  return { items: total.items, kwh: formatMilliWhAsKwh(total.energyMilliWh) };
}

/** What `--json` prints: the figures with kWh as exact text, and where the report went. */
export function reportJson(report: DiscrepancyReport, out: string, format: ReportFormat) {
  const { figures, period } = report;
  return {
    out,
    format,
    period: {
      ...period,
      from: localIso(period.fromMs, period.timeZone),
      to: localIso(period.toMs, period.timeZone),
    },
    sourceIds: report.sourceIds,
    generatedAt: new Date(report.generatedAtMs).toISOString(),
    held: totalJson(figures.byStatus.held),
    released: totalJson(figures.byStatus.released),
    rejected: totalJson(figures.byStatus.rejected),
    estimated: totalJson(figures.estimated),
    metersWithOpen: figures.metersWithOpen,
    byDetector: figures.byDetector.map((row) => ({
      detector: row.detector,
      held: totalJson(row.held),
      released: totalJson(row.released),
      rejected: totalJson(row.rejected),
    })),
    ageing: report.ageing.map((bucket) => ({
      label: bucket.label,
      minDays: bucket.minDays,
      maxDays: bucket.maxDays,
      ...totalJson(bucket),
    })),
    topMeters: figures.topMeters.map((meter) => ({
      meterId: meter.meterId,
      atStakeKwh: formatMilliWhAsKwh(meter.atStakeMilliWh),
      held: totalJson(meter.held),
      released: totalJson(meter.released),
      rejected: totalJson(meter.rejected),
    })),
    charts: report.charts.map((chart) => ({
      meterId: chart.meterId,
      channel: chart.channel,
      readings: chart.series.length,
      flags: chart.flags.length,
      seriesTruncated: chart.seriesTruncated,
      flagsTruncated: chart.flagsTruncated,
    })),
  };
}

/**
 * Writes beside the target first, so that a reader never opens half a report; a file that cannot
 * be written is the operator's to fix (a USAGE error naming it), and leaves nothing behind.
 */
export function writeWhole(path: string, text: string): void {
  const partial = `${path}.partial-${process.pid}`;
  try {
    writeFileSync(partial, text, 'utf8');
    renameSync(partial, path);
  } catch (error) {
    rmSync(partial, { force: true });
    throw new AmisyncError('USAGE', `cannot write --out ${path}: ${(error as Error).message}`);
  }
}

/** Checked before the store is read, so that a mistyped folder fails at once. */
export function requireOutFolder(path: string): void {
  const folder = dirname(resolve(path));
  if (!existsSync(folder) || !statSync(folder).isDirectory()) {
    throw new AmisyncError('USAGE', `--out ${path}: the folder ${folder} does not exist`);
  }
}

export async function runDiscrepancyReport(options: DiscrepancyOptions): Promise<void> {
  const timeZone = dictionaryFor(options).timeZone ?? 'UTC';
  const period = monthPeriod(options.period, timeZone);
  if (period === null) throw new AmisyncError('USAGE', '--period must be a month: YYYY-MM');
  const format = formatOf(options);
  const top = parseTop(options.top);
  requireOutFolder(options.out);
  const store = await openReadView(options, runtime.clock);
  let report: DiscrepancyReport;
  try {
    report = await collectDiscrepancyReport(store, runtime.clock, {
      period,
      sourceIds: options.source ?? [],
      topMeters: top,
    });
  } finally {
    await store.close();
  }
  const text =
    format === 'csv' ? discrepancyCsv(report) : discrepancyHtml(report, loadChartAssets());
  writeWhole(options.out, text);
  if (options.json === true) {
    printJson(reportJson(report, options.out, format));
    return;
  }
  const { figures } = report;
  printLines([
    `wrote ${options.out} (${format}): ${period.month} in ${timeZone}`,
    `  held ${figures.byStatus.held.items} (${formatMilliWhAsKwh(figures.byStatus.held.energyMilliWh)} kWh), ` +
      `released ${figures.byStatus.released.items} (${formatMilliWhAsKwh(figures.byStatus.released.energyMilliWh)} kWh), ` +
      `rejected ${figures.byStatus.rejected.items} (${formatMilliWhAsKwh(figures.byStatus.rejected.energyMilliWh)} kWh), ` +
      `estimated ${figures.estimated.items} (${formatMilliWhAsKwh(figures.estimated.energyMilliWh)} kWh)`,
    `  ${figures.metersWithOpen} meters with open anomalies; ${report.charts.length} charted`,
  ]);
}

export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function addReportCommands(program: Command): Command {
  const report = program.command('report').description('reports for finance and auditors');
  report
    .command('discrepancies')
    .description(
      'held, released, rejected and estimated kWh of a month, ageing, top meters (CSV or HTML)',
    )
    .option('--db <path>', 'SQLite file or postgres:// URL (default: $AMISYNC_DB or ./amisync.db)')
    .option(
      '--dictionary <path>',
      'data dictionary JSON, whose time zone the month is in (default: built-in, UTC)',
    )
    .requiredOption('--period <month>', 'the calendar month, YYYY-MM, in the dictionary time zone')
    .option('--source <id>', 'only readings of this source (repeatable)', collect)
    .addOption(
      new Option('--format <format>', 'csv or html (default: from --out, else csv)').choices([
        ...REPORT_FORMATS,
      ]),
    )
    .requiredOption('--out <file>', 'where to write the report')
    .option(
      '--top <n>',
      `meters ranked and charted (0..${REPORT_TOP_METERS_MAX})`,
      String(TOP_METERS_DEFAULT),
    )
    .option('--json', 'print the figures as one JSON document')
    .addHelpText(
      'after',
      '\nExample:\n  amisync report discrepancies --period 2026-10 --format html --out 2026-10.html',
    )
    .action(async (opts: DiscrepancyOptions, command: Command) => {
      try {
        await runDiscrepancyReport(opts);
      } catch (error) {
        handleError(error, command.opts<DiscrepancyOptions>().json === true);
      }
    });
  return report;
}
