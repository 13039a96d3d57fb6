// Goal: a pause or resume is written only over the state it read, in one transaction with its
// audit entry naming the actor and reason, and `audit verify` finds any control changed outside
// amisync (edited, deleted, inserted, reordered).
// Method: pauses and resumes on a real SQLite store; then copies of the file tampered with directly
// (triggers dropped, as an attacker with file access would) and verified.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { AmisyncError } from '../core/errors.js';
import { pauseFor, pausesOf } from '../core/pause.js';
import { verifyAudit } from '../audit/verify.js';
import { openSqliteStore, type SqliteStore } from '../store/sqlite/sqlite-store.js';
import { tamperCopy } from '../test-support/attacker.js';
import { removeTempDirs, tempDir } from '../test-support/temp.js';
import { pauseSources, resumeSources, type ControlContext } from './controls.js';

afterAll(removeTempDirs);

const START_MS = Date.UTC(2026, 11, 5, 12);
const REASON = 'vendor feed doubled every value';

function contextOf(
  store: SqliteStore,
  actor = 'ops-alice',
): ControlContext & {
  clock: ManualClock;
} {
  return { store, clock: new ManualClock(START_MS), actor };
}

async function rejection(promise: Promise<unknown>): Promise<AmisyncError> {
  const error = await promise.then(
    () => null,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(AmisyncError);
  return error as AmisyncError;
}

describe('pauseSources and resumeSources', () => {
  it('pause and resume a source and the global scope, each audited with actor and reason', async () => {
    const store = openSqliteStore(join(tempDir(), 'controls.db'), { nowMs: () => START_MS });
    try {
      const context = contextOf(store);
      const [paused] = await pauseSources(context, { sourceIds: ['drop'], reason: REASON });
      expect(paused).toMatchObject({ sourceId: 'drop', paused: true, actor: 'ops-alice' });
      const entry = await store.getAuditEntry(paused?.auditSeq ?? -1);
      expect(entry?.kind).toBe('control.pause');
      expect(JSON.parse(entry?.payload ?? '{}')).toEqual({
        source: 'drop',
        paused: true,
        reason: REASON,
        actor: 'ops-alice',
      });

      await pauseSources(contextOf(store, 'ops-bob'), {
        sourceIds: [],
        reason: 'store maintenance window',
      });
      const pauses = pausesOf(await store.listControls());
      expect(pauseFor(pauses, 'drop')?.reason).toBe(REASON);
      expect(pauseFor(pauses, 'rest')).toMatchObject({ sourceId: null, actor: 'ops-bob' });

      // Lifting the global pause leaves the source's own pause in force.
      await resumeSources(context, { sourceIds: [], reason: '' });
      const after = pausesOf(await store.listControls());
      expect(pauseFor(after, 'rest')).toBeNull();
      expect(pauseFor(after, 'drop')?.reason).toBe(REASON);
      const [resumed] = await resumeSources(context, { sourceIds: ['drop'], reason: 'fixed' });
      expect((await store.getAuditEntry(resumed?.auditSeq ?? -1))?.kind).toBe('control.resume');
      expect(pausesOf(await store.listControls())).toEqual([]);
      expect(await store.listControlHistory()).toHaveLength(4);
      expect((await verifyAudit(store, null)).firstProblem).toBeNull();
    } finally {
      await store.close();
    }
  });

  it('refuses a pause of a paused scope and a resume of an open one, writing nothing', async () => {
    const store = openSqliteStore(join(tempDir(), 'twice.db'), { nowMs: () => START_MS });
    try {
      const context = contextOf(store);
      const notPaused = await rejection(resumeSources(context, { sourceIds: ['a'], reason: '' }));
      expect(notPaused.code).toBe('INVALID_STATE');
      await pauseSources(context, { sourceIds: ['a'], reason: REASON });
      // A request naming a paused source and an open one writes neither.
      const twice = await rejection(
        pauseSources(contextOf(store, 'ops-bob'), { sourceIds: ['b', 'a'], reason: REASON }),
      );
      expect(twice.code).toBe('INVALID_STATE');
      expect(twice.message).toContain('source a is paused already');
      expect(twice.message).toContain('by ops-alice');
      expect(await store.listControlHistory()).toHaveLength(1);
      expect((await store.status()).auditEntries).toBe(1);
    } finally {
      await store.close();
    }
  });

  it('reads the state another connection committed before it writes', async () => {
    const path = join(tempDir(), 'race.db');
    const first = openSqliteStore(path, { nowMs: () => START_MS });
    const second = openSqliteStore(path, { nowMs: () => START_MS });
    try {
      // The second operator's connection was opened (and read) before the first pause committed.
      expect(await second.listControls()).toEqual([]);
      await pauseSources(contextOf(first, 'ops-alice'), { sourceIds: ['a'], reason: REASON });
      const late = await rejection(
        pauseSources(contextOf(second, 'ops-bob'), { sourceIds: ['a'], reason: REASON }),
      );
      expect(late.code).toBe('INVALID_STATE');
      expect(late.message).toContain('by ops-alice');
      expect(await first.listControlHistory()).toHaveLength(1);
    } finally {
      await first.close();
      await second.close();
    }
  });

  it('asks for a reason and a real source id', async () => {
    const store = openSqliteStore(join(tempDir(), 'usage.db'), { nowMs: () => START_MS });
    try {
      const context = contextOf(store);
      expect((await rejection(pauseSources(context, { sourceIds: [], reason: ' x ' }))).code).toBe(
        'USAGE',
      );
      const badId = await rejection(
        pauseSources(context, { sourceIds: ['Vendor A'], reason: REASON }),
      );
      expect(badId.code).toBe('USAGE');
      expect(await store.listControlHistory()).toEqual([]);
    } finally {
      await store.close();
    }
  });
});

describe('audit verify over controls', () => {
  let basePath = '';

  beforeAll(async () => {
    basePath = join(tempDir(), 'base.db');
    const store = openSqliteStore(basePath, { nowMs: () => START_MS });
    const context = contextOf(store);
    await pauseSources(context, { sourceIds: ['drop'], reason: REASON });
    context.clock.advanceMs(60_000);
    await resumeSources(context, { sourceIds: ['drop'], reason: 'vendor fixed it' });
    context.clock.advanceMs(60_000);
    await pauseSources(context, { sourceIds: [], reason: 'store maintenance window' });
    expect((await verifyAudit(store, null)).ok).toBe(true);
    await store.close();
  });

  async function verifyTampered(sql: string) {
    const path = join(tempDir(), 'tampered.db');
    tamperCopy(basePath, path, (db) => db.exec(sql));
    const store = openSqliteStore(path, { nowMs: () => START_MS });
    try {
      return await verifyAudit(store, null);
    } finally {
      await store.close();
    }
  }

  it.each([
    ['a pause lifted by deleting its row', 'DELETE FROM controls WHERE id = 3'],
    ['a resume written without its entry', 'UPDATE controls SET paused = 0 WHERE id = 3'],
    ['a reason edited', "UPDATE controls SET reason = 'routine' WHERE id = 1"],
    ['an actor edited', "UPDATE controls SET actor = 'nobody' WHERE id = 1"],
    [
      'a control inserted',
      `INSERT INTO controls (source_id, paused, reason, actor, at_ms, audit_seq)
       VALUES (NULL, 0, 'lifted quietly', 'ops-mallory', ${START_MS}, 99)`,
    ],
    [
      'two controls reordered',
      `UPDATE controls SET id = 10 WHERE id = 1; UPDATE controls SET id = 1 WHERE id = 2;
       UPDATE controls SET id = 2 WHERE id = 10`,
    ],
  ])('finds %s', async (_name, sql) => {
    const report = await verifyTampered(sql);
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => p.reason).join('\n')).toMatch(/control/);
  });
});
