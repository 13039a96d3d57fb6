// Goal: a writer that goes silent inside its transaction (a frozen process, a host that vanished
// with its connection open) cannot hold the store's locks for ever: the server ends its session
// after the write-idle timeout, every other writer goes on, the silent writer's transaction fails
// as a store outage (retried, never taken for bad data) without crashing its process, and nothing
// of it commits. A connection the server ends between two pages of a read fails that read as a
// store outage too, without crashing the process. Method: two stores on one real PostgreSQL
// schema; one holds the audit chain's lock and then waits, in its transaction, far longer than
// its timeout; the other's transaction on the chain is timed; then both stores' audit entries
// are read back. A read of the audit log whose session is terminated after its first page.
import { afterAll, describe, expect, it } from 'vitest';
import { nextEntry } from '../../audit/hash-chain.js';
import {
  dropPostgresSchemas,
  freshPostgresSchema,
  probePostgres,
  runAsSuperuser,
} from '../../test-support/postgres.js';
import { requireOrSkip } from '../../test-support/services.js';
import { openPostgresStore } from './postgres-store.js';

const postgres = await probePostgres();
const runs = requireOrSkip('PostgreSQL', postgres.available, postgres.reason);

afterAll(dropPostgresSchemas);

/** How long the silent writer stays silent: far past its 1 s timeout. */
const SILENT_MS = 12_000;

describe('a PostgreSQL writer that goes silent in its transaction', () => {
  it.runIf(runs)(
    'is ended by the server after its timeout, and the other writers go on',
    async () => {
      const { url } = freshPostgresSchema();
      const silent = await openPostgresStore(url, { nowMs: () => 0, writeIdleTimeoutMs: 1_000 });
      const other = await openPostgresStore(url, { nowMs: () => 0 });
      let speak = (): void => undefined;
      const spoken = new Promise<void>((resolve) => {
        speak = resolve;
        setTimeout(resolve, SILENT_MS);
      });
      try {
        let holding = (): void => undefined;
        const held = new Promise<void>((resolve) => (holding = resolve));
        const outcome = silent
          .transaction(async (tx) => {
            await tx.appendAuditEntry(nextEntry(await tx.auditHead(), 'test.silent', {}, 1));
            holding();
            await spoken;
            await tx.auditHead();
          })
          .then(
            () => 'committed',
            (error: unknown) => error,
          );
        await held;
        const startedMs = Date.now();
        await other.transaction(async (tx) => {
          await tx.appendAuditEntry(nextEntry(await tx.auditHead(), 'test.other', {}, 2));
        });
        const waitedMs = Date.now() - startedMs;
        speak();
        // Without a timeout the other writer waits for the silent one to speak again (12 s).
        expect(waitedMs).toBeLessThan(SILENT_MS / 2);
        expect(await outcome).toMatchObject({
          code: 'STORE_UNAVAILABLE',
          message: expect.stringContaining('silent for 1000 ms') as unknown,
        });
        expect(await other.latestAuditEntryOfKind('test.silent')).toBeNull();
        expect(await other.latestAuditEntryOfKind('test.other')).toMatchObject({ seq: 1 });
        // The silent writer's store still works: its pool replaced the ended connection.
        await silent.transaction(async (tx) => {
          await tx.appendAuditEntry(nextEntry(await tx.auditHead(), 'test.silent', {}, 3));
        });
        expect(await other.latestAuditEntryOfKind('test.silent')).toMatchObject({ seq: 2 });
      } finally {
        speak();
        await silent.close();
        await other.close();
      }
    },
    30_000,
  );

  it.runIf(runs)(
    'a read whose connection the server ends between pages fails as a store outage',
    async () => {
      const { schema, url } = freshPostgresSchema();
      // The session's name finds it among every test's sessions on the server.
      const store = await openPostgresStore(`${url}&application_name=${schema}`, {
        nowMs: () => 0,
      });
      try {
        await store.transaction(async (tx) => {
          await tx.appendAuditEntry(nextEntry(await tx.auditHead(), 'test.read', {}, 1));
        });
        const pages: number[] = [];
        const read = (async () => {
          for await (const page of store.iterateAuditEntries()) {
            pages.push(page.length);
            // Between two pages the cursor's session waits, in its transaction, for this loop.
            await runAsSuperuser(
              schema,
              `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
               WHERE application_name = '${schema}' AND state = 'idle in transaction'`,
            );
            await new Promise((resolve) => setTimeout(resolve, 200));
          }
        })().then(
          () => 'read to the end',
          (error: unknown) => error,
        );
        expect(await read).toMatchObject({
          code: 'STORE_UNAVAILABLE',
          message: expect.stringContaining('ended during a read') as unknown,
        });
        expect(pages).toEqual([1]);
        // The process lives on, and so does the store: the next read is whole.
        const again: number[] = [];
        for await (const page of store.iterateAuditEntries()) again.push(page.length);
        expect(again).toEqual([1]);
      } finally {
        await store.close();
      }
    },
    30_000,
  );
});
