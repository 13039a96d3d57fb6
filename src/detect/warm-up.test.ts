// Goal: skipping a detector still in warm-up (Detector.warmUpDays) never changes a finding, and
// each reference detector's declared warm-up is the one its settings give.
// Method: real profiles of 0 to 9 days of history; for readings of every kind (normal, spike,
// zero, status bits, day ends) the inspection's findings equal those of asking every enabled
// detector directly.
import { describe, expect, it } from 'vitest';
import type { Finding } from '../core/detector.js';
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

const SETTINGS = [
  withSettings('spike', {}),
  withSettings('spike', { warmUpDays: 1 }),
  withSettings('zscore', { warmUpDays: 2 }),
];

describe('warm-up skip', () => {
  it('finds what asking every enabled detector finds', () => {
    let compared = 0;
    let flagged = 0;
    for (const settings of SETTINGS) {
      const suite = suiteOf(REFERENCE_DETECTORS, settings);
      for (let days = 0; days <= 9; days++) {
        const profile = history(days * DAY_SLOTS + 40, quietKwh);
        for (const [kwh, statusCode, offset] of [
          [0.5, 0, 0],
          [40, 0, 1],
          [40, 8, 2],
          [0, 0, 3],
          [-1, 0, 4],
          [0.4, 0, DAY_SLOTS - 41],
        ] as const) {
          const next = reading({ slot: days * DAY_SLOTS + 40 + offset, kwh, statusCode });
          const detection = streamDetection(suite, next);
          const view = viewOf(next, freshStreamState(next), detection.settings, suite);
          const direct: Finding[] = detection.all.flatMap((detector) => [
            ...detector.inspect(next, profile, view),
          ]);
          expect(inspectReading(detection, next, profile, view).findings).toEqual(direct);
          compared += 1;
          flagged += direct.length > 0 ? 1 : 0;
        }
      }
    }
    expect(compared).toBe(SETTINGS.length * 10 * 6);
    expect(flagged).toBeGreaterThan(SETTINGS.length * 10);
  });

  it('declares the warm-up of each detector from its own settings', () => {
    const settings = withSettings('daily_low', { warmUpDays: 5 });
    const declared = Object.fromEntries(
      REFERENCE_DETECTORS.map((detector) => [detector.name, detector.warmUpDays?.(settings)]),
    );
    expect(declared).toMatchObject({
      spike: settings.spike.warmUpDays,
      zscore: settings.zscore.warmUpDays,
      mad: settings.mad.warmUpDays,
      iqr: settings.iqr.warmUpDays,
      zero_run: settings.zero_run.warmUpDays,
      daily_high: settings.daily_high.warmUpDays,
      daily_low: 5,
    });
  });
});
