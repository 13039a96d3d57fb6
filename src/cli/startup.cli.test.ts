// Goal: commands that neither serve HTTP nor make requests start without loading the HTTP server
// (fastify), its metrics (prom-client), the HTTP client (undici) or the JWT library (jose): those
// took about 40% of every command's start. They load when a command needs them.
// Method: the built CLI runs under a module loader hook (written to a temporary folder) that
// appends the URL of every module it loads to a file. On a database holding a small feed,
// `--version` and `status` must load none of the four packages (and status must answer); `serve`
// must load fastify and prom-client and print where it listens.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { generateFeed, toNdjson } from '../simulator/feed-generator.js';
import { CLI_MAIN } from '../test-support/crash-runs.js';
import { FEED_START_MS } from '../test-support/ingest-harness.js';
import { removeTempDirs, tempDir } from '../test-support/temp.js';

afterAll(removeTempDirs);

const LAZY = ['fastify', 'prom-client', 'undici', 'jose'];

function hookFolder(): { folder: string; loads: string; importFlag: string } {
  const folder = tempDir('amisync-startup-');
  const loads = join(folder, 'loads.txt');
  writeFileSync(loads, '');
  writeFileSync(
    join(folder, 'hook.mjs'),
    `import { appendFileSync } from 'node:fs';
export async function load(url, context, next) {
  appendFileSync(${JSON.stringify(loads)}, url + '\\n');
  return next(url, context);
}
`,
  );
  writeFileSync(
    join(folder, 'register.mjs'),
    `import { register } from 'node:module';
register(${JSON.stringify(pathToFileURL(join(folder, 'hook.mjs')).href)});
`,
  );
  return { folder, loads, importFlag: pathToFileURL(join(folder, 'register.mjs')).href };
}

function packagesLoaded(loads: string): Set<string> {
  const found = new Set<string>();
  for (const url of readFileSync(loads, 'utf8').split('\n')) {
    const name = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1];
    if (name !== undefined) found.add(name);
  }
  return found;
}

/** The folder's database, with a small feed ingested (by a run that is not watched). */
function env(folder: string): NodeJS.ProcessEnv {
  const copy: NodeJS.ProcessEnv = { ...process.env, AMISYNC_DB: join(folder, 'amisync.db') };
  delete copy.AMISYNC_DICTIONARY;
  delete copy.AMISYNC_SIGNING_KEY;
  const feed = join(folder, 'feed.ndjson');
  const generated = generateFeed({ seed: 3, meters: 2, startMs: FEED_START_MS, intervals: 96 });
  writeFileSync(feed, [...toNdjson(generated.records)].join(''));
  const ingest = spawnSync(process.execPath, [CLI_MAIN, 'ingest', feed, '--json'], {
    encoding: 'utf8',
    env: copy,
  });
  expect(ingest.status, ingest.stderr).toBe(0);
  return copy;
}

describe('CLI start', () => {
  it('loads no HTTP server, HTTP client or JWT package for --version and status', () => {
    for (const args of [['--version'], ['status', '--json']]) {
      const hook = hookFolder();
      const run = spawnSync(process.execPath, ['--import', hook.importFlag, CLI_MAIN, ...args], {
        encoding: 'utf8',
        env: env(hook.folder),
      });
      expect(run.status, run.stderr).toBe(0);
      const loaded = packagesLoaded(hook.loads);
      expect(loaded.has('commander'), 'the hook saw the CLI load').toBe(true);
      expect(
        LAZY.filter((name) => loaded.has(name)),
        args.join(' '),
      ).toEqual([]);
    }
  });

  it('loads the HTTP server and its metrics when it serves', async () => {
    const hook = hookFolder();
    const child = spawn(
      process.execPath,
      ['--import', hook.importFlag, CLI_MAIN, 'serve', '--port', '0', '--open', '--json'],
      { env: env(hook.folder), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString('utf8');
        if (stdout.includes('\n')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    expect((JSON.parse(stdout.split('\n')[0] as string) as { url: string }).url).toMatch(
      /^http:\/\/127\.0\.0\.1:\d+$/,
    );
    const loaded = packagesLoaded(hook.loads);
    expect(loaded.has('fastify')).toBe(true);
    expect(loaded.has('prom-client')).toBe(true);
  });
});
