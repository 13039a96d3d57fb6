/**
 * reverse_flow: energy flowing backwards on a delivered-only channel: the reverse-flow status bit,
 * or a negative (export) value. Stateless. A channel that carries export (net metering,
 * generation) turns it off in the data dictionary.
 */
import type { Detector } from '../core/detector.js';
import { figure, flag, NO_FINDINGS, valueOf } from './finding.js';

export const reverseFlowDetector: Detector = {
  name: 'reverse_flow',
  inspect(reading, _profile, view) {
    const mask = view.statusBits.reverseFlow;
    const bit = (reading.statusCode & mask) !== 0;
    if (!bit && reading.valueMicro >= 0) return NO_FINDINGS;
    const value = valueOf(reading);
    const why = bit
      ? `status ${reading.statusCode} carries the reverse-flow bit (${mask})`
      : `the value ${figure(value)} is negative`;
    const message = `${why} on a delivered-only channel`;
    return flag('reverse_flow', message, value, bit ? reading.statusCode : value, bit ? mask : 0);
  },
};
