/**
 * A stream's statistics for the detectors, in ONE compact, versioned blob with a fixed layout:
 * loaded once and written once per stream per batch, in the batch's transaction. Each accepted
 * reading costs O(1): a streaming mean and variance for its local hour of the week (168 cells), a
 * bounded log-scale histogram (quantile sketch) for the median, MAD and quartiles, the local day's
 * running total and three highest values, the average daily use, and the current zero and flat
 * runs.
 *
 * Layout version 1 (little-endian, 2,528 bytes):
 *   bytes    0..255  32 float64 header slots (H_* below; NaN means "none yet")
 *   bytes  256..2271 168 cells x 3 float32: count (capped), mean, population variance
 *   bytes 2272..2527 64 float32 histogram bins (bin 0: values <= 0; bin i: up to BASE * GROWTH^i)
 * Values are in the reading's unit (kWh on electricity channels), as floats: detection judges,
 * it never bills, so exact integers are not needed here.
 *
 * Counts are capped so that the profile forgets: once a cell has CELL_SAMPLES_MAX samples each new
 * one weighs 1/CELL_SAMPLES_MAX (an exponentially weighted mean and variance), and the histogram
 * halves every bin when it reaches SKETCH_COUNT_MAX. Every step is a fixed sequence of float
 * operations, so the same readings learnt in the same order give the same bytes, whatever the
 * batches they arrived in.
 */
import assert from 'node:assert/strict';

import { HOURS_PER_WEEK } from './local-calendar.js';
import { VALUE_MICRO_PER_UNIT } from './reading.js';

export const STREAM_PROFILE_LAYOUT = 1;
const HEADER_SLOTS = 32;
const CELL_FIELDS = 3;
export const SKETCH_BINS = 64;
const BODY_FLOATS = HOURS_PER_WEEK * CELL_FIELDS + SKETCH_BINS;
export const STREAM_PROFILE_BYTES = HEADER_SLOTS * 8 + BODY_FLOATS * 4;
const SKETCH_OFFSET = HOURS_PER_WEEK * CELL_FIELDS;

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

const H_LAYOUT = 0;
const H_LEARNED = 1;
const H_NEWEST_MS = 2;
const H_INTERVAL_SECONDS = 3;
const H_DAY = 4;
const H_DAY_TOTAL = 5;
const H_DAY_COUNT = 6;
const H_DAY_OUTAGE = 7;
const H_TOP1 = 8;
const H_TOP2 = 9;
const H_TOP3 = 10;
const H_PREVIOUS_THIRD = 11;
const H_DAYS_DONE = 12;
const H_DAILY_MEAN = 13;
const H_DAILY_COUNT = 14;
const H_ZERO_RUN = 15;
const H_FLAT_VALUE_MICRO = 16;
const H_FLAT_RUN = 17;
const H_SKETCH_TOTAL = 18;
const H_Q1 = 19;
const H_MEDIAN = 20;
const H_Q3 = 21;
const H_MAD = 22;
const H_QUANTILES_AT = 23;

/** What a profile learns from one accepted reading (built by the inspection, applied on accept). */
export interface ProfileUpdate {
  readonly valueMicro: number;
  readonly intervalStartMs: number;
  readonly intervalSeconds: number;
  readonly hourOfWeek: number;
  readonly localDay: number;
  readonly outage: boolean;
}

export class StreamProfile {
  readonly #memory: Uint8Array;
  readonly #header: Float64Array;
  readonly #body: Float32Array;

  /** `memory` is the profile's own: nothing else writes it. */
  private constructor(memory: Uint8Array) {
    // A plain view, not the pooled Buffer: Buffer#slice shares memory, Uint8Array#slice copies.
    this.#memory = new Uint8Array(memory.buffer, memory.byteOffset, memory.byteLength);
    this.#header = new Float64Array(memory.buffer, memory.byteOffset, HEADER_SLOTS);
    this.#body = new Float32Array(memory.buffer, memory.byteOffset + HEADER_SLOTS * 8, BODY_FLOATS);
  }

  /**
   * Memory for one profile. Node hands out buffers this small from a shared pool (8-byte aligned,
   * as the float64 header needs), so a batch of a thousand streams allocates a few hundred
   * ArrayBuffers instead of a thousand, which the garbage collector notices.
   */
  static #allocate(): Uint8Array {
    return Buffer.allocUnsafe(STREAM_PROFILE_BYTES);
  }

  /** A stream with no history. */
  static empty(): StreamProfile {
    const profile = new StreamProfile(StreamProfile.#allocate().fill(0));
    const header = profile.#header;
    header.fill(Number.NaN);
    header[H_LAYOUT] = STREAM_PROFILE_LAYOUT;
    for (const slot of [H_LEARNED, H_DAY_TOTAL, H_DAY_COUNT, H_DAY_OUTAGE, H_DAYS_DONE]) {
      header[slot] = 0;
    }
    for (const slot of [H_DAILY_COUNT, H_ZERO_RUN, H_FLAT_RUN, H_SKETCH_TOTAL]) header[slot] = 0;
    return profile;
  }

  /**
   * A stored blob. One of another layout or size is a stream whose statistics start again: it is
   * never misread (an older amisync's layout is not converted; warm-up simply repeats).
   */
  static fromBytes(bytes: Uint8Array): StreamProfile {
    if (bytes.byteLength !== STREAM_PROFILE_BYTES) return StreamProfile.empty();
    const memory = StreamProfile.#allocate();
    memory.set(bytes);
    const profile = new StreamProfile(memory);
    return profile.#header[H_LAYOUT] === STREAM_PROFILE_LAYOUT ? profile : StreamProfile.empty();
  }

  /**
   * The blob, as a view of the profile's own memory (no copy): the pipeline saves a profile after
   * its batch's last reading and never changes it again.
   */
  toBytes(): Uint8Array {
    return this.#memory;
  }

  // ---------------------------------------------------------------------------------------------
  // Reads, for the detectors. Each is O(1).

  /** Readings learnt so far. */
  get learned(): number {
    return this.#header[H_LEARNED] as number;
  }

  /** Interval start of the newest reading learnt; null before the first. */
  get newestLearnedMs(): number | null {
    const ms = this.#header[H_NEWEST_MS] as number;
    return Number.isNaN(ms) ? null : ms;
  }

  /** Local days closed with at least one learnt reading, counting `localDay`'s predecessor. */
  completedDaysAt(localDay: number): number {
    const header = this.#header;
    const done = header[H_DAYS_DONE] as number;
    const day = header[H_DAY] as number;
    return localDay > day && (header[H_DAY_COUNT] as number) > 0 ? done + 1 : done;
  }

  cellCount(hourOfWeek: number): number {
    return this.#body[hourOfWeek * CELL_FIELDS] as number;
  }

  cellMean(hourOfWeek: number): number {
    return this.#body[hourOfWeek * CELL_FIELDS + 1] as number;
  }

  cellStdDev(hourOfWeek: number): number {
    return Math.sqrt(Math.max(0, this.#body[hourOfWeek * CELL_FIELDS + 2] as number));
  }

  /** Readings the histogram holds (after halvings). */
  get sketchCount(): number {
    return this.#header[H_SKETCH_TOTAL] as number;
  }

  /** Quartiles, median and median absolute deviation as last refreshed; NaN before any. */
  get q1(): number {
    return this.#header[H_Q1] as number;
  }
  get median(): number {
    return this.#header[H_MEDIAN] as number;
  }
  get q3(): number {
    return this.#header[H_Q3] as number;
  }
  get mad(): number {
    return this.#header[H_MAD] as number;
  }

  /** The day's total before this reading: 0 for a day the profile has not started. */
  dayTotalBefore(localDay: number): number {
    return localDay === this.#header[H_DAY] ? (this.#header[H_DAY_TOTAL] as number) : 0;
  }

  /** Learnt readings of the day and whether one carried the outage bit. */
  dayCountBefore(localDay: number): number {
    return localDay === this.#header[H_DAY] ? (this.#header[H_DAY_COUNT] as number) : 0;
  }
  dayHadOutage(localDay: number): boolean {
    return localDay === this.#header[H_DAY] && this.#header[H_DAY_OUTAGE] === 1;
  }

  /**
   * The recent typical maximum: the third highest reading of the last complete day, or of the day
   * so far when that is higher. NaN when no day has three readings yet.
   */
  recentThirdHighest(localDay: number): number {
    const header = this.#header;
    const day = header[H_DAY] as number;
    const ownThird = (header[H_DAY_COUNT] as number) >= 3 ? (header[H_TOP3] as number) : NaN;
    const previous = header[H_PREVIOUS_THIRD] as number;
    if (localDay === day) {
      if (Number.isNaN(previous)) return ownThird;
      return Number.isNaN(ownThird) ? previous : Math.max(previous, ownThird);
    }
    // A later day: the current day would close first and become the previous one.
    return localDay > day && !Number.isNaN(ownThird) ? ownThird : previous;
  }

  /** Mean of complete days' totals; NaN before the first complete day. */
  get averageDaily(): number {
    return this.#header[H_DAILY_COUNT] === 0 ? NaN : (this.#header[H_DAILY_MEAN] as number);
  }

  get zeroRun(): number {
    return this.#header[H_ZERO_RUN] as number;
  }

  /** The value (in micro-units) of the current run of equal non-zero readings; NaN for none. */
  get flatValueMicro(): number {
    return this.#header[H_FLAT_VALUE_MICRO] as number;
  }

  get flatRun(): number {
    return this.#header[H_FLAT_RUN] as number;
  }

  // ---------------------------------------------------------------------------------------------
  // Learning: only the pipeline calls this, for accepted readings newer than newestLearnedMs.

  learn(update: ProfileUpdate): void {
    const header = this.#header;
    const newest = header[H_NEWEST_MS] as number;
    assert.ok(
      Number.isNaN(newest) || update.intervalStartMs > newest,
      'a profile learns readings in time order',
    );
    this.#rollDay(update.localDay);
    const value = update.valueMicro / VALUE_MICRO_PER_UNIT;
    if (update.outage) header[H_DAY_OUTAGE] = 1;
    else this.#learnValue(update, value);
    header[H_DAY_TOTAL] = (header[H_DAY_TOTAL] as number) + value;
    header[H_DAY_COUNT] = (header[H_DAY_COUNT] as number) + 1;
    this.#insertTop(value);
    header[H_LEARNED] = (header[H_LEARNED] as number) + 1;
    header[H_NEWEST_MS] = update.intervalStartMs;
    header[H_INTERVAL_SECONDS] = update.intervalSeconds;
  }

  /** Cells, histogram and runs: not for outage readings, whose zeros say nothing of use. */
  #learnValue(update: ProfileUpdate, value: number): void {
    const header = this.#header;
    this.#learnCell(update.hourOfWeek, value);
    this.#learnSketch(value);
    header[H_ZERO_RUN] = update.valueMicro === 0 ? (header[H_ZERO_RUN] as number) + 1 : 0;
    if (update.valueMicro !== 0 && update.valueMicro === header[H_FLAT_VALUE_MICRO]) {
      header[H_FLAT_RUN] = (header[H_FLAT_RUN] as number) + 1;
    } else {
      header[H_FLAT_VALUE_MICRO] = update.valueMicro === 0 ? NaN : update.valueMicro;
      header[H_FLAT_RUN] = update.valueMicro === 0 ? 0 : 1;
    }
    const sinceRefresh = (header[H_LEARNED] as number) - (header[H_QUANTILES_AT] as number);
    if (!(sinceRefresh < QUANTILE_REFRESH_READINGS)) this.#refreshQuantiles();
  }

  #learnCell(hourOfWeek: number, value: number): void {
    const body = this.#body;
    const at = hourOfWeek * CELL_FIELDS;
    const count = Math.min((body[at] as number) + 1, CELL_SAMPLES_MAX);
    const mean = body[at + 1] as number;
    const variance = body[at + 2] as number;
    const delta = value - mean;
    const nextMean = mean + delta / count;
    body[at] = count;
    body[at + 1] = nextMean;
    body[at + 2] = variance + (delta * (value - nextMean) - variance) / count;
  }

  #learnSketch(value: number): void {
    const body = this.#body;
    const header = this.#header;
    const at = SKETCH_OFFSET + sketchBin(value);
    body[at] = (body[at] as number) + 1;
    let total = (header[H_SKETCH_TOTAL] as number) + 1;
    if (total >= SKETCH_COUNT_MAX) {
      total = 0;
      for (let bin = 0; bin < SKETCH_BINS; bin++) {
        const halved = (body[SKETCH_OFFSET + bin] as number) / 2;
        body[SKETCH_OFFSET + bin] = halved;
        total += body[SKETCH_OFFSET + bin] as number;
      }
    }
    header[H_SKETCH_TOTAL] = total;
  }

  #refreshQuantiles(): void {
    const header = this.#header;
    const bins = this.#body.subarray(SKETCH_OFFSET, SKETCH_OFFSET + SKETCH_BINS);
    const total = header[H_SKETCH_TOTAL] as number;
    header[H_QUANTILES_AT] = header[H_LEARNED] as number;
    if (total <= 0) return;
    const median = sketchQuantile(bins, total, 0.5);
    const q1 = sketchQuantile(bins, total, 0.25);
    const q3 = sketchQuantile(bins, total, 0.75);
    // Quartiles in one bin are closer than the sketch can tell apart: their spread counts as zero
    // (as a zero standard deviation does), rather than the width interpolation would invent.
    const oneBin = sketchBin(q1) === sketchBin(q3);
    header[H_Q1] = oneBin ? median : q1;
    header[H_MEDIAN] = median;
    header[H_Q3] = oneBin ? median : q3;
    header[H_MAD] = sketchMedianDeviation(bins, total, median);
  }

  #insertTop(value: number): void {
    const header = this.#header;
    const top1 = header[H_TOP1] as number;
    const top2 = header[H_TOP2] as number;
    if (Number.isNaN(top1) || value > top1) {
      header[H_TOP3] = top2;
      header[H_TOP2] = top1;
      header[H_TOP1] = value;
    } else if (Number.isNaN(top2) || value > top2) {
      header[H_TOP3] = top2;
      header[H_TOP2] = value;
    } else if (Number.isNaN(header[H_TOP3] as number) || value > (header[H_TOP3] as number)) {
      header[H_TOP3] = value;
    }
  }

  /** Closes the current day when a reading of a later local day arrives. */
  #rollDay(localDay: number): void {
    const header = this.#header;
    const day = header[H_DAY] as number;
    if (localDay === day) return;
    const count = header[H_DAY_COUNT] as number;
    if (!Number.isNaN(day) && count > 0) {
      header[H_DAYS_DONE] = (header[H_DAYS_DONE] as number) + 1;
      if (count >= 3) header[H_PREVIOUS_THIRD] = header[H_TOP3] as number;
      const expected = 86_400 / (header[H_INTERVAL_SECONDS] as number);
      if (count >= COMPLETE_DAY_SHARE * expected && header[H_DAY_OUTAGE] === 0) {
        const samples = Math.min((header[H_DAILY_COUNT] as number) + 1, DAILY_SAMPLES_MAX);
        const mean = header[H_DAILY_COUNT] === 0 ? 0 : (header[H_DAILY_MEAN] as number);
        header[H_DAILY_MEAN] = mean + ((header[H_DAY_TOTAL] as number) - mean) / samples;
        header[H_DAILY_COUNT] = samples;
      }
    }
    header[H_DAY] = localDay;
    header[H_DAY_TOTAL] = 0;
    header[H_DAY_COUNT] = 0;
    header[H_DAY_OUTAGE] = 0;
    header[H_TOP1] = NaN;
    header[H_TOP2] = NaN;
    header[H_TOP3] = NaN;
  }
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
function sketchQuantile(bins: Float32Array, total: number, q: number): number {
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
function sketchMedianDeviation(bins: Float32Array, total: number, median: number): number {
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
