// Goal: the built `amisync dead-letters list|show|replay|discard` and `status` let an operator
// find, inspect, replay and discard dead letters, with JSON, exit codes and audit verify passing.
// Method: dead-letter two deliveries of a transport whose attempts are exhausted into a temporary
// SQLite file through the real runner, then run dist/cli/main.js on it in child processes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AttemptRecord } from '../../core/dead-letter.js';
import { END, type Delivery, type Source } from '../../core/source.js';
import { DEFAULT_DICTIONARY } from '../../dictionary/dictionary.js';
import { runSource } from '../../pipeline/run-source.js';
import { generateFeed, toNdjson } from '../../simulator/feed-generator.js';
import { openHarness } from '../../test-support/ingest-harness.js';
import { removeTempDirs } from '../../test-support/temp.js';
import { cliSync } from '../../test-support/cli-sync.js';

afterAll(removeTempDirs);

const FEED = generateFeed({
  seed: 4,
  meters: 3,
  intervals: 8,
  startMs: Date.UTC(2026, 2, 1),
  retransmitRate: 0,
  badRate: 0,
});
const PAYLOAD = Buffer.from([...toNdjson(FEED.records)].join(''));

/** The shape of the retry wrapper's final error for a body it fetched whole every time. */
class AttemptsExhaustedError extends Error {
  readonly deliveryFetched = true;
  constructor(readonly attempts: AttemptRecord[]) {
    super(`checksum mismatch on all ${attempts.length} attempts`);
  }
}

/** Two pages whose bodies never pass the transport's own check. */
class PoisonedPages implements Source {
  readonly id = 'vendor-api';
  #left = 2;
  async connect(): Promise<void> {}
  async close(): Promise<void> {}
  async read(): Promise<Delivery | typeof END> {
    if (this.#left === 0) return END;
    this.#left -= 1;
    const page = `page-${2 - this.#left}`;
    return {
      sourceDeliveryId: page,
      name: page,
      format: 'ndjson',
      formatContext: null,
      attempt: 5,
      metadata: {},
      partitionKey: null,
      position: null,
      async *bytes() {
        yield PAYLOAD;
        throw new AttemptsExhaustedError(
          [1, 2, 3].map((n) => ({
            code: 'TRANSPORT_PROTOCOL',
            message: `attempt ${n}: body sha256 differs from the header`,
            startedAtMs: Date.UTC(2026, 2, 2, 0, n),
            durationMs: 12,
          })),
        );
      },
      ack: async () => {},
      nack: async () => {},
    };
  }
}

let db = '';

beforeAll(async () => {
  const harness = openHarness();
  await runSource(new PoisonedPages(), {
    store: harness.store,
    dictionary: DEFAULT_DICTIONARY,
    clock: harness.clock,
    random: harness.random,
  });
  await harness.close();
  db = harness.path;
});

function cli(...args: string[]) {
  return cliSync([...args, '--db', db], { env: { AMISYNC_ACTOR: 'cli-operator' } });
}

function json<T>(...args: string[]): T {
  const run = cli(...args, '--json');
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  return JSON.parse(run.stdout) as T;
}

interface Item {
  id: number;
  status: string;
  name: string;
  sizeBytes: number;
  attempts: { code: string; startedAt: string }[];
  decision: { actor: string; justification: string; resolvedDeliveryId: string | null } | null;
}

interface StatusJson {
  conserved: boolean;
  totals: { received: number; deadLettered: number; accepted: number };
  deadLetters: { open: number; replayed: number; discarded: number };
}

describe('amisync dead-letters', () => {
  it('lists, filters and shows dead letters', () => {
    const all = json<{ items: Item[]; nextAfter: number | null }>('dead-letters', 'list');
    expect(all.items.map((item) => [item.id, item.name, item.status])).toEqual([
      [1, 'page-1', 'open'],
      [2, 'page-2', 'open'],
    ]);
    expect(all.items[0]?.sizeBytes).toBe(PAYLOAD.byteLength);
    expect(all.items[0]?.attempts.map((a) => a.startedAt)).toEqual([
      '2026-03-02T00:01:00.000Z',
      '2026-03-02T00:02:00.000Z',
      '2026-03-02T00:03:00.000Z',
    ]);
    const page = json<{ items: Item[]; nextAfter: number | null }>(
      'dead-letters',
      'list',
      '--limit',
      '1',
    );
    expect(page.items.map((item) => item.id)).toEqual([1]);
    expect(page.nextAfter).toBe(1);
    const text = cli('dead-letters', 'show', '1');
    expect(text.status).toBe(0);
    expect(text.stdout).toContain(
      'attempt 3 at 2026-03-02T00:03:00.000Z (12 ms): TRANSPORT_PROTOCOL',
    );
    expect(text.stdout).toContain('MTR-');
    expect(cli('dead-letters', 'show', '99').status).toBe(3);
    expect(cli('dead-letters', 'list', '--status', 'lost').status).toBe(64);
  });

  it('replays one, discards the other with a justification, and status and verify agree', () => {
    const before = json<StatusJson>('status');
    expect(before.deadLetters).toEqual({ open: 2, replayed: 0, discarded: 0 });
    expect(before.totals).toMatchObject({ received: 2, deadLettered: 2, accepted: 0 });
    const replay = json<{ delivery: { counts: { accepted: number } } }>(
      'dead-letters',
      'replay',
      '1',
      '--justification',
      'vendor confirmed the body',
    );
    expect(replay.delivery.counts.accepted).toBe(FEED.expected.currentReadings);
    // Without a justification, discard is a usage error and decides nothing.
    const refused = cli('dead-letters', 'discard', '2', '--justification', 'no');
    expect(refused.status).toBe(64);
    const discard = cli('dead-letters', 'discard', '2', '--justification', 'same page as 1');
    expect(discard.status).toBe(0);
    expect(discard.stdout).toContain('its row and bytes are kept');
    expect(cli('dead-letters', 'replay', '2').status).toBe(4);
    const after = json<StatusJson>('status');
    expect(after.deadLetters).toEqual({ open: 0, replayed: 1, discarded: 1 });
    expect(after.conserved).toBe(true);
    expect(after.totals.accepted).toBe(FEED.expected.currentReadings);
    const shown = json<Item>('dead-letters', 'show', '2');
    expect(shown.decision).toMatchObject({
      actor: 'cli-operator',
      justification: 'same page as 1',
      resolvedDeliveryId: null,
    });
    expect(cli('status').stdout).toContain('dead letters: 0 open, 1 replayed, 1 discarded');
    expect(json<{ ok: boolean }>('audit', 'verify').ok).toBe(true);
  });
});
