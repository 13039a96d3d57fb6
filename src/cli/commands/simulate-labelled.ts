/**
 * `amisync simulate labelled` and `amisync simulate score`: measure the anomaly detectors. The
 * first writes a labelled feed (a feed file, its labels, and a dictionary naming the feed's time
 * zone); after `amisync ingest`, the second scores the database's anomaly ledger against the
 * labels: precision and recall per detector code and the clean-data flag rate.
 */
import { closeSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { AmisyncError } from '../../core/errors.js';
import { LABELLED_FEED_READINGS_MAX, LABELS_FILE_BYTES_MAX } from '../../core/limits.js';
import {
  DEFAULT_LABELLED_START_DATE,
  DEFAULT_LABELLED_TIME_ZONE,
  DEFAULT_WARM_UP_DAYS,
  generateLabelledFeed,
  labelledFeedNdjson,
  labelsJson,
  type LabelledFeed,
} from '../../simulator/labelled-feed.js';
import {
  parseLabelsDocument,
  readFlaggedReadings,
  scoreLabelled,
  type LabelledScore,
} from '../../simulator/labelled-score.js';
import { dictionaryFor, openReadView, type GlobalOptions } from '../context.js';
import { handleError, printJson, printLines, table } from '../output.js';

interface LabelledFlags extends GlobalOptions {
  seed: string;
  meters: string;
  days: string;
  out: string;
  clean?: boolean;
  start: string;
  warmUpDays: string;
  anomalyDayRate: string;
  json?: boolean;
}

interface ScoreFlags extends GlobalOptions {
  labels: string;
  json?: boolean;
}

/** The most days one feed may span; the readings limit usually binds first. */
const LABELLED_DAYS_MAX = 366;
const SLOTS_PER_DAY = 96;
export const FEED_FILE = 'feed.ndjson';
export const LABELS_FILE = 'labels.json';
export const DICTIONARY_FILE = 'dictionary.json';

function integer(flag: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new AmisyncError('USAGE', `${flag} must be a whole number within ${min}..${max}`, {
      flag,
    });
  }
  return value;
}

function fraction(flag: string, text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < 0 || value > 1) {
    throw new AmisyncError('USAGE', `${flag} must be a fraction within 0..1`, { flag });
  }
  return value;
}

function localDate(text: string): string {
  const valid = /^\d{4}-\d{2}-\d{2}$/.test(text) && !Number.isNaN(Date.parse(`${text}T00:00:00Z`));
  if (!valid) throw new AmisyncError('USAGE', '--start must be a date, e.g. 2026-10-05');
  return text;
}

/** Writes text pieces to a file without holding them all. */
function writePieces(path: string, pieces: Iterable<string>): void {
  const fd = openSync(path, 'w');
  try {
    for (const piece of pieces) writeSync(fd, piece);
  } finally {
    closeSync(fd);
  }
}

function generate(flags: LabelledFlags): { feed: LabelledFeed; timeZone: string; own: boolean } {
  const meters = integer('--meters', flags.meters, 1, LABELLED_FEED_READINGS_MAX);
  const days = integer('--days', flags.days, 1, LABELLED_DAYS_MAX);
  if (meters * days * SLOTS_PER_DAY > LABELLED_FEED_READINGS_MAX) {
    throw new AmisyncError(
      'USAGE',
      `--meters x --days x 96 must be at most ${LABELLED_FEED_READINGS_MAX} readings`,
    );
  }
  const dictionary = dictionaryFor(flags);
  const timeZone = dictionary.timeZone ?? DEFAULT_LABELLED_TIME_ZONE;
  const feed = generateLabelledFeed({
    seed: integer('--seed', flags.seed, 0, Number.MAX_SAFE_INTEGER),
    meters,
    days,
    startDate: localDate(flags.start),
    timeZone,
    clean: flags.clean === true,
    statusBits: dictionary.statusBits,
    warmUpDays: integer('--warm-up-days', flags.warmUpDays, 0, LABELLED_DAYS_MAX),
    anomalyDayRate: fraction('--anomaly-day-rate', flags.anomalyDayRate),
  });
  return { feed, timeZone, own: dictionary.timeZone === null };
}

function runLabelled(flags: LabelledFlags): void {
  const { feed, timeZone, own } = generate(flags);
  const out = resolve(flags.out);
  mkdirSync(out, { recursive: true });
  const feedPath = join(out, FEED_FILE);
  const labelsPath = join(out, LABELS_FILE);
  writePieces(feedPath, labelledFeedNdjson(feed));
  writePieces(labelsPath, [labelsJson(feed.labels)]);
  // Day-based detectors read days in the dictionary's zone: without one the feed's zone is
  // written beside it, for `ingest --dictionary`.
  const dictionaryPath = own ? join(out, DICTIONARY_FILE) : null;
  if (dictionaryPath !== null) writePieces(dictionaryPath, [`${JSON.stringify({ timeZone })}\n`]);
  const byKind: Record<string, number> = {};
  for (const label of feed.labels.labels) byKind[label.kind] = (byKind[label.kind] ?? 0) + 1;
  const summary = {
    feed: feedPath,
    labels: labelsPath,
    dictionary: dictionaryPath,
    timeZone,
    readings: feed.labels.readings,
    labelled: feed.labels.labels.length,
    byKind,
    outages: feed.labels.outages.length,
  };
  if (flags.json === true) {
    printJson(summary);
    return;
  }
  const kinds = Object.entries(byKind).map(([kind, count]) => `${kind} ${count}`);
  const dictionaryFlag = dictionaryPath === null ? '' : ` --dictionary ${dictionaryPath}`;
  printLines([
    `wrote ${feed.labels.readings} readings to ${feedPath} (${timeZone})`,
    `labels: ${feed.labels.labels.length} (${kinds.join(', ') || 'none'}), ` +
      `outages: ${feed.labels.outages.length}, in ${labelsPath}`,
    `next: amisync ingest ${feedPath}${dictionaryFlag} --db DB, ` +
      `then amisync simulate score --labels ${labelsPath} --db DB`,
  ]);
}

async function runScore(flags: ScoreFlags): Promise<LabelledScore> {
  const path = resolve(flags.labels);
  let sizeBytes: number;
  try {
    sizeBytes = statSync(path).size;
  } catch {
    throw new AmisyncError('INPUT_NOT_FOUND', `no labels file at ${path}`);
  }
  if (sizeBytes > LABELS_FILE_BYTES_MAX) {
    throw new AmisyncError('USAGE', `${path} is larger than ${LABELS_FILE_BYTES_MAX} bytes`);
  }
  const labels = parseLabelsDocument(readFileSync(path, 'utf8'), path);
  const store = await openReadView(flags);
  try {
    return scoreLabelled(labels, await readFlaggedReadings(store));
  } finally {
    await store.close();
  }
}

function percent(rate: number | null): string {
  return rate === null ? '-' : `${(rate * 100).toFixed(1)}%`;
}

function printScore(score: LabelledScore): void {
  printLines([
    `readings: ${score.readings} (${score.labelledReadings} labelled, ` +
      `${score.unlabelledReadings} not)`,
    `clean-data flag rate: ${(score.cleanFlagRate * 100).toFixed(3)}% ` +
      `(${score.flaggedUnlabelled} of ${score.unlabelledReadings} unlabelled readings flagged; ` +
      `${score.flaggedOutageReadings} outage readings flagged)`,
    ...table([
      ['detector', 'flagged', 'on labels', 'precision', 'labels', 'caught', 'recall'],
      ...score.detectors.map((one) => [
        one.detector,
        String(one.flagged),
        String(one.onLabelled),
        percent(one.precision),
        String(one.expected),
        String(one.caught),
        percent(one.recall),
      ]),
    ]),
    ...table([
      ['kind', 'labels', 'caught by expected', 'caught by any'],
      ...score.kinds.map((kind) => [
        kind.kind,
        String(kind.labels),
        String(kind.caughtByExpected),
        String(kind.caughtByAny),
      ]),
    ]),
    ...(score.ignoredFlags === 0 ? [] : [`ignored: ${score.ignoredFlags} flags outside the feed`]),
  ]);
}

function action<F extends { json?: boolean }>(fn: (flags: F) => Promise<void> | void) {
  return async (flags: F): Promise<void> => {
    try {
      await fn(flags);
    } catch (error) {
      handleError(error, flags.json === true);
    }
  };
}

export function addSimulateLabelled(simulate: Command): void {
  simulate
    .command('labelled')
    .description('write a feed with labelled anomalies, to measure the detectors')
    .option('--seed <n>', 'seed of the feed, its outages and its anomalies', '1')
    .option('--meters <n>', 'meters in the feed', '24')
    .option('--days <n>', 'local days of 15-minute intervals', '35')
    .requiredOption('--out <dir>', `folder for ${FEED_FILE}, ${LABELS_FILE} (made if missing)`)
    .option('--clean', 'no injected anomaly and no label (outages stay)')
    .option('--start <date>', 'first local day', DEFAULT_LABELLED_START_DATE)
    .option(
      '--warm-up-days <n>',
      'history-based anomalies start on this day',
      String(DEFAULT_WARM_UP_DAYS),
    )
    .option('--anomaly-day-rate <r>', "chance a meter's day carries an anomaly", '0.5')
    .option('--dictionary <path>', 'data dictionary: its time zone and status bits are used')
    .option('--json', 'print one JSON document')
    .action(action((flags: LabelledFlags) => runLabelled(flags)));
}

export function addSimulateScore(simulate: Command): void {
  simulate
    .command('score')
    .description("score the anomaly ledger against a labelled feed's labels")
    .requiredOption('--labels <file>', `the ${LABELS_FILE} of simulate labelled`)
    .option('--db <path>', 'SQLite file or postgres:// URL (default: $AMISYNC_DB or ./amisync.db)')
    .option('--json', 'print one JSON document')
    .action(
      action(async (flags: ScoreFlags) => {
        const score = await runScore(flags);
        if (flags.json === true) printJson(score);
        else printScore(score);
      }),
    );
}
