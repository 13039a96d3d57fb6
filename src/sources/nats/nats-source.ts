/**
 * A NATS JetStream stream as a broker source (`kind: nats`): a durable pull consumer with explicit
 * acknowledgement. On every connection the link makes sure the stream exists (created with the
 * configured subjects when it does not) and creates or updates its consumer: one filter subject
 * (NATS server 2.9 takes one per consumer), `ackWaitMs` after which an unacknowledged message is
 * delivered again, `maxDeliver`, and a max ack pending of two batches, which is the backpressure.
 * Each message of a batch is acknowledged after the batch's commit, then one flush waits until
 * the server has read every acknowledgement (one round trip a batch, not one a message); a batch
 * that could not commit is negatively acknowledged (`nak`), so it is delivered again at once.
 * The stream deduplicates what publishers send twice with the same `Nats-Msg-Id` within its
 * duplicate window; what passes is absorbed by idempotency.
 *
 * With a finite `maxDeliver`, the server's max-deliveries advisory for the consumer is a loss:
 * alerted and audited (broker-source.ts, `BrokerLoss`).
 *
 * A link that reads its consumer alone (a worker holding the partition's lease, docs/workers.md)
 * starts each time at the consumer's ack floor: messages an earlier reader fetched and did not
 * acknowledge come first and in stream order, instead of after the ack wait behind later ones.
 */
import type { ConsumerInfo, ConsumerMessages, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { z } from 'zod';
import { AmisyncError } from '../../core/errors.js';
import type { SourceContext } from '../../core/source.js';
import type { SourceKind } from '../common/config.js';
import { brokerSourceFields } from '../broker/broker-config.js';
import { BrokerSource, type BrokerInbox, type BrokerLink } from '../broker/broker-source.js';
import { consumerNameOf, generationOfConsumer, newestConsumerOf } from './nats-consumer-names.js';

const NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** The NATS client, loaded on first connect, so commands that never connect start without it. */
async function natsClient() {
  return { ...(await import('@nats-io/jetstream')), ...(await import('@nats-io/transport-node')) };
}
const SUBJECT = /^[^\s]{1,255}$/;

export const natsSourceSchema = z
  .object({
    kind: z.literal('nats'),
    ...brokerSourceFields,
    /** `nats://host:port`; credentials go in username and password*, never here. */
    url: z.string().regex(/^(nats|tls):\/\/[^@/\s]+$/, 'nats://host:port, no credentials'),
    username: z.string().min(1).optional(),
    passwordEnv: z.string().min(1).optional(),
    passwordFile: z.string().min(1).optional(),
    stream: z.string().regex(NAME, 'letters, digits, _ and -, at most 64'),
    /** Subjects the stream is created with when it does not exist; default: [subject]. */
    streamSubjects: z.array(z.string().regex(SUBJECT)).min(1).max(64).optional(),
    /** How long the stream remembers a Nats-Msg-Id to drop a repeat, when it creates the stream. */
    duplicateWindowMs: z.number().int().min(100).max(86_400_000).default(120_000),
    /** The consumer's one filter subject. */
    subject: z.string().regex(SUBJECT, 'a subject, wildcards allowed, no spaces'),
    /** The durable consumer's name: what the server remembers the source's place under. */
    durable: z.string().regex(NAME, 'letters, digits, _ and -, at most 64'),
    ackWaitMs: z.number().int().min(1000).max(86_400_000).default(30_000),
    /** Deliveries of one message at most; -1: no limit (see docs/config-brokers.md). */
    maxDeliver: z
      .number()
      .int()
      .min(-1)
      .max(1_000_000)
      .refine((value) => value !== 0, {
        message: 'a positive number, or -1 for no limit',
      })
      .default(-1),
    connectTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
    /**
     * True: this source is the consumer's only reader, so on every connection messages an earlier
     * reader took and did not acknowledge (a crashed process) come first and in stream order
     * (NatsLinkOptions.restartAtAckFloor). False: other processes share the consumer; per-meter
     * order is then not kept across a crash (docs/config-brokers.md).
     */
    exclusive: z.boolean().default(true),
  })
  .strict();

export type NatsSourceConfig = z.infer<typeof natsSourceSchema>;

/** The publisher's Nats-Msg-Id, else the stream and sequence. */
function messageIdOf(stream: string, message: JsMsg): string {
  const id = message.headers?.get('Nats-Msg-Id') ?? '';
  return id !== '' ? id : `${stream}#${message.seq}`;
}

function isNotFound(error: unknown): boolean {
  return /not found/i.test((error as Error).message);
}

/** What a link declares its consumer with, besides its name, subject and start. */
interface ConsumerSettings {
  ack_wait: number;
  max_deliver: number;
  max_ack_pending: number;
}

/** How a link shares its consumer. */
export interface NatsLinkOptions {
  /**
   * True when no other reader uses the durable consumer while this link is open (a worker that
   * holds the partition's lease). On open, a consumer that has delivered messages not yet
   * acknowledged, or has pull requests waiting (an earlier reader that died, stopped or lost its
   * lease), is deleted and created again at its ack floor, so that those messages are delivered
   * first and in stream order; messages above the floor that were already acknowledged come again
   * and are duplicates. A reader whose consumer is deleted this way stops instead of reading on.
   * False (a source in a configuration, which several processes may share): the consumer is kept.
   */
  readonly restartAtAckFloor: boolean;
  /**
   * The lease generation of a worker's link (docs/workers.md). The link then reads its own
   * consumer, `<durable>_g<generation>` (nats-consumer-names.ts): created when missing, from the
   * ack floor of the newest earlier generation's consumer, which is deleted with every other
   * earlier one once it exists. An acknowledgement an earlier owner sends late then reaches its own
   * consumer or none, never this one. Without it the link reads the durable itself.
   */
  readonly generation?: number;
}

/**
 * Whether an earlier reader may still hold messages of the consumer: delivered and not
 * acknowledged (up to the ack floor), or pull requests that could take a later message.
 */
export function hasUnsettled(info: ConsumerInfo): boolean {
  return (
    info.num_ack_pending > 0 ||
    info.num_waiting > 0 ||
    info.delivered.stream_seq > info.ack_floor.stream_seq
  );
}

export class NatsLink implements BrokerLink<JsMsg> {
  readonly where: string;
  readonly #config: NatsSourceConfig;
  readonly #password: string | null;
  readonly #options: NatsLinkOptions;
  /** The consumer this link reads: the durable, or its lease generation's consumer. */
  readonly #consumer: string;
  #connection: NatsConnection | null = null;
  #messages: ConsumerMessages | null = null;
  /** With restartAtAckFloor: the consumer's delivery sequence the next message must carry. */
  #nextDeliverySeq: number | null = null;

  constructor(
    config: NatsSourceConfig,
    password: string | null,
    options: NatsLinkOptions = { restartAtAckFloor: false },
  ) {
    this.#config = config;
    this.#password = password;
    this.#options = options;
    this.#consumer = consumerNameOf(config.durable, options.generation);
    this.where = `${config.url} stream ${config.stream} consumer ${this.#consumer}`;
  }

  async open(inbox: BrokerInbox<JsMsg>, unackedMax: number): Promise<void> {
    const config = this.#config;
    const connection = await this.#connect();
    this.#connection = connection;
    void connection.closed().then((error) => {
      if (this.#connection === connection) {
        inbox.lost(error ?? new Error('the connection was closed'));
      }
    });
    try {
      const { jetstream, jetstreamManager } = await natsClient();
      const manager = await jetstreamManager(connection);
      await this.#declare(manager, unackedMax);
      this.#watchMaxDeliveries(connection, inbox);
      const consumer = await jetstream(connection).consumers.get(config.stream, this.#consumer);
      const messages = await consumer.consume({
        max_messages: Math.min(unackedMax, 10_000),
        ...(this.#options.restartAtAckFloor ? { abort_on_missing_resource: true } : {}),
      });
      this.#messages = messages;
      void this.#pump(messages, inbox);
    } catch (error) {
      await this.close();
      throw new AmisyncError(
        'TRANSPORT_PROTOCOL',
        `${this.where}: cannot declare or consume: ${(error as Error).message}`,
      );
    }
  }

  /**
   * With a finite `maxDeliver`, the server stops delivering a message after that many deliveries,
   * and amisync settles a message only by committing it: so the server's advisory for this
   * consumer means a message that is not in the ledger. It is a loss to alert and audit.
   */
  #watchMaxDeliveries(connection: NatsConnection, inbox: BrokerInbox<JsMsg>): void {
    const { stream, maxDeliver } = this.#config;
    if (maxDeliver < 1) return;
    const subject = `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${stream}.${this.#consumer}`;
    connection.subscribe(subject, {
      callback: (error, message) => {
        if (error !== null) return;
        const advisory = maxDeliveriesAdvisory.safeParse(parseJson(message.string()));
        const streamSeq = advisory.success ? advisory.data.stream_seq : null;
        const deliveries = advisory.success ? advisory.data.deliveries : maxDeliver;
        inbox.loss({
          cause: 'max-deliveries',
          severity: 'critical',
          message:
            `${this.where}: the server stopped delivering stream message ${streamSeq ?? '?'} ` +
            `after ${deliveries} deliveries (maxDeliver ${maxDeliver}), and amisync never ` +
            'committed it: its readings are not in the ledger. It stays in the stream until the ' +
            "stream's limits remove it: publish it again (nats stream get), or raise maxDeliver",
          figures: { stream, consumer: this.#consumer, streamSeq, deliveries, maxDeliver },
        });
      },
    });
  }

  async #connect(): Promise<NatsConnection> {
    const config = this.#config;
    const { connect } = await natsClient();
    try {
      return await connect({
        servers: config.url,
        timeout: config.connectTimeoutMs,
        reconnect: false,
        ...(config.username === undefined ? {} : { user: config.username }),
        ...(this.#password === null ? {} : { pass: this.#password }),
      });
    } catch (error) {
      const message = (error as Error).message;
      throw new AmisyncError(
        /authorization/i.test(message) ? 'TRANSPORT_AUTH_FAILED' : 'TRANSPORT_UNAVAILABLE',
        `${config.url}: cannot connect: ${message}`,
      );
    }
  }

  /** The stream when it is missing, and the consumer created or brought up to the configuration. */
  async #declare(manager: JetStreamManager, unackedMax: number): Promise<void> {
    const config = this.#config;
    const { StorageType, nanos } = await natsClient();
    try {
      await manager.streams.info(config.stream);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      await manager.streams.add({
        name: config.stream,
        subjects: config.streamSubjects ?? [config.subject],
        storage: StorageType.File,
        duplicate_window: nanos(config.duplicateWindowMs),
      });
    }
    this.#nextDeliverySeq = null;
    const settings = {
      ack_wait: nanos(config.ackWaitMs),
      max_deliver: config.maxDeliver,
      max_ack_pending: unackedMax,
    };
    // Listed once: where a new generation starts, and what is deleted once it exists.
    const earlier = await this.#earlierGenerations(manager);
    await this.#declareConsumer(manager, settings, earlier);
    await this.#deleteEarlierGenerations(manager, earlier);
  }

  async #declareConsumer(
    manager: JetStreamManager,
    settings: ConsumerSettings,
    earlier: readonly string[],
  ): Promise<void> {
    const config = this.#config;
    let info: ConsumerInfo;
    try {
      info = await manager.consumers.info(config.stream, this.#consumer);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      await this.#addConsumer(manager, settings, await this.#earlierAckFloor(manager, earlier));
      if (this.#options.restartAtAckFloor) this.#nextDeliverySeq = 1;
      return;
    }
    if (this.#options.restartAtAckFloor && hasUnsettled(info)) {
      // Consumer settings cannot move a consumer's place back, and its pending messages would come
      // only after the ack wait, behind later ones: so it starts again just above its ack floor.
      await manager.consumers.delete(config.stream, this.#consumer);
      await this.#addConsumer(manager, settings, info.ack_floor.stream_seq);
      this.#nextDeliverySeq = 1;
      return;
    }
    await manager.consumers.update(config.stream, this.#consumer, settings);
    if (this.#options.restartAtAckFloor) this.#nextDeliverySeq = info.delivered.consumer_seq + 1;
  }

  /** The names of the stream's consumers that belong to an earlier lease generation than this. */
  async #earlierGenerations(manager: JetStreamManager): Promise<string[]> {
    const { durable, stream } = this.#config;
    const own = this.#options.generation;
    if (own === undefined) return [];
    const names: string[] = [];
    for await (const info of manager.consumers.list(stream)) {
      const generation = generationOfConsumer(info.name, durable);
      if (generation !== null && generation < own) names.push(info.name);
    }
    return names;
  }

  /**
   * Where a new generation's consumer starts: the ack floor of the newest earlier generation's
   * consumer. Every message up to it was acknowledged after its commit, or lay below where that
   * consumer started; 0 (the stream's start) when there is none.
   */
  async #earlierAckFloor(manager: JetStreamManager, earlier: readonly string[]): Promise<number> {
    const newest = newestConsumerOf(earlier, this.#config.durable);
    if (newest === null) return 0;
    const info = await manager.consumers.info(this.#config.stream, newest.name);
    return info.ack_floor.stream_seq;
  }

  /**
   * Deletes the consumers of earlier generations, after this one exists: their readers stop
   * (abort_on_missing_resource), and an acknowledgement they send late reaches no consumer.
   */
  async #deleteEarlierGenerations(
    manager: JetStreamManager,
    earlier: readonly string[],
  ): Promise<void> {
    for (const name of earlier) {
      try {
        await manager.consumers.delete(this.#config.stream, name);
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    }
  }

  /** Creates the durable consumer, delivering the stream's messages after `ackFloorSeq`. */
  async #addConsumer(
    manager: JetStreamManager,
    settings: ConsumerSettings,
    ackFloorSeq: number,
  ): Promise<void> {
    const config = this.#config;
    const { AckPolicy, DeliverPolicy } = await natsClient();
    const start =
      ackFloorSeq === 0
        ? { deliver_policy: DeliverPolicy.All }
        : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: ackFloorSeq + 1 };
    await manager.consumers.add(config.stream, {
      durable_name: this.#consumer,
      filter_subject: config.subject,
      ack_policy: AckPolicy.Explicit,
      ...start,
      ...settings,
    });
  }

  async #pump(messages: ConsumerMessages, inbox: BrokerInbox<JsMsg>): Promise<void> {
    try {
      for await (const message of messages) {
        this.#checkDeliverySeq(message);
        const attempt = message.info.deliveryCount;
        inbox.take(
          { id: messageIdOf(this.#config.stream, message), bytes: message.data, attempt },
          message,
        );
      }
    } catch (error) {
      inbox.lost(error as Error);
    }
  }

  /**
   * Every delivery of a consumer, a redelivery too, takes the next delivery sequence. A link that
   * reads the consumer alone and sees one skipped knows another reader took it (an earlier owner
   * whose pull requests reached this consumer before it stopped): committing what follows could
   * put a meter's readings out of order, so the link fails and is opened again at the ack floor.
   */
  #checkDeliverySeq(message: JsMsg): void {
    const expected = this.#nextDeliverySeq;
    if (expected === null) return;
    const seq = message.info.deliverySequence;
    if (seq !== expected) {
      throw new Error(
        `delivery ${seq} of consumer ${this.#consumer} came where ${expected} was next: ` +
          'another reader took messages of it',
      );
    }
    this.#nextDeliverySeq = seq + 1;
  }

  /**
   * One `ack` per message, then one round trip (a flush: PING, PONG) after which the server has
   * read every one of them, in the order sent, instead of a confirmed `ackAck` per message.
   */
  async ack(handles: readonly JsMsg[]): Promise<void> {
    const connection = this.#connection;
    if (connection === null) return;
    for (const message of handles) message.ack();
    await connection.flush();
  }

  async nack(handles: readonly JsMsg[]): Promise<void> {
    if (this.#connection === null) return;
    for (const message of handles) message.nak();
  }

  async close(): Promise<void> {
    const connection = this.#connection;
    const messages = this.#messages;
    this.#connection = null;
    this.#messages = null;
    await messages?.close().catch(() => undefined);
    if (connection !== null) await connection.close().catch(() => undefined);
  }
}

/** The fields amisync reads of `io.nats.jetstream.advisory.v1.max_deliver`. */
const maxDeliveriesAdvisory = z.object({
  stream_seq: z.number().int().nonnegative(),
  deliveries: z.number().int().nonnegative(),
});

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function passwordOf(config: NatsSourceConfig, context: SourceContext): string | null {
  if (config.passwordEnv === undefined && config.passwordFile === undefined) return null;
  return context.secret({ env: config.passwordEnv, file: config.passwordFile }, 'password');
}

export const natsSourceKind: SourceKind<NatsSourceConfig> = {
  kind: 'nats',
  schema: natsSourceSchema,
  create: (config, context) =>
    new BrokerSource(
      config,
      new NatsLink(config, passwordOf(config, context), { restartAtAckFloor: config.exclusive }),
      context,
    ),
};
