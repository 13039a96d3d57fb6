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
 *
 * What the broker loses never reaches a batch, so the link watches for it (docs/config-brokers.md,
 * "Messages the broker lost"): a CONNACK without a session for a client id that had one, and a
 * rise of the broker's own count of dropped messages (Mosquitto's `$SYS`, broker-wide, read on a
 * second connection and kept in each delivery's saved position so that the time away is
 * covered). Either is an alert and an audit entry; reading goes on. A message published at QoS 0
 * is read and never acknowledged.
 */
import type { IClientOptions, IPublishPacket, MqttClient } from 'mqtt';
import { z } from 'zod';
import { AmisyncError } from '../../core/errors.js';
import type { TimerClock } from '../../core/clock.js';
import type { Logger } from '../../core/log.js';
import type { SourceContext, SourcePosition } from '../../core/source.js';
import type { SourceKind } from '../common/config.js';
import { brokerSourceFields } from '../broker/broker-config.js';
import { countOf, judgeDrops, uptimeMsOf, type DropsSeen } from './mqtt-drops.js';
import {
  BrokerSource,
  type BrokerInbox,
  type BrokerLink,
  type BrokerLoss,
} from '../broker/broker-source.js';

/**
 * Where Mosquitto publishes how many messages it has dropped since it started: when the count
 * changes, retained for about a minute after (mqtt-drops.ts).
 */
export const DROPPED_COUNTER_TOPIC = '$SYS/broker/publish/messages/dropped';

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
    /**
     * The broker's count of messages it dropped (Mosquitto's, broker-wide), watched so that a
     * loss is alerted; null for a broker that publishes no such count.
     */
    droppedCounterTopic: z.string().min(1).max(65_535).nullable().default(DROPPED_COUNTER_TOPIC),
  })
  .strict();

export type MqttSourceConfig = z.infer<typeof mqttSourceSchema>;

/**
 * Mosquitto's uptime, republished every `sys_interval` and so always retained: subscribed to right
 * after the dropped count, in the same packet, it comes after the count's value, so when it comes
 * first the broker gave no value (mqtt-drops.ts says what that means); it also dates the start.
 */
export const UPTIME_TOPIC = '$SYS/broker/uptime';

/** How long the values may take to come, at most, where the uptime never comes. */
export const RETAINED_WAIT_MS = 2_000;

/** What `handleMessage` is answered with so that mqtt.js sends no PUBACK by itself. */
const HELD = new Error('held until its batch commits');

interface MqttHandle {
  readonly client: MqttClient;
  /** null for a message published at QoS 0: the broker expects no acknowledgement of it. */
  readonly packetId: number | null;
}

/** What the link saves with each delivery, and reads back when it opens after a restart. */
const savedSessionSchema = z.object({
  mqtt: z.object({
    url: z.string(),
    clientId: z.string(),
    droppedSeen: z.number().int().nonnegative().nullable(),
    brokerStartedAtMs: z.number().int().nullable().default(null),
  }),
});

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
  readonly #log: Logger;
  readonly #clock: TimerClock;
  #client: MqttClient | null = null;
  /** The connection that watches the broker's dropped count, beside the session's. */
  #watch: MqttClient | null = null;
  /** Whether a CONNACK of this link has created or resumed the session. */
  #hadSession = false;
  /** The broker's count of dropped messages and its start, as last seen. */
  #drops: DropsSeen = { droppedSeen: null, brokerStartedAtMs: null };
  #qos0Told = false;

  constructor(
    config: MqttSourceConfig,
    password: string | null,
    context: Pick<SourceContext, 'log' | 'clock'>,
  ) {
    this.#config = config;
    this.#password = password;
    this.#log = context.log.child({ source: config.id });
    this.#clock = context.clock;
    this.where = `${config.url} topic ${config.topic}`;
  }

  async open(
    inbox: BrokerInbox<MqttHandle>,
    unackedMax: number,
    saved: SourcePosition | null,
  ): Promise<void> {
    const config = this.#config;
    const before = this.#savedSession(saved);
    // A session is expected once this link or a committed delivery of this client id had one.
    const sessionExpected = this.#hadSession || before !== null;
    // Until this link has looked itself, what the last committed delivery saw is all it knows.
    if (!this.#hadSession && before !== null) this.#drops = before;
    const options: IClientOptions = {
      ...this.#connectOptions(),
      clientId: config.clientId,
      clean: false,
      properties: {
        sessionExpiryInterval: config.sessionExpirySeconds,
        receiveMaximum: Math.min(unackedMax, 65_535),
      },
    };
    // Loaded on first connect, so commands that never connect start without it.
    const { default: mqtt } = await import('mqtt');
    const client = mqtt.connect(config.url, options);
    // Set before the connection is made: a resumed session's messages come right after CONNACK.
    client.handleMessage = (packet, callback) => {
      // The broker's own topics are the watch's, never readings (a session an earlier version
      // subscribed to them keeps those subscriptions).
      if (packet.topic.startsWith('$')) {
        callback();
        return;
      }
      const bytes =
        typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
      const message = { id: messageIdOf(packet), bytes, attempt: packet.dup ? 2 : 1 };
      if (packet.qos === 0 || packet.messageId === undefined) {
        this.#tellQos0();
        inbox.take(message, { client, packetId: null });
        callback();
        return;
      }
      inbox.take(message, { client, packetId: packet.messageId });
      callback(HELD);
    };
    const sessionPresent = await this.#connected(client);
    if (sessionExpected && !sessionPresent) inbox.loss(this.#sessionLost());
    this.#hadSession = true;
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
    if (config.droppedCounterTopic !== null) {
      await this.#watchDrops(mqtt, config.droppedCounterTopic, inbox);
    }
  }

  /** How every connection of the link connects: no reconnection of its own, MQTT 5. */
  #connectOptions(): IClientOptions {
    const config = this.#config;
    return {
      protocolVersion: 5,
      reconnectPeriod: 0,
      connectTimeout: config.connectTimeoutMs,
      keepalive: config.keepaliveSeconds,
      ...(config.username === undefined ? {} : { username: config.username }),
      ...(this.#password === null ? {} : { password: this.#password }),
    };
  }

  /** Saved with each delivery: which session, and the broker's dropped count seen by then. */
  position(): SourcePosition {
    const { url, clientId } = this.#config;
    return { mqtt: { url, clientId, ...this.#drops } };
  }

  /** The saved position of this broker and client id; null for none, another's, or unreadable. */
  #savedSession(saved: SourcePosition | null): DropsSeen | null {
    const parsed = savedSessionSchema.safeParse(saved);
    if (!parsed.success) return null;
    const { url, clientId, droppedSeen, brokerStartedAtMs } = parsed.data.mqtt;
    const same = url === this.#config.url && clientId === this.#config.clientId;
    return same ? { droppedSeen, brokerStartedAtMs } : null;
  }

  #sessionLost(): BrokerLoss {
    const { clientId, sessionExpirySeconds } = this.#config;
    return {
      cause: 'session-lost',
      severity: 'critical',
      message:
        `${this.where}: the broker kept no session for client id ${clientId}, which this ` +
        `source had used before (away longer than sessionExpirySeconds, ${sessionExpirySeconds}, ` +
        'or the broker restarted without persistence, or another client took the id with a ' +
        'clean start): messages published while it was away were not kept for it, and their ' +
        'readings are missing unless the head-end sends them again',
      figures: { clientId, sessionExpirySeconds },
    };
  }

  /**
   * Watches the broker's dropped count on a connection of its own (clean, with an id the broker
   * gives): on the session's, the retained values would queue behind the session's messages while
   * its in-flight window is full. Resolves once the retained values are read (the uptime comes
   * last), so that no delivery is handed over, and saved, with a value older than the broker's.
   * A broker that refuses the connection or the subscription (an ACL on `$SYS`) is read without
   * the watch, and says so once a connection.
   */
  async #watchDrops(
    mqtt: typeof import('mqtt').default,
    topic: string,
    inbox: BrokerInbox<MqttHandle>,
  ): Promise<void> {
    await this.#endWatch();
    let count: string | null = null;
    let uptimeCame: ((uptime: string | null) => void) | null = null;
    const uptime = new Promise<string | null>((resolve) => {
      uptimeCame = resolve;
    });
    try {
      const watch = await mqtt.connectAsync(this.#config.url, this.#connectOptions());
      this.#watch = watch;
      watch.on('error', () => undefined);
      watch.on('message', (name, payload) => {
        const text = payload.toString();
        if (uptimeCame !== null) {
          // The retained values, in the order subscribed: the count (if any), then the uptime.
          if (name === topic) count = text;
          else if (name === UPTIME_TOPIC) uptimeCame(text);
        } else if (name === topic) {
          this.#observed(text, null, inbox);
        }
      });
      await watch.subscribeAsync([topic, UPTIME_TOPIC], { qos: 0 });
    } catch (error) {
      await this.#endWatch();
      this.#log.warn(
        { topic, error: (error as Error).message },
        `${this.where}: cannot watch ${topic}, so messages the broker drops are not seen: ` +
          (error as Error).message,
      );
      return;
    }
    const stop = new AbortController();
    const came = await Promise.race([
      uptime,
      this.#clock.sleep(RETAINED_WAIT_MS, stop.signal).then(() => null),
    ]);
    stop.abort();
    uptimeCame = null;
    this.#observed(count, came, inbox);
  }

  async #endWatch(): Promise<void> {
    const watch = this.#watch;
    this.#watch = null;
    if (watch !== null) await watch.endAsync(true).catch(() => undefined);
  }

  /** A value of the count (and, at a connection, the uptime): a loss when it rose since seen. */
  #observed(count: string | null, uptime: string | null, inbox: BrokerInbox<MqttHandle>): void {
    const before = this.#drops;
    const counted = count === null ? null : countOf(count);
    if (count !== null && counted === null) {
      this.#log.warn(
        { topic: this.#config.droppedCounterTopic, value: count.slice(0, 64) },
        `${this.where}: the broker's dropped count is not a whole number; taken as no value`,
      );
    }
    const judged = judgeDrops(before, {
      count: counted,
      uptimeMs: uptime === null ? null : uptimeMsOf(uptime),
      nowMs: this.#clock.nowMs(),
    });
    this.#drops = judged.seen;
    if (judged.dropped === null) return;
    const { dropped, restarted, countedFrom } = judged;
    const counter = judged.seen.droppedSeen;
    const how =
      dropped === 'unknown'
        ? `dropped messages since this source last looked (its count is now ${counter}; it ` +
          'gave none then, so how many is not known)'
        : `dropped ${dropped} message(s) since this source last looked (its count went from ` +
          `${countedFrom} to ${counter}` +
          (restarted ? ', counted again from 0 since the broker restarted' : '') +
          ')';
    inbox.loss({
      cause: 'dropped',
      severity: 'warning',
      message:
        `${this.where}: the broker says it ${how}. The count covers all its clients (one away ` +
        'longer than its queue allows, or with a full in-flight window): any that were ' +
        'published for this source are missing; compare with the head-end',
      figures: {
        dropped: dropped === 'unknown' ? null : dropped,
        counter,
        counterBefore: before.droppedSeen,
        counterRestarted: restarted,
      },
    });
  }

  /** QoS 0 messages are read too, but a crash before their commit loses them: said once. */
  #tellQos0(): void {
    if (this.#qos0Told) return;
    this.#qos0Told = true;
    this.#log.warn(
      { topic: this.#config.topic },
      `${this.where}: messages published at QoS 0 are read, but the broker cannot deliver them ` +
        'again, so a crash before their batch commits loses them: publish at QoS 1',
    );
  }

  /** Resolves at CONNACK with whether the broker resumed a session for the client id. */
  #connected(client: MqttClient): Promise<boolean> {
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
      client.once('connect', (connack) => {
        client.removeListener('error', fail);
        client.removeListener('close', closed);
        resolve(connack.sessionPresent);
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
    const live = handles.flatMap((handle) =>
      handle.client === client && handle.packetId !== null ? [handle.packetId] : [],
    );
    if (live.length === 0) return;
    const bytes = pubacks(live);
    await new Promise<void>((resolve) => {
      client.stream.write(bytes, () => resolve());
    });
  }

  /** MQTT cannot hand a message back: the session is closed, so the broker delivers it again. */
  async nack(): Promise<void> {
    const client = this.#client;
    this.#client = null;
    await this.#endWatch();
    if (client !== null) await client.endAsync(true).catch(() => undefined);
  }

  /** A clean DISCONNECT after the PUBACKs written; the session stays for its expiry. */
  async close(): Promise<void> {
    const client = this.#client;
    this.#client = null;
    await this.#endWatch();
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
    new BrokerSource(config, new MqttLink(config, passwordOf(config, context), context), context),
};
