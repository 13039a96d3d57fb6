/**
 * zero_run: the `intervals`-th consecutive zero reading (and every later one of the run) where the
 * profile expects use: the mean of the reading's local hour of the week is at least
 * `expectedMin`. A reading carrying the outage bit is never flagged (no power, no use) and does not
 * lengthen the run. Not for a stream in warm-up. The run counts accepted readings: once flagged,
 * a zero is held and the run stays one short, so each further zero is flagged too.
 */
import type { Detector } from '../core/detector.js';
import { figure, flag, NO_FINDINGS } from './finding.js';

export const zeroRunDetector: Detector = {
  name: 'zero_run',
  usesHistory: true,
  warmUpDays: (settings) => settings.zero_run.warmUpDays,
  inspect(reading, profile, view) {
    const settings = view.settings.zero_run;
    if (reading.valueMicro !== 0 || view.outage) return NO_FINDINGS;
    if (profile.completedDaysAt(view.localDay) < settings.warmUpDays) return NO_FINDINGS;
    const run = profile.zeroRun + 1;
    if (run < settings.intervals) return NO_FINDINGS;
    const expected = profile.cellMean(view.hourOfWeek);
    if (profile.cellCount(view.hourOfWeek) === 0 || expected < settings.expectedMin) {
      return NO_FINDINGS;
    }
    const message =
      `${run} consecutive zero readings where this local hour of the week averages ` +
      `${figure(expected)}; the limit is ${settings.intervals} (no outage bit set)`;
    return flag('zero_run', message, 0, run, settings.intervals);
  },
};
