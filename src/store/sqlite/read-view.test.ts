// Goal: what the service answers (status now, the API later) reads through its own read-only
// connection and never sees a transaction that has not committed.
// Method: hold a write transaction open on one connection (an audit entry appended, the commit
// waiting on a gate) while a read-only connection to the same file reads, then commit and read.
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nextEntry } from '../../audit/hash-chain.js';
import { removeTempDirs, tempDir } from '../../test-support/temp.js';
import { openSqliteStore } from './sqlite-store.js';

afterAll(removeTempDirs);

describe('a read-only view of the SQLite store', () => {
  it('sees only committed transactions, and cannot write', async () => {
    const path = join(tempDir(), 'store.db');
    const writer = openSqliteStore(path, { nowMs: () => 1_000 });
    const reader = openSqliteStore(path, { nowMs: () => 1_000, readonly: true });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    try {
      let written!: () => void;
      const inside = new Promise<void>((resolve) => {
        written = resolve;
      });
      const committing = writer.transaction(async (tx) => {
        await tx.appendAuditEntry(nextEntry(await tx.auditHead(), 'probe', { n: 1 }, 1_000));
        written();
        await gate;
      });
      await inside;
      expect(await reader.latestAuditEntryOfKind('probe')).toBeNull();
      expect((await reader.status()).auditEntries).toBe(0);
      release();
      await committing;
      expect(await reader.latestAuditEntryOfKind('probe')).not.toBeNull();
      expect((await reader.status()).auditEntries).toBe(1);
      await expect(
        reader.transaction(async (tx) => {
          await tx.appendAuditEntry(nextEntry(await tx.auditHead(), 'probe', { n: 2 }, 1_000));
        }),
      ).rejects.toThrow(/readonly/i);
    } finally {
      release();
      await reader.close();
      await writer.close();
    }
  });
});
