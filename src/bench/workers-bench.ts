/**
 * Throughput of 1, 2 and 3 worker processes (docs/workers.md) over one PostgreSQL server and one
 * partitioned JetStream stream, measured in the same run: the feed is published once, and each
 * run reads all of it through its own durable consumers into its own schema. Prints readings per
 * second end to end (from the workers' start to the last reading in the ledger) and the ratio to
 * one worker. Needs the built tree (dist/), PostgreSQL on 5432 and NATS on 4222.
 *
 *   node dist/bench/workers-bench.js [meters] [days]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect as connectNats } from '@nats-io/transport-node';
import pg from 'pg';
import { runSimulatePublish } from '../cli/commands/simulate-publish.js';
import { openPostgresStore } from '../store/postgres/postgres-store.js';

const WORKER_MAIN = fileURLToPath(new URL('../../dist/workers/worker-main.js', import.meta.url));
const POSTGRES_URL =
  process.env['AMISYNC_TEST_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const schemas: string[] = [];

function uniqueSuffix(): string {
  return `${process.pid}_${randomBytes(4).toString('hex')}`;
}

function freshPostgresSchema(): { url: string } {
  const schema = `amisync_bench_${uniqueSuffix()}`;
  schemas.push(schema);
  const url = new URL(POSTGRES_URL);
  url.searchParams.set('schema', schema);
  return { url: url.toString() };
}

async function dropPostgresSchemas(): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
}

async function deleteNatsStream(stream: string): Promise<void> {
  const connection = await connectNats({ servers: NATS_URL, reconnect: false });
  try {
    await (await jetstreamManager(connection)).streams.delete(stream).catch(() => false);
  } finally {
    await connection.close();
  }
}
const NATS_URL = 'nats://127.0.0.1:4222';
const PARTITIONS = 6;
const RUN_MS_MAX = 600_000;

interface RunFigure {
  workers: number;
  seconds: number;
  readingsPerSecond: number;
}

function exited(child: ChildProcess): Promise<unknown> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', resolve));
}

async function runWorkers(
  workers: number,
  feed: { stream: string; subjectPrefix: string; readings: number },
  folder: string,
): Promise<RunFigure> {
  const { url } = freshPostgresSchema();
  const store = await openPostgresStore(url, { nowMs: () => Date.now() });
  const durablePrefix = `bench_${workers}_${uniqueSuffix()}`;
  const children: ChildProcess[] = [];
  const startedMs = performance.now();
  for (let index = 0; index < workers; index++) {
    const config = join(folder, `bench-${workers}-${index}.json`);
    writeFileSync(
      config,
      JSON.stringify({
        owner: `bench-${workers}-${index}`,
        store: url,
        natsUrl: NATS_URL,
        stream: feed.stream,
        subjectPrefix: feed.subjectPrefix,
        durablePrefix,
        partitions: PARTITIONS,
        // Handing a partition over (rebalancing as workers join) waits for the ack wait of the
        // messages its old consumer held: kept short so the figure measures ingestion.
        heartbeatMs: 1000,
        leaseMs: 5000,
        ackWaitMs: 2000,
        messagesPerBatchMax: 200,
      }),
    );
    const log = openSync(join(folder, `bench-${workers}-${index}.log`), 'w');
    children.push(
      spawn(process.execPath, [WORKER_MAIN, config], { stdio: ['ignore', 'ignore', log] }),
    );
  }
  try {
    for (;;) {
      const found = await store.pool.query('SELECT count(*) AS n FROM ledger');
      if (Number((found.rows[0] as { n: string }).n) >= feed.readings) break;
      if (performance.now() - startedMs > RUN_MS_MAX) throw new Error('run took too long');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(children.map(exited));
    await store.close();
  }
  const seconds = (performance.now() - startedMs) / 1000;
  return { workers, seconds, readingsPerSecond: feed.readings / seconds };
}

async function main(): Promise<void> {
  const meters = process.argv[2] ?? '300';
  const days = process.argv[3] ?? '7';
  const suffix = uniqueSuffix();
  const stream = `AMISYNC_BENCH_${suffix}`;
  const subjectPrefix = `amisync-bench.${suffix}`;
  const folder = mkdtempSync(join(tmpdir(), 'amisync-workers-bench-'));
  try {
    const summary = await runSimulatePublish({
      to: NATS_URL,
      subject: subjectPrefix,
      stream,
      meters,
      days,
      seed: '5',
      start: '2026-01-01',
      readingsPerMessage: '50',
      poisonRate: '0',
      repeatRate: '0',
      retransmitRate: '0',
      estimateRate: '0',
      conflictRate: '0',
      badRate: '0',
      paceMs: '0',
      partitions: String(PARTITIONS),
    });
    const feed = { stream, subjectPrefix, readings: summary.truth.currentReadings };
    const figures: RunFigure[] = [];
    for (const workers of [1, 2, 3]) figures.push(await runWorkers(workers, feed, folder));
    const base = figures[0]?.readingsPerSecond ?? 1;
    process.stdout.write(
      `workers bench: ${feed.readings} readings, ${summary.messages} messages, ` +
        `${PARTITIONS} partitions (machine shared with others: wall-clock figures are noisy)\n`,
    );
    for (const figure of figures) {
      process.stdout.write(
        `  ${figure.workers} worker(s): ${figure.seconds.toFixed(1)} s, ` +
          `${Math.round(figure.readingsPerSecond)} readings/s, ` +
          `${(figure.readingsPerSecond / base).toFixed(2)}x one worker\n`,
      );
    }
  } finally {
    await deleteNatsStream(stream);
    await dropPostgresSchemas();
    if (process.env['KEEP'] === undefined) rmSync(folder, { recursive: true, force: true });
    else process.stdout.write(`logs in ${folder}\n`);
  }
}

await main();
