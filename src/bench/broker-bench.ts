/**
 * `npm run bench:brokers` (and the last part of `npm run bench`): each broker source against what
 * the same broker delivers, in the same run, to a bare consumer that acknowledges every message
 * without storing it (issue target: the source at least 0.5 of the bare consumer).
 *
 * Per broker, shape (readings per message: 1 and 5 by default) and round: the same messages are
 * published twice (not timed), once for the bare consumer and once for the source, each to its own
 * queue, session or stream; then each consumer is timed from connect until it has every reading.
 * The source is the product's own path: the broker source gathering messages into batches, read
 * as the service reads it (an idle answer waited out unless the source wakes the reader),
 * `deliverOne` (parse, validate, identity keys, one SQLite transaction on a fresh file, audit),
 * then the acknowledgements after the commit. Each row also gives this process's CPU time per
 * reading for both (the broker's own CPU is not in it): on a loaded machine it moves less than the
 * rates do.
 *
 *   npm run build && node dist/bench/broker-bench.js [--readings N] [--rounds R] [--shapes 1,5]
 *     [--brokers mqtt,amqp,nats] [--batch-messages M]
 *
 * The bare consumers acknowledge as the sources do: MQTT QoS 1 PUBACK, AMQP `basic.ack` per
 * message (the source: one `multiple` ack a batch), JetStream `ack` per message (the source also
 * flushes once a batch, a round trip the bare consumer does not wait for). Mosquitto queues at most
 * 1,000 messages for an offline session by default (`max_queued_messages`), so the bench starts a
 * Mosquitto of its own on a free loopback port with no such limit and measures MQTT there, with
 * the same messages as the other brokers; when no `mosquitto` program can be started it says so
 * and falls back to the shared broker on 1883, with messages of as many readings as keep a feed
 * under 800 messages. A broker that is not answering on its loopback port is skipped with the
 * reason.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { systemClock, systemRandom } from '../core/clock.js';
import { formatUtcSeconds } from '../core/identity.js';
import { silentLogger } from '../core/log.js';
import { END, isIdle, waitIdle, type Source, type SourceContext } from '../core/source.js';
import { createSourceContext } from '../cli/config/source-context.js';
import { DEFAULT_DICTIONARY } from '../dictionary/dictionary.js';
import { createNdjsonParser } from '../formats/ndjson.js';
import { createValidator } from '../dictionary/validator.js';
import type { IdentifiedReading } from '../pipeline/identify.js';
import { defaultThreads } from '../pipeline/parallel-parse.js';
import { deliverOne } from '../pipeline/run-source.js';
import { BATCH_READINGS_MAX } from '../core/limits.js';
import { freshDatabase, rawInsertCeiling, CEILING_ROWS_PER_STATEMENT } from './raw-insert.js';
import { generateMeterIds } from '../simulator/feed-generator.js';
import { portAnswers } from '../sources/common/loopback-port.js';
import { privateMosquitto } from './private-mosquitto.js';
import { amqpSourceKind, amqpSourceSchema } from '../sources/amqp/amqp-source.js';
import { mqttSourceKind, mqttSourceSchema } from '../sources/mqtt/mqtt-source.js';
import { natsSourceKind, natsSourceSchema } from '../sources/nats/nats-source.js';
import { openSqliteStore, type SqliteStore } from '../store/sqlite/sqlite-store.js';

const { values: flags } = parseArgs({
  options: {
    readings: { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '2' },
    /** Readings per message, one row per shape and broker. */
    shapes: { type: 'string', default: '1,5' },
    brokers: { type: 'string', default: 'mqtt,amqp,nats' },
    /** The sources' `batch.messagesMax`; default: the sources' own default. */
    'batch-messages': { type: 'string' },
  },
});
const BATCH =
  flags['batch-messages'] === undefined
    ? {}
    : { batch: { messagesMax: Number(flags['batch-messages']) } };
const READINGS = Number(flags.readings);
const ROUNDS = Number(flags.rounds);
const SHAPES = flags.shapes.split(',').map(Number);
const BROKERS = new Set(flags.brokers.split(','));
const METERS = 1_000;
const INTERVAL_MS = 900_000;
const FIRST_START_MS = Date.UTC(2026, 2, 1);
/** Below the 1,000 messages Mosquitto's default `max_queued_messages` keeps for a session. */
const MQTT_QUEUED_MAX = 800;

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
        // Each meter's sequence number goes up by one a reading, as a head-end numbers them.
        seq: Math.floor(index / METERS) + 1,
      })}\n`;
    }
    messages.push(Buffer.from(text));
  }
  return messages;
}

/** How one broker is published to, drained bare, and read by the product's source. */
interface BrokerCase {
  readonly key: string;
  readonly name: string;
  readonly port: number;
  /** Messages the broker queues for one consumer at most, or null for no limit. */
  readonly queuedMax: number | null;
  /** Makes a fresh place (queue, session, stream) named `name` that holds `messages`. */
  fill(name: string, messages: readonly Buffer[]): Promise<void>;
  /** Consumes every message of `name`, acknowledging each; resolves once all `count` arrived. */
  bare(name: string, count: number): Promise<void>;
  source(name: string, context: SourceContext): Source;
  remove(name: string): Promise<void>;
}

/** The MQTT case against the broker at 127.0.0.1:`port`. */
function mqttCase(port: number, queuedMax: number | null): BrokerCase {
  const url = `mqtt://127.0.0.1:${port}`;
  return {
    key: 'mqtt',
    name: 'MQTT (Mosquitto)',
    port,
    queuedMax,
    async fill(name, messages) {
      const { default: mqtt } = await import('mqtt');
      const options = { clientId: name, clean: false, protocolVersion: 5 as const };
      const session = await mqtt.connectAsync(url, {
        ...options,
        properties: { sessionExpiryInterval: 3600 },
      });
      await session.subscribeAsync(`bench/${name}`, { qos: 1 });
      await session.endAsync();
      const publisher = await mqtt.connectAsync(url, { protocolVersion: 5 });
      const WINDOW = 500;
      for (let at = 0; at < messages.length; at += WINDOW) {
        const window = messages.slice(at, at + WINDOW);
        await Promise.all(
          window.map((bytes) => publisher.publishAsync(`bench/${name}`, bytes, { qos: 1 })),
        );
      }
      await publisher.endAsync();
    },
    async bare(name, count) {
      const { default: mqtt } = await import('mqtt');
      let seen = 0;
      let done: () => void = () => undefined;
      const all = new Promise<void>((resolve) => (done = resolve));
      const client = mqtt.connect(url, {
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
          url,
          topic: `bench/${name}`,
          clientId: name,
          sessionExpirySeconds: 3600,
          quietMs: 500,
          ...BATCH,
        }),
        context,
      ),
    async remove(name) {
      const { default: mqtt } = await import('mqtt');
      const client = await mqtt.connectAsync(url, {
        clientId: name,
        clean: true,
        protocolVersion: 5,
      });
      await client.endAsync();
    },
  };
}

const amqpCase: BrokerCase = {
  key: 'amqp',
  name: 'AMQP (RabbitMQ)',
  port: 5672,
  queuedMax: null,
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
        ...BATCH,
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
  key: 'nats',
  name: 'NATS JetStream',
  port: 4222,
  queuedMax: null,
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
        ...BATCH,
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
    // As the service runs a delivery (`threads:` unset): a batch under PARALLEL_FROM_BYTES stays
    // on this thread whatever the count.
    threads: defaultThreads(),
  };
  const signal = new AbortController().signal;
  let received = 0;
  try {
    await source.connect(signal, null);
    while (received < READINGS) {
      const next = await source.read(signal);
      if (next === END) break;
      if (isIdle(next)) {
        // As the service waits: the idle answer's time, or until the source wakes it.
        await waitIdle(systemClock, next, signal);
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

/** The readings of one round, validated and keyed, in batches of the store's largest size. */
function ceilingBatches(): IdentifiedReading[][] {
  const parser = createNdjsonParser();
  const validate = createValidator(DEFAULT_DICTIONARY, systemClock);
  const batches: IdentifiedReading[][] = [[]];
  const items = [...parser.push(Buffer.concat(messagesOf(1))), ...parser.end()];
  for (const item of items) {
    if (item.kind !== 'record') throw new Error('the bench feed has a parse reject');
    const result = validate(item.record);
    if (!result.ok) throw new Error(`bench record invalid: ${JSON.stringify(result.reject)}`);
    let batch = batches[batches.length - 1] as IdentifiedReading[];
    if (batch.length === BATCH_READINGS_MAX) batches.push((batch = []));
    batch.push({ reading: result.reading, location: item.record.location });
  }
  return batches;
}

/**
 * The store's ceiling in the same run: the same rows, one a statement, into a fresh migrated
 * SQLite ledger in transactions of BATCH_READINGS_MAX, nothing else (bench.ts's ceiling). No
 * source can commit faster, so against a bare consumer it bounds the ratio any source can reach.
 */
async function storeCeiling(): Promise<number> {
  const batches = ceilingBatches();
  const rates: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const directory = mkdtempSync(join(tmpdir(), 'amisync-broker-bench-ceiling-'));
    try {
      const template = join(directory, 'template.db');
      await openSqliteStore(template, { nowMs: () => 0 }).close();
      const path = join(directory, 'ceiling.db');
      freshDatabase(template, path);
      const { readings, seconds } = rawInsertCeiling(path, batches, CEILING_ROWS_PER_STATEMENT);
      rates.push(Math.round(readings / seconds));
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  }
  return Math.max(...rates);
}

/** This process's CPU time (user and system) since `since`, per reading, in microseconds. */
function cpuMicrosPerReading(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / READINGS;
}

function perSecond(readings: number, ms: number): number {
  return Math.round((readings / ms) * 1000);
}

async function measure(broker: BrokerCase, shape: number, ceiling: number): Promise<void> {
  if (!(await portAnswers(broker.port))) {
    console.log(`${broker.name}: skipped, nothing answers on 127.0.0.1:${broker.port}`);
    return;
  }
  const readingsPerMessage =
    broker.queuedMax === null ? shape : Math.max(shape, Math.ceil(READINGS / broker.queuedMax));
  const messages = messagesOf(readingsPerMessage);
  const bareRates: number[] = [];
  const sourceRates: number[] = [];
  const bareCpu: number[] = [];
  const sourceCpu: number[] = [];
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
          const cpu = process.cpuUsage();
          await broker.bare(bareName, messages.length);
          bareRates.push(perSecond(READINGS, performance.now() - started));
          bareCpu.push(cpuMicrosPerReading(cpu));
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
          const cpu = process.cpuUsage();
          const received = await drainIntoStore(source, store).finally(() => store.close());
          const ms = performance.now() - started;
          sourceCpu.push(cpuMicrosPerReading(cpu));
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
  const least = (micros: number[]) => Math.min(...micros).toFixed(1);
  const ratio = best(sourceRates) / best(bareRates);
  console.log(
    `${broker.name.padEnd(18)} ${String(readingsPerMessage).padStart(3)} readings/message` +
      `  bare consumer ${best(bareRates).toLocaleString('en-US').padStart(9)} reads/s` +
      `  source + store ${best(sourceRates).toLocaleString('en-US').padStart(9)} reads/s` +
      `  ratio ${ratio.toFixed(2)} (target 0.50)` +
      `  ceiling/bare ${(ceiling / best(bareRates)).toFixed(2)}` +
      `  CPU us/reading bare ${least(bareCpu)} source ${least(sourceCpu)}` +
      `  rounds bare ${bareRates.join(', ')}; source ${sourceRates.join(', ')}`,
  );
}

console.log(
  `broker sources: ${READINGS.toLocaleString('en-US')} readings of ${METERS} meters per run, ` +
    `best of ${ROUNDS} alternated rounds`,
);
const scratch = mkdtempSync(join(tmpdir(), 'amisync-broker-bench-mosquitto-'));
const mosquitto = BROKERS.has('mqtt')
  ? await privateMosquitto(scratch, ['max_queued_messages 0'])
  : null;
if (BROKERS.has('mqtt') && mosquitto === null) {
  console.log(
    'MQTT: no mosquitto program to start one with max_queued_messages 0; the shared broker on ' +
      `1883 queues 1,000 messages a session, so its messages carry ${Math.ceil(READINGS / MQTT_QUEUED_MAX)}` +
      ' readings or more',
  );
}
const cases = [
  mosquitto === null ? mqttCase(1883, MQTT_QUEUED_MAX) : mqttCase(mosquitto.port, null),
  amqpCase,
  natsCase,
].filter((broker) => BROKERS.has(broker.key));
const ceiling = await storeCeiling();
console.log(
  `store ceiling: the same rows, raw INSERT into a fresh SQLite ledger, batches of ` +
    `${BATCH_READINGS_MAX.toLocaleString('en-US')}: ${ceiling.toLocaleString('en-US')} reads/s ` +
    `(best of ${ROUNDS}); "ceiling/bare" bounds any source's ratio`,
);
try {
  for (const broker of cases) for (const shape of SHAPES) await measure(broker, shape, ceiling);
} finally {
  await mosquitto?.stop();
  rmSync(scratch, { recursive: true, force: true });
}
