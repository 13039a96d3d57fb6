/**
 * tamper and clock: the meter itself reports tampering (a cover opened, a magnet) or a clock it
 * does not trust (reset, drifted, adjusted), by status bits the data dictionary names. Stateless.
 * The statistic is the status code, the threshold the mask.
 */
import type { Detector, DetectorCode } from '../core/detector.js';
import { flag, NO_FINDINGS, valueOf } from './finding.js';

function statusBitDetector(code: DetectorCode, bit: 'tamper' | 'clock', what: string): Detector {
  return {
    name: code,
    inspect(reading, _profile, view) {
      const mask = view.statusBits[bit];
      if ((reading.statusCode & mask) === 0) return NO_FINDINGS;
      const message = `status ${reading.statusCode} carries the ${what} bit (${mask})`;
      return flag(code, message, valueOf(reading), reading.statusCode, mask);
    },
  };
}

export const tamperDetector = statusBitDetector('tamper', 'tamper', 'tamper');
export const clockDetector = statusBitDetector('clock', 'clock', 'clock-error');
