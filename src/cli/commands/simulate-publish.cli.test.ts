// Goal: `amisync simulate publish` shows an example in --help, refuses a bad flag with exit 64 and
// a message naming the flag before it connects anywhere, and with a broker publishes its feed and
// writes the truth it reports in --json.
// Method: the built CLI in a child process; Mosquitto on 127.0.0.1:1883 for the publishing case.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI_MAIN } from '../../test-support/crash-runs.js';
import { brokerOrSkip, uniqueSuffix } from '../../test-support/broker-rig.js';
import { removeTempDirs, tempDir } from '../../test-support/temp.js';

afterAll(removeTempDirs);

function amisync(args: readonly string[]) {
  return spawnSync(process.execPath, [CLI_MAIN, 'simulate', 'publish', ...args], {
    encoding: 'utf8',
  });
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
    const summary = JSON.parse(run.stdout) as {
      messages: number;
      published: number;
      truth: { received: number };
    };
    expect(summary.published).toBeGreaterThan(summary.messages);
    expect(JSON.parse(readFileSync(truthFile, 'utf8'))).toEqual(summary.truth);
    expect(summary.truth.received).toBeGreaterThan(2 * 96);
  });
});
