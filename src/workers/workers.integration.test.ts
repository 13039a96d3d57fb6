// Goal: 3 workers over one PostgreSQL store and one partitioned JetStream stream, one SIGKILLed
// mid-run, end with the ledger the simulator's truth names; every batch and delivery balances, no
// message was acknowledged before its delivery committed, each partition's messages first commit
// in stream order, the dead worker's partitions were taken over, and `audit verify` passes.
// Method: the built worker entry spawned 3 times (own schema, stream and durables), the feed
// published to 6 partition subjects; the ack logs joined with the store and the stream.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { verifyAudit } from '../audit/verify.js';
import { runSimulatePublish } from '../cli/commands/simulate-publish.js';
import type { BatchCounts } from '../core/store.js';
import { isConserved } from '../pipeline/commit.js';
import { formatKwh } from '../simulator/truth.js';
import { openPostgresStore, type PostgresStore } from '../store/postgres/postgres-store.js';
import {
  auditSeqOfDeliveries,
  faultyFeed,
  natsConsumerBacklog,
  natsSequenceOfIds,
  outOfStreamOrder,
  readAckLog,
  type AckLine,
} from '../test-support/broker-rig.js';
import { freshPostgresSchema } from '../test-support/postgres.js';
import { ledgerStreams } from '../test-support/truth-check.js';
import { exited, waitFor, workerServices, workerTestNames } from '../test-support/worker-rig.js';

const WORKER_MAIN = fileURLToPath(new URL('../../dist/workers/worker-main.js', import.meta.url));
const PARTITIONS = 6;
const WORKERS = 3;
const NATS_URL = 'nats://127.0.0.1:4222';

const services = await workerServices();

const COUNT_COLUMNS = ['received', 'accepted', 'duplicates', 'quarantined', 'conflicts'];
const MORE_COLUMNS = ['anomaly_held', 'dead_lettered', 'revisions'];

async function countsOf(store: PostgresStore, table: string): Promise<BatchCounts[]> {
  const columns = [...COUNT_COLUMNS, ...MORE_COLUMNS].join(', ');
  const found = await store.pool.query(`SELECT ${columns} FROM ${table}`);
  return found.rows.map((row: Record<string, string>) => ({
    received: Number(row['received']),
    accepted: Number(row['accepted']),
    duplicates: Number(row['duplicates']),
    quarantined: Number(row['quarantined']),
    conflicts: Number(row['conflicts']),
    anomalyHeld: Number(row['anomaly_held']),
    deadLettered: Number(row['dead_lettered']),
    revisions: Number(row['revisions']),
  }));
}

/** Acknowledgements whose delivery had not committed (complete, finished no later) by then. */
async function ackedBeforeCommit(store: PostgresStore, acks: readonly AckLine[]) {
  const found = await store.pool.query(
    "SELECT id, finished_at_ms FROM deliveries WHERE status = 'complete'",
  );
  const finished = new Map<string, number>(
    found.rows.map((row: { id: string; finished_at_ms: string }) => [
      row.id,
      Number(row.finished_at_ms),
    ]),
  );
  return acks.filter((ack) => {
    const finishedAtMs = finished.get(ack.deliveryId);
    return finishedAtMs === undefined || finishedAtMs > ack.atMs;
  });
}

describe.runIf(services.up)('several workers on PostgreSQL and JetStream', () => {
  it('ends with the truth after one of 3 workers is SIGKILLed mid-run', async () => {
    const names = workerTestNames(services, 'workers');
    const { stream, subject: subjectPrefix, durable: durablePrefix, folder } = names;
    const { url } = freshPostgresSchema();
    const summary = await runSimulatePublish({
      ...faultyFeed(NATS_URL, subjectPrefix, 17, { stream }),
      meters: '24',
      partitions: String(PARTITIONS),
    });
    const ackLogs: string[] = [];
    const children: ChildProcess[] = [];
    const stderr: string[] = [];
    for (let index = 0; index < WORKERS; index++) {
      const ackLog = join(folder, `acks-${index}.ndjson`);
      ackLogs.push(ackLog);
      const config = join(folder, `worker-${index}.json`);
      writeFileSync(
        config,
        JSON.stringify({
          owner: `worker-${index}`,
          store: url,
          natsUrl: NATS_URL,
          stream,
          subjectPrefix,
          durablePrefix,
          partitions: PARTITIONS,
          heartbeatMs: 300,
          leaseMs: 2000,
          ackWaitMs: 1000,
          messagesPerBatchMax: 20,
          ackLog,
        }),
      );
      const child = spawn(process.execPath, [WORKER_MAIN, config], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      stderr.push('');
      child.stderr?.on('data', (chunk: Buffer) => (stderr[index] += chunk.toString('utf8')));
      children.push(child);
    }
    const acked = (index: number) =>
      readAckLog(ackLogs[index] as string).reduce((sum, line) => sum + line.messages.length, 0);
    const store = await openPostgresStore(url, { nowMs: () => Date.now() });
    try {
      const victim = children[0] as ChildProcess;
      await waitFor(() => acked(0) >= 40, 'the first worker acknowledging', 90_000);
      victim.kill('SIGKILL');
      await exited(victim);
      const ackedByVictim = acked(0);
      const backlog = async () => {
        let total = 0;
        for (let partition = 0; partition < PARTITIONS; partition++) {
          total += await natsConsumerBacklog(stream, `${durablePrefix}_p${partition}`).catch(
            () => 1,
          );
        }
        return total;
      };
      await waitFor(async () => (await backlog()) === 0, 'the survivors draining', 120_000);
      // The victim may have acknowledged all of its partitions' messages before it died, so an
      // empty backlog does not mean its leases expired yet: wait for the survivors to take them.
      const victimLeases = async () =>
        (
          await store.pool.query(
            "SELECT count(*) AS n FROM partition_leases WHERE owner = 'worker-0'",
          )
        ).rows[0].n;
      await waitFor(async () => Number(await victimLeases()) === 0, 'the takeover', 60_000);
      const leases = await store.pool.query(
        'SELECT partition, owner, generation FROM partition_leases ORDER BY partition',
      );
      for (const child of children.slice(1)) child.kill('SIGTERM');
      await Promise.all(children.map(exited));
      for (const child of children.slice(1)) expect(child.exitCode, stderr.join('\n')).toBe(0);

      const truth = summary.truth;
      const acks = ackLogs.flatMap((path) => readAckLog(path));
      expect(ackedByVictim).toBeGreaterThan(0);
      expect(ackedByVictim).toBeLessThan(summary.messages);
      expect(await ackedBeforeCommit(store, acks)).toEqual([]);
      expect(new Set(acks.flatMap((line) => line.messages)).size).toBe(summary.messages);
      // Nothing is left with the dead worker: every partition ends with a survivor.
      expect(leases.rows.length).toBe(PARTITIONS);
      const rows = leases.rows as { owner: string; generation: string }[];
      for (const row of rows) expect(row.owner).not.toBe('worker-0');
      expect(rows.filter((row) => Number(row.generation) >= 2).length).toBeGreaterThan(0);
      for (const counts of await countsOf(store, 'batches')) expect(isConserved(counts)).toBe(true);
      for (const counts of await countsOf(store, 'deliveries')) {
        expect(isConserved(counts)).toBe(true);
      }
      const status = await store.status();
      expect(status.totals.accepted).toBe(truth.valid);
      expect(status.totals.quarantined).toBeGreaterThanOrEqual(truth.invalid + truth.conflicts);
      // Per partition, messages first commit in stream order, across the takeover too.
      const sequences = await natsSequenceOfIds(stream);
      const order = outOfStreamOrder(acks, await auditSeqOfDeliveries(store.pool), sequences);
      expect(order.late).toEqual([]);
      expect(order.checked).toBe(summary.messages);
      expect(await ledgerStreams(store)).toEqual(truth.streams);
      expect(status.ledger.readings).toBe(truth.currentReadings);
      expect(formatKwh(status.ledger.energyMilliWh)).toBe(truth.kwh);
      const report = await verifyAudit(store, null);
      expect(report.problems).toEqual([]);
      expect(report.ok).toBe(true);
    } finally {
      for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
      await Promise.all(children.map(exited));
      await store.close();
    }
  }, 300_000);
});
