/**
 * `npm run bench:brokers` (and the last part of `npm run bench`): each broker source against what
 * the same broker delivers, in the same run, to a bare consumer that acknowledges every message
 * without storing it (issue target: the source at least 0.5 of the bare consumer).
 *
 * Per broker and round: the same messages are published twice (not timed), once for the bare
 * consumer and once for the source, each to its own queue, session or stream; then each consumer
 * is timed from connect until it has every reading. The source is the product's own path: the
 * broker source gathering messages into batches, `deliverOne` (parse, validate, identity keys,
 * one SQLite transaction on a fresh file, audit), then the acknowledgements after the commit.
 *
 *   npm run build && node dist/bench/broker-bench.js [--readings N] [--rounds R]
 *
 * The bare consumers acknowledge as the sources do: MQTT QoS 1 PUBACK, AMQP `basic.ack` per
 * message, JetStream `ack` per message (the source waits for each acknowledgement's confirmation,
 * `ackAck`; the bare consumer does not, so its figure is the harder bound). Mosquitto queues at
 * most 1,000 messages for a session by default (`max_queued_messages`), so MQTT messages carry
 * more readings each than AMQP and NATS messages do; both sizes are printed. A broker that is not
 * answering on its loopback port is skipped with the reason.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { systemClock, systemRandom } from '../core/clock.js';
import { formatUtcSeconds } from '../core/identity.js';
import { silentLogger } from '../core/log.js';
import { END, isIdle, type Source, type SourceContext } from '../core/source.js';
import { createSourceContext } from '../cli/config/source-context.js';
import { DEFAULT_DICTIONARY } from '../dictionary/dictionary.js';
import { deliverOne } from '../pipeline/run-source.js';
import { generateMeterIds } from '../simulator/feed-generator.js';
import { portAnswers } from '../sources/broker/port-answers.js';
import { amqpSourceKind, amqpSourceSchema } from '../sources/amqp/amqp-source.js';
import { mqttSourceKind, mqttSourceSchema } from '../sources/mqtt/mqtt-source.js';
import { natsSourceKind, natsSourceSchema } from '../sources/nats/nats-source.js';
import { openSqliteStore, type SqliteStore } from '../store/sqlite/sqlite-store.js';

const { values: flags } = parseArgs({
  options: {
    readings: { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '2' },
  },
});
const READINGS = Number(flags.readings);
const ROUNDS = Number(flags.rounds);
const METERS = 1_000;
const INTERVAL_MS = 900_000;
const FIRST_START_MS = Date.UTC(2026, 2, 1);
const MQTT_QUEUED_MAX = 800;
const BROKER_READINGS_PER_MESSAGE = 5;

/** The messages of one round: NDJSON texts of consecutive readings, interval-major. */
function messagesOf(readingsPerMessage: number): Buffer[] {
  const meters = generateMeterIds(11, METERS);
  const messages: Buffer[] = [];
  for (let first = 0; first < READINGS; first += readingsPerMessage) {
    let text = '';
    for (let index = first; index < Math.min(READINGS, first + readingsPerMessage); index++) {
      const start = FIRST_START_MS + Math.floor(index / METERS) * INTERVAL_MS;
      const kwh = ((index * 7919) % 2000) / 1000 + 0.05;
      text += `${JSON.stringify({
        meter_id: meters[index % METERS],
        timestamp_utc: formatUtcSeconds(start),
        consumption_kwh: kwh.toFixed(3),
        status_code: 0,
        seq: 1,
      })}\n`;
    }
    messages.push(Buffer.from(text));
  }
  return messages;
}

/** How one broker is published to, drained bare, and read by the product's source. */
interface BrokerCase {
  readonly name: string;
  readonly port: number;
  readonly readingsPerMessage: number;
  /** Makes a fresh place (queue, session, stream) named `name` that holds `messages`. */
  fill(name: string, messages: readonly Buffer[]): Promise<void>;
  /** Consumes every message of `name`, acknowledging each; resolves once all `count` arrived. */
  bare(name: string, count: number): Promise<void>;
  source(name: string, context: SourceContext): Source;
  remove(name: string): Promise<void>;
}

const mqttCase: BrokerCase = {
  name: 'MQTT (Mosquitto)',
  port: 1883,
  readingsPerMessage: Math.ceil(READINGS / MQTT_QUEUED_MAX),
  async fill(name, messages) {
    const { default: mqtt } = await import('mqtt');
    const options = { clientId: name, clean: false, protocolVersion: 5 as const };
    const session = await mqtt.connectAsync('mqtt://127.0.0.1:1883', {
      ...options,
      properties: { sessionExpiryInterval: 3600 },
    });
    await session.subscribeAsync(`bench/${name}`, { qos: 1 });
    await session.endAsync();
    const publisher = await mqtt.connectAsync('mqtt://127.0.0.1:1883', { protocolVersion: 5 });
    await Promise.all(
      messages.map((bytes) => publisher.publishAsync(`bench/${name}`, bytes, { qos: 1 })),
    );
    await publisher.endAsync();
  },
  async bare(name, count) {
    const { default: mqtt } = await import('mqtt');
    let seen = 0;
    let done: () => void = () => undefined;
    const all = new Promise<void>((resolve) => (done = resolve));
    const client = mqtt.connect('mqtt://127.0.0.1:1883', {
      clientId: name,
      clean: false,
      protocolVersion: 5,
      properties: { sessionExpiryInterval: 3600, receiveMaximum: 2000 },
    });
    client.on('message', () => {
      seen += 1;
      if (seen === count) done();
    });
    await all;
    await client.endAsync();
  },
  source: (name, context) =>
    mqttSourceKind.create(
      mqttSourceSchema.parse({
        kind: 'mqtt',
        id: 'bench-mqtt',
        url: 'mqtt://127.0.0.1:1883',
        topic: `bench/${name}`,
        clientId: name,
        sessionExpirySeconds: 3600,
        quietMs: 500,
      }),
      context,
    ),
  async remove(name) {
    const { default: mqtt } = await import('mqtt');
    const client = await mqtt.connectAsync('mqtt://127.0.0.1:1883', {
      clientId: name,
      clean: true,
      protocolVersion: 5,
    });
    await client.endAsync();
  },
};

const amqpCase: BrokerCase = {
  name: 'AMQP (RabbitMQ)',
  port: 5672,
  readingsPerMessage: BROKER_READINGS_PER_MESSAGE,
  async fill(name, messages) {
    const amqp = await import('amqplib');
    const connection = await amqp.connect('amqp://guest:guest@127.0.0.1:5672');
    const channel = await connection.createConfirmChannel();
    await channel.assertQueue(name, { durable: true });
    for (const bytes of messages) channel.sendToQueue(name, bytes, { persistent: true });
    await channel.waitForConfirms();
    await connection.close();
  },
  async bare(name, count) {
    const amqp = await import('amqplib');
    const connection = await amqp.connect('amqp://guest:guest@127.0.0.1:5672');
    const channel = await connection.createChannel();
    await channel.prefetch(2000);
    let seen = 0;
    await new Promise<void>((resolve) => {
      void channel.consume(name, (message) => {
        if (message === null) return;
        channel.ack(message);
        seen += 1;
        if (seen === count) resolve();
      });
    });
    await connection.close();
  },
  source: (name, context) =>
    amqpSourceKind.create(
      amqpSourceSchema.parse({
        kind: 'amqp',
        id: 'bench-amqp',
        url: 'amqp://127.0.0.1:5672',
        queue: name,
        quietMs: 500,
      }),
      context,
    ),
  async remove(name) {
    const amqp = await import('amqplib');
    const connection = await amqp.connect('amqp://guest:guest@127.0.0.1:5672');
    const channel = await connection.createChannel();
    await channel.deleteQueue(name);
    await connection.close();
  },
};

const natsCase: BrokerCase = {
  name: 'NATS JetStream',
  port: 4222,
  readingsPerMessage: BROKER_READINGS_PER_MESSAGE,
  async fill(name, messages) {
    const { connect } = await import('@nats-io/transport-node');
    const { jetstream, jetstreamManager } = await import('@nats-io/jetstream');
    const connection = await connect({ servers: '127.0.0.1:4222' });
    const manager = await jetstreamManager(connection);
    await manager.streams.add({ name, subjects: [`bench.${name}`] });
    const stream = jetstream(connection);
    const WINDOW = 500;
    for (let at = 0; at < messages.length; at += WINDOW) {
      const window = messages.slice(at, at + WINDOW);
      await Promise.all(window.map((bytes) => stream.publish(`bench.${name}`, bytes)));
    }
    await connection.close();
  },
  async bare(name, count) {
    const { connect } = await import('@nats-io/transport-node');
    const { jetstream, jetstreamManager, AckPolicy } = await import('@nats-io/jetstream');
    const connection = await connect({ servers: '127.0.0.1:4222' });
    const manager = await jetstreamManager(connection);
    await manager.consumers.add(name, {
      durable_name: 'bare',
      ack_policy: AckPolicy.Explicit,
      max_ack_pending: 2000,
    });
    const consumer = await jetstream(connection).consumers.get(name, 'bare');
    const messages = await consumer.consume();
    let seen = 0;
    for await (const message of messages) {
      message.ack();
      seen += 1;
      if (seen === count) break;
    }
    await connection.flush();
    await connection.close();
  },
  source: (name, context) =>
    natsSourceKind.create(
      natsSourceSchema.parse({
        kind: 'nats',
        id: 'bench-nats',
        url: 'nats://127.0.0.1:4222',
        stream: name,
        subject: `bench.${name}`,
        durable: 'source',
        quietMs: 500,
      }),
      context,
    ),
  async remove(name) {
    const { connect } = await import('@nats-io/transport-node');
    const { jetstreamManager } = await import('@nats-io/jetstream');
    const connection = await connect({ servers: '127.0.0.1:4222' });
    const manager = await jetstreamManager(connection);
    await manager.streams.delete(name).catch(() => undefined);
    await connection.close();
  },
};

/** Reads `source` into `store` until every reading is in; returns the received count. */
async function drainIntoStore(source: Source, store: SqliteStore): Promise<number> {
  const options = {
    store,
    dictionary: DEFAULT_DICTIONARY,
    clock: systemClock,
    random: systemRandom,
    detectors: [],
    log: silentLogger,
  };
  const signal = new AbortController().signal;
  let received = 0;
  try {
    await source.connect(signal, null);
    while (received < READINGS) {
      const next = await source.read(signal);
      if (next === END) break;
      if (isIdle(next)) {
        await new Promise((resolve) => setTimeout(resolve, Math.min(next.afterMs, 5)));
        continue;
      }
      const report = await deliverOne(source, next, options);
      received += report.counts.received;
    }
  } finally {
    await source.close();
  }
  return received;
}

function perSecond(readings: number, ms: number): number {
  return Math.round((readings / ms) * 1000);
}

async function measure(broker: BrokerCase): Promise<void> {
  if (!(await portAnswers(broker.port))) {
    console.log(`${broker.name}: skipped, nothing answers on 127.0.0.1:${broker.port}`);
    return;
  }
  const messages = messagesOf(broker.readingsPerMessage);
  const bareRates: number[] = [];
  const sourceRates: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const suffix = `${process.pid}-${Date.now().toString(36)}-${round}`;
    const bareName = `amisync-bench-bare-${suffix}`;
    const sourceName = `amisync-bench-source-${suffix}`;
    await broker.fill(bareName, messages);
    await broker.fill(sourceName, messages);
    const directory = mkdtempSync(join(tmpdir(), 'amisync-broker-bench-'));
    try {
      // Alternated: bare first in even rounds, the source first in odd ones.
      const runs = [
        async () => {
          const started = performance.now();
          await broker.bare(bareName, messages.length);
          bareRates.push(perSecond(READINGS, performance.now() - started));
        },
        async () => {
          const store = openSqliteStore(join(directory, 'bench.db'), { nowMs: () => Date.now() });
          const context = createSourceContext({
            store,
            clock: systemClock,
            random: systemRandom,
            log: silentLogger,
            env: {},
          });
          const source = broker.source(sourceName, context);
          const started = performance.now();
          const received = await drainIntoStore(source, store).finally(() => store.close());
          const ms = performance.now() - started;
          if (received !== READINGS) {
            throw new Error(`${broker.name}: the source received ${received} of ${READINGS}`);
          }
          sourceRates.push(perSecond(READINGS, ms));
        },
      ];
      for (const run of round % 2 === 0 ? runs : runs.reverse()) await run();
    } finally {
      rmSync(directory, { recursive: true, force: true });
      await broker.remove(bareName).catch(() => undefined);
      await broker.remove(sourceName).catch(() => undefined);
    }
  }
  const best = (rates: number[]) => Math.max(...rates);
  const ratio = best(sourceRates) / best(bareRates);
  console.log(
    `${broker.name.padEnd(18)} ${String(broker.readingsPerMessage).padStart(3)} readings/message` +
      `  bare consumer ${best(bareRates).toLocaleString('en-US').padStart(9)} reads/s` +
      `  source + store ${best(sourceRates).toLocaleString('en-US').padStart(9)} reads/s` +
      `  ratio ${ratio.toFixed(2)} (target 0.50)` +
      `  rounds bare ${bareRates.join(', ')}; source ${sourceRates.join(', ')}`,
  );
}

console.log(
  `broker sources: ${READINGS.toLocaleString('en-US')} readings of ${METERS} meters per run, ` +
    `best of ${ROUNDS} alternated rounds`,
);
for (const broker of [mqttCase, amqpCase, natsCase]) await measure(broker);
