// Goal: a REST source's position commits with each page, so a restart resumes exactly after the
// last committed page: no page skipped, none repeated except one that never committed, and the
// ledger equals an uninterrupted run's. Method: runSource on a real SQLite store against the
// loopback test server, stopped after some pages or failed mid-page by a store whose transaction
// fails as a full disk would; pages are handed to the pipeline as NDJSON by a test adapter.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { CountingRandom, ManualClock } from '../../core/clock.js';
import type { Delivery, Source } from '../../core/source.js';
import type { Store } from '../../core/store.js';
import { DEFAULT_DICTIONARY } from '../../dictionary/dictionary.js';
import { ledgerState } from '../../pipeline/ledger-state.js';
import { loadSavedPosition, runSource } from '../../pipeline/run-source.js';
import { generateFeed } from '../../simulator/feed-generator.js';
import { openSqliteStore } from '../../store/sqlite/sqlite-store.js';
import { buildSource, NOW_MS, restConfig } from '../../test-support/rest-source-kit.js';
import { RestTestServer, type PageStyle } from '../../test-support/rest-test-server.js';
import { removeTempDirs, tempDir } from '../../test-support/temp.js';

const FEED = generateFeed({
  seed: 21,
  meters: 4,
  intervals: 40,
  startMs: Date.UTC(2026, 2, 1),
  retransmitRate: 0.05,
  badRate: 0.02,
});

/**
 * Hands each page's records to the pipeline as NDJSON, so these tests need no dialect; the page's
 * request, position and acknowledgement are the REST source's own.
 */
function recordsAsNdjson(source: Source): Source {
  const adapt = (delivery: Delivery): Delivery => ({
    ...delivery,
    format: 'ndjson',
    formatContext: null,
    position: delivery.position,
    async *bytes() {
      const parts: Buffer[] = [];
      for await (const chunk of delivery.bytes()) parts.push(Buffer.from(chunk));
      const page = JSON.parse(Buffer.concat(parts).toString('utf8')) as {
        data: { readings: unknown[] };
      };
      for (const record of page.data.readings) yield Buffer.from(`${JSON.stringify(record)}\n`);
    },
    ack: (receipt) => delivery.ack(receipt),
    nack: (error) => delivery.nack(error),
  });
  return {
    id: source.id,
    connect: (signal, saved) => source.connect(signal, saved),
    read: async (signal) => {
      const result = await source.read(signal);
      return typeof result === 'object' && 'bytes' in result ? adapt(result) : result;
    },
    close: () => source.close(),
  };
}

/** The real store, except that its transaction number `failAt` fails as a full disk would. */
function failingStore(store: Store, failAt: number): Store {
  let calls = 0;
  return new Proxy(store, {
    get(target, property) {
      const value = Reflect.get(target, property, target) as unknown;
      if (property !== 'transaction') {
        return typeof value === 'function'
          ? (value as (...a: unknown[]) => unknown).bind(target)
          : value;
      }
      return (fn: Parameters<Store['transaction']>[0]) => {
        calls += 1;
        if (calls === failAt) {
          return Promise.reject(new Error('SQLITE_FULL: database or disk is full'));
        }
        return target.transaction(fn);
      };
    },
  });
}

const random = new CountingRandom();
const runOptions = (store: Store) => ({
  store,
  dictionary: DEFAULT_DICTIONARY,
  clock: new ManualClock(NOW_MS),
  random,
  batchReadingsMax: 7,
});

const servers: RestTestServer[] = [];
async function serve(style: PageStyle) {
  const clock = { nowMs: () => NOW_MS };
  const server = await RestTestServer.start({ records: FEED.records, style, clock });
  servers.push(server);
  return server;
}

function restSource(server: RestTestServer, style: PageStyle): Source {
  return recordsAsNdjson(buildSource(restConfig(server, { style, pageSize: 10 })).source);
}

async function cleanRun(style: PageStyle) {
  const server = await serve(style);
  const store = openSqliteStore(`${tempDir()}/clean.db`, { nowMs: () => 0 });
  await runSource(restSource(server, style), runOptions(store));
  return { pages: server.pagesServed, ledger: await ledgerState(store), store };
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});
afterAll(removeTempDirs);

describe('RestSource resumes from its committed position', () => {
  for (const style of ['cursor', 'link', 'page'] as const) {
    it(`after a stop between pages (${style})`, async () => {
      const clean = await cleanRun(style);
      const server = await serve(style);
      const store = openSqliteStore(`${tempDir()}/stopped.db`, { nowMs: () => 0 });
      for (const stopAfter of [3, 5, 4]) {
        const stop = new AbortController();
        let delivered = 0;
        const options = {
          ...runOptions(store),
          onDelivery: () => {
            delivered += 1;
            if (delivered === stopAfter) stop.abort();
          },
        };
        await runSource(restSource(server, style), options, stop.signal);
      }
      await runSource(restSource(server, style), runOptions(store));
      // Every page exactly once, in the uninterrupted order.
      expect(server.pagesServed).toEqual(clean.pages);
      expect(await ledgerState(store)).toEqual(clean.ledger);
      const saved = await loadSavedPosition(store, 'sim-vendor');
      expect(saved?.position).toMatchObject({ next: { at: 'done' }, highWaterMs: NOW_MS });
      await store.close();
      await clean.store.close();
    });
  }

  it('asks again for a page whose commit failed, and for no other', async () => {
    const clean = await cleanRun('cursor');
    const server = await serve('cursor');
    const store = openSqliteStore(`${tempDir()}/failed.db`, { nowMs: () => 0 });
    // Transaction 20 falls in the middle of a page (10 records, batches of 7).
    await expect(
      runSource(restSource(server, 'cursor'), runOptions(failingStore(store, 20))),
    ).rejects.toThrow(/disk is full/);
    const failedPage = server.pagesServed.at(-1);
    await runSource(restSource(server, 'cursor'), runOptions(store));
    const repeated = server.pagesServed.filter((url, index, all) => all.indexOf(url) !== index);
    expect(repeated).toEqual([failedPage]);
    expect([...new Set(server.pagesServed)]).toEqual(clean.pages);
    expect(await ledgerState(store)).toEqual(clean.ledger);
    await store.close();
    await clean.store.close();
  });

  it('after catching up and a restart, polls the next window from the high-water mark', async () => {
    const server = await serve('cursor');
    const store = openSqliteStore(`${tempDir()}/later.db`, { nowMs: () => 0 });
    await runSource(restSource(server, 'cursor'), runOptions(store));
    const served = server.pagesServed.length;
    await runSource(restSource(server, 'cursor'), runOptions(store));
    const again = server.pagesServed.slice(served);
    // One window from an hour before the mark (the overlap) to now, read again, nothing skipped.
    expect(again).toEqual([
      '/v1/readings?from=2026-03-01T11%3A00%3A00Z&to=2026-03-01T12%3A00%3A00Z&pageSize=10',
    ]);
    await store.close();
  });
});
