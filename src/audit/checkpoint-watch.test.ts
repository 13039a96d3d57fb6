// Goal: a running service signs the audit chain's head every interval when it moved, never a head
// already signed (by itself or by an earlier run's stop), logs a failure and signs at a later
// interval, and ends when its signal aborts.
// Method: a SQLite store whose entries are appended by hand, a manual clock stepped one interval
// at a time, the store's second transaction made to fail as a full disk would.
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import { failingStore } from '../test-support/failing-store.js';
import { removeTempDirs, tempDir } from '../test-support/temp.js';
import { loadOrCreateSigningKey, verifyCheckpoint } from './checkpoint.js';
import { signPeriodically } from './checkpoint-watch.js';
import { recordConfig, writeCheckpoint } from './record.js';

afterAll(removeTempDirs);

const INTERVAL_MS = 60_000;

function recordingLogger(lines: { level: string; message: string }[]): Logger {
  const at =
    (level: string) =>
    (_fields: Readonly<Record<string, unknown>>, message: string): void => {
      lines.push({ level, message });
    };
  const logger: Logger = {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: () => logger,
  };
  return logger;
}

describe('signPeriodically', () => {
  it('signs each new head once, skips a signed one, and survives a failed interval', async () => {
    const folder = tempDir('amisync-checkpoint-watch-');
    const store = openSqliteStore(join(folder, 'store.db'), { nowMs: () => 0 });
    const { key } = loadOrCreateSigningKey(join(folder, 'signing-key.pem'));
    const clock = new ManualClock(Date.UTC(2026, 11, 1));
    const lines: { level: string; message: string }[] = [];
    const append = (n: number) => recordConfig(store, `fingerprint-${n}`, { n }, clock.nowMs());
    try {
      await append(1);
      // An earlier run's stop signed entry 1.
      await writeCheckpoint(store, key, clock.nowMs());
      const stop = new AbortController();
      const watching = signPeriodically({
        store: failingStore(store, 2),
        key,
        clock,
        intervalMs: INTERVAL_MS,
        signal: stop.signal,
        log: recordingLogger(lines),
      });
      const seqs = async () => (await store.listCheckpoints()).map((c) => c.auditSeq);

      await clock.advance(INTERVAL_MS); // entry 1 is signed already
      expect(await seqs()).toEqual([1]);
      await append(2);
      await clock.advance(INTERVAL_MS); // the store fails this one
      expect(await seqs()).toEqual([1]);
      expect(lines.filter((line) => line.level === 'warn')).toHaveLength(1);
      await clock.advance(INTERVAL_MS); // tried again: entry 2 signed
      expect(await seqs()).toEqual([1, 2]);
      await clock.advance(3 * INTERVAL_MS); // nothing new, nothing signed
      expect(await seqs()).toEqual([1, 2]);
      await append(3);
      await clock.advance(INTERVAL_MS - 1); // not an interval yet
      expect(await seqs()).toEqual([1, 2]);
      await clock.advance(1);
      expect(await seqs()).toEqual([1, 2, 3]);

      stop.abort();
      await watching;
      expect(clock.pendingSleeps).toBe(0);
      for (const checkpoint of await store.listCheckpoints()) {
        expect(verifyCheckpoint(key.publicKey, checkpoint)).toBe(true);
      }
      expect(lines.filter((line) => line.level === 'info').map((line) => line.message)).toEqual([
        'checkpoint: audit chain head 2 signed',
        'checkpoint: audit chain head 3 signed',
      ]);
    } finally {
      await store.close();
    }
  });
});
