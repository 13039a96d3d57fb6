// Goal: a quarantine spike alert is raised once when the quarantined share over the window rises
// strictly above its threshold with enough records, and again only after it fell back.
// Method: feed delivery counts on a ManualClock into the real rule, collecting raised alerts.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import type { Alert } from './alerts.js';
import { QuarantineSpikeRule } from './quarantine-spike.js';

function rule(clock: ManualClock) {
  const raised: Omit<Alert, 'atMs'>[] = [];
  const made = new QuarantineSpikeRule(
    { windowMs: 60_000, shareMax: 0.1, minimumRecords: 100 },
    clock,
    { raise: (alert) => (raised.push(alert), { ...alert, atMs: clock.nowMs() }) },
  );
  return { made, raised };
}

describe('quarantine spike', () => {
  it('stays quiet at the threshold and below the minimum records', () => {
    const clock = new ManualClock(0);
    const { made, raised } = rule(clock);
    made.observe('a', 50, 25);
    made.observe('a', 49, 0);
    expect(raised).toHaveLength(0);
    const { made: other, raised: otherRaised } = rule(clock);
    other.observe('a', 100, 10);
    expect(otherRaised).toHaveLength(0);
  });

  it('raises once above the threshold, names the figures, re-arms after the share falls', () => {
    const clock = new ManualClock(0);
    const { made, raised } = rule(clock);
    made.observe('a', 100, 11);
    made.observe('a', 100, 30);
    expect(raised).toHaveLength(1);
    expect(raised[0]).toMatchObject({
      rule: 'quarantine.spike',
      source: 'a',
      figures: { received: 100, quarantined: 11, shareMax: 0.1 },
    });
    made.observe('b', 1000, 0);
    expect(raised).toHaveLength(1);
    clock.advanceMs(61_000);
    made.observe('a', 100, 0);
    made.observe('a', 100, 50);
    expect(raised).toHaveLength(2);
    expect(raised[1]?.figures).toMatchObject({ received: 200, quarantined: 50, share: 0.25 });
  });
});
