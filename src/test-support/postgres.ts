/**
 * PostgreSQL for tests: the server on 127.0.0.1:5432 (AMISYNC_TEST_POSTGRES_URL overrides), one
 * fresh schema per test so that runs never see each other's data, every schema dropped after the
 * test file, and an "attacker" connection that runs SQL as the superuser on a test's schema.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { PostgresStore } from '../store/postgres/postgres-store.js';

export function postgresServerUrl(): string {
  return process.env['AMISYNC_TEST_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
}

/** Whether the server answers; the reason when it does not. */
export async function probePostgres(): Promise<{ available: boolean; reason: string }> {
  const client = new pg.Client({
    connectionString: postgresServerUrl(),
    connectionTimeoutMillis: 2_000,
  });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return { available: true, reason: '' };
  } catch (error) {
    return {
      available: false,
      reason: `not reachable at ${postgresServerUrl()} (${(error as Error).message})`,
    };
  } finally {
    await client.end().catch(() => undefined);
  }
}

const made: string[] = [];

/** A new schema name, and the store URL that selects it. */
export function freshPostgresSchema(): { schema: string; url: string } {
  const schema = `amisync_test_${process.pid}_${randomBytes(5).toString('hex')}`;
  made.push(schema);
  const url = new URL(postgresServerUrl());
  url.searchParams.set('schema', schema);
  return { schema, url: url.toString() };
}

/** Runs SQL on a schema as the superuser: what an attacker with database access can do. */
export async function runAsSuperuser(schema: string, sql: string): Promise<void> {
  const client = new pg.Client({
    connectionString: postgresServerUrl(),
    options: `-c search_path=${schema}`,
  });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * A session of an earlier writer of `partition` stopped in the middle of a batch's COPY, as a
 * frozen worker leaves it: it holds the schema's lock (shared) and the partition's, and the server
 * waits for the rest of its rows. `ended` records the codes of what ended it; `close` ends it.
 */
export async function sessionFrozenInCopy(
  schema: string,
  partition: number,
): Promise<{ ended: string[]; close(): Promise<void> }> {
  const client = new pg.Client({
    connectionString: postgresServerUrl(),
    options: `-c search_path=${schema}`,
  });
  const ended: string[] = [];
  // The server's word reaches the COPY under way (the client's event, when none is).
  const record = (error: Error & { code?: string }) => ended.push(error.code ?? 'none');
  client.on('error', record);
  await client.connect();
  await client.query('BEGIN');
  await client.query('SELECT pg_advisory_xact_lock_shared(hashtext(current_schema()))');
  await client.query('SELECT pg_advisory_xact_lock(hashtext(current_schema()), $1)', [partition]);
  const copy = client.query(copyFrom('COPY ledger (interval_start_ms, meter_id) FROM STDIN'));
  copy.on('error', record);
  copy.write('1767571200000\tMTR-');
  return { ended, close: () => client.end().catch(() => undefined) };
}

/** Drops every schema this test file made. */
export async function dropPostgresSchemas(): Promise<void> {
  const schemas = made.splice(0);
  if (schemas.length === 0) return;
  const client = new pg.Client({ connectionString: postgresServerUrl() });
  await client.connect();
  try {
    for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
}

/** A node of a PostgreSQL plan (`EXPLAIN (FORMAT JSON)`), as the plan tests read it. */
export interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

function nodesOf(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodesOf)];
}

/** Every node of the plan PostgreSQL chooses for `sql` in `schema`, the root first. */
export async function planOf(schema: string, sql: string, params: unknown[]): Promise<PlanNode[]> {
  const client = new pg.Client({
    connectionString: postgresServerUrl(),
    options: `-c search_path=${schema}`,
  });
  await client.connect();
  try {
    const result = await client.query(`EXPLAIN (FORMAT JSON) ${sql}`, params);
    const plan = (result.rows[0] as { 'QUERY PLAN': { Plan: PlanNode }[] })['QUERY PLAN'][0];
    return nodesOf(plan!.Plan);
  } finally {
    await client.end();
  }
}

/**
 * Makes the store create the ledger's monthly partitions for `months` months from `startMs`: one
 * placeholder reading of meter MTR-ZZZZZZZZ per month (the store creates a partition on its first
 * write), so a plan test can then fill the ledger by SQL.
 */
export async function createLedgerMonths(
  store: PostgresStore,
  startMs: number,
  months: number,
): Promise<void> {
  const monthMs = 31 * 86_400_000;
  await store.transaction(async (tx) => {
    const batchId = await tx.allocateBatchId();
    await tx.insertLedgerRows(
      Array.from({ length: months }, (_, month) => ({
        meterId: 'MTR-ZZZZZZZZ',
        channel: '1',
        intervalStartMs: startMs + month * monthMs,
        intervalSeconds: 900,
        commodity: 'electricity' as const,
        unit: 'kWh' as const,
        valueMicro: 1,
        statusCode: 0,
        seq: month,
        quality: 'actual' as const,
        qualityDetail: null,
        checksumSha256: null,
        idempotencyKey: `fill-${month}`,
        version: 1,
        supersedesKey: null,
        batchId,
        batchPosition: month,
      })),
    );
  });
}
