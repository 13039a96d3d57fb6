/**
 * A stream's statistics for the detectors, in a compact, versioned layout of fixed size: loaded
 * once and saved once per stream per batch, in the batch's transaction. Each accepted reading
 * costs O(1): a streaming mean and standard deviation for its local hour of the week (168 cells),
 * a bounded log-scale histogram (quantile sketch) for the median, MAD and quartiles, the local
 * day's running totals (learnt, and held as anomalies) and three highest values, the average daily
 * use, and the current zero and flat runs.
 *
 * Layout version 3 (little-endian, 1,088 bytes in memory), stored in eight pieces: a head that
 * every reading changes and seven parts of one local weekday's 24 hour cells each, which only
 * that day's readings change. A batch saves the head and the parts it changed: in an in-order
 * feed a batch of 10 readings per stream touches one part, not seven (see docs/detectors.md).
 *   head, bytes 0..247:
 *     bytes    0..39    5 float64 slots (W_* below: exact integers and times)
 *     bytes   40..119  20 float32 slots (N_* below; NaN means "none yet")
 *     bytes  120..247  64 histogram bins (uint16; bin 0: values <= 0; bin i: up to BASE * GROWTH^i)
 *   part d (0..6, Monday first), bytes 248 + 120 d ..: for the hours 24 d .. 24 d + 23,
 *     24 cell counts (uint8, capped), then 24 cells x 2 sixteen-bit floats: mean, population
 *     standard deviation
 * A part never stored reads as zeros: cells with no samples.
 * Values are in the reading's unit (kWh on electricity channels), as floats: detection judges,
 * it never bills, so exact integers are not needed here. A cell's mean and deviation are kept to
 * about 0.1% (a sign, a six-bit exponent and a nine-bit fraction: see encodeProfileFloat), across
 * 5e-10 to 8e9 in the reading's unit, so no meter's values fall outside the range.
 *
 * Counts are capped so that the profile forgets: once a cell has CELL_SAMPLES_MAX samples each new
 * one weighs 1/CELL_SAMPLES_MAX (an exponentially weighted mean and variance), and the histogram
 * halves every bin (rounding down) when it reaches SKETCH_COUNT_MAX. Every step is a fixed
 * sequence of float operations, so the same readings learnt in the same order give the same bytes,
 * whatever the batches they arrived in. (Layout 2 held the same figures in one 1,088-byte blob in
 * another order; migration 18 splits stored layout-2 blobs into this layout. Layout 1, 2,528
 * bytes of float32 cells, started again, as any foreign blob does.)
 */
import assert from 'node:assert/strict';

import { HOURS_PER_WEEK } from './local-calendar.js';
import { VALUE_MICRO_PER_UNIT } from './reading.js';

export const STREAM_PROFILE_LAYOUT = 3;
const WIDE_SLOTS = 5;
const NARROW_SLOTS = 20;
export const SKETCH_BINS = 64;
const NARROW_OFFSET = WIDE_SLOTS * 8;
const SKETCH_OFFSET = NARROW_OFFSET + NARROW_SLOTS * 4;
/** The head: what every learnt or held reading changes. */
export const STREAM_PROFILE_HEAD_BYTES = SKETCH_OFFSET + SKETCH_BINS * 2;
/** Hours of the week per part: a local weekday. */
const PART_HOURS = 24;
export const STREAM_PROFILE_PARTS = HOURS_PER_WEEK / PART_HOURS;
/** Part numbers, for loading every part. */
export const STREAM_PROFILE_PART_NUMBERS: readonly number[] = Object.freeze(
  Array.from({ length: STREAM_PROFILE_PARTS }, (_, part) => part),
);
/** A part: its hours' counts, then their cells (two sixteen-bit floats each). */
export const STREAM_PROFILE_PART_BYTES = PART_HOURS + PART_HOURS * 2 * 2;
export const STREAM_PROFILE_BYTES =
  STREAM_PROFILE_HEAD_BYTES + STREAM_PROFILE_PARTS * STREAM_PROFILE_PART_BYTES;
/** Per hour of the week: its count's byte, and its mean's sixteen-bit index (deviation next). */
const COUNT_AT = new Uint16Array(HOURS_PER_WEEK);
const CELL_AT = new Uint16Array(HOURS_PER_WEEK);
for (let hour = 0; hour < HOURS_PER_WEEK; hour++) {
  const part =
    STREAM_PROFILE_HEAD_BYTES + Math.floor(hour / PART_HOURS) * STREAM_PROFILE_PART_BYTES;
  COUNT_AT[hour] = part + (hour % PART_HOURS);
  CELL_AT[hour] = (part + PART_HOURS + (hour % PART_HOURS) * 4) / 2;
}

/** A cell's samples are counted up to this (8 weeks of 15-minute readings), then forgotten. */
export const CELL_SAMPLES_MAX = 32;
/** The histogram halves every bin when it holds this many readings (8 weeks of 15 minutes). */
export const SKETCH_COUNT_MAX = 5_376;
/** Quartiles, median and MAD are recomputed from the histogram every this many readings. */
export const QUANTILE_REFRESH_READINGS = 96;
/** Days averaged for the average daily use, then forgotten like the cells. */
export const DAILY_SAMPLES_MAX = 28;
/** A day with at least this share of its expected intervals counts as complete. */
export const COMPLETE_DAY_SHARE = 0.9;
/** The histogram's first positive bin ends here; each next bin is GROWTH times wider. */
const SKETCH_BASE = 0.005;
const SKETCH_GROWTH = 1.22;
const LOG_GROWTH = Math.log(SKETCH_GROWTH);

// Wide slots (float64): what must stay exact.
const W_LAYOUT = 0;
const W_LEARNED = 1;
const W_NEWEST_MS = 2;
const W_FLAT_VALUE_MICRO = 3;
const W_QUANTILES_AT = 4;
// Narrow slots (float32): small integers (exact) and figures that only judge.
const N_INTERVAL_SECONDS = 0;
const N_DAY = 1;
const N_DAY_TOTAL = 2;
const N_DAY_COUNT = 3;
const N_DAY_OUTAGE = 4;
const N_TOP1 = 5;
const N_TOP2 = 6;
const N_TOP3 = 7;
const N_PREVIOUS_THIRD = 8;
const N_DAYS_DONE = 9;
const N_DAILY_MEAN = 10;
const N_DAILY_COUNT = 11;
const N_ZERO_RUN = 12;
const N_FLAT_RUN = 13;
const N_SKETCH_TOTAL = 14;
const N_Q1 = 15;
const N_MEDIAN = 16;
const N_Q3 = 17;
const N_MAD = 18;
const N_DAY_HELD = 19;

/** What a profile learns from one accepted reading (built by the inspection, applied on accept). */
export interface ProfileUpdate {
  readonly valueMicro: number;
  readonly intervalStartMs: number;
  readonly intervalSeconds: number;
  readonly hourOfWeek: number;
  readonly localDay: number;
  readonly outage: boolean;
}

/** A profile as stored: its head and the parts stored (an absent part has no samples). */
export interface StoredProfile {
  readonly bytes: Uint8Array;
  readonly parts?: ReadonlyMap<number, Uint8Array> | undefined;
}

export class StreamProfile {
  readonly #memory: Uint8Array;
  readonly #wide: Float64Array;
  readonly #narrow: Float32Array;
  /** Cell counts at COUNT_AT (the whole memory, as bytes). */
  readonly #counts: Uint8Array;
  /** Per hour of the week, at CELL_AT: [mean, standard deviation] as encodeProfileFloat gives. */
  readonly #cells: Uint16Array;
  readonly #sketch: Uint16Array;
  /** Parts changed since the profile was loaded, one bit each. */
  #changedParts = 0;

  /** `memory` is the profile's own: nothing else writes it. */
  private constructor(memory: Uint8Array) {
    // A plain view, not the pooled Buffer: Buffer#slice shares memory, Uint8Array#slice copies.
    const { buffer, byteOffset } = memory;
    this.#memory = new Uint8Array(buffer, byteOffset, memory.byteLength);
    this.#wide = new Float64Array(buffer, byteOffset, WIDE_SLOTS);
    this.#narrow = new Float32Array(buffer, byteOffset + NARROW_OFFSET, NARROW_SLOTS);
    this.#counts = this.#memory;
    this.#cells = new Uint16Array(buffer, byteOffset, STREAM_PROFILE_BYTES / 2);
    this.#sketch = new Uint16Array(buffer, byteOffset + SKETCH_OFFSET, SKETCH_BINS);
  }

  /**
   * Memory for one profile. Node hands out buffers this small from a shared pool (8-byte aligned,
   * as the float64 slots need), so a batch of a thousand streams allocates a few hundred
   * ArrayBuffers instead of a thousand, which the garbage collector notices.
   */
  static #allocate(): Uint8Array {
    return Buffer.allocUnsafe(STREAM_PROFILE_BYTES);
  }

  /** A stream with no history. */
  static empty(): StreamProfile {
    const profile = new StreamProfile(StreamProfile.#allocate().fill(0));
    const wide = profile.#wide;
    wide[W_LAYOUT] = STREAM_PROFILE_LAYOUT;
    wide[W_NEWEST_MS] = NaN;
    wide[W_FLAT_VALUE_MICRO] = NaN;
    const narrow = profile.#narrow;
    for (const slot of [N_INTERVAL_SECONDS, N_DAY, N_TOP1, N_TOP2, N_TOP3, N_PREVIOUS_THIRD]) {
      narrow[slot] = NaN;
    }
    for (const slot of [N_DAILY_MEAN, N_Q1, N_MEDIAN, N_Q3, N_MAD]) narrow[slot] = NaN;
    return profile;
  }

  /**
   * A stored profile: its head and its stored parts. A head of another layout or size is a stream
   * whose statistics start again: it is never misread. A part of another size reads as no samples.
   */
  static fromStored(stored: StoredProfile): StreamProfile {
    const head = stored.bytes;
    if (head.byteLength !== STREAM_PROFILE_HEAD_BYTES) return StreamProfile.empty();
    const memory = StreamProfile.#allocate();
    memory.set(head);
    memory.fill(0, STREAM_PROFILE_HEAD_BYTES);
    for (const [part, bytes] of stored.parts ?? []) {
      if (
        part >= 0 &&
        part < STREAM_PROFILE_PARTS &&
        bytes.byteLength === STREAM_PROFILE_PART_BYTES
      ) {
        memory.set(bytes, partOffset(part));
      }
    }
    const profile = new StreamProfile(memory);
    return profile.#wide[W_LAYOUT] === STREAM_PROFILE_LAYOUT ? profile : StreamProfile.empty();
  }

  /** The whole profile in one piece (toBytes' output), as for comparing two profiles. */
  static fromBytes(bytes: Uint8Array): StreamProfile {
    if (bytes.byteLength !== STREAM_PROFILE_BYTES) return StreamProfile.empty();
    const parts = new Map<number, Uint8Array>();
    for (let part = 0; part < STREAM_PROFILE_PARTS; part++) {
      parts.set(part, bytes.subarray(partOffset(part), partOffset(part + 1)));
    }
    return StreamProfile.fromStored({ bytes: bytes.subarray(0, STREAM_PROFILE_HEAD_BYTES), parts });
  }

  /** A stored head's newest interval start seen, without loading it; null for none or foreign. */
  static newestOf(bytes: Uint8Array): number | null {
    if (bytes.byteLength !== STREAM_PROFILE_HEAD_BYTES) return null;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (view.getFloat64(W_LAYOUT * 8, true) !== STREAM_PROFILE_LAYOUT) return null;
    const ms = view.getFloat64(W_NEWEST_MS * 8, true);
    return Number.isNaN(ms) ? null : ms;
  }

  /**
   * The whole profile in one piece, as a view of its own memory (no copy): for comparisons. The
   * store keeps the head and the parts apart (headBytes, changedParts).
   */
  toBytes(): Uint8Array {
    return this.#memory;
  }

  /**
   * The head, as a view of the profile's own memory (no copy): the pipeline saves a profile after
   * its batch's last reading and never changes it again.
   */
  headBytes(): Uint8Array {
    return this.#memory.subarray(0, STREAM_PROFILE_HEAD_BYTES);
  }

  /** The parts changed since the profile was loaded, by number, as views (no copy). */
  changedParts(): Map<number, Uint8Array> {
    const parts = new Map<number, Uint8Array>();
    for (let part = 0; part < STREAM_PROFILE_PARTS; part++) {
      if ((this.#changedParts & (1 << part)) !== 0) {
        parts.set(part, this.#memory.subarray(partOffset(part), partOffset(part + 1)));
      }
    }
    return parts;
  }

  // ---------------------------------------------------------------------------------------------
  // Reads, for the detectors. Each is O(1).

  /** Readings learnt so far. */
  get learned(): number {
    return this.#wide[W_LEARNED] as number;
  }

  /** Interval start of the newest reading learnt; null before the first. */
  get newestLearnedMs(): number | null {
    const ms = this.#wide[W_NEWEST_MS] as number;
    return Number.isNaN(ms) ? null : ms;
  }

  /** Local days closed with at least one learnt reading, counting `localDay`'s predecessor. */
  completedDaysAt(localDay: number): number {
    const narrow = this.#narrow;
    const done = narrow[N_DAYS_DONE] as number;
    const day = narrow[N_DAY] as number;
    return localDay > day && (narrow[N_DAY_COUNT] as number) > 0 ? done + 1 : done;
  }

  cellCount(hourOfWeek: number): number {
    return this.#counts[COUNT_AT[hourOfWeek] as number] as number;
  }

  cellMean(hourOfWeek: number): number {
    return decodeProfileFloat(this.#cells[CELL_AT[hourOfWeek] as number] as number);
  }

  cellStdDev(hourOfWeek: number): number {
    return decodeProfileFloat(this.#cells[(CELL_AT[hourOfWeek] as number) + 1] as number);
  }

  /** Readings the histogram holds (after halvings). */
  get sketchCount(): number {
    return this.#narrow[N_SKETCH_TOTAL] as number;
  }

  /** Quartiles, median and median absolute deviation as last refreshed; NaN before any. */
  get q1(): number {
    return this.#narrow[N_Q1] as number;
  }
  get median(): number {
    return this.#narrow[N_MEDIAN] as number;
  }
  get q3(): number {
    return this.#narrow[N_Q3] as number;
  }
  get mad(): number {
    return this.#narrow[N_MAD] as number;
  }

  /** The day's total before this reading: 0 for a day the profile has not started. */
  dayTotalBefore(localDay: number): number {
    return localDay === this.#narrow[N_DAY] ? (this.#narrow[N_DAY_TOTAL] as number) : 0;
  }

  /** Learnt readings of the day and whether one carried the outage bit. */
  dayCountBefore(localDay: number): number {
    return localDay === this.#narrow[N_DAY] ? (this.#narrow[N_DAY_COUNT] as number) : 0;
  }
  /** The day's readings held as anomalies so far (in time order, not learnt): their total. */
  dayHeldBefore(localDay: number): number {
    return localDay === this.#narrow[N_DAY] ? (this.#narrow[N_DAY_HELD] as number) : 0;
  }
  dayHadOutage(localDay: number): boolean {
    return localDay === this.#narrow[N_DAY] && this.#narrow[N_DAY_OUTAGE] === 1;
  }

  /**
   * The recent typical maximum: the third highest reading of the last complete day, or of the day
   * so far when that is higher. NaN when no day has three readings yet.
   */
  recentThirdHighest(localDay: number): number {
    const narrow = this.#narrow;
    const day = narrow[N_DAY] as number;
    const ownThird = (narrow[N_DAY_COUNT] as number) >= 3 ? (narrow[N_TOP3] as number) : NaN;
    const previous = narrow[N_PREVIOUS_THIRD] as number;
    if (localDay === day) {
      if (Number.isNaN(previous)) return ownThird;
      return Number.isNaN(ownThird) ? previous : Math.max(previous, ownThird);
    }
    // A later day: the current day would close first and become the previous one.
    return localDay > day && !Number.isNaN(ownThird) ? ownThird : previous;
  }

  /** Mean of complete days' totals; NaN before the first complete day. */
  get averageDaily(): number {
    return this.#narrow[N_DAILY_COUNT] === 0 ? NaN : (this.#narrow[N_DAILY_MEAN] as number);
  }

  get zeroRun(): number {
    return this.#narrow[N_ZERO_RUN] as number;
  }

  /** The value (in micro-units) of the current run of equal non-zero readings; NaN for none. */
  get flatValueMicro(): number {
    return this.#wide[W_FLAT_VALUE_MICRO] as number;
  }

  get flatRun(): number {
    return this.#narrow[N_FLAT_RUN] as number;
  }

  // ---------------------------------------------------------------------------------------------
  // Learning: only the pipeline calls this, for accepted readings newer than newestLearnedMs.

  learn(update: ProfileUpdate): void {
    const wide = this.#wide;
    const narrow = this.#narrow;
    const newest = wide[W_NEWEST_MS] as number;
    assert.ok(
      Number.isNaN(newest) || update.intervalStartMs > newest,
      'a profile learns readings in time order',
    );
    this.#rollDay(update.localDay);
    const value = update.valueMicro / VALUE_MICRO_PER_UNIT;
    if (update.outage) narrow[N_DAY_OUTAGE] = 1;
    else this.#learnValue(update, value);
    narrow[N_DAY_TOTAL] = (narrow[N_DAY_TOTAL] as number) + value;
    narrow[N_DAY_COUNT] = (narrow[N_DAY_COUNT] as number) + 1;
    this.#insertTop(value);
    wide[W_LEARNED] = (wide[W_LEARNED] as number) + 1;
    wide[W_NEWEST_MS] = update.intervalStartMs;
    narrow[N_INTERVAL_SECONDS] = update.intervalSeconds;
  }

  /**
   * A reading newer than any learnt that the detectors held: it teaches nothing, but it was used
   * that day (the daily rules judge the day's whole use, held readings included), and it is the
   * newest reading seen, so anything at or before it is backfill from now on.
   */
  noteHeld(update: ProfileUpdate): void {
    const wide = this.#wide;
    const newest = wide[W_NEWEST_MS] as number;
    assert.ok(
      Number.isNaN(newest) || update.intervalStartMs > newest,
      'a profile notes readings in time order',
    );
    this.#rollDay(update.localDay);
    const narrow = this.#narrow;
    narrow[N_DAY_HELD] = (narrow[N_DAY_HELD] as number) + update.valueMicro / VALUE_MICRO_PER_UNIT;
    wide[W_NEWEST_MS] = update.intervalStartMs;
  }

  /** Cells, histogram and runs: not for outage readings, whose zeros say nothing of use. */
  #learnValue(update: ProfileUpdate, value: number): void {
    const wide = this.#wide;
    const narrow = this.#narrow;
    this.#learnCell(update.hourOfWeek, value);
    this.#learnSketch(value);
    narrow[N_ZERO_RUN] = update.valueMicro === 0 ? (narrow[N_ZERO_RUN] as number) + 1 : 0;
    if (update.valueMicro !== 0 && update.valueMicro === wide[W_FLAT_VALUE_MICRO]) {
      narrow[N_FLAT_RUN] = (narrow[N_FLAT_RUN] as number) + 1;
    } else {
      wide[W_FLAT_VALUE_MICRO] = update.valueMicro === 0 ? NaN : update.valueMicro;
      narrow[N_FLAT_RUN] = update.valueMicro === 0 ? 0 : 1;
    }
    const sinceRefresh = (wide[W_LEARNED] as number) - (wide[W_QUANTILES_AT] as number);
    if (!(sinceRefresh < QUANTILE_REFRESH_READINGS)) this.#refreshQuantiles();
  }

  #learnCell(hourOfWeek: number, value: number): void {
    const cells = this.#cells;
    const at = CELL_AT[hourOfWeek] as number;
    const countAt = COUNT_AT[hourOfWeek] as number;
    const count = Math.min((this.#counts[countAt] as number) + 1, CELL_SAMPLES_MAX);
    const mean = decodeProfileFloat(cells[at] as number);
    const deviation = decodeProfileFloat(cells[at + 1] as number);
    const variance = deviation * deviation;
    const delta = value - mean;
    const nextMean = mean + delta / count;
    const nextVariance = variance + (delta * (value - nextMean) - variance) / count;
    this.#counts[countAt] = count;
    this.#changedParts |= 1 << Math.floor(hourOfWeek / PART_HOURS);
    cells[at] = encodeProfileFloat(nextMean);
    cells[at + 1] = encodeProfileFloat(Math.sqrt(Math.max(0, nextVariance)));
  }

  #learnSketch(value: number): void {
    const sketch = this.#sketch;
    const bin = sketchBin(value);
    sketch[bin] = (sketch[bin] as number) + 1;
    let total = (this.#narrow[N_SKETCH_TOTAL] as number) + 1;
    if (total >= SKETCH_COUNT_MAX) {
      total = 0;
      for (let at = 0; at < SKETCH_BINS; at++) {
        sketch[at] = (sketch[at] as number) >>> 1;
        total += sketch[at] as number;
      }
    }
    this.#narrow[N_SKETCH_TOTAL] = total;
  }

  #refreshQuantiles(): void {
    const narrow = this.#narrow;
    const bins = this.#sketch;
    const total = narrow[N_SKETCH_TOTAL] as number;
    this.#wide[W_QUANTILES_AT] = this.#wide[W_LEARNED] as number;
    if (total <= 0) return;
    const median = sketchQuantile(bins, total, 0.5);
    const q1 = sketchQuantile(bins, total, 0.25);
    const q3 = sketchQuantile(bins, total, 0.75);
    // Quartiles in one bin are closer than the sketch can tell apart: their spread counts as zero
    // (as a zero standard deviation does), rather than the width interpolation would invent.
    const oneBin = sketchBin(q1) === sketchBin(q3);
    narrow[N_Q1] = oneBin ? median : q1;
    narrow[N_MEDIAN] = median;
    narrow[N_Q3] = oneBin ? median : q3;
    narrow[N_MAD] = sketchMedianDeviation(bins, total, median);
  }

  #insertTop(value: number): void {
    const narrow = this.#narrow;
    const top1 = narrow[N_TOP1] as number;
    const top2 = narrow[N_TOP2] as number;
    if (Number.isNaN(top1) || value > top1) {
      narrow[N_TOP3] = top2;
      narrow[N_TOP2] = top1;
      narrow[N_TOP1] = value;
    } else if (Number.isNaN(top2) || value > top2) {
      narrow[N_TOP3] = top2;
      narrow[N_TOP2] = value;
    } else if (Number.isNaN(narrow[N_TOP3] as number) || value > (narrow[N_TOP3] as number)) {
      narrow[N_TOP3] = value;
    }
  }

  /** Closes the current day when a reading of a later local day arrives. */
  #rollDay(localDay: number): void {
    const narrow = this.#narrow;
    const day = narrow[N_DAY] as number;
    if (localDay === day) return;
    const count = narrow[N_DAY_COUNT] as number;
    if (!Number.isNaN(day) && count > 0) {
      narrow[N_DAYS_DONE] = (narrow[N_DAYS_DONE] as number) + 1;
      if (count >= 3) narrow[N_PREVIOUS_THIRD] = narrow[N_TOP3] as number;
      const expected = 86_400 / (narrow[N_INTERVAL_SECONDS] as number);
      if (count >= COMPLETE_DAY_SHARE * expected && narrow[N_DAY_OUTAGE] === 0) {
        const samples = Math.min((narrow[N_DAILY_COUNT] as number) + 1, DAILY_SAMPLES_MAX);
        const mean = narrow[N_DAILY_COUNT] === 0 ? 0 : (narrow[N_DAILY_MEAN] as number);
        narrow[N_DAILY_MEAN] = mean + ((narrow[N_DAY_TOTAL] as number) - mean) / samples;
        narrow[N_DAILY_COUNT] = samples;
      }
    }
    narrow[N_DAY] = localDay;
    narrow[N_DAY_TOTAL] = 0;
    narrow[N_DAY_HELD] = 0;
    narrow[N_DAY_COUNT] = 0;
    narrow[N_DAY_OUTAGE] = 0;
    narrow[N_TOP1] = NaN;
    narrow[N_TOP2] = NaN;
    narrow[N_TOP3] = NaN;
  }
}

function partOffset(part: number): number {
  return STREAM_PROFILE_HEAD_BYTES + part * STREAM_PROFILE_PART_BYTES;
}

const floatScratch = new Float32Array(1);
const bitsScratch = new Uint32Array(floatScratch.buffer);
/** float32's exponent bias, and this format's (six bits: 1..63; 0 is zero). */
const FLOAT32_BIAS = 127;
const PROFILE_FLOAT_BIAS = 31;

/**
 * A cell figure in sixteen bits: a sign, a six-bit exponent (2^-30 .. 2^32) and a nine-bit
 * fraction, rounded to nearest (relative error at most 2^-10). Smaller magnitudes are zero,
 * larger ones the largest value. A fixed sequence of integer steps, so it is deterministic.
 */
export function encodeProfileFloat(value: number): number {
  floatScratch[0] = value;
  const bits = bitsScratch[0] as number;
  const sign = (bits >>> 16) & 0x8000;
  let exponent = ((bits >>> 23) & 0xff) - FLOAT32_BIAS + PROFILE_FLOAT_BIAS;
  let fraction = ((bits & 0x7fffff) + 0x2000) >>> 14;
  if (fraction === 0x200) {
    fraction = 0;
    exponent += 1;
  }
  if (exponent <= 0 || Number.isNaN(value)) return 0;
  if (exponent > 63) return sign | 0x7fff;
  return sign | (exponent << 9) | fraction;
}

export function decodeProfileFloat(encoded: number): number {
  const exponent = (encoded >>> 9) & 0x3f;
  if (exponent === 0) return 0;
  bitsScratch[0] =
    (((encoded & 0x8000) << 16) |
      ((exponent - PROFILE_FLOAT_BIAS + FLOAT32_BIAS) << 23) |
      ((encoded & 0x1ff) << 14)) >>>
    0;
  return floatScratch[0] as number;
}

/** Bin 0 holds values <= 0; bin i >= 1 values up to SKETCH_BASE * SKETCH_GROWTH^(i-1). */
export function sketchBin(value: number): number {
  if (!(value > 0)) return 0;
  if (value <= SKETCH_BASE) return 1;
  const bin = 2 + Math.floor(Math.log(value / SKETCH_BASE) / LOG_GROWTH);
  return Math.min(bin, SKETCH_BINS - 1);
}

/** Lower and upper bound of a bin's values. */
function binLow(bin: number): number {
  return bin <= 1 ? 0 : SKETCH_BASE * SKETCH_GROWTH ** (bin - 2);
}
function binHigh(bin: number): number {
  return bin === 0 ? 0 : SKETCH_BASE * SKETCH_GROWTH ** (bin - 1);
}

/** The q-quantile, interpolated linearly inside the bin where the cumulative count crosses it. */
function sketchQuantile(bins: Uint16Array, total: number, q: number): number {
  const target = q * total;
  let below = 0;
  for (let bin = 0; bin < bins.length; bin++) {
    const count = bins[bin] as number;
    if (count > 0 && below + count >= target) {
      const share = (target - below) / count;
      return binLow(bin) + share * (binHigh(bin) - binLow(bin));
    }
    below += count;
  }
  return binHigh(bins.length - 1);
}

/** The median of |x - median|, each bin taken at its midpoint. */
function sketchMedianDeviation(bins: Uint16Array, total: number, median: number): number {
  const deviations: [number, number][] = [];
  for (let bin = 0; bin < bins.length; bin++) {
    const count = bins[bin] as number;
    if (count > 0) deviations.push([Math.abs((binLow(bin) + binHigh(bin)) / 2 - median), count]);
  }
  deviations.sort((left, right) => left[0] - right[0]);
  let below = 0;
  for (const [deviation, count] of deviations) {
    below += count;
    if (below >= total / 2) return deviation;
  }
  return 0;
}
