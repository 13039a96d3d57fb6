// Goal: the SFTP server stopped mid-run (listener and open sessions killed) and restarted on the
// same port loses and doubles nothing: `amisync run` retries within its cap and budget, its
// breaker opens and closes again, every file lands once, conservation holds, the audit verifies.
// Method: a real sshd on a loopback port (test-support/sshd.ts), files written into its folder,
// `amisync run` in this process (runRun) with the system clock and a real SQLite file; the server
// is crashed once a few files are archived and restarted DOWN_MS later. Prints one row of the
// fault matrix (docs/resilience.md).
import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { verifyAudit } from '../audit/verify.js';
import { runRun } from '../cli/commands/run.js';
import { SOURCE_KINDS } from '../cli/config/kinds.js';
import { publicKeyFor } from '../cli/context.js';
import { ledgerState } from '../pipeline/ledger-state.js';
import { generateFeed, toNdjson } from '../simulator/feed-generator.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import { until, writeServiceConfig } from '../test-support/fault-rig.js';
import { FEED_START_MS } from '../test-support/ingest-harness.js';
import { requireOrSkip } from '../test-support/services.js';
import { sshdAvailable, startSshd, type SshdServer } from '../test-support/sshd.js';
import { removeTempDirs, tempDir } from '../test-support/temp.js';

const SOURCE_ID = 'vendor-sftp';
const RETRY = { attempts: 5, baseDelayMs: 20, delayMsMax: 200 };
const BUDGET = { windowMs: 60_000, ratio: 0.2, minRetries: 10 };
const BREAKER = {
  windowMs: 60_000,
  minimumCalls: 20,
  failureRateMax: 0.15,
  cooldownMs: 300,
  cooldownMultiplier: 2,
  cooldownMsMax: 2_000,
};
const FILES = 24;
/** The server is crashed once this many files are archived. */
const CRASH_AFTER_FILES = 4;
const DOWN_MS = 4_000;
const FEED = generateFeed({
  seed: 77,
  meters: 6,
  intervals: 96,
  startMs: FEED_START_MS,
  retransmitRate: 0.03,
  badRate: 0.02,
});

const run = requireOrSkip('sshd', sshdAvailable(), 'not installed at /usr/sbin/sshd');

describe.skipIf(!run)('fault matrix: the SFTP server stopped and restarted mid-run', () => {
  let server: SshdServer;

  beforeAll(async () => {
    server = await startSshd();
  }, 20_000);

  afterAll(async () => {
    await server?.stop();
    removeTempDirs();
  });

  /** Cuts the feed into FILES files, written whole into the server's inbox. */
  function dropFeed(inbox: string): void {
    const per = Math.ceil(FEED.records.length / FILES);
    for (let file = 0; file < FILES; file++) {
      const part = FEED.records.slice(file * per, (file + 1) * per);
      const name = `part-${String(file).padStart(2, '0')}.ndjson`;
      writeFileSync(join(inbox, `${name}.tmp`), [...toNdjson(part)].join(''));
      renameSync(join(inbox, `${name}.tmp`), join(inbox, name));
    }
  }

  it('loses and doubles nothing; retries within the cap and budget; the breaker recovers', async () => {
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const inbox = join(server.dataDir, 'restart');
    mkdirSync(inbox);
    const archive = join(inbox, 'archive');
    const archived = (): number => (existsSync(archive) ? readdirSync(archive).length : 0);
    const folder = tempDir('amisync-fault-sftp-');
    const config = writeServiceConfig(
      folder,
      [
        {
          kind: 'sftp',
          id: SOURCE_ID,
          host: server.host,
          port: server.port,
          username: server.username,
          privateKeyFile: server.privateKeyFile,
          hostKeySha256: server.hostKeySha256,
          remotePath: inbox,
          pollIntervalMs: 200,
        },
      ],
      { retry: RETRY, retryBudget: BUDGET, breaker: BREAKER },
    );
    const dbPath = join(folder, 'amisync.db');
    dropFeed(inbox);
    const signals = new EventEmitter();
    const startedMs = Date.now();
    const service = runRun({ config, json: true }, { kinds: SOURCE_KINDS, env: {}, signals });
    await until(() => archived() >= CRASH_AFTER_FILES, 60_000, 'files before the crash', 10);
    await server.crash();
    const archivedAtCrash = archived();
    await new Promise((resolve) => setTimeout(resolve, DOWN_MS));
    // Down: nothing more was archived (a file in flight when the server died stays in the inbox).
    expect(archived()).toBeLessThanOrEqual(archivedAtCrash);
    await server.restart();
    const restartedMs = Date.now();
    await until(() => archived() === FILES, 60_000, 'every file after the restart');
    const recoverMs = Date.now() - restartedMs;
    signals.emit('SIGTERM');
    const summary = await service;
    const figures = summary.resilience?.[SOURCE_ID];
    if (figures === undefined) throw new Error('the run reported no resilience figures');

    const store = openSqliteStore(dbPath, { nowMs: Date.now });
    try {
      const state = await ledgerState(store);
      const row = {
        fault: `SFTP server crashed after ${archivedAtCrash} of ${FILES} files, back ${DOWN_MS} ms later`,
        recordsSent: FEED.expected.received,
        ledgerEqualsTruth:
          state.readings === FEED.expected.currentReadings &&
          state.energyMilliWh === FEED.expected.energyMilliWh,
        attemptsMax: figures.attemptsMax,
        calls: figures.calls,
        retries: figures.retries,
        retryRatio: Number((figures.retries / Math.max(1, figures.calls)).toFixed(3)),
        retriesRefused: figures.retriesRefused,
        transitions: figures.transitions.map((t) => `${t.from}>${t.to}`).join(' '),
        deadLetters: (await store.listDeadLetters({ limit: 1_000 })).length,
        recoverMs,
        breakerClosedMs: Math.max(
          0,
          (figures.transitions.filter((t) => t.to === 'closed').at(-1)?.atMs ?? restartedMs) -
            restartedMs,
        ),
      };
      console.log(`fault matrix row: ${JSON.stringify(row)}`);
      expect(row.ledgerEqualsTruth).toBe(true);
      expect(summary.conserved).toBe(true);
      expect(summary.counts.received).toBe(FEED.expected.received);
      expect(row.retries).toBeGreaterThan(0);
      expect(row.attemptsMax).toBeLessThanOrEqual(RETRY.attempts);
      const windows = 1 + Math.ceil((Date.now() - startedMs) / BUDGET.windowMs);
      expect(row.retries).toBeLessThanOrEqual(
        BUDGET.ratio * row.calls + BUDGET.minRetries * windows,
      );
      expect(row.transitions).toContain('closed>open');
      expect(row.transitions).toMatch(/half-open>closed$/);
      const audit = await verifyAudit(store, publicKeyFor({ db: dbPath }));
      expect(audit.firstProblem?.reason ?? null).toBeNull();
    } finally {
      await store.close();
      vi.restoreAllMocks();
    }
  }, 150_000);
});
