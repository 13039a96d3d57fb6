// Goal: `amisync run --config F --once` runs what the file declares against the database it names,
// prints balanced counts and a checkpoint, exits with the failed source's code when one fails, and
// never prints or logs a secret; `config check` builds the sources without opening the database.
// Method: call the commands with a small test kind (files named in the configuration, a token
// read from the environment) and read back stdout, the log file and the database.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { AmisyncError } from '../../core/errors.js';
import { generateFeed, toNdjson } from '../../simulator/feed-generator.js';
import { feedTruth } from '../../simulator/truth.js';
import { baseSourceFields, type SourceKind } from '../../sources/common/config.js';
import { FileSource } from '../../sources/file/file-source.js';
import { openSqliteStore } from '../../store/sqlite/sqlite-store.js';
import { FEED_START_MS } from '../../test-support/ingest-harness.js';
import { removeTempDirs, tempDir } from '../../test-support/temp.js';
import { ledgerStreams } from '../../test-support/truth-check.js';
import type { AnySourceKind } from '../config/kinds.js';
import { runConfigCheck, runRun, type RunEnvironment, type RunSummary } from './run.js';

afterAll(removeTempDirs);
afterEach(() => {
  vi.restoreAllMocks();
});

const SECRET = 'tok-3e1f0b7d-NEVER-IN-OUTPUT';

const filesSchema = z
  .object({
    kind: z.literal('files'),
    ...baseSourceFields,
    paths: z.array(z.string().min(1)).min(1),
    tokenEnv: z.string(),
    /** The peer refuses every connection. */
    unreachable: z.boolean().default(false),
  })
  .strict();

const FILES_KIND: SourceKind<z.infer<typeof filesSchema>> = {
  kind: 'files',
  schema: filesSchema,
  create(config, context) {
    const token = context.secret({ env: config.tokenEnv }, 'token');
    context.log.info({ tokenLength: token.length }, `source ${config.id} built`);
    if (config.unreachable) {
      return {
        id: config.id,
        connect: () =>
          Promise.reject(new AmisyncError('TRANSPORT_UNAVAILABLE', 'connection refused')),
        read: () => Promise.reject(new Error('not connected')),
        close: () => Promise.resolve(),
      };
    }
    const files = new FileSource(
      config.id,
      config.paths.map((path) => ({ path, format: 'ndjson' as const })),
    );
    // Logged once the service runs, by the logger the source was built with.
    const log = context.log.child({ kind: 'files' });
    return {
      id: files.id,
      connect: () => {
        log.info({ id: config.id }, `files source ${config.id} connecting`);
        return files.connect();
      },
      read: () => files.read(),
      close: () => files.close(),
    };
  },
};

function environment(): RunEnvironment {
  return {
    kinds: [FILES_KIND as unknown as AnySourceKind],
    env: { VENDOR_TOKEN: SECRET },
    signals: new EventEmitter(),
  };
}

/** Captures what a command prints on stdout. */
function captureStdout(): () => string {
  const written: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: unknown) => {
    written.push(String(chunk));
    return true;
  });
  return () => written.join('');
}

const FEED = generateFeed({
  seed: 3,
  meters: 5,
  startMs: FEED_START_MS,
  intervals: 96,
  retransmitRate: 0.03,
  badRate: 0.02,
});

function setUpFolder(
  paths: (folder: string) => string[],
  extra: (index: number) => string = () => '',
): { folder: string; config: string } {
  const folder = tempDir('amisync-run-');
  const half = Math.floor(FEED.records.length / 2);
  writeFileSync(join(folder, 'a.ndjson'), [...toNdjson(FEED.records.slice(0, half))].join(''));
  writeFileSync(join(folder, 'b.ndjson'), [...toNdjson(FEED.records.slice(half))].join(''));
  const config = join(folder, 'amisync.yaml');
  writeFileSync(
    config,
    [
      'database: ./ledger/amisync.db',
      'log: { level: debug, file: ./amisync.log }',
      'reconnectDelayMs: 0',
      'resilience: { retry: { baseDelayMs: 5, delayMsMax: 20 } }',
      'sources:',
      ...paths(folder).map(
        (path, index) =>
          `  - { kind: files, id: vendor-${index}, paths: [${path}], tokenEnv: VENDOR_TOKEN${extra(index)} }`,
      ),
    ].join('\n'),
  );
  return { folder, config };
}

describe('amisync run --once', () => {
  it('ingests every source into the database the file names, balanced, with a checkpoint', async () => {
    const { folder, config } = setUpFolder((f) => [join(f, 'a.ndjson'), join(f, 'b.ndjson')]);
    const stdout = captureStdout();
    const summary = await runRun({ config, once: true, json: true }, environment());
    const printed = JSON.parse(stdout()) as RunSummary;
    expect(printed.ok).toBe(true);
    expect(printed.conserved).toBe(true);
    expect(printed.checkpoint?.auditSeq).toBeGreaterThan(0);
    expect(printed.sources.map((s) => [s.id, s.outcome, s.deliveries])).toEqual([
      ['vendor-0', 'ended', 1],
      ['vendor-1', 'ended', 1],
    ]);
    const truth = feedTruth(FEED);
    expect(summary.counts.received).toBe(truth.received);
    expect(summary.counts.accepted).toBe(truth.valid);
    const store = openSqliteStore(join(folder, 'ledger', 'amisync.db'), { nowMs: Date.now });
    try {
      expect(await ledgerStreams(store)).toEqual(truth.streams);
    } finally {
      await store.close();
    }
    const log = readFileSync(join(folder, 'amisync.log'), 'utf8');
    expect(log).toContain('"source":"vendor-0"');
    // Sources are built before the file's log settings are read; their lines still reach the file.
    expect(log).toContain('files source vendor-0 connecting');
    expect(log).toContain('"kind":"files"');
    expect(log).toContain('delivery');
    expect(log).not.toContain(SECRET);
    expect(stdout()).not.toContain(SECRET);
  });

  it('exits with the failed source code, after the other sources have run', async () => {
    const { config } = setUpFolder(
      (f) => [join(f, 'a.ndjson'), join(f, 'a.ndjson')],
      (index) => (index === 0 ? ', unreachable: true' : ''),
    );
    const stdout = captureStdout();
    const failure = await runRun({ config, once: true, json: true }, environment()).then(
      () => null,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(AmisyncError);
    // The connect was retried (resilience wraps every source) until its attempts or the source's
    // retry budget ran out, at each of the run's reconnects, before the source was given up.
    expect((failure as AmisyncError).message).toMatch(
      /^1 source\(s\) failed: vendor-0: the connect failed \d time\(s\) \((attempts used up|retry budget spent)\); last: TRANSPORT_UNAVAILABLE: connection refused$/,
    );
    expect((failure as AmisyncError).code).toBe('RETRIES_EXHAUSTED');
    const printed = JSON.parse(stdout()) as RunSummary;
    expect(printed.sources.map((s) => [s.id, s.outcome])).toEqual([
      ['vendor-0', 'failed'],
      ['vendor-1', 'ended'],
    ]);
    expect(printed.sources[1]!.counts.received).toBeGreaterThan(0);
  });
});

describe('amisync config check', () => {
  it('builds every source without opening the database', () => {
    const { folder, config } = setUpFolder((f) => [join(f, 'a.ndjson')]);
    const stdout = captureStdout();
    const summary = runConfigCheck({ config, json: true }, environment());
    expect(summary.sources).toEqual([{ id: 'vendor-0', kind: 'files' }]);
    expect(JSON.parse(stdout())).toMatchObject({
      ok: true,
      database: join(folder, 'ledger', 'amisync.db'),
    });
    expect(existsSync(join(folder, 'ledger'))).toBe(false);
    expect(stdout()).not.toContain(SECRET);
  });

  it('refuses a file whose secret is not set, naming the key, before anything opens', () => {
    const { folder, config } = setUpFolder((f) => [join(f, 'a.ndjson')]);
    expect(() => runConfigCheck({ config }, { ...environment(), env: {} })).toThrow(
      /sources\[0\]\.tokenEnv \(line 6\): the environment variable VENDOR_TOKEN is not set/,
    );
    expect(existsSync(join(folder, 'ledger'))).toBe(false);
  });
});
