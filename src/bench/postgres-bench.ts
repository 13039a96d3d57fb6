/**
 * `npm run bench:postgres` (and the last part of `npm run bench`): the pipeline end to end on the
 * PostgreSQL store (ingestDelivery: raw bytes kept, Merkle roots, audit entry, stream state, the
 * ledger through COPY), beside a raw COPY + INSERT of the same rows in transactions of the same
 * size, measured in the same run on the same server:
 * - the ratio's ceiling: COPY into a staging table, then INSERT ... ON CONFLICT into a bare
 *   table of the ledger's columns and its unique key, nothing else;
 * - for reference: the store's own ledger write alone, into the migrated ledger (monthly
 *   partitions, its secondary indexes), so the share of the schema's indexes is seen apart from
 *   the pipeline's.
 * End to end runs with the product's default threads (the machine's cores, as `amisync ingest`
 * without `--threads`) and, beside it, on 1 thread; the ratio is the default's.
 * Each stage's CPU per reading is printed for the client and, when the server runs on this
 * machine, for the server processes of its connections: CPU time is steadier than wall clock on a
 * loaded machine.
 * The feed is the one `npm run bench` generates (same seed, meters and start). Each measurement
 * gets a fresh schema, dropped at the end. When the server is absent it prints why and exits 0.
 *
 *   npm run bench:postgres                          500,000 readings
 *   npm run bench:postgres -- --readings 1000000 --rounds 3
 *   npm run bench:postgres -- --threads 1              end to end on one thread only
 *   AMISYNC_BENCH_POSTGRES_URL=postgres://user@host:5432/db npm run bench:postgres
 *
 * Not part of the test suite.
 */
import {
  createReadStream,
  createWriteStream,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { CountingRandom, ManualClock } from '../core/clock.js';
import { BATCH_READINGS_MAX, READ_CHUNK_BYTES } from '../core/limits.js';
import type { LedgerRow } from '../core/store.js';
import { DEFAULT_DICTIONARY } from '../dictionary/dictionary.js';
import { createValidator } from '../dictionary/validator.js';
import { createNdjsonParser } from '../formats/ndjson.js';
import { ledgerRow } from '../pipeline/commit.js';
import { ingestDelivery } from '../pipeline/ingest.js';
import { defaultThreads } from '../pipeline/parallel-parse.js';
import { generateFeedRecords, toNdjson } from '../simulator/feed-generator.js';
import {
  copyLedgerRows,
  ensureLedgerPartitions,
  LEDGER_COLUMNS,
  ledgerCopyChunks,
} from '../store/postgres/postgres-ledger.js';
import { openPostgresStore, parsePostgresUrl } from '../store/postgres/postgres-store.js';

/** The same feed as bench.ts: seed, meters and first interval. */
const METERS = 1_000;
const SEED = 7;
const FEED_START_MS = Date.UTC(2026, 0, 1);
const TARGET_RATIO = 0.5;
const DEFAULT_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

interface Measured {
  stage: string;
  readings: number;
  seconds: number;
  /** CPU seconds of this process (the client side: Node's share of the work). */
  clientCpuSeconds: number;
  /**
   * CPU seconds of the server processes serving this stage's connections, read from /proc when
   * the server runs on this machine (null otherwise). CPU time, unlike wall clock, barely moves
   * with other load on a shared machine.
   */
  serverCpuSeconds: number | null;
}

function serverUrl(): string {
  return (
    process.env['AMISYNC_BENCH_POSTGRES_URL'] ??
    process.env['AMISYNC_TEST_POSTGRES_URL'] ??
    DEFAULT_URL
  );
}

function rate(row: Measured): number {
  return row.readings / row.seconds;
}

/** The application name each stage's connections carry, so its server processes can be found. */
const BENCH_APPLICATION = `amisync-bench-${process.pid}`;

/** The URL with this run's application name set. */
function named(url: string): string {
  const named = new URL(url);
  named.searchParams.set('application_name', BENCH_APPLICATION);
  return named.toString();
}

/** CPU seconds (user + system) of one local process, or null when /proc does not show it. */
function processCpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at field 3; utime and stime
    // are fields 14 and 15, in clock ticks (100 per second on Linux).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

/** Sums the CPU of the server processes of this run's connections; null when not local. */
async function serverCpuSeconds(url: string): Promise<Map<number, number> | null> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const found = await client.query(
      'SELECT pid FROM pg_stat_activity WHERE application_name = $1',
      [BENCH_APPLICATION],
    );
    const cpu = new Map<number, number>();
    for (const { pid } of found.rows as { pid: number }[]) {
      const seconds = processCpuSeconds(pid);
      if (seconds === null) return null;
      cpu.set(pid, seconds);
    }
    return cpu;
  } finally {
    await client.end();
  }
}

/**
 * Runs `work` timed by wall clock, by this process's CPU and by its server processes' CPU. The
 * stage's connections must be open (and named) when `work` starts and until it ends.
 */
async function timed(url: string, stage: string, readings: number, work: () => Promise<void>) {
  const serverBefore = await serverCpuSeconds(url);
  const start = process.hrtime.bigint();
  const cpuStart = process.cpuUsage();
  await work();
  const cpu = process.cpuUsage(cpuStart);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const serverAfter = await serverCpuSeconds(url);
  let server: number | null = null;
  if (serverBefore !== null && serverAfter !== null) {
    server = 0;
    for (const [pid, after] of serverAfter) server += after - (serverBefore.get(pid) ?? 0);
  }
  return {
    stage,
    readings,
    seconds,
    clientCpuSeconds: (cpu.user + cpu.system) / 1e6,
    serverCpuSeconds: server,
  };
}

async function probe(url: string): Promise<string | null> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (error) {
    return `PostgreSQL not reachable at ${url} (${(error as Error).message})`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A schema name of this run, and the store URL selecting it. */
function benchSchema(url: string, made: string[]): { schema: string; storeUrl: string } {
  const schema = `amisync_bench_${process.pid}_${randomBytes(4).toString('hex')}`;
  made.push(schema);
  const storeUrl = new URL(url);
  storeUrl.searchParams.set('schema', schema);
  return { schema, storeUrl: storeUrl.toString() };
}

async function writeFeed(path: string, readings: number): Promise<number> {
  const out = createWriteStream(path);
  const records = generateFeedRecords({
    seed: SEED,
    meters: METERS,
    startMs: FEED_START_MS,
    intervals: readings / METERS,
  });
  for (const line of toNdjson(records)) if (!out.write(line)) await once(out, 'drain');
  out.end();
  await once(out, 'finish');
  return statSync(path).size;
}

/** The feed's readings as the ledger rows the pipeline writes, in batches of the same size. */
async function ledgerBatches(feedPath: string, clock: ManualClock): Promise<LedgerRow[][]> {
  const parser = createNdjsonParser();
  const validate = createValidator(DEFAULT_DICTIONARY, clock);
  const accept = { kind: 'accept', version: 1, supersedes: null } as const;
  const batches: LedgerRow[][] = [];
  let batch: LedgerRow[] = [];
  const take = (items: ReturnType<typeof parser.push>): void => {
    for (const item of items) {
      if (item.kind !== 'record') throw new Error('bench feed has a parse reject');
      const result = validate(item.record);
      if (!result.ok) throw new Error(`bench record invalid: ${JSON.stringify(result.reject)}`);
      batch.push(ledgerRow(result.reading, accept, batches.length + 1, batch.length));
      if (batch.length === BATCH_READINGS_MAX) {
        batches.push(batch);
        batch = [];
      }
    }
  };
  for await (const chunk of createReadStream(feedPath, { highWaterMark: READ_CHUNK_BYTES })) {
    take(parser.push(chunk as Buffer));
  }
  take(parser.end());
  if (batch.length > 0) batches.push(batch);
  return batches;
}

/** The end-to-end stage's name: its thread count, 1 or the product default (the cores). */
function endToEndStage(threads: number): string {
  return `END TO END, ${threads} thread${threads === 1 ? '' : 's'}`;
}

async function endToEnd(
  url: string,
  made: string[],
  feedPath: string,
  clock: ManualClock,
  threads: number,
) {
  const { storeUrl } = benchSchema(named(url), made);
  const store = await openPostgresStore(storeUrl, { nowMs: () => 0 });
  let accepted = 0;
  let received = 0;
  try {
    const row = await timed(url, endToEndStage(threads), 0, async () => {
      const report = await ingestDelivery(
        createReadStream(feedPath, { highWaterMark: READ_CHUNK_BYTES }),
        {
          store,
          dictionary: DEFAULT_DICTIONARY,
          clock,
          random: new CountingRandom(),
          format: 'ndjson',
          name: 'feed.ndjson',
          sourceId: 'bench',
          detectors: [],
          threads,
        },
      );
      accepted = report.counts.accepted;
      received = report.counts.received;
    });
    if (accepted !== received) throw new Error(`accepted ${accepted} of ${received}`);
    return { ...row, readings: received };
  } finally {
    await store.close();
  }
}

/** The ceiling: COPY into a staging table, then INSERT ... ON CONFLICT into a bare table. */
async function bareCeiling(url: string, made: string[], batches: readonly LedgerRow[][]) {
  const { schema } = benchSchema(url, made);
  const client = new pg.Client({ connectionString: named(url) });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA ${schema}`);
    await client.query(`SET search_path TO ${schema}`);
    await client.query(`CREATE TABLE bare_ledger (
      id bigserial, interval_start_ms bigint NOT NULL, meter_id text NOT NULL,
      channel text NOT NULL, version integer NOT NULL, seq bigint NOT NULL,
      interval_seconds integer NOT NULL, value_micro bigint NOT NULL, status_code integer NOT NULL,
      quality text NOT NULL, checksum_sha256 text, idempotency_key text NOT NULL,
      supersedes_key text, batch_id bigint NOT NULL, batch_position integer NOT NULL,
      commodity text NOT NULL, unit text NOT NULL, quality_detail text,
      UNIQUE (interval_start_ms, meter_id, channel, version))`);
    await client.query(`CREATE TEMP TABLE bare_stage ON COMMIT DELETE ROWS
      AS SELECT ${LEDGER_COLUMNS} FROM bare_ledger WITH NO DATA`);
    const readings = batches.reduce((sum, batch) => sum + batch.length, 0);
    return await timed(url, 'ceiling: raw COPY + INSERT, bare table', readings, async () => {
      for (const batch of batches) {
        await client.query('BEGIN');
        const copy = client.query(copyFrom(`COPY bare_stage (${LEDGER_COLUMNS}) FROM STDIN`));
        await pipeline(Readable.from(ledgerCopyChunks(batch)), copy);
        await client.query(
          `INSERT INTO bare_ledger (${LEDGER_COLUMNS}) SELECT ${LEDGER_COLUMNS} FROM bare_stage
           ORDER BY batch_id, batch_position
           ON CONFLICT (interval_start_ms, meter_id, channel, version) DO NOTHING`,
        );
        await client.query('TRUNCATE bare_stage');
        await client.query('COMMIT');
      }
    });
  } finally {
    await client.end();
  }
}

/** For reference: the store's own ledger write alone, into the migrated (partitioned) ledger. */
async function ledgerTableReference(url: string, made: string[], batches: readonly LedgerRow[][]) {
  const { storeUrl } = benchSchema(named(url), made);
  await (await openPostgresStore(storeUrl, { nowMs: () => 0 })).close();
  const target = parsePostgresUrl(storeUrl);
  const pool = new pg.Pool({
    connectionString: target.connectionString,
    max: 1,
    options: `-c search_path=${target.schema}`,
  });
  const client = await pool.connect();
  try {
    const known = new Set<string>();
    const readings = batches.reduce((sum, batch) => sum + batch.length, 0);
    return await timed(url, "reference: the store's ledger write alone", readings, async () => {
      for (const batch of batches) {
        await client.query('BEGIN');
        await ensureLedgerPartitions(client, batch, known);
        await copyLedgerRows(client, batch);
        await client.query('COMMIT');
      }
    });
  } finally {
    client.release();
    await pool.end();
  }
}

async function dropSchemas(url: string, schemas: readonly string[]): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
}

function best(list: readonly Measured[]): Measured {
  return list.reduce((a, b) => (b.seconds < a.seconds ? b : a));
}

function perReadingMicros(seconds: number | null, row: Measured): string {
  return seconds === null ? '-' : ((seconds / row.readings) * 1e6).toFixed(2);
}

function tableLines(rows: readonly Measured[], ceiling: Measured): string[] {
  return [
    `${'stage'.padEnd(44)}${'reads/s'.padStart(10)}${'seconds'.padStart(9)}` +
      `${'x ceiling'.padStart(11)}${'client CPU us/read'.padStart(20)}` +
      `${'server CPU us/read'.padStart(20)}`,
    ...rows.map(
      (row) =>
        `${row.stage.padEnd(44)}${Math.round(rate(row)).toLocaleString().padStart(10)}` +
        `${row.seconds.toFixed(2).padStart(9)}${(rate(row) / rate(ceiling)).toFixed(2).padStart(11)}` +
        `${perReadingMicros(row.clientCpuSeconds, row).padStart(20)}` +
        `${perReadingMicros(row.serverCpuSeconds, row).padStart(20)}`,
    ),
  ];
}

/**
 * The same ratio by CPU per reading (client + server) instead of wall clock: what the ratio would
 * be if nothing else ran on the machine and client and server never waited for each other.
 */
function cpuRatioLine(e2e: Measured, ceiling: Measured): string[] {
  if (e2e.serverCpuSeconds === null || ceiling.serverCpuSeconds === null) return [];
  const total = (row: Measured) =>
    ((row.clientCpuSeconds + (row.serverCpuSeconds ?? 0)) / row.readings) * 1e6;
  return [
    `by CPU per reading (client + server): end to end ${total(e2e).toFixed(2)} us, ` +
      `ceiling ${total(ceiling).toFixed(2)} us, ratio ${(total(ceiling) / total(e2e)).toFixed(2)}`,
  ];
}

interface Runs {
  e2e: Measured[];
  oneThread: Measured[];
  bare: Measured[];
  ledger: Measured[];
}

/** The summary lines: the ratio is taken for the product default (`threads`), and 1 thread. */
function ratioLines(e2e: Measured, one: Measured | null, ceiling: Measured, ref: Measured) {
  const lines = [
    `end to end / ceiling = ${(rate(e2e) / rate(ceiling)).toFixed(2)} ` +
      `(target >= ${TARGET_RATIO.toFixed(2)}); against the migrated ledger's own write ` +
      `${(rate(e2e) / rate(ref)).toFixed(2)}`,
  ];
  if (one !== null) {
    lines.push(
      `on 1 thread: end to end / ceiling = ${(rate(one) / rate(ceiling)).toFixed(2)}; ` +
        `${e2e.stage} runs ${(rate(e2e) / rate(one)).toFixed(2)}x the 1-thread rate`,
    );
  }
  return [...lines, ...cpuRatioLine(e2e, ceiling)];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      readings: { type: 'string', default: '500000' },
      rounds: { type: 'string', default: '1' },
      threads: { type: 'string', default: String(defaultThreads()) },
      dir: { type: 'string', default: join(tmpdir(), 'amisync-postgres-bench') },
    },
  });
  const url = serverUrl();
  const absent = await probe(url);
  if (absent !== null) {
    process.stdout.write(`skipping the PostgreSQL bench: ${absent}\n`);
    return;
  }
  const rounds = Math.max(1, Math.floor(Number(values.rounds)));
  const threads = Math.max(1, Math.floor(Number(values.threads)));
  const readings = Math.max(METERS, Math.round(Number(values.readings) / METERS) * METERS);
  const dir = values.dir;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const clock = new ManualClock(Date.UTC(2030, 0, 1));
  const feedPath = join(dir, 'feed.ndjson');
  const feedBytes = await writeFeed(feedPath, readings);
  const made: string[] = [];
  try {
    const batches = await ledgerBatches(feedPath, clock);
    // Alternated, best of each kept: a burst of other load on a shared machine then does not
    // land on one side only.
    const runs: Runs = { e2e: [], oneThread: [], bare: [], ledger: [] };
    for (let round = 0; round < rounds; round++) {
      runs.e2e.push(await endToEnd(url, made, feedPath, clock, threads));
      if (threads > 1) runs.oneThread.push(await endToEnd(url, made, feedPath, clock, 1));
      runs.bare.push(await bareCeiling(url, made, batches));
      runs.ledger.push(await ledgerTableReference(url, made, batches));
    }
    const e2e = best(runs.e2e);
    const one = runs.oneThread.length > 0 ? best(runs.oneThread) : null;
    const ceiling = best(runs.bare);
    const reference = best(runs.ledger);
    const version = await serverVersion(url);
    const lines = [
      `amisync PostgreSQL bench: ${readings.toLocaleString()} readings ` +
        `(${(feedBytes / 1e6).toFixed(0)} MB NDJSON), batches of ${BATCH_READINGS_MAX}, ` +
        `best of ${rounds}, ${version}, node ${process.version}`,
      '',
      ...tableLines(
        one === null ? [e2e, ceiling, reference] : [e2e, one, ceiling, reference],
        ceiling,
      ),
      '',
      ...ratioLines(e2e, one, ceiling, reference),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await dropSchemas(url, made);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function serverVersion(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const row = (await client.query('SHOW server_version')).rows[0] as { server_version: string };
    return `PostgreSQL ${row.server_version.split(' ')[0] ?? '?'}`;
  } finally {
    await client.end();
  }
}

await main();
