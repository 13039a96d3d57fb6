// Goal: a stream's profile is one fixed-size versioned blob that learns in time order only, gives
// exact streaming means and variances per hour of the week, stays bounded, and gives the same
// bytes whether its readings were learnt in one batch or across saved and reloaded batches.
// Method: learn fixed-sequence readings into real profiles, compare figures and bytes.
import { describe, expect, it } from 'vitest';
import { DAY_SLOTS, history, quietKwh, reading, teach } from '../test-support/detector-rig.js';
import {
  CELL_SAMPLES_MAX,
  decodeProfileFloat,
  encodeProfileFloat,
  SKETCH_COUNT_MAX,
  STREAM_PROFILE_BYTES,
  STREAM_PROFILE_LAYOUT,
  StreamProfile,
} from './stream-profile.js';

describe('StreamProfile', () => {
  it('is one blob of a fixed size that round-trips, and starts again from a foreign one', () => {
    const profile = history(3 * DAY_SLOTS, quietKwh);
    const bytes = profile.toBytes();
    expect(bytes.byteLength).toBe(STREAM_PROFILE_BYTES);
    expect(new Float64Array(bytes.buffer, bytes.byteOffset, 1)[0]).toBe(STREAM_PROFILE_LAYOUT);
    const copy = StreamProfile.fromBytes(bytes.slice());
    expect(copy.toBytes()).toEqual(bytes);
    expect(copy.learned).toBe(3 * DAY_SLOTS);
    expect(StreamProfile.fromBytes(bytes.slice(0, 100)).learned).toBe(0);
    const otherLayout = new Uint8Array(bytes);
    new Float64Array(otherLayout.buffer, 0, 1)[0] = STREAM_PROFILE_LAYOUT + 1;
    expect(StreamProfile.fromBytes(otherLayout).newestLearnedMs).toBeNull();
  });

  it('keeps the mean and population deviation of each hour of the week to 0.1%', () => {
    // Two weeks: each hour of the week has 8 readings (4 per hour, 2 weeks).
    const profile = history(14 * DAY_SLOTS, quietKwh);
    const hourZero: number[] = [];
    // Slot 0 is Sunday 00:00 UTC; Monday 00:00-01:00 (hour of week 0) is slots 96..99 and 768..771.
    for (const slot of [96, 97, 98, 99, 768, 769, 770, 771]) hourZero.push(quietKwh(slot));
    const mean = hourZero.reduce((a, b) => a + b, 0) / hourZero.length;
    const variance = hourZero.reduce((a, b) => a + (b - mean) ** 2, 0) / hourZero.length;
    expect(profile.cellCount(0)).toBe(8);
    // Each step rounds to the cell's sixteen-bit float (2^-10 relative), eight steps here.
    expect(Math.abs(profile.cellMean(0) - mean)).toBeLessThan(mean * 8 * 2 ** -10);
    const deviation = Math.sqrt(variance);
    expect(Math.abs(profile.cellStdDev(0) - deviation)).toBeLessThan(mean * 8 * 2 ** -10);
    expect(deviation).toBeGreaterThan(0);
  });

  it('forgets: counts stop at their cap and the histogram halves', () => {
    const weeks = Math.ceil(CELL_SAMPLES_MAX / 4) + 2;
    const profile = history(weeks * 7 * DAY_SLOTS, quietKwh);
    expect(profile.cellCount(5)).toBe(CELL_SAMPLES_MAX);
    expect(profile.sketchCount).toBeLessThan(SKETCH_COUNT_MAX);
    expect(profile.sketchCount).toBeGreaterThan(SKETCH_COUNT_MAX / 2 - 1);
  });

  it('gives the same bytes whether it learnt in one batch or in saved pieces', () => {
    const whole = history(10 * DAY_SLOTS, quietKwh);
    let pieces = StreamProfile.empty();
    for (let slot = 0; slot < 10 * DAY_SLOTS; slot++) {
      if (slot % 333 === 0) pieces = StreamProfile.fromBytes(pieces.toBytes().slice());
      teach(pieces, reading({ slot, kwh: quietKwh(slot) }));
    }
    expect(pieces.toBytes()).toEqual(whole.toBytes());
  });

  it('learns readings in time order only', () => {
    const profile = history(10, quietKwh);
    expect(() => teach(profile, reading({ slot: 3, kwh: 1 }))).not.toThrow();
    expect(profile.learned).toBe(10);
    expect(() =>
      profile.learn({
        valueMicro: 1,
        intervalStartMs: 0,
        intervalSeconds: 900,
        hourOfWeek: 0,
        localDay: 0,
        outage: false,
      }),
    ).toThrow(/time order/);
  });

  it('does not learn outage readings into the cells, histogram or runs', () => {
    const profile = history(2 * DAY_SLOTS, quietKwh);
    const before = profile.sketchCount;
    teach(profile, reading({ slot: 2 * DAY_SLOTS, kwh: 0, statusCode: 2 }));
    expect(profile.sketchCount).toBe(before);
    expect(profile.zeroRun).toBe(0);
    expect(profile.learned).toBe(2 * DAY_SLOTS + 1);
  });

  it('keeps cell figures in sixteen bits to 2^-10 across the range, with zero and sign', () => {
    expect(decodeProfileFloat(encodeProfileFloat(0))).toBe(0);
    expect(decodeProfileFloat(encodeProfileFloat(-0))).toBe(0);
    expect(decodeProfileFloat(encodeProfileFloat(Number.NaN))).toBe(0);
    expect(decodeProfileFloat(encodeProfileFloat(1e-12))).toBe(0);
    expect(decodeProfileFloat(encodeProfileFloat(1e12))).toBeCloseTo(2 ** 32 * (2 - 2 ** -9), -3);
    expect(decodeProfileFloat(encodeProfileFloat(Infinity))).toBe(2 ** 32 * (2 - 2 ** -9));
    for (let step = 0; step < 2_000; step++) {
      const magnitude = 10 ** (-8 + (step * 17) / 2_000) * (1 + (step % 7) / 7);
      for (const value of [magnitude, -magnitude]) {
        const encoded = encodeProfileFloat(value);
        expect(encoded).toBeGreaterThanOrEqual(0);
        expect(encoded).toBeLessThan(0x10000);
        const back = decodeProfileFloat(encoded);
        expect(Math.abs(back - value)).toBeLessThanOrEqual(Math.abs(value) * 2 ** -10);
        expect(encodeProfileFloat(back)).toBe(encoded);
      }
    }
  });
});
