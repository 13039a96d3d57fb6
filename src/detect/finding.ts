/**
 * Small shared leaves of the detectors: a finding with its figures, a reading's value in its
 * unit, and how figures are written in messages.
 */
import { NO_FINDINGS, type DetectorCode, type Finding } from '../core/detector.js';
import { VALUE_MICRO_PER_UNIT, type Reading } from '../core/reading.js';

export function flag(
  detector: DetectorCode,
  message: string,
  value: number,
  statistic: number,
  threshold: number,
): readonly Finding[] {
  return [{ detector, message, value, statistic, threshold }];
}

export function valueOf(reading: Reading): number {
  return reading.valueMicro / VALUE_MICRO_PER_UNIT;
}

/** A figure for a sentence: at most three decimals, no trailing zeros. */
export function figure(value: number): string {
  return String(Number(value.toFixed(3)));
}

export { NO_FINDINGS };
