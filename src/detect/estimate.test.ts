// Goal: gap runs, interpolation, like-day choice across DST changes and register scaling follow the
// documented rules exactly. Method: synthetic 15-minute series whose values encode their own local
// day and wall-clock minute (computed with Temporal, not the code under test), then exact checks.
import { Temporal } from 'temporal-polyfill';
import { describe, expect, it } from 'vitest';
import {
  divideRounded,
  estimateHole,
  findGapRuns,
  holesOf,
  interpolate,
  likeDayCandidates,
  localDateText,
  scaleToTotal,
  slotAtOrAfter,
  streamGrid,
  WallClock,
  WallClockValues,
  type EstimateSettings,
  type StreamPoint,
} from './estimate.js';

const QUARTER_MS = 900_000;
const ZONE = 'America/New_York';
const SETTINGS: EstimateSettings = {
  shortGapMs: 2 * 3_600_000,
  likeDays: 3,
  likeDaySearchDays: 28,
  timeZone: ZONE,
};

function point(intervalStartMs: number, valueMicro: number, intervalSeconds = 900): StreamPoint {
  return { intervalStartMs, intervalSeconds, valueMicro, quality: 'actual' };
}

/** Local date text and wall minute of an instant, straight from Temporal. */
function wallOf(ms: number): { date: string; minute: number; offsetHours: number } {
  const zoned = Temporal.Instant.fromEpochMilliseconds(ms).toZonedDateTimeISO(ZONE);
  return {
    date: zoned.toPlainDate().toString(),
    minute: zoned.hour * 60 + zoned.minute,
    offsetHours: zoned.offsetNanoseconds / 3.6e12,
  };
}

function localMs(date: string, time: string): number {
  return Temporal.PlainDateTime.from(`${date}T${time}`)
    .toZonedDateTime(ZONE, { disambiguation: 'earlier' })
    .toInstant().epochMilliseconds;
}

/**
 * A value that names its own local day (days since 2026-01-01), wall minute and offset: any
 * average of like days can be predicted from the days alone.
 */
function encoded(ms: number): number {
  const wall = wallOf(ms);
  const day = Temporal.PlainDate.from(wall.date).since('2026-01-01').days;
  return day * 100_000 + wall.minute * 10 + (wall.offsetHours === -4 ? 0 : 1);
}

function series(fromDate: string, toDate: string): Map<number, number> {
  const values = new Map<number, number>();
  const endMs = localMs(toDate, '00:00');
  for (let ms = localMs(fromDate, '00:00'); ms < endMs; ms += QUARTER_MS) {
    values.set(ms, encoded(ms));
  }
  return values;
}

function fillHole(values: Map<number, number>, fromMs: number, toMs: number) {
  const valid = new Map(values);
  for (let ms = fromMs; ms < toMs; ms += QUARTER_MS) valid.delete(ms);
  const clock = new WallClock(ZONE);
  const grid = { intervalMs: QUARTER_MS, phaseMs: 0 };
  const wallValues = new WallClockValues(valid, clock);
  return estimateHole({ fromMs, toMs }, grid, valid, wallValues, clock, SETTINGS);
}

function daysIn(detail: string): string[] {
  return [...detail.matchAll(/\d{4}-\d{2}-\d{2}/g)].map((m) => m[0]);
}

describe('stream grid and gap runs', () => {
  it('learns the most common interval length and its phase', () => {
    const points = [point(300_000, 1), point(1_200_000, 1), point(2_100_000, 1, 1800)];
    expect(streamGrid(points)).toEqual({ intervalMs: QUARTER_MS, phaseMs: 300_000 });
    expect(streamGrid([])).toBeNull();
    expect(slotAtOrAfter({ intervalMs: QUARTER_MS, phaseMs: 300_000 }, 0)).toBe(300_000);
    expect(slotAtOrAfter({ intervalMs: QUARTER_MS, phaseMs: 300_000 }, 300_000)).toBe(300_000);
  });

  it('groups missing and rejected slots into runs and leaves held slots alone', () => {
    const grid = { intervalMs: QUARTER_MS, phaseMs: 0 };
    // Slots 0..9: 0 and 9 present, 2 held, 4 and 5 rejected, 6 and 7 covered by one
    // 30-minute reading, 8 missing.
    const points = [point(0, 1), point(6 * QUARTER_MS, 1, 1800), point(9 * QUARTER_MS, 1)];
    const rejected = new Set([4 * QUARTER_MS, 5 * QUARTER_MS]);
    const held = new Set([2 * QUARTER_MS]);
    const runs = findGapRuns(grid, 0, 10 * QUARTER_MS, points, rejected, held);
    expect(runs).toEqual([
      { fromMs: QUARTER_MS, toMs: 2 * QUARTER_MS, intervals: 1, why: 'missing' },
      { fromMs: 3 * QUARTER_MS, toMs: 4 * QUARTER_MS, intervals: 1, why: 'missing' },
      { fromMs: 4 * QUARTER_MS, toMs: 6 * QUARTER_MS, intervals: 2, why: 'rejected' },
      { fromMs: 8 * QUARTER_MS, toMs: 9 * QUARTER_MS, intervals: 1, why: 'missing' },
    ]);
    expect(holesOf(runs)).toEqual([
      { fromMs: QUARTER_MS, toMs: 2 * QUARTER_MS },
      { fromMs: 3 * QUARTER_MS, toMs: 6 * QUARTER_MS },
      { fromMs: 8 * QUARTER_MS, toMs: 9 * QUARTER_MS },
    ]);
  });
});

describe('interpolation', () => {
  it('is exact on linear data', () => {
    const grid = { intervalMs: QUARTER_MS, phaseMs: 0 };
    const line = (slot: number) => 1_000_000 + 37_500 * slot;
    const estimates = interpolate(
      { fromMs: QUARTER_MS, toMs: 8 * QUARTER_MS },
      grid,
      line(0),
      line(8),
    );
    expect(estimates.map((e) => e.valueMicro)).toEqual([1, 2, 3, 4, 5, 6, 7].map(line));
    expect(estimates.every((e) => e.method === 'interpolation')).toBe(true);
    expect(estimates[0]?.detail).toBe(
      'interpolation: linear between 1.000000 at 1970-01-01T00:00:00Z and 1.300000 at ' +
        '1970-01-01T02:00:00Z',
    );
  });

  it('rounds halves away from zero', () => {
    expect(divideRounded(5, 2)).toBe(3);
    expect(divideRounded(-5, 2)).toBe(-3);
    expect(divideRounded(4, 3)).toBe(1);
    expect(divideRounded(5, 3)).toBe(2);
  });

  it('interpolates a short hole and uses like days for a long one or a one-sided one', () => {
    const values = series('2026-02-01', '2026-03-01');
    const from = localMs('2026-02-18', '10:00');
    expect(fillHole(values, from, from + 8 * QUARTER_MS)).toMatchObject({ kind: 'estimated' });
    const short = fillHole(values, from, from + 8 * QUARTER_MS);
    const long = fillHole(values, from, from + 9 * QUARTER_MS);
    if (short.kind !== 'estimated' || long.kind !== 'estimated') throw new Error('not estimated');
    expect(short.estimates.every((e) => e.method === 'interpolation')).toBe(true);
    expect(long.estimates.every((e) => e.method === 'like-day')).toBe(true);
  });
});

describe('like days', () => {
  it('lists candidates of the same day type, nearest first, earlier on a tie', () => {
    const saturday = Temporal.PlainDate.from('2026-03-14').since('1970-01-01').days;
    expect(likeDayCandidates(saturday, 8).map(localDateText)).toEqual([
      '2026-03-15',
      '2026-03-08',
      '2026-03-07',
      '2026-03-21',
      '2026-03-22',
    ]);
  });

  it('averages the 3 nearest valid weekdays at the same wall-clock time', () => {
    const values = series('2026-02-01', '2026-03-01');
    // Wednesday 2026-02-18 06:00-12:00: nearest weekdays are the 17th, 19th, 16th.
    const from = localMs('2026-02-18', '06:00');
    const outcome = fillHole(values, from, localMs('2026-02-18', '12:00'));
    if (outcome.kind !== 'estimated') throw new Error(outcome.reason);
    expect(daysIn(outcome.estimates[0]?.detail ?? '')).toEqual([
      '2026-02-17',
      '2026-02-19',
      '2026-02-16',
    ]);
    for (const estimate of outcome.estimates) {
      // The like days are days 47, 49 and 46 of 2026: their average day is 47.333...
      const minute = wallOf(estimate.intervalStartMs).minute;
      expect(estimate.valueMicro).toBe(divideRounded(3 * minute * 10 + 142 * 100_000 + 3, 3));
    }
  });

  it('spring: skips the 23-hour day for slots at skipped times and aligns in local time', () => {
    const values = series('2026-02-20', '2026-03-30');
    // Saturday 2026-03-14 01:00-04:00: Sunday the 15th, then the 8th (the change: no 02:xx, so
    // skipped), the 7th (EST) and the 21st (EDT).
    const from = localMs('2026-03-14', '01:00');
    const outcome = fillHole(values, from, localMs('2026-03-14', '04:00'));
    if (outcome.kind !== 'estimated') throw new Error(outcome.reason);
    expect(outcome.estimates).toHaveLength(12);
    expect(daysIn(outcome.estimates[0]?.detail ?? '')).toEqual([
      '2026-03-15',
      '2026-03-07',
      '2026-03-21',
    ]);
    const at = (time: string) =>
      outcome.estimates.find((e) => e.intervalStartMs === localMs('2026-03-14', time));
    // 02:30 local: days 73, 65, 79 (offsets EDT, EST, EDT: 0 + 1 + 0).
    expect(at('02:30')?.valueMicro).toBe(divideRounded(217 * 100_000 + 3 * 150 * 10 + 1, 3));
  });

  it('spring: fills the 23-hour day itself by wall-clock time', () => {
    const values = series('2026-02-20', '2026-03-30');
    // Sunday 2026-03-08 00:00-05:00 local is 4 hours: 02:00-02:59 does not exist.
    const from = localMs('2026-03-08', '00:00');
    const to = localMs('2026-03-08', '05:00');
    const outcome = fillHole(values, from, to);
    if (outcome.kind !== 'estimated') throw new Error(outcome.reason);
    expect(outcome.estimates).toHaveLength(16);
    expect(daysIn(outcome.estimates[0]?.detail ?? '')).toEqual([
      '2026-03-07',
      '2026-03-14',
      '2026-03-01',
    ]);
    const threeAm = outcome.estimates.find(
      (e) => e.intervalStartMs === localMs('2026-03-08', '03:00'),
    );
    // 03:00 EDT on the 8th takes 03:00 of days 65 (EST), 72 (EDT) and 59 (EST).
    expect(threeAm?.valueMicro).toBe(divideRounded(196 * 100_000 + 3 * 180 * 10 + 2, 3));
  });

  it('autumn: both 01:xx hours of the 25-hour day take the like days at 01:xx', () => {
    const values = series('2026-10-10', '2026-11-20');
    // Sunday 2026-11-01 00:00-04:00 local is 5 hours: 01:00-01:59 happens twice.
    const from = localMs('2026-11-01', '00:00');
    const to = localMs('2026-11-01', '04:00');
    const outcome = fillHole(values, from, to);
    if (outcome.kind !== 'estimated') throw new Error(outcome.reason);
    expect(outcome.estimates).toHaveLength(20);
    expect(daysIn(outcome.estimates[0]?.detail ?? '')).toEqual([
      '2026-10-31',
      '2026-11-07',
      '2026-10-25',
    ]);
    const firstOneFifteen = localMs('2026-11-01', '01:15');
    const secondOneFifteen = firstOneFifteen + 3_600_000;
    expect(wallOf(secondOneFifteen).minute).toBe(75);
    const value = (ms: number) =>
      outcome.estimates.find((e) => e.intervalStartMs === ms)?.valueMicro;
    // Days 303 (EDT), 310 (EST), 297 (EDT) at minute 75.
    const expected = divideRounded(910 * 100_000 + 3 * 75 * 10 + 1, 3);
    expect(value(firstOneFifteen)).toBe(expected);
    expect(value(secondOneFifteen)).toBe(expected);
  });

  it('autumn: a day standing in for the 25-hour day uses its first 01:xx hour', () => {
    const values = series('2026-10-10', '2026-11-20');
    // Saturday 2026-10-31 01:00-04:00: nearest weekend day is Sunday 11-01, whose first 01:15
    // is EDT (offset digit 0), the second EST (1); then Sunday 10-25 and Saturday 10-24.
    const outcome = fillHole(
      values,
      localMs('2026-10-31', '01:00'),
      localMs('2026-10-31', '04:00'),
    );
    if (outcome.kind !== 'estimated') throw new Error(outcome.reason);
    expect(daysIn(outcome.estimates[0]?.detail ?? '')).toEqual([
      '2026-11-01',
      '2026-10-25',
      '2026-10-24',
    ]);
    const at = outcome.estimates.find((e) => e.intervalStartMs === localMs('2026-10-31', '01:15'));
    // Days 304 (its first 01:15, EDT 0), 297 (EDT 0), 296 (EDT 0).
    expect(at?.valueMicro).toBe(divideRounded(897 * 100_000 + 3 * 75 * 10, 3));
  });

  it('averages fewer like days when fewer qualify, and says how many', () => {
    // Two weekdays of data besides the hole's day: Monday 16th and Tuesday 17th (hole Wednesday).
    const values = series('2026-02-16', '2026-02-19');
    const from = localMs('2026-02-18', '06:00');
    const outcome = fillHole(values, from, localMs('2026-02-18', '12:00'));
    if (outcome.kind !== 'estimated') throw new Error(outcome.reason);
    expect(outcome.estimates[0]?.detail).toContain(
      'average of 2 weekday day(s) 2026-02-17 2026-02-16',
    );
  });

  it('takes like days for a short hole with no valid value on one side', () => {
    const values = series('2026-02-01', '2026-03-01');
    const from = localMs('2026-02-18', '10:00');
    const valid = new Map(values);
    for (let ms = from; ms < from + 4 * QUARTER_MS; ms += QUARTER_MS) valid.delete(ms);
    // The slot after the hole has no valid value (none, or only an estimate).
    valid.delete(from + 4 * QUARTER_MS);
    const clock = new WallClock(ZONE);
    const grid = { intervalMs: QUARTER_MS, phaseMs: 0 };
    const hole = { fromMs: from, toMs: from + 4 * QUARTER_MS };
    const outcome = estimateHole(
      hole,
      grid,
      valid,
      new WallClockValues(valid, clock),
      clock,
      SETTINGS,
    );
    if (outcome.kind !== 'estimated') throw new Error(outcome.reason);
    expect(outcome.estimates.every((e) => e.method === 'like-day')).toBe(true);
  });

  it('skips a hole no like day can fill, saying why', () => {
    const values = series('2026-02-16', '2026-02-17');
    const outcome = fillHole(
      values,
      localMs('2026-02-16', '06:00'),
      localMs('2026-02-16', '12:00'),
    );
    expect(outcome).toMatchObject({ kind: 'skipped' });
    if (outcome.kind === 'skipped') expect(outcome.reason).toContain('no valid like day within 28');
  });
});

describe('register advance', () => {
  it('scales estimates to a total exactly, keeping their shape', () => {
    expect(scaleToTotal([100, 200, 300, 400], 2_000)).toEqual([200, 400, 600, 800]);
    const scaled = scaleToTotal([1, 1, 1], 1_000);
    expect(scaled).toEqual([334, 333, 333]);
    expect(scaleToTotal([0, 0], 5)).toEqual([3, 2]);
    expect(scaleToTotal([], 5)).toEqual([]);
  });
});
