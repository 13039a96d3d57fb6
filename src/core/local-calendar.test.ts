// Goal: detectors and tariffs see the local hour in the dictionary's zone, across DST changes,
// whatever order the instants are asked in. Method: known instants in UTC, America/New_York and
// Europe/Berlin, asked in every order against a fresh calendar's answer.
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

  it('answers an instant exactly at a transition without losing the stretch before it', () => {
    // 2026-10-25T01:00Z is when Berlin goes from +2 to +1. Asked first, it once cached +1 from the
    // March transition on, so the rest of October before it read an hour early: a 07:00 reading
    // fell into the 06:00 tariff period.
    const transition = Date.UTC(2026, 9, 25, 1);
    const instants = [
      Date.UTC(2026, 9, 5, 5),
      transition - 1,
      transition,
      transition + 1,
      Date.UTC(2026, 2, 29, 1),
      Date.UTC(2026, 2, 29, 0, 59, 59, 999),
      Date.UTC(2026, 11, 1),
    ];
    const fresh = (ms: number) => createLocalCalendar('Europe/Berlin').offsetMs(ms);
    expect(fresh(Date.UTC(2026, 9, 5, 5))).toBe(2 * 3_600_000);
    expect(fresh(transition)).toBe(3_600_000);
    expect(fresh(transition - 1)).toBe(2 * 3_600_000);
    for (const first of instants) {
      const berlin = createLocalCalendar('Europe/Berlin');
      berlin.offsetMs(first);
      for (const ms of instants) expect(berlin.offsetMs(ms), `${first} then ${ms}`).toBe(fresh(ms));
    }
  });
});
