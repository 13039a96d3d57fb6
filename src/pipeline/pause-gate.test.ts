// Goal: a StorePauseGate sees a pause or resume written by another connection within one poll
// interval and not sooner than its next read, applies a global pause to every source and a
// source's own pause first, and never lets a source read while the state is unknown.
// Method: two connections to one SQLite file (the operator's command and the running service),
// the gate on a manual clock; a store that fails stands in for a busy or broken database.
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import type { Store } from '../core/store.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import { removeTempDirs, tempDir } from '../test-support/temp.js';
import { pauseSources, resumeSources } from './controls.js';
import { StorePauseGate } from './pause-gate.js';

afterAll(removeTempDirs);

const START_MS = Date.UTC(2026, 11, 5, 12);
const POLL_MS = 1_000;

function twoConnections() {
  const path = join(tempDir(), 'gate.db');
  const operator = openSqliteStore(path, { nowMs: () => START_MS });
  const service = openSqliteStore(path, { nowMs: () => START_MS });
  const clock = new ManualClock(START_MS);
  const gate = new StorePauseGate({ store: service, clock, pollIntervalMs: POLL_MS });
  const context = { store: operator, clock, actor: 'ops-alice' };
  const close = async () => {
    await operator.close();
    await service.close();
  };
  return { gate, clock, context, close };
}

describe('StorePauseGate', () => {
  it('sees a pause from another connection at its next read, at most one interval later', async () => {
    const { gate, clock, context, close } = twoConnections();
    try {
      expect(await gate.pauseOf('drop')).toBeNull();
      await pauseSources(context, { sourceIds: ['drop'], reason: 'vendor doubled values' });
      // Read less than an interval ago: the gate answers from what it read.
      clock.advanceMs(POLL_MS - 1);
      expect(await gate.pauseOf('drop')).toBeNull();
      clock.advanceMs(1);
      expect(await gate.pauseOf('drop')).toMatchObject({
        sourceId: 'drop',
        actor: 'ops-alice',
        reason: 'vendor doubled values',
        sinceMs: START_MS,
      });
      expect(await gate.pauseOf('rest')).toBeNull();
      await resumeSources(context, { sourceIds: ['drop'], reason: '' });
      clock.advanceMs(POLL_MS);
      expect(await gate.pauseOf('drop')).toBeNull();
    } finally {
      await close();
    }
  });

  it('holds every source under a global pause, naming a source its own pause first', async () => {
    const { gate, clock, context, close } = twoConnections();
    try {
      await pauseSources(context, { sourceIds: [], reason: 'store maintenance window' });
      await pauseSources(context, { sourceIds: ['drop'], reason: 'vendor doubled values' });
      expect((await gate.pauseOf('rest'))?.sourceId).toBeNull();
      expect((await gate.pauseOf('drop'))?.reason).toBe('vendor doubled values');
      await resumeSources(context, { sourceIds: ['drop'], reason: '' });
      clock.advanceMs(POLL_MS);
      // The source's own pause is lifted; the global one still holds it.
      expect((await gate.pauseOf('drop'))?.reason).toBe('store maintenance window');
    } finally {
      await close();
    }
  });

  it('throws before its first read succeeds, then keeps the last state while reads fail', async () => {
    const { context, close } = twoConnections();
    let failing = true;
    const controls: Pick<Store, 'listControls'> = {
      listControls: () =>
        failing
          ? Promise.reject(new Error('SQLITE_BUSY: database is locked'))
          : context.store.listControls(),
    };
    const clock = new ManualClock(START_MS);
    const gate = new StorePauseGate({ store: controls, clock, pollIntervalMs: POLL_MS });
    try {
      await expect(gate.pauseOf('drop')).rejects.toThrow('SQLITE_BUSY');
      await pauseSources(context, { sourceIds: ['drop'], reason: 'vendor doubled values' });
      failing = false;
      expect(await gate.pauseOf('drop')).not.toBeNull();
      failing = true;
      clock.advanceMs(POLL_MS * 5);
      expect((await gate.pauseOf('drop'))?.reason).toBe('vendor doubled values');
    } finally {
      await close();
    }
  });
});
