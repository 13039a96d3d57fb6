// Goal: the manual clock's timers fire in due order and only when the clock is moved, so tests of
// polling run hours in milliseconds. Method: sleepers that record when they woke.
import { describe, expect, it } from 'vitest';
import { ManualClock } from './clock.js';

describe('ManualClock timers', () => {
  it('wakes sleepers in due order as the clock advances, and not before', async () => {
    const clock = new ManualClock(1_000);
    const woke: string[] = [];
    void clock.sleep(300).then(() => woke.push(`b@${clock.nowMs()}`));
    void clock.sleep(100).then(() => woke.push(`a@${clock.nowMs()}`));
    expect(await clock.advance(99)).toBe(0);
    expect(woke).toEqual([]);
    expect(await clock.advance(500)).toBe(2);
    expect(woke).toEqual(['a@1100', 'b@1300']);
    expect(clock.nowMs()).toBe(1_599);
    expect(clock.monotonicMs()).toBe(599);
  });

  it('runs a polling loop of many hours in one advance', async () => {
    const clock = new ManualClock(0);
    let polls = 0;
    const controller = new AbortController();
    const loop = (async () => {
      while (!controller.signal.aborted) {
        polls += 1;
        await clock.sleep(60_000, controller.signal);
      }
    })();
    await clock.advance(10 * 3_600_000);
    expect(polls).toBe(601);
    controller.abort();
    await loop;
    expect(clock.pendingSleeps).toBe(0);
  });

  it('resolves a sleep at once when its signal aborts', async () => {
    const clock = new ManualClock(0);
    const controller = new AbortController();
    const sleeping = clock.sleep(1_000_000, controller.signal);
    controller.abort();
    await sleeping;
    expect(clock.pendingSleeps).toBe(0);
    expect(clock.nowMs()).toBe(0);
  });
});
