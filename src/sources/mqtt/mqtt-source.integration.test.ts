// Goal: against a real Mosquitto, the MQTT source sends no PUBACK for a batch that could not commit
// (the broker delivers it again on the resumed session, marked a redelivery), and after a commit
// the broker holds nothing more for the session.
// Method: the source in process over a real SQLite store and a store that fails its first
// transaction; messages published with mqtt.js on the side.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { systemClock } from '../../core/clock.js';
import { isIdle } from '../../core/source.js';
import { deliverOne } from '../../pipeline/run-source.js';
import type { SqliteStore } from '../../store/sqlite/sqlite-store.js';
import { brokerOrSkip, uniqueSuffix } from '../../test-support/broker-rig.js';
import { brokerTestStore, nextDelivery, readingText } from '../../test-support/broker-messages.js';
import { failingStore } from '../../test-support/failing-store.js';
import { testSourceContext } from '../../test-support/source-context.js';
import { removeTempDirs } from '../../test-support/temp.js';
import { mqttSourceKind, mqttSourceSchema } from './mqtt-source.js';

const available = await brokerOrSkip('Mosquitto (MQTT)', 1883);
const stores: SqliteStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
});
afterAll(removeTempDirs);

async function publish(topic: string, texts: readonly string[]): Promise<void> {
  const client = await mqtt.connectAsync('mqtt://127.0.0.1:1883', { protocolVersion: 5 });
  for (const text of texts) await client.publishAsync(topic, text, { qos: 1 });
  await client.endAsync();
}

describe.runIf(available)('mqtt source on Mosquitto', () => {
  it('gets a batch that could not commit again on the resumed session, then nothing', async () => {
    const suffix = uniqueSuffix();
    const topic = `amisync-test/${suffix}`;
    const { store, options } = brokerTestStore(stores);
    const config = mqttSourceSchema.parse({
      kind: 'mqtt',
      id: 'mqtt-test',
      url: 'mqtt://127.0.0.1:1883',
      topic,
      clientId: `amisync-test-${suffix}`,
      sessionExpirySeconds: 60,
      batch: { messagesMax: 3, delayMs: 50 },
      quietMs: 300,
    });
    const source = mqttSourceKind.create(config, testSourceContext(store, { clock: systemClock }));
    const signal = new AbortController().signal;
    await source.connect(signal, null);
    await publish(topic, [readingText(0), readingText(1), 'not json']);
    const first = await nextDelivery(source);
    expect(first.attempt).toBe(1);
    await expect(
      deliverOne(source, first, { ...options, store: failingStore(store, 1) }),
    ).rejects.toThrow(/disk is full/);
    await source.close();

    await source.connect(signal, null);
    const again = await nextDelivery(source);
    expect(again.attempt).toBe(2);
    const report = await deliverOne(source, again, options);
    expect(report.counts).toMatchObject({ received: 3, accepted: 2, quarantined: 1 });
    await source.close();

    await source.connect(signal, null);
    await new Promise((resolve) => setTimeout(resolve, 400));
    const after = await source.read(signal);
    expect(isIdle(after) && after.reason).toBe('caught-up');
    await source.close();
  });
});
