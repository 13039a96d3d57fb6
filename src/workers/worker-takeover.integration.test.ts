// Goal: a worker that takes over a partition whose previous owner died holding fetched, never
// acknowledged messages commits those messages before any later message of the partition, ends
// with the ledger one ordered run gives, marks the previous owner's unfinished delivery
// interrupted (its process may live on: a process check cannot tell), and ends its session frozen
// in a COPY. Method: a feed with estimates and conflicts published to 1 partition; a dead owner (a
// lease left to expire, a connection that fetched the first messages and closed without acking, a
// delivery it never finished, a session stopped inside a COPY) and a Worker with a long ack wait;
// the ack log against the stream sequence of each message, the ledger against the simulator's
// truth, the delivery's status and audit entry, what ended the frozen session.
import { describe, expect, it } from 'vitest';
import { jetstream, jetstreamManager, AckPolicy, DeliverPolicy } from '@nats-io/jetstream';
import { connect as connectNats, nanos } from '@nats-io/transport-node';
import { join } from 'node:path';
import { verifyAudit } from '../audit/verify.js';
import { runSimulatePublish } from '../cli/commands/simulate-publish.js';
import { silentLogger } from '../core/log.js';
import { partitionSubject } from '../core/partition.js';
import { formatKwh } from '../simulator/truth.js';
import { fixPartitionCount, takeFreeLeases } from '../store/postgres/postgres-partitions.js';
import { openPostgresStore } from '../store/postgres/postgres-store.js';
import {
  auditSeqOfDeliveries,
  faultyFeed,
  natsConsumerBacklog,
  natsSequenceOfIds,
  outOfStreamOrder,
  readAckLog,
} from '../test-support/broker-rig.js';
import { freshPostgresSchema, sessionFrozenInCopy } from '../test-support/postgres.js';
import { ledgerStreams } from '../test-support/truth-check.js';
import { waitFor, workerServices, workerTestNames } from '../test-support/worker-rig.js';
import { Worker, workerConfigSchema } from './worker.js';

const NATS_URL = 'nats://127.0.0.1:4222';
/** Long enough that a redelivery after the ack wait comes well after the later messages. */
const ACK_WAIT_MS = 8000;
const MESSAGES_PER_BATCH_MAX = 10;
/** Messages the dead owner fetched and never acknowledged. */
const HELD_BY_DEAD_OWNER = 15;

const services = await workerServices();

/**
 * A worker that dies after its fetch and before its commit: it creates the partition's durable
 * consumer as a worker does, fetches `count` messages, and closes without acknowledging them.
 */
async function fetchAndDie(stream: string, subject: string, durable: string, count: number) {
  const connection = await connectNats({ servers: NATS_URL, reconnect: false });
  try {
    const manager = await jetstreamManager(connection);
    await manager.consumers.add(stream, {
      durable_name: durable,
      filter_subject: subject,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(ACK_WAIT_MS),
      max_deliver: -1,
      max_ack_pending: 2 * MESSAGES_PER_BATCH_MAX,
    });
    const consumer = await jetstream(connection).consumers.get(stream, durable);
    const fetched: number[] = [];
    const messages = await consumer.fetch({ max_messages: count, expires: 5000 });
    for await (const message of messages) fetched.push(message.seq);
    return fetched;
  } finally {
    await connection.close();
  }
}

describe.runIf(services.up)('a worker taking over a dead owner’s partition', () => {
  it('commits the dead owner’s pending messages before any later one', async () => {
    const names = workerTestNames(services, 'takeover');
    const { stream, subject: subjectPrefix, durable: durablePrefix, folder } = names;
    const ackLog = join(folder, 'acks.ndjson');
    const { schema, url } = freshPostgresSchema();
    // Estimates later replaced by actuals, and conflicts, make the ledger depend on the order.
    const summary = await runSimulatePublish({
      ...faultyFeed(NATS_URL, subjectPrefix, 29, { stream }),
      meters: '4',
      days: '1',
      readingsPerMessage: '4',
      estimateRate: '0.2',
      conflictRate: '0.05',
      partitions: '1',
    });
    // The dead owner held the lease of generation 1, so it read that generation's consumer.
    const fetched = await fetchAndDie(
      stream,
      partitionSubject(subjectPrefix, 0),
      `${durablePrefix}_p0_g1`,
      HELD_BY_DEAD_OWNER,
    );
    expect(fetched.length).toBe(HELD_BY_DEAD_OWNER);
    expect(summary.messages).toBeGreaterThan(4 * HELD_BY_DEAD_OWNER);

    const store = await openPostgresStore(url, { nowMs: () => Date.now() });
    const stop = new AbortController();
    let running: Promise<void> | null = null;
    let frozen: Awaited<ReturnType<typeof sessionFrozenInCopy>> | null = null;
    try {
      // The dead owner's lease, left to expire: the worker takes the partition over from it.
      await fixPartitionCount(store.pool, 1);
      const [deadLease] = await takeFreeLeases(store.pool, 'dead-owner', 1, 1, 300);
      expect(deadLease).toMatchObject({ owner: 'dead-owner', generation: 1 });
      // The earlier owner's delivery it never finished. Its process (this one) is alive, as a
      // worker that lost its lease while reading is: no process check finds it gone.
      await store.createDelivery({
        id: 'earlier-owner-delivery',
        sourceId: `${durablePrefix}-p0`,
        name: 'batch of the earlier owner',
        format: 'ndjson',
        formatContext: {},
        startedAtMs: Date.now(),
      });
      expect((await store.getDelivery('earlier-owner-delivery'))?.status).toBe('running');
      // And a session of the earlier owner frozen in the middle of a batch's COPY, holding the
      // partition's lock: the successor ends it, or it would wait for it for ever.
      frozen = await sessionFrozenInCopy(schema, 0);
      const config = workerConfigSchema.parse({
        owner: 'successor',
        store: url,
        natsUrl: NATS_URL,
        stream,
        subjectPrefix,
        durablePrefix,
        partitions: 1,
        heartbeatMs: 200,
        leaseMs: 3000,
        ackWaitMs: ACK_WAIT_MS,
        messagesPerBatchMax: MESSAGES_PER_BATCH_MAX,
        ackLog,
      });
      const worker = await Worker.open(config, silentLogger);
      running = worker.run(stop.signal);
      const backlog = () => natsConsumerBacklog(stream, `${durablePrefix}_p0`).catch(() => 1);
      await waitFor(async () => (await backlog()) === 0, 'the partition drained', 45_000);
      stop.abort();
      await running;
      running = null;

      const leases = await store.pool.query('SELECT owner, generation FROM partition_leases');
      // Generation 2 took it from the dead owner (more if a loaded machine delayed a heartbeat).
      expect(leases.rows).toMatchObject([{ owner: 'successor' }]);
      expect(Number(leases.rows[0]?.generation)).toBeGreaterThanOrEqual(2);
      // Each message's first acknowledgement (its first commit) in the order of the stream.
      const sequences = await natsSequenceOfIds(stream);
      const firstCommits: number[] = [];
      const seen = new Set<string>();
      for (const line of readAckLog(ackLog)) {
        for (const id of line.messages) {
          if (seen.has(id)) continue;
          seen.add(id);
          firstCommits.push(sequences.get(id) ?? -1);
        }
      }
      expect(seen.size).toBe(summary.messages);
      expect(firstCommits.slice(0, HELD_BY_DEAD_OWNER)).toEqual(fetched);
      expect(firstCommits).toEqual([...firstCommits].sort((left, right) => left - right));
      const acks = readAckLog(ackLog);
      const order = outOfStreamOrder(acks, await auditSeqOfDeliveries(store.pool), sequences);
      expect(order).toEqual({ late: [], checked: summary.messages });

      const truth = summary.truth;
      const status = await store.status();
      expect(await ledgerStreams(store)).toEqual(truth.streams);
      expect(status.ledger.readings).toBe(truth.currentReadings);
      expect(formatKwh(status.ledger.energyMilliWh)).toBe(truth.kwh);
      // The successor marked the earlier owner's delivery interrupted, audited, as it took over.
      expect(await store.getDelivery('earlier-owner-delivery')).toMatchObject({
        status: 'interrupted',
      });
      expect(status.deliveries.running).toBe(0);
      const marking = await store.latestAuditEntryOfKind('delivery.interrupted');
      expect(JSON.parse(marking?.payload ?? '{}')).toMatchObject({
        delivery: 'earlier-owner-delivery',
        source: `${durablePrefix}-p0`,
      });
      const report = await verifyAudit(store, null);
      expect(report.problems).toEqual([]);
      expect(frozen.ended).toContain('57P01');
    } finally {
      await frozen?.close();
      stop.abort();
      await running?.catch(() => undefined);
      await store.close();
    }
  }, 60_000);
});
