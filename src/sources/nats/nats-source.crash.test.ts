// Goal: SIGKILL of `amisync run` while it drains a JetStream consumer with poison messages loses
// and doubles nothing: after a restart the ledger equals the truth (the stream dropped the repeats
// by Nats-Msg-Id), every delivery balances, every message was acknowledged, and no ack was sent
// before the commit of its batch.
// Method: the built CLI on a durable pull consumer with a short ack wait (crash rig), the
// simulator publishing into the stream; the consumer's ack log joined with the store.
import { afterAll, describe, expect, it } from 'vitest';
import {
  brokerOrSkip,
  crashRun,
  faultyFeed,
  deleteNatsStream,
  natsConsumerBacklog,
  expectTruthAfterCrash,
  uniqueSuffix,
} from '../../test-support/broker-rig.js';
import { removeTempDirs } from '../../test-support/temp.js';

afterAll(removeTempDirs);
const created: string[] = [];
afterAll(async () => {
  await Promise.all(created.map((name) => deleteNatsStream(name)));
});

const available = await brokerOrSkip('NATS JetStream', 4222);

describe.runIf(available)('nats: SIGKILL of the consumer mid-stream', () => {
  it('ends with the ledger the truth names, and no ack before its commit', async () => {
    const suffix = uniqueSuffix().replace(/[^A-Za-z0-9]/g, '_');
    const stream = `AMISYNC_TEST_${suffix}`;
    created.push(stream);
    const subject = `amisync-test.${suffix}.readings`;
    const durable = `amisync_${suffix}`;
    const result = await crashRun({
      source: {
        kind: 'nats',
        url: 'nats://127.0.0.1:4222',
        stream,
        subject,
        durable,
        ackWaitMs: 1000,
        maxDeliver: -1,
      },
      publish: faultyFeed('nats://127.0.0.1:4222', subject, 13, { stream }),
      killAfterAcks: 200,
      remaining: () => natsConsumerBacklog(stream, durable),
    });
    expect(result.summary.droppedByBroker).toBeGreaterThan(0);
    expectTruthAfterCrash(result);
  }, 120_000);
});
