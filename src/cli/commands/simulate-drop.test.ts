// Goal: a rollout rehearsal is two commands: `amisync simulate drop` (or `simulate sftp`) writes a
// vendor's files with faults and the truth, and `amisync run --config F --once` ends equal to it.
// Method: run both commands in this process on temp folders (and a real sshd for SFTP), then read
// the ledger per stream and the conservation totals back from the database the config names.
import { EventEmitter } from 'node:events';
import { Command } from 'commander';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import type { Truth } from '../../simulator/truth.js';
import { openSqliteStore } from '../../store/sqlite/sqlite-store.js';
import { requireOrSkip } from '../../test-support/services.js';
import { sshdAvailable, startSshd, type SshdServer } from '../../test-support/sshd.js';
import { removeTempDirs, tempDir } from '../../test-support/temp.js';
import { ledgerStreams } from '../../test-support/truth-check.js';
import { SOURCE_KINDS } from '../config/kinds.js';
import { runRun } from './run.js';
import { addSimulateCommands } from './simulate.js';

const FAULTS = [
  ...['--meters', '6', '--days', '2', '--files', '8', '--seed', '5'],
  ...['--retransmit-rate', '0.3', '--truncate-rate', '0.3', '--partial-rate', '0.3'],
  ...['--bad-rate', '0.03'],
];

let sshd: Promise<SshdServer> | null = null;

afterEach(() => {
  vi.restoreAllMocks();
});
afterAll(async () => {
  if (sshd !== null) await (await sshd).stop();
  removeTempDirs();
});

async function amisync(args: readonly string[]): Promise<string> {
  const written: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: unknown) => {
    written.push(String(chunk));
    return true;
  });
  const program = new Command('amisync').exitOverride();
  addSimulateCommands(program);
  await program.parseAsync(['node', 'amisync', ...args]);
  vi.restoreAllMocks();
  return written.join('');
}

/** Runs the configuration once and checks its database against the truth file. */
async function runAndCompare(folder: string, config: string): Promise<void> {
  const environment = { kinds: SOURCE_KINDS, env: {}, signals: new EventEmitter() };
  vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  const summary = await runRun({ config, once: true, json: true }, environment);
  vi.restoreAllMocks();
  expect(summary.ok).toBe(true);
  const truth = JSON.parse(readFileSync(join(folder, 'truth.json'), 'utf8')) as Truth;
  const store = openSqliteStore(join(folder, 'amisync.db'), { nowMs: () => 0 });
  try {
    expect(await ledgerStreams(store)).toEqual(truth.streams);
    const { totals } = await store.status();
    expect(totals.received).toBe(truth.received);
    expect(totals.accepted).toBe(truth.valid);
    expect(totals.duplicates).toBe(truth.duplicates);
    expect(totals.quarantined).toBe(truth.invalid + truth.conflicts);
  } finally {
    await store.close();
  }
}

describe('amisync simulate drop, then run --once', () => {
  it('ends with the ledger the truth file states, every file archived', async () => {
    const folder = tempDir('amisync-sim-drop-');
    const inbox = join(folder, 'inbox');
    const printed = await amisync([
      ...['simulate', 'drop', '--dir', inbox, '--truth', join(folder, 'truth.json')],
      ...['--config-out', join(folder, 'sim.yaml'), '--db', join(folder, 'amisync.db')],
      ...FAULTS,
      '--json',
    ]);
    const summary = JSON.parse(printed) as { files: number; duplicates: number; config: string };
    expect(summary.files).toBeGreaterThan(8);
    expect(summary.duplicates).toBeGreaterThan(0);
    expect(summary.config).toBe(join(folder, 'sim.yaml'));
    // The log goes to a file, as an operator would add to the written configuration.
    writeFileSync(
      summary.config,
      `${readFileSync(summary.config, 'utf8')}log: { file: ./amisync.log }\n`,
    );
    await runAndCompare(folder, summary.config);
    expect(readdirSync(inbox)).toEqual(['archive']);
    expect(readdirSync(join(inbox, 'archive'))).toHaveLength(summary.files);
  });
});

const sshdRuns = requireOrSkip('sshd', sshdAvailable(), 'not installed at /usr/sbin/sshd');

describe.skipIf(!sshdRuns)('amisync simulate sftp, then run --once', () => {
  it('ends with the ledger the truth file states, every file archived on the server', async () => {
    sshd ??= startSshd();
    const server = await sshd;
    const folder = tempDir('amisync-sim-sftp-');
    const remote = join(server.dataDir, 'vendor-inbox');
    mkdirSync(remote);
    const login = [
      ...['--host', server.host, '--port', String(server.port), '--user', server.username],
      ...['--key', server.privateKeyFile, '--host-key-sha256', server.hostKeySha256],
    ];
    const printed = await amisync([
      ...['simulate', 'sftp', '--remote-dir', remote, '--truth', join(folder, 'truth.json')],
      ...login,
      ...FAULTS,
      '--json',
    ]);
    const summary = JSON.parse(printed) as { files: number };
    const config = join(folder, 'amisync.yaml');
    writeFileSync(
      config,
      [
        'database: ./amisync.db',
        'log: { file: ./amisync.log }',
        'sources:',
        '  - kind: sftp',
        '    id: vendor-sftp',
        `    host: ${server.host}`,
        `    port: ${server.port}`,
        `    username: ${server.username}`,
        `    privateKeyFile: ${server.privateKeyFile}`,
        `    hostKeySha256: "${server.hostKeySha256}"`,
        `    remotePath: ${remote}`,
      ].join('\n'),
    );
    await runAndCompare(folder, config);
    expect(readdirSync(remote)).toEqual(['archive']);
    expect(readdirSync(join(remote, 'archive'))).toHaveLength(summary.files);
  });

  it('refuses a server whose host key is not the one given, writing nothing', async () => {
    sshd ??= startSshd();
    const server = await sshd;
    const remote = join(server.dataDir, 'refused-inbox');
    mkdirSync(remote);
    const wrong = `SHA256:${'B'.repeat(43)}`;
    const written: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: unknown) => {
      written.push(String(chunk));
      return true;
    });
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    vi.spyOn(process, 'exit').mockImplementation((code) => {
      throw new Error(`exit ${String(code)}`);
    });
    const program = new Command('amisync').exitOverride();
    addSimulateCommands(program);
    const args = [
      ...['simulate', 'sftp', '--remote-dir', remote, '--host', server.host],
      ...['--port', String(server.port), '--user', server.username, '--key', server.privateKeyFile],
      ...['--host-key-sha256', wrong, '--json'],
    ];
    await expect(program.parseAsync(['node', 'amisync', ...args])).rejects.toThrow('exit 77');
    vi.restoreAllMocks();
    expect(JSON.parse(written.join(''))).toMatchObject({
      error: 'TRANSPORT_HOST_KEY',
      message: expect.stringContaining(`showed host key ${server.hostKeySha256}, not ${wrong}`),
    });
    expect(readdirSync(remote)).toEqual([]);
  });
});
