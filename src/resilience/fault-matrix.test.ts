// Goal: under 5xx storms (30% and 100%, the latter ending mid-run) and a 429 storm with
// Retry-After, `amisync run` with the resilience policies loses nothing and doubles nothing
// against the simulator's truth, conserves every delivery, never attempts a call more than the
// cap, keeps retries within the budget, opens the breaker in the 100% storm and closes it after
// recovery, and its audit trail (with breaker.transition entries) verifies.
// Method: the real REST head-end simulator and service on loopback, the system clock, a real
// SQLite file; the service runs until the ledger equals the truth, then gets SIGTERM. Each case
// prints one row of the fault matrix (docs/resilience.md).
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { verifyAudit } from '../audit/verify.js';
import { runDeadLetterReplay } from '../cli/commands/dead-letters.js';
import { RetriesExhausted } from './retry.js';
import { runRun, type RunSummary } from '../cli/commands/run.js';
import { SOURCE_KINDS } from '../cli/config/kinds.js';
import { publicKeyFor } from '../cli/context.js';
import type { FaultRates } from '../simulator/rest/rest-faults.js';
import type { RestSimulator } from '../simulator/rest/rest-simulator.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import {
  FAULT_SECRET_ENV,
  FAULT_SOURCE_ID,
  faultSourceConfig,
  ledgerMatches,
  startFaultSimulator,
  startTcpRelay,
  writeServiceConfig,
} from '../test-support/fault-rig.js';
import { removeTempDirs, tempDir } from '../test-support/temp.js';

const SOURCE_ID = FAULT_SOURCE_ID;
const TOKEN_DOWN_TTL_SECONDS = 2;
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
/** A case that has not reached the truth by then fails. */
const CASE_MS_MAX = 90_000;

const running: RestSimulator[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const simulator of running.splice(0)) await simulator.close();
});
afterAll(removeTempDirs);

interface FaultCase {
  readonly name: string;
  readonly rates: FaultRates;
  /** The storm ends after this many ms (null: it lasts the whole run). */
  readonly stormMs: number | null;
  /**
   * The token endpoint is reached through a relay that refuses connections until the storm ends,
   * and tokens live 2 s, so that every page soon needs a new one.
   */
  readonly tokenDown?: boolean;
}

interface MatrixRow {
  readonly fault: string;
  readonly recordsSent: number;
  readonly ledgerEqualsTruth: boolean;
  readonly attemptsMax: number;
  readonly calls: number;
  readonly retries: number;
  readonly retryRatio: number;
  readonly retriesRefused: number;
  readonly transitions: string;
  /** From the storm's end to the ledger equal to the truth (the backlog read included). */
  readonly recoverMs: number | null;
  /** From the storm's end to the breaker's last closing. */
  readonly breakerClosedMs: number | null;
  readonly statuses: Record<string, number>;
  /** Request dead letters kept (pages whose retries ran out), all replayed after the run. */
  readonly deadLetters: number;
}

/** An operator whose replay met the storm again tries it again, up to this many times. */
const REPLAY_TRIES = 4;

/**
 * Replays every open dead letter through the configuration's source; returns how many. Under a
 * storm that lasts the whole run a replay's own retries can run out too (0.3^5 per page); the
 * dead letter then stays open and is replayed again, as an operator would.
 */
async function replayDeadLetters(
  config: string,
  dbPath: string,
  simulator: RestSimulator,
): Promise<number> {
  const store = openSqliteStore(dbPath, { nowMs: Date.now });
  const open = await store.listDeadLetters({ status: 'open', limit: 10_000 });
  await store.close();
  process.env[FAULT_SECRET_ENV] = simulator.clientSecret;
  try {
    for (const row of open) {
      for (let tries = 1; ; tries += 1) {
        try {
          await runDeadLetterReplay(String(row.id), { config, json: true });
          break;
        } catch (error) {
          if (tries >= REPLAY_TRIES || !(error instanceof RetriesExhausted)) throw error;
        }
      }
    }
  } finally {
    delete process.env[FAULT_SECRET_ENV];
  }
  return open.length;
}

function closedAfter(
  transitions: readonly { to: string; atMs: number }[],
  stormEndedMs: number | null,
): number | null {
  const closed = transitions.filter((t) => t.to === 'closed').at(-1);
  if (stormEndedMs === null || closed === undefined) return null;
  return Math.max(0, closed.atMs - stormEndedMs);
}

async function runCase(fault: FaultCase): Promise<{ row: MatrixRow; summary: RunSummary }> {
  vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  const simulator = await startFaultSimulator(
    fault.rates,
    fault.tokenDown === true ? { tokenTtlSeconds: TOKEN_DOWN_TTL_SECONDS } : {},
  );
  running.push(simulator);
  const relay = fault.tokenDown === true ? await startTcpRelay(simulator.port, false) : null;
  const source = faultSourceConfig(simulator);
  if (relay !== null) {
    source.auth = { ...(source.auth as object), tokenUrl: `${relay.url}/oauth/token` };
  }
  const folder = tempDir('amisync-fault-');
  const config = writeServiceConfig(folder, [source], {
    retry: RETRY,
    retryBudget: BUDGET,
    breaker: BREAKER,
  });
  const dbPath = join(folder, 'amisync.db');
  const signals = new EventEmitter();
  const env = { [FAULT_SECRET_ENV]: simulator.clientSecret };
  const environment = { kinds: SOURCE_KINDS, env, signals };
  const startedMs = Date.now();
  const service = runRun({ config, json: true }, environment);
  let stormEndedMs: number | null = null;
  let matched = false;
  while (Date.now() - startedMs < CASE_MS_MAX) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    if (
      fault.stormMs !== null &&
      stormEndedMs === null &&
      Date.now() - startedMs >= fault.stormMs
    ) {
      simulator.setFaultRates({});
      await relay?.up();
      stormEndedMs = Date.now();
    }
    const served = simulator.stats().distinctRecordsServed === simulator.feed.records.length;
    if (served && (fault.stormMs === null || stormEndedMs !== null)) {
      matched = await ledgerMatches(dbPath, simulator);
      if (matched) break;
    }
  }
  const recoveredMs = Date.now();
  signals.emit('SIGTERM');
  const summary = await service;
  const figures = summary.resilience?.[SOURCE_ID];
  if (figures === undefined) throw new Error('the run reported no resilience figures');
  const stats = simulator.stats();
  const row: MatrixRow = {
    fault: fault.name,
    recordsSent: stats.recordsServed,
    ledgerEqualsTruth: matched && (await ledgerMatches(dbPath, simulator)),
    attemptsMax: figures.attemptsMax,
    calls: figures.calls,
    retries: figures.retries,
    retryRatio: Number((figures.retries / Math.max(1, figures.calls)).toFixed(3)),
    retriesRefused: figures.retriesRefused,
    transitions: figures.transitions.map((t) => `${t.from}>${t.to}`).join(' '),
    recoverMs: stormEndedMs === null ? null : recoveredMs - stormEndedMs,
    breakerClosedMs: closedAfter(figures.transitions, stormEndedMs),
    statuses: stats.statuses,
    deadLetters: await replayDeadLetters(config, dbPath, simulator),
  };
  console.log(`fault matrix row: ${JSON.stringify(row)}`);
  // The replays fetched their pages again: identity absorbed them, nothing is doubled.
  expect(await ledgerMatches(dbPath, simulator)).toBe(true);
  const store = openSqliteStore(dbPath, { nowMs: Date.now });
  try {
    const audit = await verifyAudit(store, publicKeyFor({ db: dbPath }));
    expect(audit.firstProblem?.reason ?? null).toBeNull();
    expect(audit.ok).toBe(true);
    const breakers = await store.listBreakerStates();
    if (figures.transitions.length > 0) {
      expect(breakers.map((b) => [b.endpoint, b.state])).toEqual([[SOURCE_ID, figures.breaker]]);
    }
  } finally {
    await store.close();
  }
  const elapsedMs = Date.now() - startedMs;
  const windows = 1 + Math.ceil(elapsedMs / BUDGET.windowMs);
  expect(row.ledgerEqualsTruth).toBe(true);
  expect(summary.conserved).toBe(true);
  expect(row.attemptsMax).toBeLessThanOrEqual(RETRY.attempts);
  expect(row.retries).toBeLessThanOrEqual(BUDGET.ratio * row.calls + BUDGET.minRetries * windows);
  return { row, summary };
}

describe('fault matrix against the REST head-end simulator', () => {
  for (const errorRate of [0.1, 0.16]) {
    it(`a ${errorRate * 100}% 5xx storm: nothing lost or doubled, retries within the budget`, async () => {
      const { row } = await runCase({
        name: `5xx ${errorRate * 100}%`,
        rates: { errorRate },
        stormMs: null,
      });
      // The storm happened: the head-end answered some requests with a 5xx.
      expect(Object.keys(row.statuses).some((status) => Number(status) >= 500)).toBe(true);
    }, 120_000);
  }

  it('a 30% 5xx storm: nothing lost or doubled, retries within the budget', async () => {
    const { row } = await runCase({ name: '5xx 30%', rates: { errorRate: 0.3 }, stormMs: null });
    expect(row.retries).toBeGreaterThan(0);
  }, 120_000);

  it('a 100% 5xx storm: the breaker opens, probes, and closes after recovery', async () => {
    const { row, summary } = await runCase({
      name: '5xx 100% for 4 s',
      rates: { errorRate: 1 },
      stormMs: 4_000,
    });
    expect(row.transitions).toContain('closed>open');
    expect(row.transitions).toContain('open>half-open');
    expect(row.transitions).toMatch(/half-open>closed$/);
    expect(summary.resilience?.[SOURCE_ID]?.breaker).toBe('closed');
    expect(row.retriesRefused).toBeGreaterThan(0);
  }, 120_000);

  it('the token endpoint down for 4 s, then back: no token, no page, then the truth', async () => {
    const { row } = await runCase({
      name: 'token endpoint down for 4 s (connections refused), tokens living 2 s',
      rates: {},
      stormMs: 4_000,
      tokenDown: true,
    });
    expect(row.attemptsMax).toBeGreaterThan(1);
    expect(row.transitions).toContain('closed>open');
    expect(row.transitions).toMatch(/half-open>closed$/);
  }, 120_000);

  it('a 429 storm with Retry-After: waits as asked, the breaker stays closed', async () => {
    const { row } = await runCase({
      name: '429 15% with Retry-After',
      rates: { throttleRate: 0.15 },
      stormMs: null,
    });
    expect(row.statuses['429'] ?? 0).toBeGreaterThan(0);
    expect(row.transitions).toBe('');
  }, 120_000);
});
