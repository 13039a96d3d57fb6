/**
 * An AMQP 0-9-1 queue as a broker source (`kind: amqp`, RabbitMQ). On every connection the link
 * declares its topology again (the durable queue, and the exchange and binding when configured),
 * so a broker that lost them, or a first run, needs nothing set up by hand. The channel's prefetch
 * is the backpressure: RabbitMQ sends at most that many unacknowledged messages. A batch is
 * acknowledged after its commit with one `ack` of its last delivery tag and `multiple` set (every
 * earlier tag on the channel belongs to the same batch or an earlier one, since batches take the
 * oldest messages first); a batch that could not commit is nacked the same way with requeue, so
 * the messages return to the queue at once. A poison message (not JSON, not a reading) is
 * quarantined with its bytes in its batch and acknowledged with it, never redelivered forever.
 */
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import { z } from 'zod';
import { AmisyncError } from '../../core/errors.js';
import type { SourceContext } from '../../core/source.js';
import type { SourceKind } from '../common/config.js';
import { brokerSourceFields } from '../broker/broker-config.js';
import { BrokerSource, type BrokerInbox, type BrokerLink } from '../broker/broker-source.js';

const NAME = /^[A-Za-z0-9_.:-]{1,255}$/;

export const amqpSourceSchema = z
  .object({
    kind: z.literal('amqp'),
    ...brokerSourceFields,
    /** `amqp://host:port/vhost` (or `amqps://`). Credentials go in username and password*. */
    url: z.string().regex(/^amqps?:\/\/[^@\s]+$/, 'amqp://host:port[/vhost], no credentials'),
    username: z.string().min(1).default('guest'),
    passwordEnv: z.string().min(1).optional(),
    passwordFile: z.string().min(1).optional(),
    /** The durable queue the source consumes, declared on every connection. */
    queue: z.string().regex(NAME, 'letters, digits, _ . : -, at most 255'),
    /** An exchange the queue is bound to, declared (durable) on every connection. */
    exchange: z
      .object({
        name: z.string().regex(NAME, 'letters, digits, _ . : -, at most 255'),
        type: z.enum(['direct', 'topic', 'fanout']).default('topic'),
        bindingKey: z.string().max(255).default('#'),
      })
      .strict()
      .optional(),
    /** Unacknowledged messages RabbitMQ may send; default: two batches' worth. */
    prefetch: z.number().int().min(1).max(65_535).optional(),
    heartbeatSeconds: z.number().int().min(0).max(600).default(30),
  })
  .strict();

export type AmqpSourceConfig = z.infer<typeof amqpSourceSchema>;

interface AmqpHandle {
  readonly channel: Channel;
  readonly message: ConsumeMessage;
}

/** The publisher's message id, else the queue and delivery tag. */
function messageIdOf(queue: string, message: ConsumeMessage): string {
  const id: unknown = message.properties.messageId;
  return typeof id === 'string' && id !== '' ? id : `${queue}#${message.fields.deliveryTag}`;
}

export class AmqpLink implements BrokerLink<AmqpHandle> {
  readonly where: string;
  readonly #config: AmqpSourceConfig;
  readonly #password: string;
  #connection: ChannelModel | null = null;
  #channel: Channel | null = null;

  constructor(config: AmqpSourceConfig, password: string) {
    this.#config = config;
    this.#password = password;
    this.where = `${config.url} queue ${config.queue}`;
  }

  async open(inbox: BrokerInbox<AmqpHandle>, unackedMax: number): Promise<void> {
    const config = this.#config;
    const url = new URL(config.url);
    url.username = encodeURIComponent(config.username);
    url.password = encodeURIComponent(this.#password);
    url.searchParams.set('heartbeat', String(config.heartbeatSeconds));
    let connection: ChannelModel;
    try {
      // Loaded on first connect, so commands that never connect start without it.
      const { default: amqp } = await import('amqplib');
      connection = await amqp.connect(url.toString());
    } catch (error) {
      const message = (error as Error).message;
      throw new AmisyncError(
        /ACCESS_REFUSED|403/.test(message) ? 'TRANSPORT_AUTH_FAILED' : 'TRANSPORT_UNAVAILABLE',
        `${config.url}: cannot connect: ${message}`,
      );
    }
    this.#connection = connection;
    connection.on('error', (error: Error) => inbox.lost(error));
    connection.on('close', () => {
      if (this.#connection === connection)
        inbox.lost(new Error('the broker closed the connection'));
    });
    try {
      await this.#consume(connection, inbox, config.prefetch ?? unackedMax);
    } catch (error) {
      await this.close();
      throw new AmisyncError(
        'TRANSPORT_PROTOCOL',
        `${this.where}: cannot declare or consume the queue: ${(error as Error).message}`,
      );
    }
  }

  async #consume(
    connection: ChannelModel,
    inbox: BrokerInbox<AmqpHandle>,
    prefetch: number,
  ): Promise<void> {
    const config = this.#config;
    const channel = await connection.createChannel();
    this.#channel = channel;
    channel.on('error', (error: Error) => inbox.lost(error));
    channel.on('close', () => {
      if (this.#channel === channel) inbox.lost(new Error('the channel was closed'));
    });
    await channel.assertQueue(config.queue, { durable: true });
    if (config.exchange !== undefined) {
      const { name, type, bindingKey } = config.exchange;
      await channel.assertExchange(name, type, { durable: true });
      await channel.bindQueue(config.queue, name, bindingKey);
    }
    await channel.prefetch(prefetch);
    await channel.consume(
      config.queue,
      (message) => {
        if (message === null) {
          inbox.lost(new Error(`the broker cancelled the consumer of ${config.queue}`));
          return;
        }
        const attempt = message.fields.redelivered ? 2 : 1;
        inbox.take(
          { id: messageIdOf(config.queue, message), bytes: message.content, attempt },
          { channel, message },
        );
      },
      { noAck: false },
    );
  }

  /** Tags are the channel's own: a batch from a closed channel is redelivered by RabbitMQ. */
  #last(handles: readonly AmqpHandle[]): AmqpHandle | null {
    const last = handles[handles.length - 1];
    return last !== undefined && last.channel === this.#channel ? last : null;
  }

  async ack(handles: readonly AmqpHandle[]): Promise<void> {
    const last = this.#last(handles);
    if (last !== null) last.channel.ack(last.message, true);
  }

  async nack(handles: readonly AmqpHandle[]): Promise<void> {
    const last = this.#last(handles);
    if (last !== null) last.channel.nack(last.message, true, true);
  }

  /**
   * The channel is closed before the connection: RabbitMQ processes the acknowledgements sent on
   * it before the channel's close, while a connection closed at once loses the last ones (the
   * messages would be delivered again, and absorbed, but needlessly).
   */
  async close(): Promise<void> {
    const connection = this.#connection;
    const channel = this.#channel;
    this.#connection = null;
    this.#channel = null;
    if (channel !== null) await channel.close().catch(() => undefined);
    if (connection !== null) await connection.close().catch(() => undefined);
  }
}

function passwordOf(config: AmqpSourceConfig, context: SourceContext): string {
  if (config.passwordEnv === undefined && config.passwordFile === undefined) return 'guest';
  return context.secret({ env: config.passwordEnv, file: config.passwordFile }, 'password');
}

export const amqpSourceKind: SourceKind<AmqpSourceConfig> = {
  kind: 'amqp',
  schema: amqpSourceSchema,
  create: (config, context) =>
    new BrokerSource(config, new AmqpLink(config, passwordOf(config, context)), context),
};
