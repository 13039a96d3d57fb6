/**
 * `amisync simulate publish --to mqtt://...|amqp://...|nats://... --subject S`: a head-end that
 * publishes a generated feed to a message broker, one to a few readings per message, with the
 * feed generator's faults and the plan's (poison messages, messages published twice with the same
 * id), and writes the truth the ledger must end with (simulator/publish-plan.ts).
 *
 * Each broker is published to as a careful head-end would: MQTT 5 at QoS 1 (each publish waits for
 * its PUBACK); AMQP persistent messages on a confirm channel, to a durable queue named by the
 * subject (declared) or to `--exchange` with the subject as routing key; NATS JetStream with
 * `Nats-Msg-Id`, into a stream (`--stream`, created with the subject when missing) whose duplicate
 * window drops a message published twice.
 *
 * A message the broker took but routed nowhere is lost to every consumer, and the truth file would
 * then expect readings no ledger can hold: MQTT's PUBACK says so (reason code 16, no matching
 * subscribers) and AMQP returns a mandatory message no queue took. Both are counted and printed.
 */
import type { Command } from 'commander';
// Each broker's client is loaded when a publish to that broker starts: the CLI starts without them.
import { AmisyncError } from '../../core/errors.js';
import { timersOf } from '../../pipeline/run-source.js';
import { generateFeed, generateMeterIds } from '../../simulator/feed-generator.js';
import { partitionSubject } from '../../core/partition.js';
import {
  planMessages,
  planPartitionedMessages,
  publishExtra,
  type PublishMessage,
} from '../../simulator/publish-plan.js';
import { repeatKinds } from '../../simulator/rest/rest-feed.js';
import { feedTruth, writeTruth, type Truth } from '../../simulator/truth.js';
import { runtime } from '../context.js';
import { handleError, printJson, printLines } from '../output.js';
import { integer, rate, startOf } from './simulate-drop.js';

export interface SimulatePublishFlags {
  to: string;
  subject: string;
  stream?: string;
  exchange?: string;
  meters: string;
  days: string;
  seed: string;
  start: string;
  readingsPerMessage: string;
  poisonRate: string;
  repeatRate: string;
  retransmitRate: string;
  estimateRate: string;
  conflictRate: string;
  badRate: string;
  paceMs: string;
  /** NATS: publish partition k's messages to `<subject>.p<k>` (docs/workers.md). */
  partitions?: string;
  truth?: string;
  json?: boolean;
}

export interface SimulatePublishSummary {
  to: string;
  subject: string;
  /** Distinct messages (ids) of the plan. */
  messages: number;
  /** Messages sent, repeats included. */
  published: number;
  /** Repeats the broker dropped as duplicates (NATS, by Nats-Msg-Id). */
  droppedByBroker: number;
  /**
   * Messages the broker took but routed to no subscription or queue, so that no consumer gets
   * them: MQTT PUBACKs with reason code 16, AMQP mandatory messages returned unroutable.
   */
  unrouted: number;
  truth: Truth;
}

const INTERVALS_PER_DAY = 96;
const PUBLISH_ATTEMPTS_MAX = 3;

/**
 * What the broker did with a message: kept it for its consumers, dropped it as a repeat of one it
 * holds, or took it and routed it nowhere.
 */
type Taken = 'kept' | 'repeat' | 'unrouted';

/** One broker's publishing side. `send` resolves once the broker has taken the message. */
interface Publisher {
  send(message: PublishMessage): Promise<Taken>;
  close(): Promise<void>;
}

/** MQTT 5 PUBACK reason code: the broker has no subscription matching the topic. */
const MQTT_NO_MATCHING_SUBSCRIBERS = 16;
/** Mosquitto's default `max_queued_messages`: messages kept for a persistent session away. */
const MQTT_QUEUED_DEFAULT = 1000;

async function mqttPublisher(url: string, topic: string): Promise<Publisher> {
  const { default: mqtt } = await import('mqtt');
  const client = await mqtt.connectAsync(url, { protocolVersion: 5, reconnectPeriod: 0 });
  // The client resolves a publish without its PUBACK's reason code: read it as the packet arrives.
  const unrouted = new Set<number>();
  client.on('packetreceive', (packet) => {
    if (packet.cmd === 'puback' && packet.reasonCode === MQTT_NO_MATCHING_SUBSCRIBERS) {
      unrouted.add(packet.messageId as number);
    }
  });
  return {
    async send(message) {
      const sent = await client.publishAsync(topic, message.text, {
        qos: 1,
        properties: { userProperties: { 'message-id': message.id } },
      });
      const messageId = sent?.messageId;
      if (messageId === undefined || !unrouted.delete(messageId)) return 'kept';
      return 'unrouted';
    },
    close: () => client.endAsync(),
  };
}

async function amqpPublisher(url: string, subject: string, exchange?: string): Promise<Publisher> {
  const { default: amqp } = await import('amqplib');
  const connection = await amqp.connect(url);
  const channel = await connection.createConfirmChannel();
  if (exchange === undefined) await channel.assertQueue(subject, { durable: true });
  // A mandatory message no queue takes comes back (basic.return) before the broker confirms it.
  const returned = new Set<string>();
  channel.on('return', (back: { properties: { messageId?: unknown } }) => {
    if (typeof back.properties.messageId === 'string') returned.add(back.properties.messageId);
  });
  return {
    async send(message) {
      const content = Buffer.from(message.text);
      const options = {
        persistent: true,
        mandatory: true,
        messageId: message.id,
        contentType: 'application/json',
      };
      await new Promise<void>((resolve, reject) => {
        const settled = (error: unknown) => (error == null ? resolve() : reject(error as Error));
        if (exchange === undefined) channel.sendToQueue(subject, content, options, settled);
        else channel.publish(exchange, subject, content, options, settled);
      });
      return returned.delete(message.id) ? 'unrouted' : 'kept';
    },
    close: () => connection.close(),
  };
}

async function natsPublisher(
  url: string,
  subject: string,
  stream: string,
  partitioned: boolean,
): Promise<Publisher> {
  const { jetstream, jetstreamManager, StorageType } = await import('@nats-io/jetstream');
  const { connect: connectNats } = await import('@nats-io/transport-node');
  const connection = await connectNats({ servers: url, reconnect: false });
  const manager = await jetstreamManager(connection);
  try {
    await manager.streams.info(stream);
  } catch {
    const subjects = [partitioned ? `${subject}.*` : subject];
    await manager.streams.add({ name: stream, subjects, storage: StorageType.File });
  }
  const client = jetstream(connection);
  const subjectOf = (message: PublishMessage) =>
    partitioned ? partitionSubject(subject, message.partition) : subject;
  return {
    async send(message) {
      const ack = await client.publish(subjectOf(message), message.text, { msgID: message.id });
      return ack.duplicate ? 'repeat' : 'kept';
    },
    close: () => connection.close(),
  };
}

function publisherFor(flags: SimulatePublishFlags): Promise<Publisher> {
  const scheme = /^([a-z]+):\/\//.exec(flags.to)?.[1];
  switch (scheme) {
    case 'mqtt':
    case 'mqtts':
      return mqttPublisher(flags.to, flags.subject);
    case 'amqp':
    case 'amqps':
      return amqpPublisher(flags.to, flags.subject, flags.exchange);
    case 'nats':
      if (flags.stream === undefined) {
        throw new AmisyncError('USAGE', '--stream is required with --to nats://...', {
          flag: '--stream',
        });
      }
      return natsPublisher(flags.to, flags.subject, flags.stream, flags.partitions !== undefined);
    default:
      throw new AmisyncError(
        'USAGE',
        `--to must start with mqtt://, amqp:// or nats://, not ${JSON.stringify(flags.to)}`,
        { flag: '--to' },
      );
  }
}

async function connectPublisher(flags: SimulatePublishFlags): Promise<Publisher> {
  try {
    return await publisherFor(flags);
  } catch (error) {
    if (error instanceof AmisyncError) throw error;
    throw new AmisyncError(
      'TRANSPORT_UNAVAILABLE',
      `${flags.to}: cannot connect: ${(error as Error).message}`,
    );
  }
}

/** Sends one message, again after a failure (at most PUBLISH_ATTEMPTS_MAX times). */
async function sendOne(publisher: Publisher, message: PublishMessage): Promise<Taken> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await publisher.send(message);
    } catch (error) {
      if (attempt >= PUBLISH_ATTEMPTS_MAX) {
        throw new AmisyncError(
          'TRANSPORT_UNAVAILABLE',
          `message ${message.id} was not taken after ${attempt} attempts: ${(error as Error).message}`,
        );
      }
    }
  }
}

function planOf(flags: SimulatePublishFlags) {
  const seed = integer('--seed', flags.seed, 0, Number.MAX_SAFE_INTEGER);
  const meters = integer('--meters', flags.meters, 1, 100_000);
  const options = {
    seed,
    meters,
    startMs: startOf(flags.start),
    intervals: integer('--days', flags.days, 1, 366) * INTERVALS_PER_DAY,
    retransmitRate: rate('--retransmit-rate', flags.retransmitRate),
    estimateRate: rate('--estimate-rate', flags.estimateRate),
    conflictRate: rate('--conflict-rate', flags.conflictRate),
    badRate: rate('--bad-rate', flags.badRate),
  };
  const feed = generateFeed(options);
  const kinds = repeatKinds(feed.records, new Set(generateMeterIds(seed, meters)));
  const planOptions = {
    seed,
    readingsPerMessage: integer('--readings-per-message', flags.readingsPerMessage, 1, 1000),
    poisonRate: rate('--poison-rate', flags.poisonRate),
    repeatRate: rate('--repeat-rate', flags.repeatRate),
  };
  if (flags.partitions === undefined) {
    return { feed, plan: planMessages(feed.records, kinds, planOptions) };
  }
  if (!flags.to.startsWith('nats:')) {
    throw new AmisyncError('USAGE', '--partitions needs --to nats://...', { flag: '--partitions' });
  }
  const partitions = integer('--partitions', flags.partitions, 1, 4096);
  return { feed, plan: planPartitionedMessages(feed.records, kinds, planOptions, partitions) };
}

export async function runSimulatePublish(
  flags: SimulatePublishFlags,
): Promise<SimulatePublishSummary> {
  const { feed, plan } = planOf(flags);
  const paceMs = integer('--pace-ms', flags.paceMs, 0, 60_000);
  const passesRepeats = !flags.to.startsWith('nats:');
  const truth = feedTruth(feed, publishExtra(plan, passesRepeats));
  if (flags.truth !== undefined) writeTruth(flags.truth, truth);
  const publisher = await connectPublisher(flags);
  const summary = {
    to: flags.to,
    subject: flags.subject,
    messages: plan.messages.length,
    published: 0,
    droppedByBroker: 0,
    unrouted: 0,
    truth,
  };
  const clock = timersOf(runtime.clock);
  try {
    for (const message of plan.messages) {
      for (let copy = 0; copy < (message.repeat ? 2 : 1); copy++) {
        summary.published += 1;
        const taken = await sendOne(publisher, message);
        if (taken === 'repeat') summary.droppedByBroker += 1;
        else if (taken === 'unrouted') summary.unrouted += 1;
      }
      if (paceMs > 0) await clock.sleep(paceMs);
    }
  } finally {
    await publisher.close();
  }
  return summary;
}

function printSummary(summary: SimulatePublishSummary, json: boolean): void {
  if (json) {
    printJson(summary);
    return;
  }
  const { truth } = summary;
  const lines = [
    `published ${summary.published} messages to ${summary.to} (${summary.subject}); ` +
      `${summary.droppedByBroker} dropped by the broker as repeats`,
    `truth: received ${truth.received}, valid ${truth.valid}, duplicates ${truth.duplicates}, ` +
      `invalid ${truth.invalid}, ${truth.currentReadings} readings, ${truth.kwh} kWh`,
  ];
  if (summary.unrouted > 0) {
    lines.push(
      `warning: ${summary.unrouted} of them reached no subscriber or queue, and the broker kept ` +
        'none of those: no consumer will receive them, so a ledger cannot equal the truth. ' +
        'Start the consumer (amisync run) first, so that its subscription exists.',
    );
  }
  if (summary.to.startsWith('mqtt') && summary.published > MQTT_QUEUED_DEFAULT) {
    lines.push(
      `note: an MQTT broker keeps a bounded number of messages for a subscriber that is away ` +
        `(Mosquitto's max_queued_messages, ${MQTT_QUEUED_DEFAULT} by default) and drops the ` +
        'rest without telling the publisher; if the consumer was not connected throughout, ' +
        'size that limit (docs/config-brokers.md) or compare what it received with the truth ' +
        '(amisync run alerts broker.messages_lost when the broker counts drops).',
    );
  }
  printLines(lines);
}

export function addSimulatePublish(simulate: Command): Command {
  return simulate
    .command('publish')
    .description('publish a generated feed to an MQTT, AMQP or NATS JetStream broker')
    .requiredOption('--to <url>', 'mqtt://host:port, amqp://user:password@host:port or nats://...')
    .requiredOption('--subject <name>', 'MQTT topic, AMQP queue (or routing key) or NATS subject')
    .option('--stream <name>', 'NATS: the stream, created with the subject when missing')
    .option('--exchange <name>', 'AMQP: publish to this exchange instead of the queue')
    .option('--meters <n>', 'meters in the feed', '10')
    .option('--days <n>', 'days of 15-minute intervals', '1')
    .option('--seed <n>', 'seed of the feed and its faults', '1')
    .option('--start <date>', 'first interval start (UTC)', '2026-01-01')
    .option('--readings-per-message <n>', 'readings per message at most (1 to 1000)', '4')
    .option('--poison-rate <r>', 'share of messages followed by one that is not JSON', '0')
    .option('--repeat-rate <r>', 'share of messages published twice with the same id', '0')
    .option('--retransmit-rate <r>', 'readings sent again verbatim later in the feed', '0')
    .option('--estimate-rate <r>', 'readings sent as estimates, later replaced by actuals', '0')
    .option('--conflict-rate <r>', 'readings sent again with another value (conflicts)', '0')
    .option('--bad-rate <r>', 'share of readings followed by an invalid record', '0')
    .option('--pace-ms <ms>', 'pause after each message', '0')
    .option('--partitions <n>', 'NATS: route each meter to <subject>.p<k> of n partitions')
    .option('--truth <file>', 'write the ground truth as JSON')
    .option('--json', 'print one JSON document')
    .action(async (flags: SimulatePublishFlags) => {
      try {
        printSummary(await runSimulatePublish(flags), flags.json === true);
      } catch (error) {
        handleError(error, flags.json === true);
      }
    });
}
