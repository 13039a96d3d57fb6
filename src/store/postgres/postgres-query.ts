/**
 * The two ways the PostgreSQL store reads rows: a query's rows at once, and a long read in pages
 * through a cursor in one snapshot, so that a whole ledger never sits in memory as result rows.
 */
import type { Pool, PoolClient } from 'pg';
import { AmisyncError } from '../../core/errors.js';
import type { PgRow } from './postgres-codecs.js';

/** A client or a pool: what a query needs. */
export interface Queryable {
  query(sql: string, params?: unknown[]): Promise<{ rows: PgRow[]; rowCount: number | null }>;
}

/** The rows of one query. */
export async function all(db: Queryable, sql: string, params: unknown[] = []): Promise<PgRow[]> {
  return (await db.query(sql, params)).rows;
}

/**
 * The rows of `sql` in pages of `rowsPerPage`, read through a cursor inside one REPEATABLE READ,
 * READ ONLY transaction on a client of its own: every page comes from the same snapshot. Errors
 * are the driver's, for the caller to map. A read left early (break) or failed still holds its
 * transaction, so its client is discarded rather than given back to the pool.
 */
export async function* cursorPages(
  pool: Pool,
  sql: string,
  params: unknown[],
  rowsPerPage: number,
): AsyncGenerator<PgRow[]> {
  const client = await pool.connect();
  const session = watchSession(client, 'during a read (the server restarted or ended the session)');
  let finished = false;
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await client.query(`DECLARE pages NO SCROLL CURSOR FOR ${sql}`, params);
    for (;;) {
      const page = (await client.query(`FETCH ${rowsPerPage} FROM pages`)).rows as PgRow[];
      if (page.length === 0) break;
      yield page;
    }
    await client.query('COMMIT');
    finished = true;
  } catch (error) {
    throw session.ended() ?? error;
  } finally {
    session.stop();
    client.release(!finished);
  }
}

/** What ended a session while its client was checked out, and a way to stop listening. */
export interface SessionWatch {
  /** A store outage when the session ended (the server restarted or ended it), else null. */
  ended(): AmisyncError | null;
  stop(): void;
}

/**
 * Listens, while `client` is checked out of the pool, for its session ending between two
 * statements (the server restarted, terminated it, or ended a silent write transaction).
 * node-postgres reports that as an 'error' event on the client, and the pool listens for it only
 * while the client is idle: with no listener, the event would crash the process. The client's
 * next statement then fails with a message that says only that it "is not queryable"; `ended()`
 * says why, as a store outage: "the connection to PostgreSQL ended <when>: <the server's words>".
 */
export function watchSession(client: PoolClient, when: string): SessionWatch {
  let ended: AmisyncError | null = null;
  const onError = (error: Error): void => {
    const code = (error as { code?: unknown }).code;
    const known = typeof code === 'string';
    ended ??= new AmisyncError(
      'STORE_UNAVAILABLE',
      `the connection to PostgreSQL ended ${when}: ${error.message}` + (known ? ` (${code})` : ''),
      known ? { code } : {},
    );
  };
  client.on('error', onError);
  return {
    ended: () => ended,
    stop: () => {
      client.off('error', onError);
    },
  };
}
