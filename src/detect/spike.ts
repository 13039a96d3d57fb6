/**
 * spike: a reading more than `threshold` times the stream's recent typical maximum (the third
 * highest reading of the last complete local day, or of the day so far when higher), and at least
 * `minDeviation` above it. The third highest rather than the highest, so that one earlier spike
 * does not raise the bar. Not for a stream in warm-up or a reading carrying the outage bit (the
 * load that returns after an outage peaks).
 */
import type { Detector } from '../core/detector.js';
import { figure, flag, NO_FINDINGS, valueOf } from './finding.js';

export const spikeDetector: Detector = {
  name: 'spike',
  usesHistory: true,
  warmUpDays: (settings) => settings.spike.warmUpDays,
  inspect(reading, profile, view) {
    const settings = view.settings.spike;
    if (view.outage || profile.completedDaysAt(view.localDay) < settings.warmUpDays) {
      return NO_FINDINGS;
    }
    const typical = profile.recentThirdHighest(view.localDay);
    if (!(typical > 0)) return NO_FINDINGS;
    const value = valueOf(reading);
    const ratio = value / typical;
    if (ratio <= settings.threshold || value - typical < settings.minDeviation) return NO_FINDINGS;
    const message =
      `${figure(value)} is ${figure(ratio)} times the recent typical maximum ${figure(typical)} ` +
      `(a day's third highest reading); the limit is ${settings.threshold} times`;
    return flag('spike', message, value, ratio, settings.threshold);
  },
};
