/**
 * flat_line: a stuck register, the same non-zero value for `intervals` consecutive readings (this
 * one included). Real use wobbles at a meter's resolution; a frozen value does not. The run counts
 * accepted readings, so once flagged each further equal reading is flagged too.
 */
import type { Detector } from '../core/detector.js';
import { figure, flag, NO_FINDINGS, valueOf } from './finding.js';

export const flatLineDetector: Detector = {
  name: 'flat_line',
  usesHistory: true,
  inspect(reading, profile, view) {
    const settings = view.settings.flat_line;
    if (reading.valueMicro === 0 || view.outage) return NO_FINDINGS;
    if (reading.valueMicro !== profile.flatValueMicro) return NO_FINDINGS;
    const run = profile.flatRun + 1;
    if (run < settings.intervals) return NO_FINDINGS;
    const value = valueOf(reading);
    const message =
      `${run} consecutive readings of exactly ${figure(value)}; ` +
      `the limit is ${settings.intervals} (a stuck register?)`;
    return flag('flat_line', message, value, run, settings.intervals);
  },
};
