// Goal: a wrapped source retries a failing read with jittered waits and delivers the page once; an
// open breaker answers idle without calling the peer, admits one probe after its cooldown and
// closes on its success, alerting on both; a call whose failure opened it spends no more retries;
// an exhausted read names its page, which the source fetches again on its own origin only; a
// refused credential is not retried; transitions are stored and audited, and a wrapper built on
// the same store after a restart comes back open.
// Method: the real REST source against the scripted loopback test server, on a ManualClock, with a
// real SQLite store for the transitions.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { verifyAudit } from '../audit/verify.js';
import { recordTransition, storedBreakers } from '../cli/config/resilience-wiring.js';
import { ManualClock, CountingRandom } from '../core/clock.js';
import { AmisyncError } from '../core/errors.js';
import { REST_REQUEST_TIMEOUT_MS_MAX } from '../core/limits.js';
import { silentLogger } from '../core/log.js';
import { isIdle, type Source } from '../core/source.js';
import type { Store } from '../core/store.js';
import { generateFeed } from '../simulator/feed-generator.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import { buildSource, NOW_MS, restConfig } from '../test-support/rest-source-kit.js';
import { RestTestServer } from '../test-support/rest-test-server.js';
import { removeTempDirs, tempDir } from '../test-support/temp.js';
import type { Alert } from './alerts.js';
import { BREAKER_DEFAULTS, type BreakerSnapshot } from './breaker.js';
import { RETRY_BUDGET_DEFAULTS } from './retry-budget.js';
import type { RetriesExhausted } from './retry.js';
import { ResilientSource, type ResilienceSettings } from './resilient-source.js';

const FEED = generateFeed({ seed: 5, meters: 2, intervals: 8, startMs: Date.UTC(2026, 2, 1) });
const SETTINGS: ResilienceSettings = {
  retry: { attempts: 3, baseDelayMs: 100, delayMsMax: 1_000 },
  retryBudget: { ...RETRY_BUDGET_DEFAULTS, minRetries: 100 },
  breaker: { ...BREAKER_DEFAULTS, cooldownMs: 5_000 },
};
/** Judges after three calls: three failed attempts of one read open it. */
const QUICK_BREAKER = { ...SETTINGS, breaker: { ...SETTINGS.breaker, minimumCalls: 3 } };

const servers: RestTestServer[] = [];
const stores: Store[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
  await Promise.all(stores.splice(0).map((store) => store.close()));
});
afterAll(removeTempDirs);

async function setUp(
  options: { store?: Store; restored?: BreakerSnapshot | null; settings?: ResilienceSettings } = {},
) {
  const server = await RestTestServer.start({
    records: FEED.records,
    style: 'cursor',
    clock: { nowMs: () => NOW_MS },
  });
  servers.push(server);
  const clock = new ManualClock(NOW_MS);
  // A request deadline far longer than the retry waits, which the test moves the clock over.
  const config = restConfig(server, { requestTimeoutMs: REST_REQUEST_TIMEOUT_MS_MAX });
  const { source } = buildSource(config, { clock });
  const alerts: Alert[] = [];
  const store = options.store;
  const wrapped = new ResilientSource({
    source,
    settings: options.settings ?? SETTINGS,
    clock,
    random: new CountingRandom(),
    log: silentLogger,
    alerts: { raise: (alert) => (alerts.push({ ...alert, atMs: 0 }), { ...alert, atMs: 0 }) },
    restored: options.restored ?? null,
    ...(store === undefined
      ? {}
      : { onTransition: (transition) => recordTransition(store, transition) }),
  });
  await wrapped.connect(new AbortController().signal, null);
  return { server, clock, wrapped, alerts };
}

/** Reads once, moving the manual clock until the read settles. */
async function readOnce(source: Source, clock: ManualClock) {
  let settled = false;
  const result = source.read(new AbortController().signal).then(
    (value) => value,
    (error: unknown) => error,
  );
  void result.finally(() => (settled = true));
  while (!settled) {
    await new Promise((resolve) => setTimeout(resolve, 2));
    await clock.advance(SETTINGS.retry.delayMsMax);
  }
  return result;
}

describe('resilient source', () => {
  it('retries a failing read and delivers the page once', async () => {
    const { server, clock, wrapped } = await setUp();
    server.faults.push({ status: 502 }, { status: 500 });
    const delivery = await readOnce(wrapped, clock);
    expect(isIdle(delivery) || delivery instanceof Error).toBe(false);
    expect(server.requests.map((r) => r.status)).toEqual([502, 500, 200]);
    // Two calls: the connect and the read (with its two retries).
    expect(wrapped.figures()).toMatchObject({ calls: 2, retries: 2, attemptsMax: 3 });
    expect(wrapped.breaker.state).toBe('closed');
  });

  it('gives up after its attempts with every attempt listed', async () => {
    const { server, clock, wrapped } = await setUp();
    server.faults.push({ status: 502 }, { status: 502 }, { status: 502 }, { status: 502 });
    const failure = await readOnce(wrapped, clock);
    expect(failure).toMatchObject({ code: 'RETRIES_EXHAUSTED', stoppedBy: 'attempts' });
    const attempts = (failure as { attempts: { code: string; attempt: number }[] }).attempts;
    expect(attempts.map((a) => [a.attempt, a.code])).toEqual([
      [1, 'TRANSPORT_UNAVAILABLE'],
      [2, 'TRANSPORT_UNAVAILABLE'],
      [3, 'TRANSPORT_UNAVAILABLE'],
    ]);
    expect(server.requests).toHaveLength(3);
  });

  it('names the page it could not fetch, which the source can fetch again, on its origin only', async () => {
    const { server, clock, wrapped } = await setUp();
    server.faults.push({ status: 502 }, { status: 502 }, { status: 502 });
    const failure = (await readOnce(wrapped, clock)) as RetriesExhausted;
    expect(failure.request).toMatchObject({ kind: 'rest.page', format: 'json-dialect' });
    const url = String(failure.request?.url);
    expect(server.requests.map((r) => r.url)).toEqual(
      [url, url, url].map((u) => new URL(u).pathname + new URL(u).search),
    );
    const signal = new AbortController().signal;
    const refetched = await wrapped.inner.refetch?.(failure.request ?? {}, signal);
    expect(refetched?.transportId).toBe(url);
    const body = JSON.parse(Buffer.concat(refetched?.chunks ?? []).toString('utf8')) as {
      data: { readings: unknown[] };
    };
    expect(body.data.readings.length).toBeGreaterThan(0);
    const elsewhere = { ...failure.request, url: url.replace('127.0.0.1', 'localhost') };
    await expect(wrapped.inner.refetch?.(elsewhere, signal)).rejects.toMatchObject({
      code: 'INVALID_STATE',
    });
  });

  it('ends a call whose failure opened the breaker without spending another retry', async () => {
    const settings = { ...QUICK_BREAKER, retry: { ...SETTINGS.retry, attempts: 5 } };
    const { server, clock, wrapped } = await setUp({ settings });
    server.faults.push({ status: 502 }, { status: 502 }, { status: 502 }, { status: 502 });
    const failure = await readOnce(wrapped, clock);
    expect(failure).toMatchObject({ code: 'RETRIES_EXHAUSTED', stoppedBy: 'breaker' });
    expect(server.requests).toHaveLength(3);
    expect(wrapped.figures()).toMatchObject({ retries: 2, attemptsMax: 3 });
  });

  it('does not retry credentials the peer refused', async () => {
    const { server, clock, wrapped } = await setUp();
    server.faults.push({ status: 403 }, { status: 403 });
    const failure = await readOnce(wrapped, clock);
    expect(failure).toBeInstanceOf(AmisyncError);
    expect((failure as AmisyncError).code).toBe('TRANSPORT_AUTH_FAILED');
    expect(server.requests).toHaveLength(1);
  });

  it('while open answers idle without calling the peer, then probes once and closes', async () => {
    const { server, clock, wrapped, alerts } = await setUp({ settings: QUICK_BREAKER });
    server.faults.push({ status: 502 }, { status: 502 }, { status: 502 });
    const failed = await readOnce(wrapped, clock);
    expect(failed).toMatchObject({ code: 'RETRIES_EXHAUSTED' });
    expect(wrapped.breaker.state).toBe('open');
    expect(server.requests).toHaveLength(3);
    const requestsWhenOpened = server.requests.length;
    for (let i = 0; i < 5; i++) {
      const answer = await wrapped.read(new AbortController().signal);
      expect(isIdle(answer) && answer.reason === 'throttled').toBe(true);
      clock.advanceMs(500);
    }
    expect(server.requests).toHaveLength(requestsWhenOpened);
    clock.advanceMs(SETTINGS.breaker.cooldownMs);
    const probe = await wrapped.read(new AbortController().signal);
    expect(isIdle(probe)).toBe(false);
    expect(server.requests).toHaveLength(requestsWhenOpened + 1);
    expect(wrapped.breaker.state).toBe('closed');
    expect(alerts.map((a) => a.rule)).toEqual(['breaker.opened', 'breaker.closed']);
    expect(alerts[0]).toMatchObject({ source: 'sim-vendor', figures: { calls: 3, failures: 3 } });
  });

  it('stores and audits each transition; after a restart the breaker is still open', async () => {
    const store = openSqliteStore(`${tempDir()}/breakers.db`, { nowMs: () => NOW_MS });
    stores.push(store);
    const first = await setUp({ store, settings: QUICK_BREAKER });
    first.server.faults.push({ status: 502 }, { status: 502 }, { status: 502 });
    await readOnce(first.wrapped, first.clock);
    await first.wrapped.close();
    const rows = await store.listBreakerStates();
    expect(rows.map((r) => [r.endpoint, r.state])).toEqual([['sim-vendor', 'open']]);
    expect(rows[0]?.auditSeq).not.toBeNull();
    expect((await verifyAudit(store, null)).ok).toBe(true);
    const restored = (await storedBreakers(store)).get('sim-vendor') ?? null;
    const second = await setUp({ store, restored, settings: QUICK_BREAKER });
    expect(second.wrapped.breaker.state).toBe('open');
    const answer = await second.wrapped.read(new AbortController().signal);
    expect(isIdle(answer)).toBe(true);
    expect(second.server.requests).toHaveLength(0);
    // After the cooldown the connect goes through without closing the breaker: only the read
    // that follows, the probe, asks the peer anything and closes it.
    second.clock.advanceMs(SETTINGS.breaker.cooldownMs);
    const probe = await second.wrapped.read(new AbortController().signal);
    expect(isIdle(probe)).toBe(false);
    expect(second.server.requests).toHaveLength(1);
    expect(second.wrapped.figures().transitions.map((t) => t.to)).toEqual(['half-open', 'closed']);
    expect((await store.listBreakerStates()).map((r) => r.state)).toEqual(['closed']);
  });
});
