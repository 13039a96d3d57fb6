// Goal: the window counts exactly the calls completed in its last windowMs (to one bucket), and its
// memory does not grow with the call count.
// Method: record outcomes at chosen monotonic times and compare totals with a plain list filtered
// by age, over random sequences (fast-check).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SlidingWindow } from './sliding-window.js';

describe('sliding window', () => {
  it('forgets calls older than the window', () => {
    const window = new SlidingWindow(60_000);
    window.record(0, 'failure');
    window.record(30_000, 'success', true);
    expect(window.totals(59_999)).toEqual({ calls: 2, failures: 1, slow: 1 });
    expect(window.totals(60_000)).toEqual({ calls: 1, failures: 0, slow: 1 });
    expect(window.totals(90_000)).toEqual({ calls: 0, failures: 0, slow: 0 });
    window.record(200_000, 'failure');
    expect(window.totals(200_500)).toEqual({ calls: 1, failures: 1, slow: 0 });
  });

  it('agrees with a list of every call filtered by bucket age', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 5_000 }), fc.boolean()), { maxLength: 300 }),
        (steps) => {
          const window = new SlidingWindow(10_000, 10);
          const all: { atMs: number; failed: boolean }[] = [];
          let nowMs = 0;
          for (const [gapMs, failed] of steps) {
            nowMs += gapMs;
            window.record(nowMs, failed ? 'failure' : 'success');
            all.push({ atMs: nowMs, failed });
            const oldestBucket = Math.floor(nowMs / 1_000) - 9;
            const inside = all.filter((c) => Math.floor(c.atMs / 1_000) >= oldestBucket);
            expect(window.totals(nowMs)).toEqual({
              calls: inside.length,
              failures: inside.filter((c) => c.failed).length,
              slow: 0,
            });
          }
        },
      ),
    );
  });
});
