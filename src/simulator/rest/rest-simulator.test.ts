// Goal: the simulated head-end serves every reading exactly once per walk in each pagination style,
// by window, behind OAuth, an API key or nothing, with honest rate-limit accounting, each fault,
// and a truth that equals what a client ingesting every page it got ends with.
// Method: real HTTP on 127.0.0.1 with fetch; a test-driven clock; fetched pages ingested by the
// real pipeline as the bytes received, read with the vendor's JSON dialect, on a real SQLite file.
import { afterAll, afterEach, describe, expect, it } from 'vitest';

import { FEED_START_MS, openHarness } from '../../test-support/ingest-harness.js';
import { removeTempDirs } from '../../test-support/temp.js';
import { ledgerStreams } from '../../test-support/truth-check.js';
import { type FeedRecord } from '../feed-generator.js';
import { feedTruth } from '../truth.js';
import { type PaginationStyle } from './rest-pagination.js';
import {
  startRestSimulator,
  type RestSimulator,
  type RestSimulatorOptions,
} from './rest-simulator.js';
import { toVendorRecord, VENDOR_DIALECT } from './vendor-shape.js';

const HOUR_MS = 3_600_000;
const FEED_END_MS = FEED_START_MS + 24 * HOUR_MS;
let nowMs = FEED_END_MS;
const running: RestSimulator[] = [];

afterEach(async () => {
  for (const simulator of running.splice(0)) await simulator.close();
});
afterAll(removeTempDirs);

const FAULTY_FEED = { estimateRate: 0.05, retransmitRate: 0.03, conflictRate: 0.02, badRate: 0.02 };

async function start(options: Partial<RestSimulatorOptions> = {}): Promise<RestSimulator> {
  nowMs = FEED_END_MS;
  const simulator = await startRestSimulator({
    now: () => nowMs,
    seed: 11,
    meters: 5,
    days: 1,
    startMs: FEED_START_MS,
    publish: 'all',
    auth: 'none',
    pageSize: 37,
    ...options,
  });
  running.push(simulator);
  return simulator;
}

interface Page {
  status: number;
  headers: Headers;
  text: string;
  json: Record<string, unknown> | null;
}

async function get(url: string, headers: Record<string, string> = {}): Promise<Page> {
  const response = await fetch(url, { headers });
  const text = await response.text();
  let json: Record<string, unknown> | null = null;
  if ((response.headers.get('content-type') ?? '').includes('json')) {
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      json = null;
    }
  }
  return { status: response.status, headers: response.headers, text, json };
}

function readingsOf(page: Page): FeedRecord[] {
  const data = page.json?.['data'] as { readings: FeedRecord[] } | undefined;
  return data?.readings ?? [];
}

function readingsUrl(simulator: RestSimulator, params: Record<string, string>): string {
  const url = new URL('/v1/readings', simulator.url);
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  return url.href;
}

const PAGES_MAX = 10_000;

/** Every page of one window in the simulator's style, as a correct client walks it. */
async function walk(
  simulator: RestSimulator,
  style: PaginationStyle,
  params: Record<string, string> = {},
  headers: Record<string, string> = {},
): Promise<FeedRecord[][]> {
  const pages: FeedRecord[][] = [];
  let url: string | null = readingsUrl(
    simulator,
    style === 'page' ? { ...params, page: '1' } : params,
  );
  for (let count = 1; url !== null; count += 1) {
    expect(count).toBeLessThan(PAGES_MAX);
    const page = await get(url, headers);
    expect(page.status, page.text).toBe(200);
    pages.push(readingsOf(page));
    url = nextUrl(simulator, style, page, params, count, pages);
  }
  return pages;
}

function nextUrl(
  simulator: RestSimulator,
  style: PaginationStyle,
  page: Page,
  params: Record<string, string>,
  count: number,
  pages: FeedRecord[][],
): string | null {
  if (style === 'cursor') {
    const next = page.json?.['next'] as string | null;
    return next === null ? null : readingsUrl(simulator, { cursor: next });
  }
  if (style === 'link') {
    const link = page.headers.get('link');
    return link === null ? null : (/^<([^>]+)>; rel="next"$/.exec(link)?.[1] ?? null);
  }
  const total = page.json?.['total'] as number;
  const fetched = pages.reduce((sum, records) => sum + records.length, 0);
  if (readingsOf(page).length === 0 || fetched >= total) return null;
  return readingsUrl(simulator, { ...params, page: String(count + 1) });
}

describe('startRestSimulator pagination', () => {
  it.each(['cursor', 'link', 'page'] as const)(
    'serves every record exactly once over a full walk (%s)',
    async (pagination) => {
      const simulator = await start({ pagination, ...FAULTY_FEED });
      const pages = await walk(simulator, pagination);
      expect(pages.length).toBeGreaterThan(10);
      expect(pages.every((records) => records.length <= 37)).toBe(true);
      const records = pages.flat();
      expect(records).toEqual(simulator.feed.records.map(toVendorRecord));
      expect(simulator.stats().distinctRecordsServed).toBe(simulator.feed.records.length);
      expect(simulator.truth).toEqual(feedTruth(simulator.feed));
    },
  );

  it('honours a smaller pageSize and refuses one beyond the limit, or a forged cursor', async () => {
    const simulator = await start();
    const page = await get(readingsUrl(simulator, { pageSize: '5' }));
    expect(readingsOf(page)).toHaveLength(5);
    expect((await get(readingsUrl(simulator, { pageSize: '50001' }))).status).toBe(400);
    expect((await get(readingsUrl(simulator, { pageSize: 'ten' }))).status).toBe(400);
    expect((await get(readingsUrl(simulator, { cursor: 'bm90LWEtY3Vyc29y' }))).status).toBe(400);
    expect((await get(readingsUrl(simulator, { from: '2026-03-01 00:00' }))).status).toBe(400);
  });
});

describe('startRestSimulator windows', () => {
  it('publishes readings as their intervals end and serves each window once', async () => {
    const simulator = await start({ publish: 'interval-end', pagination: 'cursor' });
    const seen: FeedRecord[] = [];
    let fromIso = new Date(FEED_START_MS).toISOString();
    for (const hour of [0.5, 3, 3, 7.25, 30]) {
      nowMs = FEED_START_MS + hour * HOUR_MS;
      const toIso = new Date(nowMs).toISOString();
      const records = (await walk(simulator, 'cursor', { from: fromIso, to: toIso })).flat();
      seen.push(...records);
      const visible = simulator.feed.records.slice(0, seen.length).map(toVendorRecord);
      expect(seen).toEqual(visible);
      fromIso = toIso;
    }
    expect(seen).toHaveLength(simulator.feed.records.length);
    expect(simulator.stats().distinctRecordsServed).toBe(seen.length);
    expect(simulator.stats().recordsServed).toBe(seen.length);
  });

  it('shows nothing not yet published, even when asked for a window in the future', async () => {
    const simulator = await start({ publish: 'interval-end' });
    nowMs = FEED_START_MS + HOUR_MS;
    const to = new Date(FEED_END_MS).toISOString();
    const records = (await walk(simulator, 'cursor', { to })).flat();
    // Four intervals have ended: 5 meters x 4 originals, plus any follow-ups received meanwhile.
    expect(records.length).toBeGreaterThanOrEqual(20);
    const times = records.map((record) => Date.parse(String(record['intervalStart'])));
    expect(Math.max(...times)).toBeLessThan(nowMs);
    expect(
      records.filter((r) => Date.parse(String(r['intervalStart'])) === nowMs - 900_000),
    ).toHaveLength(5);
  });

  it('re-sends the last overlapMinutes before each window, and counts them in the truth', async () => {
    const simulator = await start({ publish: 'interval-end', overlapMinutes: 60 });
    nowMs = FEED_START_MS + 6 * HOUR_MS;
    const middle = new Date(nowMs).toISOString();
    const first = (await walk(simulator, 'cursor', { to: middle })).flat();
    nowMs = FEED_END_MS;
    const second = (await walk(simulator, 'cursor', { from: middle })).flat();
    const resent = first.length + second.length - simulator.feed.records.length;
    // 5 meters x 4 intervals of the hour before the window's start, all exact repeats.
    expect(resent).toBe(20);
    expect(second.slice(0, resent)).toEqual(first.slice(-resent));
    expect(simulator.stats().faults.overlap).toBe(1);
    expect(simulator.truth).toEqual(feedTruth(simulator.feed, { duplicates: 20 }));
  });
});

async function fetchToken(
  simulator: RestSimulator,
  init: { basic?: boolean; body?: Record<string, string>; contentType?: string } = {},
): Promise<Response> {
  const form = new URLSearchParams({ grant_type: 'client_credentials', ...init.body });
  const headers: Record<string, string> = {
    'content-type': init.contentType ?? 'application/x-www-form-urlencoded',
  };
  if (init.basic !== false) {
    const pair = `${simulator.clientId}:${encodeURIComponent(simulator.clientSecret)}`;
    headers['authorization'] = `Basic ${Buffer.from(pair).toString('base64')}`;
  }
  return fetch(new URL('/oauth/token', simulator.url), { method: 'POST', headers, body: form });
}

async function accessToken(simulator: RestSimulator): Promise<string> {
  const response = await fetchToken(simulator);
  expect(response.status).toBe(200);
  const body = (await response.json()) as { access_token: string; token_type: string };
  expect(body.token_type).toBe('Bearer');
  return body.access_token;
}

function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

describe('startRestSimulator OAuth', () => {
  it('issues a token by Basic or body client authentication; the token reads', async () => {
    const simulator = await start({ auth: 'oauth', tokenTtlSeconds: 600 });
    const response = await fetchToken(simulator);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const body = (await response.json()) as Record<string, unknown>;
    expect(body['expires_in']).toBe(600);
    const viaBody = await fetchToken(simulator, {
      basic: false,
      body: { client_id: simulator.clientId, client_secret: simulator.clientSecret },
    });
    expect(viaBody.status).toBe(200);
    const page = await get(readingsUrl(simulator, {}), bearer(body['access_token'] as string));
    expect(page.status).toBe(200);
    expect(readingsOf(page)).toHaveLength(37);
    expect(simulator.stats().tokensIssued).toBe(2);
  });

  it('refuses wrong, doubled or missing client credentials and other grants', async () => {
    const simulator = await start({ auth: 'oauth', clientSecret: 'right' });
    const wrong = await fetchToken(simulator, {
      basic: false,
      body: { client_id: 'amisync', client_secret: 'wrong' },
    });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ error: 'invalid_client' });
    const both = await fetchToken(simulator, {
      body: { client_id: 'amisync', client_secret: 'right' },
    });
    expect(both.status).toBe(400);
    expect((await fetchToken(simulator, { basic: false })).status).toBe(401);
    const grant = await fetchToken(simulator, { body: { grant_type: 'password' } });
    expect(await grant.json()).toMatchObject({ error: 'unsupported_grant_type' });
    expect((await fetchToken(simulator, { contentType: 'application/json' })).status).toBe(400);
    expect(simulator.stats().tokensIssued).toBe(0);
  });

  it('answers a missing, unknown, expired or revoked token with 401 invalid_token', async () => {
    const simulator = await start({ auth: 'oauth', tokenTtlSeconds: 60 });
    const missing = await get(readingsUrl(simulator, {}));
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer realm=/);
    const unknown = await get(readingsUrl(simulator, {}), bearer('not-a-token'));
    expect(unknown.status).toBe(401);
    expect(unknown.headers.get('www-authenticate')).toContain('error="invalid_token"');
    const token = await accessToken(simulator);
    nowMs += 59_000;
    expect((await get(readingsUrl(simulator, {}), bearer(token))).status).toBe(200);
    nowMs += 1_000;
    const expired = await get(readingsUrl(simulator, {}), bearer(token));
    expect(expired.status).toBe(401);
    expect(expired.headers.get('www-authenticate')).toContain('error="invalid_token"');
    expect(expired.json).toMatchObject({ error_description: 'The access token expired.' });
  });

  it('revokes a token mid-run at revokeRate', async () => {
    const simulator = await start({ auth: 'oauth', revokeRate: 1 });
    const token = await accessToken(simulator);
    expect((await get(readingsUrl(simulator, {}), bearer(token))).status).toBe(200);
    const revoked = await get(readingsUrl(simulator, {}), bearer(token));
    expect(revoked.status).toBe(401);
    expect(revoked.headers.get('www-authenticate')).toContain('error="invalid_token"');
    expect(simulator.stats().faults.revoke).toBe(1);
    expect(simulator.stats().tokensRevoked).toBe(1);
    expect(
      (await get(readingsUrl(simulator, {}), bearer(await accessToken(simulator)))).status,
    ).toBe(200);
  });

  it('fails token requests at tokenErrorRate with 5xx or a body that is no token', async () => {
    const simulator = await start({ auth: 'oauth', tokenErrorRate: 1 });
    const shapes = new Set<string>();
    for (let attempt = 0; attempt < 40; attempt += 1) {
      const response = await fetchToken(simulator);
      const text = await response.text();
      let token: unknown;
      try {
        token = (JSON.parse(text) as Record<string, unknown>)['access_token'];
      } catch {
        token = undefined;
      }
      expect(token).toBeUndefined();
      shapes.add(`${response.status} ${response.headers.get('content-type')}`);
    }
    expect(shapes).toEqual(
      new Set([
        '500 application/json',
        '503 application/json',
        '200 text/html',
        '200 application/json',
      ]),
    );
    expect(simulator.stats().faults.token_error).toBe(40);
    expect(simulator.stats().tokensIssued).toBe(0);
  });
});

describe('startRestSimulator API key and no auth', () => {
  it('reads with the right X-API-Key only, and has no token endpoint', async () => {
    const simulator = await start({ auth: 'apiKey', clientSecret: 'k-123' });
    expect((await get(readingsUrl(simulator, {}), { 'x-api-key': 'k-123' })).status).toBe(200);
    expect((await get(readingsUrl(simulator, {}), { 'x-api-key': 'k-124' })).status).toBe(401);
    expect((await get(readingsUrl(simulator, {}))).status).toBe(401);
    expect((await fetchToken(simulator)).status).toBe(404);
  });
});

describe('startRestSimulator rate limit', () => {
  it.each(['x-ratelimit', 'ietf', 'both'] as const)(
    'advertises %s headers, refuses with 429 and Retry-After, and counts honestly',
    async (style) => {
      const simulator = await start({ rateLimit: { limit: 3, windowSeconds: 60, headers: style } });
      nowMs = Math.floor(FEED_END_MS / 60_000) * 60_000 + 15_000;
      const pages = [];
      for (let request = 0; request < 4; request += 1)
        pages.push(await get(readingsUrl(simulator, {})));
      expect(pages.map((page) => page.status)).toEqual([200, 200, 200, 429]);
      expect(pages[3]?.headers.get('retry-after')).toBe('45');
      const resetEpoch = String((nowMs + 45_000) / 1000);
      for (const [index, page] of pages.entries()) {
        const remaining = String(Math.max(0, 2 - index));
        if (style !== 'ietf') {
          expect(page.headers.get('x-ratelimit-limit')).toBe('3');
          expect(page.headers.get('x-ratelimit-remaining')).toBe(remaining);
          expect(page.headers.get('x-ratelimit-reset')).toBe(resetEpoch);
        } else {
          expect(page.headers.get('x-ratelimit-limit')).toBeNull();
        }
        if (style !== 'x-ratelimit') {
          expect(page.headers.get('ratelimit-policy')).toBe('"default";q=3;w=60');
          expect(page.headers.get('ratelimit')).toBe(`"default";r=${remaining};t=45`);
        } else {
          expect(page.headers.get('ratelimit')).toBeNull();
        }
      }
      expect(simulator.stats()).toMatchObject({ maxRequestsInWindow: 4, overLimit: 1 });
      nowMs += 45_000;
      expect((await get(readingsUrl(simulator, {}))).status).toBe(200);
      expect(simulator.stats()).toMatchObject({ maxRequestsInWindow: 4, overLimit: 1 });
    },
  );
});

describe('startRestSimulator faults', () => {
  it('answers 5xx in bursts at errorRate, 503 with Retry-After', async () => {
    const simulator = await start({ errorRate: 1 });
    const statuses: number[] = [];
    for (let request = 0; request < 30; request += 1) {
      const page = await get(readingsUrl(simulator, {}));
      statuses.push(page.status);
      if (page.status === 503) expect(Number(page.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    expect(new Set(statuses)).toEqual(new Set([500, 502, 503]));
    expect(simulator.stats().faults.server_error).toBe(30);
    expect(simulator.stats().recordsServed).toBe(0);
  });

  it('answers 429 with Retry-After at throttleRate, without touching the rate-limit account', async () => {
    const simulator = await start({
      throttleRate: 1,
      rateLimit: { limit: 100, windowSeconds: 60 },
    });
    const page = await get(readingsUrl(simulator, {}));
    expect(page.status).toBe(429);
    expect(Number(page.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(simulator.stats()).toMatchObject({ overLimit: 0, faults: { throttle: 1 } });
  });

  it('sends an HTML error page with status 200 at htmlRate, carrying no records', async () => {
    const simulator = await start({ htmlRate: 1 });
    const page = await get(readingsUrl(simulator, {}));
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.text).toContain('<html>');
    expect(simulator.stats()).toMatchObject({ recordsServed: 0, faults: { html: 1 } });
    expect(simulator.truth).toEqual(feedTruth(simulator.feed));
  });

  it('holds responses back slowMs at slowRate', async () => {
    const simulator = await start({ slowRate: 1, slowMs: 300 });
    const startedMs = performance.now();
    expect((await get(readingsUrl(simulator, {}))).status).toBe(200);
    expect(performance.now() - startedMs).toBeGreaterThanOrEqual(290);
    expect(simulator.stats().faults.slow).toBe(1);
  });

  it.each(['cursor', 'link'] as const)(
    'repeats pages at duplicatePageRate (%s): each page comes twice, counted as duplicates',
    async (pagination) => {
      const simulator = await start({ pagination, duplicatePageRate: 1 });
      const pages = await walk(simulator, pagination);
      const size = simulator.feed.records.length;
      expect(pages.flat()).toHaveLength(2 * size);
      for (let index = 0; index < pages.length; index += 2)
        expect(pages[index + 1]).toEqual(pages[index]);
      expect(simulator.stats().faults.duplicate_page).toBe(pages.length / 2);
      expect(simulator.truth.duplicates).toBe(simulator.feed.expected.duplicates + size);
    },
  );
});

describe('startRestSimulator truth', () => {
  it.each(['cursor', 'link', 'page'] as const)(
    'equals what ingesting every page fetched (%s, faults on) ends with',
    async (pagination) => {
      const simulator = await start({
        pagination,
        publish: 'interval-end',
        auth: 'oauth',
        overlapMinutes: 45,
        duplicatePageRate: 0.2,
        htmlRate: 0.1,
        errorRate: 0.05,
        ...FAULTY_FEED,
        checksumRate: 0.3,
        pageSize: 23,
      });
      const harness = openHarness();
      const totals = { received: 0, accepted: 0, duplicates: 0, quarantined: 0, revisions: 0 };
      try {
        let from = new Date(FEED_START_MS).toISOString();
        for (const hour of [2, 5, 5.5, 11, 24, 26]) {
          nowMs = FEED_START_MS + hour * HOUR_MS;
          const to = new Date(nowMs).toISOString();
          for (const page of await walkThroughFaults(simulator, pagination, { from, to })) {
            if (readingsOf(page).length === 0) continue;
            const report = await harness.ingest(page.text, {
              format: 'json-dialect',
              formatContext: { dialect: VENDOR_DIALECT, recordsPath: 'data.readings' },
            });
            for (const key of Object.keys(totals) as (keyof typeof totals)[]) {
              totals[key] += report.counts[key];
            }
          }
          from = to;
        }
        const truth = simulator.truth;
        // Page numbers are the client's own: a head-end cannot make one repeat (docs/simulator.md).
        const repeatsPages = pagination !== 'page';
        expect(simulator.stats().faults.duplicate_page > 0).toBe(repeatsPages);
        expect(simulator.stats().faults.overlap).toBeGreaterThan(0);
        expect(truth.duplicates).toBeGreaterThan(simulator.feed.expected.duplicates);
        expect(await ledgerStreams(harness.store)).toEqual(truth.streams);
        expect(totals).toEqual({
          received: truth.received,
          accepted: truth.valid,
          duplicates: truth.duplicates,
          quarantined: truth.invalid + truth.conflicts,
          revisions: truth.revisions,
        });
      } finally {
        await harness.close();
      }
    },
  );
});

/**
 * A window walked by a client that asks for a new token on a 401 and asks again for a page that
 * failed or came as HTML.
 */
async function walkThroughFaults(
  simulator: RestSimulator,
  style: PaginationStyle,
  params: Record<string, string>,
): Promise<Page[]> {
  const pages: Page[] = [];
  const records: FeedRecord[][] = [];
  let token = await accessToken(simulator);
  let url: string | null = readingsUrl(
    simulator,
    style === 'page' ? { ...params, page: '1' } : params,
  );
  for (let count = 1, requests = 0; url !== null; requests += 1) {
    expect(requests).toBeLessThan(PAGES_MAX);
    const page = await get(url, bearer(token));
    if (page.status === 401) token = await accessToken(simulator);
    if (page.status !== 200 || page.json === null) continue;
    pages.push(page);
    records.push(readingsOf(page));
    url = nextUrl(simulator, style, page, params, count, records);
    count += 1;
  }
  return pages;
}
