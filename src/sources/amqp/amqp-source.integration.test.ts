// Goal: against a real RabbitMQ, the AMQP source quarantines a poison message with its bytes and
// acknowledges it (the queue ends empty), hands a batch back with requeue when the store fails (the
// same messages come again, marked redelivered), and declares its queue again on reconnect.
// Method: the source in process over a real SQLite store; messages published and the queue
// inspected with amqplib on the side.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import amqp from 'amqplib';
import { systemClock } from '../../core/clock.js';
import { deliverOne } from '../../pipeline/run-source.js';
import type { SqliteStore } from '../../store/sqlite/sqlite-store.js';
import { brokerOrSkip, deleteAmqpQueue, uniqueSuffix } from '../../test-support/broker-rig.js';
import { brokerTestStore, nextDelivery, readingText } from '../../test-support/broker-messages.js';
import { failingStore } from '../../test-support/failing-store.js';
import { testSourceContext } from '../../test-support/source-context.js';
import { removeTempDirs } from '../../test-support/temp.js';
import { amqpSourceKind, amqpSourceSchema } from './amqp-source.js';

const URL = 'amqp://guest:guest@127.0.0.1:5672';
const available = await brokerOrSkip('RabbitMQ (AMQP)', 5672);

const queues: string[] = [];
const stores: SqliteStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
});
afterAll(async () => {
  if (available) await Promise.all(queues.map((queue) => deleteAmqpQueue(queue)));
  removeTempDirs();
});

async function publish(queue: string, texts: readonly string[]): Promise<void> {
  const connection = await amqp.connect(URL);
  const channel = await connection.createConfirmChannel();
  await channel.assertQueue(queue, { durable: true });
  for (const text of texts) channel.sendToQueue(queue, Buffer.from(text), { persistent: true });
  await channel.waitForConfirms();
  await connection.close();
}

async function depth(queue: string): Promise<number> {
  const connection = await amqp.connect(URL);
  const channel = await connection.createChannel();
  const { messageCount } = await channel.checkQueue(queue);
  await connection.close();
  return messageCount;
}

function setup(messagesMax: number) {
  const queue = `amisync-test-${uniqueSuffix()}`;
  queues.push(queue);
  const { store, options } = brokerTestStore(stores);
  const context = testSourceContext(store, { clock: systemClock });
  const config = amqpSourceSchema.parse({
    kind: 'amqp',
    id: 'amqp-test',
    url: 'amqp://127.0.0.1:5672',
    queue,
    batch: { messagesMax, delayMs: 50 },
    quietMs: 300,
  });
  const source = amqpSourceKind.create(config, context);
  return { queue, store, source, options };
}

describe.runIf(available)('amqp source on RabbitMQ', () => {
  it('quarantines a poison message with its bytes and acknowledges it with its batch', async () => {
    const { queue, store, source, options } = setup(3);
    await publish(queue, [
      readingText(0),
      'this is not JSON',
      `[${readingText(1)},${readingText(2)}]`,
    ]);
    await source.connect(new AbortController().signal, null);
    try {
      const report = await deliverOne(source, await nextDelivery(source), options);
      expect(report.counts).toMatchObject({ received: 4, accepted: 3, quarantined: 1 });
      const [item] = await store.listQuarantine({ limit: 10 });
      expect(item?.rawSha256).toBe(
        (await import('node:crypto')).hash('sha256', 'this is not JSON', 'hex'),
      );
    } finally {
      await source.close();
    }
    expect(await depth(queue)).toBe(0);
  });

  it('hands the batch back with requeue when the store fails, and takes it again', async () => {
    const { queue, store, source, options } = setup(2);
    await publish(queue, [readingText(0), readingText(1)]);
    await source.connect(new AbortController().signal, null);
    try {
      const first = await nextDelivery(source);
      expect(first.attempt).toBe(1);
      await expect(
        deliverOne(source, first, { ...options, store: failingStore(store, 1) }),
      ).rejects.toThrow(/disk is full/);
      const again = await nextDelivery(source);
      expect(again.attempt).toBe(2);
      expect(again.metadata['messages']).toBe('2');
      const report = await deliverOne(source, again, options);
      expect(report.counts).toMatchObject({ received: 2, accepted: 2 });
    } finally {
      await source.close();
    }
    expect(await depth(queue)).toBe(0);
  });

  it('declares its queue again when it connects after the queue was deleted', async () => {
    const { queue, source, options } = setup(1);
    await source.connect(new AbortController().signal, null);
    await deleteAmqpQueue(queue);
    await expect(nextDelivery(source)).rejects.toThrow(/TRANSPORT_UNAVAILABLE|connection lost/);
    await source.close();
    await source.connect(new AbortController().signal, null);
    try {
      await publish(queue, [readingText(5)]);
      const report = await deliverOne(source, await nextDelivery(source), options);
      expect(report.counts.accepted).toBe(1);
    } finally {
      await source.close();
    }
  });
});
