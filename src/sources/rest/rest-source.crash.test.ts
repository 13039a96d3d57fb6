// Goal: a SIGKILL at any moment of `amisync run --once` against a vendor head-end with faults on
// loses, doubles and skips nothing: the saved position always belongs to a committed page, a
// restart asks for the page after it, and the ledger ends equal to the head-end's truth, balanced,
// never above the advertised rate limit (ARCH 2.1-2.3).
// Method: the REST simulator in this process (real clock, 5xx and 429 bursts, HTML pages, revoked
// and short-lived tokens, a failing token endpoint, repeated pages, overlapping windows; the feed's
// estimates, retransmissions, conflicts and bad records); the built CLI is killed at seeded
// moments (1..KILL_AFTER_PAGES_MAX pages served, then 0..KILL_DELAY_MS_MAX ms), the database
// checked after each kill, then runs go on until one finishes. AMISYNC_CRASH_KILLS=N kills N
// times instead of KILLS (the feed grows with it).
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isConserved } from '../../pipeline/commit.js';
import { Mulberry32 } from '../../simulator/feed-generator.js';
import {
  READINGS_PATH,
  startRestSimulator,
  TOKEN_PATH,
} from '../../simulator/rest/rest-simulator.js';
import type { RestSimulator } from '../../simulator/rest/rest-simulator.js';
import { VENDOR_DIALECT } from '../../simulator/rest/vendor-shape.js';
import { openSqliteStore } from '../../store/sqlite/sqlite-store.js';
import {
  CLI_MAIN,
  crashKills,
  readDatabase,
  runOnce,
  type Exit,
} from '../../test-support/crash-runs.js';
import { removeTempDirs, tempDir } from '../../test-support/temp.js';
import { ledgerStreams } from '../../test-support/truth-check.js';

const KILLS = crashKills(5);
const KILL_SEED = 0x72657374;
/** A kill comes once 1..this many more pages are served, then 0..KILL_DELAY_MS_MAX ms later. */
const KILL_AFTER_PAGES_MAX = 6;
const KILL_DELAY_MS_MAX = 20;
/** Runs take seconds each (rate limit, Retry-After up to 3 s): the time grows with the kills. */
const TEST_MS_MAX = 60_000 + KILLS * 12_000;
/** Kills per day of feed: enough pages that every kill lands before the feed is drained. */
const KILLS_PER_DAY = 6;
/** Runs (killed or failed on an injected fault) after which the test gives up. */
const RUNS_MAX = 4 * KILLS + 30;
const RATE_LIMIT = { limit: 20, windowSeconds: 1 };
const RATE_WINDOW_MS = RATE_LIMIT.windowSeconds * 1000;

afterAll(removeTempDirs);

function writeConfig(folder: string, simulator: RestSimulator): string {
  const secretFile = join(folder, 'client.secret');
  writeFileSync(secretFile, `${simulator.clientSecret}\n`, { mode: 0o600 });
  const config = {
    database: './amisync.db',
    log: { level: 'info', file: './amisync.log' },
    reconnectDelayMs: 0,
    sources: [
      {
        kind: 'rest',
        id: 'crash-vendor',
        baseUrl: simulator.url,
        readingsPath: READINGS_PATH,
        auth: {
          type: 'oauth',
          tokenUrl: `${simulator.url}${TOKEN_PATH}`,
          clientId: simulator.clientId,
          clientSecretFile: secretFile,
        },
        window: {
          backfillStart: new Date(simulator.feedStartMs).toISOString(),
          overlapMinutes: 0,
          maxWindowHours: 6,
        },
        pagination: { style: 'cursor', cursorParam: 'cursor', nextCursorPath: 'next' },
        records: { path: 'data.readings', dialect: VENDOR_DIALECT },
        pageSize: 25,
        pollIntervalMs: 60_000,
      },
    ],
  };
  const path = join(folder, 'amisync.json');
  writeFileSync(path, JSON.stringify(config, null, 2));
  return path;
}

/**
 * The saved position must be the one committed with a complete delivery: a position saved ahead
 * of its page's commit would skip the page after a crash. Returns what breaks that, if anything.
 */
function positionsAheadOfCommits(database: string): unknown[] {
  return readDatabase(database, [], (db) =>
    db
      .prepare(
        `SELECT p.source_id, p.delivery_id, d.status
           FROM source_positions p LEFT JOIN deliveries d ON d.id = p.delivery_id
          WHERE d.status IS NOT 'complete' OR d.position IS NOT p.position`,
      )
      .all(),
  );
}

/** Pages the head-end served that no complete delivery holds: each one lost to a kill. */
function pagesServedNotCommitted(simulator: RestSimulator, database: string): number {
  const committed = readDatabase(database, 0, (db) => {
    const row = db.prepare("SELECT count(*) AS n FROM deliveries WHERE status = 'complete'").get();
    return (row as { n: number }).n;
  });
  return simulator.stats().pagesServed - committed;
}

/** A new process knows nothing of the budget the last one spent: it starts in a fresh window. */
function nextRateWindow(): Promise<void> {
  const ms = RATE_WINDOW_MS - (Date.now() % RATE_WINDOW_MS) + 5;
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe.skipIf(!existsSync(CLI_MAIN))('REST source under SIGKILL', () => {
  it(
    'ends equal to the truth, and never saves a position before its page commits',
    async () => {
      const simulator = await startRestSimulator({
        now: Date.now,
        seed: 31,
        meters: 12,
        days: Math.ceil(KILLS / KILLS_PER_DAY),
        pagination: 'cursor',
        pageSize: 25,
        auth: 'oauth',
        tokenTtlSeconds: 2,
        rateLimit: RATE_LIMIT,
        errorRate: 0.04,
        throttleRate: 0.03,
        htmlRate: 0.02,
        revokeRate: 0.04,
        tokenErrorRate: 0.1,
        duplicatePageRate: 0.05,
        overlapMinutes: 30,
        estimateRate: 0.03,
        retransmitRate: 0.03,
        conflictRate: 0.01,
        badRate: 0.02,
      });
      try {
        const folder = tempDir('amisync-rest-crash-');
        const config = writeConfig(folder, simulator);
        const database = join(folder, 'amisync.db');
        const random = new Mulberry32(KILL_SEED);
        const killed: Exit[] = [];
        /** Kills that landed between a page served and its commit. */
        let midPage = 0;
        let runs = 0;
        for (; (killed.length < KILLS || midPage === 0) && runs < RUNS_MAX; runs++) {
          const lost = pagesServedNotCommitted(simulator, database);
          const target = simulator.stats().pagesServed + random.nextInt(1, KILL_AFTER_PAGES_MAX);
          const delayMs = random.nextInt(0, KILL_DELAY_MS_MAX);
          const when = () => simulator.stats().pagesServed >= target;
          const exit = await runOnce(config, { when, delayMs });
          // A run may give up on an injected fault (errors in a row); it must not finish the feed.
          if (exit.signal === 'SIGKILL') killed.push(exit);
          else expect(exit.code, `run ${runs} ended before its kill: ${exit.stderr}`).not.toBe(0);
          expect(positionsAheadOfCommits(database)).toEqual([]);
          if (pagesServedNotCommitted(simulator, database) > lost) midPage += 1;
          await nextRateWindow();
        }
        expect(killed.length).toBeGreaterThanOrEqual(KILLS);
        expect(midPage).toBeGreaterThan(0);
        let last: Exit | null = null;
        for (; last?.code !== 0 && runs < RUNS_MAX; runs++) {
          if (last !== null) await nextRateWindow();
          last = await runOnce(config, null);
          expect(last.signal, last.stderr).toBeNull();
          expect(positionsAheadOfCommits(database)).toEqual([]);
        }
        expect(last?.code, last?.stderr).toBe(0);

        const stats = simulator.stats();
        expect(stats.overLimit).toBe(0);
        expect(stats.distinctRecordsServed).toBe(simulator.feed.records.length);
        const truth = simulator.truth;
        const store = openSqliteStore(database, { nowMs: Date.now });
        try {
          expect(await ledgerStreams(store)).toEqual(truth.streams);
          const { totals } = await store.status();
          expect(isConserved(totals)).toBe(true);
          expect(totals.accepted).toBe(truth.valid);
          expect(totals.revisions).toBe(truth.revisions);
          // The pages lost to kills were served again: the truth counts them as repeats, the
          // ledger, which never had them, does not.
          expect(truth.received).toBeGreaterThan(totals.received);
        } finally {
          await store.close();
        }
      } finally {
        await simulator.close();
      }
    },
    TEST_MS_MAX,
  );
});
