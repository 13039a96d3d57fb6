// Goal: detectors compare a reading with the same local hour of the week in the dictionary's
// zone, across DST changes. Method: known instants in UTC and America/New_York.
import { describe, expect, it } from 'vitest';
import { createLocalCalendar, hourOfWeekOf, localDayOf } from './local-calendar.js';

describe('local calendar', () => {
  it('counts the hour of the week from Monday 00:00 local', () => {
    const utc = createLocalCalendar(null);
    const monday = Date.UTC(2026, 2, 2);
    expect(hourOfWeekOf(monday, utc.offsetMs(monday))).toBe(0);
    const sundayLate = Date.UTC(2026, 2, 1, 23, 30);
    expect(hourOfWeekOf(sundayLate, 0)).toBe(167);
    expect(localDayOf(monday, 0)).toBe(monday / 86_400_000);
  });

  it('keeps 18:00 local at the same hour of the week across a DST change', () => {
    const newYork = createLocalCalendar('America/New_York');
    // Fridays before and after 2026-03-08, 18:00 local: 23:00Z in EST, 22:00Z in EDT.
    const before = Date.UTC(2026, 2, 6, 23);
    const after = Date.UTC(2026, 2, 13, 22);
    expect(newYork.offsetMs(before)).toBe(-5 * 3_600_000);
    expect(newYork.offsetMs(after)).toBe(-4 * 3_600_000);
    const hour = (ms: number) => hourOfWeekOf(ms, newYork.offsetMs(ms));
    expect(hour(before)).toBe(4 * 24 + 18);
    expect(hour(after)).toBe(4 * 24 + 18);
    // And back in the winter offset again in November.
    expect(newYork.offsetMs(Date.UTC(2026, 10, 6, 23))).toBe(-5 * 3_600_000);
  });
});
