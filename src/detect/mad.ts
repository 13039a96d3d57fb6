/**
 * mad: the robust score |x - median| / (1.4826 * MAD) above `threshold`, from the stream's
 * quantile sketch. The median and the median absolute deviation ignore the outliers that inflate
 * a mean and a standard deviation. A MAD of zero never flags; nor does a deviation below
 * `minDeviation`, a stream in warm-up, or a reading carrying the outage bit.
 */
import type { Detector } from '../core/detector.js';
import { figure, flag, NO_FINDINGS, valueOf } from './finding.js';

/** Scales a MAD to a standard deviation for normally distributed data. */
export const MAD_TO_STD = 1.4826;

export const madDetector: Detector = {
  name: 'mad',
  usesHistory: true,
  warmUpDays: (settings) => settings.mad.warmUpDays,
  inspect(reading, profile, view) {
    const settings = view.settings.mad;
    if (view.outage || profile.completedDaysAt(view.localDay) < settings.warmUpDays) {
      return NO_FINDINGS;
    }
    const mad = profile.mad;
    if (!(mad > 0)) return NO_FINDINGS;
    const value = valueOf(reading);
    const deviation = Math.abs(value - profile.median);
    const score = deviation / (MAD_TO_STD * mad);
    if (score <= settings.threshold || deviation < settings.minDeviation) return NO_FINDINGS;
    const message =
      `${figure(value)} is ${figure(score)} robust deviations from the stream's median ` +
      `${figure(profile.median)} (MAD ${figure(mad)}); the limit is ${settings.threshold}`;
    return flag('mad', message, value, score, settings.threshold);
  },
};
