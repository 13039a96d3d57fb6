// Goal: reverse_flow flags the reverse-flow status bit and a negative value on a stream with no
// history, and nothing else. Method: single readings judged against an empty profile.
import { describe, expect, it } from 'vitest';
import { StreamProfile } from '../core/stream-profile.js';
import { judge, reading } from '../test-support/detector-rig.js';
import { reverseFlowDetector } from './reverse-flow.js';

describe('reverse_flow', () => {
  const empty = StreamProfile.empty();

  it('flags the status bit, with the status code against the mask', () => {
    const [finding] = judge(reverseFlowDetector, empty, reading({ kwh: 0.4, statusCode: 4 + 1 }));
    expect(finding).toMatchObject({ detector: 'reverse_flow', statistic: 5, threshold: 4 });
  });

  it('flags a negative value', () => {
    const [finding] = judge(reverseFlowDetector, empty, reading({ kwh: -0.25 }));
    expect(finding).toMatchObject({ value: -0.25, statistic: -0.25, threshold: 0 });
  });

  it('leaves ordinary readings and other bits alone', () => {
    for (const statusCode of [0, 1, 2, 8]) {
      expect(judge(reverseFlowDetector, empty, reading({ kwh: 0, statusCode }))).toEqual([]);
    }
  });
});
