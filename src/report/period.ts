/**
 * A report's period: one calendar month in the utility's time zone (the data dictionary's, UTC
 * when it names none), as the half-open range of UTC instants [fromMs, toMs) that interval starts
 * fall in. A month in a zone with daylight saving is an hour shorter or longer than 30 or 31 days.
 */
import { Temporal } from 'temporal-polyfill';

export interface ReportPeriod {
  /** The month as given: `2026-10`. */
  month: string;
  timeZone: string;
  /** First instant of the month's first local day, and of the next month's. */
  fromMs: number;
  toMs: number;
}

const MONTH_PATTERN = /^(\d{4})-(0[1-9]|1[0-2])$/;

/**
 * The first instant of the month's first local day. Given no time, Temporal takes the start of
 * the day, which is later than midnight in the few zones whose clocks skip midnight itself.
 */
function monthStartMs(year: number, month: number, timeZone: string): number {
  return Temporal.PlainDate.from({ year, month, day: 1 }).toZonedDateTime(timeZone)
    .epochMilliseconds;
}

/** The period of `YYYY-MM` in `timeZone`, or null when the text is not such a month. */
export function monthPeriod(month: string, timeZone: string): ReportPeriod | null {
  const match = MONTH_PATTERN.exec(month);
  if (match === null) return null;
  const year = Number(match[1]);
  const monthNumber = Number(match[2]);
  const next = monthNumber === 12 ? { year: year + 1, month: 1 } : { year, month: monthNumber + 1 };
  return {
    month,
    timeZone,
    fromMs: monthStartMs(year, monthNumber, timeZone),
    toMs: monthStartMs(next.year, next.month, timeZone),
  };
}

/** An instant as local time with its offset (`2026-10-25T02:15:00+01:00`): never ambiguous. */
export function localIso(ms: number, timeZone: string): string {
  return Temporal.Instant.fromEpochMilliseconds(ms)
    .toZonedDateTimeISO(timeZone)
    .toString({ timeZoneName: 'never', smallestUnit: 'second' });
}
