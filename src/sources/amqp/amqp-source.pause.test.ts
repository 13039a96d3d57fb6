// Goal: an operator's pause holds a broker source like any other: a paused run reads and
// acknowledges nothing (the queue keeps every message), and after resume the next run takes all.
// Method: the built CLI (`run --once`, `pause`, `resume`) on a real RabbitMQ queue and SQLite file;
// the queue's depth read on the side.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import amqp from 'amqplib';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import {
  amqpQueueDepth,
  brokerOrSkip,
  deleteAmqpQueue,
  uniqueSuffix,
} from '../../test-support/broker-rig.js';
import { readingText } from '../../test-support/broker-messages.js';
import { removeTempDirs, tempDir } from '../../test-support/temp.js';
import { cliSync } from '../../test-support/cli-sync.js';

const available = await brokerOrSkip('RabbitMQ (AMQP)', 5672);
const queue = `amisync-test-${uniqueSuffix()}`;
afterAll(async () => {
  if (available) await deleteAmqpQueue(queue);
  removeTempDirs();
});

function cli(args: readonly string[]): { status: number | null; json: Record<string, unknown> } {
  const run = cliSync([...args, '--json']);
  return {
    status: run.status,
    json: run.stdout.trim() === '' ? {} : (JSON.parse(run.stdout) as Record<string, unknown>),
  };
}

async function publish(count: number): Promise<void> {
  const connection = await amqp.connect('amqp://guest:guest@127.0.0.1:5672');
  const channel = await connection.createConfirmChannel();
  for (let slot = 0; slot < count; slot++) {
    channel.sendToQueue(queue, Buffer.from(readingText(slot)), { persistent: true });
  }
  await channel.waitForConfirms();
  await connection.close();
}

describe.runIf(available)('amqp source under an emergency pause', () => {
  it('leaves every message in the queue while paused, and takes them all after resume', async () => {
    const folder = tempDir();
    const db = join(folder, 'amisync.db');
    const config = join(folder, 'amisync.yaml');
    const source = { kind: 'amqp', id: 'headend', url: 'amqp://127.0.0.1:5672', queue };
    writeFileSync(config, stringify({ database: db, sources: [{ ...source, quietMs: 300 }] }));
    expect(cli(['run', '--config', config, '--once']).status).toBe(0);
    await publish(10);
    const reason = 'head-end sends doubled values';
    expect(cli(['pause', '--source', 'headend', '--reason', reason, '--db', db]).status).toBe(0);

    const paused = cli(['run', '--config', config, '--once']);
    expect(paused.status).toBe(0);
    expect(paused.json['sources']).toEqual([
      expect.objectContaining({ id: 'headend', outcome: 'paused', deliveries: 0 }),
    ]);
    expect(await amqpQueueDepth(queue)).toBe(10);

    expect(cli(['resume', '--source', 'headend', '--reason', 'fixed', '--db', db]).status).toBe(0);
    const resumed = cli(['run', '--config', config, '--once']);
    expect(resumed.status).toBe(0);
    expect(resumed.json['counts']).toMatchObject({ received: 10, accepted: 10 });
    expect(await amqpQueueDepth(queue)).toBe(0);
  }, 60_000);
});
