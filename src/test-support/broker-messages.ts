/**
 * Messages and reads for the broker sources' tests: a reference reading as a message's text, and
 * the next delivery a source hands over (asking again while it is idle, for a bounded time).
 */
import { CountingRandom, systemClock } from '../core/clock.js';
import { isIdle, type Delivery, type Source } from '../core/source.js';
import { DEFAULT_DICTIONARY } from '../dictionary/dictionary.js';
import { openSqliteStore, type SqliteStore } from '../store/sqlite/sqlite-store.js';
import { tempDir } from './temp.js';

const READ_ATTEMPTS_MAX = 200;

/** One reference reading of the test meter, `slot` 15-minute intervals after 2026-03-01. */
export function readingText(slot: number, kwh = '1.250'): string {
  const start = new Date(Date.UTC(2026, 2, 1) + slot * 900_000).toISOString();
  return JSON.stringify({
    meter_id: 'MTR-0A1B2C3D',
    timestamp_utc: start.replace('.000Z', 'Z'),
    consumption_kwh: kwh,
    status_code: 0,
  });
}

/** The source's next delivery; throws when it ends or stays idle for about ten seconds. */
export async function nextDelivery(source: Source): Promise<Delivery> {
  const signal = new AbortController().signal;
  for (let attempt = 0; attempt < READ_ATTEMPTS_MAX; attempt++) {
    const next = await source.read(signal);
    if (typeof next === 'symbol') throw new Error(`${source.id} ended`);
    if (!isIdle(next)) return next;
    await new Promise((resolve) => setTimeout(resolve, Math.min(next.afterMs, 50)));
  }
  throw new Error(`${source.id} delivered nothing`);
}

/**
 * A store on a fresh SQLite file, kept in `stores` for the test's afterEach to close, and the
 * options `deliverOne` takes for it: the reference dictionary, the system clock, no detectors.
 */
export function brokerTestStore(stores: SqliteStore[]) {
  const store = openSqliteStore(`${tempDir()}/store.db`, { nowMs: () => systemClock.nowMs() });
  stores.push(store);
  const options = {
    store,
    dictionary: DEFAULT_DICTIONARY,
    clock: systemClock,
    random: new CountingRandom(),
    detectors: [],
  };
  return { store, options };
}
