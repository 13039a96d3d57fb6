// Goal: against a real NATS JetStream, the source creates its stream and durable consumer with the
// configured ack wait and max deliver, naks a batch that could not commit (delivered again at
// once, its delivery count raised), and after the commit the consumer has nothing pending; a link
// that reads its consumer alone (a worker's, and a configured source's by default: `exclusive`) and
// is opened again starts at the ack floor, not after ack wait. With a finite maxDeliver, a message
// the server stops delivering before it was committed is alerted and audited as lost.
// Method: the source in process over a real SQLite store and a store that fails its first
// transaction; the stream and consumer inspected with the JetStream manager.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, nanos } from '@nats-io/transport-node';
import { systemClock } from '../../core/clock.js';
import { BROKER_BATCH_DELAY_MS_MAX } from '../../core/limits.js';
import { deliverOne } from '../../pipeline/run-source.js';
import type { SqliteStore } from '../../store/sqlite/sqlite-store.js';
import { alertList } from '../../test-support/alert-list.js';
import {
  brokerOrSkip,
  deleteNatsStream,
  natsConsumerBacklog,
  uniqueSuffix,
} from '../../test-support/broker-rig.js';
import { brokerTestStore, nextDelivery, readingText } from '../../test-support/broker-messages.js';
import { failingStore } from '../../test-support/failing-store.js';
import { testSourceContext } from '../../test-support/source-context.js';
import { removeTempDirs } from '../../test-support/temp.js';
import { BrokerSource, LOSS_AUDIT_KIND } from '../broker/broker-source.js';
import { NatsLink, natsSourceKind, natsSourceSchema } from './nats-source.js';

const available = await brokerOrSkip('NATS JetStream', 4222);
const streams: string[] = [];
const stores: SqliteStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
});
afterAll(async () => {
  if (available) await Promise.all(streams.map((stream) => deleteNatsStream(stream)));
  removeTempDirs();
});

describe.runIf(available)('nats source on JetStream', () => {
  it('declares its consumer, naks a failed batch, and ends with nothing pending', async () => {
    const suffix = uniqueSuffix().replace(/[^A-Za-z0-9]/g, '_');
    const stream = `AMISYNC_TEST_${suffix}`;
    const subject = `amisync-test.${suffix}`;
    const durable = `amisync_${suffix}`;
    streams.push(stream);
    const { store, options } = brokerTestStore(stores);
    const config = natsSourceSchema.parse({
      kind: 'nats',
      id: 'nats-test',
      url: 'nats://127.0.0.1:4222',
      stream,
      subject,
      durable,
      ackWaitMs: 5000,
      maxDeliver: 7,
      // A batch closes when its 3 messages are in, not after a delay: under load the three
      // messages (and their redeliveries after the nak) can arrive further apart than any delay.
      batch: { messagesMax: 3, delayMs: BROKER_BATCH_DELAY_MS_MAX },
      quietMs: 300,
    });
    const source = natsSourceKind.create(config, testSourceContext(store, { clock: systemClock }));
    await source.connect(new AbortController().signal, null);
    const connection = await connect({ servers: 'nats://127.0.0.1:4222' });
    try {
      const info = await (await jetstreamManager(connection)).consumers.info(stream, durable);
      expect(info.config).toMatchObject({
        filter_subject: subject,
        ack_wait: nanos(5000),
        max_deliver: 7,
        max_ack_pending: 6,
      });
      const js = jetstream(connection);
      for (const [index, text] of [readingText(0), readingText(1), '{"broken"'].entries()) {
        await js.publish(subject, text, { msgID: `m-${index}` });
      }
    } finally {
      await connection.close();
    }
    try {
      const first = await nextDelivery(source);
      await expect(
        deliverOne(source, first, { ...options, store: failingStore(store, 1) }),
      ).rejects.toThrow(/disk is full/);
      const again = await nextDelivery(source);
      expect(again.attempt).toBe(2);
      expect(again.metadata).toMatchObject({ firstMessageId: 'm-0', lastMessageId: 'm-2' });
      const report = await deliverOne(source, again, options);
      expect(report.counts).toMatchObject({ received: 3, accepted: 2, quarantined: 1 });
    } finally {
      await source.close();
    }
    expect(await natsConsumerBacklog(stream, durable)).toBe(0);
  });
});

describe.runIf(available)('nats source with a finite maxDeliver', () => {
  it('alerts and audits a message the server gave up on before it was committed', async () => {
    const suffix = uniqueSuffix().replace(/[^A-Za-z0-9]/g, '_');
    const stream = `AMISYNC_TEST_${suffix}`;
    const subject = `amisync-test.${suffix}`;
    streams.push(stream);
    const { store, options } = brokerTestStore(stores);
    const list = alertList();
    const alerts = list.raised;
    const config = natsSourceSchema.parse({
      kind: 'nats',
      id: 'nats-max-deliver',
      url: 'nats://127.0.0.1:4222',
      stream,
      subject,
      durable: `amisync_${suffix}`,
      maxDeliver: 2,
      batch: { messagesMax: 1, delayMs: 50 },
      quietMs: 300,
    });
    const context = testSourceContext(store, { clock: systemClock, alerts: list });
    const source = natsSourceKind.create(config, context);
    await source.connect(new AbortController().signal, null);
    const connection = await connect({ servers: 'nats://127.0.0.1:4222' });
    let seq: number;
    try {
      seq = (await jetstream(connection).publish(subject, readingText(0))).seq;
    } finally {
      await connection.close();
    }
    try {
      // The store is out for both deliveries the consumer allows: each is naked, then no more.
      for (const attempt of [1, 2]) {
        const delivery = await nextDelivery(source);
        expect(delivery.attempt).toBe(attempt);
        const failing = { ...options, store: failingStore(store, 1) };
        await expect(deliverOne(source, delivery, failing)).rejects.toThrow(/disk is full/);
      }
      for (let tries = 0; tries < 100 && alerts.length === 0; tries++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      await source.close();
    }
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({
      rule: 'broker.messages_lost',
      severity: 'critical',
      source: 'nats-max-deliver',
      figures: { stream, streamSeq: seq, deliveries: 2, maxDeliver: 2 },
    });
    expect(alerts[0]?.message).toMatch(/stopped delivering stream message \d+ after 2 deliveries/);
    const kinds: string[] = [];
    for await (const page of store.iterateAuditEntries()) kinds.push(...page.map((e) => e.kind));
    expect(kinds).toContain(LOSS_AUDIT_KIND);
  });
});

describe.runIf(available)('nats link reopened with messages fetched and not acknowledged', () => {
  /**
   * Publishes 8 messages; a first link commits and acknowledges the first batch, takes the second
   * and closes without settling it (a consumer that failed or was stopped). Returns the first
   * message of the next link's first batch.
   */
  async function firstAfterReopen(through: 'link' | 'config'): Promise<string | undefined> {
    const suffix = uniqueSuffix().replace(/[^A-Za-z0-9]/g, '_');
    const stream = `AMISYNC_TEST_${suffix}`;
    const subject = `amisync-test.${suffix}`;
    streams.push(stream);
    const { store, options } = brokerTestStore(stores);
    const config = natsSourceSchema.parse({
      kind: 'nats',
      id: 'nats-test',
      url: 'nats://127.0.0.1:4222',
      stream,
      subject,
      durable: `amisync_${suffix}`,
      ackWaitMs: 30_000,
      // Batches of exactly 2 messages, however far apart they arrive.
      batch: { messagesMax: 2, delayMs: BROKER_BATCH_DELAY_MS_MAX },
      quietMs: 300,
    });
    const open = async () => {
      const context = testSourceContext(store, { clock: systemClock });
      const source =
        through === 'link'
          ? new BrokerSource(
              config,
              new NatsLink(config, null, { restartAtAckFloor: true }),
              context,
            )
          : natsSourceKind.create(config, context);
      await source.connect(new AbortController().signal, null);
      return source;
    };
    const first = await open();
    const connection = await connect({ servers: 'nats://127.0.0.1:4222' });
    try {
      const js = jetstream(connection);
      for (let index = 0; index < 8; index++) {
        await js.publish(subject, readingText(index), { msgID: `m-${index}` });
      }
    } finally {
      await connection.close();
    }
    try {
      await deliverOne(first, await nextDelivery(first), options);
      const held = await nextDelivery(first);
      expect(held.metadata).toMatchObject({ firstMessageId: 'm-2', lastMessageId: 'm-3' });
    } finally {
      await first.close();
    }
    const second = await open();
    try {
      return (await nextDelivery(second)).metadata['firstMessageId'];
    } finally {
      await second.close();
    }
  }

  it('starts again at the ack floor when it reads its consumer alone', async () => {
    expect(await firstAfterReopen('link')).toBe('m-2');
  });

  it('does so for a source from a configuration, which is exclusive by default', async () => {
    expect(await firstAfterReopen('config')).toBe('m-2');
  });
});
