// Goal: the REST source pages every window in each pagination style, moves windows on from the
// high-water mark with the overlap, says caught-up at now, and bounds pages per poll.
// Method: a real HTTP test server on 127.0.0.1 serving a generated feed; a manual clock.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { generateFeed } from '../../simulator/feed-generator.js';
import {
  buildSource,
  drain,
  NOW_MS,
  recordKey,
  restConfig,
} from '../../test-support/rest-source-kit.js';
import { RestTestServer, type PageStyle } from '../../test-support/rest-test-server.js';
import { removeTempDirs } from '../../test-support/temp.js';

/** Three meters, 40 quarter hours each from 2026-03-01T00:00Z: 120 records over ten hours. */
const FEED = generateFeed({ seed: 11, meters: 3, intervals: 40, startMs: Date.UTC(2026, 2, 1) });
const ALL_KEYS = new Set(FEED.records.map(recordKey));
const HOUR_MS = 3_600_000;
const T0 = Date.UTC(2026, 2, 1);

const servers: RestTestServer[] = [];
async function serve(style: PageStyle, extra: { withTotal?: boolean } = {}) {
  const clock = { nowMs: () => NOW_MS };
  const server = await RestTestServer.start({ records: FEED.records, style, clock, ...extra });
  servers.push(server);
  return server;
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});
afterAll(removeTempDirs);

function windowOf(position: Record<string, unknown> | null) {
  return (position as { window: { fromMs: number; toMs: number } }).window;
}

describe('RestSource paging', () => {
  const styles: { style: PageStyle; withTotal?: boolean }[] = [
    { style: 'cursor' },
    { style: 'link' },
    { style: 'page' },
    { style: 'page', withTotal: true },
  ];
  for (const { style, withTotal } of styles) {
    it(`reads every record through ${style} pages${withTotal ? ' with a total' : ''}`, async () => {
      const server = await serve(style, withTotal === true ? { withTotal } : {});
      const built = buildSource(restConfig(server, { style }));
      await built.source.connect(new AbortController().signal, null);
      const { pages, end } = await drain(built);
      expect(end).toEqual({ idle: true, afterMs: 60_000, reason: 'caught-up' });
      const seen = new Set(pages.flatMap((page) => page.records.map(recordKey)));
      expect(seen).toEqual(ALL_KEYS);
      // Windows of 4 hours, each starting an hour (the overlap) before the last one's end.
      const windows = [...new Set(pages.map((page) => JSON.stringify(windowOf(page.position))))];
      expect(windows.map((text) => JSON.parse(text) as object)).toEqual([
        { fromMs: T0, toMs: T0 + 4 * HOUR_MS, reachesNow: false },
        { fromMs: T0 + 3 * HOUR_MS, toMs: T0 + 7 * HOUR_MS, reachesNow: false },
        { fromMs: T0 + 6 * HOUR_MS, toMs: T0 + 10 * HOUR_MS, reachesNow: false },
        { fromMs: T0 + 9 * HOUR_MS, toMs: NOW_MS, reachesNow: true },
      ]);
      // No page is asked for twice, and every delivery is the page it names.
      expect(new Set(server.pagesServed).size).toBe(server.pagesServed.length);
      expect(pages.map((page) => new URL(page.url).pathname + new URL(page.url).search)).toEqual(
        server.pagesServed,
      );
      await built.source.close();
    });
  }

  it('delivers json-dialect pages with their request, kept headers and position', async () => {
    const server = await serve('cursor');
    const built = buildSource(restConfig(server, { headers: { 'X-Tenant': 'north' } }));
    await built.source.connect(new AbortController().signal, null);
    const { pages } = await drain(built, 2);
    const first = pages[0]!.delivery;
    expect(first.format).toBe('json-dialect');
    expect(first.formatContext).toEqual({ recordsPath: 'data.readings', dialect: {} });
    expect(first.sourceDeliveryId).toBe(
      `${server.url}/v1/readings?from=2026-03-01T00%3A00%3A00Z&to=2026-03-01T04%3A00%3A00Z&pageSize=25`,
    );
    expect(first.metadata).toMatchObject({
      'http.status': '200',
      'http.content-type': 'application/json',
    });
    expect(first.position).toEqual({
      v: 1,
      window: { fromMs: T0, toMs: T0 + 4 * HOUR_MS, reachesNow: false },
      next: { at: 'cursor', cursor: Buffer.from('25').toString('base64url'), repeats: 0 },
      highWaterMs: null,
    });
    expect(pages[1]!.url).toContain(`cursor=${Buffer.from('25').toString('base64url')}`);
    await built.source.close();
  });

  it('formats the window in epoch seconds or milliseconds when told', async () => {
    const server = await serve('page');
    const config = restConfig(server, { style: 'page' });
    const seconds = buildSource({
      ...config,
      window: { ...config.window, format: 'epoch-seconds' },
    });
    await seconds.source.connect(new AbortController().signal, null);
    const { pages } = await drain(seconds);
    expect(pages[0]!.url).toContain(`from=${T0 / 1000}&to=${(T0 + 4 * HOUR_MS) / 1000}`);
    expect(new Set(pages.flatMap((page) => page.records.map(recordKey)))).toEqual(ALL_KEYS);
    const ms = buildSource({ ...config, window: { ...config.window, format: 'epoch-ms' } });
    await ms.source.connect(new AbortController().signal, null);
    expect((await drain(ms, 1)).pages[0]!.url).toContain(`from=${T0}&to=${T0 + 4 * HOUR_MS}`);
    await seconds.source.close();
    await ms.source.close();
  });

  it('after catching up, polls a new window from the high-water mark minus the overlap', async () => {
    const server = await serve('cursor');
    const built = buildSource(restConfig(server));
    await built.source.connect(new AbortController().signal, null);
    await drain(built);
    built.clock.advanceMs(30 * 60_000);
    const { pages, end } = await drain(built);
    expect(end?.reason).toBe('caught-up');
    expect(windowOf(pages[0]!.position)).toEqual({
      fromMs: NOW_MS - HOUR_MS,
      toMs: NOW_MS + 30 * 60_000,
      reachesNow: true,
    });
    // The overlap re-reads the last hour: late data is picked up; idempotency absorbs the rest.
    expect(pages.flatMap((page) => page.records)).toHaveLength(0);
    await built.source.close();
  });

  it('yields after pagesPerPollMax pages with a throttled idle that a --once run waits out', async () => {
    const server = await serve('cursor');
    const built = buildSource(restConfig(server, { pagesPerPollMax: 2 }));
    const signal = new AbortController().signal;
    await built.source.connect(signal, null);
    const results = [];
    for (let index = 0; index < 4; index++) {
      const result = await built.source.read(signal);
      results.push('idle' in result ? result : 'page');
      if (!('idle' in result)) await result.ack({} as never);
    }
    expect(results).toEqual([
      'page',
      'page',
      { idle: true, afterMs: 0, reason: 'throttled' },
      'page',
    ]);
    await built.source.close();
  });

  it('connects again after close, on the same source, from the position it is given', async () => {
    const server = await serve('cursor');
    const built = buildSource(restConfig(server));
    const signal = new AbortController().signal;
    await built.source.connect(signal, null);
    const [first] = (await drain(built, 1)).pages;
    await built.source.close();
    await expect(built.source.read(signal)).rejects.toThrow(/not connected/);
    const saved = { position: first!.position!, deliveryId: 'dlv_1', savedAtMs: 0 };
    await built.source.connect(signal, saved);
    const [second] = (await drain(built, 1)).pages;
    expect(second!.url).toContain(`cursor=${Buffer.from('25').toString('base64url')}`);
    expect(server.pagesServed).toHaveLength(2);
    await built.source.close();
  });

  it('sends an API key in its header, and fails with TRANSPORT_AUTH_FAILED when it is refused', async () => {
    const clock = { nowMs: () => NOW_MS };
    const auth = { type: 'apiKey' as const, header: 'X-Vendor-Key', key: 'key-8c2e' };
    const server = await RestTestServer.start({
      records: FEED.records,
      style: 'page',
      clock,
      auth,
    });
    servers.push(server);
    const config = (keyEnv: string) =>
      restConfig(server, {
        style: 'page',
        auth: { type: 'apiKey', header: 'X-Vendor-Key', keyEnv },
      });
    const good = buildSource(config('GOOD_KEY'), {
      env: { GOOD_KEY: 'key-8c2e', BAD_KEY: 'nope' },
    });
    await good.source.connect(new AbortController().signal, null);
    const { pages } = await drain(good);
    expect(new Set(pages.flatMap((page) => page.records.map(recordKey)))).toEqual(ALL_KEYS);
    for (const page of pages)
      expect(Object.keys(page.delivery.metadata).join()).not.toMatch(/auth|key/i);
    const bad = buildSource(config('BAD_KEY'), { env: { BAD_KEY: 'nope' } });
    const signal = new AbortController().signal;
    await bad.source.connect(signal, null);
    await expect(bad.source.read(signal)).rejects.toMatchObject({
      code: 'TRANSPORT_AUTH_FAILED',
      message: expect.stringMatching(/was refused with 401: /),
    });
    expect(bad.context.log.text()).not.toContain('key-8c2e');
    await good.source.close();
    await bad.source.close();
  });

  it('asks for a page again after it was nacked', async () => {
    const server = await serve('link');
    const built = buildSource(restConfig(server, { style: 'link' }));
    const signal = new AbortController().signal;
    await built.source.connect(signal, null);
    const first = await built.source.read(signal);
    if ('idle' in first) throw new Error('expected a page');
    await first.ack({} as never);
    const second = await built.source.read(signal);
    if ('idle' in second) throw new Error('expected a page');
    await second.nack(new Error('disk full'));
    const again = await built.source.read(signal);
    if ('idle' in again) throw new Error('expected a page');
    expect(again.sourceDeliveryId).toBe(second.sourceDeliveryId);
    expect([first.attempt, second.attempt, again.attempt]).toEqual([1, 1, 2]);
    expect(again.sourceDeliveryId).not.toBe(first.sourceDeliveryId);
    await built.source.close();
  });
});
