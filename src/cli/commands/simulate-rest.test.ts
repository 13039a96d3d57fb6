// Goal: `amisync simulate rest` serves until a signal, writes its config, secret and truth files,
// keeps the truth current as repeats are served, refuses bad flags, and never prints the secret.
// Method: run the CLI from source in a child process on a free port, read its files, walk its API
// with the secret from the file, then stop it with SIGTERM.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';

import { removeTempDirs, tempDir } from '../../test-support/temp.js';
import type { Truth } from '../../simulator/truth.js';
import { VENDOR_DIALECT } from '../../simulator/rest/vendor-shape.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MAIN = join(ROOT, 'src', 'cli', 'main.ts');
const STARTUP_MS_MAX = 30_000;
const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});
afterAll(removeTempDirs);

interface Running {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Starts the CLI and resolves once it has printed its startup information. */
async function run(args: string[], ready: (stdout: string) => boolean): Promise<Running> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'simulate', 'rest', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const startedMs = performance.now();
  while (!ready(stdout)) {
    if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}: ${stderr}`);
    expect(performance.now() - startedMs).toBeLessThan(STARTUP_MS_MAX);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

async function token(tokenUrl: string, clientId: string, secret: string): Promise<string> {
  const response = await fetch(tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: clientId,
      client_secret: secret,
    }),
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { access_token: string }).access_token;
}

describe('amisync simulate rest', () => {
  it('writes config, secret and truth, serves until SIGTERM, never prints the secret', async () => {
    const dir = tempDir();
    const config = join(dir, 'sim.yaml');
    const truthFile = join(dir, 'truth.json');
    const db = join(dir, 'amisync.db');
    const running = await run(
      [
        ...['--port', '0', '--meters', '3', '--days', '1', '--seed', '5', '--backfill'],
        ...['--start', '2026-03-01T00:00:00Z', '--page-size', '50', '--duplicate-page-rate', '1'],
        ...['--bad-rate', '0.05', '--config-out', config, '--truth', truthFile, '--db', db],
        ...['--rate-limit', '100/60'],
      ],
      (stdout) => stdout.includes('stop with'),
    );
    const secretFile = join(dir, 'sim.secret');
    expect(statSync(secretFile).mode & 0o777).toBe(0o600);
    const secret = readFileSync(secretFile, 'utf8').trim();
    expect(secret).toMatch(/^[0-9a-f]{48}$/);
    expect(running.stdout()).toContain(`client secret written to ${secretFile}`);

    const written = parse(readFileSync(config, 'utf8')) as {
      database: string;
      sources: Array<{ baseUrl: string; auth: { tokenUrl: string } }>;
    };
    expect(written.database).toBe(db);
    const source = written.sources[0]!;
    expect(source).toMatchObject({
      kind: 'rest',
      readingsPath: '/v1/readings',
      auth: { type: 'oauth', clientId: 'amisync', clientSecretFile: secretFile },
      window: { fromParam: 'from', toParam: 'to', backfillStart: '2026-03-01T00:00:00Z' },
      pagination: { style: 'cursor', cursorParam: 'cursor', nextCursorPath: 'next' },
      records: { path: 'data.readings', dialect: VENDOR_DIALECT },
      pageSize: 50,
    });
    expect(running.stdout()).toContain(`listening on ${source.baseUrl}`);

    const before = JSON.parse(readFileSync(truthFile, 'utf8')) as Truth;
    expect(before.streams).toHaveLength(3);
    const access = await token(source.auth.tokenUrl, 'amisync', secret);
    const first = await fetch(`${source.baseUrl}/v1/readings`, {
      headers: { authorization: `Bearer ${access}` },
    });
    const page = (await first.json()) as { data: { readings: unknown[] }; next: string };
    expect(page.data.readings).toHaveLength(50);
    const again = await fetch(`${source.baseUrl}/v1/readings?cursor=${page.next}`, {
      headers: { authorization: `Bearer ${access}` },
    });
    expect(again.status).toBe(200);
    const after = JSON.parse(readFileSync(truthFile, 'utf8')) as Truth;
    // The repeated page's bad records are quarantined again; the rest are duplicates.
    expect(after.duplicates + after.invalid).toBe(before.duplicates + before.invalid + 50);
    expect(after.duplicates).toBeGreaterThan(before.duplicates);
    expect(after.received).toBe(before.received + 50);

    running.child.kill('SIGTERM');
    expect(await running.exited).toBe(0);
    expect(running.stdout()).toContain('stopped on SIGTERM');
    expect(running.stdout()).not.toContain(secret);
    expect(running.stderr()).not.toContain(secret);
  }, 60_000);

  it('prints one JSON document with --json, and an API key goes to --secret-file', async () => {
    const dir = tempDir();
    const secretFile = join(dir, 'key.txt');
    const running = await run(
      ['--port', '0', '--auth', 'api-key', '--secret-file', secretFile, '--json'],
      (stdout) => stdout.trim().endsWith('}'),
    );
    const info = JSON.parse(running.stdout()) as Record<string, unknown>;
    expect(info).toMatchObject({ secretFile, tokenUrl: null, configFile: null });
    const key = readFileSync(secretFile, 'utf8').trim();
    const readings = await fetch(info['readingsUrl'] as string, { headers: { 'x-api-key': key } });
    expect(readings.status).toBe(200);
    running.child.kill('SIGINT');
    expect(await running.exited).toBe(0);
    expect(running.stdout()).not.toContain(key);
  }, 60_000);

  it('refuses a port already in use as a usage error', async () => {
    const first = await run(['--port', '0', '--auth', 'none', '--json'], (stdout) =>
      stdout.trim().endsWith('}'),
    );
    const port = String((JSON.parse(first.stdout()) as { port: number }).port);
    const second = spawnSync(
      process.execPath,
      ['--import', 'tsx', MAIN, 'simulate', 'rest', '--port', port, '--auth', 'none'],
      { cwd: ROOT, encoding: 'utf8' },
    );
    expect(second.status).toBe(64);
    expect(second.stderr).toContain(`--port ${port} cannot be listened on (EADDRINUSE)`);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
  }, 60_000);

  it.each([
    [['--bad-rate', '2'], '--bad-rate must be a number from 0 to 1'],
    [['--page-size', '50001'], '--page-size must be a whole number from 1 to 50000'],
    [['--rate-limit', '10'], '--rate-limit must be N/S'],
    [['--meters', '100000', '--days', '366'], '--meters x --days x 96 must be at most'],
    [['--start', '2026-03-01T00:07:00Z'], '--start must be an ISO 8601 time'],
  ])(
    'refuses %j as a usage error',
    (flags, message) => {
      const result = spawnSync(
        process.execPath,
        ['--import', 'tsx', MAIN, 'simulate', 'rest', '--port', '0', ...flags],
        { cwd: ROOT, encoding: 'utf8' },
      );
      expect(result.status).toBe(64);
      expect(result.stderr).toContain(message);
    },
    30_000,
  );
});
