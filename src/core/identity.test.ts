// Goal: the idempotency key is exactly the documented form, so vendors and auditors can recompute
// it. Method: the test vectors of docs/idempotency-key.md, plus properties over generated
// identities.
import { hash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatUtcSeconds, idempotencyKey, idempotencyKeyInput } from './identity.js';

const VECTORS: [string, string, string, number, string][] = [
  [
    'MTR-0A1B2C3D',
    '1',
    '2026-03-01T00:00:00Z',
    0,
    '3c7dc16c773727db4c15c34adb5747b84f00ca95b69fea7a07d96739df9a5ce1',
  ],
  [
    'MTR-0A1B2C3D',
    '1',
    '2026-03-01T00:15:00Z',
    42,
    'abe4072d7c8d604c21da3718f3ac45b528b7abf9d75bf3d2fb1fe97d4890d94e',
  ],
  [
    'MTR-ZZZZ9999',
    'E1',
    '2026-11-01T06:30:00Z',
    1234567,
    '18bcc56e4e236b3ec5573215a5c67141823d8d85138144acc2e0967e095c6b2b',
  ],
];

describe('idempotency key', () => {
  it('matches the documented test vectors', () => {
    const doc = readFileSync(new URL('../../docs/idempotency-key.md', import.meta.url), 'utf8');
    for (const [meter, channel, start, seq, expected] of VECTORS) {
      expect(idempotencyKey(meter, channel, Date.parse(start), seq)).toBe(expected);
      expect(doc).toContain(expected);
    }
  });

  it('is sha256 of v1|meter|channel|start|seq for any identity', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^MTR-[A-Z0-9]{8}$/),
        fc.stringMatching(/^[A-Za-z0-9]{1,8}$/),
        fc.integer({ min: 946_684_800, max: 7_258_118_400 }),
        fc.nat(),
        (meter, channel, startSeconds, seq) => {
          const startMs = startSeconds * 1000;
          const input = idempotencyKeyInput(meter, channel, startMs, seq);
          expect(input).toBe(`v1|${meter}|${channel}|${formatUtcSeconds(startMs)}|${seq}`);
          expect(idempotencyKey(meter, channel, startMs, seq)).toBe(hash('sha256', input, 'hex'));
          expect(formatUtcSeconds(startMs)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
        },
      ),
    );
  });

  it('differs when any part differs', () => {
    const base = idempotencyKey('MTR-0A1B2C3D', '1', 0, 1);
    expect(idempotencyKey('MTR-0A1B2C3E', '1', 0, 1)).not.toBe(base);
    expect(idempotencyKey('MTR-0A1B2C3D', '2', 0, 1)).not.toBe(base);
    expect(idempotencyKey('MTR-0A1B2C3D', '1', 1000, 1)).not.toBe(base);
    expect(idempotencyKey('MTR-0A1B2C3D', '1', 0, 2)).not.toBe(base);
  });
});
