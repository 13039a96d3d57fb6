/**
 * The two ways the PostgreSQL store reads rows: a query's rows at once, and a long read in pages
 * through a cursor in one snapshot, so that a whole ledger never sits in memory as result rows.
 */
import type { Pool } from 'pg';
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
  } finally {
    client.release(!finished);
  }
}
