/**
 * A stream's history for detector tests: readings learnt into a real StreamProfile in time order,
 * exactly as the pipeline teaches accepted readings, and one detector's verdict on a next reading.
 */
import {
  DEFAULT_DETECTOR_SETTINGS,
  type Detector,
  type DetectorSettings,
  type Finding,
} from '../core/detector.js';
import type { Reading } from '../core/reading.js';
import { StreamProfile } from '../core/stream-profile.js';
import {
  createDetectorSuite,
  DEFAULT_DETECTOR_STATUS_BITS,
  inspectReading,
  streamDetection,
  viewOf,
} from '../detect/detect.js';
import { freshStreamState } from '../pipeline/identify.js';
import { makeReading, type ReadingSpec } from './reading-builder.js';

/** 15-minute slots per day. */
export const DAY_SLOTS = 96;

export function suiteOf(
  detectors: readonly Detector[],
  settings: DetectorSettings = DEFAULT_DETECTOR_SETTINGS,
  timeZone: string | null = null,
) {
  return createDetectorSuite(() => settings, DEFAULT_DETECTOR_STATUS_BITS, timeZone, detectors);
}

/** Learns a reading the way the pipeline does for an accepted one (no detector asked). */
export function teach(profile: StreamProfile, reading: Reading, timeZone: string | null = null) {
  const suite = suiteOf([], DEFAULT_DETECTOR_SETTINGS, timeZone);
  const detection = streamDetection(suite, reading);
  const view = viewOf(reading, freshStreamState(reading), detection.settings, suite);
  const { update } = inspectReading(detection, reading, profile, view);
  if (update !== null) profile.learn(update);
}

/** A profile that learnt slots [0, slots) with the given kWh (and status) per slot. */
export function history(
  slots: number,
  kwhAt: (slot: number) => number,
  statusAt: (slot: number) => number = () => 0,
  timeZone: string | null = null,
): StreamProfile {
  const profile = StreamProfile.empty();
  for (let slot = 0; slot < slots; slot++) {
    teach(profile, reading({ slot, kwh: kwhAt(slot), statusCode: statusAt(slot) }), timeZone);
  }
  return profile;
}

export function reading(spec: Omit<ReadingSpec, 'valueMicro'> & { kwh: number }): Reading {
  const { kwh, ...rest } = spec;
  return makeReading({ ...rest, seq: (rest.slot ?? 0) + 1, valueMicro: Math.round(kwh * 1e6) });
}

/** One detector's findings on a reading against a profile (with its settings, in a zone). */
export function judge(
  detector: Detector,
  profile: StreamProfile,
  next: Reading,
  settings: DetectorSettings = DEFAULT_DETECTOR_SETTINGS,
  timeZone: string | null = null,
): readonly Finding[] {
  const suite = suiteOf([detector], settings, timeZone);
  const detection = streamDetection(suite, next);
  const view = viewOf(next, freshStreamState(next), detection.settings, suite);
  return inspectReading(detection, next, profile, view).findings;
}

/** Settings with one detector's fields replaced. */
export function withSettings<Code extends keyof DetectorSettings>(
  code: Code,
  changes: Partial<DetectorSettings[Code]>,
): DetectorSettings {
  return {
    ...DEFAULT_DETECTOR_SETTINGS,
    [code]: { ...DEFAULT_DETECTOR_SETTINGS[code], ...changes },
  };
}

/** 0.3..0.7 kWh by a fixed sequence: a quiet household with no randomness. */
export function quietKwh(slot: number): number {
  return 0.3 + ((slot * 37) % 41) / 100;
}
