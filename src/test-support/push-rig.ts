/**
 * A push source under the real runner for tests: a PushSource listening on 127.0.0.1 (port 0),
 * each request delivered by deliverOne (src/pipeline/run-source.ts) into a real SQLite store, one
 * at a time, as the service runs it. The context's clock is a ManualClock (rate limits move only
 * when a test moves it); the runner waits for requests on real timers, since requests come over
 * real sockets.
 */
import { join } from 'node:path';
import { CountingRandom, ManualClock, systemClock } from '../core/clock.js';
import { isIdle } from '../core/source.js';
import { DEFAULT_DICTIONARY } from '../dictionary/dictionary.js';
import type { DeliveryReport } from '../pipeline/ingest.js';
import { StorePauseGate } from '../pipeline/pause-gate.js';
import { deliverOne } from '../pipeline/run-source.js';
import { newApiKey } from '../sources/http-push/push-auth.js';
import { pushSourceSchema } from '../sources/http-push/push-config.js';
import { PushSource } from '../sources/http-push/push-source.js';
import { openSqliteStore, type SqliteStore } from '../store/sqlite/sqlite-store.js';
import { testSourceContext, type TestSourceContext } from './source-context.js';
import { tempDir } from './temp.js';

export interface PushRig {
  readonly source: PushSource;
  readonly store: SqliteStore;
  readonly context: TestSourceContext;
  readonly clock: ManualClock;
  readonly path: string;
  readonly url: string;
  /** Deliveries committed and acknowledged, and errors of those nacked, in order. */
  readonly reports: DeliveryReport[];
  readonly errors: Error[];
  /** Adds a vendor to the store and returns its API key. */
  addVendor(
    name: string,
    meters: { meters?: string[]; meterPattern?: string; anyMeter?: boolean },
  ): Promise<string>;
  /** Rows of a table, counted on the store's own connection. */
  count(table: string): number;
  /** Starts taking requests (after `paused: true`). */
  resume(): void;
  stop(): Promise<void>;
}

export interface PushRigOptions {
  /** Config keys besides kind, id and port (host 127.0.0.1, port 0). */
  config?: Record<string, unknown>;
  env?: Record<string, string>;
  /** Where the context's clock stands (rate limits, timestamps judged not in the future). */
  nowMs?: number;
  /** An existing database file, to restart on it. */
  path?: string;
  /** Requests wait in the source's queue, untaken, until `resume()`. */
  paused?: boolean;
  /**
   * The source asks the store's emergency pauses (a StorePauseGate that reads them on every
   * request) as it does under `amisync run`.
   */
  pauseGate?: boolean;
}

export async function startPushRig(options: PushRigOptions = {}): Promise<PushRig> {
  const path = options.path ?? join(tempDir('amisync-push-'), 'store.db');
  const clock = new ManualClock(options.nowMs ?? Date.UTC(2026, 2, 2));
  const store = openSqliteStore(path, { nowMs: () => clock.nowMs() });
  const context = testSourceContext(store, {
    clock,
    env: options.env ?? {},
    ...(options.pauseGate === true
      ? { pauseGate: new StorePauseGate({ store, clock, pollIntervalMs: 0 }) }
      : {}),
  });
  const config = pushSourceSchema.parse({
    kind: 'push',
    id: 'push',
    host: '127.0.0.1',
    port: 0,
    ...options.config,
  });
  const source = new PushSource(config, context);
  const reports: DeliveryReport[] = [];
  const errors: Error[] = [];
  const random = new CountingRandom();
  const controller = new AbortController();
  const signal = controller.signal;
  try {
    await source.connect();
  } catch (error) {
    await store.close();
    throw error;
  }
  let resume: () => void = () => undefined;
  const resumed = options.paused === true ? new Promise<void>((r) => (resume = r)) : null;
  const loop = (async () => {
    if (resumed !== null) await Promise.race([resumed, aborted(signal)]);
    while (!signal.aborted) {
      const next = await source.read();
      if (isIdle(next)) {
        await systemClock.sleep(next.afterMs, signal);
        continue;
      }
      try {
        const options = { store, dictionary: DEFAULT_DICTIONARY, clock, random };
        reports.push(await deliverOne(source, next, options));
      } catch (error) {
        errors.push(error as Error);
      }
    }
  })();
  return {
    source,
    store,
    context,
    clock,
    path,
    url: source.url,
    reports,
    errors,
    addVendor: async (name, meters) => {
      const { key, keyId, keySha256 } = newApiKey(context.random);
      await store.addVendor({
        name,
        keyId,
        keySha256,
        meters: meters.meters ?? null,
        meterPattern: meters.meterPattern ?? null,
        anyMeter: meters.anyMeter ?? false,
        createdAtMs: clock.nowMs(),
      });
      return key;
    },
    resume: () => resume(),
    count: (table) =>
      (store.db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n,
    stop: async () => {
      controller.abort();
      await loop;
      await source.close();
      await store.close();
    },
  };
}

function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) =>
    signal.addEventListener('abort', () => resolve(), { once: true }),
  );
}
