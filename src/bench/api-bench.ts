/**
 * `npm run bench` (part): the operations API's latency with a large ledger. Fills a SQLite ledger
 * with AMISYNC_BENCH_READINGS readings (default 20,000,000) by the benches' SQL shortcut
 * (prefill.ts), then ingests one real delivery per source through the pipeline on top (so the
 * overview has sources, a quarantined record and an anomaly held), starts the API and dashboard
 * on loopback, and drives them with several concurrent clients (undici) for a few seconds per
 * page. Prints p50/p95/p99 per endpoint against the target: p95 under 100 ms for the overview and
 * a meter page.
 *
 *   npm run build && node dist/bench/api-bench.js
 *   AMISYNC_BENCH_READINGS=2000000 node dist/bench/api-bench.js
 *   AMISYNC_BENCH_DB=/data/big.db node dist/bench/api-bench.js   reuse a filled database
 *
 * Not part of the test suite. The meter page: `/meters/:id` and the ledger query by meter and
 * range are measured when the server has them; the series around a held reading
 * (`/api/anomalies/:id/series`, the same store.streamSeries a meter page reads) always is.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { addToken } from '../cli/commands/tokens.js';
import { ManualClock, systemRandom } from '../core/clock.js';
import { formatUtcSeconds } from '../core/identity.js';
import { DEFAULT_DICTIONARY } from '../dictionary/dictionary.js';
import type { Detector } from '../detect/detect.js';
import { ingestDelivery } from '../pipeline/ingest.js';
import { generateMeterIds } from '../simulator/feed-generator.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import { prefillLedger } from './prefill.js';

const INTERVAL_MS = 900_000;
const METERS = 1_000;
const SEED = 7;
const READINGS_DEFAULT = 20_000_000;
const CLIENTS = Number(process.env.AMISYNC_BENCH_CLIENTS ?? 8);
const SECONDS_PER_ENDPOINT = Number(process.env.AMISYNC_BENCH_SECONDS ?? 10);
const P95_TARGET_MS = 100;

/** Flags readings above 10 kWh: puts one anomaly in the ledger's worklist. */
const SPIKE: Detector = {
  name: 'bench.spike',
  inspect: (reading) =>
    reading.valueMicro > 10_000_000
      ? [{ detector: 'bench.spike', message: 'above 10 kWh in one interval' }]
      : [],
};

function ndjson(records: readonly Record<string, unknown>[]): Buffer {
  return Buffer.from(records.map((record) => `${JSON.stringify(record)}\n`).join(''));
}

async function* once(bytes: Buffer): AsyncGenerator<Uint8Array> {
  yield bytes;
}

/** Fills `path` (new) with `readings` prefilled readings, then a real delivery per source. */
async function fill(path: string, readings: number, meterIds: string[], afterMs: number) {
  await openSqliteStore(path, { nowMs: () => 0 }).close();
  const started = performance.now();
  prefillLedger(path, readings, meterIds, afterMs);
  const prefillSeconds = (performance.now() - started) / 1000;
  const clock = new ManualClock(afterMs + 86_400_000);
  const store = openSqliteStore(path, { nowMs: () => clock.nowMs() });
  try {
    for (const [sourceId, index] of [
      ['vendor-rest', 0],
      ['vendor-push', 1],
      ['vendor-drop', 2],
    ] as const) {
      const records = meterIds.slice(index * 300, index * 300 + 300).flatMap((meter, m) =>
        [0, 1, 2, 3].map((slot) => ({
          meter_id: meter,
          timestamp_utc: formatUtcSeconds(afterMs + slot * INTERVAL_MS),
          consumption_kwh: m === 0 && slot === 2 ? '40' : '0.25',
          status_code: 0,
          seq: slot + 1,
        })),
      );
      records.push({ ...records[0], consumption_kwh: '12abc', seq: 9 } as never);
      await ingestDelivery(once(ndjson(records)), {
        store,
        dictionary: DEFAULT_DICTIONARY,
        clock,
        random: systemRandom,
        format: 'ndjson',
        name: `${sourceId}-latest`,
        sourceId,
        detectors: [SPIKE],
      });
    }
  } finally {
    await store.close();
  }
  return prefillSeconds;
}

interface Measured {
  path: string;
  requests: number;
  errors: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  perSecond: number;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

/** CLIENTS loops, each one request at a time, for SECONDS_PER_ENDPOINT; a short warm-up first. */
async function drive(pool: Pool, path: string, token: string): Promise<Measured> {
  const headers = { authorization: `Bearer ${token}` };
  const request = async (): Promise<number> => {
    const response = await pool.request({ method: 'GET', path, headers });
    await response.body.arrayBuffer();
    return response.statusCode;
  };
  for (let i = 0; i < 3; i++) await request();
  const latencies: number[] = [];
  let errors = 0;
  const endMs = performance.now() + SECONDS_PER_ENDPOINT * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (performance.now() < endMs) {
        const t = performance.now();
        const status = await request();
        latencies.push(performance.now() - t);
        if (status !== 200) errors += 1;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    path,
    requests: latencies.length,
    errors,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    max: latencies.at(-1) ?? NaN,
    perSecond: latencies.length / seconds,
  };
}

function ms(n: number): string {
  return Number.isFinite(n) ? n.toFixed(1) : '-';
}

const CLI_MAIN = fileURLToPath(new URL('../cli/main.js', import.meta.url));

/** `amisync serve --db path --port 0 --json` in a child process; resolves once it listens. */
async function startServer(
  db: string,
): Promise<{ url: string; child: ChildProcess; exited: Promise<unknown> }> {
  const child = spawn(process.execPath, [CLI_MAIN, 'serve', '--db', db, '--port', '0', '--json'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      const line = out.split('\n')[0] ?? '';
      if (out.includes('\n')) resolve((JSON.parse(line) as { url: string }).url);
    });
    child.once('exit', (code) => reject(new Error(`amisync serve exited ${code}: ${out}`)));
  });
  return { url, child, exited };
}

async function main(): Promise<void> {
  const readings = Number(process.env.AMISYNC_BENCH_READINGS ?? READINGS_DEFAULT);
  if (!Number.isInteger(readings) || readings < METERS) {
    throw new Error(`AMISYNC_BENCH_READINGS must be a whole number of at least ${METERS}`);
  }
  const meterIds = generateMeterIds(SEED, METERS);
  // The prefilled history ends where the real deliveries start: 2026-10-01.
  const afterMs = Date.UTC(2026, 9, 1);
  const given = process.env.AMISYNC_BENCH_DB;
  const dir = join(tmpdir(), 'amisync-api-bench');
  const path = given ?? join(dir, 'ledger.db');
  if (given === undefined || !existsSync(given)) {
    if (given === undefined) {
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
    }
    process.stderr.write(`filling ${readings.toLocaleString()} readings into ${path}...\n`);
    const seconds = await fill(path, readings, meterIds, afterMs);
    const size = statSync(path).size / 2 ** 30;
    console.log(
      `fill: ${readings.toLocaleString()} readings (SQL shortcut, prefill.ts) in ` +
        `${seconds.toFixed(0)} s, ${Math.round(readings / seconds).toLocaleString()} readings/s; ` +
        `database ${size.toFixed(2)} GiB`,
    );
  } else console.log(`reusing ${path}`);

  const added = await addToken({ db: path, role: 'viewer', name: `bench-${Date.now()}` });
  // The server runs as `amisync serve` does, in its own process: the load generator here does not
  // share its event loop.
  const server = await startServer(path);
  const pool = new Pool(server.url, { connections: CLIENTS, pipelining: 1 });
  try {
    const anomalies = (await (
      await fetch(`${server.url}/api/anomalies?limit=1`, {
        headers: { authorization: `Bearer ${added.token}` },
      })
    ).json()) as { items?: { id: number }[]; anomalies?: { id: number }[] };
    const anomalyId = (anomalies.items ?? anomalies.anomalies ?? [])[0]?.id ?? 1;
    const meter = meterIds[0] as string;
    const from = new Date(afterMs - 7 * 86_400_000).toISOString();
    const to = new Date(afterMs).toISOString();
    const overview = ['/', '/api/sources', '/api/status'];
    const meterPage = [
      `/api/anomalies/${anomalyId}/series`,
      `/meters/${meter}`,
      `/api/ledger?meter=${meter}&from=${from}&to=${to}`,
      `/api/meters/${meter}/series?from=${from}&to=${to}`,
    ];
    const rows: Measured[] = [];
    for (const path of [...overview, ...meterPage]) {
      const probe = await fetch(`${server.url}${path}`, {
        headers: { authorization: `Bearer ${added.token}` },
      });
      await probe.arrayBuffer();
      if (probe.status !== 200) {
        console.log(`${path}: ${probe.status}, not measured (not served by this build)`);
        continue;
      }
      process.stderr.write(`driving ${path} with ${CLIENTS} clients...\n`);
      rows.push(await drive(pool, path, added.token));
    }
    console.log('');
    console.log(
      `API latency, ${readings.toLocaleString()} readings, ${CLIENTS} concurrent clients, ` +
        `${SECONDS_PER_ENDPOINT} s each (ms)`,
    );
    console.log(
      ['endpoint'.padEnd(64), 'requests', 'req/s', 'p50', 'p95', 'p99', 'max', 'errors'].join('\t'),
    );
    for (const row of rows) {
      console.log(
        [
          row.path.slice(0, 64).padEnd(64),
          row.requests,
          row.perSecond.toFixed(0),
          ms(row.p50),
          ms(row.p95),
          ms(row.p99),
          ms(row.max),
          row.errors,
        ].join('\t'),
      );
    }
    const worst = (paths: string[]) =>
      Math.max(...rows.filter((row) => paths.includes(row.path)).map((row) => row.p95));
    const overviewP95 = worst(['/', '/api/sources']);
    const meterP95 = worst(meterPage);
    console.log(
      `overview p95 ${ms(overviewP95)} ms, meter page p95 ${ms(meterP95)} ms: target p95 < ` +
        `${P95_TARGET_MS} ms -> ${overviewP95 < P95_TARGET_MS && meterP95 < P95_TARGET_MS ? 'met' : 'NOT MET'}`,
    );
  } finally {
    await pool.close();
    server.child.kill('SIGTERM');
    await server.exited;
  }
}

await main();
