// Goal: tamper and clock flag their own status bits, from the first reading of a stream, and
// nothing else. Method: single readings judged against an empty profile.
import { describe, expect, it } from 'vitest';
import { StreamProfile } from '../core/stream-profile.js';
import { judge, reading } from '../test-support/detector-rig.js';
import { clockDetector, tamperDetector } from './status-bits.js';

describe('tamper and clock', () => {
  const empty = StreamProfile.empty();

  it('flag their own bit with the status code and the mask', () => {
    expect(judge(tamperDetector, empty, reading({ kwh: 0.5, statusCode: 8 }))).toEqual([
      {
        detector: 'tamper',
        message: 'status 8 carries the tamper bit (8)',
        value: 0.5,
        statistic: 8,
        threshold: 8,
      },
    ]);
    expect(judge(clockDetector, empty, reading({ kwh: 0.5, statusCode: 16 + 2 }))[0]).toMatchObject(
      { detector: 'clock', statistic: 18, threshold: 16 },
    );
  });

  it('ignore the other bits', () => {
    expect(judge(tamperDetector, empty, reading({ kwh: 0.5, statusCode: 1 + 2 + 4 + 16 }))).toEqual(
      [],
    );
    expect(judge(clockDetector, empty, reading({ kwh: 0.5, statusCode: 1 + 2 + 4 + 8 }))).toEqual(
      [],
    );
  });
});
