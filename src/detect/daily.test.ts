// Goal: daily_high flags the reading that takes a day more than 200% above the average day, and
// daily_low a complete day ending more than 80% below it; neither judges outage or incomplete days
// or a stream in warm-up. Method: real profiles learnt from ten quiet days, then a judged day.
import { describe, expect, it } from 'vitest';
import { DAY_SLOTS, history, judge, quietKwh, reading } from '../test-support/detector-rig.js';
import { dailyHighDetector, dailyLowDetector } from './daily.js';

const DAYS = 10;
const NEXT = DAYS * DAY_SLOTS;
const LAST = NEXT + DAY_SLOTS - 1;

function quietTotal(from: number, to: number): number {
  let total = 0;
  for (let slot = from; slot < to; slot++) total += quietKwh(slot);
  return total;
}

describe('daily_high', () => {
  it('flags the reading that takes the day over 200% above the average', () => {
    const hot = (slot: number) => (slot < NEXT ? quietKwh(slot) : 2);
    const average = quietTotal(0, NEXT) / DAYS;
    const crossing = Math.floor((3 * average) / 2);
    const before = history(NEXT + crossing, hot);
    expect(before.averageDaily).toBeCloseTo(average, 3);
    const [finding] = judge(dailyHighDetector, before, reading({ slot: NEXT + crossing, kwh: 2 }));
    expect(finding).toMatchObject({ detector: 'daily_high', threshold: 200 });
    expect(finding?.value).toBeCloseTo(2 * (crossing + 1), 6);
    const earlier = history(NEXT + crossing - 1, hot);
    const quiet = judge(dailyHighDetector, earlier, reading({ slot: NEXT + crossing - 1, kwh: 2 }));
    expect(quiet).toEqual([]);
  });
});

describe('daily_low', () => {
  const low = (slot: number) => (slot < NEXT ? quietKwh(slot) : 0.05);

  it('flags the last interval of a complete day far below the average', () => {
    const [finding] = judge(
      dailyLowDetector,
      history(LAST, low),
      reading({ slot: LAST, kwh: 0.05 }),
    );
    expect(finding).toMatchObject({ detector: 'daily_low', threshold: 80 });
    expect(finding?.value).toBeCloseTo(0.05 * DAY_SLOTS, 6);
    expect(finding?.statistic).toBeGreaterThan(80);
  });

  it('judges only the last interval, and not a day with an outage or missing intervals', () => {
    const profile = history(LAST - 1, low);
    expect(judge(dailyLowDetector, profile, reading({ slot: LAST - 1, kwh: 0.05 }))).toEqual([]);
    const outage = history(LAST, low, (slot) => (slot === NEXT + 5 ? 2 : 0));
    expect(judge(dailyLowDetector, outage, reading({ slot: LAST, kwh: 0.05 }))).toEqual([]);
    const gappy = history(NEXT + 40, low);
    expect(judge(dailyLowDetector, gappy, reading({ slot: LAST, kwh: 0.05 }))).toEqual([]);
  });

  it('is silent in warm-up', () => {
    const young = (slot: number) => (slot < 3 * DAY_SLOTS ? quietKwh(slot) : 0.05);
    const last = 4 * DAY_SLOTS - 1;
    expect(
      judge(dailyLowDetector, history(last, young), reading({ slot: last, kwh: 0.05 })),
    ).toEqual([]);
  });
});
