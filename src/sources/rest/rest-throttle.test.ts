// Goal: the source never exceeds an advertised rate limit, in any header family, and honours
// 429/503 Retry-After in both forms, clamping absurd values; a plain 5xx is a transport error.
// Method: header parsing as pure cases; then the source against the loopback test server, which
// counts requests per window on the same manual clock and records every request over the limit.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../core/clock.js';
import { AmisyncError } from '../../core/errors.js';
import { REST_RETRY_AFTER_MS_MAX, REST_THROTTLE_DEFAULT_MS } from '../../core/limits.js';
import { generateFeed } from '../../simulator/feed-generator.js';
import {
  buildSource,
  drain,
  NOW_MS,
  restConfig,
  SECRET,
} from '../../test-support/rest-source-kit.js';
import { RestTestServer, type RateLimitPlan } from '../../test-support/rest-test-server.js';
import { removeTempDirs } from '../../test-support/temp.js';
import { parseRetryAfter, readRateLimit } from './rest-throttle.js';

const FEED = generateFeed({ seed: 8, meters: 3, intervals: 40, startMs: Date.UTC(2026, 2, 1) });

const servers: RestTestServer[] = [];
async function serve(clock: ManualClock, rateLimit?: RateLimitPlan) {
  const options = { records: FEED.records, style: 'cursor' as const, clock };
  const server = await RestTestServer.start(rateLimit ? { ...options, rateLimit } : options);
  servers.push(server);
  return server;
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});
afterAll(removeTempDirs);

describe('rate-limit headers', () => {
  it('reads every header family and keeps the tightest budget', () => {
    const now = NOW_MS;
    expect(readRateLimit({ 'x-ratelimit-remaining': '4', 'x-ratelimit-reset': '30' }, now)).toEqual(
      { remaining: 4, resetAfterMs: 30_000 },
    );
    const epoch = String((now + 90_000) / 1000);
    expect(
      readRateLimit({ 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': epoch }, now),
    ).toEqual({ remaining: 0, resetAfterMs: 90_000 });
    expect(readRateLimit({ ratelimit: '"default";r=2;t=12' }, now)).toEqual({
      remaining: 2,
      resetAfterMs: 12_000,
    });
    expect(
      readRateLimit(
        { ratelimit: '"burst";r=9;t=1, "daily";r=0;t=3600', 'x-ratelimit-remaining': '5' },
        now,
      ),
      // The daily budget is spent; its reset in an hour is clamped to REST_RETRY_AFTER_MS_MAX.
    ).toEqual({ remaining: 0, resetAfterMs: REST_RETRY_AFTER_MS_MAX });
    expect(readRateLimit({ ratelimit: 'limit=10, remaining=3, reset=7' }, now)).toEqual({
      remaining: 3,
      resetAfterMs: 7_000,
    });
    expect(readRateLimit({ 'ratelimit-remaining': '1', 'ratelimit-reset': '2' }, now)).toEqual({
      remaining: 1,
      resetAfterMs: 2_000,
    });
    // No reset in RateLimit: the policy's window stands in for it.
    expect(
      readRateLimit({ ratelimit: '"default";r=0', 'ratelimit-policy': '"default";q=10;w=20' }, now),
    ).toEqual({ remaining: 0, resetAfterMs: 20_000 });
    expect(readRateLimit({ 'content-type': 'application/json' }, now)).toBeNull();
    expect(readRateLimit({ 'x-ratelimit-remaining': 'lots' }, now)).toBeNull();
  });

  it('reads Retry-After as seconds or an HTTP date, clamped', () => {
    const now = Date.UTC(2026, 2, 1, 12);
    expect(parseRetryAfter('7', now)).toBe(7_000);
    expect(parseRetryAfter('Sun, 01 Mar 2026 12:02:00 GMT', now)).toBe(120_000);
    expect(parseRetryAfter('Sun, 01 Mar 2026 11:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('999999999', now)).toBe(REST_RETRY_AFTER_MS_MAX);
    expect(parseRetryAfter('Fri, 31 Dec 2100 00:00:00 GMT', now)).toBe(REST_RETRY_AFTER_MS_MAX);
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter(undefined, now)).toBeNull();
  });
});

describe('RestSource under a rate limit', () => {
  for (const headers of ['x', 'ietf', 'draft'] as const) {
    it(`never exceeds a limit advertised with ${headers} headers`, async () => {
      const clock = new ManualClock(NOW_MS);
      const server = await serve(clock, { limit: 3, windowMs: 10_000, headers });
      const built = buildSource(restConfig(server, { pageSize: 10 }), { clock });
      await built.source.connect(new AbortController().signal, null);
      const { pages, idles, end } = await drain(built);
      expect(end?.reason).toBe('caught-up');
      expect(pages.length).toBeGreaterThan(12);
      expect(idles.filter((idle) => idle.reason === 'throttled').length).toBeGreaterThan(3);
      expect(server.rateViolations).toBe(0);
      expect(server.requests.every((request) => request.status === 200)).toBe(true);
      await built.source.close();
    });
  }

  it('waits for the budget before asking again with a token refreshed after a 401', async () => {
    const clock = new ManualClock(NOW_MS);
    const server = await RestTestServer.start({
      records: FEED.records,
      style: 'cursor',
      clock,
      auth: { type: 'oauth', clientId: 'amisync', clientSecret: SECRET, lifetimeSeconds: 3600 },
      rateLimit: { limit: 2, windowMs: 10_000, headers: 'x' },
    });
    servers.push(server);
    const config = restConfig(server, {
      auth: {
        type: 'oauth',
        tokenUrl: `${server.url}/oauth/token`,
        clientId: 'amisync',
        clientSecretEnv: 'SIM_SECRET',
      },
    });
    const built = buildSource(config, { clock });
    const signal = new AbortController().signal;
    await built.source.connect(signal, null);
    await drain(built, 1);
    server.revokeTokens();
    // The 401 spent the budget: the retry with a new token waits for the reset.
    expect(await built.source.read(signal)).toMatchObject({ idle: true, reason: 'throttled' });
    const { pages } = await drain(built, 1);
    expect(pages).toHaveLength(1);
    expect(server.requests.map((request) => [request.status, request.authorization])).toEqual([
      [200, 'Bearer tok-1'],
      [401, 'Bearer tok-1'],
      [200, 'Bearer tok-2'],
    ]);
    expect(server.rateViolations).toBe(0);
    await built.source.close();
  });

  it('honours a 429 Retry-After in seconds, then asks for the same page again', async () => {
    const clock = new ManualClock(NOW_MS);
    const server = await serve(clock);
    server.faults.push({ status: 429, headers: { 'retry-after': '7' } });
    const built = buildSource(restConfig(server), { clock });
    const signal = new AbortController().signal;
    await built.source.connect(signal, null);
    expect(await built.source.read(signal)).toEqual({
      idle: true,
      afterMs: 7_000,
      reason: 'throttled',
    });
    clock.advanceMs(3_000);
    expect(await built.source.read(signal)).toEqual({
      idle: true,
      afterMs: 4_000,
      reason: 'throttled',
    });
    expect(server.requests).toHaveLength(1);
    clock.advanceMs(4_000);
    const page = await built.source.read(signal);
    expect('sourceDeliveryId' in page).toBe(true);
    expect(server.requests.map((request) => request.url)).toEqual([
      server.requests[0]!.url,
      server.requests[0]!.url,
    ]);
    await built.source.close();
  });

  it('honours a 503 with an HTTP-date Retry-After, clamps an absurd one, defaults a bare 429', async () => {
    const clock = new ManualClock(NOW_MS);
    const server = await serve(clock);
    const inTwoMinutes = new Date(NOW_MS + 120_000).toUTCString();
    server.faults.push(
      { status: 503, headers: { 'retry-after': inTwoMinutes } },
      { status: 429, headers: { 'retry-after': '86400' } },
      { status: 429 },
    );
    const built = buildSource(restConfig(server), { clock });
    const signal = new AbortController().signal;
    await built.source.connect(signal, null);
    const waits = [];
    for (let index = 0; index < 3; index++) {
      const result = await built.source.read(signal);
      if (!('idle' in result)) throw new Error('expected an idle');
      waits.push(result.afterMs);
      clock.advanceMs(result.afterMs);
    }
    expect(waits).toEqual([120_000, REST_RETRY_AFTER_MS_MAX, REST_THROTTLE_DEFAULT_MS]);
    await built.source.close();
  });

  it('turns a 5xx without Retry-After into TRANSPORT_UNAVAILABLE for the runner', async () => {
    const clock = new ManualClock(NOW_MS);
    const server = await serve(clock);
    server.faults.push({ status: 503, body: 'down' }, { status: 500, body: 'oops' });
    const built = buildSource(restConfig(server), { clock });
    const signal = new AbortController().signal;
    await built.source.connect(signal, null);
    for (const status of [503, 500]) {
      const error = await built.source.read(signal).catch((thrown: unknown) => thrown);
      expect(error).toBeInstanceOf(AmisyncError);
      expect((error as AmisyncError).code).toBe('TRANSPORT_UNAVAILABLE');
      expect((error as AmisyncError).message).toContain(`answered ${status}`);
    }
    expect('sourceDeliveryId' in (await built.source.read(signal))).toBe(true);
    await built.source.close();
  });
});
