// Goal: a delivery reads on while its last full batch commits, yet its transactions never overlap,
// commit in order, give the ledger of a run that waits, and a failed batch stops the run.
// Method: real SQLite stores, one slowed by a pause inside each transaction; events are logged.
import { afterAll, describe, expect, it } from 'vitest';
import { CountingRandom, ManualClock } from '../core/clock.js';
import { formatUtcSeconds } from '../core/identity.js';
import type { Store } from '../core/store.js';
import { DEFAULT_DICTIONARY } from '../dictionary/dictionary.js';
import { openSqliteStore, type SqliteStore } from '../store/sqlite/sqlite-store.js';
import { FEED_NOW_MS, FEED_START_MS } from '../test-support/ingest-harness.js';
import { removeTempDirs, tempDir } from '../test-support/temp.js';
import { recordJson } from '../test-support/wire-text.js';
import { ingestDelivery } from './ingest.js';
import { ledgerState } from './ledger-state.js';

afterAll(removeTempDirs);

const RECORDS = 60;
const BATCH_READINGS = 10;
const PAUSE_MS = 25;

/** One NDJSON line per reading of one meter, 15 minutes apart. */
const LINES = Array.from(
  { length: RECORDS },
  (_, slot) =>
    `${recordJson({
      meter_id: 'MTR-AAAA0001',
      timestamp_utc: formatUtcSeconds(FEED_START_MS + slot * 900_000),
      consumption_kwh: '0.250',
      status_code: 0,
      seq: slot,
    })}\n`,
);

function sqlite(): SqliteStore {
  return openSqliteStore(`${tempDir('amisync-in-flight-')}/store.db`, {
    nowMs: () => FEED_NOW_MS,
  });
}

/**
 * The store with every transaction paused before it commits (a slow server), logging when each
 * begins and ends; `failAt` makes that transaction (counted from 1) throw instead.
 */
function slowed(store: SqliteStore, events: string[], failAt = 0): Store {
  let begun = 0;
  const transaction: Store['transaction'] = async (fn) => {
    const number = ++begun;
    events.push(`begin ${number}`);
    try {
      return await store.transaction(async (tx) => {
        const result = await fn(tx);
        await new Promise((resolve) => setTimeout(resolve, PAUSE_MS));
        if (number === failAt) throw new Error(`transaction ${number} failed`);
        return result;
      });
    } finally {
      events.push(`end ${number}`);
    }
  };
  return new Proxy(store, {
    get(target, property) {
      if (property === 'transaction') return transaction;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function'
        ? (value as (...a: unknown[]) => unknown).bind(target)
        : value;
    },
  });
}

/** One line per chunk, each logged when the run pulls it. */
async function* lines(events: string[]): AsyncGenerator<Uint8Array> {
  for (const [index, line] of LINES.entries()) {
    events.push(`chunk ${index}`);
    yield Buffer.from(line, 'utf8');
    await Promise.resolve();
  }
}

function ingest(store: Store, chunks: AsyncIterable<Uint8Array>, onBatch?: (id: number) => void) {
  return ingestDelivery(chunks, {
    store,
    dictionary: DEFAULT_DICTIONARY,
    clock: new ManualClock(FEED_NOW_MS),
    random: new CountingRandom(),
    format: 'ndjson',
    name: 'in-flight.ndjson',
    sourceId: 'test',
    detectors: [],
    batchReadingsMax: BATCH_READINGS,
    ...(onBatch === undefined ? {} : { onBatch: (result) => onBatch(result.batchId) }),
  });
}

/** Transactions as [begin, end] event indexes, in the order they began. */
function spans(events: readonly string[]): [number, number][] {
  const found: [number, number][] = [];
  events.forEach((event, index) => {
    const [kind, number] = event.split(' ');
    if (kind === 'begin') found[Number(number) - 1] = [index, -1];
    if (kind === 'end') (found[Number(number) - 1] as [number, number])[1] = index;
  });
  return found;
}

describe('the batch in flight', () => {
  it('reads on while a batch commits; one transaction at a time, in order, same ledger', async () => {
    const events: string[] = [];
    const batchIds: number[] = [];
    const store = sqlite();
    const report = await ingest(slowed(store, events), lines(events), (id) => batchIds.push(id));
    events.push('returned');
    const waited = sqlite();
    const plain = await ingest(
      waited,
      (async function* () {
        for (const line of LINES) yield Buffer.from(line, 'utf8');
      })(),
    );

    expect(report.counts).toEqual(plain.counts);
    expect(report.counts.accepted).toBe(RECORDS);
    expect(await ledgerState(store)).toEqual(await ledgerState(waited));
    expect(batchIds).toEqual([...batchIds].sort((a, b) => a - b));
    const all = spans(events);
    // Never two transactions open at once: each ends before the next begins.
    for (let index = 1; index < all.length; index++) {
      expect((all[index] as [number, number])[0]).toBeGreaterThan(
        (all[index - 1] as [number, number])[1],
      );
    }
    // Input was pulled while a full batch committed.
    const readWhileCommitting = all.some(([begin, end]) =>
      events.slice(begin, end).some((event) => event.startsWith('chunk ')),
    );
    expect(readWhileCommitting).toBe(true);
    // The run returned only after its last transaction ended.
    expect(events.indexOf('returned')).toBeGreaterThan((all.at(-1) as [number, number])[1]);
    await store.close();
    await waited.close();
  });

  it('stops at a failed batch: its error comes back and no later batch begins', async () => {
    const events: string[] = [];
    const store = sqlite();
    // Transaction 1 creates the delivery; 3 commits the second batch.
    await expect(ingest(slowed(store, events, 3), lines(events))).rejects.toThrow(
      'transaction 3 failed',
    );
    events.push('returned');
    // Transaction 4 is no batch: it marks the delivery interrupted, after the failed one ended.
    expect(events.filter((event) => event.startsWith('begin'))).toEqual([
      'begin 1',
      'begin 2',
      'begin 3',
      'begin 4',
    ]);
    expect(events.indexOf('begin 4')).toBeGreaterThan(events.indexOf('end 3'));
    expect(events.indexOf('returned')).toBeGreaterThan(events.indexOf('end 4'));
    const status = await store.status();
    expect(status.batches).toBe(1);
    expect(status.deliveries).toMatchObject({ running: 0, interrupted: 1 });
    await store.close();
  });
});

describe('the batch in flight, within one large chunk', () => {
  const BATCH = 2_000;
  /** Event-loop turns each transaction waits for, as a server's answers arrive on a socket. */
  const ANSWERS = 2;

  it("moves on between parse slices: it does not wait for the chunk's parsing to end", async () => {
    const store = sqlite();
    // The validator reads the clock once per record: its reads count the records judged so far.
    const manual = new ManualClock(FEED_NOW_MS);
    let judged = 0;
    const clock = { nowMs: () => (judged++, manual.nowMs()) };
    const judgedAtEnd: number[] = [];
    const answered: Store['transaction'] = (fn) =>
      store.transaction(async (tx) => {
        const result = await fn(tx);
        for (let turn = 0; turn < ANSWERS; turn++) await new Promise(setImmediate);
        judgedAtEnd.push(judged);
        return result;
      });
    const slow = new Proxy(store, {
      get: (target, property) =>
        property === 'transaction'
          ? answered
          : (Reflect.get(target, property, target) as (...a: unknown[]) => unknown).bind(target),
    });
    const text = Array.from(
      { length: BATCH * 3 },
      (_, slot) =>
        `${recordJson({
          meter_id: `MTR-AAAA${String(slot % 1_000).padStart(4, '0')}`,
          timestamp_utc: formatUtcSeconds(FEED_START_MS + Math.floor(slot / 1_000) * 900_000),
          consumption_kwh: '0.250',
          status_code: 0,
          seq: Math.floor(slot / 1_000),
        })}\n`,
    ).join('');
    const report = await ingestDelivery(
      (async function* () {
        yield Buffer.from(text, 'utf8');
      })(),
      {
        store: slow,
        dictionary: DEFAULT_DICTIONARY,
        clock,
        random: new CountingRandom(),
        format: 'ndjson',
        name: 'one-chunk.ndjson',
        sourceId: 'test',
        detectors: [],
        batchReadingsMax: BATCH,
      },
    );
    expect(report.counts.accepted).toBe(BATCH * 3);
    // Transaction 1 creates the delivery, 2 commits the first batch. Had it waited for the run to
    // stop parsing, the second batch would have been judged whole before it ended.
    expect(judgedAtEnd[1]).toBeGreaterThan(BATCH);
    expect(judgedAtEnd[1]).toBeLessThan(BATCH * 2);
    await store.close();
  });
});
