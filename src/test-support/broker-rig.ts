/**
 * The crash test every broker source runs: `amisync run` (the built CLI) consumes while
 * `simulate publish` publishes a feed with duplicates and faults; the consumer is SIGKILLed once
 * it has acknowledged part of the feed, then run again with --once until the broker is drained.
 * The test then compares the ledger with the truth and joins the consumer's ack log with the
 * store: every acknowledgement names a delivery that had committed before it was sent.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import amqp from 'amqplib';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect as connectNats } from '@nats-io/transport-node';
import { expect } from 'vitest';
import { stringify } from 'yaml';
import { isConserved } from '../pipeline/commit.js';
import {
  runSimulatePublish,
  type SimulatePublishFlags,
  type SimulatePublishSummary,
} from '../cli/commands/simulate-publish.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import type { BatchCounts } from '../core/store.js';
import { formatKwh, type TruthStream } from '../simulator/truth.js';
import { CLI_MAIN, readDatabase, runOnce, type Exit } from './crash-runs.js';
import { portAnswers } from '../sources/common/loopback-port.js';
import { newestConsumerOf } from '../sources/nats/nats-consumer-names.js';
import { requireOrSkip } from './services.js';

export { portAnswers };
import { tempDir } from './temp.js';
import { ledgerStreams } from './truth-check.js';

/** True when the broker's tests can run; prints why they skip (or throws in CI) otherwise. */
export async function brokerOrSkip(name: string, port: number): Promise<boolean> {
  const up = await portAnswers(port);
  return requireOrSkip(name, up, `not answering on 127.0.0.1:${port}`);
}

/** A name no other test run uses: queue, topic, stream and client names get it as a suffix. */
export function uniqueSuffix(): string {
  return `${process.pid}-${Math.floor(Math.random() * 1e9).toString(36)}`;
}

export interface AckLine {
  readonly atMs: number;
  readonly source: string;
  readonly deliveryId: string;
  readonly messages: readonly string[];
}

export function readAckLog(path: string): AckLine[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as AckLine);
}

/** Acknowledgements whose delivery was not complete in the store, or completed after the ack. */
export function ackedBeforeCommit(database: string, acks: readonly AckLine[]): AckLine[] {
  const finished = readDatabase(database, new Map<string, number>(), (db) => {
    const rows = db
      .prepare("SELECT id, finished_at_ms FROM deliveries WHERE status = 'complete'")
      .all() as { id: string; finished_at_ms: number }[];
    return new Map(rows.map((row) => [row.id, row.finished_at_ms]));
  });
  return acks.filter((ack) => {
    const finishedAtMs = finished.get(ack.deliveryId);
    return finishedAtMs === undefined || finishedAtMs > ack.atMs;
  });
}

function serve(config: string): ChildProcess {
  return spawn(process.execPath, [CLI_MAIN, 'run', '--config', config], { stdio: 'ignore' });
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

/**
 * The feed each broker's crash test publishes: 16 meters for 2 days in messages of 8 readings,
 * with poison messages, repeats, retransmissions, conflicts and bad records.
 */
export function faultyFeed(
  to: string,
  subject: string,
  seed: number,
  extra: Partial<CrashRunOptions['publish']> = {},
): CrashRunOptions['publish'] {
  return {
    to,
    subject,
    meters: '16',
    days: '2',
    seed: String(seed),
    start: '2026-01-01',
    readingsPerMessage: '8',
    poisonRate: '0.02',
    repeatRate: '0.03',
    retransmitRate: '0.02',
    estimateRate: '0',
    conflictRate: '0.01',
    badRate: '0.01',
    paceMs: '0',
    ...extra,
  };
}

export interface CrashRunOptions {
  /** The source's own keys (kind, url, queue...); id, batch, quietMs and ackLog are added. */
  readonly source: Record<string, unknown>;
  readonly publish: Omit<SimulatePublishFlags, 'truth' | 'json'>;
  /** Messages acknowledged before the consumer is killed. */
  readonly killAfterAcks: number;
  /** Messages the broker still holds for the consumer (ready or unacknowledged), when it tells. */
  readonly remaining?: () => Promise<number>;
}

export interface CrashRunResult {
  readonly summary: SimulatePublishSummary;
  readonly acks: readonly AckLine[];
  /** Messages acknowledged by the run that was killed. */
  readonly ackedBeforeKill: number;
  readonly restart: Exit;
  readonly database: string;
  readonly totals: BatchCounts;
  readonly conservedPerDelivery: boolean;
  readonly streams: readonly TruthStream[];
  readonly ledgerReadings: number;
  readonly ledgerKwh: string;
  /** What the broker still held for the consumer after the last run; null when not asked. */
  readonly remaining: number | null;
}

/**
 * Runs the consumer once with nothing published, so its topology exists (an MQTT session, a
 * queue, a JetStream consumer); publishes the whole feed; starts the consumer, which then always
 * has a batch in hand, and SIGKILLs it once it has acknowledged `killAfterAcks` messages plus a
 * few milliseconds, inside a later batch; then drains the rest with `amisync run --once`.
 */
export async function crashRun(options: CrashRunOptions): Promise<CrashRunResult> {
  const folder = tempDir('amisync-broker-');
  const database = join(folder, 'amisync.db');
  const ackLog = join(folder, 'acks.ndjson');
  const logFile = join(folder, 'amisync.log');
  const config = join(folder, 'amisync.yaml');
  const source = {
    id: 'broker',
    batch: { messagesMax: 50, bytesMax: 1024 * 1024, delayMs: 50 },
    quietMs: 2000,
    ackLog,
    ...options.source,
  };
  writeFileSync(
    config,
    stringify({ database, log: { level: 'info', file: logFile }, sources: [source] }),
  );
  const prepared = await runOnce(config, null);
  if (prepared.code !== 0) throw new Error(`the first run failed: ${prepared.stderr}`);
  const summary = await runSimulatePublish({
    ...options.publish,
    truth: join(folder, 'truth.json'),
  });
  const ackedCount = () => readAckLog(ackLog).reduce((sum, line) => sum + line.messages.length, 0);
  const child = serve(config);
  try {
    await waitFor(() => ackedCount() >= options.killAfterAcks, 'acknowledgements', 60_000);
    await new Promise((resolve) => setTimeout(resolve, 5 + Math.floor(Math.random() * 20)));
  } finally {
    await kill(child);
  }
  const ackedBeforeKill = ackedCount();
  const restart = await runOnce(config, null);
  return {
    summary,
    acks: readAckLog(ackLog),
    ackedBeforeKill,
    restart,
    database,
    remaining: options.remaining === undefined ? null : await options.remaining(),
    ...(await ledgerOf(database)),
  };
}

async function ledgerOf(database: string) {
  const conservedPerDelivery = readDatabase(database, false, (db) => {
    const rows = db
      .prepare(
        'SELECT received, accepted, duplicates, quarantined, anomaly_held, dead_lettered ' +
          'FROM deliveries',
      )
      .all() as Record<string, number>[];
    return rows.every(
      (row) =>
        row['received'] ===
        (row['accepted'] ?? 0) +
          (row['duplicates'] ?? 0) +
          (row['quarantined'] ?? 0) +
          (row['anomaly_held'] ?? 0) +
          (row['dead_lettered'] ?? 0),
    );
  });
  const store = openSqliteStore(database, { nowMs: () => 0 });
  try {
    const status = await store.status();
    return {
      totals: status.totals,
      conservedPerDelivery: conservedPerDelivery && isConserved(status.totals),
      streams: await ledgerStreams(store),
      ledgerReadings: status.ledger.readings,
      ledgerKwh: formatKwh(status.ledger.energyMilliWh),
    };
  } finally {
    await store.close();
  }
}

/**
 * What every broker's crash test proves: the killed run acknowledged part of the feed, and no
 * acknowledgement preceded its delivery's commit; in the end every message was acknowledged,
 * every delivery balances, every valid reading was accepted exactly once and the ledger is the
 * truth's, stream by stream. Redeliveries only add duplicates (and repeats of quarantined items).
 */
export function expectTruthAfterCrash(result: CrashRunResult): void {
  const { summary, acks, totals } = result;
  const truth = summary.truth;
  expect(result.restart.code, result.restart.stderr).toBe(0);
  expect(result.ackedBeforeKill).toBeGreaterThan(0);
  expect(result.ackedBeforeKill).toBeLessThan(summary.messages);
  expect(ackedBeforeCommit(result.database, acks)).toEqual([]);
  expect(new Set(acks.flatMap((line) => line.messages)).size).toBe(summary.messages);
  expect(result.conservedPerDelivery).toBe(true);
  expect(totals.accepted).toBe(truth.valid);
  expect(totals.received).toBeGreaterThanOrEqual(truth.received);
  expect(totals.quarantined).toBeGreaterThanOrEqual(truth.invalid + truth.conflicts);
  expect(result.streams).toEqual(truth.streams);
  expect(result.ledgerReadings).toBe(truth.currentReadings);
  expect(result.ledgerKwh).toBe(truth.kwh);
  if (result.remaining !== null) expect(result.remaining).toBe(0);
}

/** Deletes a test's queue, so runs leave nothing behind on the broker. */
export async function deleteAmqpQueue(queue: string): Promise<void> {
  const connection = await amqp.connect('amqp://guest:guest@127.0.0.1:5672');
  try {
    const channel = await connection.createChannel();
    await channel.deleteQueue(queue);
  } finally {
    await connection.close();
  }
}

/** Deletes a test's stream (and its consumers). */
export async function deleteNatsStream(stream: string): Promise<void> {
  const connection = await connectNats({ servers: 'nats://127.0.0.1:4222', reconnect: false });
  try {
    const manager = await jetstreamManager(connection);
    await manager.streams.delete(stream).catch(() => false);
  } finally {
    await connection.close();
  }
}

/** Ready messages in a queue (unacknowledged ones count once their consumer has gone). */
export async function amqpQueueDepth(queue: string): Promise<number> {
  const connection = await amqp.connect('amqp://guest:guest@127.0.0.1:5672');
  try {
    const channel = await connection.createChannel();
    return (await channel.checkQueue(queue)).messageCount;
  } finally {
    await connection.close();
  }
}

/**
 * Messages a JetStream consumer has not had acknowledged: pending and awaiting an ack. For a
 * worker's partition, the consumer of the newest lease generation (`<durable>_g<n>`) is read.
 */
export async function natsConsumerBacklog(stream: string, durable: string): Promise<number> {
  const connection = await connectNats({ servers: 'nats://127.0.0.1:4222', reconnect: false });
  try {
    const manager = await jetstreamManager(connection);
    const names: string[] = [];
    for await (const consumer of manager.consumers.list(stream)) names.push(consumer.name);
    const newest = newestConsumerOf(names, durable);
    if (newest === null) throw new Error(`consumer ${durable} not found on stream ${stream}`);
    const info = await manager.consumers.info(stream, newest.name);
    return info.num_pending + info.num_ack_pending;
  } finally {
    await connection.close();
  }
}

/** The stream sequence of every message in a stream, by its Nats-Msg-Id (else stream#seq). */
export async function natsSequenceOfIds(stream: string): Promise<Map<string, number>> {
  const connection = await connectNats({ servers: 'nats://127.0.0.1:4222', reconnect: false });
  try {
    const manager = await jetstreamManager(connection);
    const { state } = await manager.streams.info(stream);
    const sequences = new Map<string, number>();
    for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
      const message = await manager.streams.getMessage(stream, { seq });
      if (message === null) continue;
      sequences.set(message.header.get('Nats-Msg-Id') || `${stream}#${seq}`, seq);
    }
    return sequences;
  } finally {
    await connection.close();
  }
}

/**
 * Messages committed out of their stream's order: per source (one per partition), the first
 * commit of each message, taken from the ack log joined with its delivery's batches in audit
 * order, must follow the stream sequence. `late` names each message committed after a later one;
 * `checked` counts the messages whose first commit was found.
 */
export function outOfStreamOrder(
  acks: readonly AckLine[],
  auditSeqOfDelivery: ReadonlyMap<string, number>,
  sequenceOfId: ReadonlyMap<string, number>,
): { late: string[]; checked: number } {
  const committed = acks
    .filter((ack) => auditSeqOfDelivery.has(ack.deliveryId))
    .sort(
      (left, right) =>
        (auditSeqOfDelivery.get(left.deliveryId) ?? 0) -
        (auditSeqOfDelivery.get(right.deliveryId) ?? 0),
    );
  const seen = new Set<string>();
  const lastSeqOfSource = new Map<string, number>();
  const late: string[] = [];
  for (const ack of committed) {
    for (const id of ack.messages) {
      if (seen.has(id)) continue;
      seen.add(id);
      const seq = sequenceOfId.get(id) ?? Number.NaN;
      const last = lastSeqOfSource.get(ack.source) ?? 0;
      if (!(seq > last)) late.push(`${ack.source}: ${id} (seq ${seq}) after seq ${last}`);
      lastSeqOfSource.set(ack.source, Math.max(last, seq));
    }
  }
  return { late, checked: seen.size };
}

/** Each delivery's last batch commit, as its place in the audit chain (the commit order). */
export async function auditSeqOfDeliveries(db: {
  query(sql: string): Promise<{ rows: unknown[] }>;
}): Promise<Map<string, number>> {
  const found = await db.query(
    'SELECT delivery_id, max(audit_seq) AS seq FROM batches GROUP BY delivery_id',
  );
  const rows = found.rows as { delivery_id: string; seq: string }[];
  return new Map(rows.map((row) => [row.delivery_id, Number(row.seq)]));
}
