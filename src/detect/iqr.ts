/**
 * iqr: a reading outside the fences Q1 - k*IQR .. Q3 + k*IQR of the stream's quantile sketch
 * (k is `threshold`). The statistic is how many IQRs the reading lies beyond the quartile it
 * passed. An IQR of zero never flags; nor does a distance below `minDeviation` from that quartile,
 * a stream in warm-up, or a reading carrying the outage bit.
 */
import type { Detector } from '../core/detector.js';
import { figure, flag, NO_FINDINGS, valueOf } from './finding.js';

export const iqrDetector: Detector = {
  name: 'iqr',
  usesHistory: true,
  warmUpDays: (settings) => settings.iqr.warmUpDays,
  inspect(reading, profile, view) {
    const settings = view.settings.iqr;
    if (view.outage || profile.completedDaysAt(view.localDay) < settings.warmUpDays) {
      return NO_FINDINGS;
    }
    const q1 = profile.q1;
    const q3 = profile.q3;
    const iqr = q3 - q1;
    if (!(iqr > 0)) return NO_FINDINGS;
    const value = valueOf(reading);
    const beyond = value > q3 ? value - q3 : value < q1 ? q1 - value : 0;
    const iqrs = beyond / iqr;
    if (iqrs <= settings.threshold || beyond < settings.minDeviation) return NO_FINDINGS;
    const side = value > q3 ? 'above Q3' : 'below Q1';
    const message =
      `${figure(value)} is ${figure(iqrs)} IQRs ${side} (Q1 ${figure(q1)}, Q3 ${figure(q3)}); ` +
      `the fences are ${settings.threshold} IQRs out`;
    return flag('iqr', message, value, iqrs, settings.threshold);
  },
};
