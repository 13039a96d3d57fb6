/**
 * Readings held in the anomaly ledger for tests of its review workflow: stand-in detectors (not
 * the real ones) that flag what a test chooses, and a feed with some readings they flag.
 */
import { formatUtcSeconds } from '../core/identity.js';
import type { Detector } from '../detect/detect.js';
import { FEED_START_MS } from './ingest-harness.js';
import type { WireRecord } from './wire-text.js';

export const HELD_METER = 'MTR-AAAA0001';
export const OTHER_HELD_METER = 'MTR-BBBB0002';
export const INTERVAL_MS = 900_000;

/** Flags every reading above 10 kWh. */
export const SPIKE_DETECTOR: Detector = {
  name: 'test.spike',
  inspect: (reading) =>
    reading.valueMicro > 10_000_000
      ? [{ detector: 'test.spike', message: 'above 10 kWh in one interval' }]
      : [],
};

/** Flags every reading of exactly 0 kWh. */
export const ZERO_DETECTOR: Detector = {
  name: 'test.zero',
  inspect: (reading) =>
    reading.valueMicro === 0 ? [{ detector: 'test.zero', message: 'no use at all' }] : [],
};

export const TEST_DETECTORS: readonly Detector[] = [SPIKE_DETECTOR, ZERO_DETECTOR];

/** One reference-feed record of `meter` at interval `slot` from FEED_START_MS. */
export function heldRecord(
  slot: number,
  seq: number,
  kwh: string,
  meter: string = HELD_METER,
): WireRecord {
  return {
    meter_id: meter,
    timestamp_utc: formatUtcSeconds(FEED_START_MS + slot * INTERVAL_MS),
    consumption_kwh: kwh,
    status_code: 0,
    seq,
  };
}

/**
 * Six readings of one meter, 0.5 kWh each except slot 2 (40 kWh, a spike) and slot 4 (0 kWh), and
 * two of another meter, slot 1 a 25 kWh spike. The ledger takes 5 readings (2.5 kWh); 3 are held
 * (65 kWh).
 */
export function heldFeed(): WireRecord[] {
  return [
    heldRecord(0, 1, '0.5'),
    heldRecord(1, 2, '0.5'),
    heldRecord(2, 3, '40'),
    heldRecord(3, 4, '0.5'),
    heldRecord(4, 5, '0'),
    heldRecord(5, 6, '0.5'),
    heldRecord(0, 1, '0.5', OTHER_HELD_METER),
    heldRecord(1, 2, '25', OTHER_HELD_METER),
  ];
}
