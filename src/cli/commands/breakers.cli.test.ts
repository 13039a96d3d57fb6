// Goal: `amisync breakers` and `amisync status` show each endpoint's stored breaker state, when
// it changed, its probe time and the figures that opened it; a database without breakers says so.
// Method: open a breaker for real (a CircuitBreaker fed failures), store its transition as the
// service does, then run the commands against the SQLite file and read what they print.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { verifyAudit } from '../../audit/verify.js';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../core/clock.js';
import {
  BREAKER_DEFAULTS,
  CircuitBreaker,
  type BreakerTransition,
} from '../../resilience/breaker.js';
import { openSqliteStore } from '../../store/sqlite/sqlite-store.js';
import { removeTempDirs, tempDir } from '../../test-support/temp.js';
import { recordTransition } from '../config/resilience-wiring.js';
import { runBreakers } from './breakers.js';
import { runStatus } from './report.js';

afterAll(removeTempDirs);
afterEach(() => {
  vi.restoreAllMocks();
});

function captureStdout(): () => string {
  const written: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: unknown) => {
    written.push(String(chunk));
    return true;
  });
  return () => written.join('');
}

const OPENED_MS = Date.UTC(2026, 4, 1, 8);

async function databaseWithOpenBreaker(): Promise<string> {
  const db = join(tempDir('amisync-breakers-'), 'amisync.db');
  const store = openSqliteStore(db, { nowMs: () => OPENED_MS });
  const clock = new ManualClock(OPENED_MS);
  const breaker = new CircuitBreaker('vendor-a', BREAKER_DEFAULTS, clock);
  const transitions: BreakerTransition[] = [];
  breaker.onTransition((t) => transitions.push(t));
  for (let i = 0; i < 20; i++) breaker.record('failure', 10);
  try {
    for (const transition of transitions) await recordTransition(store, transition);
  } finally {
    await store.close();
  }
  return db;
}

describe('amisync breakers', () => {
  it('lists an open breaker with its probe time and figures, as JSON and as text', async () => {
    const db = await databaseWithOpenBreaker();
    let stdout = captureStdout();
    await runBreakers({ db, json: true });
    const report = JSON.parse(stdout()) as { breakers: Record<string, unknown>[] };
    expect(report.breakers).toEqual([
      {
        endpoint: 'vendor-a',
        state: 'open',
        changedAt: '2026-05-01T08:00:00.000Z',
        opensInARow: 1,
        openedAt: '2026-05-01T08:00:00.000Z',
        probeFrom: '2026-05-01T08:00:30.000Z',
        lastFigures: { calls: 20, failures: 20, slow: 0, failureRate: 1 },
        auditSeq: 1,
      },
    ]);
    vi.restoreAllMocks();
    stdout = captureStdout();
    await runBreakers({ db });
    expect(stdout()).toMatch(/vendor-a\s+open\s+2026-05-01T08:00:00.000Z\s+2026-05-01T08:00:30/);
    expect(stdout()).toContain('20 of 20 calls failed');
  });

  it('shows the breakers in status', async () => {
    const db = await databaseWithOpenBreaker();
    const stdout = captureStdout();
    await runStatus({ db, json: true });
    const status = JSON.parse(stdout()) as { breakers: { endpoint: string; state: string }[] };
    expect(status.breakers.map((b) => [b.endpoint, b.state])).toEqual([['vendor-a', 'open']]);
  });

  it('says so when no breaker has changed state', async () => {
    const db = join(tempDir('amisync-breakers-'), 'amisync.db');
    await openSqliteStore(db, { nowMs: () => 0 }).close();
    const stdout = captureStdout();
    await runBreakers({ db });
    expect(stdout()).toContain('breakers: none has changed state yet');
  });

  it('audit verify passes with breaker transitions, and names a breaker edited outside amisync', async () => {
    const db = await databaseWithOpenBreaker();
    const verify = async () => {
      const store = openSqliteStore(db, { nowMs: () => OPENED_MS });
      try {
        return await verifyAudit(store, null);
      } finally {
        await store.close();
      }
    };
    expect((await verify()).ok).toBe(true);
    const raw = new Database(db);
    raw.prepare("UPDATE breakers SET state = 'closed' WHERE endpoint = 'vendor-a'").run();
    expect((await verify()).problems.map((p) => p.reason)).toEqual([
      'breaker vendor-a is stored closed (entry 1) but its last audited transition, entry 1, ' +
        'moved it to open (changed outside amisync)',
    ]);
    raw.prepare('DELETE FROM breakers').run();
    raw.close();
    expect((await verify()).problems.map((p) => p.reason)).toEqual([
      "breaker vendor-a's state is missing from the store (deleted)",
    ]);
  });
});
