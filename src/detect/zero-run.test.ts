// Goal: zero_run flags the 16th consecutive zero where the profile expects use, never a reading
// with the outage bit, never where the hour usually reads nothing, never in warm-up.
// Method: real profiles learnt from eight days of use and then zeros; findings checked.
import { describe, expect, it } from 'vitest';
import { DAY_SLOTS, history, judge, quietKwh, reading } from '../test-support/detector-rig.js';
import { zeroRunDetector } from './zero-run.js';

const USE = 8 * DAY_SLOTS;

describe('zero_run', () => {
  it('flags the 16th zero in a row, and not the 15th', () => {
    const fifteen = history(USE + 15, (slot) => (slot < USE ? quietKwh(slot) : 0));
    const [finding] = judge(zeroRunDetector, fifteen, reading({ slot: USE + 15, kwh: 0 }));
    expect(finding).toMatchObject({ detector: 'zero_run', value: 0, statistic: 16, threshold: 16 });
    const fourteen = history(USE + 14, (slot) => (slot < USE ? quietKwh(slot) : 0));
    expect(judge(zeroRunDetector, fourteen, reading({ slot: USE + 14, kwh: 0 }))).toEqual([]);
  });

  it('does not flag zeros that carry the outage bit', () => {
    const profile = history(USE + 15, (slot) => (slot < USE ? quietKwh(slot) : 0));
    expect(
      judge(zeroRunDetector, profile, reading({ slot: USE + 15, kwh: 0, statusCode: 2 })),
    ).toEqual([]);
  });

  it('does not count outage zeros into the run', () => {
    const status = (slot: number) => (slot >= USE ? 2 : 0);
    const profile = history(USE + 40, (slot) => (slot < USE ? quietKwh(slot) : 0), status);
    expect(judge(zeroRunDetector, profile, reading({ slot: USE + 40, kwh: 0 }))).toEqual([]);
  });

  it('does not flag where the profile expects nothing, nor in warm-up', () => {
    const nightOff = (slot: number) => (slot % DAY_SLOTS < 32 ? 0 : quietKwh(slot));
    const profile = history(USE, nightOff);
    expect(profile.zeroRun).toBe(0);
    const nights = history(USE + 20, (slot) => (slot < USE ? nightOff(slot) : 0));
    expect(judge(zeroRunDetector, nights, reading({ slot: USE + 20, kwh: 0 }))).toEqual([]);
    const young = history(DAY_SLOTS + 15, (slot) => (slot < DAY_SLOTS ? quietKwh(slot) : 0));
    expect(judge(zeroRunDetector, young, reading({ slot: DAY_SLOTS + 15, kwh: 0 }))).toEqual([]);
  });
});
