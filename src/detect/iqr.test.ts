// Goal: iqr flags a reading beyond Q3 + k*IQR (or below Q1 - k*IQR), and never an IQR of zero, a
// small distance, an outage reading or a stream in warm-up.
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
import { iqrDetector } from './iqr.js';

const NEXT = 14 * DAY_SLOTS;

describe('iqr', () => {
  it('flags a reading beyond the upper fence, with how many IQRs out it is', () => {
    const profile = history(NEXT, quietKwh);
    expect(profile.q3).toBeGreaterThan(profile.q1);
    const [finding] = judge(iqrDetector, profile, reading({ slot: NEXT, kwh: 40 }));
    expect(finding).toMatchObject({ detector: 'iqr', value: 40, threshold: 8 });
    const iqrs = (40 - profile.q3) / (profile.q3 - profile.q1);
    expect(finding?.statistic).toBeCloseTo(iqrs, 9);
  });

  it('flags below the lower fence when the stream reads high', () => {
    const profile = history(NEXT, (slot) => 10 + ((slot * 37) % 41) / 2);
    const low = withSettings('iqr', { threshold: 1 });
    expect(judge(iqrDetector, profile, reading({ slot: NEXT, kwh: 1 }), low)[0]?.message).toMatch(
      /below Q1/,
    );
  });

  it('is silent inside the fences, for an IQR of zero, in warm-up and for outages', () => {
    const profile = history(NEXT, quietKwh);
    expect(judge(iqrDetector, profile, reading({ slot: NEXT, kwh: 1.5 }))).toEqual([]);
    expect(
      judge(
        iqrDetector,
        history(NEXT, () => 0.5),
        reading({ slot: NEXT, kwh: 40 }),
      ),
    ).toEqual([]);
    const young = history(6 * DAY_SLOTS, quietKwh);
    expect(judge(iqrDetector, young, reading({ slot: 6 * DAY_SLOTS, kwh: 40 }))).toEqual([]);
    expect(judge(iqrDetector, profile, reading({ slot: NEXT, kwh: 40, statusCode: 2 }))).toEqual(
      [],
    );
  });
});
