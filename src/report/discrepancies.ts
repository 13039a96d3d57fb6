/**
 * The discrepancy report for finance: what the anomaly ledger held, released and rejected for one
 * month, what the ledger holds as estimates, how old the open holds are, and which meters have the
 * most kWh at stake, each top meter with its series around its flagged readings. Collected from a
 * read-only Store in a bounded number of queries; rendered by discrepancy-csv.ts and
 * discrepancy-html.ts. See docs/reports.md for what each figure means.
 */
import type { Clock } from '../core/clock.js';
import {
  REPORT_CHART_POINTS_MAX,
  REPORT_METER_FLAGS_MAX,
  REPORT_TOP_METERS_MAX,
} from '../core/limits.js';
import type {
  AnomalyRow,
  DiscrepancyFigures,
  HoldTotal,
  MeterFigures,
  OpenAgeRow,
  SeriesPoint,
  Store,
} from '../core/store.js';
import type { ReportPeriod } from './period.js';

const DAY_MS = 86_400_000;
/** How much of a meter's series a chart shows before its first and after its last flag. */
export const CHART_CONTEXT_MS = DAY_MS;
export const TOP_METERS_DEFAULT = 10;

/** An ageing bucket: open holds aged `minDays` to `maxDays` whole days (null: no upper bound). */
export interface AgeBucket extends HoldTotal {
  label: string;
  minDays: number;
  maxDays: number | null;
}

/** The buckets finance reads ageing in, in whole days since the hold's batch committed. */
export const AGE_BUCKETS: readonly Omit<AgeBucket, keyof HoldTotal>[] = [
  { label: '0-7 days', minDays: 0, maxDays: 7 },
  { label: '8-30 days', minDays: 8, maxDays: 30 },
  { label: '31-90 days', minDays: 31, maxDays: 90 },
  { label: 'over 90 days', minDays: 91, maxDays: null },
];

/** One top meter's chart: the charted channel's ledger series and the meter's flagged readings. */
export interface MeterChart {
  meterId: string;
  channel: string;
  fromMs: number;
  toMs: number;
  series: SeriesPoint[];
  /** True when the window was cut to REPORT_CHART_POINTS_MAX intervals. */
  seriesTruncated: boolean;
  /** The meter's flagged readings in the period, on every channel, oldest first. */
  flags: AnomalyRow[];
  /** True when the meter had more than REPORT_METER_FLAGS_MAX flagged readings. */
  flagsTruncated: boolean;
}

export interface DiscrepancyReport {
  period: ReportPeriod;
  /** Sources the report covers; empty for every source. */
  sourceIds: string[];
  /** The clock's now, that open holds are aged against. */
  generatedAtMs: number;
  figures: DiscrepancyFigures;
  ageing: AgeBucket[];
  charts: MeterChart[];
}

export interface DiscrepancyRequest {
  period: ReportPeriod;
  sourceIds: readonly string[];
  topMeters: number;
}

/** Open holds by whole days of age, summed into the ageing buckets (every bucket, even empty). */
export function ageingBuckets(openByAgeDays: readonly OpenAgeRow[]): AgeBucket[] {
  return AGE_BUCKETS.map((bucket) => {
    const rows = openByAgeDays.filter(
      (row) =>
        row.ageDays >= bucket.minDays && (bucket.maxDays === null || row.ageDays <= bucket.maxDays),
    );
    return {
      ...bucket,
      items: rows.reduce((sum, row) => sum + row.items, 0),
      energyMilliWh: rows.reduce((sum, row) => sum + row.energyMilliWh, 0n),
    };
  });
}

/**
 * The channel a meter's chart draws: the one whose open holds have the most kWh at stake (ties:
 * most flags, then name), so a meter with an export channel charts where the money is.
 */
export function chartedChannel(flags: readonly AnomalyRow[]): string | null {
  const byChannel = new Map<string, { stake: number; flags: number }>();
  for (const flag of flags) {
    const entry = byChannel.get(flag.reading.channel) ?? { stake: 0, flags: 0 };
    entry.flags += 1;
    if (flag.status === 'held') entry.stake += Math.abs(flag.reading.valueMicro);
    byChannel.set(flag.reading.channel, entry);
  }
  const ranked = [...byChannel.entries()].sort(
    ([nameA, a], [nameB, b]) => b.stake - a.stake || b.flags - a.flags || (nameA < nameB ? -1 : 1),
  );
  return ranked[0]?.[0] ?? null;
}

/**
 * The window a chart draws, on the grid of the charted flags' interval length: a day either side
 * of the flags (whole intervals), cut to REPORT_CHART_POINTS_MAX intervals from its start.
 */
export function chartWindow(flags: readonly AnomalyRow[]): {
  fromMs: number;
  toMs: number;
  intervalMs: number;
  truncated: boolean;
} {
  const starts = flags.map((flag) => flag.reading.intervalStartMs);
  const intervalMs = (flags[0]?.reading.intervalSeconds ?? 900) * 1000;
  const contextMs = Math.floor(CHART_CONTEXT_MS / intervalMs) * intervalMs;
  const fromMs = Math.min(...starts) - contextMs;
  const toMs = Math.max(...starts) + intervalMs + contextMs;
  const maxToMs = fromMs + REPORT_CHART_POINTS_MAX * intervalMs;
  return { fromMs, toMs: Math.min(toMs, maxToMs), intervalMs, truncated: toMs > maxToMs };
}

/**
 * The meter's flagged readings in the period, of the requested sources, oldest first: pages of
 * the anomaly ledger until REPORT_METER_FLAGS_MAX are found (one more tells there are more).
 */
async function meterFlags(
  store: Store,
  meter: MeterFigures,
  request: DiscrepancyRequest,
): Promise<AnomalyRow[]> {
  const found: AnomalyRow[] = [];
  const pageRows = REPORT_METER_FLAGS_MAX + 1;
  let afterId = 0;
  // Bounded: each page moves past the last id, and the loop stops once enough are found.
  for (;;) {
    const page = await store.listAnomalies({
      meterId: meter.meterId,
      fromMs: request.period.fromMs,
      toMs: request.period.toMs,
      afterId,
      limit: pageRows,
    });
    const wanted = request.sourceIds;
    found.push(...page.filter((row) => wanted.length === 0 || wanted.includes(row.sourceId)));
    if (page.length < pageRows || found.length > REPORT_METER_FLAGS_MAX) break;
    afterId = page[page.length - 1]?.id ?? afterId;
  }
  return found
    .slice(0, REPORT_METER_FLAGS_MAX + 1)
    .sort((a, b) => a.reading.intervalStartMs - b.reading.intervalStartMs || a.id - b.id);
}

async function meterChart(
  store: Store,
  meter: MeterFigures,
  request: DiscrepancyRequest,
): Promise<MeterChart | null> {
  const found = await meterFlags(store, meter, request);
  const flags = found.slice(0, REPORT_METER_FLAGS_MAX);
  const channel = chartedChannel(flags);
  if (channel === null) return null;
  const window = chartWindow(flags.filter((flag) => flag.reading.channel === channel));
  const series = await store.streamSeries({
    meterId: meter.meterId,
    channel,
    fromMs: window.fromMs,
    toMs: window.toMs,
    intervalMs: window.intervalMs,
    limit: REPORT_CHART_POINTS_MAX,
  });
  return {
    meterId: meter.meterId,
    channel,
    fromMs: window.fromMs,
    toMs: window.toMs,
    series,
    seriesTruncated: window.truncated,
    flags,
    flagsTruncated: found.length > REPORT_METER_FLAGS_MAX,
  };
}

/** Reads the period's figures and each top meter's chart from the store. */
export async function collectDiscrepancyReport(
  store: Store,
  clock: Clock,
  request: DiscrepancyRequest,
): Promise<DiscrepancyReport> {
  const nowMs = clock.nowMs();
  const topMetersMax = Math.min(Math.max(0, request.topMeters), REPORT_TOP_METERS_MAX);
  const figures = await store.discrepancyFigures({
    fromMs: request.period.fromMs,
    toMs: request.period.toMs,
    sourceIds: request.sourceIds,
    nowMs,
    topMetersMax,
  });
  const charts: MeterChart[] = [];
  for (const meter of figures.topMeters) {
    const chart = await meterChart(store, meter, request);
    if (chart !== null) charts.push(chart);
  }
  return {
    period: request.period,
    sourceIds: [...request.sourceIds],
    generatedAtMs: nowMs,
    figures,
    ageing: ageingBuckets(figures.openByAgeDays),
    charts,
  };
}
