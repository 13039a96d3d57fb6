// Goal: a store outage (SQLite locked by another process past its busy timeout, or its disk full)
// never dead-letters data: intake acknowledges nothing, waits with backoff, says "store
// unavailable", and resumes by itself, so every file lands exactly once once the store is back.
// Method: `amisync run`'s service over a real drop folder and SQLite file, while a child process
// holds `BEGIN EXCLUSIVE` on that file (then releases it), and on a small tmpfs filled to the
// brim (then freed); the ledger is compared with the feed generator's truth.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  statfsSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyAudit } from '../audit/verify.js';
import { CountingRandom, systemClock } from '../core/clock.js';
import { MemoryLogger } from '../core/log.js';
import { DEFAULT_DICTIONARY } from '../dictionary/dictionary.js';
import { generateFeed, toNdjson, type FeedRecord } from '../simulator/feed-generator.js';
import { directorySourceKind } from '../sources/directory/directory-source.js';
import { openSqliteStore, type SqliteStore } from '../store/sqlite/sqlite-store.js';
import { testSourceContext } from '../test-support/source-context.js';
import { removeTempDirs, tempDir } from '../test-support/temp.js';
import { ledgerState } from './ledger-state.js';
import { runService, type ServiceSummary } from './service.js';

const FEED = generateFeed({
  seed: 21,
  meters: 10,
  intervals: 48,
  startMs: Date.UTC(2026, 0, 5),
  retransmitRate: 0.05,
  badRate: 0.03,
});
const FILES = 6;
const BETTER_SQLITE3 = createRequire(import.meta.url).resolve('better-sqlite3');

afterAll(removeTempDirs);

function ndjson(records: readonly FeedRecord[]): string {
  return [...toNdjson(records)].join('');
}

/** The feed cut into consecutive files, dropped as a vendor does (temporary name, rename). */
function dropFeed(inbox: string): void {
  const size = Math.ceil(FEED.records.length / FILES);
  for (let index = 0; index < FILES; index++) {
    const name = `part-${index}.ndjson`;
    writeFileSync(
      join(inbox, `${name}.tmp`),
      ndjson(FEED.records.slice(index * size, (index + 1) * size)),
    );
    utimesSync(join(inbox, `${name}.tmp`), 1_000 + index, 1_000 + index);
    renameSync(join(inbox, `${name}.tmp`), join(inbox, name));
  }
}

/** Another process that takes SQLite's exclusive lock on the file and holds it until told. */
async function lockFromAnotherProcess(path: string): Promise<ChildProcess> {
  const script = `
    const Database = require(${JSON.stringify(BETTER_SQLITE3)});
    const db = new Database(${JSON.stringify(path)});
    db.exec('BEGIN EXCLUSIVE');
    process.stdout.write('locked\\n');
    process.stdin.once('data', () => { db.exec('COMMIT'); db.close(); process.exit(0); });`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout?.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`the locking process exited with ${code}`)));
  });
  return child;
}

async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const endMs = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > endMs) throw new Error('timed out waiting for the condition');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

interface Rig {
  inbox: string;
  store: SqliteStore;
  log: MemoryLogger;
  run(): Promise<ServiceSummary>;
}

function rig(folder: string): Rig {
  const inbox = join(folder, 'inbox');
  mkdirSync(inbox, { recursive: true });
  const store = openSqliteStore(join(folder, 'store.db'), {
    nowMs: () => systemClock.nowMs(),
    busyTimeoutMs: 100,
  });
  const log = new MemoryLogger();
  const source = directorySourceKind.create(
    directorySourceKind.schema.parse({
      kind: 'directory',
      id: 'drop-a',
      path: inbox,
      archiveDir: join(folder, 'archive'),
      pollIntervalMs: 50,
    }),
    testSourceContext(store, { clock: systemClock }),
  );
  const run = () =>
    runService({
      store,
      dictionary: DEFAULT_DICTIONARY,
      clock: systemClock,
      random: new CountingRandom(),
      sources: [{ source }],
      log,
      once: true,
      signal: new AbortController().signal,
      reconnectDelayMs: 50,
    });
  return { inbox, store, log, run };
}

/** Everything landed once: the ledger equals the truth, conservation holds, no dead letter. */
async function expectLandedOnce(r: Rig, summary: ServiceSummary): Promise<void> {
  expect(summary.ok).toBe(true);
  const state = await ledgerState(r.store);
  expect(state.readings).toBe(FEED.expected.currentReadings);
  expect(state.energyMilliWh).toBe(FEED.expected.energyMilliWh);
  const status = await r.store.status();
  expect(status.totals.received).toBe(FEED.expected.received);
  expect(status.totals.duplicates).toBe(FEED.expected.duplicates);
  const t = status.totals;
  expect(t.received).toBe(t.accepted + t.duplicates + t.quarantined + t.anomalyHeld);
  expect(t.deadLettered).toBe(0);
  expect(status.deadLetters).toEqual({ open: 0, replayed: 0, discarded: 0 });
  expect(readdirSync(r.inbox)).toEqual([]);
  expect((await verifyAudit(r.store, null)).ok).toBe(true);
  const alerts = r.log.events.map((e) => e.fields.alert);
  expect(alerts).toContain('store-unavailable');
  expect(alerts).toContain('store-available');
  expect(alerts).not.toContain('dead-letter');
}

function outages(log: MemoryLogger): number {
  return log.events.filter((e) => e.fields.alert === 'store-unavailable').length;
}

/** Whether this machine lets the test mount a small tmpfs (root, or CAP_SYS_ADMIN). */
function canMountTmpfs(): boolean {
  const probe = join(tempDir('amisync-mount-probe-'), 'mnt');
  mkdirSync(probe);
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe]);
  if (mounted.status !== 0) return false;
  spawnSync('umount', [probe]);
  return true;
}

describe('store outage', () => {
  it('another process locking the database: nothing is dead-lettered, all lands once', async () => {
    const r = rig(tempDir('amisync-lock-'));
    const child = await lockFromAnotherProcess(join(r.store.db.name));
    dropFeed(r.inbox);
    const running = r.run();
    // Intake meets the lock, acknowledges nothing and waits; let it knock a few times.
    await until(() => outages(r.log) >= 3, 20_000);
    expect(readdirSync(r.inbox)).toHaveLength(FILES);
    expect((await r.store.status()).totals.received).toBe(0);
    child.stdin?.write('release\n');
    await expectLandedOnce(r, await running);
    await r.store.close();
  }, 60_000);

  it.skipIf(!canMountTmpfs())(
    'a full disk (a small tmpfs filled up; skipped where mounting is not allowed): intake waits, and resumes once space is freed',
    async () => {
      const mount = join(tempDir('amisync-full-'), 'mnt');
      mkdirSync(mount);
      expect(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', mount]).status).toBe(0);
      try {
        const r = rig(mount);
        dropFeed(r.inbox);
        // Fill what is left of the filesystem, so that the first batch cannot be written.
        const free = statfsSync(mount);
        writeFileSync(join(mount, 'filler'), Buffer.alloc(Number(free.bavail * free.bsize)));
        const running = r.run();
        await until(() => outages(r.log) >= 2, 20_000);
        const said = r.log.events.filter((e) => e.fields.alert === 'store-unavailable');
        expect(said.map((e) => e.message).join('\n')).toMatch(/SQLITE_FULL|ENOSPC/);
        expect(readdirSync(r.inbox)).toHaveLength(FILES);
        rmSync(join(mount, 'filler'));
        await expectLandedOnce(r, await running);
        await r.store.close();
      } finally {
        spawnSync('umount', ['-l', mount]);
      }
    },
    60_000,
  );
});
