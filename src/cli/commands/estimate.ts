/**
 * `amisync gaps list` and `amisync estimate`: the intervals a period lacks per stream (missing, or
 * rejected by an operator in the anomaly ledger), and the estimates that fill them, written as
 * audited batches that a later actual replaces. docs/estimation.md describes both.
 */
import { startProgress } from '../progress.js';
import type { Command } from 'commander';
import { formatMilliWhAsKwh } from '../../core/decimal.js';
import { AmisyncError } from '../../core/errors.js';
import {
  ESTIMATE_SHORT_GAP_MINUTES_DEFAULT,
  ESTIMATE_SHORT_GAP_MINUTES_MAX,
} from '../../core/limits.js';
import { WallClock } from '../../detect/estimate.js';
import {
  estimateGaps,
  listGaps,
  type EstimateReport,
  type GapQuery,
  type GapReport,
} from '../../pipeline/estimate.js';
import {
  actorFor,
  dictionaryFor,
  openExistingStore,
  openReadView,
  runtime,
  type GlobalOptions,
} from '../context.js';
import { printJson, printLines, table } from '../output.js';
import { action } from '../command-kit.js';

interface GapOptions extends GlobalOptions {
  json?: boolean;
  from?: string;
  to?: string;
  meter?: string[];
  note?: string;
  shortGapMinutes?: string;
  timeZone?: string;
}

/** A UTC date (`2026-10-01`) or instant (`2026-10-01T06:00:00Z`), as epoch milliseconds. */
function parseInstant(flag: string, text: string | undefined): number {
  const ms =
    text !== undefined && /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2})?Z)?$/.test(text)
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

function queryOf(options: GapOptions): GapQuery {
  const meters = options.meter ?? [];
  return {
    fromMs: parseInstant('--from', options.from),
    toMs: parseInstant('--to', options.to),
    meterIds: meters.length === 0 ? null : meters,
  };
}

function isoOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19) + 'Z';
}

export function gapsJson(report: GapReport) {
  return {
    from: isoOf(report.fromMs),
    to: isoOf(report.toMs),
    intervals: report.intervals,
    streams: report.streams.map((stream) => ({
      meterId: stream.meterId,
      channel: stream.channel,
      intervalSeconds: stream.intervalSeconds,
      runs: stream.runs.map((run) => ({
        from: isoOf(run.fromMs),
        to: isoOf(run.toMs),
        intervals: run.intervals,
        why: run.why,
      })),
    })),
  };
}

export async function runGapsList(options: GapOptions): Promise<void> {
  const query = queryOf(options);
  const store = await openReadView(options, runtime.clock);
  try {
    const report = await listGaps(store, runtime.clock, query);
    if (options.json === true) {
      printJson(gapsJson(report));
      return;
    }
    const rows = report.streams.flatMap((stream) =>
      stream.runs.map((run) => [
        `${stream.meterId}/${stream.channel}`,
        isoOf(run.fromMs),
        isoOf(run.toMs),
        String(run.intervals),
        run.why,
      ]),
    );
    printLines([
      ...(rows.length === 0 ? [] : table([['stream', 'from', 'to', 'intervals', 'why'], ...rows])),
      `${report.intervals.missing} missing and ${report.intervals.rejected} rejected intervals ` +
        `from ${isoOf(report.fromMs)} to ${isoOf(report.toMs)}`,
    ]);
  } finally {
    await store.close();
  }
}

function shortGapMinutesOf(text: string | undefined): number {
  if (text === undefined) return ESTIMATE_SHORT_GAP_MINUTES_DEFAULT;
  const minutes = Number(text);
  if (!/^\d+$/.test(text) || minutes < 0 || minutes > ESTIMATE_SHORT_GAP_MINUTES_MAX) {
    throw new AmisyncError(
      'USAGE',
      `--short-gap-minutes must be a whole number 0..${ESTIMATE_SHORT_GAP_MINUTES_MAX}`,
    );
  }
  return minutes;
}

function timeZoneOf(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  try {
    new WallClock(text).at(0);
  } catch {
    throw new AmisyncError('USAGE', `--time-zone ${text} is not an IANA time zone`);
  }
  return text;
}

export function estimateJson(report: EstimateReport) {
  return {
    ...report,
    from: isoOf(report.fromMs),
    to: isoOf(report.toMs),
    estimatedKwh: formatMilliWhAsKwh(report.estimatedEnergyMilliWh),
    skipped: report.skipped.map((hole) => ({
      ...hole,
      from: isoOf(hole.fromMs),
      to: isoOf(hole.toMs),
    })),
  };
}

function estimateLines(report: EstimateReport): string[] {
  const batches = report.batches.map((batch) => batch.batchId).join(', ');
  return [
    `${report.estimated} intervals estimated (${report.interpolated} by interpolation, ` +
      `${report.likeDay} by like days), ${formatMilliWhAsKwh(report.estimatedEnergyMilliWh)} kWh` +
      (batches === '' ? '' : `, batch ${batches}`),
    `like days in ${report.timeZone}; interpolation for holes up to ${report.shortGapMinutes} minutes`,
    `register advance: ${report.registerAdvance}`,
    ...(report.filledMeanwhile === 0
      ? []
      : [`${report.filledMeanwhile} intervals gained a value meanwhile and were left alone`]),
    ...report.skipped.map(
      (hole) =>
        `not estimated: ${hole.meterId}/${hole.channel} ${isoOf(hole.fromMs)} to ` +
        `${isoOf(hole.toMs)}: ${hole.reason}`,
    ),
  ];
}

export async function runEstimate(options: GapOptions): Promise<void> {
  const query = queryOf(options);
  const shortGapMinutes = shortGapMinutesOf(options.shortGapMinutes);
  const timeZone = timeZoneOf(options.timeZone);
  const note = options.note?.trim() ?? '';
  const dictionary = dictionaryFor(options);
  const store = await openExistingStore(options, runtime.clock);
  const progress = startProgress({
    label: 'estimate',
    total: 0,
    unit: 'readings',
    json: options.json === true,
  });
  try {
    const context = { store, clock: runtime.clock, dictionary, actor: actorFor(options) };
    const report = await estimateGaps(context, query, note === '' ? null : note, {
      shortGapMinutes,
      ...(timeZone === undefined ? {} : { timeZone }),
      onProgress: (done, total) => progress.update(done, total),
    });
    progress.stop();
    if (options.json === true) printJson(estimateJson(report));
    else printLines(estimateLines(report));
  } finally {
    progress.stop();
    await store.close();
  }
}

function withPeriod(command: Command): Command {
  return command
    .option('--db <path>', 'SQLite file or postgres:// URL (default: $AMISYNC_DB or ./amisync.db)')
    .option('--json', 'print one JSON document')
    .requiredOption('--from <date>', 'interval starts at or after this UTC date or instant')
    .requiredOption('--to <date>', 'interval starts before this UTC date or instant')
    .option('--meter <id...>', 'only these meters');
}

export function addEstimateCommands(program: Command): void {
  const gaps = program.command('gaps').description('intervals the ledger lacks, per stream');
  withPeriod(gaps.command('list'))
    .description('missing and rejected intervals per stream and period, as runs')
    .action(action(async (opts: GapOptions) => runGapsList(opts)));
  withPeriod(program.command('estimate'))
    .description('fill the gaps of a period with marked, audited estimates')
    .option(
      '--dictionary <path>',
      'data dictionary JSON (default: $AMISYNC_DICTIONARY or built-in)',
    )
    .requiredOption('--actor <name>', 'who is estimating (recorded in the audit entry)')
    .option('--note <text>', 'why (recorded in the audit entry)')
    .option(
      '--short-gap-minutes <n>',
      'holes up to this long are interpolated; longer ones take like days',
      String(ESTIMATE_SHORT_GAP_MINUTES_DEFAULT),
    )
    .option('--time-zone <zone>', "like days' zone (default: the dictionary's, else UTC)")
    .addHelpText(
      'after',
      '\nExample:\n  amisync estimate --from 2026-10-01 --to 2026-11-01 --actor billing-analyst ' +
        '--note "October close"',
    )
    .action(action(async (opts: GapOptions) => runEstimate(opts)));
}
