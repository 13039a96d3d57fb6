// Goal: the service's log is one JSON object per line with the delivery id, source, batch id and
// counts of every committed batch (from `amisync run` and from `amisync ingest --log-file`), the
// batches' counts add up to what the command reports, and no secret ever reaches the log: not a
// client secret, an access token, a password, a private key or an Authorization header.
// Method: the built CLI. A REST head-end simulator (OAuth, with faults that revoke tokens and
// fail requests) is read by `amisync run --once` at debug level into a log file, which is parsed
// line by line and grepped for the secret in every form it travels in (plain, Basic, Bearer). The
// pino logger itself is given events whose fields hold secrets under every censored key, nested.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { generateFeed, toNdjson } from '../../simulator/feed-generator.js';
import { CLI_MAIN } from '../../test-support/crash-runs.js';
import type { DeliveryCounts } from '../../test-support/delivery-counts.js';
import { until } from '../../test-support/fault-rig.js';
import { FEED_START_MS } from '../../test-support/ingest-harness.js';
import { removeTempDirs, tempDir } from '../../test-support/temp.js';
import { createServiceLogger } from './logger.js';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});
afterAll(removeTempDirs);

interface LogLine {
  level: number;
  msg: string;
  delivery?: string;
  source?: string;
  batch?: number;
  counts?: DeliveryCounts;
}

function logLines(file: string): LogLine[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as LogLine);
}

function batchLines(lines: LogLine[]): LogLine[] {
  return lines.filter((line) => line.batch !== undefined && / committed$/.test(line.msg));
}

function sum(lines: LogLine[], key: keyof DeliveryCounts): number {
  return lines.reduce((n, line) => n + (line.counts?.[key] ?? 0), 0);
}

describe('the service log', () => {
  it('logs every batch of `amisync run` with its ids and counts, and never a secret', async () => {
    const dir = tempDir('amisync-logs-');
    const config = join(dir, 'sim.yaml');
    const db = join(dir, 'amisync.db');
    // Two days ending at today's midnight (UTC): the source's backfill walks only these.
    const start = new Date(Math.floor(Date.now() / 86_400_000 - 2) * 86_400_000)
      .toISOString()
      .replace('.000Z', 'Z');
    const simulator = spawn(
      process.execPath,
      [
        CLI_MAIN,
        ...['simulate', 'rest', '--port', '0', '--meters', '3', '--days', '2', '--seed', '9'],
        ...['--backfill', '--start', start, '--page-size', '40'],
        // Tokens revoked mid-run make the source fetch new ones (the secret travels again).
        ...['--revoke-rate', '0.2', '--error-rate', '0.1', '--bad-rate', '0.05'],
        ...['--config-out', config, '--db', db],
      ],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push(simulator);
    let simOut = '';
    simulator.stdout?.on('data', (chunk: Buffer) => (simOut += chunk.toString('utf8')));
    simulator.stderr?.on('data', (chunk: Buffer) => (simOut += chunk.toString('utf8')));
    await until(
      () => {
        if (simulator.exitCode !== null) throw new Error(`simulator exited: ${simOut}`);
        return simOut.includes('stop with') && existsSync(config);
      },
      30_000,
      'the simulator to listen and write its configuration',
      50,
    );
    const secret = readFileSync(join(dir, 'sim.secret'), 'utf8').trim();
    const written = parse(readFileSync(config, 'utf8')) as Record<string, unknown>;
    const logFile = join(dir, 'amisync.log');
    writeFileSync(
      config,
      stringify({
        ...written,
        log: { file: logFile, level: 'debug' },
        resilience: {
          retry: { attempts: 5, baseDelayMs: 10, delayMsMax: 50 },
          alerts: { webhook: { url: 'http://127.0.0.1:9/hook', authorizationEnv: 'HOOK_AUTH' } },
        },
      }),
    );
    const hookAuth = `Bearer hook-${secret.slice(0, 12)}`;
    const run = spawnSync(
      process.execPath,
      [CLI_MAIN, 'run', '--once', '--config', config, '--json'],
      {
        cwd: dir,
        encoding: 'utf8',
        env: { ...process.env, HOOK_AUTH: hookAuth },
        timeout: 120_000,
      },
    );
    simulator.kill('SIGTERM');
    expect(run.status, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout) as { counts: DeliveryCounts; conserved: boolean };
    expect(summary.conserved).toBe(true);
    expect(summary.counts.received).toBeGreaterThan(0);

    const text = readFileSync(logFile, 'utf8');
    const lines = logLines(logFile);
    const batches = batchLines(lines);
    expect(batches.length).toBeGreaterThan(1);
    for (const line of batches) {
      expect(line.delivery).toMatch(/^dlv_[0-9a-f]+$/);
      expect(line.source).toBe('sim-vendor');
      expect(line.batch).toBeGreaterThan(0);
    }
    // The batches' counts are the run's: every reading committed was logged once.
    for (const key of ['received', 'accepted', 'duplicates', 'quarantined'] as const) {
      expect(sum(batches, key), key).toBe(summary.counts[key]);
    }
    // Batch ids are unique: no batch logged twice.
    expect(new Set(batches.map((line) => line.batch)).size).toBe(batches.length);

    const basic = Buffer.from(`amisync:${secret}`).toString('base64');
    for (const leak of [secret, basic, encodeURIComponent(secret), hookAuth, 'Bearer ']) {
      expect(text.includes(leak), `the log holds ${leak}`).toBe(false);
    }
    expect(run.stdout.includes(secret) || run.stderr.includes(secret)).toBe(false);
  }, 180_000);

  it('logs every batch of `amisync ingest --log-file`, their counts adding up to the summary', () => {
    const dir = tempDir('amisync-logs-ingest-');
    const feed = generateFeed({
      seed: 3,
      meters: 20,
      startMs: FEED_START_MS,
      intervals: 96 * 7,
      badRate: 0.01,
    });
    const file = join(dir, 'feed.ndjson');
    writeFileSync(file, [...toNdjson(feed.records)].join(''));
    const logFile = join(dir, 'ingest.log');
    const run = spawnSync(
      process.execPath,
      [CLI_MAIN, 'ingest', file, '--db', join(dir, 'a.db'), '--json', '--log-file', logFile],
      { encoding: 'utf8' },
    );
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).toBe('');
    const summary = JSON.parse(run.stdout) as DeliveryCounts;
    const batches = batchLines(logLines(logFile)).filter((line) => line.msg.startsWith('batch '));
    // 13440 readings and some bad records: more than one batch of 10000.
    expect(batches.length).toBeGreaterThan(1);
    for (const key of ['received', 'accepted', 'quarantined'] as const) {
      expect(sum(batches, key), key).toBe(summary[key]);
    }
    expect(new Set(batches.map((line) => line.delivery)).size).toBe(1);
    expect(batches.every((line) => line.source === 'file')).toBe(true);
    // Without --log-file nothing is written but the output.
    const quiet = spawnSync(
      process.execPath,
      [CLI_MAIN, 'ingest', file, '--db', join(dir, 'b.db'), '--json'],
      { encoding: 'utf8' },
    );
    expect(quiet.status).toBe(0);
    expect(quiet.stderr).toBe('');
  }, 60_000);

  it('censors every key that holds a secret, at any of three levels', () => {
    const dir = tempDir('amisync-logs-redact-');
    const file = join(dir, 'redact.log');
    const { log, flush } = createServiceLogger({ level: 'debug', file });
    const secrets = {
      authorization: 'Bearer s3cr3t-a',
      password: 's3cr3t-b',
      clientSecret: 's3cr3t-c',
      client_secret: 's3cr3t-d',
      token: 's3cr3t-e',
      accessToken: 's3cr3t-f',
      apiKey: 's3cr3t-g',
      privateKey: '-----BEGIN PRIVATE KEY-----s3cr3t-h',
    };
    log.info(secrets, 'top level');
    log.warn({ request: { headers: { authorization: 'Bearer s3cr3t-i' } } }, 'nested');
    log
      .child({ source: 'vendor-a' })
      .error({ auth: { ...secrets, Authorization: 's3cr3t-j' } }, 'x');
    flush();
    const text = readFileSync(file, 'utf8');
    expect(text).not.toMatch(/s3cr3t/);
    expect(text.match(/\[redacted\]/g)?.length).toBe(8 + 1 + 9);
    expect(text).toContain('"source":"vendor-a"');
  });
});
