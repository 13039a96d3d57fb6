// Goal: the service runs every source concurrently with the guarantees of a single delivery:
// --once drains each source until it has caught up, a broken source never stalls the others, a
// throttled source is waited out, a failed source reconnects from its saved position, and on
// shutdown the delivery in flight is not acknowledged (and lands whole when delivered again).
// Method: scripted sources over a real SQLite store and a manual clock; ledger read back per
// stream and compared with the feed generator's truth.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { AmisyncError } from '../core/errors.js';
import { MemoryLogger } from '../core/log.js';
import {
  AckOnce,
  END,
  idle,
  type Delivery,
  type Idle,
  type SavedPosition,
  type Source,
} from '../core/source.js';
import { DEFAULT_DICTIONARY } from '../dictionary/dictionary.js';
import { generateFeed, toNdjson, type FeedRecord } from '../simulator/feed-generator.js';
import { feedTruth } from '../simulator/truth.js';
import { openSqliteStore, type SqliteStore } from '../store/sqlite/sqlite-store.js';
import { FEED_NOW_MS, FEED_START_MS } from '../test-support/ingest-harness.js';
import { removeTempDirs, tempDir } from '../test-support/temp.js';
import { ledgerStreams } from '../test-support/truth-check.js';
import { runService, type ServiceOptions, type ServiceSummary } from './service.js';
import { CountingRandom } from '../core/clock.js';
import { join } from 'node:path';

type Step = { payload: string; gate?: Promise<void> } | Idle | { fail: string } | typeof END;

/** A source that plays a script: deliveries, idles, read failures and END, in order. */
class ScriptedSource implements Source {
  readonly id: string;
  readonly #steps: Step[];
  readonly #connectFailures: number;
  readonly acked: string[] = [];
  readonly nacked: string[] = [];
  readonly connectedWith: (SavedPosition | null)[] = [];
  #next = 0;

  constructor(id: string, steps: Step[], options: { connectFailures?: number } = {}) {
    this.id = id;
    this.#steps = steps;
    this.#connectFailures = options.connectFailures ?? 0;
  }

  connect(_signal: AbortSignal, saved: SavedPosition | null): Promise<void> {
    this.connectedWith.push(saved);
    if (this.connectedWith.length <= this.#connectFailures) {
      return Promise.reject(
        new AmisyncError('TRANSPORT_UNAVAILABLE', `${this.id}: connection refused`),
      );
    }
    return Promise.resolve();
  }

  read(): Promise<Delivery | Idle | typeof END> {
    const index = this.#next;
    const step = this.#steps[index] ?? END;
    this.#next += 1;
    if (step === END || 'idle' in step) return Promise.resolve(step);
    if ('fail' in step) {
      return Promise.reject(new AmisyncError('TRANSPORT_UNAVAILABLE', step.fail));
    }
    return Promise.resolve(this.#delivery(index, step.payload, step.gate));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** Steps back one step (a transport redelivering what it holds). */
  rewind(): void {
    this.#next -= 1;
  }

  #delivery(index: number, payload: string, gate: Promise<void> | undefined): Delivery {
    const once = new AckOnce(`${this.id}-${index}`);
    const name = `${this.id}-${index}.ndjson`;
    const half = Math.floor(payload.length / 2);
    return {
      sourceDeliveryId: name,
      name,
      format: 'ndjson',
      formatContext: null,
      attempt: 1,
      metadata: {},
      partitionKey: null,
      position: { step: index },
      async *bytes() {
        yield Buffer.from(payload.slice(0, half));
        if (gate !== undefined) await gate;
        yield Buffer.from(payload.slice(half));
      },
      ack: () => {
        once.take();
        this.acked.push(name);
        return Promise.resolve();
      },
      nack: () => {
        once.take();
        this.nacked.push(name);
        return Promise.resolve();
      },
    };
  }
}

const stores: SqliteStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
});
afterAll(removeTempDirs);

function setUp() {
  const clock = new ManualClock(FEED_NOW_MS);
  const store = openSqliteStore(join(tempDir('amisync-service-'), 'store.db'), {
    nowMs: () => clock.nowMs(),
  });
  stores.push(store);
  const log = new MemoryLogger();
  const controller = new AbortController();
  const random = new CountingRandom();
  const options = (sources: Source[], once: boolean): ServiceOptions => ({
    store,
    dictionary: DEFAULT_DICTIONARY,
    clock,
    random,
    sources: sources.map((source) => ({ source })),
    log,
    once,
    signal: controller.signal,
  });
  return { clock, store, log, controller, options };
}

/** Moves the manual clock until the service has ended. */
async function drive(clock: ManualClock, running: Promise<ServiceSummary>) {
  let settled = false;
  void running.finally(() => {
    settled = true;
  });
  for (let step = 0; step < 10_000 && !settled; step += 1) {
    await clock.advance(1_000);
    await new Promise((resolve) => setImmediate(resolve));
  }
  return running;
}

function payloads(records: readonly FeedRecord[], parts: number): string[] {
  const size = Math.ceil(records.length / parts);
  return Array.from({ length: parts }, (_, part) =>
    [...toNdjson(records.slice(part * size, (part + 1) * size))].join(''),
  );
}

const FEED = generateFeed({
  seed: 11,
  meters: 4,
  startMs: FEED_START_MS,
  intervals: 48,
  retransmitRate: 0.05,
  badRate: 0.02,
});

describe('runService', () => {
  it('with once, drains every source until it has caught up, and the ledger equals the truth', async () => {
    const { clock, store, options } = setUp();
    const [a1, a2, a3, b1, b2, b3] = payloads(FEED.records, 6) as [string, ...string[]];
    const a = new ScriptedSource('vendor-a', [
      { payload: a1 },
      { payload: a2! },
      { payload: a3! },
      idle(60_000),
    ]);
    const b = new ScriptedSource('vendor-b', [
      { payload: b1! },
      { payload: b2! },
      { payload: b3! },
      idle(60_000),
    ]);
    const summary = await drive(clock, runService(options([a, b], true)));
    expect(summary.ok).toBe(true);
    expect(summary.sources.map((s) => [s.id, s.outcome, s.deliveries])).toEqual([
      ['vendor-a', 'caught-up', 3],
      ['vendor-b', 'caught-up', 3],
    ]);
    const truth = feedTruth(FEED);
    expect(summary.counts.received).toBe(truth.received);
    expect(summary.counts.accepted).toBe(truth.valid);
    expect(summary.counts.duplicates).toBe(truth.duplicates);
    expect(summary.counts.quarantined).toBe(truth.invalid + truth.conflicts);
    expect(await ledgerStreams(store)).toEqual(truth.streams);
    expect(summary.sources.map((s) => s.errors)).toEqual([0, 0]);
    expect(a.acked).toHaveLength(3);
    expect(b.acked).toHaveLength(3);
  });

  it('keeps the other sources going while one cannot connect, and reports the broken one', async () => {
    const { clock, options, log } = setUp();
    const [p1, p2] = payloads(FEED.records, 2) as [string, string];
    const broken = new ScriptedSource('broken', [{ payload: p1 }], { connectFailures: 1_000 });
    const slow = new ScriptedSource('slow', [
      { payload: p1 },
      idle(30_000, 'throttled'),
      { payload: p2 },
      idle(60_000),
    ]);
    const summary = await drive(clock, runService(options([broken, slow], true)));
    expect(summary.ok).toBe(false);
    const [brokenSummary, slowSummary] = summary.sources;
    expect(brokenSummary).toMatchObject({ id: 'broken', outcome: 'failed', errors: 3 });
    expect(brokenSummary!.lastError).toEqual({
      code: 'TRANSPORT_UNAVAILABLE',
      message: 'broken: connection refused',
    });
    expect(slowSummary).toMatchObject({ id: 'slow', outcome: 'caught-up', deliveries: 2 });
    expect(slow.acked).toHaveLength(2);
    expect(broken.acked).toHaveLength(0);
    expect(
      log.events.filter((e) => e.level === 'error' && e.fields.source === 'broken'),
    ).toHaveLength(3);
  });

  it('reconnects a source that failed mid-run, from the position its last commit saved', async () => {
    const { clock, options } = setUp();
    const [p1, p2] = payloads(FEED.records, 2) as [string, string];
    const source = new ScriptedSource('flaky', [
      { payload: p1 },
      { fail: 'connection reset' },
      { payload: p2 },
      idle(60_000),
    ]);
    const summary = await drive(clock, runService(options([source], true)));
    expect(summary.sources[0]).toMatchObject({ outcome: 'caught-up', deliveries: 2, errors: 1 });
    expect(source.connectedWith[0]).toBeNull();
    expect(source.connectedWith[1]?.position).toEqual({ step: 0 });
    expect(source.connectedWith[1]?.deliveryId).toMatch(/^dlv_/);
  });

  it('without once, polls an idle source again after the time it named, until stopped', async () => {
    const { clock, controller, options, store } = setUp();
    const [p1, p2] = payloads(FEED.records, 2) as [string, string];
    const source = new ScriptedSource('poller', [
      { payload: p1 },
      idle(60_000),
      { payload: p2 },
      idle(60_000),
      idle(60_000),
    ]);
    const running = runService(options([source], false));
    await clock.advance(59_000);
    expect(source.acked).toHaveLength(1);
    await clock.advance(1_000);
    await new Promise((resolve) => setImmediate(resolve));
    expect(source.acked).toHaveLength(2);
    controller.abort();
    const summary = await running;
    expect(summary.sources[0]).toMatchObject({ outcome: 'stopped', deliveries: 2 });
    expect(await ledgerStreams(store)).toEqual(feedTruth(FEED).streams);
  });

  it('on shutdown, does not acknowledge the delivery in flight; delivered again, it lands whole', async () => {
    const { clock, controller, options, store } = setUp();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const [p1, p2] = payloads(FEED.records, 2) as [string, string];
    const source = new ScriptedSource('stopping', [
      { payload: p1 },
      { payload: p2, gate },
      idle(1),
    ]);
    const running = runService(options([source], true));
    while (source.acked.length < 1) await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setTimeout(resolve, 20));
    controller.abort();
    release();
    const summary = await running;
    expect(summary.sources[0]!.outcome).toBe('stopped');
    expect(source.acked).toEqual(['stopping-0.ndjson']);
    expect(source.nacked).toEqual(['stopping-1.ndjson']);

    // The transport delivers both again to the next run: the first is absorbed as duplicates.
    source.rewind();
    source.rewind();
    const again = setUpAgain(options([source], true));
    const summary2 = await drive(clock, runService(again));
    expect(summary2.sources[0]).toMatchObject({ outcome: 'caught-up', deliveries: 2, errors: 0 });
    expect(summary2.sources[0]!.counts.duplicates).toBeGreaterThan(0);
    expect(source.acked).toEqual(['stopping-0.ndjson', 'stopping-0.ndjson', 'stopping-1.ndjson']);
    expect(await ledgerStreams(store)).toEqual(feedTruth(FEED).streams);
  });
});

/** The same options with a fresh, unaborted signal. */
function setUpAgain(options: ServiceOptions): ServiceOptions {
  return { ...options, signal: new AbortController().signal };
}
