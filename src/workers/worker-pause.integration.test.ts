// Goal: an operator's pause holds a worker of a partitioned source as it holds `amisync run`: a
// worker that holds its partitions reads and commits nothing while `amisync pause --source <id>`
// (the configured source's id) is in force, keeps its leases, and after `resume` ingests what
// waited, ending with the simulator's truth and every message acknowledged after its commit.
// Method: the source paused in a fresh PostgreSQL schema before a worker (the built worker entry)
// starts on a published, partitioned feed; the worker must take every partition and log the pause
// while the store stays empty for several pause polls and the stream's consumers hold the whole
// backlog; then the pause is lifted and the ledger must reach the truth.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runSimulatePublish } from '../cli/commands/simulate-publish.js';
import { systemClock } from '../core/clock.js';
import { PAUSE_POLL_INTERVAL_MS } from '../core/limits.js';
import { pauseSources, resumeSources } from '../pipeline/controls.js';
import { openPostgresStore } from '../store/postgres/postgres-store.js';
import { faultyFeed, readAckLog } from '../test-support/broker-rig.js';
import { freshPostgresSchema } from '../test-support/postgres.js';
import { ledgerStreams } from '../test-support/truth-check.js';
import { exited, waitFor, workerServices, workerTestNames } from '../test-support/worker-rig.js';

const WORKER_MAIN = fileURLToPath(new URL('../../dist/workers/worker-main.js', import.meta.url));
const NATS_URL = 'nats://127.0.0.1:4222';
const PARTITIONS = 2;
const SOURCE_ID = 'head-end';

const services = await workerServices();

describe.runIf(services.up)('a worker under an operator pause', () => {
  it('reads nothing while its source is paused, and everything after resume', async () => {
    const { stream, subject, durable, folder } = workerTestNames(services, 'worker-pause');
    const { url } = freshPostgresSchema();
    const summary = await runSimulatePublish({
      ...faultyFeed(NATS_URL, subject, 23, { stream }),
      partitions: String(PARTITIONS),
    });
    const store = await openPostgresStore(url, { nowMs: () => Date.now() });
    const context = { store, clock: systemClock, actor: 'duty-operator' };
    await pauseSources(context, { sourceIds: [SOURCE_ID], reason: 'vendor sends doubled values' });
    const ackLog = join(folder, 'acks.ndjson');
    const config = join(folder, 'worker.json');
    writeFileSync(
      config,
      JSON.stringify({
        owner: 'worker-paused',
        store: url,
        natsUrl: NATS_URL,
        stream,
        subjectPrefix: subject,
        durablePrefix: durable,
        partitions: PARTITIONS,
        heartbeatMs: 200,
        leaseMs: 1000,
        ackWaitMs: 2000,
        messagesPerBatchMax: 20,
        ackLog,
        sourceId: SOURCE_ID,
      }),
    );
    const child: ChildProcess = spawn(process.execPath, [WORKER_MAIN, config], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    try {
      const leases = async () =>
        Number(
          (
            await store.pool.query(
              "SELECT count(*) AS n FROM partition_leases WHERE owner = 'worker-paused'",
            )
          ).rows[0].n,
        );
      await waitFor(async () => (await leases()) === PARTITIONS, 'the leases', 60_000);
      await waitFor(
        () => (stderr.match(/paused by duty-operator/g) ?? []).length === PARTITIONS,
        'both partitions logging the pause',
        30_000,
      );
      // Several pause polls and ack waits pass with the partitions held: nothing is read.
      await new Promise((resolve) => setTimeout(resolve, 4 * PAUSE_POLL_INTERVAL_MS));
      expect((await store.status()).totals.received).toBe(0);
      expect(readAckLog(ackLog)).toEqual([]);
      expect(await leases()).toBe(PARTITIONS);

      await resumeSources(context, { sourceIds: [SOURCE_ID], reason: 'fixed' });
      await waitFor(
        async () => (await store.status()).totals.accepted === summary.truth.valid,
        'the backlog ingested after resume',
        120_000,
      );
      await waitFor(
        () =>
          new Set(readAckLog(ackLog).flatMap((line) => line.messages)).size === summary.messages,
        'every message acknowledged',
        60_000,
      );
      expect(stderr).toMatch(/partition \d resumed/);
      expect(await ledgerStreams(store)).toEqual(summary.truth.streams);
      child.kill('SIGTERM');
      expect(await exited(child), stderr).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited(child);
      await store.close();
    }
  }, 300_000);
});
