// Goal: SIGKILL of `amisync run` while it drains a RabbitMQ queue with poison messages and repeats
// loses and doubles nothing: after a restart the ledger equals the truth, every delivery balances,
// every message was acknowledged, and no ack was sent before the commit of its batch.
// Method: the built CLI consuming a durable queue (crash rig), the simulator publishing to it; the
// consumer's ack log joined with the deliveries the store holds complete.
import { afterAll, describe, it } from 'vitest';
import {
  brokerOrSkip,
  crashRun,
  faultyFeed,
  amqpQueueDepth,
  deleteAmqpQueue,
  expectTruthAfterCrash,
  uniqueSuffix,
} from '../../test-support/broker-rig.js';
import { removeTempDirs } from '../../test-support/temp.js';

afterAll(removeTempDirs);
const created: string[] = [];
afterAll(async () => {
  await Promise.all(created.map((name) => deleteAmqpQueue(name)));
});

const available = await brokerOrSkip('RabbitMQ (AMQP)', 5672);

describe.runIf(available)('amqp: SIGKILL of the consumer mid-stream', () => {
  it('ends with the ledger the truth names, and no ack before its commit', async () => {
    const queue = `amisync-test-${uniqueSuffix()}`;
    created.push(queue);
    const result = await crashRun({
      source: { kind: 'amqp', url: 'amqp://127.0.0.1:5672', queue },
      publish: faultyFeed('amqp://guest:guest@127.0.0.1:5672', queue, 12),
      killAfterAcks: 200,
      remaining: () => amqpQueueDepth(queue),
    });
    expectTruthAfterCrash(result);
  }, 120_000);
});
