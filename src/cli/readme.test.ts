// Goal: the README's "Using it" commands work as written, on the example files it names; so do its
// service and broker rehearsals, each ending with the ledger its truth file states.
// Method: read the section's fenced sh block and run each line with sh, the built CLI for npx. The
// broker rehearsal runs against Mosquitto on 127.0.0.1:1883, on a topic and session of its own.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { brokerOrSkip, uniqueSuffix } from '../test-support/broker-rig.js';
import { removeTempDirs, tempDir } from '../test-support/temp.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = join(ROOT, 'dist', 'cli', 'main.js');

/** The lines of the first ```sh block after the heading. */
function commandsOf(heading: string): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf(heading));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  return block.split('\n').filter((line) => line.trim() !== '');
}

beforeAll(() => {
  if (existsSync(MAIN)) return;
  const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8' });
  expect(build.status, build.stderr).toBe(0);
});

afterAll(removeTempDirs);

describe('README "Using it"', () => {
  it('runs every command of the section, in order, with exit 0', () => {
    const commands = commandsOf('## Using it');
    expect(commands.length).toBeGreaterThanOrEqual(10);
    const dir = tempDir('amisync-readme-');
    cpSync(join(ROOT, 'examples'), join(dir, 'examples'), { recursive: true });
    const env: NodeJS.ProcessEnv = { ...process.env, AMISYNC_ACTOR: 'readme-test' };
    delete env.AMISYNC_DB;
    delete env.AMISYNC_DICTIONARY;
    delete env.AMISYNC_SIGNING_KEY;
    const outputs: string[] = [];
    for (const command of commands) {
      expect(command, 'each command calls npx amisync').toMatch(/^npx amisync /);
      const line = command.replace(/^npx amisync /, '"$AMISYNC_NODE" "$AMISYNC_MAIN" ');
      const run = spawnSync('sh', ['-c', line], {
        cwd: dir,
        env: { ...env, AMISYNC_NODE: process.execPath, AMISYNC_MAIN: MAIN },
        encoding: 'utf8',
      });
      expect(run.status, `${command}\n${run.stdout}\n${run.stderr}`).toBe(0);
      expect(run.stderr, command).toBe('');
      outputs.push(run.stdout);
    }
    const all = outputs.join('\n');
    expect(all).toContain('quarantine 1 accepted into the ledger');
    expect(all).toContain('quarantine 2 rejected');
    expect(all).toContain('"verified": true');
    const line3 = readFileSync(join(dir, 'examples', 'feed.ndjson'), 'utf8').split('\n')[2] ?? '';
    const rawOut = readFileSync(join(dir, 'item-1.raw'));
    expect(rawOut.toString('utf8')).toBe(line3);
    expect(createHash('sha256').update(rawOut).digest('hex')).toBe(
      createHash('sha256').update(line3).digest('hex'),
    );
    expect(readFileSync(join(dir, 'ledger.csv'), 'utf8')).toContain('MTR-EXAMPLE3');
  }, 120_000);
});

interface TruthFile {
  valid: number;
  duplicates: number;
  invalid: number;
  currentReadings: number;
  kwh: string;
}

interface StatusJson {
  conserved: boolean;
  ledger: { readings: number; energyKwh: string };
  totals: { accepted: number; duplicates: number; quarantined: number };
  sources: {
    sourceId: string;
    complete: number;
    unfinished: number;
    counts: { accepted: number };
  }[];
}

/** Runs each `npx amisync` line in `dir` with the built CLI (after `rewrite`); their outputs. */
function rehearse(
  commands: readonly string[],
  dir: string,
  rewrite: (line: string) => string = (line) => line,
): string[] {
  const env: NodeJS.ProcessEnv = { ...process.env, AMISYNC_NODE: process.execPath };
  delete env.AMISYNC_DB;
  return commands.map((command) => {
    expect(command, 'each command calls npx amisync').toMatch(/^npx amisync /);
    const line = rewrite(command.replace(/^npx amisync /, `"$AMISYNC_NODE" "${MAIN}" `));
    const run = spawnSync('sh', ['-c', line], { cwd: dir, env, encoding: 'utf8' });
    expect(run.status, `${command}\n${run.stdout}\n${run.stderr}`).toBe(0);
    return run.stdout;
  });
}

/** The ledger `status --json` printed holds what the truth file states, faults included. */
function expectTruth(
  statusOutput: string | undefined,
  truthPath: string,
): { status: StatusJson; truth: TruthFile } {
  const truth = JSON.parse(readFileSync(truthPath, 'utf8')) as TruthFile;
  const status = JSON.parse(statusOutput ?? '') as StatusJson;
  expect(truth.invalid).toBeGreaterThan(0);
  expect(truth.duplicates).toBeGreaterThan(0);
  expect(status.conserved).toBe(true);
  expect(status.ledger.readings).toBe(truth.currentReadings);
  expect(status.ledger.energyKwh).toBe(truth.kwh);
  expect(status.totals.accepted).toBe(truth.valid);
  expect(status.totals.duplicates).toBe(truth.duplicates);
  return { status, truth };
}

describe('README "Running the service"', () => {
  it('rehearses a drop that ends with the ledger its truth file states', () => {
    const commands = commandsOf('## Running the service');
    expect(commands).toHaveLength(4);
    const dir = tempDir('amisync-readme-service-');
    const outputs = rehearse(commands, dir);
    const { status, truth } = expectTruth(outputs[3], join(dir, 'drop-truth.json'));
    expect(status.sources).toHaveLength(1);
    expect(status.sources[0]).toMatchObject({ unfinished: 0, counts: { accepted: truth.valid } });
    expect(status.sources[0]!.complete).toBe(readdirSync(join(dir, 'drop', 'archive')).length);
    expect(readdirSync(join(dir, 'drop', 'archive')).length).toBeGreaterThan(0);
  }, 120_000);
});

const mqttUp = await brokerOrSkip('Mosquitto (MQTT)', 1883);

describe.runIf(mqttUp)('README broker rehearsal', () => {
  it('ends with the ledger its truth file states: nothing lost at the broker', () => {
    const commands = commandsOf('Head-end events over message brokers');
    expect(commands).toHaveLength(4);
    const dir = tempDir('amisync-readme-brokers-');
    cpSync(join(ROOT, 'examples'), join(dir, 'examples'), { recursive: true });
    // A topic and a session of this run's own, in the example and in the commands alike.
    const topic = `amisync-test/readme-${uniqueSuffix()}`;
    const config = join(dir, 'examples', 'brokers.yaml');
    const text = readFileSync(config, 'utf8');
    expect(text).toContain('topic: headend/sim/readings');
    writeFileSync(
      config,
      text
        .replace('topic: headend/sim/readings', `topic: ${topic}`)
        .replace(/clientId: .*/, `clientId: ${topic.replace(/\W/g, '-')}`),
    );
    const outputs = rehearse(commands, dir, (line) =>
      line.replace('--subject headend/sim/readings', `--subject ${topic}`),
    );
    expect(outputs[1]).not.toMatch(/warning/);
    const { status, truth } = expectTruth(outputs[3], join(dir, 'mqtt-truth.json'));
    expect(status.totals.quarantined).toBe(truth.invalid);
  }, 120_000);
});
