// Goal: a partitioned nats source in the service configuration loads into exactly the worker
// configuration the workers run, and every way to get it wrong is reported by its key path
// (a SQLite database, a non-nats kind, keys a worker would ignore, two partitioned sources...).
// Method: write configuration files into a temp folder and load them as `config check` does.
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openSqliteStore, type SqliteStore } from '../../store/sqlite/sqlite-store.js';
import { testSourceContext } from '../../test-support/source-context.js';
import { removeTempDirs, tempDir } from '../../test-support/temp.js';
import { workerConfigSchema } from '../../workers/worker.js';
import { SOURCE_KINDS } from './kinds.js';
import { WORKERS_SETTINGS_DEFAULT, workerConfigOf } from './partitioned-source.js';
import type { PartitionedSourceConfig } from './partitioned-source.js';
import { loadServiceConfig } from './service-config.js';

const stores: SqliteStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
});
afterAll(removeTempDirs);

const DATABASE = 'postgres://amisync@db.utility.example:5432/amisync?schema=ledger';

const SOURCE = [
  '  - kind: nats',
  '    id: headend',
  '    url: nats://nats.utility.example:4222',
  '    stream: READINGS',
  '    subject: headend.readings',
  '    durable: amisync',
  '    ackWaitMs: 20000',
  '    batch: { messagesMax: 500 }',
  '    ackLog: ./acks.ndjson',
  '    partitions: 32',
];

function load(lines: readonly string[]) {
  const folder = tempDir('amisync-partitioned-');
  const path = join(folder, 'amisync.yaml');
  writeFileSync(path, lines.join('\n'));
  const store = openSqliteStore(join(folder, 'store.db'), { nowMs: () => 0 });
  stores.push(store);
  return { folder, loaded: () => loadServiceConfig(path, SOURCE_KINDS, testSourceContext(store)) };
}

function problemsOf(lines: readonly string[]): string {
  const { loaded } = load(lines);
  try {
    loaded();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('the configuration loaded');
}

describe('a partitioned nats source', () => {
  it('loads into the configuration every worker runs', async () => {
    const { folder, loaded } = load([
      `database: "${DATABASE}"`,
      'workers: { heartbeatMs: 500, leaseMs: 3000 }',
      'sources:',
      ...SOURCE,
    ]);
    const config = loaded();
    const source = config.sources[0];
    expect(source?.partitions).toBe(32);
    expect(config.settings.workers).toEqual({ heartbeatMs: 500, leaseMs: 3000 });
    const worker = workerConfigOf(
      source?.config as unknown as PartitionedSourceConfig,
      32,
      config.settings.workers ?? WORKERS_SETTINGS_DEFAULT,
      DATABASE,
    );
    expect(workerConfigSchema.parse({ owner: 'host-a:1', ...worker })).toEqual({
      owner: 'host-a:1',
      store: DATABASE,
      natsUrl: 'nats://nats.utility.example:4222',
      stream: 'READINGS',
      subjectPrefix: 'headend.readings',
      durablePrefix: 'amisync',
      partitions: 32,
      heartbeatMs: 500,
      leaseMs: 3000,
      ackWaitMs: 20000,
      messagesPerBatchMax: 500,
      ackLog: join(folder, 'acks.ndjson'),
      sourceId: 'headend',
    });
    await Promise.all(config.sources.map((s) => s.source.close()));
  });

  it('takes the lease defaults when the file has no workers: mapping', async () => {
    const { loaded } = load([`database: "${DATABASE}"`, 'sources:', ...SOURCE]);
    const config = loaded();
    expect(config.settings.workers).toBeUndefined();
    expect(WORKERS_SETTINGS_DEFAULT).toEqual({ heartbeatMs: 1000, leaseMs: 5000 });
    await Promise.all(config.sources.map((s) => s.source.close()));
  });

  it('needs a PostgreSQL database, and the built-in dictionary', () => {
    const message = problemsOf([
      'database: ./amisync.db',
      'dictionary: ./dictionary.json',
      'sources:',
      ...SOURCE,
    ]);
    expect(message).toMatch(/- database \(line 1\): sources\[0\] is partitioned: .*postgres:\/\//);
    expect(message).toMatch(/- dictionary \(line 2\): .*built-in dictionary/);
  });

  it('is a nats source only, with a partition count of 1 to 4096', () => {
    const mqtt = [
      '  - { kind: mqtt, id: m, url: "mqtt://127.0.0.1:1883", topic: t, clientId: c,',
      '      partitions: 4 }',
    ];
    expect(problemsOf([`database: "${DATABASE}"`, 'sources:', ...mqtt])).toMatch(
      /sources\[0\]\.partitions \(line \d+\): only a nats source can be partitioned/,
    );
    const zero = SOURCE.map((line) => line.replace('partitions: 32', 'partitions: 0'));
    expect(problemsOf([`database: "${DATABASE}"`, 'sources:', ...zero])).toMatch(
      /sources\[0\]\.partitions \(line 12\)/,
    );
  });

  it('refuses the keys its workers would ignore, each by its path', () => {
    const message = problemsOf([
      `database: "${DATABASE}"`,
      'sources:',
      ...SOURCE,
      '    passwordEnv: NATS_PASSWORD',
      '    maxDeliver: 5',
      '    resilience: { retry: { attempts: 3 } }',
    ]);
    expect(message).toMatch(/sources\[0\]\.passwordEnv \(line 13\): not taken by a partitioned/);
    expect(message).toMatch(/sources\[0\]\.maxDeliver \(line 14\)/);
    expect(message).toMatch(/sources\[0\]\.resilience \(line 15\)/);
    const delay = SOURCE.map((line) =>
      line.replace('{ messagesMax: 500 }', '{ messagesMax: 500, delayMs: 10 }'),
    );
    expect(problemsOf([`database: "${DATABASE}"`, 'sources:', ...delay])).toMatch(
      /sources\[0\]\.batch\.delayMs \(line \d+\): a partitioned source takes batch\.messagesMax/,
    );
  });

  it('needs subjects and consumer names that leave room for the partition suffix', () => {
    const wild = SOURCE.map((line) =>
      line.replace('durable: amisync', `durable: ${'d'.repeat(60)}`).replace('.readings', '.*'),
    );
    const message = problemsOf([`database: "${DATABASE}"`, 'sources:', ...wild]);
    expect(message).toMatch(/sources\[0\]\.subject \(line 7\): .*no wildcards/);
    expect(message).toMatch(/sources\[0\]\.durable \(line 8\): at most 56 characters/);
  });

  it('is one per file, and its lease outlives two heartbeats', () => {
    const second = SOURCE.map((line) =>
      line.replace('id: headend', 'id: second').replace('durable: amisync', 'durable: other'),
    );
    const message = problemsOf([
      `database: "${DATABASE}"`,
      'workers: { heartbeatMs: 2000, leaseMs: 3000 }',
      'sources:',
      ...SOURCE,
      ...second,
    ]);
    expect(message).toMatch(/sources\[1\]\.partitions \(line 23\): one partitioned source per/);
    expect(message).toMatch(/workers\.leaseMs \(line 2\): leaseMs must be at least two heartbeats/);
  });
});
