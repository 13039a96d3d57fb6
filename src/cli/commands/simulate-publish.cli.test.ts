// Goal: `amisync simulate publish` shows an example in --help, refuses a bad flag with exit 64 and
// a message naming the flag before it connects anywhere, and with a broker publishes its feed and
// writes the truth it reports in --json; a message the broker routed to no subscriber or queue
// (lost to every consumer) is counted and warned about, and one it kept is not; over 1,000
// messages to MQTT it notes the broker's queue limit for a subscriber that is away, and not under.
// Method: the built CLI in a child process; Mosquitto on 127.0.0.1:1883 with and without a
// subscriber on the topic; RabbitMQ on 127.0.0.1:5672 to a declared queue and to an exchange with
// no binding for the routing key.
import { execFile, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI_MAIN } from '../../test-support/crash-runs.js';
import {
  amqpQueueDepth,
  brokerOrSkip,
  deleteAmqpQueue,
  uniqueSuffix,
} from '../../test-support/broker-rig.js';
import { removeTempDirs, tempDir } from '../../test-support/temp.js';

afterAll(removeTempDirs);

function amisync(args: readonly string[]) {
  return spawnSync(process.execPath, [CLI_MAIN, 'simulate', 'publish', ...args], {
    encoding: 'utf8',
  });
}

interface Summary {
  messages: number;
  published: number;
  unrouted: number;
  truth: { received: number };
}

/** The command without blocking this process, whose own broker client must keep answering. */
async function publish(args: readonly string[]): Promise<string> {
  const run = await promisify(execFile)(process.execPath, [
    CLI_MAIN,
    ...['simulate', 'publish', '--meters', '1', '--days', '1', '--readings-per-message', '4'],
    ...args,
  ]);
  return run.stdout;
}

describe('amisync simulate publish', () => {
  it('shows an example in --help', () => {
    const help = amisync(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/Example:\n\s+amisync simulate publish --to mqtt:\/\//);
  });

  it.each([
    [['--to', 'kafka://127.0.0.1:9092', '--subject', 's'], /--to must start with mqtt:\/\//],
    [['--to', 'nats://127.0.0.1:4222', '--subject', 's'], /--stream is required/],
    [['--to', 'mqtt://127.0.0.1:1', '--subject', 's', '--poison-rate', '2'], /--poison-rate/],
  ])('exits 64 for %j', (args, message) => {
    const run = amisync([...args, '--json']);
    expect(run.status).toBe(64);
    expect(run.stdout).toMatch(message);
  });
});

const mqttUp = await brokerOrSkip('Mosquitto (MQTT)', 1883);

describe.runIf(mqttUp)('amisync simulate publish to Mosquitto', () => {
  it('publishes every message of its plan and writes the truth it prints', () => {
    const truthFile = join(tempDir(), 'truth.json');
    const run = amisync([
      ...['--to', 'mqtt://127.0.0.1:1883', '--subject', `amisync-test/${uniqueSuffix()}`],
      ...['--meters', '2', '--poison-rate', '0.05', '--repeat-rate', '0.05'],
      ...['--truth', truthFile, '--json'],
    ]);
    expect(run.status, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout) as Summary;
    expect(summary.published).toBeGreaterThan(summary.messages);
    expect(JSON.parse(readFileSync(truthFile, 'utf8'))).toEqual(summary.truth);
    expect(summary.truth.received).toBeGreaterThan(2 * 96);
    // Nothing subscribes to the test's topic: the broker kept none of them.
    expect(summary.unrouted).toBe(summary.published);
  });

  it('warns when no subscriber took the messages, and not when one did', async () => {
    const topic = `amisync-test/${uniqueSuffix()}`;
    const alone = await publish(['--to', 'mqtt://127.0.0.1:1883', '--subject', topic]);
    const published = Number(/^published (\d+) messages/.exec(alone)?.[1]);
    expect(published).toBeGreaterThanOrEqual(24);
    expect(alone).toContain(`warning: ${published} of them reached no subscriber or queue`);

    const subscriber = await mqtt.connectAsync('mqtt://127.0.0.1:1883', {
      protocolVersion: 5,
      reconnectPeriod: 0,
    });
    let received = 0;
    subscriber.on('message', () => (received += 1));
    try {
      await subscriber.subscribeAsync(topic, { qos: 1 });
      const text = await publish(['--to', 'mqtt://127.0.0.1:1883', '--subject', topic]);
      const json = JSON.parse(
        await publish(['--to', 'mqtt://127.0.0.1:1883', '--subject', topic, '--json']),
      ) as Summary;
      expect(text).toMatch(`published ${published} messages`);
      expect(text).not.toMatch(/warning/);
      expect(text).not.toMatch(/max_queued_messages/);
      expect(json).toMatchObject({ published, unrouted: 0 });
      await expect.poll(() => received).toBe(2 * published);
    } finally {
      await subscriber.endAsync();
    }
  });
});

describe.runIf(mqttUp)('amisync simulate publish, over 1,000 messages to MQTT', () => {
  it("notes the broker's queue limit for a subscriber that is away", async () => {
    const topic = `amisync-test/${uniqueSuffix()}`;
    const text = await publish([
      ...['--to', 'mqtt://127.0.0.1:1883', '--subject', topic],
      ...['--meters', '11', '--readings-per-message', '1'],
    ]);
    expect(text).toMatch(/^published 1056 messages/);
    expect(text).toMatch(/note: an MQTT broker keeps a bounded number of messages/);
    expect(text).toMatch(/max_queued_messages, 1000 by default/);
  }, 60_000);
});

const amqpUp = await brokerOrSkip('RabbitMQ (AMQP)', 5672);

describe.runIf(amqpUp)('amisync simulate publish to RabbitMQ', () => {
  const url = 'amqp://guest:guest@127.0.0.1:5672';

  it('counts what no queue took, and nothing when the queue took every message', async () => {
    const queue = `amisync-test-${uniqueSuffix()}`;
    try {
      const kept = JSON.parse(
        await publish(['--to', url, '--subject', queue, '--json']),
      ) as Summary;
      expect(kept.published).toBeGreaterThanOrEqual(24);
      expect(kept.unrouted).toBe(0);
      expect(await amqpQueueDepth(queue)).toBe(kept.published);
    } finally {
      await deleteAmqpQueue(queue);
    }
    const args = ['--to', url, '--exchange', 'amq.direct', '--subject', `unbound-${queue}`];
    const lost = JSON.parse(await publish([...args, '--json'])) as Summary;
    expect(lost.published).toBeGreaterThanOrEqual(24);
    expect(lost.unrouted).toBe(lost.published);
    expect(await publish(args)).toContain(
      `warning: ${lost.published} of them reached no subscriber or queue`,
    );
  });
});
