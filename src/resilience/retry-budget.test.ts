// Goal: a retry budget lets retries be at most its share of calls (plus its reserve) over its
// window, so a storm of failures stops being retried, and a window later it allows retries again.
// Method: a real RetryBudget on a ManualClock fed a 100% failure storm through callWithRetry.
import { describe, expect, it } from 'vitest';
import { CountingRandom, ManualClock } from '../core/clock.js';
import { AmisyncError } from '../core/errors.js';
import { callWithRetry } from './retry.js';
import { RetryBudget } from './retry-budget.js';

describe('retry budget', () => {
  it('allows the reserve, then a share of the calls', () => {
    const clock = new ManualClock(0);
    const budget = new RetryBudget({ windowMs: 60_000, ratio: 0.2, minRetries: 2 }, clock);
    expect(budget.tryRetry()).toBe(true);
    expect(budget.tryRetry()).toBe(true);
    expect(budget.tryRetry()).toBe(false);
    for (let i = 0; i < 10; i++) budget.recordCall();
    expect(budget.tryRetry()).toBe(true);
    expect(budget.tryRetry()).toBe(true);
    expect(budget.tryRetry()).toBe(false);
    expect(budget.totals).toEqual({ calls: 10, retries: 4, refused: 2 });
    clock.advanceMs(61_000);
    expect(budget.tryRetry()).toBe(true);
  });

  it('stops retrying during a storm: retries stay within ratio x calls + reserve', async () => {
    const clock = new ManualClock(0);
    const settings = { windowMs: 60_000, ratio: 0.1, minRetries: 5 };
    const budget = new RetryBudget(settings, clock);
    let attempts = 0;
    const outcomes: string[] = [];
    for (let call = 0; call < 200; call++) {
      budget.recordCall();
      const done = callWithRetry(
        async () => {
          attempts += 1;
          throw new AmisyncError('TRANSPORT_UNAVAILABLE', '503');
        },
        {
          settings: { attempts: 5, baseDelayMs: 1, delayMsMax: 10 },
          clock,
          random: new CountingRandom(),
          what: 'the page',
          budget,
        },
      ).catch((error: unknown) => (error as { stoppedBy: string }).stoppedBy);
      let settled = false;
      void done.then(() => (settled = true));
      while (!settled) await clock.advance(10);
      outcomes.push(await done);
      await clock.advance(100);
    }
    const { calls, retries, refused } = budget.totals;
    expect(calls).toBe(200);
    expect(attempts).toBe(calls + retries);
    // Without a budget the storm would have sent 5 attempts per call: 1000 requests.
    expect(retries).toBeLessThanOrEqual(settings.ratio * calls + settings.minRetries * 2);
    expect(retries / calls).toBeLessThan(0.2);
    expect(refused).toBeGreaterThan(100);
    expect(outcomes.filter((o) => o === 'budget').length).toBe(refused);
  });
});
