// Goal: a SIGKILL at any moment of `amisync run --once` on an SFTP drop loses and doubles nothing,
// and no file is ever archived on the server before its delivery committed (ARCH 2.1-2.3).
// Method: a real sshd (test-support/sshd.ts); the built CLI's `simulate sftp` writes a drop with
// every fault on through it, with the truth and the config that reads it; the built CLI's `run`
// is killed at seeded moments (1..KILL_AFTER_FILES_MAX more files archived on the server, then
// 0..KILL_DELAY_MS_MAX ms); after each kill every archived file must be a completed delivery; a
// last run finishes, and the ledger must equal the truth, balanced. AMISYNC_CRASH_KILLS=N kills
// N times instead of KILLS (the drop grows with it).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isConserved } from '../../pipeline/commit.js';
import { Mulberry32 } from '../../simulator/feed-generator.js';
import type { Truth } from '../../simulator/truth.js';
import { openSqliteStore } from '../../store/sqlite/sqlite-store.js';
import {
  archivedButNotCommitted,
  archivedCount,
  CLI_MAIN,
  crashKills,
  runOnce,
  type Exit,
} from '../../test-support/crash-runs.js';
import { requireOrSkip } from '../../test-support/services.js';
import { sshdAvailable, startSshd, type SshdServer } from '../../test-support/sshd.js';
import { removeTempDirs, tempDir } from '../../test-support/temp.js';
import { ledgerStreams } from '../../test-support/truth-check.js';

const KILLS = crashKills(5);
const KILL_SEED = 0x73667470;
/** A kill comes once 1..this many more files are archived, then 0..KILL_DELAY_MS_MAX ms later. */
const KILL_AFTER_FILES_MAX = 4;
const KILL_DELAY_MS_MAX = 40;
/** The test's time grows with the kills. */
const TEST_MS_MAX = 120_000 + KILLS * 6_000;
/** Files the feed is cut into per kill (faults add more): every kill lands before the end. */
const FILES_PER_KILL = 8;

const run = requireOrSkip('sshd', sshdAvailable(), 'not installed at /usr/sbin/sshd');

describe.skipIf(!run || !existsSync(CLI_MAIN))('SFTP drop under SIGKILL', () => {
  let server: SshdServer;

  beforeAll(async () => {
    server = await startSshd();
  }, 20_000);

  afterAll(async () => {
    await server?.stop();
    removeTempDirs();
  });

  /** `amisync simulate sftp` writes the drop, its truth and the config that reads it. */
  function simulateDrop(folder: string, inbox: string): { config: string; files: number } {
    const written = spawnSync(
      process.execPath,
      [
        ...[CLI_MAIN, 'simulate', 'sftp', '--remote-dir', inbox],
        ...['--host', server.host, '--port', String(server.port), '--user', server.username],
        ...['--key', server.privateKeyFile, '--host-key-sha256', server.hostKeySha256],
        ...['--meters', '120', '--days', '6', '--seed', '78', '--format', 'ndjson'],
        ...['--files', String(KILLS * FILES_PER_KILL), '--completion', 'rename'],
        ...['--retransmit-rate', '0.2', '--truncate-rate', '0.15', '--bad-rate', '0.02'],
        ...['--truth', join(folder, 'truth.json'), '--config-out', join(folder, 'amisync.yaml')],
        ...['--db', join(folder, 'amisync.db'), '--json'],
      ],
      { encoding: 'utf8' },
    );
    expect(written.status, written.stderr).toBe(0);
    const summary = JSON.parse(written.stdout) as { files: number; config: string };
    // The log goes to a file, as an operator would add to the written configuration.
    writeFileSync(
      summary.config,
      `${readFileSync(summary.config, 'utf8')}log: { file: ${join(folder, 'amisync.log')} }\n`,
    );
    return { config: summary.config, files: summary.files };
  }

  it(
    'ends equal to the truth, and never archives a file before its commit',
    async () => {
      const folder = tempDir('amisync-sftp-crash-');
      const database = join(folder, 'amisync.db');
      const inbox = join(server.dataDir, 'vendor-inbox');
      mkdirSync(inbox);
      const { config, files } = simulateDrop(folder, inbox);
      const archive = join(inbox, 'archive');
      const random = new Mulberry32(KILL_SEED);
      const killed: Exit[] = [];
      for (let kill = 0; kill < KILLS; kill++) {
        const target = archivedCount(archive) + random.nextInt(1, KILL_AFTER_FILES_MAX);
        const delayMs = random.nextInt(0, KILL_DELAY_MS_MAX);
        const exit = await runOnce(config, {
          when: () => archivedCount(archive) >= target,
          delayMs,
        });
        if (exit.signal === 'SIGKILL') killed.push(exit);
        else expect(exit, exit.stderr).toMatchObject({ code: 0 });
        expect(archivedButNotCommitted(archive, database)).toEqual([]);
      }
      // The kills landed mid-run: some files were archived, some were still on the server's inbox.
      expect(killed.length).toBe(KILLS);
      expect(archivedCount(archive)).toBeGreaterThan(KILLS);
      expect(archivedCount(archive)).toBeLessThan(files);
      const last = await runOnce(config, null);
      expect(last, last.stderr).toMatchObject({ code: 0, signal: null });
      expect(readdirSync(inbox)).toEqual(['archive']);
      expect(archivedCount(archive)).toBe(files);
      expect(archivedButNotCommitted(archive, database)).toEqual([]);
      const truth = JSON.parse(readFileSync(join(folder, 'truth.json'), 'utf8')) as Truth;
      const store = openSqliteStore(database, { nowMs: () => 0 });
      try {
        expect(await ledgerStreams(store)).toEqual(truth.streams);
        const { totals } = await store.status();
        expect(isConserved(totals)).toBe(true);
        expect(totals.accepted).toBe(truth.valid);
        // A file cut off by a kill keeps the batches it committed; taken again whole, those come
        // back as duplicates, so received may exceed the truth's, never fall short of it.
        expect(totals.received).toBeGreaterThanOrEqual(truth.received);
      } finally {
        await store.close();
      }
    },
    TEST_MS_MAX,
  );
});
