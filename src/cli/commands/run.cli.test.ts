// Goal: the built `amisync run --config F` keeps polling until SIGTERM or SIGINT, then stops within
// a bounded time with exit 0 and its summary; while it runs it signs the audit chain's head every
// checkpointIntervalMs when the head moved, and not again when it did not; `amisync config check`
// reports every problem with exit 78 and prints no secret.
// Method: child processes of dist/cli/main.js on a directory drop in a temp folder; the drop is
// filled while the service runs, then the service is signalled.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { generateFeed, toNdjson } from '../../simulator/feed-generator.js';
import { FEED_START_MS } from '../../test-support/ingest-harness.js';
import { CLI_MAIN } from '../../test-support/crash-runs.js';
import { removeTempDirs, tempDir } from '../../test-support/temp.js';

afterAll(removeTempDirs);

const SECRET = 'client-secret-3b9d-must-not-leak';
const STOP_MS_MAX = 5_000;

function setUp(settings: readonly string[] = []): {
  folder: string;
  inbox: string;
  config: string;
} {
  const folder = tempDir('amisync-run-cli-');
  const inbox = join(folder, 'inbox');
  mkdirSync(inbox);
  const config = join(folder, 'amisync.yaml');
  writeFileSync(
    config,
    [
      'database: ./amisync.db',
      'log: { file: ./amisync.log }',
      'shutdownGraceMs: 2000',
      ...settings,
      'sources:',
      '  - { kind: directory, id: drop, path: ./inbox, pollIntervalMs: 50 }',
    ].join('\n'),
  );
  return { folder, inbox, config };
}

async function until(test: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!test()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe.each(['SIGTERM', 'SIGINT'] as const)('amisync run, stopped by %s', (signal) => {
  it('polls until signalled, then stops promptly with its summary and exit 0', async () => {
    const { folder, inbox, config } = setUp();
    const child = spawn(process.execPath, [CLI_MAIN, 'run', '--config', config, '--json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const feed = generateFeed({ seed: 5, meters: 3, startMs: FEED_START_MS, intervals: 96 });
    const archive = join(inbox, 'archive');
    // Files arrive while the service runs; each is taken on a later poll.
    for (let file = 0; file < 3; file++) {
      const part = feed.records.slice(file * 96, (file + 1) * 96);
      writeFileSync(join(inbox, `part-${file}.ndjson.part`), [...toNdjson(part)].join(''));
      renameSync(join(inbox, `part-${file}.ndjson.part`), join(inbox, `part-${file}.ndjson`));
      await until(() => {
        try {
          return readdirSync(archive).length === file + 1;
        } catch {
          return false;
        }
      }, 20_000);
    }
    const asked = Date.now();
    child.kill(signal);
    expect(await exited).toBe(0);
    expect(Date.now() - asked).toBeLessThan(STOP_MS_MAX);
    const summary = JSON.parse(stdout) as {
      ok: boolean;
      interrupted: boolean;
      conserved: boolean;
      counts: { accepted: number };
      sources: { id: string; outcome: string; deliveries: number }[];
    };
    expect(summary).toMatchObject({ ok: true, interrupted: true, conserved: true });
    expect(summary.sources).toEqual([
      expect.objectContaining({ id: 'drop', outcome: 'stopped', deliveries: 3 }),
    ]);
    expect(summary.counts.accepted).toBe(feed.records.length);
    const log = readFileSync(join(folder, 'amisync.log'), 'utf8');
    expect(log).toContain(`received ${signal}: stopping`);
  }, 60_000);
});

interface CheckpointList {
  checkpoints: { auditSeq: number; headHash: string }[];
}

describe('amisync run, signing the chain head while it runs', () => {
  it('signs a head that moved every interval, never the same head twice, and verifies', async () => {
    const { folder, inbox, config } = setUp(['checkpointIntervalMs: 1000']);
    const child = spawn(process.execPath, [CLI_MAIN, 'run', '--config', config, '--json'], {
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const db = join(folder, 'amisync.db');
    const signed = (): number[] => {
      const listed = spawnSync(
        process.execPath,
        [CLI_MAIN, 'audit', 'checkpoints', '--db', db, '--json'],
        { encoding: 'utf8' },
      );
      if (listed.status !== 0) return [];
      return (JSON.parse(listed.stdout) as CheckpointList).checkpoints.map((c) => c.auditSeq);
    };
    const feed = generateFeed({ seed: 9, meters: 2, startMs: FEED_START_MS, intervals: 96 });
    const drop = async (file: number): Promise<void> => {
      const part = feed.records.slice(file * 96, (file + 1) * 96);
      writeFileSync(join(inbox, `part-${file}.ndjson`), [...toNdjson(part)].join(''));
      await until(() => {
        try {
          return readdirSync(join(inbox, 'archive')).length === file + 1;
        } catch {
          return false;
        }
      }, 20_000);
    };
    const head = (): number => {
      const store = new Database(db, { readonly: true, fileMustExist: true });
      try {
        return (store.prepare('SELECT max(seq) AS seq FROM audit_log').get() as { seq: number })
          .seq;
      } finally {
        store.close();
      }
    };
    try {
      await drop(0);
      const first = head();
      await until(() => signed()[0] === first, 10_000);
      const before = signed();
      // Three intervals with nothing new: the head already signed is not signed again.
      await new Promise((resolve) => setTimeout(resolve, 3_200));
      expect(signed()).toEqual(before);
      await drop(1);
      const second = head();
      expect(second).toBeGreaterThan(first);
      await until(() => signed()[0] === second, 10_000);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      // The stop signs the head as well, as it always did; the running service never signed one
      // head twice.
      const [atStop, ...whileRunning] = signed();
      expect(atStop).toBe(second);
      expect(whileRunning[0]).toBe(second);
      expect(whileRunning).toEqual([...new Set(whileRunning)].sort((a, b) => b - a));
      const verify = spawnSync(process.execPath, [CLI_MAIN, 'audit', 'verify', '--db', db], {
        encoding: 'utf8',
      });
      expect(verify.status, verify.stdout + verify.stderr).toBe(0);
      const count = whileRunning.length + 1;
      expect(verify.stdout).toContain(`${count}/${count} checkpoints verified`);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 60_000);
});

describe('amisync config check (built CLI)', () => {
  it('exits 78 listing every problem by key path, and prints no secret', () => {
    const folder = tempDir('amisync-config-cli-');
    const config = join(folder, 'amisync.yaml');
    writeFileSync(
      config,
      [
        'sources:',
        '  - kind: rest',
        '    id: vendor-a',
        '    baseUrl: https://headend.example',
        '    readingsPath: /v1/readings',
        '    auth: { type: oauth, tokenUrl: https://headend.example/token, clientId: a, clientSecretEnv: VENDOR_A_SECRET }',
        '    window: { backfillStart: "2026-01-01T00:00:00Z" }',
        '    pagination: { style: cursor, cursorParam: cursor, nextCursorPath: next }',
        '    records: { path: data, dialect: { fields: { meterId: m, timestamp: t, value: v } } }',
        '  - kind: directory',
        '    id: vendor-a',
        '    path: ./inbox',
        '  - kind: smtp',
        '    id: mail',
      ].join('\n'),
    );
    const run = spawnSync(process.execPath, [CLI_MAIN, 'config', 'check', '--config', config], {
      encoding: 'utf8',
      env: { ...process.env, VENDOR_A_SECRET: SECRET },
    });
    expect(run.status, run.stderr).toBe(78);
    expect(run.stderr).toMatch(/CONFIG_INVALID: \d+ problems in /);
    expect(run.stderr).toContain('sources[1].id (line 11): duplicate source id "vendor-a"');
    expect(run.stderr).toMatch(/sources\[2\]\.kind \(line 13\): unknown source kind "smtp"/);
    expect(`${run.stdout}${run.stderr}`).not.toContain(SECRET);

    const ok = spawnSync(
      process.execPath,
      [CLI_MAIN, 'config', 'check', '--config', config.replace('amisync.yaml', 'good.yaml')],
      { encoding: 'utf8' },
    );
    expect(ok.status).toBe(78);
    expect(ok.stderr).toMatch(/cannot read the configuration .*good\.yaml: ENOENT/);
  });
});
