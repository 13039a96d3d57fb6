// Goal: against the simulated head-end with faults on (5xx and 429 bursts, HTML pages with 200,
// revoked tokens, a failing token endpoint, pages that repeat), `amisync run --once`, restarted
// whenever it gives a source up, ends with the ledger the simulator's truth names, never above the
// advertised rate limit, in each pagination style. Method: the real simulator and service on
// loopback with the system clock, a real SQLite database, runs repeated until one succeeds.
import { writeFileSync } from 'node:fs';
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { runRun } from '../../cli/commands/run.js';
import { SOURCE_KINDS } from '../../cli/config/kinds.js';
import type { PaginationStyle } from '../../simulator/rest/rest-pagination.js';
import { startRestSimulator, type RestSimulator } from '../../simulator/rest/rest-simulator.js';
import { VENDOR_DIALECT } from '../../simulator/rest/vendor-shape.js';
import { openSqliteStore } from '../../store/sqlite/sqlite-store.js';
import { FEED_START_MS } from '../../test-support/ingest-harness.js';
import { removeTempDirs, tempDir } from '../../test-support/temp.js';
import { ledgerStreams } from '../../test-support/truth-check.js';

/** Runs after which the test gives up: each run resumes where the last committed page left it. */
const RUNS_MAX = 40;

const running: RestSimulator[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const simulator of running.splice(0)) await simulator.close();
});
afterAll(removeTempDirs);

function pagination(style: PaginationStyle): Record<string, unknown> {
  if (style === 'cursor') return { style, cursorParam: 'cursor', nextCursorPath: 'next' };
  if (style === 'page') return { style, pageParam: 'page', sizeParam: 'pageSize' };
  return { style };
}

function writeConfig(folder: string, simulator: RestSimulator, style: PaginationStyle): string {
  const config = {
    database: './amisync.db',
    log: { level: 'info', file: './amisync.log' },
    reconnectDelayMs: 0,
    sources: [
      {
        kind: 'rest',
        id: 'sim-vendor',
        baseUrl: simulator.url,
        readingsPath: '/v1/readings',
        auth: {
          type: 'oauth',
          tokenUrl: `${simulator.url}/oauth/token`,
          clientId: simulator.clientId,
          clientSecretEnv: 'SIM_SECRET',
        },
        window: {
          backfillStart: new Date(FEED_START_MS).toISOString(),
          overlapMinutes: 0,
          maxWindowHours: 8784,
        },
        pagination: pagination(style),
        records: { path: 'data.readings', dialect: VENDOR_DIALECT },
        pageSize: 37,
        pollIntervalMs: 1000,
      },
    ],
  };
  const path = join(folder, 'amisync.yaml');
  writeFileSync(path, JSON.stringify(config, null, 2));
  return path;
}

describe('REST source against the simulated head-end with faults', () => {
  for (const style of ['cursor', 'link', 'page'] as const) {
    it(`reaches the truth with ${style} pages`, async () => {
      vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
      const simulator = await startRestSimulator({
        now: () => Date.now(),
        seed: 29,
        meters: 8,
        days: 1,
        startMs: FEED_START_MS,
        publish: 'all',
        auth: 'oauth',
        pagination: style,
        pageSize: 37,
        rateLimit: { limit: 8, windowSeconds: 1 },
        retransmitRate: 0.03,
        badRate: 0.02,
        errorRate: 0.08,
        throttleRate: 0.05,
        htmlRate: 0.05,
        revokeRate: 0.05,
        tokenErrorRate: 0.2,
        duplicatePageRate: style === 'page' ? 0 : 0.05,
      });
      running.push(simulator);
      const folder = tempDir('amisync-rest-sim-');
      const config = writeConfig(folder, simulator, style);
      const environment = {
        kinds: SOURCE_KINDS,
        env: { SIM_SECRET: simulator.clientSecret },
        signals: new EventEmitter(),
      };
      let runs = 0;
      for (let done = false; !done && runs < RUNS_MAX; runs++) {
        // A new process does not know the budget the last one left: it starts after a window.
        if (runs > 0) await new Promise((resolve) => setTimeout(resolve, 1_000));
        done = await runRun({ config, once: true, json: true }, environment).then(
          (summary) => summary.ok,
          () => false,
        );
      }
      expect(runs).toBeLessThan(RUNS_MAX);
      const stats = simulator.stats();
      expect(stats.overLimit).toBe(0);
      expect(stats.distinctRecordsServed).toBe(simulator.feed.records.length);
      const store = openSqliteStore(join(folder, 'amisync.db'), { nowMs: Date.now });
      try {
        expect(await ledgerStreams(store)).toEqual(simulator.truth.streams);
      } finally {
        await store.close();
      }
    });
  }
});
