// Goal: flat_line flags the 16th equal non-zero reading in a row and nothing shorter, no zero
// run and no reading that breaks the run.
// Method: real profiles learnt from readings with a stuck value at the end; findings checked.
import { describe, expect, it } from 'vitest';
import { history, judge, quietKwh, reading } from '../test-support/detector-rig.js';
import { flatLineDetector } from './flat-line.js';

const START = 200;

describe('flat_line', () => {
  it('flags the 16th equal reading with the run length', () => {
    const profile = history(START + 15, (slot) => (slot < START ? quietKwh(slot) : 1.234));
    const [finding] = judge(flatLineDetector, profile, reading({ slot: START + 15, kwh: 1.234 }));
    expect(finding).toMatchObject({ detector: 'flat_line', value: 1.234, statistic: 16 });
  });

  it('is silent for a shorter run, another value, or zeros', () => {
    const fourteen = history(START + 14, (slot) => (slot < START ? quietKwh(slot) : 1.234));
    expect(judge(flatLineDetector, fourteen, reading({ slot: START + 14, kwh: 1.234 }))).toEqual(
      [],
    );
    const fifteen = history(START + 15, (slot) => (slot < START ? quietKwh(slot) : 1.234));
    expect(judge(flatLineDetector, fifteen, reading({ slot: START + 15, kwh: 1.235 }))).toEqual([]);
    const zeros = history(START + 30, (slot) => (slot < START ? quietKwh(slot) : 0));
    expect(judge(flatLineDetector, zeros, reading({ slot: START + 30, kwh: 0 }))).toEqual([]);
  });
});
