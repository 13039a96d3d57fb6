// Goal: `amisync run` with an `api:` section serves the API and /metrics on its own store while
// its sources run: a file dropped is seen in /api/sources and in the metrics' counters, a pause
// written through the API holds the running source, and SIGTERM stops both with exit 0.
// Method: the built CLI in a child process on a directory drop; a viewer and an operator token
// made with `amisync tokens add`; the URL read from the service's JSON log file.
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateFeed, toNdjson } from '../../simulator/feed-generator.js';
import { CLI_MAIN } from '../../test-support/crash-runs.js';
import { FEED_START_MS } from '../../test-support/ingest-harness.js';
import { removeTempDirs, tempDir } from '../../test-support/temp.js';

afterAll(removeTempDirs);

async function until<T>(probe: () => T | null, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const found = probe();
    if (found !== null) return found;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function token(db: string, role: string): string {
  const added = spawnSync(
    process.execPath,
    [CLI_MAIN, 'tokens', 'add', '--role', role, '--name', `${role}-run`, '--db', db, '--json'],
    { encoding: 'utf8' },
  );
  expect(added.status, added.stderr).toBe(0);
  return (JSON.parse(added.stdout) as { token: string }).token;
}

describe('amisync run with api:', () => {
  it('serves the API and metrics beside its sources until SIGTERM', async () => {
    const folder = tempDir('amisync-run-api-');
    const inbox = join(folder, 'inbox');
    mkdirSync(inbox);
    const db = join(folder, 'amisync.db');
    const viewer = token(db, 'viewer');
    const operator = token(db, 'operator');
    const config = join(folder, 'amisync.yaml');
    writeFileSync(
      config,
      [
        'database: ./amisync.db',
        'log: { file: ./amisync.log }',
        'shutdownGraceMs: 2000',
        'api: { port: 0 }',
        'sources:',
        '  - { kind: directory, id: drop, path: ./inbox, pollIntervalMs: 50 }',
      ].join('\n'),
    );
    const child = spawn(process.execPath, [CLI_MAIN, 'run', '--config', config, '--json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      const log = join(folder, 'amisync.log');
      const url = await until(() => {
        if (!existsSync(log)) return null;
        return /"url":"(http:[^"]+)"/.exec(readFileSync(log, 'utf8'))?.[1] ?? null;
      }, 20_000);
      const feed = generateFeed({ seed: 9, meters: 2, startMs: FEED_START_MS, intervals: 96 });
      writeFileSync(join(inbox, 'a.part'), [...toNdjson(feed.records)].join(''));
      renameSync(join(inbox, 'a.part'), join(inbox, 'a.ndjson'));
      await until(() => {
        try {
          return readdirSync(join(inbox, 'archive')).length === 1 ? true : null;
        } catch {
          return null;
        }
      }, 20_000);
      const get = (path: string) =>
        fetch(`${url}${path}`, { headers: { authorization: `Bearer ${viewer}` } });
      const sources = (await (await get('/api/sources')).json()) as {
        sources: { sourceId: string; counts: { received: number } }[];
      };
      const drop = sources.sources.find((source) => source.sourceId === 'drop');
      expect(drop?.counts.received).toBe(feed.records.length);
      const metrics = await (await get('/metrics')).text();
      expect(metrics).toContain(
        `amisync_readings_received_total{source="drop"} ${feed.records.length}`,
      );
      expect(metrics).toMatch(/amisync_batch_commit_seconds_count [1-9]/);
      const paused = await fetch(`${url}/api/pause`, {
        method: 'POST',
        headers: { authorization: `Bearer ${operator}`, 'content-type': 'application/json' },
        body: JSON.stringify({ sources: ['drop'], reason: 'checking the vendor file format' }),
      });
      expect(paused.status).toBe(200);
      // The running source sees the pause within its poll: a new file stays in the inbox.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      writeFileSync(join(inbox, 'b.part'), [...toNdjson(feed.records.slice(0, 4))].join(''));
      renameSync(join(inbox, 'b.part'), join(inbox, 'b.ndjson'));
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(readdirSync(inbox)).toContain('b.ndjson');
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });
});
