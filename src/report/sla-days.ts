/**
 * The local days an SLA report measures: each a half-open range of UTC instants [fromMs, toMs)
 * from one local midnight (the start of the day, where a zone skips midnight) to the next, so a
 * day of a daylight-saving change is 23 or 25 hours long.
 */
import { Temporal } from 'temporal-polyfill';

export interface LocalDay {
  /** `2026-10-25`. */
  readonly day: string;
  readonly fromMs: number;
  readonly toMs: number;
}

/** The days an SLA report covers, in one time zone; `label` names them (`2026-10`). */
export interface SlaWindow {
  readonly label: string;
  readonly timeZone: string;
  readonly days: readonly LocalDay[];
}

function startMs(date: Temporal.PlainDate, timeZone: string): number {
  return date.toZonedDateTime(timeZone).epochMilliseconds;
}

/** The days from `first` to `last` (both included) as local days of the zone. */
export function localDaysBetween(
  first: Temporal.PlainDate,
  last: Temporal.PlainDate,
  timeZone: string,
): LocalDay[] {
  const days: LocalDay[] = [];
  // Bounded by the dates: a window is at most a quarter and a month's days.
  for (
    let date = first;
    Temporal.PlainDate.compare(date, last) <= 0;
    date = date.add({ days: 1 })
  ) {
    days.push({
      day: date.toString(),
      fromMs: startMs(date, timeZone),
      toMs: startMs(date.add({ days: 1 }), timeZone),
    });
  }
  return days;
}

/** Every local day of the month `YYYY-MM` (checked by the caller). */
export function monthWindow(month: string, timeZone: string): SlaWindow {
  const first = Temporal.PlainYearMonth.from(month).toPlainDate({ day: 1 });
  const last = first.add({ months: 1 }).subtract({ days: 1 });
  return { label: month, timeZone, days: localDaysBetween(first, last, timeZone) };
}

/**
 * The local days the service evaluates at `nowMs`: yesterday and the days before it back to the
 * first one whose longest target window may have closed since the last evaluation, so that a 3-day
 * target is judged once its three days have passed.
 */
export function recentWindow(nowMs: number, timeZone: string, withinMsMax: number): SlaWindow {
  const today = Temporal.Instant.fromEpochMilliseconds(nowMs).toZonedDateTimeISO(timeZone);
  const yesterday = today.toPlainDate().subtract({ days: 1 });
  const back = Math.ceil(withinMsMax / 86_400_000) + 1;
  const first = yesterday.subtract({ days: back });
  return {
    label: `${first.toString()}..${yesterday.toString()}`,
    timeZone,
    days: localDaysBetween(first, yesterday, timeZone),
  };
}

/** The index of the day holding `ms`, or -1. Days are sorted and contiguous. */
export function dayIndexOf(days: readonly LocalDay[], ms: number): number {
  let low = 0;
  let high = days.length - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    const day = days[middle];
    if (day === undefined) return -1;
    if (ms < day.fromMs) high = middle - 1;
    else if (ms >= day.toMs) low = middle + 1;
    else return middle;
  }
  return -1;
}
