// Goal: a source is acknowledged only after every batch of its delivery has committed, never
// before. Method: a recording source over real bytes, a real SQLite store, and a store that fails
// mid-way.
import { afterAll, describe, expect, it } from 'vitest';
import { CountingRandom, ManualClock } from '../core/clock.js';
import { END, type Delivery, type Source } from '../core/source.js';
import type { Store } from '../core/store.js';
import { DEFAULT_DICTIONARY } from '../dictionary/dictionary.js';
import { generateFeed, toNdjson } from '../simulator/feed-generator.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import { removeTempDirs, tempDir } from '../test-support/temp.js';
import { ledgerState } from './ledger-state.js';
import { runSource } from './run-source.js';

const FEED = generateFeed({
  seed: 5,
  meters: 20,
  intervals: 30,
  startMs: Date.UTC(2025, 4, 5),
  retransmitRate: 0.05,
  badRate: 0.02,
});
const PAYLOAD = Buffer.from([...toNdjson(FEED.records)].join(''));

/** Records what the store held at the moment each delivery was acknowledged. */
class RecordingSource implements Source {
  readonly id = 'recording';
  readonly events: { kind: 'ack' | 'nack'; batchesCommitted: number; received: number }[] = [];
  #left: number;

  constructor(
    private readonly store: Store,
    deliveries: number,
  ) {
    this.#left = deliveries;
  }

  async connect(): Promise<void> {}

  async read(): Promise<Delivery | typeof END> {
    if (this.#left === 0) return END;
    this.#left -= 1;
    const snapshot = async (kind: 'ack' | 'nack') => {
      const status = await this.store.status();
      this.events.push({
        kind,
        batchesCommitted: status.batches,
        received: status.totals.received,
      });
    };
    return {
      sourceDeliveryId: `message-${this.#left}`,
      name: 'feed.ndjson',
      format: 'ndjson',
      formatContext: null,
      attempt: 1,
      metadata: {},
      partitionKey: null,
      position: null,
      async *bytes() {
        for (let at = 0; at < PAYLOAD.length; at += 4096) yield PAYLOAD.subarray(at, at + 4096);
      },
      ack: () => snapshot('ack'),
      nack: () => snapshot('nack'),
    };
  }

  async close(): Promise<void> {}
}

/** The real store, except that its transaction number `failAt` fails as a full disk would. */
function failingStore(store: Store, failAt: number): Store {
  let calls = 0;
  return new Proxy(store, {
    get(target, property) {
      if (property !== 'transaction') {
        // Bound to the store itself: its private fields are not reachable through the proxy.
        const value = Reflect.get(target, property, target) as unknown;
        return typeof value === 'function'
          ? (value as (...a: unknown[]) => unknown).bind(target)
          : value;
      }
      return (fn: Parameters<Store['transaction']>[0]) => {
        calls += 1;
        if (calls === failAt)
          return Promise.reject(new Error('SQLITE_FULL: database or disk is full'));
        return target.transaction(fn);
      };
    },
  });
}

/** One id source for the whole file: every delivery, retried or not, gets its own id. */
const random = new CountingRandom();

const options = (store: Store) => ({
  store,
  dictionary: DEFAULT_DICTIONARY,
  clock: new ManualClock(Date.UTC(2026, 0, 1)),
  random,
  batchReadingsMax: 50,
});

afterAll(removeTempDirs);

describe('runSource', () => {
  it('acknowledges each delivery after all its batches committed', async () => {
    const store = openSqliteStore(`${tempDir()}/ack.db`, { nowMs: () => 0 });
    const source = new RecordingSource(store, 2);
    const reports = await runSource(source, options(store));
    const batchesPerDelivery = reports[0]?.batches ?? 0;
    expect(batchesPerDelivery).toBeGreaterThan(3);
    expect(source.events).toEqual([
      { kind: 'ack', batchesCommitted: batchesPerDelivery, received: FEED.expected.received },
      {
        kind: 'ack',
        batchesCommitted: 2 * batchesPerDelivery,
        received: 2 * FEED.expected.received,
      },
    ]);
    expect(reports[1]?.counts.accepted).toBe(0);
    await store.close();
  });

  it('nacks and never acks a delivery whose batch could not commit, and loses nothing', async () => {
    const dir = tempDir();
    const real = openSqliteStore(`${dir}/fail.db`, { nowMs: () => 0 });
    const source = new RecordingSource(real, 1);
    // Transaction 1 creates the delivery row; 2 and 3 are its first batches; 4 fails.
    await expect(runSource(source, options(failingStore(real, 4)))).rejects.toThrow(/disk is full/);
    expect(source.events.map((event) => event.kind)).toEqual(['nack']);
    // The transport redelivers what was never acknowledged: the result equals one clean delivery.
    const retry = new RecordingSource(real, 1);
    await runSource(retry, options(real));
    expect(retry.events.map((event) => event.kind)).toEqual(['ack']);
    const clean = openSqliteStore(`${dir}/clean.db`, { nowMs: () => 0 });
    await runSource(new RecordingSource(clean, 1), options(clean));
    expect(await ledgerState(real)).toEqual(await ledgerState(clean));
    await real.close();
    await clean.close();
  });
});
