// Goal: an acknowledgement that a reader which lost its partition's lease sends late cannot settle
// a message the partition's new owner has not committed, and only the newest owner's consumer is
// left on the stream; a partition read under the durable alone is taken over from its ack floor.
// Method: three NatsLinks of one durable with lease generations 1, 2 and 3
// against a real JetStream; 1 and 2 hold the same 4 messages, 1 acknowledges them after 2 opened,
// 2 stops without committing, and 3 must be delivered all 4 again.
import { afterAll, describe, expect, it } from 'vitest';
import { jetstream, jetstreamManager, type JsMsg } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { brokerOrSkip, deleteNatsStream, uniqueSuffix } from '../../test-support/broker-rig.js';
import { readingText } from '../../test-support/broker-messages.js';
import { waitFor } from '../../test-support/worker-rig.js';
import { NatsLink, natsSourceSchema, type NatsSourceConfig } from './nats-source.js';

const NATS_URL = 'nats://127.0.0.1:4222';
const MESSAGES = 4;
const WAIT_MS = 15_000;

const available = await brokerOrSkip('NATS JetStream', 4222);
const streams: string[] = [];
afterAll(async () => {
  if (available) await Promise.all(streams.map((stream) => deleteNatsStream(stream)));
});

/** A worker's link for one lease generation, keeping every message it is handed, unsettled. */
class Reader {
  readonly link: NatsLink;
  readonly held: JsMsg[] = [];

  constructor(config: NatsSourceConfig, generation: number | undefined) {
    this.link = new NatsLink(
      config,
      null,
      generation === undefined
        ? { restartAtAckFloor: true }
        : { restartAtAckFloor: true, generation },
    );
  }

  async open(): Promise<this> {
    const held = this.held;
    await this.link.open(
      { take: (_message, handle) => held.push(handle), lost: () => {}, loss: () => {} },
      10,
    );
    return this;
  }

  sequences(): number[] {
    return this.held.map((message) => message.seq);
  }

  async holding(count: number): Promise<void> {
    await waitFor(() => this.held.length >= count, `${count} messages`, WAIT_MS).catch(() => {});
  }
}

async function publish(subject: string, count: number): Promise<void> {
  const connection = await connect({ servers: NATS_URL, reconnect: false });
  try {
    const js = jetstream(connection);
    for (let index = 0; index < count; index++) {
      await js.publish(subject, readingText(index), { msgID: `m-${index}` });
    }
  } finally {
    await connection.close();
  }
}

async function consumerNames(stream: string): Promise<string[]> {
  const connection = await connect({ servers: NATS_URL, reconnect: false });
  try {
    const names: string[] = [];
    for await (const info of (await jetstreamManager(connection)).consumers.list(stream)) {
      names.push(info.name);
    }
    return names;
  } finally {
    await connection.close();
  }
}

/** A fresh stream (deleted after the file) and the source of its partition 0. */
function partitionConfig() {
  const suffix = uniqueSuffix().replace(/[^A-Za-z0-9]/g, '_');
  const stream = `AMISYNC_TEST_${suffix}`;
  streams.push(stream);
  const config = natsSourceSchema.parse({
    kind: 'nats',
    id: 'late-ack',
    url: NATS_URL,
    stream,
    subject: `amisync-test.${suffix}`,
    durable: `amisync_${suffix}_p0`,
    ackWaitMs: 60_000,
  });
  return { stream, config };
}

describe.runIf(available)('a late acknowledgement from a reader that lost its lease', () => {
  it('settles nothing the new owner has not committed', async () => {
    const { stream, config } = partitionConfig();
    const stale = await new Reader(config, 1).open();
    await publish(config.subject, MESSAGES);
    const owner = new Reader(config, 2);
    try {
      await stale.holding(MESSAGES);
      expect(stale.sequences()).toEqual([1, 2, 3, 4]);
      // Generation 2 takes the partition over while generation 1 still holds all 4 messages.
      await owner.open();
      await owner.holding(MESSAGES);
      expect(owner.sequences()).toEqual([1, 2, 3, 4]);
      // Generation 1 committed them before its lease expired and acknowledges them only now.
      await stale.link.ack(stale.held).catch(() => {});
    } finally {
      await stale.link.close();
      // The new owner stops before its commit: nothing of it was acknowledged.
      await owner.link.close();
    }
    const next = await new Reader(config, 3).open();
    try {
      await next.holding(MESSAGES);
      expect(next.sequences()).toEqual([1, 2, 3, 4]);
      expect(await consumerNames(stream)).toEqual([`${config.durable}_g3`]);
    } finally {
      await next.link.close();
    }
  }, 60_000);

  it('takes a partition consumed under the durable alone over from its ack floor', async () => {
    const { stream, config } = partitionConfig();
    // A worker from before lease generations read the durable itself, and committed 2 of 4.
    const before = new Reader(config, undefined);
    await before.open();
    await publish(config.subject, MESSAGES);
    try {
      await before.holding(MESSAGES);
      await before.link.ack(before.held.slice(0, 2));
    } finally {
      await before.link.close();
    }
    const owner = await new Reader(config, 1).open();
    try {
      await owner.holding(2);
      expect(owner.sequences()).toEqual([3, 4]);
      expect(await consumerNames(stream)).toEqual([`${config.durable}_g1`]);
    } finally {
      await owner.link.close();
    }
  }, 60_000);
});
