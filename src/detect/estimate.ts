/**
 * Gap finding and estimation (VEE's E), pure: no store, no clock. The pipeline hands in one
 * stream's current readings around a period, the intervals an operator rejected and those still
 * held for review, and gets back the gap runs and, for each hole, estimated values with the method
 * that made them. docs/estimation.md describes the rules for operators and auditors.
 *
 * A stream's expected grid is learnt from its own readings: the most common interval length among
 * them, anchored at the start of the latest reading of that length. Nothing else (the data
 * dictionary's allowed lengths, another meter of the class) says which slots a meter should fill.
 */
import { Temporal } from 'temporal-polyfill';
import { formatValueMicro } from '../core/decimal.js';
import type { Quality } from '../core/reading.js';

const MS_PER_MINUTE = 60_000;
const MS_PER_DAY = 86_400_000;
const MINUTES_PER_DAY = 1440;
/** 1970-01-01 was a Thursday: day 0 has weekday 4 (Sunday 0). */
const EPOCH_WEEKDAY = 4;

/** One current ledger value of a stream, as gap finding and estimation need it. */
export interface StreamPoint {
  intervalStartMs: number;
  intervalSeconds: number;
  valueMicro: number;
  quality: Quality;
}

/** The slots a stream is expected to fill: starts at `phaseMs + k * intervalMs`. */
export interface StreamGrid {
  intervalMs: number;
  phaseMs: number;
}

/**
 * `missing`: no current value and nothing decided about it; `rejected`: an operator rejected the
 * reading the anomaly ledger held for it, and nothing else came.
 */
export type GapWhy = 'missing' | 'rejected';

/** Consecutive grid slots without a current value, all for the same reason. */
export interface GapRun {
  /** First slot's start, and the end of the last slot (exclusive). */
  fromMs: number;
  toMs: number;
  intervals: number;
  why: GapWhy;
}

/** Consecutive slots to fill, whatever the reason each is empty. */
export interface Hole {
  fromMs: number;
  toMs: number;
}

export type EstimateMethod = 'interpolation' | 'like-day';

export interface Estimate {
  intervalStartMs: number;
  valueMicro: number;
  method: EstimateMethod;
  /** The method and its inputs in words: what the ledger row's qualityDetail says. */
  detail: string;
}

export type HoleOutcome =
  { kind: 'estimated'; estimates: Estimate[] } | { kind: 'skipped'; hole: Hole; reason: string };

export interface EstimateSettings {
  /** Holes at most this long, with a valid value on each side, are interpolated. */
  shortGapMs: number;
  /** Like days averaged for a longer hole (the reference rule: 3). */
  likeDays: number;
  /** How far before and after a hole's day like days are sought. */
  likeDaySearchDays: number;
  /** The utility's IANA time zone: weekdays and wall-clock times are read in it. */
  timeZone: string;
}

/** The most common interval length, ties to the shorter; anchored at its latest reading. */
export function streamGrid(points: readonly StreamPoint[]): StreamGrid | null {
  const counts = new Map<number, number>();
  for (const point of points) {
    counts.set(point.intervalSeconds, (counts.get(point.intervalSeconds) ?? 0) + 1);
  }
  let bestSeconds = 0;
  let bestCount = 0;
  for (const [seconds, count] of counts) {
    if (count > bestCount || (count === bestCount && seconds < bestSeconds)) {
      bestSeconds = seconds;
      bestCount = count;
    }
  }
  if (bestCount === 0 || bestSeconds <= 0) return null;
  const intervalMs = bestSeconds * 1000;
  let anchorMs = 0;
  for (const point of points) {
    if (point.intervalSeconds === bestSeconds) anchorMs = Math.max(anchorMs, point.intervalStartMs);
  }
  return { intervalMs, phaseMs: modulo(anchorMs, intervalMs) };
}

function modulo(value: number, divisor: number): number {
  return ((value % divisor) + divisor) % divisor;
}

/** The first grid slot starting at or after `atMs`. */
export function slotAtOrAfter(grid: StreamGrid, atMs: number): number {
  const offset = modulo(atMs - grid.phaseMs, grid.intervalMs);
  return offset === 0 ? atMs : atMs - offset + grid.intervalMs;
}

/**
 * Runs of grid slots starting in [fromMs, toMs) that no point covers (a point covers its whole
 * interval, so a 30-minute reading on a 15-minute grid fills two slots). Slots in `heldMs` (a
 * reading awaiting review in the anomaly ledger) are not gaps: a decision on them is pending.
 * `points` must be in interval order.
 */
export function findGapRuns(
  grid: StreamGrid,
  fromMs: number,
  toMs: number,
  points: readonly StreamPoint[],
  rejectedMs: ReadonlySet<number>,
  heldMs: ReadonlySet<number>,
): GapRun[] {
  const runs: GapRun[] = [];
  let pointIndex = 0;
  let open: GapRun | null = null;
  for (let slotMs = slotAtOrAfter(grid, fromMs); slotMs < toMs; slotMs += grid.intervalMs) {
    while (pointIndex < points.length && pointEndMs(points[pointIndex] as StreamPoint) <= slotMs) {
      pointIndex += 1;
    }
    const point = points[pointIndex];
    const covered = point !== undefined && point.intervalStartMs <= slotMs;
    if (covered || heldMs.has(slotMs)) {
      open = null;
      continue;
    }
    const why: GapWhy = rejectedMs.has(slotMs) ? 'rejected' : 'missing';
    if (open !== null && open.why === why && open.toMs === slotMs) {
      open.toMs += grid.intervalMs;
      open.intervals += 1;
    } else {
      open = { fromMs: slotMs, toMs: slotMs + grid.intervalMs, intervals: 1, why };
      runs.push(open);
    }
  }
  return runs;
}

function pointEndMs(point: StreamPoint): number {
  return point.intervalStartMs + point.intervalSeconds * 1000;
}

/** Adjacent runs joined: a rejected interval next to a missing one is one hole to fill. */
export function holesOf(runs: readonly GapRun[]): Hole[] {
  const holes: Hole[] = [];
  for (const run of runs) {
    const last = holes.at(-1);
    if (last !== undefined && last.toMs === run.fromMs) last.toMs = run.toMs;
    else holes.push({ fromMs: run.fromMs, toMs: run.toMs });
  }
  return holes;
}

/**
 * `numerator / denominator` rounded to the nearest integer, halves away from zero: the one
 * rounding rule of every estimate. Both are safe integers; the denominator is positive.
 */
export function divideRounded(numerator: number, denominator: number): number {
  const sign = numerator < 0 ? -1 : 1;
  const magnitude = Math.abs(numerator);
  return sign * Math.floor((2 * magnitude + denominator) / (2 * denominator));
}

/**
 * The hole's slots on the straight line between the valid values just before and just after it:
 * slot k of n gets before + (after - before) * (k + 1) / (n + 1).
 */
export function interpolate(
  hole: Hole,
  grid: StreamGrid,
  beforeMicro: number,
  afterMicro: number,
): Estimate[] {
  const count = (hole.toMs - hole.fromMs) / grid.intervalMs;
  const detail =
    `interpolation: linear between ${formatValueMicro(beforeMicro)} at ` +
    `${isoOf(hole.fromMs - grid.intervalMs)} and ${formatValueMicro(afterMicro)} at ` +
    isoOf(hole.toMs);
  const estimates: Estimate[] = [];
  for (let k = 0; k < count; k++) {
    const numerator = beforeMicro * (count - k) + afterMicro * (k + 1);
    estimates.push({
      intervalStartMs: hole.fromMs + k * grid.intervalMs,
      valueMicro: divideRounded(numerator, count + 1),
      method: 'interpolation',
      detail,
    });
  }
  return estimates;
}

function isoOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19) + 'Z';
}

/** Local (utility time zone) calendar day and wall-clock minute of an instant. */
export interface WallTime {
  /** Days since 1970-01-01 of the local date. */
  localDay: number;
  minuteOfDay: number;
}

/**
 * Converts instants to wall-clock time in one zone. Offsets change only at transitions, which
 * fall on quarter hours, so one lookup per quarter hour serves every slot in it.
 */
export class WallClock {
  static readonly #QUARTER_MS = 15 * MS_PER_MINUTE;
  static readonly #CACHED_MAX = 200_000;
  readonly timeZone: string;
  readonly #offsetMsByQuarter = new Map<number, number>();

  constructor(timeZone: string) {
    this.timeZone = timeZone;
  }

  at(instantMs: number): WallTime {
    const localMs = instantMs + this.#offsetMs(instantMs);
    const localDay = Math.floor(localMs / MS_PER_DAY);
    return { localDay, minuteOfDay: (localMs - localDay * MS_PER_DAY) / MS_PER_MINUTE };
  }

  #offsetMs(instantMs: number): number {
    const quarter = Math.floor(instantMs / WallClock.#QUARTER_MS);
    let offsetMs = this.#offsetMsByQuarter.get(quarter);
    if (offsetMs === undefined) {
      const zoned = Temporal.Instant.fromEpochMilliseconds(instantMs).toZonedDateTimeISO(
        this.timeZone,
      );
      offsetMs = zoned.offsetNanoseconds / 1_000_000;
      if (this.#offsetMsByQuarter.size >= WallClock.#CACHED_MAX) this.#offsetMsByQuarter.clear();
      this.#offsetMsByQuarter.set(quarter, offsetMs);
    }
    return offsetMs;
  }
}

/** Saturday and Sunday are one day type, Monday to Friday the other; holidays are not known. */
export function isWeekend(localDay: number): boolean {
  const weekday = modulo(localDay + EPOCH_WEEKDAY, 7);
  return weekday === 0 || weekday === 6;
}

export function localDateText(localDay: number): string {
  return new Date(localDay * MS_PER_DAY).toISOString().slice(0, 10);
}

/**
 * A stream's valid values by local day and wall-clock minute. On a day with a repeated hour (the
 * autumn change) the first occurrence is kept; on a day with a skipped hour those minutes are
 * simply absent, so that day cannot stand in for a slot at a skipped time.
 */
export class WallClockValues {
  readonly #byWallMinute = new Map<number, number>();

  constructor(validByStartMs: ReadonlyMap<number, number>, clock: WallClock) {
    const starts = [...validByStartMs.keys()].sort((a, b) => a - b);
    for (const startMs of starts) {
      const wall = clock.at(startMs);
      const key = wall.localDay * MINUTES_PER_DAY + wall.minuteOfDay;
      if (!this.#byWallMinute.has(key)) {
        this.#byWallMinute.set(key, validByStartMs.get(startMs) as number);
      }
    }
  }

  get(localDay: number, minuteOfDay: number): number | undefined {
    return this.#byWallMinute.get(localDay * MINUTES_PER_DAY + minuteOfDay);
  }
}

/** Candidate like days of `localDay`, nearest first, the earlier of two equally near. */
export function likeDayCandidates(localDay: number, searchDays: number): number[] {
  const weekend = isWeekend(localDay);
  const candidates: number[] = [];
  for (let distance = 1; distance <= searchDays; distance++) {
    for (const day of [localDay - distance, localDay + distance]) {
      if (isWeekend(day) === weekend) candidates.push(day);
    }
  }
  return candidates;
}

/**
 * Fills the slots of one local day of a hole with the average, per wall-clock minute, of the
 * nearest like days that have a valid value at every one of those minutes. Fewer than wanted
 * (but at least one) are used when no more exist within the search, and the detail says so.
 */
export function likeDayFill(
  slotsMs: readonly number[],
  localDay: number,
  values: WallClockValues,
  clock: WallClock,
  settings: EstimateSettings,
): Estimate[] | null {
  const minutes = slotsMs.map((slotMs) => clock.at(slotMs).minuteOfDay);
  const chosen: number[] = [];
  for (const day of likeDayCandidates(localDay, settings.likeDaySearchDays)) {
    if (minutes.every((minute) => values.get(day, minute) !== undefined)) chosen.push(day);
    if (chosen.length === settings.likeDays) break;
  }
  if (chosen.length === 0) return null;
  const dayType = isWeekend(localDay) ? 'weekend' : 'weekday';
  const detail =
    `like-day: average of ${chosen.length} ${dayType} day(s) ` +
    `${chosen.map(localDateText).join(' ')} at the same wall-clock time (${clock.timeZone})`;
  return slotsMs.map((slotMs, index) => {
    const minute = minutes[index] as number;
    const sum = chosen.reduce((total, day) => total + (values.get(day, minute) as number), 0);
    return {
      intervalStartMs: slotMs,
      valueMicro: divideRounded(sum, chosen.length),
      method: 'like-day',
      detail,
    };
  });
}

/**
 * One hole's estimates: interpolation when it is short and has a valid value on both sides,
 * like days otherwise. A hole no rule can fill is skipped with the reason, never guessed.
 */
export function estimateHole(
  hole: Hole,
  grid: StreamGrid,
  validByStartMs: ReadonlyMap<number, number>,
  wallValues: WallClockValues,
  clock: WallClock,
  settings: EstimateSettings,
): HoleOutcome {
  const before = validByStartMs.get(hole.fromMs - grid.intervalMs);
  const after = validByStartMs.get(hole.toMs);
  if (
    hole.toMs - hole.fromMs <= settings.shortGapMs &&
    before !== undefined &&
    after !== undefined
  ) {
    return { kind: 'estimated', estimates: interpolate(hole, grid, before, after) };
  }
  const byDay = new Map<number, number[]>();
  for (let slotMs = hole.fromMs; slotMs < hole.toMs; slotMs += grid.intervalMs) {
    const day = clock.at(slotMs).localDay;
    const slots = byDay.get(day);
    if (slots === undefined) byDay.set(day, [slotMs]);
    else slots.push(slotMs);
  }
  const estimates: Estimate[] = [];
  for (const [day, slots] of byDay) {
    const filled = likeDayFill(slots, day, wallValues, clock, settings);
    if (filled === null) {
      const reason =
        `no valid like day within ${settings.likeDaySearchDays} days of ` +
        `${localDateText(day)} has values at the missing wall-clock times`;
      return { kind: 'skipped', hole, reason };
    }
    estimates.push(...filled);
  }
  return { kind: 'estimated', estimates };
}

/**
 * Scales estimates so that they sum to `totalMicro` exactly (a register advance over the hole,
 * less the actual intervals inside it), keeping their shape: each gets its share by the largest
 * remainder rule; equal shares when the estimates sum to zero. The ledger holds no register
 * reads yet, so the pipeline does not call this; it is the seam for when it does.
 */
export function scaleToTotal(valuesMicro: readonly number[], totalMicro: number): number[] {
  if (valuesMicro.length === 0) return [];
  const weights = valuesMicro.map((v) => BigInt(Math.max(0, v)));
  let weightSum = weights.reduce((sum, w) => sum + w, 0n);
  if (weightSum === 0n) {
    weights.fill(1n);
    weightSum = BigInt(weights.length);
  }
  const total = BigInt(totalMicro);
  const shares = weights.map((w) => (total * w) / weightSum);
  const remainders = weights.map((w, index) => ({ index, rest: (total * w) % weightSum }));
  let left = total - shares.reduce((sum, s) => sum + s, 0n);
  remainders.sort((a, b) => (a.rest === b.rest ? a.index - b.index : a.rest > b.rest ? -1 : 1));
  for (const { index } of remainders) {
    if (left <= 0n) break;
    shares[index] = (shares[index] as bigint) + 1n;
    left -= 1n;
  }
  return shares.map(Number);
}
