// Goal: the inspection runs a stream's enabled detectors, returns their findings with the update
// its profile learns, and for a backfilled reading runs only the stateless ones and learns nothing.
// Method: real profiles and the reference detectors; settings turn detectors off.
import { describe, expect, it } from 'vitest';
import { freshStreamState } from '../pipeline/identify.js';
import {
  DAY_SLOTS,
  history,
  quietKwh,
  reading,
  suiteOf,
  withSettings,
} from '../test-support/detector-rig.js';
import { inspectReading, REFERENCE_DETECTORS, streamDetection, viewOf } from './detect.js';
import { DETECTOR_CODES, REGISTER_DETECTOR_CODE } from '../core/detector.js';

function inspect(
  slot: number,
  kwh: number,
  statusCode: number,
  settings = withSettings('spike', {}),
) {
  const profile = history(14 * DAY_SLOTS, quietKwh);
  const suite = suiteOf(REFERENCE_DETECTORS, settings);
  const next = reading({ slot, kwh, statusCode });
  const detection = streamDetection(suite, next);
  const view = viewOf(next, freshStreamState(next), detection.settings, suite);
  return inspectReading(detection, next, profile, view);
}

describe('inspectReading', () => {
  it('has one detector per code, in the order of the codes', () => {
    expect(REFERENCE_DETECTORS.map((detector) => detector.name)).toEqual([
      ...DETECTOR_CODES,
      REGISTER_DETECTOR_CODE,
    ]);
  });

  it('returns every finding and the update the profile learns on accept', () => {
    const { findings, update } = inspect(14 * DAY_SLOTS, 40, 8);
    expect(findings.map((finding) => finding.detector).sort()).toEqual(
      ['iqr', 'mad', 'spike', 'tamper', 'zscore'].sort(),
    );
    expect(update).toMatchObject({ valueMicro: 40_000_000, outage: false });
  });

  it('skips disabled detectors', () => {
    const { findings } = inspect(14 * DAY_SLOTS, 40, 8, withSettings('zscore', { enabled: false }));
    expect(findings.map((finding) => finding.detector)).not.toContain('zscore');
    expect(findings).toHaveLength(4);
  });

  it('judges a backfilled reading by the stateless detectors only and learns nothing', () => {
    const { findings, update } = inspect(5 * DAY_SLOTS, 40, 8);
    expect(findings.map((finding) => finding.detector)).toEqual(['tamper']);
    expect(update).toBeNull();
  });
});
