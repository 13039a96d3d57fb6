// Goal: the SFTP drop source talks to a real OpenSSH server only when it shows the pinned host key,
// ingests complete files and archives them on the server only after their commit.
// Method: a real sshd on a loopback port with temporary keys (test-support/sshd.ts), a real SQLite
// store, runSource; the files are written straight into the server's folder.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CountingRandom, ManualClock } from '../../core/clock.js';
import { DEFAULT_DICTIONARY } from '../../dictionary/dictionary.js';
import { ledgerState } from '../../pipeline/ledger-state.js';
import { runSource } from '../../pipeline/run-source.js';
import { generateFeed, toNdjson } from '../../simulator/feed-generator.js';
import { openSqliteStore } from '../../store/sqlite/sqlite-store.js';
import { failingStore } from '../../test-support/failing-store.js';
import { requireOrSkip } from '../../test-support/services.js';
import { testSourceContext } from '../../test-support/source-context.js';
import { sshdAvailable, startSshd, type SshdServer } from '../../test-support/sshd.js';
import { removeTempDirs, tempDir } from '../../test-support/temp.js';
import { sftpSourceKind, type SftpSourceConfig } from './sftp-source.js';

const START_MS = Date.UTC(2026, 0, 5);
const FEED = generateFeed({ seed: 21, meters: 8, intervals: 30, startMs: START_MS, badRate: 0.02 });
const TEXT = [...toNdjson(FEED.records)].join('');
const random = new CountingRandom();

const run = requireOrSkip('sshd', sshdAvailable(), 'not installed at /usr/sbin/sshd');

describe.skipIf(!run)('SFTP drop source against a real sshd', () => {
  let server: SshdServer;

  beforeAll(async () => {
    server = await startSshd();
  }, 20_000);

  afterAll(async () => {
    await server?.stop();
    removeTempDirs();
  });

  function setup(name: string, overrides: Partial<SftpSourceConfig> = {}) {
    const inbox = join(server.dataDir, name);
    mkdirSync(inbox);
    const clock = new ManualClock(START_MS + 3 * 86_400_000);
    const store = openSqliteStore(join(tempDir(), 'store.db'), { nowMs: () => clock.nowMs() });
    const context = testSourceContext(store, { clock });
    const source = sftpSourceKind.create(
      sftpSourceKind.schema.parse({
        kind: 'sftp',
        id: 'vendor-sftp',
        host: server.host,
        port: server.port,
        username: server.username,
        privateKeyFile: server.privateKeyFile,
        hostKeySha256: server.hostKeySha256,
        remotePath: inbox,
        pollIntervalMs: 1000,
        ...overrides,
      }),
      context,
    );
    const options = { store, dictionary: DEFAULT_DICTIONARY, clock, random };
    return { inbox, store, source, options, context };
  }

  it('ingests complete files and moves them to the archive on the server after commit', async () => {
    const { inbox, store, source, options } = setup('ingest');
    const half = TEXT.indexOf('\n', TEXT.length / 2) + 1;
    writeFileSync(join(inbox, 'a.ndjson'), TEXT.slice(0, half));
    writeFileSync(join(inbox, 'b.ndjson.part'), TEXT.slice(half));
    const reports = await runSource(source, options);
    expect(reports.map((report) => report.name)).toEqual(['a.ndjson']);
    expect(readdirSync(inbox).sort()).toEqual(['archive', 'b.ndjson.part']);
    renameSync(join(inbox, 'b.ndjson.part'), join(inbox, 'b.ndjson'));
    const [second] = await runSource(source, options);
    expect(second?.name).toBe('b.ndjson');
    expect(readdirSync(join(inbox, 'archive')).sort()).toEqual(['a.ndjson', 'b.ndjson']);
    const state = await ledgerState(store);
    expect(state.readings).toBe(FEED.expected.currentReadings);
    expect(state.energyMilliWh).toBe(FEED.expected.energyMilliWh);
    await store.close();
  });

  it('leaves a file on the server when its commit fails, and archives it after a later commit', async () => {
    const { inbox, store, source, options } = setup('failing');
    writeFileSync(join(inbox, 'a.ndjson'), TEXT);
    const failing = runSource(source, { ...options, store: failingStore(store, 2) });
    await expect(failing).rejects.toThrow(/disk is full/);
    expect(readdirSync(inbox).sort()).toEqual(['a.ndjson', 'archive']);
    expect(readdirSync(join(inbox, 'archive'))).toEqual([]);
    const [report] = await runSource(source, options);
    expect(report?.counts.received).toBe(FEED.expected.received);
    expect(readdirSync(join(inbox, 'archive'))).toEqual(['a.ndjson']);
    await store.close();
  });

  it('refuses a server whose host key is not the pinned one, with a clear error', async () => {
    const wrong = `SHA256:${'A'.repeat(43)}`;
    const { inbox, store, source, options } = setup('pinned', { hostKeySha256: wrong });
    writeFileSync(join(inbox, 'a.ndjson'), TEXT);
    const refused = runSource(source, options);
    await expect(refused).rejects.toMatchObject({
      code: 'TRANSPORT_HOST_KEY',
      message: expect.stringContaining(
        `showed host key ${server.hostKeySha256}, not the pinned ${wrong}`,
      ),
    });
    expect(readdirSync(inbox)).toEqual(['a.ndjson']);
    expect((await store.status()).deliveries.complete).toBe(0);
    await store.close();
  });

  it('reports credentials the server refuses as TRANSPORT_AUTH_FAILED', async () => {
    const otherKey = join(tempDir(), 'other');
    spawnSync('/usr/bin/ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', otherKey]);
    const { store, source, options } = setup('auth', { privateKeyFile: otherKey });
    await expect(runSource(source, options)).rejects.toMatchObject({
      code: 'TRANSPORT_AUTH_FAILED',
    });
    await store.close();
  });

  it('deletes committed files when afterCommit is delete', async () => {
    const { inbox, store, source, options } = setup('delete', { afterCommit: 'delete' });
    writeFileSync(join(inbox, 'a.ndjson'), TEXT);
    await runSource(source, options);
    expect(existsSync(join(inbox, 'a.ndjson'))).toBe(false);
    expect(readdirSync(join(inbox, 'archive'))).toEqual([]);
    await store.close();
  });
});
