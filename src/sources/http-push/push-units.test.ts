// Goal: the push source's pure parts: media types to formats, the per-vendor token bucket, the
// meter scopes, and API keys (found by key id, kept as sha256 only).
// Method: direct calls with a manual clock and counting ids; no server.
import { hash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CountingRandom, ManualClock } from '../../core/clock.js';
import { meterScopeOf, newApiKey } from './push-auth.js';
import { formatOfMediaType, formatOfPlainText } from './push-media.js';
import { VendorRateLimiter } from './push-rate-limit.js';

describe('media types', () => {
  it('maps each documented type, ignoring case and a UTF-8 charset', () => {
    expect(formatOfMediaType('Application/JSON; charset=UTF-8')).toBe('json');
    expect(formatOfMediaType('application/x-ndjson')).toBe('ndjson');
    expect(formatOfMediaType('text/csv')).toBe('csv');
    expect(formatOfMediaType('application/atom+xml')).toBe('green-button');
    expect(formatOfMediaType('text/x-cmep')).toBe('cmep');
    expect(formatOfMediaType('text/plain')).toBe('sniff');
  });

  it('refuses an unknown type, a missing one and another charset as FORMAT_UNKNOWN', () => {
    for (const type of ['application/pdf', undefined, 'text/csv; charset=utf-16']) {
      expect(() => formatOfMediaType(type)).toThrow(
        expect.objectContaining({ code: 'FORMAT_UNKNOWN' }),
      );
    }
  });

  it('tells NEM12 from CMEP by the first record of a text/plain body', () => {
    expect(formatOfPlainText(Buffer.from('\ufeff100,NEM12,200505121042,MDP,RET\n'))).toBe('nem12');
    expect(formatOfPlainText(Buffer.from('MEPMD01,19970819,SENDER,...'))).toBe('cmep');
    expect(() => formatOfPlainText(Buffer.from('meter_id,timestamp_utc\n'))).toThrow(/NEM12/);
  });
});

describe('per-vendor rate limit', () => {
  it('allows a burst, then one request per refill, each vendor on its own', () => {
    const clock = new ManualClock(0);
    const limiter = new VendorRateLimiter(clock, 60, 2);
    expect([limiter.take('a'), limiter.take('a')]).toEqual([0, 0]);
    expect(limiter.take('a')).toBe(1000);
    expect(limiter.take('b')).toBe(0);
    clock.advanceMs(400);
    expect(limiter.take('a')).toBe(600);
    clock.advanceMs(600);
    expect(limiter.take('a')).toBe(0);
  });
});

describe('meter scopes and keys', () => {
  it('allows a listed meter, a matching one, any meter, or none', () => {
    expect(meterScopeOf('v', { meters: ['MTR-A'] }).allows('MTR-A')).toBe(true);
    expect(meterScopeOf('v', { meters: ['MTR-A'] }).allows('MTR-B')).toBe(false);
    expect(meterScopeOf('v', { meterPattern: '^MTR-B' }).allows('MTR-BX')).toBe(true);
    expect(meterScopeOf('v', { anyMeter: true }).allows('anything')).toBe(true);
    expect(meterScopeOf('v', {}).allows('MTR-A')).toBe(false);
  });

  it('makes keys whose id is public and whose sha256 alone is kept', () => {
    const { key, keyId, keySha256 } = newApiKey(new CountingRandom());
    expect(key).toMatch(/^amk_[0-9a-f]{16}_[0-9a-f]{64}$/);
    expect(key.slice(4, 20)).toBe(keyId);
    expect(keySha256).toBe(hash('sha256', key, 'hex'));
  });
});
