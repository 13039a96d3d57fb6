/**
 * A labelled feed for measuring anomaly detectors: realistic residential and commercial load in a
 * local time zone with DST, outages marked by the dictionary's outage bit, and injected anomalies
 * (spikes, zero runs, reverse flow, stuck registers, gaps, tamper and clock bits, high and low
 * days), each written down as a label with the detector codes expected to catch it.
 *
 * Output is a pure function of the options, like the plain feed generator's: each meter's true
 * values, its outages and its anomalies come from three generators seeded apart, so a clean feed
 * (`clean: true`) has exactly the labelled feed's readings wherever no label stands. Records use
 * the reference feed's field names, with local timestamps and their offset (`-05:00`, `-06:00`),
 * so the feed crosses a DST change the way a vendor in that zone sends it.
 *
 * Severities are spread (zero runs and stuck registers of 2 to 8 hours, high days 2 to 4.5 times
 * and low days 0.05 to 0.4 times the true day) so that a detector's limit shows in its recall
 * instead of catching all or none.
 *
 * Warm-up: history-based anomalies (spike, zero run, flat line, high and low day) are placed only
 * from `warmUpDays` on, since a detector must not flag a stream with too little history; status
 * bit anomalies and gaps may fall on any day but the first.
 */
import assert from 'node:assert/strict';
import { Temporal } from 'temporal-polyfill';

import { formatUtcSeconds } from '../core/identity.js';
import {
  bell,
  deriveSeed,
  generateMeterIds,
  Mulberry32,
  toNdjson,
  type FeedRecord,
} from './feed-generator.js';

/** What an injected anomaly is; each has a stable name used in the labels file. */
export const LABEL_KINDS = [
  'spike',
  'zero_run',
  'reverse_flow',
  'flat_line',
  'gap',
  'tamper',
  'clock',
  'high_day',
  'low_day',
] as const;
export type LabelKind = (typeof LABEL_KINDS)[number];

/**
 * The detector codes expected to flag at least one reading of each kind of label. A gap has no
 * reading to flag: gap listing finds it, not a detector.
 */
export const EXPECTED_DETECTORS: Readonly<Record<LabelKind, readonly string[]>> = {
  spike: ['spike', 'zscore', 'mad', 'iqr'],
  zero_run: ['zero_run'],
  reverse_flow: ['reverse_flow'],
  flat_line: ['flat_line'],
  gap: [],
  tamper: ['tamper'],
  clock: ['clock'],
  high_day: ['daily_high'],
  low_day: ['daily_low'],
};

/** Kinds judged against the stream's history: placed only after the warm-up. */
const HISTORY_KINDS: ReadonlySet<LabelKind> = new Set([
  'spike',
  'zero_run',
  'flat_line',
  'high_day',
  'low_day',
]);

/** The status-code bit masks the feed sets; `clock` absent means no clock anomaly is injected. */
export interface LabelledStatusBits {
  outage: number;
  reverseFlow: number;
  tamper: number;
  clock?: number;
}

export interface LabelledFeedOptions {
  seed: number;
  meters: number;
  /** Local days in the feed, starting at `startDate`'s local midnight. */
  days: number;
  /** First local day, `YYYY-MM-DD`. Default 2026-10-05: a 35-day feed crosses DST's end. */
  startDate?: string;
  /** IANA zone of the meters' wall clock. Default America/Chicago. */
  timeZone?: string;
  /** No injected anomaly and no label; outages (marked by their bit) stay. */
  clean?: boolean;
  statusBits?: LabelledStatusBits;
  /** History-based anomalies start on this day index. Default 21 (three weeks). */
  warmUpDays?: number;
  /** Chance that a meter's day carries one injected anomaly. Default 0.5. */
  anomalyDayRate?: number;
}

/** One injected anomaly: `intervals` consecutive readings of one stream from its start. */
export interface FeedLabel {
  meterId: string;
  channel: string;
  kind: LabelKind;
  intervalStartUtc: string;
  intervals: number;
  expectedDetectors: string[];
}

/** A power outage: zeros with the outage bit, which no detector should flag. */
export interface FeedOutage {
  meterId: string;
  channel: string;
  intervalStartUtc: string;
  intervals: number;
}

export interface LabelledMeter {
  meterId: string;
  profile: 'residential' | 'commercial';
}

/** The labels file: what was injected where, and enough about the feed to score against it. */
export interface LabelsDocument {
  format: typeof LABELS_FORMAT;
  seed: number;
  clean: boolean;
  timeZone: string;
  startDate: string;
  days: number;
  intervalSeconds: number;
  /** Feed span: the first interval start and the end of the last interval, UTC. */
  fromUtc: string;
  toUtc: string;
  /** Readings in the feed (gaps are not readings). */
  readings: number;
  meters: LabelledMeter[];
  labels: FeedLabel[];
  outages: FeedOutage[];
}

/** One local day's records, in interval then meter order: what a head-end sends for that day. */
export interface FeedDay {
  localDate: string;
  records: FeedRecord[];
}

export interface LabelledFeed {
  days: FeedDay[];
  labels: LabelsDocument;
}

export const LABELS_FORMAT = 'amisync.labelled-feed.v1';
export const LABELLED_INTERVAL_SECONDS = 900;
export const LABELLED_CHANNEL = '1';
export const DEFAULT_LABELLED_START_DATE = '2026-10-05';
export const DEFAULT_LABELLED_TIME_ZONE = 'America/Chicago';
export const DEFAULT_WARM_UP_DAYS = 21;
export const DEFAULT_ANOMALY_DAY_RATE = 0.5;
/** The reference dictionary's masks. */
export const DEFAULT_LABELLED_STATUS_BITS: LabelledStatusBits = {
  outage: 2,
  reverseFlow: 4,
  tamper: 8,
  clock: 16,
};

const INTERVAL_MS = LABELLED_INTERVAL_SECONDS * 1000;
const MS_PER_DAY = 86_400_000;
const WH_PER_KWH = 1000;
/** Below the default dictionary's 1000 kWh bound. */
const INTERVAL_WH_MAX = 999_999;
const COMMERCIAL_METER_SHARE = 0.25;
const NOISE_SIGMA = 0.2;
const WEATHER_SIGMA = 0.08;
const WEATHER_PERSISTENCE = 0.7;
/** Per-meter linear drift of use, per day: heating or cooling coming on over the season. */
const DRIFT_PER_DAY_MIN = -0.004;
const DRIFT_PER_DAY_MAX = 0.008;
const OUTAGE_DAY_RATE = 0.03;
/**
 * Before the warm-up ends only status-bit anomalies and gaps can be placed; they are placed at this
 * fraction of the day rate so that every kind gets a similar share of the labels.
 */
const EARLY_RATE_FACTOR = 0.15;
const OUTAGE_INTERVALS_MIN = 4;
const OUTAGE_INTERVALS_MAX = 16;

// Salts that give each random stream its own seed (distinct from the plain feed's).
const SALT_LABELLED_PROFILE = 0x4c50524f;
const SALT_LABELLED_VALUES = 0x4c56414c;
const SALT_LABELLED_ANOMALIES = 0x4c414e4f;
const SALT_LABELLED_OUTAGES = 0x4c4f5554;

/** One interval of the local grid. */
interface Slot {
  startMs: number;
  localHour: number;
  weekend: boolean;
  /** `2026-11-01T01:15:00-06:00`: local wall time and its offset, as the vendor writes it. */
  timestamp: string;
}

interface LocalDay {
  localDate: string;
  slots: Slot[];
}

interface MeterPlan {
  id: string;
  commercial: boolean;
  scale: number;
  driftPerDay: number;
}

/** What happens to one reading: the true value, or what an event made of it. */
interface Override {
  kind: LabelKind | 'outage';
  /** Multiplies the true value (high and low days). */
  factor?: number;
  /** Replaces the value, in Wh. */
  valueWh?: number;
  statusBits?: number;
  missing?: boolean;
}

/** Household load in kWh per 15 minutes at scale 1, by local hour. */
function residentialKwh(hour: number, weekend: boolean): number {
  if (weekend) {
    return (
      0.1 + 0.28 * bell(hour, 9.5, 1.5) + 0.2 * bell(hour, 13.5, 2.5) + 0.5 * bell(hour, 18.5, 1.8)
    );
  }
  return (
    0.09 + 0.32 * bell(hour, 7.5, 0.9) + 0.1 * bell(hour, 13, 2.5) + 0.55 * bell(hour, 19, 1.5)
  );
}

/** Small-commercial load at scale 1: a base load and business hours, shorter at weekends. */
function commercialKwh(hour: number, weekend: boolean): number {
  const open = 1 / (1 + Math.exp(-3 * (hour - (weekend ? 9.5 : 7.5))));
  const closed = 1 / (1 + Math.exp(-3 * (hour - (weekend ? 16 : 18.5))));
  return 0.15 + (weekend ? 0.3 : 0.6) * (open - closed);
}

/** Roughly standard normal, bounded at +-3: the sum of three uniforms, rescaled. */
function boundedNormal(random: Mulberry32): number {
  return (random.nextFloat() + random.nextFloat() + random.nextFloat() - 1.5) * 2;
}

function uniform(random: Mulberry32, min: number, max: number): number {
  return min + (max - min) * random.nextFloat();
}

function localDays(startDate: string, days: number, timeZone: string): LocalDay[] {
  const first = Temporal.PlainDate.from(startDate);
  const result: LocalDay[] = [];
  for (let day = 0; day < days; day += 1) {
    const date = first.add({ days: day });
    const start = date.toZonedDateTime(timeZone);
    const endMs = date.add({ days: 1 }).toZonedDateTime(timeZone).epochMilliseconds;
    // The time zone library is slow (~0.4 ms a call), so it is asked per slot only on a day whose
    // offset changes; on the others every slot shares the offset of the day's start.
    const sameOffset = endMs - start.epochMilliseconds === MS_PER_DAY;
    const offsetMs = start.offsetNanoseconds / 1_000_000;
    const slots: Slot[] = [];
    for (let atMs = start.epochMilliseconds; atMs < endMs; atMs += INTERVAL_MS) {
      slots.push(sameOffset ? slotWithOffset(atMs, offsetMs) : slotAt(atMs, timeZone));
    }
    result.push({ localDate: date.toString(), slots });
  }
  return result;
}

function slotAt(startMs: number, timeZone: string): Slot {
  const local = Temporal.Instant.fromEpochMilliseconds(startMs).toZonedDateTimeISO(timeZone);
  return slotWithOffset(startMs, local.offsetNanoseconds / 1_000_000);
}

/** `-05:00` for -18,000,000 ms. */
function offsetText(offsetMs: number): string {
  const minutes = Math.abs(offsetMs) / 60_000;
  const hh = String(Math.floor(minutes / 60)).padStart(2, '0');
  const mm = String(minutes % 60).padStart(2, '0');
  return `${offsetMs < 0 ? '-' : '+'}${hh}:${mm}`;
}

function slotWithOffset(startMs: number, offsetMs: number): Slot {
  const wall = new Date(startMs + offsetMs);
  const dayOfWeek = wall.getUTCDay();
  return {
    startMs,
    localHour: wall.getUTCHours() + wall.getUTCMinutes() / 60,
    weekend: dayOfWeek === 0 || dayOfWeek === 6,
    timestamp: `${wall.toISOString().slice(0, 19)}${offsetText(offsetMs)}`,
  };
}

function planMeter(seed: number, index: number, id: string): MeterPlan {
  const random = new Mulberry32(deriveSeed(seed, [SALT_LABELLED_PROFILE, index]));
  const commercial = random.nextFloat() < COMMERCIAL_METER_SHARE;
  // Log-uniform scales: households 0.5x..3x, small-commercial premises 4x..15x.
  const scale = commercial ? 4 * 3.75 ** random.nextFloat() : 0.5 * 6 ** random.nextFloat();
  const driftPerDay = uniform(random, DRIFT_PER_DAY_MIN, DRIFT_PER_DAY_MAX);
  return { id, commercial, scale, driftPerDay };
}

function profileWh(meter: MeterPlan, slot: Slot): number {
  const kwh = meter.commercial
    ? commercialKwh(slot.localHour, slot.weekend)
    : residentialKwh(slot.localHour, slot.weekend);
  return kwh * meter.scale * WH_PER_KWH;
}

/** A meter's true values, day by day: profile, drift, a persistent daily weather factor, noise. */
function trueValues(seed: number, index: number, meter: MeterPlan, days: LocalDay[]): number[][] {
  const random = new Mulberry32(deriveSeed(seed, [SALT_LABELLED_VALUES, index]));
  let weather = 0;
  return days.map((day, dayIndex) => {
    weather = WEATHER_PERSISTENCE * weather + WEATHER_SIGMA * boundedNormal(random);
    const dayFactor = (1 + meter.driftPerDay * dayIndex) * Math.exp(weather);
    return day.slots.map((slot) => {
      const noise = Math.exp(NOISE_SIGMA * boundedNormal(random));
      return Math.min(INTERVAL_WH_MAX, Math.round(profileWh(meter, slot) * dayFactor * noise));
    });
  });
}

interface Resolved {
  seed: number;
  meters: number;
  days: number;
  startDate: string;
  timeZone: string;
  clean: boolean;
  statusBits: LabelledStatusBits;
  warmUpDays: number;
  anomalyDayRate: number;
}

function resolve(options: LabelledFeedOptions): Resolved {
  const { seed, meters, days } = options;
  assert.ok(Number.isSafeInteger(seed), `seed must be a safe integer, got ${seed}`);
  assert.ok(Number.isInteger(meters) && meters >= 1, `meters must be >= 1, got ${meters}`);
  assert.ok(Number.isInteger(days) && days >= 1, `days must be >= 1, got ${days}`);
  const anomalyDayRate = options.anomalyDayRate ?? DEFAULT_ANOMALY_DAY_RATE;
  assert.ok(anomalyDayRate >= 0 && anomalyDayRate <= 1, 'anomalyDayRate must be within 0..1');
  const warmUpDays = options.warmUpDays ?? DEFAULT_WARM_UP_DAYS;
  assert.ok(Number.isInteger(warmUpDays) && warmUpDays >= 0, 'warmUpDays');
  return {
    seed,
    meters,
    days,
    startDate: options.startDate ?? DEFAULT_LABELLED_START_DATE,
    timeZone: options.timeZone ?? DEFAULT_LABELLED_TIME_ZONE,
    clean: options.clean ?? false,
    statusBits: options.statusBits ?? DEFAULT_LABELLED_STATUS_BITS,
    warmUpDays,
    anomalyDayRate,
  };
}

/** Kinds that may be placed on day `dayIndex` (never day 0: every stream starts clean). */
function kindsForDay(options: Resolved, dayIndex: number): LabelKind[] {
  if (dayIndex === 0) return [];
  return LABEL_KINDS.filter((kind) => {
    if (kind === 'clock' && options.statusBits.clock === undefined) return false;
    return !HISTORY_KINDS.has(kind) || dayIndex >= options.warmUpDays;
  });
}

/** A run start within the local hours [fromHour, toHour) such that `length` slots fit the day. */
function runStart(
  random: Mulberry32,
  day: LocalDay,
  length: number,
  hours: [number, number],
): number {
  const candidates: number[] = [];
  day.slots.forEach((slot, at) => {
    const inHours = slot.localHour >= hours[0] && slot.localHour < hours[1];
    if (inHours && at + length <= day.slots.length) candidates.push(at);
  });
  assert.ok(candidates.length > 0, `no room for a run of ${length} on ${day.localDate}`);
  return candidates[random.nextInt(0, candidates.length - 1)] as number;
}

/** Where use is expected for a zero run: business hours, or a household's waking day. */
function busyHours(meter: MeterPlan, slot: Slot | undefined): [number, number] {
  if (meter.commercial) return slot?.weekend === true ? [10, 13] : [8, 14];
  return [7, 18];
}

interface PlacedEvent {
  kind: LabelKind | 'outage';
  at: number;
  length: number;
  override: Override;
}

/** One anomaly of `kind` on `day`, with the overrides of the readings it covers. */
function placeAnomaly(
  kind: LabelKind,
  random: Mulberry32,
  meter: MeterPlan,
  day: LocalDay,
  values: readonly number[],
  bits: LabelledStatusBits,
): PlacedEvent {
  const slotCount = day.slots.length;
  switch (kind) {
    case 'spike': {
      const at = random.nextInt(0, slotCount - 1);
      const peakWh = Math.max(...values);
      const valueWh = Math.min(INTERVAL_WH_MAX, Math.round(peakWh * uniform(random, 6, 20)));
      return { kind, at, length: 1, override: { kind, valueWh } };
    }
    case 'zero_run': {
      const length = random.nextInt(8, 32);
      const at = runStart(random, day, length, busyHours(meter, day.slots[0]));
      return { kind, at, length, override: { kind, valueWh: 0 } };
    }
    case 'flat_line': {
      const length = random.nextInt(8, 32);
      const at = runStart(random, day, length, [0, 24]);
      const valueWh = Math.max(1, values[at] ?? 1);
      return { kind, at, length, override: { kind, valueWh } };
    }
    case 'reverse_flow':
      return statusEvent(kind, random, slotCount, random.nextInt(1, 4), bits.reverseFlow);
    case 'tamper':
      return statusEvent(kind, random, slotCount, 1, bits.tamper);
    case 'clock':
      return statusEvent(kind, random, slotCount, 1, bits.clock as number);
    case 'gap': {
      const length = random.nextInt(1, 12);
      const at = random.nextInt(0, slotCount - length);
      return { kind, at, length, override: { kind, missing: true } };
    }
    case 'high_day': {
      const factor = uniform(random, 2, 4.5);
      return { kind, at: 0, length: slotCount, override: { kind, factor } };
    }
    case 'low_day': {
      const factor = uniform(random, 0.05, 0.4);
      return { kind, at: 0, length: slotCount, override: { kind, factor } };
    }
    default:
      assert.fail(`unknown label kind ${String(kind satisfies never)}`);
  }
}

function statusEvent(
  kind: LabelKind,
  random: Mulberry32,
  slotCount: number,
  length: number,
  statusBits: number,
): PlacedEvent {
  const at = random.nextInt(0, slotCount - length);
  return { kind, at, length, override: { kind, statusBits } };
}

function placeOutage(random: Mulberry32, day: LocalDay, outageBit: number): PlacedEvent {
  const length = random.nextInt(OUTAGE_INTERVALS_MIN, OUTAGE_INTERVALS_MAX);
  const at = random.nextInt(0, day.slots.length - length);
  return {
    kind: 'outage',
    at,
    length,
    override: { kind: 'outage', valueWh: 0, statusBits: outageBit },
  };
}

/** Per day of one meter: the event placed on it, if any (at most one per day). */
function planEvents(
  options: Resolved,
  index: number,
  meter: MeterPlan,
  days: LocalDay[],
  values: number[][],
): (PlacedEvent | null)[] {
  const anomalies = new Mulberry32(deriveSeed(options.seed, [SALT_LABELLED_ANOMALIES, index]));
  const outages = new Mulberry32(deriveSeed(options.seed, [SALT_LABELLED_OUTAGES, index]));
  return days.map((day, dayIndex) => {
    // Both draws happen on every day, so a clean feed keeps the labelled feed's outages.
    const outage = outages.nextFloat() < OUTAGE_DAY_RATE;
    const outageEvent = placeOutage(outages, day, options.statusBits.outage);
    const rate = options.anomalyDayRate * (dayIndex < options.warmUpDays ? EARLY_RATE_FACTOR : 1);
    const anomaly = anomalies.nextFloat() < rate;
    const kinds = kindsForDay(options, dayIndex);
    const kind = anomaly ? kinds[anomalies.nextInt(0, Math.max(0, kinds.length - 1))] : undefined;
    if (kind === undefined) return outage ? outageEvent : null;
    // A day chosen for an anomaly has no outage in either mode, so that clean and labelled feeds
    // differ only where a label stands.
    if (options.clean) return null;
    return placeAnomaly(kind, anomalies, meter, day, values[dayIndex] ?? [], options.statusBits);
  });
}

function applyOverride(trueWh: number, override: Override | undefined): [number, number] | null {
  if (override === undefined) return [trueWh, 0];
  if (override.missing === true) return null;
  const factored = override.factor === undefined ? trueWh : Math.round(trueWh * override.factor);
  const wh = Math.min(INTERVAL_WH_MAX, override.valueWh ?? factored);
  return [wh, override.statusBits ?? 0];
}

interface MeterFeed {
  plan: MeterPlan;
  values: number[][];
  events: (PlacedEvent | null)[];
}

/** The whole labelled feed, day by day, with its labels document. */
export function generateLabelledFeed(options: LabelledFeedOptions): LabelledFeed {
  const resolved = resolve(options);
  const days = localDays(resolved.startDate, resolved.days, resolved.timeZone);
  const ids = generateMeterIds(resolved.seed, resolved.meters);
  const meters: MeterFeed[] = ids.map((id, index) => {
    const plan = planMeter(resolved.seed, index, id);
    const values = trueValues(resolved.seed, index, plan, days);
    return { plan, values, events: planEvents(resolved, index, plan, days, values) };
  });
  const feedDays = days.map((day, dayIndex) => ({
    localDate: day.localDate,
    records: dayRecords(day, dayIndex, meters),
  }));
  return { days: feedDays, labels: labelsOf(resolved, days, meters, feedDays) };
}

function dayRecords(day: LocalDay, dayIndex: number, meters: MeterFeed[]): FeedRecord[] {
  const records: FeedRecord[] = [];
  const overrides = meters.map((meter) => overridesOf(meter.events[dayIndex] ?? null));
  day.slots.forEach((slot, at) => {
    meters.forEach((meter, meterIndex) => {
      const trueWh = meter.values[dayIndex]?.[at] ?? 0;
      const value = applyOverride(trueWh, overrides[meterIndex]?.get(at));
      if (value === null) return;
      records.push({
        meter_id: meter.plan.id,
        timestamp_utc: slot.timestamp,
        consumption_kwh: value[0] / WH_PER_KWH,
        status_code: value[1],
        // The head-end numbers every interval, so a gap leaves a hole in the sequence too.
        seq: dayIndex * 100 + at + 1,
      });
    });
  });
  return records;
}

/** The day's overrides by slot index. */
function overridesOf(event: PlacedEvent | null): Map<number, Override> {
  const overrides = new Map<number, Override>();
  if (event === null) return overrides;
  for (let at = event.at; at < event.at + event.length; at += 1) overrides.set(at, event.override);
  return overrides;
}

function labelsOf(
  options: Resolved,
  days: LocalDay[],
  meters: MeterFeed[],
  feedDays: FeedDay[],
): LabelsDocument {
  const labels: FeedLabel[] = [];
  const outages: FeedOutage[] = [];
  for (const meter of meters) {
    meter.events.forEach((event, dayIndex) => {
      if (event === null) return;
      const startMs = (days[dayIndex]?.slots[event.at] as Slot).startMs;
      const span = {
        meterId: meter.plan.id,
        channel: LABELLED_CHANNEL,
        intervalStartUtc: formatUtcSeconds(startMs),
        intervals: event.length,
      };
      if (event.kind === 'outage') outages.push(span);
      else
        labels.push({
          ...span,
          kind: event.kind,
          expectedDetectors: [...EXPECTED_DETECTORS[event.kind]],
        });
    });
  }
  const firstSlot = days[0]?.slots[0] as Slot;
  const lastDay = days[days.length - 1] as LocalDay;
  const lastSlot = lastDay.slots[lastDay.slots.length - 1] as Slot;
  return {
    format: LABELS_FORMAT,
    seed: options.seed,
    clean: options.clean,
    timeZone: options.timeZone,
    startDate: options.startDate,
    days: options.days,
    intervalSeconds: LABELLED_INTERVAL_SECONDS,
    fromUtc: formatUtcSeconds(firstSlot.startMs),
    toUtc: formatUtcSeconds(lastSlot.startMs + INTERVAL_MS),
    readings: feedDays.reduce((sum, day) => sum + day.records.length, 0),
    meters: meters.map((meter) => ({
      meterId: meter.plan.id,
      profile: meter.plan.commercial ? 'commercial' : 'residential',
    })),
    labels,
    outages,
  };
}

/** Every day's records as NDJSON, in day order: the feed file `amisync ingest` reads. */
export function* labelledFeedNdjson(feed: LabelledFeed): Generator<string> {
  for (const day of feed.days) yield* toNdjson(day.records);
}

/** The labels file's text: stable key order, two-space indent, a final newline. */
export function labelsJson(labels: LabelsDocument): string {
  return `${JSON.stringify(labels, null, 2)}\n`;
}
