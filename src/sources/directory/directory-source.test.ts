// Goal: a drop folder delivers each complete file once per content, archives it only after its
// commit, and leaves in place any file that did not commit or changed while it was read.
// Method: real files in temp folders, driven through runSource into a real SQLite store.
import {
  existsSync,
  mkdirSync,
  readdirSync,
  renameSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CountingRandom, ManualClock } from '../../core/clock.js';
import { isIdle, type Delivery, type Source } from '../../core/source.js';
import type { Store } from '../../core/store.js';
import { DEFAULT_DICTIONARY } from '../../dictionary/dictionary.js';
import { ledgerState } from '../../pipeline/ledger-state.js';
import { runSource } from '../../pipeline/run-source.js';
import { generateFeed, toNdjson, type FeedRecord } from '../../simulator/feed-generator.js';
import { openSqliteStore } from '../../store/sqlite/sqlite-store.js';
import { failingStore } from '../../test-support/failing-store.js';
import { testSourceContext } from '../../test-support/source-context.js';
import { removeTempDirs, tempDir } from '../../test-support/temp.js';
import { directorySourceKind, type DirectorySourceConfig } from './directory-source.js';

const START_MS = Date.UTC(2026, 0, 5);
const FEED = generateFeed({
  seed: 8,
  meters: 12,
  intervals: 40,
  startMs: START_MS,
  retransmitRate: 0.05,
  badRate: 0.03,
});

afterAll(removeTempDirs);

function ndjson(records: readonly FeedRecord[]): string {
  return [...toNdjson(records)].join('');
}

/** Writes a file as a vendor does: a temporary name, then a rename, with the given mtime. */
function drop(dir: string, name: string, text: string, mtimeS: number): void {
  writeFileSync(join(dir, `${name}.part`), text);
  utimesSync(join(dir, `${name}.part`), mtimeS, mtimeS);
  renameSync(join(dir, `${name}.part`), join(dir, name));
}

interface Fixture {
  inbox: string;
  archive: string;
  store: Store;
  clock: ManualClock;
  source(overrides?: Partial<DirectorySourceConfig>): Source;
  run(
    source: Source,
    store?: Store,
    hooks?: { onDeliveryStart?: (d: Delivery) => void },
  ): Promise<Awaited<ReturnType<typeof runSource>>>;
}

const random = new CountingRandom();

function fixture(): Fixture {
  const root = tempDir('amisync-drop-');
  const inbox = join(root, 'inbox');
  const archive = join(root, 'archive');
  mkdirSync(inbox);
  const clock = new ManualClock(START_MS + 3 * 86_400_000);
  const store = openSqliteStore(join(root, 'store.db'), { nowMs: () => clock.nowMs() });
  return {
    inbox,
    archive,
    store,
    clock,
    source: (overrides = {}) =>
      directorySourceKind.create(
        directorySourceKind.schema.parse({
          kind: 'directory',
          id: 'drop-a',
          path: inbox,
          archiveDir: archive,
          pollIntervalMs: 1000,
          ...overrides,
        }),
        testSourceContext(store, { clock }),
      ),
    run: (source, other = store, hooks = {}) =>
      runSource(source, {
        store: other,
        dictionary: DEFAULT_DICTIONARY,
        clock,
        random,
        ...hooks,
      }),
  };
}

/** The feed cut into `files` consecutive NDJSON files. */
function feedFiles(files: number): string[] {
  const size = Math.ceil(FEED.records.length / files);
  return Array.from({ length: files }, (_, index) =>
    ndjson(FEED.records.slice(index * size, (index + 1) * size)),
  );
}

describe('directory drop source', () => {
  it('ingests every file oldest first, equal to the feed, and archives each after commit', async () => {
    const f = fixture();
    const texts = feedFiles(6);
    // Written in reverse name order with increasing mtimes: the order is by mtime, not name.
    texts.forEach((text, index) => drop(f.inbox, `z${9 - index}.ndjson`, text, 1_000 + index));
    const reports = await f.run(f.source({ filesPerPollMax: 4 }));
    expect(reports.map((report) => report.name)).toEqual(texts.map((_, i) => `z${9 - i}.ndjson`));
    const state = await ledgerState(f.store);
    expect(state.readings).toBe(FEED.expected.currentReadings);
    expect(state.energyMilliWh).toBe(FEED.expected.energyMilliWh);
    const { totals } = await f.store.status();
    expect(totals.received).toBe(FEED.expected.received);
    expect(totals.duplicates).toBe(FEED.expected.duplicates);
    expect(totals.received).toBe(
      totals.accepted +
        totals.duplicates +
        totals.quarantined +
        totals.anomalyHeld +
        totals.deadLettered,
    );
    expect(readdirSync(f.inbox)).toEqual([]);
    expect(readdirSync(f.archive).sort()).toEqual(texts.map((_, i) => `z${9 - i}.ndjson`).sort());
    await f.store.close();
  });

  it('leaves a file whose commit failed in place, and archives it once a later run commits it', async () => {
    const f = fixture();
    drop(f.inbox, 'feed.ndjson', feedFiles(1)[0] as string, 1_000);
    let archivedAtFailure: boolean | null = null;
    const failing = f.run(f.source(), failingStore(f.store, 2), {
      onDeliveryStart: () => {
        archivedAtFailure = existsSync(join(f.archive, 'feed.ndjson'));
      },
    });
    await expect(failing).rejects.toThrow(/disk is full/);
    expect(archivedAtFailure).toBe(false);
    expect(readdirSync(f.inbox)).toEqual(['feed.ndjson']);
    expect(existsSync(join(f.archive, 'feed.ndjson'))).toBe(false);
    const [report] = await f.run(f.source());
    expect(report?.counts.received).toBe(FEED.expected.received);
    expect(readdirSync(f.inbox)).toEqual([]);
    expect((await ledgerState(f.store)).readings).toBe(FEED.expected.currentReadings);
    await f.store.close();
  });

  it('links the same bytes under a new name to the first delivery, as duplicates', async () => {
    const f = fixture();
    const text = feedFiles(1)[0] as string;
    drop(f.inbox, 'a.ndjson', text, 1_000);
    drop(f.inbox, 'a-resent.ndjson', text, 2_000);
    const [first, second] = await f.run(f.source());
    expect(first?.firstDeliveryId).toBeNull();
    expect(second?.firstDeliveryId).toBe(first?.deliveryId);
    expect(second?.counts.accepted).toBe(0);
    expect(second?.counts.received).toBe(first?.counts.received);
    await f.store.close();
  });

  it('takes the same name with new bytes as a new delivery, and archives both', async () => {
    const f = fixture();
    const [one, two] = feedFiles(2) as [string, string];
    drop(f.inbox, 'daily.ndjson', one, 1_000);
    const [first] = await f.run(f.source());
    drop(f.inbox, 'daily.ndjson', two, 2_000);
    const [second] = await f.run(f.source());
    expect(second?.firstDeliveryId).toBeNull();
    expect(second?.sha256).not.toBe(first?.sha256);
    expect(second?.counts.accepted).toBeGreaterThan(0);
    const archived = readdirSync(f.archive).sort();
    expect(archived).toEqual([`${second?.sha256.slice(0, 16)}-daily.ndjson`, 'daily.ndjson']);
    await f.store.close();
  });

  it('fails a file that shrinks while it is read, keeps it, and reads it again next poll', async () => {
    const f = fixture();
    const text = feedFiles(1)[0] as string;
    drop(f.inbox, 'feed.ndjson', text, 1_000);
    const cut = text.indexOf('\n', Math.floor(text.length / 2)) + 1;
    const failing = f.run(f.source(), f.store, {
      onDeliveryStart: () => truncateSync(join(f.inbox, 'feed.ndjson'), cut),
    });
    await expect(failing).rejects.toMatchObject({
      code: 'DROP_FILE_CHANGED',
      message: expect.stringMatching(/feed\.ndjson changed while it was read \(it shrank from/),
    });
    expect(readdirSync(f.inbox)).toEqual(['feed.ndjson']);
    expect(readdirSync(f.archive)).toEqual([]);
    const [report] = await f.run(f.source());
    expect(report?.sizeBytes).toBe(cut);
    expect(readdirSync(f.inbox)).toEqual([]);
    await f.store.close();
  });

  it('in rename mode ignores a file still under its temporary name', async () => {
    const f = fixture();
    writeFileSync(join(f.inbox, 'late.ndjson.part'), '{"meter_id":');
    const source = f.source();
    const signal = new AbortController().signal;
    await source.connect(signal, null);
    expect(await source.read(signal)).toEqual({ idle: true, afterMs: 1000, reason: 'caught-up' });
    renameSync(join(f.inbox, 'late.ndjson.part'), join(f.inbox, 'late.ndjson'));
    expect(((await source.read(signal)) as Delivery).name).toBe('late.ndjson');
    await source.close();
    await f.store.close();
  });

  it('in marker mode takes a file once its .done marker exists, and removes the marker', async () => {
    const f = fixture();
    drop(f.inbox, 'm.ndjson', ndjson(FEED.records.slice(0, 10)), 1_000);
    const source = f.source({ completion: 'marker' });
    expect(await f.run(source)).toEqual([]);
    writeFileSync(join(f.inbox, 'm.ndjson.done'), '');
    const reports = await f.run(f.source({ completion: 'marker' }));
    expect(reports.map((report) => report.name)).toEqual(['m.ndjson']);
    expect(readdirSync(f.inbox)).toEqual([]);
    expect(readdirSync(f.archive)).toEqual(['m.ndjson']);
    await f.store.close();
  });

  it('in stable mode takes a file only after two polls a poll interval apart saw it unchanged', async () => {
    const f = fixture();
    const path = join(f.inbox, 's.ndjson');
    writeFileSync(path, ndjson(FEED.records.slice(0, 5)));
    utimesSync(path, 1_000, 1_000);
    const source = f.source({ completion: 'stable' });
    const signal = new AbortController().signal;
    await source.connect(signal, null);
    expect(await source.read(signal)).toEqual({ idle: true, afterMs: 1000, reason: 'throttled' });
    // Still being written: it grew before the next poll, so the wait starts again.
    writeFileSync(path, ndjson(FEED.records.slice(0, 10)));
    utimesSync(path, 1_001, 1_001);
    await f.clock.advance(1000);
    expect(isIdle(await source.read(signal))).toBe(true);
    await f.clock.advance(500);
    expect(isIdle(await source.read(signal))).toBe(true);
    await f.clock.advance(500);
    const delivery = (await source.read(signal)) as Delivery;
    expect(delivery.name).toBe('s.ndjson');
    expect(delivery.metadata).toMatchObject({
      sizeBytes: String(ndjson(FEED.records.slice(0, 10)).length),
    });
    await source.close();
    await f.store.close();
  });

  it('deletes committed files when afterCommit is delete, and is caught up on an empty folder', async () => {
    const f = fixture();
    drop(f.inbox, 'x.ndjson', ndjson(FEED.records.slice(0, 10)), 1_000);
    await f.run(f.source({ afterCommit: 'delete' }));
    expect(readdirSync(f.inbox)).toEqual([]);
    expect(existsSync(f.archive) ? readdirSync(f.archive) : []).toEqual([]);
    const source = f.source();
    const signal = new AbortController().signal;
    await source.connect(signal, null);
    expect(await source.read(signal)).toEqual({ idle: true, afterMs: 1000, reason: 'caught-up' });
    await source.close();
    await f.store.close();
  });

  it('takes only files matching its pattern, and leaves a file of unknown format with a warning', async () => {
    const f = fixture();
    drop(f.inbox, 'a.ndjson', ndjson(FEED.records.slice(0, 3)), 1_000);
    drop(f.inbox, 'b.txt', ndjson(FEED.records.slice(3, 6)), 1_001);
    drop(f.inbox, 'c.bin', 'x', 1_002);
    const context = testSourceContext(f.store, { clock: f.clock });
    const config = directorySourceKind.schema.parse({
      kind: 'directory',
      id: 'drop-b',
      path: f.inbox,
      archiveDir: f.archive,
      pattern: '*.{ndjson,bin}',
    });
    const reports = await f.run(directorySourceKind.create(config, context));
    expect(reports.map((report) => report.name)).toEqual(['a.ndjson']);
    expect(readdirSync(f.inbox).sort()).toEqual(['b.txt', 'c.bin']);
    expect(context.log.events).toContainEqual({
      level: 'warn',
      message: expect.stringMatching(/extension names no format/),
      fields: { source: 'drop-b', file: 'c.bin', error: 'FORMAT_UNKNOWN' },
    });
    await f.store.close();
  });
});
