// Goal: a call is attempted at most its cap; every wait lies inside the full-jitter envelope (or is
// the peer's Retry-After when longer, clamped); errors are classified as the issue says.
// Method: fast-check drives callWithRetry on a ManualClock with an always-failing operation and
// records each wait; classification is checked on the errors the real transports throw.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock, type Random } from '../core/clock.js';
import { AmisyncError } from '../core/errors.js';
import { RETRY_DELAY_MS_MAX } from '../core/limits.js';
import {
  backoffEnvelopeMs,
  callWithRetry,
  classify,
  retryDelayMs,
  RetriesExhausted,
  type RetrySettings,
} from './retry.js';

/** A Random whose draws are the given unit values in turn (as 48-bit hex). */
function unitsRandom(units: readonly number[]): Random {
  let index = 0;
  return {
    hex: (byteCount) => {
      const unit = units[index++ % units.length] ?? 0;
      return Math.floor(unit * 2 ** 48)
        .toString(16)
        .padStart(byteCount * 2, '0');
    },
  };
}

/** Runs callWithRetry to its end on a manual clock; returns the waits and the attempts made. */
async function drive(settings: RetrySettings, error: Error, units: readonly number[]) {
  const clock = new ManualClock(0);
  const waits: number[] = [];
  let attempts = 0;
  const outcome = callWithRetry(
    async () => {
      attempts += 1;
      throw error;
    },
    {
      settings,
      clock,
      random: unitsRandom(units),
      what: 'the page',
      onRetry: (_, delayMs) => waits.push(delayMs),
    },
  ).catch((caught: unknown) => caught);
  let settled = false;
  void outcome.then(() => (settled = true));
  while (!settled) await clock.advance(RETRY_DELAY_MS_MAX);
  return { caught: await outcome, waits, attempts };
}

const settingsArb = fc.record({
  attempts: fc.integer({ min: 3, max: 5 }),
  baseDelayMs: fc.integer({ min: 0, max: 5_000 }),
  delayMsMax: fc.integer({ min: 5_000, max: RETRY_DELAY_MS_MAX }),
});
const unitsArb = fc.array(fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), {
  minLength: 1,
  maxLength: 8,
});

describe('retry policy', () => {
  it('never attempts more than the cap, and every wait is inside the full-jitter envelope', async () => {
    await fc.assert(
      fc.asyncProperty(settingsArb, unitsArb, async (settings, units) => {
        const failure = new AmisyncError('TRANSPORT_UNAVAILABLE', 'the page answered 503');
        const { caught, waits, attempts } = await drive(settings, failure, units);
        expect(attempts).toBe(settings.attempts);
        expect(waits).toHaveLength(settings.attempts - 1);
        waits.forEach((waitMs, index) => {
          expect(waitMs).toBeGreaterThanOrEqual(0);
          expect(waitMs).toBeLessThanOrEqual(backoffEnvelopeMs(settings, index + 1));
          expect(waitMs).toBeLessThanOrEqual(settings.delayMsMax);
        });
        expect(caught).toBeInstanceOf(RetriesExhausted);
        const exhausted = caught as RetriesExhausted;
        expect(exhausted.code).toBe('RETRIES_EXHAUSTED');
        expect(exhausted.attempts.map((a) => a.attempt)).toEqual(
          Array.from({ length: settings.attempts }, (_, i) => i + 1),
        );
        expect(exhausted.attempts.every((a) => a.code === 'TRANSPORT_UNAVAILABLE')).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it('draws the whole envelope: waits near zero and near the top both occur', () => {
    const settings = { attempts: 5, baseDelayMs: 1_000, delayMsMax: 30_000 };
    expect(retryDelayMs(settings, 3, null, 0)).toBe(0);
    expect(retryDelayMs(settings, 3, null, 0.999_999)).toBe(3_999);
    expect(backoffEnvelopeMs(settings, 1)).toBe(1_000);
    expect(backoffEnvelopeMs(settings, 10)).toBe(30_000);
  });

  it('honours Retry-After when it is longer than the jittered wait, clamped to the maximum', () => {
    fc.assert(
      fc.property(
        settingsArb,
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 0, max: 10 * RETRY_DELAY_MS_MAX }),
        fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
        (settings, failed, retryAfterMs, unit) => {
          const waitMs = retryDelayMs(settings, failed, retryAfterMs, unit);
          const jittered = retryDelayMs(settings, failed, null, unit);
          expect(waitMs).toBe(Math.max(jittered, Math.min(RETRY_DELAY_MS_MAX, retryAfterMs)));
          expect(waitMs).toBeLessThanOrEqual(RETRY_DELAY_MS_MAX);
        },
      ),
    );
  });

  it('waits what the peer asked when it is longer', async () => {
    const settings = { attempts: 3, baseDelayMs: 10, delayMsMax: 100 };
    const limited = new AmisyncError('TRANSPORT_RATE_LIMITED', '429', { retryAfterMs: 7_000 });
    const { waits } = await drive(settings, limited, [0.5]);
    expect(waits).toEqual([7_000, 7_000]);
  });

  it('never retries what retrying cannot mend', async () => {
    const settings = { attempts: 5, baseDelayMs: 10, delayMsMax: 100 };
    for (const code of [
      'TRANSPORT_AUTH_FAILED',
      'TRANSPORT_PROTOCOL',
      'INPUT_UNREADABLE',
    ] as const) {
      const { caught, attempts } = await drive(settings, new AmisyncError(code, 'no'), [0.5]);
      expect(attempts).toBe(1);
      expect((caught as AmisyncError).code).toBe(code);
    }
    const locked = Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
    const { caught, attempts } = await drive(settings, locked, [0.5]);
    expect(attempts).toBe(1);
    expect(caught).toBe(locked);
  });

  it('classifies transport, network, store and programming errors', () => {
    const cases: [unknown, string, boolean][] = [
      [new AmisyncError('TRANSPORT_UNAVAILABLE', '503'), 'retry', true],
      [new AmisyncError('TRANSPORT_TIMEOUT', 'slow'), 'retry', true],
      [new AmisyncError('TRANSPORT_RATE_LIMITED', '429'), 'retry', true],
      [Object.assign(new Error('reset'), { code: 'ECONNRESET' }), 'retry', true],
      // The REST source refreshes the token once on a 401; a 401 reaching resilience is final.
      [new AmisyncError('TRANSPORT_AUTH_FAILED', '401 after refresh'), 'give-up', true],
      [new AmisyncError('TRANSPORT_HOST_KEY', 'key'), 'give-up', true],
      [new AmisyncError('PAYLOAD_TOO_LARGE', 'big'), 'give-up', false],
      [new AmisyncError('STORE_UNAVAILABLE', 'busy'), 'store-outage', false],
      [Object.assign(new Error('full'), { code: 'SQLITE_FULL' }), 'store-outage', false],
      [Object.assign(new Error('disk'), { code: 'ENOSPC' }), 'store-outage', false],
      [new TypeError('x is undefined'), 'give-up', false],
    ];
    for (const [error, decision, endpointFault] of cases) {
      expect(classify(error), String(error)).toMatchObject({ decision, endpointFault });
    }
  });

  it('stops at once when the budget refuses a retry', async () => {
    const clock = new ManualClock(0);
    let attempts = 0;
    const caught = await callWithRetry(
      async () => {
        attempts += 1;
        throw new AmisyncError('TRANSPORT_UNAVAILABLE', '503');
      },
      {
        settings: { attempts: 5, baseDelayMs: 0, delayMsMax: 0 },
        clock,
        random: unitsRandom([0]),
        what: 'the page',
        budget: { tryRetry: () => false },
      },
    ).catch((error: unknown) => error);
    expect(attempts).toBe(1);
    expect(caught).toMatchObject({ code: 'RETRIES_EXHAUSTED', stoppedBy: 'budget' });
  });
});
