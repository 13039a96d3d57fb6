/**
 * Local wall-clock facts of an instant in the dictionary's time zone, for the detectors: the
 * hour of the week (Monday 00:00 local is hour 0), the local day and whether an interval ends on a
 * local midnight. A load profile follows local time (an evening peak stays at 18:00 across a DST
 * change), so detectors compare a reading with the same local hour of the week.
 *
 * Per reading this must cost next to nothing: the zone's offset is looked up once per stretch
 * between two transitions (through Temporal) and reused while instants fall inside it.
 */
import { Temporal } from 'temporal-polyfill';

export const MS_PER_HOUR = 3_600_000;
export const MS_PER_DAY = 86_400_000;
export const HOURS_PER_WEEK = 168;
/** 1970-01-01 was a Thursday: day 0 is weekday 3 counting Monday as 0. */
const EPOCH_WEEKDAY_FROM_MONDAY = 3;

export interface LocalCalendar {
  /** The zone's offset from UTC at `epochMs`, in milliseconds (east positive). */
  offsetMs(epochMs: number): number;
}

/** UTC: no offset, no lookups. */
const UTC_CALENDAR: LocalCalendar = { offsetMs: () => 0 };

/**
 * A calendar of an IANA zone (null: UTC). The zone name is trusted: the dictionary checked it.
 */
export function createLocalCalendar(timeZone: string | null): LocalCalendar {
  if (timeZone === null || timeZone === 'UTC') return UTC_CALENDAR;
  let fromMs = 0;
  let untilMs = -1;
  let cachedOffsetMs = 0;
  return {
    offsetMs(epochMs: number): number {
      if (epochMs >= fromMs && epochMs < untilMs) return cachedOffsetMs;
      const zoned = new Temporal.ZonedDateTime(BigInt(epochMs) * 1_000_000n, timeZone);
      cachedOffsetMs = zoned.offsetNanoseconds / 1_000_000;
      // The offset holds from the last transition at or before the instant: 'previous' is the
      // last one strictly before, so it is asked from a nanosecond later. Asked from the instant
      // itself, an instant at a transition cached its new offset over the stretch before it too.
      const previous = zoned.add({ nanoseconds: 1 }).getTimeZoneTransition('previous');
      const next = zoned.getTimeZoneTransition('next');
      fromMs = previous === null ? Number.NEGATIVE_INFINITY : previous.epochMilliseconds;
      untilMs = next === null ? Number.POSITIVE_INFINITY : next.epochMilliseconds;
      return cachedOffsetMs;
    },
  };
}

/** Local days since 1970-01-01 of an instant, given its offset. */
export function localDayOf(epochMs: number, offsetMs: number): number {
  return Math.floor((epochMs + offsetMs) / MS_PER_DAY);
}

/** Hour of the local week, 0 (Monday 00:00-01:00) to 167 (Sunday 23:00-24:00). */
export function hourOfWeekOf(epochMs: number, offsetMs: number): number {
  const localMs = epochMs + offsetMs;
  const day = Math.floor(localMs / MS_PER_DAY);
  const weekday = (((day + EPOCH_WEEKDAY_FROM_MONDAY) % 7) + 7) % 7;
  const hour = Math.floor((localMs - day * MS_PER_DAY) / MS_PER_HOUR);
  return weekday * 24 + hour;
}
