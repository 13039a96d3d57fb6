/**
 * daily_high and daily_low: a local day's use against the stream's average daily use (the mean of
 * its recent complete days without an outage).
 *  - daily_high flags the reading that takes the day's running total more than `percent` above
 *    the average (and at least `minDeviation` above it). The day's total is its whole use so far:
 *    readings held by any detector count too (they were used, whether or not they are billed),
 *    so a day made high by large intervals that zscore or spike hold is still judged high, and
 *    each further reading of that day is held with it.
 *  - daily_low judges the day when its last interval arrives (the one ending on a local
 *    midnight): a complete day whose total is more than `percent` below the average flags that
 *    reading. A day with an outage reading, or missing intervals (a gap, not low use), is not
 *    judged.
 * Neither flags a stream in warm-up or before its first complete day.
 */
import { COMPLETE_DAY_SHARE } from '../core/stream-profile.js';
import type { StreamProfile } from '../core/stream-profile.js';
import type { Detector } from '../core/detector.js';
import { figure, flag, NO_FINDINGS, valueOf } from './finding.js';

export const dailyHighDetector: Detector = {
  name: 'daily_high',
  usesHistory: true,
  warmUpDays: (settings) => settings.daily_high.warmUpDays,
  inspect(reading, profile, view) {
    const settings = view.settings.daily_high;
    if (profile.completedDaysAt(view.localDay) < settings.warmUpDays) return NO_FINDINGS;
    const average = profile.averageDaily;
    if (!(average > 0)) return NO_FINDINGS;
    const total = dayUseBefore(profile, view.localDay) + valueOf(reading);
    const abovePercent = ((total - average) / average) * 100;
    if (abovePercent <= settings.percent || total - average < settings.minDeviation) {
      return NO_FINDINGS;
    }
    const message =
      `the day's use reaches ${figure(total)} with this reading, ${figure(abovePercent)}% above ` +
      `the average day of ${figure(average)}; the limit is ${settings.percent}%`;
    return flag('daily_high', message, total, abovePercent, settings.percent);
  },
};

export const dailyLowDetector: Detector = {
  name: 'daily_low',
  usesHistory: true,
  warmUpDays: (settings) => settings.daily_low.warmUpDays,
  inspect(reading, profile, view) {
    const settings = view.settings.daily_low;
    if (!view.endsLocalDay || view.outage || profile.dayHadOutage(view.localDay)) {
      return NO_FINDINGS;
    }
    if (profile.completedDaysAt(view.localDay) < settings.warmUpDays) return NO_FINDINGS;
    const average = profile.averageDaily;
    if (!(average > 0)) return NO_FINDINGS;
    const expected = 86_400 / reading.intervalSeconds;
    const count = profile.dayCountBefore(view.localDay) + 1;
    if (count < COMPLETE_DAY_SHARE * expected) return NO_FINDINGS;
    const total = dayUseBefore(profile, view.localDay) + valueOf(reading);
    const belowPercent = ((average - total) / average) * 100;
    if (belowPercent <= settings.percent) return NO_FINDINGS;
    const message =
      `the day ends at ${figure(total)}, ${figure(belowPercent)}% below the average day of ` +
      `${figure(average)}; the limit is ${settings.percent}%`;
    return flag('daily_low', message, total, belowPercent, settings.percent);
  },
};

/** The day's use before this reading: learnt readings and those held as anomalies. */
function dayUseBefore(profile: StreamProfile, localDay: number): number {
  return profile.dayTotalBefore(localDay) + profile.dayHeldBefore(localDay);
}
