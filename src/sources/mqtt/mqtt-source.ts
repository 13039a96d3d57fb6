/**
 * An MQTT topic filter as a broker source (`kind: mqtt`): MQTT 5, QoS 1, on a persistent session
 * (clean start off, a session expiry), so that what the broker holds for the client id survives a
 * restart and is delivered again. Each message is acknowledged (PUBACK) only after the batch
 * holding it has committed; the client's receive maximum bounds what the broker sends before that.
 *
 * mqtt.js 5.16 sends a QoS 1 PUBACK from the callback of `handleMessage`, and reads no further
 * packet until that callback is called, so holding it for a whole batch would stall the
 * connection after the first message. The link therefore answers `handleMessage` at once with a
 * held marker (no PUBACK is sent for a callback given an error) and writes the batch's PUBACKs
 * itself, once it has committed, to the client's socket. MQTT has no negative acknowledgement:
 * `nack` closes the connection, and the broker delivers every unacknowledged message again when
 * the session is resumed.
 */
import type { IClientOptions, IPublishPacket, MqttClient } from 'mqtt';
import { z } from 'zod';
import { AmisyncError } from '../../core/errors.js';
import type { SourceContext } from '../../core/source.js';
import type { SourceKind } from '../common/config.js';
import { brokerSourceFields } from '../broker/broker-config.js';
import { BrokerSource, type BrokerInbox, type BrokerLink } from '../broker/broker-source.js';

export const mqttSourceSchema = z
  .object({
    kind: z.literal('mqtt'),
    ...brokerSourceFields,
    /** `mqtt://host:port` (or `mqtts://`). Credentials go in username and password*, never here. */
    url: z
      .string()
      .regex(/^mqtts?:\/\/[^/@\s]+$/, 'mqtt://host:port or mqtts://host:port, no credentials'),
    /** A topic filter, wildcards allowed: `meters/+/readings`. */
    topic: z.string().min(1).max(65_535),
    /** The client id the broker keeps the session under: stable, and one process at a time. */
    clientId: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, 'letters, digits, - and _, at most 128'),
    /** How long the broker keeps the session (and queues messages) while the source is away. */
    sessionExpirySeconds: z.number().int().min(1).max(4_294_967_295).default(86_400),
    username: z.string().min(1).optional(),
    passwordEnv: z.string().min(1).optional(),
    passwordFile: z.string().min(1).optional(),
    connectTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
    keepaliveSeconds: z.number().int().min(0).max(65_535).default(30),
  })
  .strict();

export type MqttSourceConfig = z.infer<typeof mqttSourceSchema>;

/** What `handleMessage` is answered with so that mqtt.js sends no PUBACK by itself. */
const HELD = new Error('held until its batch commits');

interface MqttHandle {
  readonly client: MqttClient;
  readonly packetId: number;
}

/** The publisher's `message-id` user property, else the topic and packet id. */
function messageIdOf(packet: IPublishPacket): string {
  const property = packet.properties?.userProperties?.['message-id'];
  const id = Array.isArray(property) ? property[0] : property;
  return id ?? `${packet.topic}#${packet.messageId ?? 0}`;
}

/**
 * A batch's PUBACKs as one buffer: MQTT 5 lets a success PUBACK without properties omit its
 * reason code (remaining length 2), so each is 4 bytes: type, length and the packet id.
 */
export function pubacks(packetIds: readonly number[]): Buffer {
  const bytes = Buffer.allocUnsafe(PUBACK_BYTES * packetIds.length);
  packetIds.forEach((packetId, index) => {
    const at = index * PUBACK_BYTES;
    bytes[at] = PUBACK_TYPE;
    bytes[at + 1] = 2;
    bytes.writeUInt16BE(packetId, at + 2);
  });
  return bytes;
}

const PUBACK_TYPE = 0x40;
const PUBACK_BYTES = 4;

export class MqttLink implements BrokerLink<MqttHandle> {
  readonly where: string;
  readonly #config: MqttSourceConfig;
  readonly #password: string | null;
  #client: MqttClient | null = null;

  constructor(config: MqttSourceConfig, password: string | null) {
    this.#config = config;
    this.#password = password;
    this.where = `${config.url} topic ${config.topic}`;
  }

  async open(inbox: BrokerInbox<MqttHandle>, unackedMax: number): Promise<void> {
    const config = this.#config;
    const options: IClientOptions = {
      clientId: config.clientId,
      clean: false,
      protocolVersion: 5,
      properties: {
        sessionExpiryInterval: config.sessionExpirySeconds,
        receiveMaximum: Math.min(unackedMax, 65_535),
      },
      reconnectPeriod: 0,
      connectTimeout: config.connectTimeoutMs,
      keepalive: config.keepaliveSeconds,
      ...(config.username === undefined ? {} : { username: config.username }),
      ...(this.#password === null ? {} : { password: this.#password }),
    };
    // Loaded on first connect, so commands that never connect start without it.
    const { default: mqtt } = await import('mqtt');
    const client = mqtt.connect(config.url, options);
    // Set before the connection is made: a resumed session's messages come right after CONNACK.
    client.handleMessage = (packet, callback) => {
      if (packet.qos === 1 && packet.messageId !== undefined) {
        const bytes =
          typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
        const message = { id: messageIdOf(packet), bytes, attempt: packet.dup ? 2 : 1 };
        inbox.take(message, { client, packetId: packet.messageId });
      }
      callback(HELD);
    };
    await this.#connected(client);
    client.on('close', () => {
      if (this.#client === client) inbox.lost(new Error('the broker closed the connection'));
    });
    client.on('error', (error) => inbox.lost(error));
    this.#client = client;
    try {
      await client.subscribeAsync(config.topic, { qos: 1 });
    } catch (error) {
      await this.close();
      throw new AmisyncError(
        'TRANSPORT_PROTOCOL',
        `${this.where}: the subscription was refused: ${(error as Error).message}`,
      );
    }
  }

  #connected(client: MqttClient): Promise<void> {
    return new Promise((resolve, reject) => {
      const fail = (error: Error) => {
        client.end(true);
        reject(
          new AmisyncError(
            /not authorized|bad user name/i.test(error.message)
              ? 'TRANSPORT_AUTH_FAILED'
              : 'TRANSPORT_UNAVAILABLE',
            `${this.#config.url}: cannot connect: ${error.message}`,
          ),
        );
      };
      client.once('connect', () => {
        client.removeListener('error', fail);
        client.removeListener('close', closed);
        resolve();
      });
      const closed = () => fail(new Error('the connection closed before CONNACK'));
      client.once('error', fail);
      client.once('close', closed);
    });
  }

  /**
   * PUBACKs for the batch, on the connection that delivered it, in one write to its socket (one
   * packet at a time through the client cost more than the rest of a one-reading message's
   * path). Once that connection is gone the broker delivers the messages again on the next
   * session: nothing is sent (packet ids are the connection's own and may name other messages on
   * a new one). A failed write is the connection's loss, reported by its close.
   */
  async ack(handles: readonly MqttHandle[]): Promise<void> {
    const client = this.#client;
    if (client === null || !client.connected) return;
    const live = handles.filter((handle) => handle.client === client);
    if (live.length === 0) return;
    const bytes = pubacks(live.map((handle) => handle.packetId));
    await new Promise<void>((resolve) => {
      client.stream.write(bytes, () => resolve());
    });
  }

  /** MQTT cannot hand a message back: the session is closed, so the broker delivers it again. */
  async nack(): Promise<void> {
    const client = this.#client;
    this.#client = null;
    if (client !== null) await client.endAsync(true).catch(() => undefined);
  }

  /** A clean DISCONNECT after the PUBACKs written; the session stays for its expiry. */
  async close(): Promise<void> {
    const client = this.#client;
    this.#client = null;
    if (client !== null) await client.endAsync(!client.connected).catch(() => undefined);
  }
}

function passwordOf(config: MqttSourceConfig, context: SourceContext): string | null {
  if (config.passwordEnv === undefined && config.passwordFile === undefined) return null;
  return context.secret({ env: config.passwordEnv, file: config.passwordFile }, 'password');
}

export const mqttSourceKind: SourceKind<MqttSourceConfig> = {
  kind: 'mqtt',
  schema: mqttSourceSchema,
  create: (config, context) =>
    new BrokerSource(config, new MqttLink(config, passwordOf(config, context)), context),
};
