/**
 * zscore: a reading far from the mean of the same local hour of the week, in standard deviations
 * (|x - mean| / std > threshold), so an evening peak or a weekend is judged against evenings or
 * weekends. A cell whose spread is zero never flags (any change would be "infinitely" unusual),
 * nor does a deviation below `minDeviation`, a cell with fewer than `minSamples` readings, a
 * stream in warm-up, or a reading carrying the outage bit.
 */
import type { Detector } from '../core/detector.js';
import { figure, flag, NO_FINDINGS, valueOf } from './finding.js';

export const zscoreDetector: Detector = {
  name: 'zscore',
  usesHistory: true,
  warmUpDays: (settings) => settings.zscore.warmUpDays,
  inspect(reading, profile, view) {
    const settings = view.settings.zscore;
    if (view.outage || profile.completedDaysAt(view.localDay) < settings.warmUpDays) {
      return NO_FINDINGS;
    }
    const cell = view.hourOfWeek;
    if (profile.cellCount(cell) < settings.minSamples) return NO_FINDINGS;
    const std = profile.cellStdDev(cell);
    if (!(std > 0)) return NO_FINDINGS;
    const value = valueOf(reading);
    const mean = profile.cellMean(cell);
    const deviation = Math.abs(value - mean);
    const z = deviation / std;
    if (z <= settings.threshold || deviation < settings.minDeviation) return NO_FINDINGS;
    const message =
      `${figure(value)} is ${figure(z)} standard deviations from the mean ${figure(mean)} ` +
      `(std ${figure(std)}) of this local hour of the week; the limit is ${settings.threshold}`;
    return flag('zscore', message, value, z, settings.threshold);
  },
};
