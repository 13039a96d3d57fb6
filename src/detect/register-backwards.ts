/**
 * register_backwards: a register read lower than the register's previous read. A cumulative
 * register only goes up, except when it rolls over from its last digit back to zero. Ingestion
 * does not know the meter's digit count (the accounts file does), so a fall is taken as a
 * rollover here when it goes from the top tenth of the previous read's digit range to the bottom
 * tenth (99,950 to 30 on five digits); billing then applies the configured digits. Any other fall
 * is held: the ledger never gets a register value that would make consumption negative.
 */
import { REGISTER_DETECTOR_CODE, type Detector } from '../core/detector.js';
import { isRegisterRead } from '../core/register.js';
import { VALUE_MICRO_PER_UNIT } from '../core/reading.js';
import { figure, flag, NO_FINDINGS, valueOf } from './finding.js';

export const registerBackwardsDetector: Detector = {
  name: REGISTER_DETECTOR_CODE,
  usesHistory: true,
  inspect(reading, profile) {
    if (!isRegisterRead(reading) || profile.learned === 0) return NO_FINDINGS;
    const previousMicro = profile.flatValueMicro;
    if (Number.isNaN(previousMicro) || reading.valueMicro >= previousMicro) return NO_FINDINGS;
    if (looksLikeRollover(previousMicro, reading.valueMicro)) return NO_FINDINGS;
    const previous = previousMicro / VALUE_MICRO_PER_UNIT;
    const value = valueOf(reading);
    const message =
      `register read ${figure(value)} kWh is below the previous read ${figure(previous)} kWh ` +
      'and is not a rollover: a register only goes up';
    return flag(REGISTER_DETECTOR_CODE, message, value, value - previous, 0);
  },
};

/** Whether a fall from `previousMicro` to `currentMicro` reads as a rollover of the register. */
export function looksLikeRollover(previousMicro: number, currentMicro: number): boolean {
  const wholeKwh = Math.floor(previousMicro / VALUE_MICRO_PER_UNIT);
  const digits = Math.max(1, String(wholeKwh).length);
  const rangeMicro = 10 ** digits * VALUE_MICRO_PER_UNIT;
  return previousMicro >= 0.9 * rangeMicro && currentMicro < 0.1 * rangeMicro;
}
