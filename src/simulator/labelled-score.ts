/**
 * Scores the anomaly detectors against a labelled feed: what they flagged (the anomaly ledger,
 * held and decided rows alike) beside what was injected (the labels file).
 *
 * Per detector code:
 * - precision: of the feed's readings it flagged, the share inside some label (any kind: a
 *   z-score flag on a spike is right even though the label expects `spike` first);
 * - recall: of the labels that list it as expected, the share where it flagged at least one
 *   reading of the label's span (a high day is caught when any of its readings is flagged).
 * And the clean-data flag rate: readings with no label that any detector flagged, over readings
 * with no label (outage readings count as unlabelled: no detector should flag them).
 *
 * A flag is matched by (meter, channel, interval start); flags of meters or times outside the
 * feed are counted as ignored, so a database holding other data can still be scored.
 */
import { AmisyncError } from '../core/errors.js';
import { LABELLED_SCORE_FLAGS_MAX } from '../core/limits.js';
import type { AnomalyFilter, AnomalyRow } from '../core/store.js';
import {
  LABEL_KINDS,
  LABELS_FORMAT,
  type LabelKind,
  type LabelsDocument,
} from './labelled-feed.js';

/** One reading of the anomaly ledger, with the distinct detector codes that flagged it. */
export interface FlaggedReading {
  meterId: string;
  channel: string;
  intervalStartMs: number;
  detectors: readonly string[];
}

export interface DetectorScore {
  detector: string;
  /** Distinct readings of the feed this detector flagged. */
  flagged: number;
  /** Of those, readings inside a label. */
  onLabelled: number;
  /** onLabelled / flagged; null when it flagged nothing. */
  precision: number | null;
  /** Labels that list this detector as expected. */
  expected: number;
  /** Of those, labels with at least one reading this detector flagged. */
  caught: number;
  /** caught / expected; null when no label expects it. */
  recall: number | null;
}

export interface KindScore {
  kind: LabelKind;
  labels: number;
  /** Labels where one of its expected detectors flagged a reading of its span. */
  caughtByExpected: number;
  /** Labels where any detector flagged a reading of its span. */
  caughtByAny: number;
}

export interface LabelledScore {
  /** Readings in the feed, and how many of them lie inside a label (gaps have none). */
  readings: number;
  labelledReadings: number;
  unlabelledReadings: number;
  /** Unlabelled readings that some detector flagged, and their share of the unlabelled ones. */
  flaggedUnlabelled: number;
  cleanFlagRate: number;
  /** Outage readings (zeros under the outage bit) that some detector flagged. */
  flaggedOutageReadings: number;
  /** Anomaly rows of meters or times outside the feed. */
  ignoredFlags: number;
  /** Every detector code that is expected by a label or flagged a reading, sorted. */
  detectors: DetectorScore[];
  /** Kinds that have labels, in LABEL_KINDS order. */
  kinds: KindScore[];
}

/** The anomaly ledger as the scorer reads it: the Store's listing, page by page. */
export interface AnomalyListing {
  listAnomalies(filter: AnomalyFilter): Promise<AnomalyRow[]>;
}

const INTERVAL_MS_PER_SECOND = 1000;
const PAGE_ROWS = 1000;

interface Span {
  meterId: string;
  channel: string;
  startMs: number;
  intervals: number;
}

function readingKey(meterId: string, channel: string, intervalStartMs: number): string {
  return `${meterId}|${channel}|${intervalStartMs}`;
}

function spanKeys(span: Span, intervalMs: number): string[] {
  return Array.from({ length: span.intervals }, (_, at) =>
    readingKey(span.meterId, span.channel, span.startMs + at * intervalMs),
  );
}

function spanOf(item: {
  meterId: string;
  channel: string;
  intervalStartUtc: string;
  intervals: number;
}): Span {
  return { ...item, startMs: Date.parse(item.intervalStartUtc) };
}

/** Flags per reading key, merged when one reading has several rows (each detector once). */
function indexFlags(
  labels: LabelsDocument,
  flags: Iterable<FlaggedReading>,
): { byReading: Map<string, Set<string>>; ignored: number } {
  const meters = new Set(labels.meters.map((meter) => meter.meterId));
  const fromMs = Date.parse(labels.fromUtc);
  const toMs = Date.parse(labels.toUtc);
  const byReading = new Map<string, Set<string>>();
  let ignored = 0;
  for (const flag of flags) {
    const inside = flag.intervalStartMs >= fromMs && flag.intervalStartMs < toMs;
    if (!inside || !meters.has(flag.meterId)) {
      ignored += 1;
      continue;
    }
    const key = readingKey(flag.meterId, flag.channel, flag.intervalStartMs);
    const detectors = byReading.get(key) ?? new Set<string>();
    for (const detector of flag.detectors) detectors.add(detector);
    byReading.set(key, detectors);
  }
  return { byReading, ignored };
}

/** Scores the flags against the labels; a pure function of its inputs. */
export function scoreLabelled(
  labels: LabelsDocument,
  flags: Iterable<FlaggedReading>,
): LabelledScore {
  const intervalMs = labels.intervalSeconds * INTERVAL_MS_PER_SECOND;
  const { byReading, ignored } = indexFlags(labels, flags);
  const labelledKeys = new Set<string>();
  for (const label of labels.labels) {
    if (label.kind === 'gap') continue;
    for (const key of spanKeys(spanOf(label), intervalMs)) labelledKeys.add(key);
  }
  const detectors = new Map<string, DetectorScore>();
  const scoreOf = (detector: string): DetectorScore => {
    const found = detectors.get(detector) ?? emptyScore(detector);
    detectors.set(detector, found);
    return found;
  };
  let flaggedUnlabelled = 0;
  for (const [key, codes] of byReading) {
    const labelled = labelledKeys.has(key);
    if (!labelled) flaggedUnlabelled += 1;
    for (const code of codes) {
      const score = scoreOf(code);
      score.flagged += 1;
      if (labelled) score.onLabelled += 1;
    }
  }
  const kinds = scoreLabels(labels, byReading, intervalMs, scoreOf);
  const unlabelledReadings = labels.readings - labelledKeys.size;
  return {
    readings: labels.readings,
    labelledReadings: labelledKeys.size,
    unlabelledReadings,
    flaggedUnlabelled,
    cleanFlagRate: unlabelledReadings === 0 ? 0 : flaggedUnlabelled / unlabelledReadings,
    flaggedOutageReadings: countFlaggedOutages(labels, byReading, intervalMs),
    ignoredFlags: ignored,
    detectors: [...detectors.values()]
      .map(withRates)
      .sort((a, b) => (a.detector < b.detector ? -1 : a.detector > b.detector ? 1 : 0)),
    kinds,
  };
}

function emptyScore(detector: string): DetectorScore {
  return {
    detector,
    flagged: 0,
    onLabelled: 0,
    precision: null,
    expected: 0,
    caught: 0,
    recall: null,
  };
}

function withRates(score: DetectorScore): DetectorScore {
  return {
    ...score,
    precision: score.flagged === 0 ? null : score.onLabelled / score.flagged,
    recall: score.expected === 0 ? null : score.caught / score.expected,
  };
}

/** Recall per detector (into scoreOf) and per kind, label by label. */
function scoreLabels(
  labels: LabelsDocument,
  byReading: ReadonlyMap<string, ReadonlySet<string>>,
  intervalMs: number,
  scoreOf: (detector: string) => DetectorScore,
): KindScore[] {
  const kinds = new Map<LabelKind, KindScore>();
  for (const label of labels.labels) {
    const seen = new Set<string>();
    for (const key of spanKeys(spanOf(label), intervalMs)) {
      for (const code of byReading.get(key) ?? []) seen.add(code);
    }
    const kind = kinds.get(label.kind) ?? {
      kind: label.kind,
      labels: 0,
      caughtByExpected: 0,
      caughtByAny: 0,
    };
    kinds.set(label.kind, kind);
    kind.labels += 1;
    if (seen.size > 0) kind.caughtByAny += 1;
    if (label.expectedDetectors.some((code) => seen.has(code))) kind.caughtByExpected += 1;
    for (const code of label.expectedDetectors) {
      const score = scoreOf(code);
      score.expected += 1;
      if (seen.has(code)) score.caught += 1;
    }
  }
  return LABEL_KINDS.flatMap((kind) => {
    const score = kinds.get(kind);
    return score === undefined ? [] : [score];
  });
}

function countFlaggedOutages(
  labels: LabelsDocument,
  byReading: ReadonlyMap<string, ReadonlySet<string>>,
  intervalMs: number,
): number {
  let flagged = 0;
  for (const outage of labels.outages) {
    for (const key of spanKeys(spanOf(outage), intervalMs)) if (byReading.has(key)) flagged += 1;
  }
  return flagged;
}

/**
 * Every row of the anomaly ledger (held, released, rejected) as flagged readings, read a page at
 * a time (`pageRows` each, which tests make small). More than LABELLED_SCORE_FLAGS_MAX rows is
 * a USAGE error: score a smaller database.
 */
export async function readFlaggedReadings(
  listing: AnomalyListing,
  pageRows = PAGE_ROWS,
): Promise<FlaggedReading[]> {
  const flags: FlaggedReading[] = [];
  let afterId: number | undefined;
  for (;;) {
    const page = await listing.listAnomalies({
      limit: pageRows,
      ...(afterId === undefined ? {} : { afterId }),
    });
    for (const row of page) flags.push(flaggedReadingOf(row));
    if (flags.length > LABELLED_SCORE_FLAGS_MAX) {
      throw new AmisyncError(
        'USAGE',
        `the anomaly ledger holds more than ${LABELLED_SCORE_FLAGS_MAX} rows; score a smaller run`,
      );
    }
    const last = page[page.length - 1];
    if (last === undefined || page.length < pageRows) return flags;
    afterId = last.id;
  }
}

function flaggedReadingOf(row: AnomalyRow): FlaggedReading {
  return {
    meterId: row.reading.meterId,
    channel: row.reading.channel,
    intervalStartMs: row.reading.intervalStartMs,
    detectors: [...new Set(row.findings.map((finding) => finding.detector))],
  };
}

/**
 * A labels file read back: checked for the fields the scorer uses, so a wrong file is a USAGE
 * error naming what is missing rather than a score of nonsense.
 */
export function parseLabelsDocument(text: string, where: string): LabelsDocument {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new AmisyncError('USAGE', `${where} is not JSON`);
  }
  const document = value as Partial<LabelsDocument> | null;
  const problems = [
    document?.format === LABELS_FORMAT ? null : `format is not ${LABELS_FORMAT}`,
    Number.isInteger(document?.readings) ? null : 'readings is not an integer',
    Number.isInteger(document?.intervalSeconds) ? null : 'intervalSeconds is not an integer',
    Number.isFinite(Date.parse(String(document?.fromUtc))) ? null : 'fromUtc is not a time',
    Number.isFinite(Date.parse(String(document?.toUtc))) ? null : 'toUtc is not a time',
    Array.isArray(document?.meters) ? null : 'meters is not a list',
    Array.isArray(document?.labels) ? null : 'labels is not a list',
    Array.isArray(document?.outages) ? null : 'outages is not a list',
  ].filter((problem): problem is string => problem !== null);
  if (problems.length > 0) {
    throw new AmisyncError('USAGE', `${where} is not a labels file: ${problems.join('; ')}`);
  }
  return document as LabelsDocument;
}
