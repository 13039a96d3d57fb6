/**
 * `amisync report sla --period YYYY-MM --config F`: completeness and timeliness per vendor and
 * local day against the contract targets of the configuration file, as CSV, one self-contained
 * HTML page or JSON (docs/reports.md, "Vendor SLAs"). Each breach not alerted before raises the
 * `sla.breach` alert, once per source, day and target (unless --no-alerts).
 */
import { extname } from 'node:path';
import { Option, type Command } from 'commander';
import type { AlertRaiser } from '../../core/alert.js';
import { AmisyncError } from '../../core/errors.js';
import type { Store } from '../../core/store.js';
import type { SourceSla } from '../../report/sla-config.js';
import { alertSlaBreaches } from '../../report/sla-alerts.js';
import { slaCsv } from '../../report/sla-csv.js';
import { monthWindow } from '../../report/sla-days.js';
import { slaHtml } from '../../report/sla-html.js';
import { collectSlaReport, formatMilliPercent, type SlaReport } from '../../report/sla.js';
import { configuredSlas, type BuiltSource } from '../config/service-config.js';
import { action } from '../command-kit.js';
import {
  dictionaryFor,
  openExistingStore,
  openReadView,
  runtime,
  type GlobalOptions,
} from '../context.js';
import { printJson, printLines } from '../output.js';
import { slaReportJson } from '../views.js';
import { collect, requireOutFolder, writeWhole } from './discrepancies.js';
import { commandAlerts } from './run.js';

export const SLA_FORMATS = ['csv', 'html', 'json'] as const;
type SlaFormat = (typeof SLA_FORMATS)[number];

interface SlaOptions extends GlobalOptions {
  config?: string;
  period: string;
  source?: string[];
  format?: SlaFormat;
  out?: string;
  json?: boolean;
  alerts?: boolean;
}

const MONTH_PATTERN = /^\d{4}-(0[1-9]|1[0-2])$/;

/** The format asked for, else the one the output file's name ends with, else CSV. */
function formatOf(options: SlaOptions): SlaFormat {
  if (options.format !== undefined) return options.format;
  if (options.out === undefined) return options.json === true ? 'json' : 'csv';
  const extension = extname(options.out).toLowerCase();
  if (extension === '.html' || extension === '.htm') return 'html';
  return extension === '.json' ? 'json' : 'csv';
}

/** The sources of the file that have an SLA, or only those asked for (each must have one). */
export function slasOf(sources: readonly BuiltSource[], wanted: readonly string[]): SourceSla[] {
  const withSla = configuredSlas(sources);
  for (const id of wanted) {
    if (!withSla.some((sla) => sla.sourceId === id)) {
      throw new AmisyncError('USAGE', `--source ${id}: the configuration gives it no sla:`, {
        field: '--source',
        rule: 'has an sla',
        value: id,
      });
    }
  }
  if (withSla.length === 0) {
    throw new AmisyncError(
      'USAGE',
      'no source of the configuration has an sla: (see docs/config.md, "Vendor SLAs")',
    );
  }
  return wanted.length === 0 ? withSla : withSla.filter((sla) => wanted.includes(sla.sourceId));
}

function documentOf(report: SlaReport, format: SlaFormat): string {
  if (format === 'csv') return slaCsv(report);
  if (format === 'html') return slaHtml(report);
  return `${JSON.stringify(slaReportJson(report), null, 2)}\n`;
}

async function measure(
  store: Store,
  slas: readonly SourceSla[],
  window: ReturnType<typeof monthWindow>,
  alerts: AlertRaiser | null,
) {
  const report = await collectSlaReport(store, runtime.clock, { window, slas });
  const raised = alerts === null ? [] : await alertSlaBreaches(store, alerts, report);
  return { report, raised };
}

function summaryLines(report: SlaReport, raised: number, where: string): string[] {
  return [
    `${where}: ${report.label} in ${report.timeZone}`,
    ...report.sources.map((source) => {
      const worst = source.breaches[0];
      return (
        `  ${source.sourceId}: ${source.meters} meters, ${source.days.length} days, ` +
        `${source.breaches.length} breaches` +
        (worst === undefined
          ? ''
          : ` (first: ${worst.day} ${formatMilliPercent(worst.actualMilliPercent)} within ` +
            `${worst.within}, target ${worst.share})`)
      );
    }),
    `  ${raised} new sla.breach alert(s) raised`,
  ];
}

export async function runSlaReport(options: SlaOptions): Promise<void> {
  if (options.config === undefined) {
    throw new AmisyncError('USAGE', '--config FILE is required: the SLA targets are in it');
  }
  if (!MONTH_PATTERN.test(options.period)) {
    throw new AmisyncError('USAGE', '--period must be a month: YYYY-MM', {
      field: '--period',
      rule: 'YYYY-MM',
      value: options.period,
    });
  }
  const format = formatOf(options);
  if (options.out !== undefined) requireOutFolder(options.out);
  const alerting = commandAlerts(options);
  try {
    const slas = slasOf(alerting.sources, options.source ?? []);
    const timeZone = dictionaryFor(alerting.globals).timeZone ?? 'UTC';
    const window = monthWindow(options.period, timeZone);
    const raising = options.alerts !== false;
    const store = raising
      ? await openExistingStore(alerting.globals, runtime.clock)
      : await openReadView(alerting.globals, runtime.clock);
    let measured: Awaited<ReturnType<typeof measure>>;
    try {
      measured = await measure(store, slas, window, raising ? alerting.alerts : null);
    } finally {
      await store.close();
    }
    const document = documentOf(measured.report, format);
    if (options.out === undefined) {
      process.stdout.write(document);
      return;
    }
    writeWhole(options.out, document);
    if (options.json === true) {
      printJson({
        out: options.out,
        format,
        alertsRaised: measured.raised.length,
        ...slaReportJson(measured.report),
      });
    } else {
      printLines(
        summaryLines(measured.report, measured.raised.length, `wrote ${options.out} (${format})`),
      );
    }
  } finally {
    await alerting.close();
  }
}

export function addSlaReportCommand(report: Command): void {
  report
    .command('sla')
    .description('completeness and timeliness per vendor and local day against its SLA targets')
    .option('--config <file>', 'the service configuration, whose sources give sla: targets')
    .option(
      '--db <path>',
      "SQLite file or postgres:// URL (default: the file's database:, else ./amisync.db)",
    )
    .option(
      '--dictionary <path>',
      "data dictionary whose time zone the days are in (default: the file's)",
    )
    .requiredOption('--period <month>', 'the calendar month, YYYY-MM, in the dictionary time zone')
    .option('--source <id>', 'only this source (repeatable; each must have an sla:)', collect)
    .addOption(
      new Option(
        '--format <format>',
        'csv, html or json (default: from --out, else csv; json with --json and no --out)',
      ).choices([...SLA_FORMATS]),
    )
    .option('--out <file>', 'where to write the report (default: standard output)')
    .option('--no-alerts', 'raise no sla.breach alert and write nothing to the database')
    .option('--json', 'print the figures as one JSON document')
    .action(action(async (opts: SlaOptions) => runSlaReport(opts)));
}
