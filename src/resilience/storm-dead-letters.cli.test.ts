// Goal: through the built `amisync run` in a child process, a 100% 5xx storm striking pages
// mid-feed exhausts their retries and stores request dead letters with each attempt's error and
// timing; once the head-end recovers, `amisync dead-letters replay --config` fetches those pages
// again through the normal pipeline, and a second run drains the rest: the ledger equals the
// simulator's truth, every delivery balances, nothing is doubled, and the audit trail verifies.
// Method: the REST head-end simulator in this process, `node dist/cli/main.js` as the service and
// for every command, a real SQLite file read from outside between steps.
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { RestSimulator } from '../simulator/rest/rest-simulator.js';
import { readDatabase, runCli, startService } from '../test-support/crash-runs.js';
import { balances, type DeliveryCounts } from '../test-support/delivery-counts.js';
import {
  FAULT_SECRET_ENV,
  FAULT_SOURCE_ID,
  faultSourceConfig,
  ledgerMatches,
  startFaultSimulator,
  until,
  writeServiceConfig,
} from '../test-support/fault-rig.js';
import { removeTempDirs, tempDir } from '../test-support/temp.js';

const RETRY = { attempts: 3, baseDelayMs: 20, delayMsMax: 100 };
const BUDGET = { windowMs: 60_000, ratio: 0.2, minRetries: 10 };
const BREAKER = {
  windowMs: 60_000,
  minimumCalls: 20,
  failureRateMax: 0.15,
  cooldownMs: 300,
  cooldownMultiplier: 2,
  cooldownMsMax: 2_000,
};
/** Pages committed before the storm starts, so that it strikes mid-feed. */
const PAGES_BEFORE_STORM = 5;
/** The storm lasts until this many dead letters are stored. */
const DEAD_LETTERS_IN_STORM = 3;

const running: RestSimulator[] = [];
afterEach(async () => {
  for (const simulator of running.splice(0)) await simulator.close();
});
afterAll(removeTempDirs);

interface DeadLetterRecord {
  id: number;
  status: string;
  bytesComplete: number;
  request: string | null;
  attempts: string;
  cause: string;
}

interface Attempt {
  code: string;
  message: string;
  startedAtMs: number;
  durationMs: number;
}

function deadLetters(dbPath: string): DeadLetterRecord[] {
  return readDatabase(dbPath, [] as DeadLetterRecord[], (db) =>
    db
      .prepare(
        'SELECT id, status, bytes_complete AS bytesComplete, request, attempts, cause ' +
          'FROM dead_letters ORDER BY id',
      )
      .all(),
  ) as DeadLetterRecord[];
}

/** Runs a command of the built CLI; its stdout, or an error naming its exit and stderr. */
async function cli(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const { code, stdout, stderr } = await runCli(args, env);
  if (code !== 0) throw new Error(`amisync ${args.join(' ')} exited ${code}: ${stderr}`);
  return stdout;
}

describe('a 5xx storm through amisync run: dead letters, replay, truth', () => {
  it('keeps each failed page as a dead letter, replays it, and the ledger equals the truth', async () => {
    const simulator = await startFaultSimulator({});
    running.push(simulator);
    const folder = tempDir('amisync-storm-');
    const dbPath = join(folder, 'amisync.db');
    const config = writeServiceConfig(folder, [faultSourceConfig(simulator)], {
      retry: RETRY,
      retryBudget: BUDGET,
      breaker: BREAKER,
    });
    const env = { ...process.env, [FAULT_SECRET_ENV]: simulator.clientSecret };

    // 1. The service runs; after a few pages the head-end answers every page with a 5xx.
    const service = startService(config, env);
    let exit: number | null;
    try {
      await until(() => simulator.stats().pagesServed >= PAGES_BEFORE_STORM, 30_000, 'pages');
      simulator.setFaultRates({ errorRate: 1 });
      const pagesBeforeStorm = simulator.stats().pagesServed;
      await until(
        () => deadLetters(dbPath).length >= DEAD_LETTERS_IN_STORM,
        60_000,
        'dead letters',
        200,
      );
      // The storm held: no page was served while it lasted.
      expect(simulator.stats().pagesServed).toBe(pagesBeforeStorm);
    } finally {
      exit = await service.stop();
    }
    expect(exit, service.stderr()).toBe(0);
    simulator.setFaultRates({});

    // 2. Every dead letter is a request (no bytes), with each attempt's error and timing.
    const stored = deadLetters(dbPath);
    expect(stored.length).toBeGreaterThanOrEqual(DEAD_LETTERS_IN_STORM);
    for (const row of stored) {
      expect(row).toMatchObject({ status: 'open', bytesComplete: 0, cause: 'attempts-exhausted' });
      const request = JSON.parse(row.request ?? 'null') as { kind: string; url: string };
      expect(request.kind).toBe('rest.page');
      expect(request.url.startsWith(`${simulator.url}/v1/readings`)).toBe(true);
      const attempts = JSON.parse(row.attempts) as Attempt[];
      expect(attempts.length).toBeGreaterThanOrEqual(1);
      expect(attempts.length).toBeLessThanOrEqual(RETRY.attempts);
      for (const [index, attempt] of attempts.entries()) {
        expect(attempt.code).toBe('TRANSPORT_UNAVAILABLE');
        expect(attempt.message).toMatch(/answered 50[0-3]/);
        expect(attempt.durationMs).toBeGreaterThanOrEqual(0);
        const previous = attempts[index - 1];
        if (previous !== undefined) {
          expect(attempt.startedAtMs).toBeGreaterThanOrEqual(
            previous.startedAtMs + previous.durationMs,
          );
        }
      }
    }
    expect(await ledgerMatches(dbPath, simulator)).toBe(false);

    // 3. The head-end has recovered: each dead letter is replayed, its page fetched again.
    const replays: { refetched: boolean; delivery: { counts: DeliveryCounts } }[] = [];
    for (const row of stored) {
      const args = ['dead-letters', 'replay', String(row.id), '--config', config, '--json'];
      replays.push(JSON.parse(await cli(args, env)) as (typeof replays)[number]);
    }
    expect(replays.every((replay) => replay.refetched)).toBe(true);
    expect(replays.every((replay) => balances(replay.delivery.counts))).toBe(true);
    // The first replay of a page lands it; a repeat of the same page lands nothing again.
    const accepted = replays.map((replay) => replay.delivery.counts.accepted);
    expect(accepted[0]).toBeGreaterThan(0);
    const requests = stored.map((row) => JSON.parse(row.request ?? '{}') as { url: string });
    for (let index = 1; index < replays.length; index++) {
      const seen = requests.slice(0, index).some((r) => r.url === requests[index]?.url);
      if (seen) expect(accepted[index]).toBe(0);
    }
    expect(deadLetters(dbPath).every((row) => row.status === 'replayed')).toBe(true);

    // 4. A second run drains the rest of the feed; the replayed pages come again as duplicates.
    await cli(['run', '--config', config, '--once', '--json'], env);
    expect(simulator.stats().distinctRecordsServed).toBe(simulator.feed.records.length);
    expect(await ledgerMatches(dbPath, simulator)).toBe(true);

    const status = JSON.parse(await cli(['status', '--db', dbPath, '--json'], env)) as {
      conserved: boolean;
      sources: { sourceId: string; counts: DeliveryCounts; conserved: boolean }[];
    };
    expect(status.conserved).toBe(true);
    const source = status.sources.find((s) => s.sourceId === FAULT_SOURCE_ID);
    expect(source?.conserved).toBe(true);
    expect(source?.counts.deadLettered).toBe(stored.length);
    const audit = JSON.parse(await cli(['audit', 'verify', '--db', dbPath, '--json'], env)) as {
      ok: boolean;
    };
    expect(audit.ok).toBe(true);
  }, 180_000);
});
