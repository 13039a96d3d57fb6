// Goal: `npm run bench:brokers` keeps working as the broker sources change: each broker's rows (one
// and five readings a message) print the bare consumer's rate, the source's rate into a store,
// their ratio, the store's raw-insert ceiling over the bare rate, and the CPU time per reading of
// each, and the bench fails when the source does not get every reading in. Method: the built tool
// on a tiny feed against the local brokers; no figure is judged.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { brokerOrSkip } from '../test-support/broker-rig.js';

const BENCH = fileURLToPath(new URL('../../dist/bench/broker-bench.js', import.meta.url));
const brokers = [
  { row: 'MQTT \\(Mosquitto\\)', up: await brokerOrSkip('Mosquitto (MQTT)', 1883) },
  { row: 'AMQP \\(RabbitMQ\\)', up: await brokerOrSkip('RabbitMQ (AMQP)', 5672) },
  { row: 'NATS JetStream', up: await brokerOrSkip('NATS JetStream', 4222) },
];

describe('the broker benchmark', () => {
  it.runIf(brokers.some((broker) => broker.up))(
    'prints, per broker, the bare consumer, the source into a store, and the ratio',
    () => {
      const result = spawnSync(process.execPath, [BENCH, '--readings', '2000', '--rounds', '1'], {
        encoding: 'utf8',
      });
      expect(result.status, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/^broker sources: 2,000 readings of 1000 meters per run/m);
      // The store's own ceiling in the same run, against which every row states its bound.
      expect(result.stdout).toMatch(/^store ceiling: .* batches of 10,000: [\d,]+ reads\/s/m);
      const figures =
        ' readings/message +bare consumer +[\\d,]+ reads/s +source \\+ store +[\\d,]+ ' +
        'reads/s +ratio \\d+\\.\\d\\d \\(target 0\\.50\\) +ceiling/bare \\d+\\.\\d\\d +' +
        'CPU us/reading bare [\\d.]+ source [\\d.]+';
      for (const broker of brokers.filter((each) => each.up)) {
        // Both shapes, one and five readings a message (MQTT on a Mosquitto of the bench's own).
        for (const shape of [1, 5]) {
          expect(result.stdout).toMatch(new RegExp(`^${broker.row} +${shape}${figures}`, 'm'));
        }
      }
    },
    120_000,
  );
});
