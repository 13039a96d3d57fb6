// Goal: what an MQTT broker loses never reaches a batch, so the source must say so itself: when
// the broker dropped messages while the source was away (its queue for the session was full), or
// kept no session for a client id that had one (a restart without persistence), the source raises
// `broker.messages_lost` and appends a `source.messages_lost` audit entry with the broker's
// figures, and goes on reading. A reconnection that lost nothing raises nothing, and a message
// published at QoS 0 is read, not ignored.
// Method: a Mosquitto of the test's own (queues 5 messages for a session that is away, publishes
// `$SYS` every second, keeps nothing on disk), the source in process over a real SQLite store, its
// saved position read back from the store at each connect as the service does; messages
// published with mqtt.js on the side. Last, the built `amisync run --config F --once` across a
// restart of the broker, with a real webhook: the alert reaches it through the service's
// dispatcher, and `audit verify` passes with the loss's entry in the chain.
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import type { Alert } from '../../core/alert.js';
import { systemClock } from '../../core/clock.js';
import type { Source } from '../../core/source.js';
import { deliverOne, loadSavedPosition } from '../../pipeline/run-source.js';
import type { SqliteStore } from '../../store/sqlite/sqlite-store.js';
import { privateMosquitto, type PrivateMosquitto } from '../../bench/private-mosquitto.js';
import { alertList } from '../../test-support/alert-list.js';
import { uniqueSuffix } from '../../test-support/broker-rig.js';
import { brokerTestStore, nextDelivery, readingText } from '../../test-support/broker-messages.js';
import { runCli } from '../../test-support/crash-runs.js';
import { writeServiceConfig } from '../../test-support/fault-rig.js';
import { requireOrSkip } from '../../test-support/services.js';
import { testSourceContext } from '../../test-support/source-context.js';
import { removeTempDirs, tempDir } from '../../test-support/temp.js';
import { startWebhookReceiver } from '../../test-support/webhook-receiver.js';
import { LOSS_AUDIT_KIND } from '../broker/broker-source.js';
import { DROPPED_COUNTER_TOPIC, mqttSourceKind, mqttSourceSchema } from './mqtt-source.js';

const QUEUED_MAX = 5;
const SETTINGS = [`max_queued_messages ${QUEUED_MAX}`, 'sys_interval 1', 'persistence false'];
const brokerDir = tempDir();
let broker: PrivateMosquitto | null = await privateMosquitto(brokerDir, SETTINGS);
const available = requireOrSkip('Mosquitto (a private one)', broker !== null, 'not installed');
const stores: SqliteStore[] = [];
const sources: Source[] = [];

afterEach(async () => {
  await Promise.all(sources.splice(0).map((source) => source.close()));
  await Promise.all(stores.splice(0).map((store) => store.close()));
});
afterAll(async () => {
  await broker?.stop();
  removeTempDirs();
});

function url(): string {
  if (broker === null) throw new Error('no broker');
  return broker.url;
}

async function publish(topic: string, texts: readonly string[], qos: 0 | 1 = 1): Promise<void> {
  const client = await mqtt.connectAsync(url(), { protocolVersion: 5 });
  for (const text of texts) await client.publishAsync(topic, text, { qos });
  await client.endAsync();
}

/** The broker's dropped count as `$SYS` gives it now (0 before it publishes any). */
async function brokerDropped(): Promise<number> {
  const client = await mqtt.connectAsync(url(), { protocolVersion: 5 });
  const value = new Promise<number>((resolve) => {
    client.on('message', (_topic, payload) => resolve(Number(payload.toString())));
    setTimeout(() => resolve(0), 1500);
  });
  await client.subscribeAsync(DROPPED_COUNTER_TOPIC, { qos: 0 });
  const count = await value;
  await client.endAsync();
  return count;
}

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let tries = 0; tries < 100; tries++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`timed out waiting until ${what}`);
}

/** Stops the broker and starts it again on its port; it kept nothing (`persistence false`). */
async function restartBroker(): Promise<void> {
  if (broker === null) throw new Error('no broker');
  const { port } = broker;
  await broker.stop();
  broker = await privateMosquitto(brokerDir, SETTINGS, port);
}

function rig() {
  const suffix = uniqueSuffix();
  const topic = `amisync-test/losses/${suffix}`;
  const { store, options } = brokerTestStore(stores);
  const alerts = alertList();
  const config = mqttSourceSchema.parse({
    kind: 'mqtt',
    id: `mqtt-losses-${suffix}`,
    url: url(),
    topic,
    clientId: `amisync-losses-${suffix}`,
    sessionExpirySeconds: 600,
    batch: { messagesMax: 20, delayMs: 50 },
    quietMs: 300,
  });
  const context = testSourceContext(store, { clock: systemClock, alerts });
  const source = mqttSourceKind.create(config, context);
  sources.push(source);
  const signal = new AbortController().signal;
  return {
    id: source.id,
    topic,
    store,
    alerts: alerts.raised,
    log: context.log,
    /** Connects as the service does: with the position its last committed delivery saved. */
    connect: async () => source.connect(signal, await loadSavedPosition(store, source.id)),
    close: () => source.close(),
    /** Ingests deliveries until the ledger holds `readings` readings. */
    drainTo: async (readings: number) => {
      while ((await store.recomputeLedgerTotals()).readings < readings) {
        await deliverOne(source, await nextDelivery(source), options);
      }
    },
    lossEntries: async () => {
      const found: Record<string, unknown>[] = [];
      for await (const page of store.iterateAuditEntries()) {
        for (const entry of page) {
          if (entry.kind === LOSS_AUDIT_KIND) found.push(JSON.parse(entry.payload));
        }
      }
      return found;
    },
  };
}

describe.runIf(available)('mqtt source: messages the broker lost', () => {
  beforeAll(() => expect(broker).not.toBeNull());

  it('alerts and audits what the broker dropped while it was away; nothing when nothing was', async () => {
    // Another client away while 12 messages come for it: the broker keeps 5 and counts 7 drops.
    const other = `amisync-losses-other-${uniqueSuffix()}`;
    const away = await mqtt.connectAsync(url(), {
      protocolVersion: 5,
      clientId: other,
      clean: false,
      properties: { sessionExpiryInterval: 600 },
    });
    await away.subscribeAsync(`amisync-test/losses/${other}`, { qos: 1 });
    await away.endAsync();
    const start = await brokerDropped();
    const twelve = Array.from({ length: 12 }, (_, slot) => readingText(slot + 1));
    await publish(`amisync-test/losses/${other}`, twelve);
    await until('the broker counts its drops', async () => (await brokerDropped()) === start + 7);

    const run = rig();
    await run.connect(); // makes the session; nothing is committed yet
    await run.close();
    await publish(run.topic, [readingText(0)]);
    // The message comes right after the CONNACK, before the broker's count does; the delivery
    // must still carry the count as it is now, or the next run would take the other client's
    // 7 drops for a loss of its own, or miss its own.
    await run.connect();
    await run.drainTo(1);
    const saved = await loadSavedPosition(run.store, run.id);
    expect(saved?.position).toMatchObject({ mqtt: { url: url(), droppedSeen: start + 7 } });

    // Away and back with nothing lost: no alert.
    await run.close();
    await run.connect();
    expect(run.alerts).toEqual([]);
    await run.close();

    // Away while 12 messages are published: the broker keeps 5 for the session, drops 7.
    await publish(run.topic, twelve);
    await until('the broker counts its drops', async () => (await brokerDropped()) === start + 14);
    await run.connect();
    await run.drainTo(1 + QUEUED_MAX);
    await until('the loss is alerted', async () => run.alerts.length > 0);
    expect(run.alerts).toHaveLength(1);
    const alert = run.alerts[0] as Alert;
    expect(alert).toMatchObject({
      rule: 'broker.messages_lost',
      severity: 'warning',
      source: run.id,
      figures: {
        dropped: 7,
        counter: start + 14,
        counterBefore: start + 7,
        counterRestarted: false,
      },
    });
    expect(alert.message).toMatch(/the broker says it dropped 7 message\(s\)/);
    await until('the loss is audited', async () => (await run.lossEntries()).length === 1);
    expect(await run.lossEntries()).toEqual([
      expect.objectContaining({ cause: 'dropped', dropped: 7, source: run.id }),
    ]);
    // Reading went on: the 5 messages the broker kept are in the ledger, the 7 are not.
    expect((await run.store.recomputeLedgerTotals()).readings).toBe(1 + QUEUED_MAX);
  }, 60_000);

  it('reads a message published at QoS 0, and warns that a crash would lose it', async () => {
    const run = rig();
    await run.connect();
    await publish(run.topic, [readingText(0)], 0);
    await run.drainTo(1);
    const warned = run.log.events.filter((event) => /published at QoS 0/.test(event.message));
    expect(warned).toHaveLength(1);
  }, 30_000);

  it('alerts and audits a session the broker no longer has (it restarted keeping nothing)', async () => {
    const run = rig();
    await run.connect();
    await publish(run.topic, [readingText(0)]);
    await run.drainTo(1);
    await run.close();

    await restartBroker();
    await run.connect();
    await until('the loss is alerted', async () => run.alerts.length > 0);
    expect(run.alerts[0]).toMatchObject({
      rule: 'broker.messages_lost',
      severity: 'critical',
      figures: { sessionExpirySeconds: 600 },
    });
    expect(run.alerts[0]?.message).toMatch(/kept no session for client id amisync-losses-/);
    await until('the loss is audited', async () => (await run.lossEntries()).length === 1);
    expect((await run.lossEntries())[0]).toMatchObject({ cause: 'session-lost' });

    // The broker's dropped count began again at 0: that is a restart, not a loss.
    expect(run.alerts).toHaveLength(1);
    // Reading goes on.
    await publish(run.topic, [readingText(1)]);
    await run.drainTo(2);
  }, 60_000);

  it('reaches the webhook from `amisync run`, and the audit verifies', async () => {
    const hook = await startWebhookReceiver();
    try {
      const suffix = uniqueSuffix();
      const topic = `amisync-test/losses-cli/${suffix}`;
      const folder = tempDir();
      const source = {
        kind: 'mqtt',
        id: 'mqtt-cli',
        url: url(),
        topic,
        clientId: `amisync-losses-cli-${suffix}`,
        batch: { messagesMax: 20, delayMs: 50 },
        quietMs: 500,
      };
      const config = writeServiceConfig(folder, [source], {
        alerts: { webhook: { url: hook.url } },
      });
      const runOnce = async () => {
        const exit = await runCli(['run', '--config', config, '--once'], process.env);
        expect(exit.code, exit.stderr).toBe(0);
      };
      await runOnce(); // makes the session
      await publish(topic, [readingText(0)]);
      await runOnce(); // commits the message, and with it the session's position
      await restartBroker();
      await runOnce();
      const alert = await hook.waitFor('broker.messages_lost', 10_000, 'mqtt-cli');
      expect(alert).toMatchObject({
        severity: 'critical',
        figures: { sessionExpirySeconds: 86_400 },
      });
      const verify = await runCli(
        ['audit', 'verify', '--db', join(folder, 'amisync.db')],
        process.env,
      );
      expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    } finally {
      await hook.close();
    }
  }, 90_000);
});
