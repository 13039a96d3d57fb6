// Goal: `amisync pause` from another process stops a running `amisync run` between deliveries
// without a restart; the pause survives SIGKILL and restart (nothing read, nothing acknowledged,
// `run --once` ends paused); `amisync resume` drains everything; the ledger equals the truth,
// conservation holds and `audit verify` passes, with both controls audited by actor and reason.
// Method: child processes of dist/cli/main.js on a directory drop in a temp folder; files are
// dropped while the service runs; the drop folder, the archive and the log file are watched.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { generateFeed, toNdjson } from '../../simulator/feed-generator.js';
import { feedTruth } from '../../simulator/truth.js';
import { openSqliteStore } from '../../store/sqlite/sqlite-store.js';
import { CLI_MAIN } from '../../test-support/crash-runs.js';
import { FEED_START_MS } from '../../test-support/ingest-harness.js';
import { removeTempDirs, tempDir } from '../../test-support/temp.js';
import { ledgerStreams } from '../../test-support/truth-check.js';
import { cliSync } from '../../test-support/cli-sync.js';

const FILES = 4;
const FEED = generateFeed({ seed: 17, meters: 3, startMs: FEED_START_MS, intervals: 96 * FILES });
const REASON = 'vendor feed doubled every value';
/** Long enough for many polls of the drop (50 ms) and of the pause gate (1 s). */
const WATCH_MS = 2_500;

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});
afterAll(removeTempDirs);

/** A folder with an inbox and a config reading it as directory source `sourceId`. */
function setUp(sourceId = 'drop') {
  const folder = tempDir('amisync-pause-cli-');
  const inbox = join(folder, 'inbox');
  mkdirSync(inbox);
  const config = join(folder, 'amisync.yaml');
  writeFileSync(
    config,
    [
      'database: ./amisync.db',
      'log: { file: ./amisync.log }',
      'shutdownGraceMs: 2000',
      'sources:',
      `  - { kind: directory, id: ${sourceId}, path: ./inbox, pollIntervalMs: 50 }`,
    ].join('\n'),
  );
  return {
    folder,
    inbox,
    config,
    db: join(folder, 'amisync.db'),
    archived: () => (existsSync(join(inbox, 'archive')) ? readdirSync(join(inbox, 'archive')) : []),
    waiting: () => readdirSync(inbox).filter((name) => name.endsWith('.ndjson')),
    log: () => readFileSync(join(folder, 'amisync.log'), 'utf8'),
  };
}

/** Drops file `index` of the feed the way a vendor should: a `.part` name, then a rename. */
function drop(inbox: string, index: number): void {
  const size = Math.ceil(FEED.records.length / FILES);
  const records = FEED.records.slice(index * size, (index + 1) * size);
  const part = join(inbox, `part-${index}.ndjson.part`);
  writeFileSync(part, [...toNdjson(records)].join(''));
  renameSync(part, join(inbox, `part-${index}.ndjson`));
}

function startRun(config: string): { child: ChildProcess; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [CLI_MAIN, 'run', '--config', config, '--json'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(child);
  return { child, exited: new Promise((resolve) => child.once('exit', resolve)) };
}

function cli(args: string[]): { status: number | null; json: Record<string, unknown> } {
  const run = cliSync([...args, '--json']);
  expect(run.status, run.stderr).not.toBeNull();
  return {
    status: run.status,
    json: run.stdout.trim() === '' ? {} : (JSON.parse(run.stdout) as Record<string, unknown>),
  };
}

async function until(test: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!test()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

describe('amisync pause and resume on a running service (built CLI)', () => {
  it('holds a running service, survives SIGKILL and restart, and resume drains all', async () => {
    const { inbox, config, db, archived, waiting, log } = setUp();
    const first = startRun(config);
    drop(inbox, 0);
    await until(() => archived().length === 1);

    const paused = cli([
      'pause',
      '--source',
      'drop',
      '--reason',
      REASON,
      '--actor',
      'ops-alice',
      '--db',
      db,
    ]);
    expect(paused.status).toBe(0);
    expect(paused.json.pausesInForce).toEqual([
      expect.objectContaining({ sourceId: 'drop', actor: 'ops-alice', reason: REASON }),
    ]);
    await until(() => log().includes('source drop paused by ops-alice'));
    for (let index = 1; index < FILES; index++) drop(inbox, index);
    await sleep(WATCH_MS);
    expect(waiting()).toHaveLength(FILES - 1);
    expect(archived()).toHaveLength(1);

    first.child.kill('SIGKILL');
    expect(await first.exited).toBeNull();

    // A cron-style run after the crash: the pause holds, it reads nothing and says so.
    const once = spawnSync(
      process.execPath,
      [CLI_MAIN, 'run', '--config', config, '--once', '--json'],
      { encoding: 'utf8' },
    );
    expect(once.status, once.stderr).toBe(0);
    const onceSummary = JSON.parse(once.stdout) as { sources: Record<string, unknown>[] };
    expect(onceSummary.sources).toEqual([
      expect.objectContaining({
        id: 'drop',
        outcome: 'paused',
        deliveries: 0,
        pause: expect.objectContaining({ actor: 'ops-alice', reason: REASON }),
      }),
    ]);

    const second = startRun(config);
    await until(() => count(log(), 'source drop paused by ops-alice') >= 3);
    await sleep(WATCH_MS);
    expect(waiting()).toHaveLength(FILES - 1);
    expect(archived()).toHaveLength(1);
    const status = cli(['status', '--db', db]);
    expect(status.json.deliveries).toEqual({ complete: 1, running: 0, interrupted: 0 });
    expect(status.json.pauses).toEqual([
      expect.objectContaining({ sourceId: 'drop', actor: 'ops-alice', reason: REASON }),
    ]);

    const resumed = cli(['resume', '--source', 'drop', '--actor', 'ops-bob', '--db', db]);
    expect(resumed.status).toBe(0);
    expect(resumed.json.pausesInForce).toEqual([]);
    await until(() => archived().length === FILES);
    expect(waiting()).toEqual([]);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    expect(log()).toContain('source drop resumed');

    const store = openSqliteStore(db, { nowMs: () => 0, readonly: true });
    try {
      expect(await ledgerStreams(store)).toEqual(feedTruth(FEED).streams);
      const controls = await store.listControlHistory();
      expect(controls.map((c) => [c.sourceId, c.paused, c.actor])).toEqual([
        ['drop', true, 'ops-alice'],
        ['drop', false, 'ops-bob'],
      ]);
    } finally {
      await store.close();
    }
    const after = cli(['status', '--db', db]);
    expect(after.json).toMatchObject({ conserved: true, pauses: [] });
    expect(after.json.deliveries).toEqual({ complete: FILES, running: 0, interrupted: 0 });
    const verify = cli(['audit', 'verify', '--db', db]);
    expect(verify.status).toBe(0);
    expect(verify.json).toMatchObject({ ok: true });
  }, 120_000);
});

describe('amisync pause on a source that has not delivered (built CLI)', () => {
  it('notes an unknown id, not a partitioned source whose partitions delivered', () => {
    // A directory source named as a worker names a partition's deliveries: `<id>-p<k>`.
    const { inbox, config, db } = setUp('feed-p3');
    drop(inbox, 0);
    const run = cliSync(['run', '--config', config, '--once']);
    expect(run.status, run.stderr).toBe(0);
    const pause = (source: string) =>
      cli(['pause', '--source', source, '--reason', REASON, '--db', db]);
    expect(pause('feed').json.unknownSources).toEqual([]);
    expect(pause('feed-p3').json.unknownSources).toEqual([]);
    expect(pause('fee').json.unknownSources).toEqual(['fee']);
    expect(pause('feed-p').json.unknownSources).toEqual(['feed-p']);
    const text = cliSync(['pause', '--source', 'feeed', '--reason', REASON, '--db', db]);
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toContain('note: source feeed has never delivered to this database');
    expect(text.stdout).not.toContain('note: source feed ');
  });
});
