/**
 * Gap listing and estimation over the ledger: reads each stream's current values around a period
 * and the anomaly ledger's decisions in it, finds the gaps (detect/estimate.ts decides the rules),
 * and writes estimates as one audited batch per BATCH_READINGS_MAX readings through the normal
 * commit path, so identity's revision rule later lets an actual replace each of them.
 *
 * An estimate's key uses ESTIMATE_SEQ, a sequence number no feed can send (feeds' seq is 0 or
 * more), so it never shares a key with the actual that later replaces it: that actual is a
 * revision, never a conflict (docs/idempotency-key.md, docs/estimation.md).
 */
import type { Clock } from '../core/clock.js';
import { AmisyncError } from '../core/errors.js';
import { idempotencyKey } from '../core/identity.js';
import {
  BATCH_READINGS_MAX,
  ESTIMATE_LIKE_DAY_SEARCH_DAYS,
  ESTIMATE_LIKE_DAYS,
  ESTIMATE_PERIOD_DAYS_MAX,
  ESTIMATE_SHORT_GAP_MINUTES_DEFAULT,
  ESTIMATE_SPAN_ROWS_MAX,
  LIST_PAGE_ROWS_MAX,
} from '../core/limits.js';
import type { Reading } from '../core/reading.js';
import type { AnomalyStatus, LedgerRow, Store, StoreTransaction } from '../core/store.js';
import {
  estimateHole,
  findGapRuns,
  holesOf,
  slotAtOrAfter,
  streamGrid,
  WallClock,
  WallClockValues,
  type Estimate,
  type EstimateSettings,
  type GapRun,
  type Hole,
  type StreamGrid,
  type StreamPoint,
} from '../detect/estimate.js';
import type { DataDictionary } from '../dictionary/dictionary.js';
import { commitBatchIn, type BatchInput } from './commit.js';
import { intervalKey, streamKey } from './identify.js';

const MS_PER_DAY = 86_400_000;
const MS_PER_MINUTE = 60_000;

/**
 * The sequence number of every estimate amisync writes. Feeds' sequence numbers are 0 or more
 * (the validator and every typed format refuse a negative one), so an estimate's key
 * `v1|meter|channel|start|-1` can never be a feed reading's key.
 */
export const ESTIMATE_SEQ = -1;
/** The source and format an estimate batch names: no feed, amisync itself. */
export const ESTIMATE_SOURCE_ID = 'amisync-estimate';

export interface GapQuery {
  /** Interval starts at or after `fromMs` and before `toMs`. */
  fromMs: number;
  toMs: number;
  /** Only these meters; every meter when null. */
  meterIds: readonly string[] | null;
}

export interface StreamGaps {
  meterId: string;
  channel: string;
  intervalSeconds: number;
  runs: GapRun[];
}

export interface GapReport {
  fromMs: number;
  /** The period's end as used: never past the end of the last interval that has ended. */
  toMs: number;
  streams: StreamGaps[];
  intervals: { missing: number; rejected: number };
}

/** One stream's view: its current values in the window and what was decided in the period. */
interface StreamView {
  meterId: string;
  channel: string;
  /** Current values in interval order, of this stream, from the like-day window. */
  rows: LedgerRow[];
  grid: StreamGrid;
  runs: GapRun[];
}

export interface EstimateOptions {
  /** Holes at most this long with valid values on both sides are interpolated. */
  shortGapMinutes?: number;
  /** The utility's zone for weekdays and wall-clock times; the dictionary's, else UTC. */
  timeZone?: string;
  /** Told after each written batch how many planned estimates are done, of how many. */
  onProgress?: (done: number, total: number) => void;
}

export interface EstimateContext {
  store: Store;
  clock: Clock;
  dictionary: DataDictionary;
  actor: string;
}

export interface SkippedHole {
  meterId: string;
  channel: string;
  fromMs: number;
  toMs: number;
  reason: string;
}

export interface EstimateReport {
  fromMs: number;
  toMs: number;
  timeZone: string;
  shortGapMinutes: number;
  /** Readings written, by method, and their energy (kWh channels) in milliwatt-hours. */
  estimated: number;
  interpolated: number;
  likeDay: number;
  estimatedEnergyMilliWh: bigint;
  /** Intervals that gained a value between the read and the write: left alone. */
  filledMeanwhile: number;
  skipped: SkippedHole[];
  batches: { batchId: number; auditSeq: number; readings: number }[];
  /** Why no estimate was scaled to a register advance. */
  registerAdvance: string;
}

export const REGISTER_ADVANCE_NOTE =
  'not applied: the ledger holds no register reads yet (register readings are quarantined), so ' +
  'estimates are not scaled to a register advance';

/** Checks a period and clamps its end to the last interval that has ended. */
function checkedPeriod(query: GapQuery, nowMs: number): { fromMs: number; toMs: number } {
  if (!(query.fromMs < query.toMs)) {
    throw new AmisyncError('USAGE', '--from must be before --to');
  }
  if (query.toMs - query.fromMs > ESTIMATE_PERIOD_DAYS_MAX * MS_PER_DAY) {
    throw new AmisyncError(
      'USAGE',
      `a period covers at most ${ESTIMATE_PERIOD_DAYS_MAX} days; run it in parts`,
    );
  }
  return { fromMs: query.fromMs, toMs: Math.min(query.toMs, nowMs) };
}

/** Current values of the window, grouped by stream, each in interval order. */
async function readStreams(
  store: Store,
  span: { fromMs: number; toMs: number },
  meterIds: readonly string[] | null,
): Promise<Map<string, LedgerRow[]>> {
  const streams = new Map<string, LedgerRow[]>();
  let rowCount = 0;
  for await (const page of store.iterateCurrentLedgerSpan({ ...span, meterIds })) {
    rowCount += page.length;
    if (rowCount > ESTIMATE_SPAN_ROWS_MAX) {
      throw new AmisyncError(
        'USAGE',
        `the period and its like-day search hold more than ${ESTIMATE_SPAN_ROWS_MAX} ledger ` +
          'rows; name fewer meters (--meter) or a shorter period',
      );
    }
    for (const row of page) {
      const key = streamKey(row);
      const rows = streams.get(key);
      if (rows === undefined) streams.set(key, [row]);
      else rows.push(row);
    }
  }
  return streams;
}

/** Interval starts, per stream, of anomaly holds in the period with this status. */
async function anomalyStarts(
  store: Store,
  status: AnomalyStatus,
  period: { fromMs: number; toMs: number },
  meterIds: readonly string[] | null,
): Promise<Map<string, Set<number>>> {
  const byStream = new Map<string, Set<number>>();
  const wanted = meterIds === null ? null : new Set(meterIds);
  let afterId: number | undefined;
  for (;;) {
    const page = await store.listAnomalies({
      status,
      ...period,
      limit: LIST_PAGE_ROWS_MAX,
      ...(afterId === undefined ? {} : { afterId }),
    });
    for (const row of page) {
      if (wanted !== null && !wanted.has(row.reading.meterId)) continue;
      const key = streamKey(row.reading);
      const starts = byStream.get(key) ?? new Set<number>();
      starts.add(row.reading.intervalStartMs);
      byStream.set(key, starts);
    }
    if (page.length < LIST_PAGE_ROWS_MAX) return byStream;
    afterId = page.at(-1)?.id;
  }
}

const NO_STARTS: ReadonlySet<number> = new Set();

function pointsOf(rows: readonly LedgerRow[]): readonly StreamPoint[] {
  return rows;
}

/**
 * Every stream's gaps in the period. A stream is known to the period when it has a current value
 * in the period or in the like-day search before it; its grid starts at its first value there.
 */
async function viewStreams(
  store: Store,
  query: GapQuery,
  period: { fromMs: number; toMs: number },
  nowMs: number,
): Promise<StreamView[]> {
  const lookaroundMs = (ESTIMATE_LIKE_DAY_SEARCH_DAYS + 1) * MS_PER_DAY;
  const window = { fromMs: period.fromMs - lookaroundMs, toMs: period.toMs + lookaroundMs };
  const streams = await readStreams(store, window, query.meterIds);
  const rejected = await anomalyStarts(store, 'rejected', period, query.meterIds);
  const held = await anomalyStarts(store, 'held', period, query.meterIds);
  const views: StreamView[] = [];
  const keys = [...streams.keys()].sort();
  for (const key of keys) {
    const rows = streams.get(key) as LedgerRow[];
    const first = rows[0] as LedgerRow;
    const grid = streamGrid(pointsOf(rows));
    if (grid === null) continue;
    const startMs = Math.max(period.fromMs, slotAtOrAfter(grid, first.intervalStartMs));
    // A slot is a gap only once it has ended: it must start before the period's end and end by
    // now.
    const endMs = Math.min(period.toMs, nowMs - grid.intervalMs + 1);
    const runs = findGapRuns(
      grid,
      startMs,
      endMs,
      pointsOf(rows),
      rejected.get(key) ?? NO_STARTS,
      held.get(key) ?? NO_STARTS,
    );
    views.push({ meterId: first.meterId, channel: first.channel, rows, grid, runs });
  }
  return views;
}

/** `amisync gaps list`: missing and rejected intervals per stream, as runs. */
export async function listGaps(store: Store, clock: Clock, query: GapQuery): Promise<GapReport> {
  const nowMs = clock.nowMs();
  const period = checkedPeriod(query, nowMs);
  const views = await viewStreams(store, query, period, nowMs);
  const intervals = { missing: 0, rejected: 0 };
  const streams: StreamGaps[] = [];
  for (const view of views) {
    for (const run of view.runs) intervals[run.why] += run.intervals;
    if (view.runs.length === 0) continue;
    streams.push({
      meterId: view.meterId,
      channel: view.channel,
      intervalSeconds: view.grid.intervalMs / 1000,
      runs: view.runs,
    });
  }
  return { ...period, streams, intervals };
}

function settingsOf(context: EstimateContext, options: EstimateOptions): EstimateSettings {
  const minutes = options.shortGapMinutes ?? ESTIMATE_SHORT_GAP_MINUTES_DEFAULT;
  return {
    shortGapMs: minutes * MS_PER_MINUTE,
    likeDays: ESTIMATE_LIKE_DAYS,
    likeDaySearchDays: ESTIMATE_LIKE_DAY_SEARCH_DAYS,
    timeZone: options.timeZone ?? context.dictionary.timeZone ?? 'UTC',
  };
}

/** The reading an estimate becomes: quality estimated, the method in its detail. */
export function estimateReading(
  view: { meterId: string; channel: string; grid: StreamGrid },
  like: LedgerRow,
  estimate: Estimate,
  statusCode: number,
): Reading {
  return {
    meterId: view.meterId,
    channel: view.channel,
    intervalStartMs: estimate.intervalStartMs,
    intervalSeconds: view.grid.intervalMs / 1000,
    commodity: like.commodity,
    unit: like.unit,
    valueMicro: estimate.valueMicro,
    statusCode,
    seq: ESTIMATE_SEQ,
    quality: 'estimated',
    qualityDetail: estimate.detail,
    checksumSha256: null,
    idempotencyKey: idempotencyKey(
      view.meterId,
      view.channel,
      estimate.intervalStartMs,
      ESTIMATE_SEQ,
    ),
  };
}

/** One stream's estimates for its holes, and the holes no rule could fill. */
function estimateStream(
  view: StreamView,
  settings: EstimateSettings,
  clock: WallClock,
  statusCode: number,
): { readings: Reading[]; skipped: SkippedHole[] } {
  const valid = new Map<number, number>();
  for (const row of view.rows) {
    const aligned = row.intervalSeconds * 1000 === view.grid.intervalMs;
    if (aligned && row.quality !== 'estimated') valid.set(row.intervalStartMs, row.valueMicro);
  }
  const wallValues = new WallClockValues(valid, clock);
  const like = view.rows[0] as LedgerRow;
  const readings: Reading[] = [];
  const skipped: SkippedHole[] = [];
  for (const hole of holesOf(view.runs)) {
    const outcome = estimateHole(hole, view.grid, valid, wallValues, clock, settings);
    if (outcome.kind === 'skipped') {
      skipped.push({ ...streamOf(view), ...holeOf(outcome.hole), reason: outcome.reason });
      continue;
    }
    for (const estimate of outcome.estimates) {
      readings.push(estimateReading(view, like, estimate, statusCode));
    }
  }
  return { readings, skipped };
}

function streamOf(view: StreamView) {
  return { meterId: view.meterId, channel: view.channel };
}

function holeOf(hole: Hole) {
  return { fromMs: hole.fromMs, toMs: hole.toMs };
}

/** Estimates whose interval still has no value, as the writing transaction reads the ledger. */
async function stillGaps(tx: StoreTransaction, readings: readonly Reading[]): Promise<Reading[]> {
  const versions = await tx.findIntervalVersions(
    readings.map((r) => ({
      meterId: r.meterId,
      channel: r.channel,
      intervalStartMs: r.intervalStartMs,
    })),
  );
  const filled = new Set(versions.map(intervalKey));
  return readings.filter((reading) => !filled.has(intervalKey(reading)));
}

function estimateInput(
  readings: readonly Reading[],
  context: EstimateContext,
  note: string | null,
  audit: Readonly<Record<string, unknown>>,
  atMs: number,
): BatchInput {
  return {
    deliveryId: `estimate-${atMs}`,
    sourceId: ESTIMATE_SOURCE_ID,
    kind: 'override',
    format: 'estimate',
    readings: readings.map((reading) => ({
      reading,
      location: { recordIndex: 0, line: 0, byteOffset: 0, byteLength: 0 },
    })),
    rejects: [],
    rawChunks: [],
    byteOffset: 0,
    byteLength: 0,
    atMs,
    // An estimate is made from accepted values; judging it against their profile would only
    // echo them.
    detectors: [],
    sequenced: false,
    auditExtra: { estimate: audit, actor: context.actor, note },
  };
}

/**
 * What a run will write, read from the committed ledger: the estimates, the holes no rule could
 * fill, and the facts its audit entries record. `writeEstimatePlan` applies it.
 */
export interface EstimatePlan {
  readings: Reading[];
  skipped: SkippedHole[];
  period: { fromMs: number; toMs: number };
  settings: EstimateSettings;
  atMs: number;
  audit: Readonly<Record<string, unknown>>;
}

/** Reads the period's gaps and computes their estimates, writing nothing. */
export async function planEstimates(
  context: EstimateContext,
  query: GapQuery,
  options: EstimateOptions = {},
): Promise<EstimatePlan> {
  const atMs = context.clock.nowMs();
  const period = checkedPeriod(query, atMs);
  const settings = settingsOf(context, options);
  const wallClock = new WallClock(settings.timeZone);
  const views = await viewStreams(context.store, query, period, atMs);
  const statusCode = context.dictionary.statusBits.estimated;
  const readings: Reading[] = [];
  const skipped: SkippedHole[] = [];
  for (const view of views) {
    const stream = estimateStream(view, settings, wallClock, statusCode);
    readings.push(...stream.readings);
    skipped.push(...stream.skipped);
  }
  const audit = {
    from: new Date(period.fromMs).toISOString(),
    to: new Date(period.toMs).toISOString(),
    meters: query.meterIds,
    shortGapMinutes: settings.shortGapMs / MS_PER_MINUTE,
    likeDays: settings.likeDays,
    likeDaySearchDays: settings.likeDaySearchDays,
    timeZone: settings.timeZone,
    seq: ESTIMATE_SEQ,
  };
  return { readings, skipped, period, settings, atMs, audit };
}

/**
 * Writes a plan's estimates, BATCH_READINGS_MAX per batch and transaction. Each batch re-reads,
 * inside its transaction, whether its intervals are still empty and writes only those, so an
 * actual that arrived since the plan was read is never overwritten and a second run adds nothing.
 */
export async function writeEstimatePlan(
  context: EstimateContext,
  plan: EstimatePlan,
  note: string | null,
  onProgress?: (done: number, total: number) => void,
): Promise<EstimateReport> {
  const report: EstimateReport = {
    ...plan.period,
    timeZone: plan.settings.timeZone,
    shortGapMinutes: plan.settings.shortGapMs / MS_PER_MINUTE,
    estimated: 0,
    interpolated: 0,
    likeDay: 0,
    estimatedEnergyMilliWh: 0n,
    filledMeanwhile: 0,
    skipped: plan.skipped,
    batches: [],
    registerAdvance: REGISTER_ADVANCE_NOTE,
  };
  for (let at = 0; at < plan.readings.length; at += BATCH_READINGS_MAX) {
    const chunk = plan.readings.slice(at, at + BATCH_READINGS_MAX);
    await context.store.transaction(async (tx) => {
      const fresh = await stillGaps(tx, chunk);
      report.filledMeanwhile += chunk.length - fresh.length;
      if (fresh.length === 0) return;
      const input = estimateInput(fresh, context, note, plan.audit, plan.atMs);
      const result = await commitBatchIn(tx, input, () => '');
      report.batches.push({
        batchId: result.batchId,
        auditSeq: result.auditSeq,
        readings: fresh.length,
      });
      for (const reading of fresh) countEstimate(report, reading);
    });
    onProgress?.(Math.min(at + BATCH_READINGS_MAX, plan.readings.length), plan.readings.length);
  }
  return report;
}

/** `amisync estimate`: fills the period's gaps (plan, then write). */
export async function estimateGaps(
  context: EstimateContext,
  query: GapQuery,
  note: string | null,
  options: EstimateOptions = {},
): Promise<EstimateReport> {
  const plan = await planEstimates(context, query, options);
  options.onProgress?.(0, plan.readings.length);
  return writeEstimatePlan(context, plan, note, options.onProgress);
}

function countEstimate(report: EstimateReport, reading: Reading): void {
  report.estimated += 1;
  if (reading.qualityDetail?.startsWith('interpolation') === true) report.interpolated += 1;
  else report.likeDay += 1;
  if (reading.unit === 'kWh') report.estimatedEnergyMilliWh += BigInt(reading.valueMicro);
}
