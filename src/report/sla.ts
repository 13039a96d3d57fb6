/**
 * The vendor SLA report (issue 13 part 6): per source and local day, how many intervals the
 * source's meters should have delivered, how many reached the ledger within each of the
 * contract's windows, the share, and pass or breach; for each breach, the meters that caused it.
 * Measured from the ledger's own arrival times (the commit time of the first batch that wrote an
 * interval). See docs/reports.md ("Vendor SLAs") for each rule.
 */
import type { Clock } from '../core/clock.js';
import type { ArrivalRow, Store } from '../core/store.js';
import { dayIndexOf, type LocalDay, type SlaWindow } from './sla-days.js';
import type { SlaTarget, SourceSla } from './sla-config.js';

const DAY_MS = 86_400_000;
/**
 * How far before the window the ledger is read to learn which meters a source serves: a meter
 * that delivered in the 35 days before is expected every day of the window, even when it sent
 * nothing in the window at all.
 */
export const SLA_LOOKBACK_DAYS = 35;
/** Meters a breach names, at most (most missing and late first); `metersTotal` counts them all. */
export const SLA_BREACH_METERS_MAX = 20;
/** Streams one report measures at most; a source with more is a configuration to split. */
export const SLA_STREAMS_MAX = 1_000_000;

export type SlaVerdict = 'pass' | 'breach' | 'pending';

export interface SlaTargetResult {
  readonly within: string;
  readonly share: string;
  readonly receivedWithin: number;
  /** Received within the window over expected, in thousandths of a percent, rounded down. */
  readonly actualMilliPercent: number | null;
  /** `pending` while the window of the day's last interval has not closed yet. */
  readonly verdict: SlaVerdict;
}

export interface SlaDayRow {
  readonly day: string;
  readonly fromMs: number;
  readonly toMs: number;
  readonly expected: number;
  /** Received by the report's time, whatever the delay. */
  readonly received: number;
  readonly results: readonly SlaTargetResult[];
}

export interface SlaMeterCause {
  readonly meterId: string;
  readonly expected: number;
  /** Not in the ledger at all by the report's time. */
  readonly missing: number;
  /** In the ledger, but later than the target's window. */
  readonly late: number;
}

export interface SlaBreach {
  readonly sourceId: string;
  readonly day: string;
  readonly within: string;
  readonly withinMs: number;
  readonly share: string;
  readonly shareMilliPercent: number;
  readonly expected: number;
  readonly receivedWithin: number;
  readonly actualMilliPercent: number;
  /** Most missing plus late first, then by meter id; at most SLA_BREACH_METERS_MAX. */
  readonly meters: readonly SlaMeterCause[];
  readonly metersTotal: number;
}

export interface SourceSlaReport {
  readonly sourceId: string;
  readonly targets: readonly SlaTarget[];
  /** Meter channels the source is expected to deliver, and the distinct meters among them. */
  readonly streams: number;
  readonly meters: number;
  readonly days: readonly SlaDayRow[];
  readonly breaches: readonly SlaBreach[];
}

export interface SlaReport {
  readonly label: string;
  readonly timeZone: string;
  readonly generatedAtMs: number;
  readonly lookbackDays: number;
  readonly sources: readonly SourceSlaReport[];
}

/** One meter channel of one source, and its counts per day: received, then each target's. */
class StreamTally {
  readonly meterId: string;
  readonly channel: string;
  readonly firstStartMs: number;
  intervalMs: number;
  readonly counts: Int32Array;

  constructor(row: ArrivalRow, days: number, targets: number) {
    this.meterId = row.meterId;
    this.channel = row.channel;
    this.firstStartMs = row.intervalStartMs;
    this.intervalMs = row.intervalSeconds * 1000;
    this.counts = new Int32Array(days * (1 + targets));
  }
}

/** Every stream of one source, filled from the arrival rows. */
class SourceTally {
  readonly streams = new Map<string, StreamTally>();
  constructor(
    readonly sla: SourceSla,
    readonly days: readonly LocalDay[],
    readonly nowMs: number,
  ) {}

  add(row: ArrivalRow): void {
    // An arrival after the report's time is not seen yet (a report made for a past moment).
    if (row.firstCommittedAtMs > this.nowMs) return;
    const key = `${row.meterId}\u0000${row.channel}`;
    const targets = this.sla.targets;
    let stream = this.streams.get(key);
    if (stream === undefined) {
      if (this.streams.size >= SLA_STREAMS_MAX) throw new Error('too many streams for one report');
      stream = new StreamTally(row, this.days.length, targets.length);
      this.streams.set(key, stream);
    }
    // Rows come in interval order: the latest interval length is the stream's now.
    stream.intervalMs = row.intervalSeconds * 1000;
    const index = dayIndexOf(this.days, row.intervalStartMs);
    if (index < 0) return;
    const base = index * (1 + targets.length);
    stream.counts[base] = (stream.counts[base] ?? 0) + 1;
    const lateMs = row.firstCommittedAtMs - (row.intervalStartMs + row.intervalSeconds * 1000);
    targets.forEach((target, t) => {
      if (lateMs <= target.withinMs)
        stream.counts[base + 1 + t] = (stream.counts[base + 1 + t] ?? 0) + 1;
    });
  }
}

/**
 * Intervals a stream should have delivered in a day: the part of the day from the stream's first
 * interval to the report's time, in whole intervals (a 23-hour day holds 92 quarter hours, and a
 * daily reading is one on a 23- or 25-hour day alike).
 */
export function expectedIntervals(
  stream: Pick<StreamTally, 'firstStartMs' | 'intervalMs'>,
  day: LocalDay,
  nowMs: number,
): number {
  const fromMs = Math.max(day.fromMs, stream.firstStartMs);
  const toMs = Math.min(day.toMs, nowMs);
  if (toMs <= fromMs || stream.intervalMs <= 0) return 0;
  return Math.round((toMs - fromMs) / stream.intervalMs);
}

/** Thousandths of a percent, rounded down, so that a share shown never looks better than it is. */
export function milliPercent(part: number, whole: number): number | null {
  return whole === 0 ? null : Math.floor((part * 100_000) / whole);
}

/** Exact: received / expected >= share, in integers. Nothing expected passes. */
export function meetsShare(receivedWithin: number, expected: number, target: SlaTarget): boolean {
  return receivedWithin * 100_000 >= target.shareMilliPercent * expected;
}

interface StreamDay {
  expected: number;
  received: number;
  within: number[];
}

/** One stream's day, each count capped at the expected (an interval off the grid adds nothing). */
function streamDay(
  stream: StreamTally,
  index: number,
  day: LocalDay,
  nowMs: number,
  targets: number,
): StreamDay {
  const expected = expectedIntervals(stream, day, nowMs);
  const base = index * (1 + targets);
  const capped = (offset: number) => Math.min(expected, stream.counts[base + offset] ?? 0);
  return {
    expected,
    received: capped(0),
    within: Array.from({ length: targets }, (_, t) => capped(1 + t)),
  };
}

function verdictOf(day: LocalDay, target: SlaTarget, met: boolean, nowMs: number): SlaVerdict {
  if (nowMs < day.toMs + target.withinMs) return 'pending';
  return met ? 'pass' : 'breach';
}

function dayRow(tally: SourceTally, index: number, day: LocalDay): SlaDayRow {
  const targets = tally.sla.targets;
  let expected = 0;
  let received = 0;
  const within = targets.map(() => 0);
  for (const stream of tally.streams.values()) {
    const counts = streamDay(stream, index, day, tally.nowMs, targets.length);
    expected += counts.expected;
    received += counts.received;
    counts.within.forEach((count, t) => (within[t] = (within[t] ?? 0) + count));
  }
  return {
    day: day.day,
    fromMs: day.fromMs,
    toMs: day.toMs,
    expected,
    received,
    results: targets.map((target, t) => {
      const receivedWithin = within[t] ?? 0;
      return {
        within: target.within,
        share: target.share,
        receivedWithin,
        actualMilliPercent: milliPercent(receivedWithin, expected),
        verdict: verdictOf(day, target, meetsShare(receivedWithin, expected, target), tally.nowMs),
      };
    }),
  };
}

/** The meters short on one day for one target, most missing and late first. */
function causes(tally: SourceTally, index: number, day: LocalDay, t: number): SlaMeterCause[] {
  const byMeter = new Map<string, { expected: number; missing: number; late: number }>();
  const targets = tally.sla.targets.length;
  for (const stream of tally.streams.values()) {
    const counts = streamDay(stream, index, day, tally.nowMs, targets);
    const within = counts.within[t] ?? 0;
    const entry = byMeter.get(stream.meterId) ?? { expected: 0, missing: 0, late: 0 };
    entry.expected += counts.expected;
    entry.missing += counts.expected - counts.received;
    entry.late += counts.received - within;
    byMeter.set(stream.meterId, entry);
  }
  return [...byMeter.entries()]
    .filter(([, entry]) => entry.missing + entry.late > 0)
    .map(([meterId, entry]) => ({ meterId, ...entry }))
    .sort(
      (a, b) =>
        b.missing + b.late - (a.missing + a.late) ||
        b.missing - a.missing ||
        (a.meterId < b.meterId ? -1 : a.meterId > b.meterId ? 1 : 0),
    );
}

function sourceReport(tally: SourceTally): SourceSlaReport {
  const days: SlaDayRow[] = [];
  const breaches: SlaBreach[] = [];
  tally.days.forEach((day, index) => {
    if (day.fromMs >= tally.nowMs) return;
    const row = dayRow(tally, index, day);
    days.push(row);
    row.results.forEach((result, t) => {
      const target = tally.sla.targets[t];
      if (result.verdict !== 'breach' || target === undefined) return;
      const meters = causes(tally, index, day, t);
      breaches.push({
        sourceId: tally.sla.sourceId,
        day: day.day,
        within: target.within,
        withinMs: target.withinMs,
        share: target.share,
        shareMilliPercent: target.shareMilliPercent,
        expected: row.expected,
        receivedWithin: result.receivedWithin,
        actualMilliPercent: result.actualMilliPercent ?? 0,
        meters: meters.slice(0, SLA_BREACH_METERS_MAX),
        metersTotal: meters.length,
      });
    });
  });
  const streams = [...tally.streams.values()];
  return {
    sourceId: tally.sla.sourceId,
    targets: tally.sla.targets,
    streams: streams.length,
    meters: new Set(streams.map((stream) => stream.meterId)).size,
    days,
    breaches,
  };
}

export interface SlaRequest {
  readonly window: SlaWindow;
  /** The sources measured, each with its targets; sources without an SLA are not measured. */
  readonly slas: readonly SourceSla[];
}

/** Reads the arrivals of the window (and the lookback before it) and measures each source. */
export async function collectSlaReport(
  store: Store,
  clock: Clock,
  request: SlaRequest,
): Promise<SlaReport> {
  const nowMs = clock.nowMs();
  const days = request.window.days;
  const tallies = new Map(
    request.slas.map((sla) => [sla.sourceId, new SourceTally(sla, days, nowMs)]),
  );
  const firstMs = days[0]?.fromMs ?? 0;
  const lastMs = days[days.length - 1]?.toMs ?? 0;
  if (tallies.size > 0 && days.length > 0) {
    const pages = store.iterateArrivals({
      fromMs: firstMs - SLA_LOOKBACK_DAYS * DAY_MS,
      toMs: lastMs,
      sourceIds: [...tallies.keys()],
    });
    for await (const page of pages) {
      for (const row of page) tallies.get(row.sourceId)?.add(row);
    }
  }
  return {
    label: request.window.label,
    timeZone: request.window.timeZone,
    generatedAtMs: nowMs,
    lookbackDays: SLA_LOOKBACK_DAYS,
    sources: [...tallies.values()].map(sourceReport),
  };
}

/** `99.456%`, or `-` when nothing was expected. */
export function formatMilliPercent(value: number | null): string {
  if (value === null) return '-';
  return `${Math.floor(value / 1000)}.${String(value % 1000).padStart(3, '0')}%`;
}
