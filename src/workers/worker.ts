/**
 * One worker of several (docs/workers.md): it shares a PostgreSQL store and a NATS JetStream
 * stream partitioned by meter with other workers, on this host or others. Every heartbeat it
 * renews its own row and its partition leases, takes free or expired partitions up to its fair
 * share (ceil(P / live workers)), and hands back those beyond it. Each held partition is consumed
 * by one durable consumer per lease generation (`<durable>_p<k>_g<generation>` on
 * `<subject>.p<k>`) through the ordinary ingest-then-ack path, writing through a store view whose
 * transactions lock that partition only and are fenced by the lease, so a worker that lost its
 * lease can never commit, and whose late acknowledgements reach its own consumer, not the new
 * owner's. Each time a partition's consumer starts (a takeover, a hand-back, a restart after a
 * failure) it reads the partition again from the earlier consumer's ack floor, so no message of
 * the partition commits before one an earlier reader fetched and did not acknowledge.
 */
import { z } from 'zod';
import { systemClock, systemRandom } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import { partitionSubject } from '../core/partition.js';
import { END, isIdle, waitIdle, type Source } from '../core/source.js';
import { DEFAULT_DICTIONARY } from '../dictionary/dictionary.js';
import type { Pause } from '../core/pause.js';
import { StorePauseGate } from '../pipeline/pause-gate.js';
import { markDeliveriesOfTakenSource } from '../pipeline/interrupted.js';
import { deliverOne, loadSavedPosition } from '../pipeline/run-source.js';
import { createSourceContext } from '../cli/config/source-context.js';
import { BrokerSource } from '../sources/broker/broker-source.js';
import { NatsLink, natsSourceSchema } from '../sources/nats/nats-source.js';
import {
  endEarlierHolders,
  fixPartitionCount,
  heartbeatWorker,
  PARTITIONS_MAX,
  releaseLease,
  renewLeases,
  takeFreeLeases,
  type PartitionLease,
} from '../store/postgres/postgres-partitions.js';
import { openPostgresStore, type PostgresStore } from '../store/postgres/postgres-store.js';

export const workerConfigSchema = z
  .object({
    /** This worker's name in leases: unique among live workers (host and pid by default). */
    owner: z.string().min(1).max(200),
    /** `postgres://...?schema=...` */
    store: z.string().regex(/^postgres(ql)?:\/\//),
    natsUrl: z.string().regex(/^nats:\/\/[^@/\s]+$/),
    stream: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
    /** Partition k is read from `<subjectPrefix>.p<k>`. */
    subjectPrefix: z.string().regex(/^[^\s*>]{1,200}$/),
    /** Partition k's durable consumer is `<durablePrefix>_p<k>_g<lease generation>`. */
    durablePrefix: z.string().regex(/^[A-Za-z0-9_-]{1,56}$/),
    partitions: z.number().int().min(1).max(PARTITIONS_MAX),
    heartbeatMs: z.number().int().min(50).max(60_000).default(1000),
    leaseMs: z.number().int().min(200).max(600_000).default(5000),
    ackWaitMs: z.number().int().min(1000).max(86_400_000).default(30_000),
    messagesPerBatchMax: z.number().int().min(1).max(10_000).default(200),
    /** Each acknowledgement appended here (one JSON line), as a broker source's ackLog. */
    ackLog: z.string().min(1).optional(),
    /**
     * The configured source's id: `amisync pause --source <id>` pauses every partition. A global
     * pause, and a pause of one partition's own source id (`<id>-p<k>`, the id its deliveries
     * carry; `<durablePrefix>-p<k>` without a sourceId), hold too.
     */
    sourceId: z.string().min(1).max(200).optional(),
  })
  .strict()
  .refine((config) => config.leaseMs >= 2 * config.heartbeatMs, {
    message: 'leaseMs must be at least two heartbeats, or a live worker loses its leases',
  });

export type WorkerConfig = z.infer<typeof workerConfigSchema>;

/** A partition this worker consumes: its lease, and the loop reading it until stopped. */
interface Consumer {
  readonly lease: PartitionLease;
  readonly stop: AbortController;
  readonly done: Promise<void>;
}

/** How long a partition whose consumer failed waits before it is started again. */
const RESTART_AFTER_HEARTBEATS = 2;

export class Worker {
  readonly #config: WorkerConfig;
  readonly #store: PostgresStore;
  readonly #log: Logger;
  readonly #consumers = new Map<number, Consumer>();
  readonly #failedAtBeat = new Map<number, number>();
  /** Operators' pauses, read from the store's controls at most once a second for all partitions. */
  readonly #pauses: StorePauseGate;
  #leases: PartitionLease[] = [];
  #beat = 0;

  private constructor(config: WorkerConfig, store: PostgresStore, log: Logger) {
    this.#config = config;
    this.#store = store;
    this.#log = log;
    this.#pauses = new StorePauseGate({ store, clock: systemClock, log });
  }

  static async open(config: WorkerConfig, log: Logger): Promise<Worker> {
    const store = await openPostgresStore(config.store, { nowMs: () => systemClock.nowMs() });
    try {
      await fixPartitionCount(store.pool, config.partitions);
    } catch (error) {
      await store.close();
      throw error;
    }
    return new Worker(config, store, log);
  }

  /** The partitions consumed now. */
  partitions(): number[] {
    return [...this.#consumers.keys()].sort((left, right) => left - right);
  }

  /**
   * Heartbeats until `signal` aborts, then stops every consumer (nothing more is acknowledged
   * that has not committed) and gives its leases back so others take them at once.
   */
  async run(signal: AbortSignal): Promise<void> {
    // One heartbeat as a bare member first, so that workers started together see each other
    // before any takes its share.
    await heartbeatWorker(this.#store.pool, this.#config.owner, this.#config.leaseMs);
    await systemClock.sleep(this.#config.heartbeatMs, signal).catch(() => undefined);
    while (!signal.aborted) {
      try {
        await this.#heartbeat();
      } catch (error) {
        this.#log.warn({ error: (error as Error).message }, 'worker heartbeat failed');
      }
      await systemClock.sleep(this.#config.heartbeatMs, signal).catch(() => undefined);
    }
    await Promise.all([...this.#consumers.keys()].map((partition) => this.#release(partition)));
    await this.#store.close();
  }

  async #heartbeat(): Promise<void> {
    const { owner, leaseMs, partitions } = this.#config;
    this.#beat += 1;
    const live = await heartbeatWorker(this.#store.pool, owner, leaseMs);
    const held = await renewLeases(this.#store.pool, owner, this.#leases, leaseMs);
    for (const lost of this.#leases.filter((lease) => !held.includes(lease))) {
      this.#log.warn({ partition: lost.partition }, 'partition lease lost');
      this.#consumers.get(lost.partition)?.stop.abort();
      this.#consumers.delete(lost.partition);
    }
    this.#leases = held;
    const share = Math.ceil(partitions / Math.max(1, live));
    for (const extra of this.#leases.slice(share)) await this.#release(extra.partition);
    const wanted = share - this.#leases.length;
    const taken = await takeFreeLeases(this.#store.pool, owner, partitions, wanted, leaseMs);
    this.#leases.push(...taken);
    for (const lease of this.#leases) {
      const failedAt = this.#failedAtBeat.get(lease.partition);
      if (failedAt !== undefined && this.#beat - failedAt < RESTART_AFTER_HEARTBEATS) continue;
      if (!this.#consumers.has(lease.partition)) this.#start(lease);
    }
  }

  async #release(partition: number): Promise<void> {
    const consumer = this.#consumers.get(partition);
    this.#consumers.delete(partition);
    if (consumer !== undefined) {
      consumer.stop.abort();
      await consumer.done;
    }
    const lease = this.#leases.find((held) => held.partition === partition);
    this.#leases = this.#leases.filter((held) => held.partition !== partition);
    if (lease !== undefined) await releaseLease(this.#store.pool, lease);
  }

  #start(lease: PartitionLease): void {
    const stop = new AbortController();
    const done = this.#consume(lease, stop.signal).catch((error: unknown) => {
      const fields = { partition: lease.partition, error: (error as Error).message };
      this.#log.warn(fields, 'partition consumer stopped');
      this.#failedAtBeat.set(lease.partition, this.#beat);
      if (this.#consumers.get(lease.partition)?.stop === stop) {
        this.#consumers.delete(lease.partition);
      }
    });
    this.#consumers.set(lease.partition, { lease, stop, done });
    const fields = { partition: lease.partition, generation: lease.generation };
    this.#log.info(fields, 'partition taken');
  }

  /** Reads one partition until stopped: each delivery ingested, then acknowledged. */
  async #consume(lease: PartitionLease, signal: AbortSignal): Promise<void> {
    const store = this.#store.forPartition({ partition: lease.partition, fence: lease });
    const source = this.#sourceFor(lease, store);
    const options = {
      store,
      dictionary: DEFAULT_DICTIONARY,
      clock: systemClock,
      random: systemRandom,
      log: this.#log,
      signal,
    };
    // An earlier holder still in a transaction of the partition (frozen, or about to find itself
    // fenced) would keep the partition's lock: its session is ended, its transaction rolled back.
    const ended = await endEarlierHolders(this.#store.pool, lease.partition).catch(
      (error: unknown) => {
        const fields = { partition: lease.partition, error: (error as Error).message };
        this.#log.warn(fields, 'could not end the sessions of an earlier holder');
        return 0;
      },
    );
    if (ended > 0) {
      const fields = { partition: lease.partition, sessions: ended };
      this.#log.warn(fields, 'sessions of an earlier holder ended');
    }
    // An earlier holder's deliveries of the partition can never commit again (the fence): they
    // are interrupted, and status and a redelivery of the same name see them so.
    const marked = await markDeliveriesOfTakenSource(store, source.id, systemClock.nowMs());
    if (marked.length > 0) {
      const fields = { partition: lease.partition, deliveries: marked };
      this.#log.info(fields, 'unfinished deliveries of an earlier holder marked interrupted');
    }
    await source.connect(signal, await loadSavedPosition(store, source.id));
    let pausedSinceMs: number | null = null;
    try {
      while (!signal.aborted) {
        // A pause holds at the next delivery boundary: what was fetched and not committed stays
        // unacknowledged with the broker. The lease is still renewed meanwhile.
        const pause = await this.#pauseOf(source.id);
        if ((pause?.sinceMs ?? null) !== pausedSinceMs) this.#logPause(lease.partition, pause);
        pausedSinceMs = pause?.sinceMs ?? null;
        if (pause !== null) {
          await systemClock.sleep(this.#pauses.pollIntervalMs, signal).catch(() => undefined);
          continue;
        }
        const delivery = await source.read(signal);
        if (delivery === END) break;
        if (isIdle(delivery)) {
          await waitIdle(systemClock, delivery, signal).catch(() => undefined);
          continue;
        }
        await deliverOne(source, delivery, options);
      }
    } finally {
      await source.close();
    }
  }

  async #pauseOf(partitionSourceId: string): Promise<Pause | null> {
    const configured = this.#config.sourceId;
    const own = await this.#pauses.pauseOf(partitionSourceId);
    if (own !== null || configured === undefined) return own;
    return this.#pauses.pauseOf(configured);
  }

  #logPause(partition: number, pause: Pause | null): void {
    if (pause === null) {
      this.#log.info({ partition }, `partition ${partition} resumed`);
      return;
    }
    const scope = pause.sourceId === null ? 'global pause' : `source ${pause.sourceId}`;
    this.#log.warn(
      { partition, pause },
      `partition ${partition} paused by ${pause.actor} (${scope}): ${pause.reason}`,
    );
  }

  #sourceFor(lease: PartitionLease, store: PostgresStore): Source {
    const config = this.#config;
    const partition = lease.partition;
    const sourceConfig = natsSourceSchema.parse({
      kind: 'nats',
      // The configured source's id and the partition: `amisync pause --source <id>` finds it.
      id: `${config.sourceId ?? config.durablePrefix}-p${partition}`,
      url: config.natsUrl,
      stream: config.stream,
      streamSubjects: [`${config.subjectPrefix}.*`],
      subject: partitionSubject(config.subjectPrefix, partition),
      durable: `${config.durablePrefix}_p${partition}`,
      ackWaitMs: config.ackWaitMs,
      batch: { messagesMax: config.messagesPerBatchMax, delayMs: 50 },
      ...(config.ackLog === undefined ? {} : { ackLog: config.ackLog }),
    });
    const context = createSourceContext({
      store,
      clock: systemClock,
      random: systemRandom,
      log: this.#log,
      env: {},
    });
    // The lease makes this worker the consumer's only reader, so the link may start it again at
    // its ack floor: what an earlier owner fetched and never acknowledged comes first, in order.
    // The consumer is the lease generation's own, so an earlier owner's late ack cannot reach it.
    const link = new NatsLink(sourceConfig, null, {
      restartAtAckFloor: true,
      generation: lease.generation,
    });
    return new BrokerSource(sourceConfig, link, context);
  }
}
