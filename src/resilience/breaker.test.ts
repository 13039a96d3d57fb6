// Goal: the breaker opens on a failure rate strictly above its threshold over the last 60 s, once
// enough calls were made; admits exactly one probe; grows its cooldown; survives a restart open.
// Method: drive a real CircuitBreaker on a ManualClock with counted outcomes, as the issue lists.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import {
  BREAKER_DEFAULTS,
  CircuitBreaker,
  parseBreakerSnapshot,
  type BreakerTransition,
} from './breaker.js';

const START_MS = Date.UTC(2026, 0, 1);

function breaker(clock: ManualClock, overrides: Partial<typeof BREAKER_DEFAULTS> = {}) {
  const made = new CircuitBreaker('rest:vendor', { ...BREAKER_DEFAULTS, ...overrides }, clock);
  const transitions: BreakerTransition[] = [];
  made.onTransition((t) => transitions.push(t));
  return { made, transitions };
}

/** Records `calls` admitted calls, every `failEvery`-th one failed, `spreadMs` apart. */
function feed(
  clock: ManualClock,
  b: CircuitBreaker,
  calls: number,
  failEvery: number,
  spreadMs = 0,
) {
  for (let i = 1; i <= calls; i++) {
    if (b.state !== 'closed') return;
    const admission = b.admit();
    expect(admission.admitted).toBe(true);
    b.record(i % failEvery === 0 ? 'failure' : 'success', 5);
    clock.advanceMs(spreadMs);
  }
}

describe('circuit breaker', () => {
  it('stays closed at 10% failures with plenty of calls', () => {
    const clock = new ManualClock(START_MS);
    const { made } = breaker(clock);
    feed(clock, made, 100, 10, 100);
    // 100 calls over 10 s, each tenth failed: every prefix of 20 or more is at most 10%.
    expect(made.state).toBe('closed');
    expect(made.figures()).toMatchObject({ calls: 100, failures: 10, failureRate: 0.1 });
  });

  it('stays closed at exactly the threshold and opens just above it', () => {
    const clock = new ManualClock(START_MS);
    const { made } = breaker(clock);
    // 3 of 20 is exactly 15%: not strictly above.
    for (let i = 0; i < 17; i++) made.record('success', 5);
    for (let i = 0; i < 3; i++) made.record('failure', 5);
    expect(made.state).toBe('closed');
    made.record('failure', 5);
    expect(made.state).toBe('open');
  });

  it('opens at 16% once the minimum number of calls is in the window', () => {
    const clock = new ManualClock(START_MS);
    const { made, transitions } = breaker(clock);
    // Successes first, so the rate only passes 15% when the 25th call (4 of 25 = 16%) lands.
    for (let i = 0; i < 21; i++) made.record('success', 5);
    for (let i = 0; i < 3; i++) made.record('failure', 5);
    expect(made.state).toBe('closed');
    made.record('failure', 5);
    expect(made.state).toBe('open');
    expect(transitions).toHaveLength(1);
    expect(transitions[0]).toMatchObject({
      from: 'closed',
      to: 'open',
      figures: { calls: 25, failures: 4, failureRate: 0.16 },
      cooldownMs: BREAKER_DEFAULTS.cooldownMs,
    });
    expect(made.admit()).toEqual({ admitted: false, afterMs: BREAKER_DEFAULTS.cooldownMs });
  });

  it('stays closed at 16% below the minimum call count', () => {
    const clock = new ManualClock(START_MS);
    const { made } = breaker(clock, { minimumCalls: 30 });
    for (let i = 0; i < 21; i++) made.record('success', 5);
    for (let i = 0; i < 4; i++) made.record('failure', 5);
    expect(made.figures()).toMatchObject({ calls: 25, failures: 4 });
    expect(made.state).toBe('closed');
    // Even 100% failures stay closed below the minimum.
    const { made: fresh } = breaker(clock);
    for (let i = 0; i < 19; i++) fresh.record('failure', 5);
    expect(fresh.state).toBe('closed');
    fresh.record('failure', 5);
    expect(fresh.state).toBe('open');
  });

  it('lets failures older than the window slide out', () => {
    const clock = new ManualClock(START_MS);
    const { made } = breaker(clock);
    for (let i = 0; i < 3; i++) made.record('failure', 5);
    clock.advanceMs(61_000);
    for (let i = 0; i < 20; i++) made.record('success', 5);
    expect(made.figures()).toMatchObject({ calls: 20, failures: 0 });
    // The same three failures inside the window would have made 4 of 24 (16.7%) with one more.
    made.record('failure', 5);
    expect(made.state).toBe('closed');
    const { made: inside } = breaker(clock);
    for (let i = 0; i < 3; i++) inside.record('failure', 5);
    clock.advanceMs(59_000);
    for (let i = 0; i < 20; i++) inside.record('success', 5);
    inside.record('failure', 5);
    expect(inside.state).toBe('open');
  });

  it('half-open admits exactly one probe; success closes it', () => {
    const clock = new ManualClock(START_MS);
    const { made, transitions } = breaker(clock);
    feed(clock, made, 20, 1);
    expect(made.state).toBe('open');
    clock.advanceMs(BREAKER_DEFAULTS.cooldownMs - 1);
    expect(made.admit().admitted).toBe(false);
    clock.advanceMs(1);
    expect(made.admit()).toEqual({ admitted: true, probe: true });
    expect(made.state).toBe('half-open');
    for (let i = 0; i < 5; i++) expect(made.admit().admitted).toBe(false);
    made.record('success', 5);
    expect(made.state).toBe('closed');
    expect(transitions.map((t) => `${t.from}>${t.to}`)).toEqual([
      'closed>open',
      'open>half-open',
      'half-open>closed',
    ]);
    expect(made.figures().calls).toBe(0);
  });

  it('a failed probe reopens with a longer cooldown; a released probe lets the next call probe', () => {
    const clock = new ManualClock(START_MS);
    const { made, transitions } = breaker(clock, { cooldownMs: 1_000, cooldownMultiplier: 3 });
    feed(clock, made, 20, 1);
    clock.advanceMs(1_000);
    expect(made.admit()).toEqual({ admitted: true, probe: true });
    made.release();
    expect(made.admit()).toEqual({ admitted: true, probe: true });
    made.record('failure', 5);
    expect(made.state).toBe('open');
    expect(transitions.at(-1)).toMatchObject({ from: 'half-open', to: 'open', cooldownMs: 3_000 });
    clock.advanceMs(2_999);
    expect(made.admit().admitted).toBe(false);
    clock.advanceMs(1);
    expect(made.admit().admitted).toBe(true);
    made.record('failure', 5);
    expect(transitions.at(-1)?.cooldownMs).toBe(9_000);
  });

  it('counts slow calls as failures when a threshold is set', () => {
    const clock = new ManualClock(START_MS);
    const { made } = breaker(clock, { slowCallMs: 1_000 });
    for (let i = 0; i < 16; i++) made.record('success', 10);
    for (let i = 0; i < 3; i++) made.record('success', 1_001);
    expect(made.state).toBe('closed');
    made.record('success', 2_000);
    expect(made.state).toBe('open');
    const { made: ignoring } = breaker(clock);
    for (let i = 0; i < 20; i++) ignoring.record('success', 60_000);
    expect(ignoring.state).toBe('closed');
  });

  it('a restart while open stays open until the stored probe time', () => {
    const clock = new ManualClock(START_MS);
    const { made } = breaker(clock);
    feed(clock, made, 20, 1);
    const stored = JSON.stringify(made);
    clock.advanceMs(10_000);
    // A new process: its monotonic clock starts again from zero.
    const restarted = new ManualClock(clock.nowMs());
    const { made: again, transitions } = breaker(restarted);
    const snapshot = parseBreakerSnapshot(stored);
    expect(snapshot).not.toBeNull();
    if (snapshot === null) return;
    again.restore(snapshot);
    expect(again.state).toBe('open');
    expect(again.admit()).toEqual({ admitted: false, afterMs: 20_000 });
    restarted.advanceMs(20_000);
    expect(again.admit()).toEqual({ admitted: true, probe: true });
    expect(transitions.map((t) => t.to)).toEqual(['half-open']);
  });

  it('a restart while half-open comes back open with a fresh cooldown', () => {
    const clock = new ManualClock(START_MS);
    const { made } = breaker(clock);
    feed(clock, made, 20, 1);
    clock.advanceMs(BREAKER_DEFAULTS.cooldownMs);
    made.admit();
    expect(made.state).toBe('half-open');
    const snapshot = parseBreakerSnapshot(JSON.stringify(made));
    const restarted = new ManualClock(clock.nowMs() + 5_000);
    const { made: again } = breaker(restarted);
    if (snapshot === null) throw new Error('snapshot did not parse');
    again.restore(snapshot);
    expect(again.state).toBe('open');
    expect(again.admit()).toEqual({ admitted: false, afterMs: BREAKER_DEFAULTS.cooldownMs });
  });

  it('refuses a damaged snapshot', () => {
    expect(parseBreakerSnapshot('{')).toBeNull();
    expect(parseBreakerSnapshot('{"version":2}')).toBeNull();
    expect(parseBreakerSnapshot('{"version":1,"endpoint":"x","state":"ajar"}')).toBeNull();
  });
});
