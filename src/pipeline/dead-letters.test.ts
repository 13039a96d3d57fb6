// Goal: a delivery whose attempts are exhausted is kept whole as a dead letter before its source is
// acknowledged, replays through the ingest path to the same ledger a clean delivery gives, and is
// discarded only with a justification; a request dead letter replays by fetching its page again;
// a store outage or a malformed record never dead-letters.
// Method: a transport whose byte stream fails as a retry wrapper's exhaustion would, over real
// feed bytes and a real SQLite store; audit verify after every step, and SQL edits it must catch.
import { afterAll, describe, expect, it } from 'vitest';
import { verifyAudit } from '../audit/verify.js';
import type { AttemptRecord } from '../core/dead-letter.js';
import { systemClock } from '../core/clock.js';
import { AmisyncError } from '../core/errors.js';
import { MemoryLogger } from '../core/log.js';
import { END, type Delivery, type Source } from '../core/source.js';
import { DEFAULT_DICTIONARY } from '../dictionary/dictionary.js';
import { generateFeed, toNdjson } from '../simulator/feed-generator.js';
import { openHarness, type Harness } from '../test-support/ingest-harness.js';
import { removeTempDirs } from '../test-support/temp.js';
import { discardDeadLetter, replayDeadLetter } from './dead-letters.js';
import { ledgerState } from './ledger-state.js';
import { runSource } from './run-source.js';
import { runService } from './service.js';

const FEED = generateFeed({
  seed: 11,
  meters: 6,
  intervals: 20,
  startMs: Date.UTC(2026, 2, 1),
  retransmitRate: 0.05,
  badRate: 0.05,
});
const PAYLOAD = Buffer.from([...toNdjson(FEED.records)].join(''));

/** The shape of the retry wrapper's final error: each attempt's code, message and timing. */
class AttemptsExhaustedError extends Error {
  readonly attempts: AttemptRecord[];
  readonly deliveryFetched: boolean;
  constructor(attempts: AttemptRecord[], deliveryFetched = false) {
    super(`gave up after ${attempts.length} attempts`);
    this.attempts = attempts;
    this.deliveryFetched = deliveryFetched;
  }
}

const ATTEMPTS: AttemptRecord[] = [1, 2, 3].map((n) => ({
  code: 'TRANSPORT_UNAVAILABLE',
  message: `attempt ${n}: connection reset`,
  startedAtMs: 1_000 * n,
  durationMs: 30 * n,
}));

type Ending = 'after-all-bytes' | 'part-way' | 'store-outage';

/** One delivery whose byte stream fails at its end or part-way, and what the runner told it. */
class FailingTransport implements Source {
  readonly id = 'vendor-a';
  readonly events: { kind: 'ack' | 'nack'; openDeadLetters: number; detail: unknown }[] = [];
  #left = 1;

  constructor(
    private readonly harness: Harness,
    private readonly ending: Ending,
  ) {}

  async connect(): Promise<void> {}

  async read(): Promise<Delivery | typeof END> {
    if (this.#left === 0) return END;
    this.#left -= 1;
    const ending = this.ending;
    const note = async (kind: 'ack' | 'nack', detail: unknown) => {
      const status = await this.harness.store.status();
      this.events.push({ kind, openDeadLetters: status.deadLetters.open, detail });
    };
    return {
      sourceDeliveryId: 'page-42',
      name: 'page 42',
      format: 'ndjson',
      formatContext: null,
      attempt: 3,
      metadata: { 'x-page': '42' },
      partitionKey: null,
      position: { page: 43 },
      async *bytes() {
        const cut = ending === 'part-way' ? 700 : PAYLOAD.byteLength;
        for (let at = 0; at < cut; at += 512) yield PAYLOAD.subarray(at, Math.min(cut, at + 512));
        if (ending === 'store-outage') {
          throw Object.assign(new AttemptsExhaustedError(ATTEMPTS), {
            cause: new AmisyncError('STORE_UNAVAILABLE', 'database is locked', {
              code: 'SQLITE_BUSY',
            }),
          });
        }
        // At the end of the whole body, the transport vouches that it is all the peer sends (a
        // checksum that never matches on any attempt); part-way, it was cut short.
        throw new AttemptsExhaustedError(ATTEMPTS, ending === 'after-all-bytes');
      },
      ack: (receipt) => note('ack', receipt),
      nack: (error) => note('nack', error.message),
    };
  }

  async close(): Promise<void> {}
}

function options(harness: Harness) {
  return {
    store: harness.store,
    dictionary: DEFAULT_DICTIONARY,
    clock: harness.clock,
    random: harness.random,
  };
}

async function expectVerified(harness: Harness): Promise<void> {
  const report = await verifyAudit(harness.store, null);
  expect(report.problems).toEqual([]);
  expect(report.ok).toBe(true);
}

async function collectKinds(h: Harness): Promise<string[]> {
  const kinds: string[] = [];
  for await (const page of h.store.iterateAuditEntries()) kinds.push(...page.map((e) => e.kind));
  return kinds;
}

const opened: Harness[] = [];
function harness(): Harness {
  const h = openHarness();
  opened.push(h);
  return h;
}

afterAll(async () => {
  for (const h of opened) await h.close();
  removeTempDirs();
});

describe('dead letters', () => {
  it('keeps an exhausted delivery whole before acknowledging it, then replays it', async () => {
    const h = harness();
    const source = new FailingTransport(h, 'after-all-bytes');
    const reports = await runSource(source, options(h));
    // Acknowledged once, and only after the dead letter was committed.
    expect(source.events).toHaveLength(1);
    expect(source.events[0]).toMatchObject({ kind: 'ack', openDeadLetters: 1 });
    expect(reports[0]?.deadLetterId).toBe(1);
    const [row] = await h.store.listDeadLetters({ limit: 10 });
    expect(row).toMatchObject({
      sourceId: 'vendor-a',
      transportId: 'page-42',
      name: 'page 42',
      sizeBytes: PAYLOAD.byteLength,
      bytesComplete: true,
      cause: 'attempts-exhausted',
      attempts: ATTEMPTS,
      status: 'open',
    });
    // Its bytes are kept exactly; the source's position moved past it with it.
    const kept = await h.store.readDeliveryBytes(row!.deliveryId, 0, PAYLOAD.byteLength);
    expect(Buffer.from(kept).equals(PAYLOAD)).toBe(true);
    expect(JSON.parse((await h.store.loadSourcePosition('vendor-a'))!.position)).toEqual({
      page: 43,
    });
    // Conservation: one received unit, dead-lettered, and nothing in the ledger yet.
    let status = await h.store.status();
    expect(status.totals).toMatchObject({ received: 1, deadLettered: 1, accepted: 0 });
    expect(status.ledger.readings).toBe(0);
    await expectVerified(h);

    const replay = await replayDeadLetter({ ...options(h), actor: 'ops' }, 1, 'vendor fixed');
    expect(replay.delivery.counts.received).toBeGreaterThan(0);
    // The replay gives the very ledger a clean delivery of the same bytes gives.
    const clean = harness();
    await clean.ingest(PAYLOAD);
    expect(await ledgerState(h.store)).toEqual(await ledgerState(clean.store));
    const decided = await h.store.getDeadLetter(1);
    expect(decided?.status).toBe('replayed');
    expect(decided?.decision?.resolvedDeliveryId).toBe(replay.delivery.deliveryId);
    status = await h.store.status();
    expect(status.deadLetters).toEqual({ open: 0, replayed: 1, discarded: 0 });
    await expectVerified(h);
    // Decided once: a second replay or a discard is refused and writes nothing.
    const entries = status.auditEntries;
    await expect(replayDeadLetter({ ...options(h), actor: 'ops' }, 1)).rejects.toMatchObject({
      code: 'INVALID_STATE',
    });
    await expect(
      discardDeadLetter({ ...options(h), actor: 'ops' }, 1, 'not needed any more'),
    ).rejects.toMatchObject({ code: 'INVALID_STATE' });
    expect((await h.store.status()).auditEntries).toBe(entries);
  });

  it('replaying twice through identity adds nothing: the second is all duplicates', async () => {
    const h = harness();
    await runSource(new FailingTransport(h, 'after-all-bytes'), options(h));
    // The same page, fetched again later by the source, arrives clean before the replay.
    const direct = await h.ingest(PAYLOAD);
    const before = await ledgerState(h.store);
    const replay = await replayDeadLetter({ ...options(h), actor: 'ops' }, 1);
    expect(replay.delivery.counts.accepted).toBe(0);
    expect(replay.delivery.counts.received).toBe(direct.counts.received);
    expect(await ledgerState(h.store)).toEqual(before);
    await expectVerified(h);
  });

  it('a delivery that failed part-way is kept as evidence but not acknowledged', async () => {
    const h = harness();
    const source = new FailingTransport(h, 'part-way');
    await expect(runSource(source, options(h))).rejects.toThrow(/gave up after 3 attempts/);
    expect(source.events).toEqual([
      { kind: 'nack', openDeadLetters: 1, detail: 'gave up after 3 attempts' },
    ]);
    const row = await h.store.getDeadLetter(1);
    expect(row).toMatchObject({ bytesComplete: false, sizeBytes: 700 });
    // Nothing moved the source past it: its transport delivers it again.
    expect(await h.store.loadSourcePosition('vendor-a')).toBeNull();
    await expect(replayDeadLetter({ ...options(h), actor: 'ops' }, 1)).rejects.toMatchObject({
      code: 'INVALID_STATE',
    });
    await expect(
      discardDeadLetter({ ...options(h), actor: 'ops' }, 1, 'short'),
    ).rejects.toMatchObject({ code: 'USAGE' });
    await discardDeadLetter({ ...options(h), actor: 'ops' }, 1, 'redelivered whole on 12 March');
    const discarded = await h.store.getDeadLetter(1);
    expect(discarded?.status).toBe('discarded');
    expect(discarded?.decision).toMatchObject({
      actor: 'ops',
      justification: 'redelivered whole on 12 March',
    });
    // Discarding keeps the row and its bytes.
    const kept = await h.store.readDeliveryBytes(discarded!.deliveryId, 0, 700);
    expect(Buffer.from(kept).equals(PAYLOAD.subarray(0, 700))).toBe(true);
    await expectVerified(h);
  });

  it('a store outage is never dead-lettered: the delivery is nacked', async () => {
    const h = harness();
    const source = new FailingTransport(h, 'store-outage');
    await expect(runSource(source, options(h))).rejects.toThrow(/gave up/);
    expect(source.events.map((e) => e.kind)).toEqual(['nack']);
    expect((await h.store.status()).deadLetters).toEqual({ open: 0, replayed: 0, discarded: 0 });
  });

  it('malformed records are quarantined, never dead-lettered', async () => {
    const h = harness();
    const report = await h.ingest(PAYLOAD);
    expect(report.counts.quarantined).toBeGreaterThan(0);
    expect(await h.store.listDeadLetters({ limit: 10 })).toEqual([]);
  });

  it('two decisions at once: one wins, the other gets INVALID_STATE and decides nothing', async () => {
    const h = harness();
    await runSource(new FailingTransport(h, 'after-all-bytes'), options(h));
    const context = { ...options(h), actor: 'ops' };
    const [replayed, discarded] = await Promise.allSettled([
      replayDeadLetter({ ...context, actor: 'first' }, 1),
      discardDeadLetter({ ...context, actor: 'second' }, 1, 'duplicate of page 41'),
    ]);
    // The discard decides inside one transaction while the replay is still ingesting.
    expect(discarded.status).toBe('fulfilled');
    expect(replayed.status).toBe('rejected');
    expect((replayed as PromiseRejectedResult).reason).toMatchObject({ code: 'INVALID_STATE' });
    const row = await h.store.getDeadLetter(1);
    expect(row?.decision).toMatchObject({ status: 'discarded', actor: 'second' });
    const kinds = (await collectKinds(h)).filter((kind) => kind.startsWith('deadletter.'));
    expect(kinds).toEqual(['deadletter.recorded', 'deadletter.discarded']);
    await expectVerified(h);
  });

  it('the service keeps a page request that failed past its attempts, and alerts', async () => {
    const h = harness();
    const log = new MemoryLogger();
    const request = { id: 'GET /readings?page=9', url: 'https://vendor.example/readings?page=9' };
    let reads = 0;
    const source: Source = {
      id: 'vendor-rest',
      connect: async () => {},
      close: async () => {},
      read: async () => {
        reads += 1;
        if (reads === 1) throw Object.assign(new AttemptsExhaustedError(ATTEMPTS), { request });
        return END;
      },
    };
    const summary = await runService({
      ...options(h),
      sources: [{ source }],
      log,
      once: true,
      signal: new AbortController().signal,
      reconnectDelayMs: 1,
      // The reconnect after the failed read waits on a real timer (1 ms).
      clock: systemClock,
    });
    expect(summary.sources[0]?.outcome).toBe('ended');
    const [row] = await h.store.listDeadLetters({ limit: 10 });
    expect(row).toMatchObject({
      sourceId: 'vendor-rest',
      transportId: 'GET /readings?page=9',
      request,
      rawSha256: null,
      sizeBytes: null,
      bytesComplete: false,
      attempts: ATTEMPTS,
    });
    expect(log.events.map((e) => e.fields.alert)).toContain('dead-letter');
    await expect(replayDeadLetter({ ...options(h), actor: 'ops' }, 1)).rejects.toMatchObject({
      code: 'INVALID_STATE',
      message: expect.stringContaining('--config'),
    });
    // A peer still failing leaves it open; once it answers, the page is fetched and ingested.
    const asked: unknown[] = [];
    const down = async (): Promise<never> => {
      throw new AmisyncError('TRANSPORT_UNAVAILABLE', 'the page answered 503');
    };
    await expect(
      replayDeadLetter({ ...options(h), actor: 'ops' }, 1, 'peer back', down),
    ).rejects.toMatchObject({ code: 'TRANSPORT_UNAVAILABLE' });
    expect((await h.store.getDeadLetter(1))?.status).toBe('open');
    const report = await replayDeadLetter(
      { ...options(h), actor: 'ops' },
      1,
      'peer back',
      async (id, r) => {
        asked.push([id, r]);
        return {
          name: 'page 9',
          format: 'ndjson',
          formatContext: {},
          transportId: request.id,
          chunks: [PAYLOAD],
        };
      },
    );
    expect(asked).toEqual([['vendor-rest', request]]);
    expect(report.refetched).toBe(true);
    const state = await ledgerState(h.store);
    expect(state.readings).toBe(FEED.expected.currentReadings);
    expect(state.energyMilliWh).toBe(FEED.expected.energyMilliWh);
    expect((await h.store.getDeadLetter(1))?.status).toBe('replayed');
    await expectVerified(h);
  });

  it('audit verify names a dead letter edited, decided or inserted outside amisync', async () => {
    const h = harness();
    await runSource(new FailingTransport(h, 'after-all-bytes'), options(h));
    await discardDeadLetter({ ...options(h), actor: 'ops' }, 1, 'test upload, vendor confirmed');
    await expectVerified(h);
    h.store.db.exec(`DROP TRIGGER dead_letters_decision_final;
      UPDATE dead_letters SET status = 'open' WHERE id = 1`);
    let report = await verifyAudit(h.store, null);
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => p.reason).join('\n')).toMatch(/dead letter 1 is open/);
    h.store.db.exec(`INSERT INTO dead_letters (source_id, delivery_id, name, format,
      format_context, bytes_complete, request, attempts, cause, created_at_ms, audit_seq)
      VALUES ('x', 'dlv_x', 'n', 'json', '{}', 0, '{}', '[]', 'non-retryable', 1, 1)`);
    report = await verifyAudit(h.store, null);
    expect(report.problems.map((p) => p.reason).join('\n')).toMatch(
      /dead letter 2 differs from the entry that records it/,
    );
  });
});
