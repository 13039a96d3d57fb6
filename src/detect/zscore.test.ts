// Goal: zscore flags a reading far from its own local hour of the week, and never a daily peak,
// a zero-spread cell, a small deviation, an outage reading or a stream in warm-up.
// Method: real profiles learnt from two weeks of fixed-sequence readings; findings checked.
import { describe, expect, it } from 'vitest';
import {
  DAY_SLOTS,
  history,
  judge,
  quietKwh,
  reading,
  withSettings,
} from '../test-support/detector-rig.js';
import { zscoreDetector } from './zscore.js';

const DAYS = 14;
const NEXT = DAYS * DAY_SLOTS;
/** 18:00-19:00 UTC every day reads 3 kWh; the rest is quiet. */
const eveningPeak = (slot: number) =>
  Math.floor((slot % DAY_SLOTS) / 4) === 18 ? 3 : quietKwh(slot);

describe('zscore', () => {
  it('flags a reading far from the mean of its hour of the week, with its figures', () => {
    const profile = history(NEXT, quietKwh);
    const [finding, ...rest] = judge(zscoreDetector, profile, reading({ slot: NEXT, kwh: 40 }));
    expect(rest).toEqual([]);
    expect(finding).toMatchObject({ detector: 'zscore', value: 40, threshold: 8 });
    expect(finding?.statistic).toBeGreaterThan(100);
    expect(finding?.message).toMatch(/standard deviations from the mean/);
  });

  it('does not flag an evening peak judged against evenings', () => {
    const profile = history(NEXT, eveningPeak);
    const evening = NEXT + 18 * 4;
    expect(judge(zscoreDetector, profile, reading({ slot: evening, kwh: 3.1 }))).toEqual([]);
    // The same 3.1 kWh at 03:00 is far from what 03:00 reads.
    expect(judge(zscoreDetector, profile, reading({ slot: NEXT + 12, kwh: 3.1 }))).toHaveLength(1);
  });

  it('never flags a cell whose spread is zero, nor a deviation below minDeviation', () => {
    expect(
      judge(
        zscoreDetector,
        history(NEXT, () => 0.5),
        reading({ slot: NEXT, kwh: 9 }),
      ),
    ).toEqual([]);
    const profile = history(NEXT, quietKwh);
    expect(judge(zscoreDetector, profile, reading({ slot: NEXT, kwh: 1.4 }))).toEqual([]);
    const loose = withSettings('zscore', { minDeviation: 0.1, threshold: 3 });
    expect(judge(zscoreDetector, profile, reading({ slot: NEXT, kwh: 1.4 }), loose)).toHaveLength(
      1,
    );
  });

  it('is silent in warm-up, for too few samples and for an outage reading', () => {
    const young = history(5 * DAY_SLOTS, quietKwh);
    expect(judge(zscoreDetector, young, reading({ slot: 5 * DAY_SLOTS, kwh: 40 }))).toEqual([]);
    const profile = history(NEXT, quietKwh);
    const outage = reading({ slot: NEXT, kwh: 40, statusCode: 2 });
    expect(judge(zscoreDetector, profile, outage)).toEqual([]);
    const strict = withSettings('zscore', { minSamples: 32 });
    expect(judge(zscoreDetector, profile, reading({ slot: NEXT, kwh: 40 }), strict)).toEqual([]);
  });
});
