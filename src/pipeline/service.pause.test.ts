// Goal: the service's source loop obeys the emergency pause between deliveries: a paused source
// reads and acknowledges nothing, a delivery in flight when the pause is written finishes and is
// acknowledged first, `once` ends a paused source with the outcome `paused`, and a resume drains
// everything with the ledger equal to the truth.
// Method: a queue source over a real SQLite store; pauses and resumes written by pauseSources on a
// second connection (as `amisync pause` would) and read by a StorePauseGate; a manual clock.
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { CountingRandom, ManualClock } from '../core/clock.js';
import { MemoryLogger } from '../core/log.js';
import { AckOnce, idle, type Delivery, type Idle, type Source } from '../core/source.js';
import { DEFAULT_DICTIONARY } from '../dictionary/dictionary.js';
import { generateFeed, toNdjson } from '../simulator/feed-generator.js';
import { feedTruth } from '../simulator/truth.js';
import { openSqliteStore, type SqliteStore } from '../store/sqlite/sqlite-store.js';
import { FEED_NOW_MS, FEED_START_MS } from '../test-support/ingest-harness.js';
import { removeTempDirs, tempDir } from '../test-support/temp.js';
import { ledgerStreams } from '../test-support/truth-check.js';
import { pauseSources, resumeSources } from './controls.js';
import { StorePauseGate } from './pause-gate.js';
import { runService, type ServiceSummary } from './service.js';

const POLL_MS = 1_000;
const REASON = 'vendor feed doubled every value';

/**
 * A source holding payloads as a broker holds messages: `read` takes the next one, and only its
 * ack removes it. `duringFirst` runs between the first delivery's two halves (mid-ingest).
 */
class QueueSource implements Source {
  readonly id = 'feed';
  readonly pending: string[];
  readonly acked: string[] = [];
  reads = 0;
  duringFirst: (() => Promise<void>) | null = null;

  constructor(payloads: string[]) {
    this.pending = [...payloads];
  }

  async connect(): Promise<void> {}

  async read(): Promise<Delivery | Idle> {
    const payload = this.pending[0];
    if (payload === undefined) return idle(60_000);
    this.reads += 1;
    return this.#delivery(this.reads, payload);
  }

  async close(): Promise<void> {}

  #delivery(index: number, payload: string): Delivery {
    const guard = new AckOnce(`feed-${index}`);
    const half = payload.lastIndexOf('\n', Math.floor(payload.length / 2)) + 1;
    const during = index === 1 ? this.duringFirst : null;
    return {
      sourceDeliveryId: `feed-${index}`,
      name: `feed-${index}.ndjson`,
      format: 'ndjson',
      formatContext: null,
      attempt: 1,
      metadata: {},
      partitionKey: null,
      position: null,
      async *bytes() {
        yield Buffer.from(payload.slice(0, half));
        await during?.();
        yield Buffer.from(payload.slice(half));
      },
      ack: async () => {
        guard.take();
        this.acked.push(this.pending.shift() ?? '');
      },
      nack: async () => {
        guard.take();
      },
    };
  }
}

const FEED = generateFeed({ seed: 23, meters: 3, startMs: FEED_START_MS, intervals: 48 });
const PAYLOADS = [0, 1, 2, 3].map((part) =>
  [...toNdjson(FEED.records.slice(part * 36, (part + 1) * 36))].join(''),
);

const stores: SqliteStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
});
afterAll(removeTempDirs);

function setUp() {
  const clock = new ManualClock(FEED_NOW_MS);
  const path = join(tempDir('amisync-pause-'), 'store.db');
  const store = openSqliteStore(path, { nowMs: () => clock.nowMs() });
  const operatorStore = openSqliteStore(path, { nowMs: () => clock.nowMs() });
  stores.push(store, operatorStore);
  const gate = new StorePauseGate({ store, clock, pollIntervalMs: POLL_MS });
  const operator = { store: operatorStore, clock, actor: 'ops-alice' };
  const source = new QueueSource(PAYLOADS);
  const controller = new AbortController();
  const run = (once: boolean): Promise<ServiceSummary> =>
    runService({
      store,
      dictionary: DEFAULT_DICTIONARY,
      clock,
      random: new CountingRandom(),
      sources: [{ source }],
      log: new MemoryLogger(),
      once,
      signal: controller.signal,
      pauseGate: gate,
    });
  /** Writes a pause from the operator's connection, and lets a poll interval pass. */
  const pause = async () => {
    await pauseSources(operator, { sourceIds: ['feed'], reason: REASON });
    clock.advanceMs(POLL_MS);
  };
  return { clock, store, operator, source, controller, run, pause };
}

async function until(test: () => boolean): Promise<void> {
  for (let step = 0; step < 2_000 && !test(); step++) {
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  expect(test()).toBe(true);
}

describe('runService under an emergency pause', () => {
  it('with once, a source paused before the run reads nothing and ends paused', async () => {
    const { source, run, pause } = setUp();
    await pause();
    const summary = await run(true);
    expect(summary.ok).toBe(true);
    expect(summary.sources[0]).toMatchObject({
      outcome: 'paused',
      deliveries: 0,
      pause: { sourceId: 'feed', actor: 'ops-alice', reason: REASON },
    });
    expect(source.reads).toBe(0);
    expect(source.pending).toHaveLength(PAYLOADS.length);
  });

  it('finishes the delivery in flight when paused mid-ingest, then reads no more', async () => {
    const { source, store, run, pause } = setUp();
    source.duringFirst = pause;
    const summary = await run(true);
    expect(summary.sources[0]).toMatchObject({ outcome: 'paused', deliveries: 1 });
    expect(source.reads).toBe(1);
    expect(source.acked).toEqual([PAYLOADS[0]]);
    expect(summary.counts.received).toBe(36);
    expect((await store.status()).deliveries).toEqual({ complete: 1, running: 0, interrupted: 0 });
  });

  it('waits while paused without reading, and drains everything once resumed', async () => {
    const { clock, store, operator, source, controller, run, pause } = setUp();
    source.duringFirst = pause;
    const running = run(false);
    await until(() => source.acked.length === 1 && clock.pendingSleeps > 0);
    // Hours of polling while paused: nothing is read, nothing acknowledged.
    for (let poll = 0; poll < 30; poll++) await clock.advance(POLL_MS * 120);
    expect(source.reads).toBe(1);
    expect(source.pending).toHaveLength(PAYLOADS.length - 1);

    await resumeSources(operator, { sourceIds: ['feed'], reason: 'vendor fixed it' });
    await clock.advance(POLL_MS);
    await until(() => source.pending.length === 0);
    controller.abort();
    const summary = await running;
    expect(summary.sources[0]).toMatchObject({ outcome: 'stopped', deliveries: 4, pause: null });
    const truth = feedTruth(FEED);
    expect(summary.counts.received).toBe(truth.received);
    expect(await ledgerStreams(store)).toEqual(truth.streams);
  });
});
