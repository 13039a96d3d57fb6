// Goal: SIGKILL of `amisync run` while a head-end publishes to Mosquitto loses and doubles
// nothing: after a restart the ledger equals the truth, every delivery balances, every message
// was acknowledged, and no PUBACK was sent before the commit of the batch holding its message.
// Method: the built CLI consuming an MQTT topic on a persistent session (crash rig), the
// simulator publishing with poison messages, repeats, retransmits and bad records; the
// consumer's ack log joined with the deliveries the store holds complete.
import { afterAll, describe, it } from 'vitest';
import {
  brokerOrSkip,
  crashRun,
  faultyFeed,
  expectTruthAfterCrash,
  uniqueSuffix,
} from '../../test-support/broker-rig.js';
import { removeTempDirs } from '../../test-support/temp.js';

afterAll(removeTempDirs);

const available = await brokerOrSkip('Mosquitto (MQTT)', 1883);

describe.runIf(available)('mqtt: SIGKILL of the consumer mid-stream', () => {
  it('ends with the ledger the truth names, and no PUBACK before its commit', async () => {
    const suffix = uniqueSuffix();
    const topic = `amisync-test/${suffix}/readings`;
    const result = await crashRun({
      source: {
        kind: 'mqtt',
        url: 'mqtt://127.0.0.1:1883',
        topic,
        clientId: `amisync-test-${suffix}`,
        sessionExpirySeconds: 300,
      },
      publish: faultyFeed('mqtt://127.0.0.1:1883', topic, 11),
      killAfterAcks: 200,
    });
    expectTruthAfterCrash(result);
  }, 120_000);
});
