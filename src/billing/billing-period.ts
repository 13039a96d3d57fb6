/**
 * Billing periods and time of use in a service point's local time. A period `YYYY-MM` runs from
 * local midnight of its first day to local midnight of the next month's first day, so a month with
 * a DST change is 743 or 745 hours long; a reading's TOU period is looked up by the local month,
 * hour and weekday of its interval start (holidays are not special: URDB schedules have none).
 */
import { Temporal } from 'temporal-polyfill';
import {
  createLocalCalendar,
  MS_PER_DAY,
  MS_PER_HOUR,
  type LocalCalendar,
} from '../core/local-calendar.js';
import type { Schedule } from './tariff.js';

const PERIOD_TEXT = /^(\d{4})-(0[1-9]|1[0-2])$/;

export interface BillingPeriod {
  /** `YYYY-MM`. */
  period: string;
  year: number;
  /** 1..12. */
  month: number;
}

/** A `YYYY-MM` text as a period, or null when it is not one. */
export function parsePeriod(text: string): BillingPeriod | null {
  const match = PERIOD_TEXT.exec(text);
  if (match === null) return null;
  return { period: text, year: Number(match[1]), month: Number(match[2]) };
}

/** The next month's period (`2026-12` -> `2027-01`). */
export function nextPeriod(period: BillingPeriod): BillingPeriod {
  const year = period.month === 12 ? period.year + 1 : period.year;
  const month = period.month === 12 ? 1 : period.month + 1;
  return { period: `${year}-${String(month).padStart(2, '0')}`, year, month };
}

/** Local midnight of a date in a zone, as epoch ms (a zone's midnight always exists here). */
export function localMidnightMs(
  year: number,
  month: number,
  day: number,
  timeZone: string,
): number {
  return Temporal.PlainDate.from({ year, month, day }).toZonedDateTime({ timeZone })
    .epochMilliseconds;
}

/** [startMs, endMs) of a period in a zone, and its number of local days. */
export function periodSpan(
  period: BillingPeriod,
  timeZone: string,
): { startMs: number; endMs: number; days: number } {
  const next = nextPeriod(period);
  const startMs = localMidnightMs(period.year, period.month, 1, timeZone);
  const endMs = localMidnightMs(next.year, next.month, 1, timeZone);
  const days = Temporal.PlainDate.from({
    year: period.year,
    month: period.month,
    day: 1,
  }).daysInMonth;
  return { startMs, endMs, days };
}

/** Local month (0..11), hour (0..23) and whether the day is Saturday or Sunday. */
export interface LocalSlot {
  month: number;
  hour: number;
  weekend: boolean;
}

/** A lookup of local slots in one zone; cheap per reading (offsets cached between transitions). */
export function localSlotter(timeZone: string): (epochMs: number) => LocalSlot {
  const calendar: LocalCalendar = createLocalCalendar(timeZone);
  return (epochMs) => {
    const local = new Date(epochMs + calendar.offsetMs(epochMs));
    const weekday = local.getUTCDay();
    return {
      month: local.getUTCMonth(),
      hour: local.getUTCHours(),
      weekend: weekday === 0 || weekday === 6,
    };
  };
}

/** The period a schedule pair gives a local slot (0 when the tariff has no schedule). */
export function periodOf(weekday: Schedule, weekend: Schedule, slot: LocalSlot): number {
  const schedule = slot.weekend ? weekend : weekday;
  return schedule[slot.month]?.[slot.hour] ?? 0;
}

export { MS_PER_DAY, MS_PER_HOUR };
