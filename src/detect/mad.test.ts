// Goal: mad flags a reading many robust deviations from the stream's median, and never a MAD of
// zero, a small deviation, an outage reading or a stream in warm-up.
// Method: real profiles learnt from two weeks of fixed-sequence readings; findings checked.
import { describe, expect, it } from 'vitest';
import { DAY_SLOTS, history, judge, quietKwh, reading } from '../test-support/detector-rig.js';
import { madDetector } from './mad.js';

const NEXT = 14 * DAY_SLOTS;

describe('mad', () => {
  it('flags a reading far from the median in robust deviations, with its figures', () => {
    const profile = history(NEXT, quietKwh);
    expect(profile.median).toBeGreaterThan(0.4);
    expect(profile.median).toBeLessThan(0.6);
    const [finding] = judge(madDetector, profile, reading({ slot: NEXT, kwh: 40 }));
    expect(finding).toMatchObject({ detector: 'mad', value: 40, threshold: 16 });
    expect(finding?.statistic).toBeGreaterThan(16);
  });

  it('leaves ordinary and slightly high readings alone', () => {
    const profile = history(NEXT, quietKwh);
    for (const kwh of [0.3, 0.7, 1.4]) {
      expect(judge(madDetector, profile, reading({ slot: NEXT, kwh }))).toEqual([]);
    }
  });

  it('never flags when the MAD is zero, in warm-up, or for an outage reading', () => {
    expect(
      judge(
        madDetector,
        history(NEXT, () => 0.5),
        reading({ slot: NEXT, kwh: 40 }),
      ),
    ).toEqual([]);
    const young = history(3 * DAY_SLOTS, quietKwh);
    expect(judge(madDetector, young, reading({ slot: 3 * DAY_SLOTS, kwh: 40 }))).toEqual([]);
    const profile = history(NEXT, quietKwh);
    expect(judge(madDetector, profile, reading({ slot: NEXT, kwh: 40, statusCode: 2 }))).toEqual(
      [],
    );
  });
});
