// Goal: spike flags a reading many times the recent typical maximum (a day's third highest), and
// not one a few times it, an outage reading or a stream in warm-up.
// Method: real profiles learnt from fixed-sequence days; findings checked.
import { describe, expect, it } from 'vitest';
import { DAY_SLOTS, history, judge, quietKwh, reading } from '../test-support/detector-rig.js';
import { localDayOf } from '../core/local-calendar.js';
import { slotMs } from '../test-support/reading-builder.js';
import { spikeDetector } from './spike.js';

const NEXT = 4 * DAY_SLOTS;

describe('spike', () => {
  it('flags 40 kWh against days whose third highest reading is 0.7 kWh', () => {
    const profile = history(NEXT, quietKwh);
    const typical = profile.recentThirdHighest(localDayOf(slotMs(NEXT), 0));
    expect(typical).toBeGreaterThanOrEqual(0.68);
    expect(typical).toBeLessThanOrEqual(0.7);
    const [finding] = judge(spikeDetector, profile, reading({ slot: NEXT, kwh: 40 }));
    expect(finding).toMatchObject({ detector: 'spike', value: 40, threshold: 4 });
    expect(finding?.statistic).toBeCloseTo(40 / typical, 9);
  });

  it('does not let one earlier spike raise the bar', () => {
    const profile = history(NEXT, (slot) => (slot === NEXT - 50 ? 30 : quietKwh(slot)));
    expect(judge(spikeDetector, profile, reading({ slot: NEXT, kwh: 40 }))).toHaveLength(1);
  });

  it('leaves a reading a few times the typical maximum, an outage and a young stream alone', () => {
    const profile = history(NEXT, quietKwh);
    expect(judge(spikeDetector, profile, reading({ slot: NEXT, kwh: 2.5 }))).toEqual([]);
    expect(judge(spikeDetector, profile, reading({ slot: NEXT, kwh: 40, statusCode: 2 }))).toEqual(
      [],
    );
    const young = history(2 * DAY_SLOTS, quietKwh);
    expect(judge(spikeDetector, young, reading({ slot: 2 * DAY_SLOTS, kwh: 40 }))).toEqual([]);
  });
});
