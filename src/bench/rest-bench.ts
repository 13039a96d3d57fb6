/**
 * The REST pull's speed beside file ingest, measured in the same run on the same readings. The
 * simulated vendor head-end (`amisync simulate rest`) runs in a child process, as a vendor's API
 * would run outside the client's event loop, with no faults, no rate limit, everything published
 * (a backfill) and cursor pagination; the real REST source, built from the config the simulator
 * writes, pulls every page through the source runner into a fresh database. The file rates are the
 * exact page bytes the pull received, written as files and ingested in the same vendor JSON
 * dialect (the ratio the target is about), and for reference the same readings as one NDJSON
 * file. Every run starts on a fresh database and must end with the simulator's ground truth in the
 * ledger; a wrong count fails the run, a low ratio does not. Prints the rates and the ratio (the
 * target is at least 0.7).
 *
 *   node dist/bench/rest-bench.js                         about 1,000,000 readings
 *   node dist/bench/rest-bench.js --readings 200000 --page-size 10000
 *
 * Not part of the test suite.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';
import { CountingRandom, systemClock } from '../core/clock.js';
import { READ_CHUNK_BYTES } from '../core/limits.js';
import { MemoryLogger } from '../core/log.js';
import type { FormatContext, InputFormat } from '../core/parser.js';
import type { Delivery } from '../core/source.js';
import type { BatchCounts } from '../core/store.js';
import { createSourceContext } from '../cli/config/source-context.js';
import { DEFAULT_DICTIONARY } from '../dictionary/dictionary.js';
import { ingestDelivery, type DeliveryReport } from '../pipeline/ingest.js';
import { runSource } from '../pipeline/run-source.js';
import { generateFeed, toNdjson } from '../simulator/feed-generator.js';
import type { Truth } from '../simulator/truth.js';
import { restSourceKind } from '../sources/rest/rest-source.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';

const MAIN = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const SEED = 13;
const INTERVALS_PER_DAY = 96;
/** 625 meters make 60,000 readings a day: a 24-hour window is six whole 10,000-reading pages. */
const METERS = 625;
const JSON_DIALECT = 'json-dialect' as InputFormat;

/** What the simulator prints with --json once it listens (the keys used here). */
interface Started {
  url: string;
  configFile: string;
  truthFile: string;
  feedStart: string;
  records: number;
}

interface Run {
  readings: number;
  seconds: number;
  counts: BatchCounts;
  ledgerReadings: number;
}

function secondsSince(startNs: bigint): number {
  return Number(process.hrtime.bigint() - startNs) / 1e9;
}

function sumCounts(reports: readonly DeliveryReport[]): BatchCounts {
  const sum: BatchCounts = {
    received: 0,
    accepted: 0,
    duplicates: 0,
    quarantined: 0,
    conflicts: 0,
    anomalyHeld: 0,
    deadLettered: 0,
    revisions: 0,
  };
  for (const { counts } of reports) {
    for (const key of Object.keys(sum) as (keyof BatchCounts)[]) sum[key] += counts[key];
  }
  return sum;
}

/** Meters and days (x 96 readings) nearest the readings asked for. */
function feedSize(readings: number): { meters: number; days: number } {
  const meters = Math.max(1, Math.min(METERS, Math.round(readings / INTERVALS_PER_DAY)));
  const days = Math.max(1, Math.round(readings / (meters * INTERVALS_PER_DAY)));
  return { meters, days };
}

/** Starts `amisync simulate rest` and resolves with what it printed once it listens. */
async function startSimulator(
  dir: string,
  size: { meters: number; days: number },
  pageSize: number,
): Promise<{ child: ChildProcess; started: Started }> {
  const args = [
    ...['simulate', 'rest', '--port', '0', '--seed', String(SEED)],
    ...['--meters', String(size.meters), '--days', String(size.days), '--backfill'],
    ...['--pagination', 'cursor', '--page-size', String(pageSize), '--json'],
    ...['--config-out', join(dir, 'sim-rest.yaml'), '--truth', join(dir, 'truth.json')],
    ...['--db', join(dir, 'rest.db')],
  ];
  const child = spawn(process.execPath, [MAIN, ...args], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const started = await new Promise<Started>((resolve, reject) => {
    child.stdout?.setEncoding('utf8').on('data', (text: string) => {
      stdout += text;
      try {
        resolve(JSON.parse(stdout) as Started);
      } catch {
        // The JSON document is not complete yet.
      }
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      reject(new Error(`simulate rest exited with ${String(code)} before listening: ${stderr}`));
    });
  });
  return { child, started };
}

async function stopSimulator(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}

async function ledgerReadings(dbPath: string): Promise<number> {
  const store = openSqliteStore(dbPath, { nowMs: () => systemClock.nowMs() });
  const status = await store.status();
  await store.close();
  return status.ledger.readings;
}

/** Pulls every page with the REST source; `pages` receives each delivery as it starts. */
async function restPull(started: Started, dbPath: string, pages: Delivery[]): Promise<Run> {
  const config = parse(readFileSync(started.configFile, 'utf8')) as { sources: unknown[] };
  const sourceConfig = restSourceKind.schema.parse(config.sources[0]);
  const store = openSqliteStore(dbPath, { nowMs: () => systemClock.nowMs() });
  const random = new CountingRandom();
  const log = new MemoryLogger();
  const context = createSourceContext({ store, clock: systemClock, random, log, env: {} });
  const source = restSourceKind.create(sourceConfig, context);
  const start = process.hrtime.bigint();
  const reports = await runSource(source, {
    store,
    dictionary: DEFAULT_DICTIONARY,
    clock: systemClock,
    random,
    onDeliveryStart: (delivery) => pages.push(delivery),
  });
  const seconds = secondsSince(start);
  await store.close();
  const counts = sumCounts(reports);
  return {
    readings: counts.accepted,
    seconds,
    counts,
    ledgerReadings: await ledgerReadings(dbPath),
  };
}

/** Ingests files one delivery each, in order, into a fresh database. */
async function fileIngest(
  paths: readonly string[],
  format: InputFormat,
  formatContext: FormatContext | undefined,
  dbPath: string,
): Promise<Run> {
  const store = openSqliteStore(dbPath, { nowMs: () => systemClock.nowMs() });
  const random = new CountingRandom();
  const reports: DeliveryReport[] = [];
  const start = process.hrtime.bigint();
  for (const path of paths) {
    const bytes = createReadStream(path, { highWaterMark: READ_CHUNK_BYTES });
    reports.push(
      await ingestDelivery(bytes, {
        store,
        dictionary: DEFAULT_DICTIONARY,
        clock: systemClock,
        random,
        format,
        ...(formatContext === undefined ? {} : { formatContext }),
        name: path,
        sourceId: 'bench-file',
      }),
    );
  }
  const seconds = secondsSince(start);
  await store.close();
  const counts = sumCounts(reports);
  return {
    readings: counts.accepted,
    seconds,
    counts,
    ledgerReadings: await ledgerReadings(dbPath),
  };
}

/** Writes each page's bytes, exactly as received, to its own file. */
async function writePages(pages: readonly Delivery[], dir: string): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const paths: string[] = [];
  for (const [index, page] of pages.entries()) {
    const chunks: Uint8Array[] = [];
    for await (const chunk of page.bytes()) chunks.push(chunk);
    const path = join(dir, `page-${String(index).padStart(6, '0')}.json`);
    writeFileSync(path, Buffer.concat(chunks));
    paths.push(path);
  }
  return paths;
}

/** A run that does not end with the simulator's truth fails the benchmark. */
function checkRun(what: string, run: Run, truth: Truth): void {
  const { counts } = run;
  const right =
    counts.accepted === truth.valid &&
    run.ledgerReadings === truth.currentReadings &&
    counts.quarantined === truth.invalid + truth.conflicts &&
    counts.duplicates === truth.duplicates;
  if (!right) {
    throw new Error(
      `${what}: the ledger does not hold the simulator's truth: accepted ${counts.accepted} ` +
        `(truth ${truth.valid}), ledger ${run.ledgerReadings} (truth ${truth.currentReadings}), ` +
        `quarantined ${counts.quarantined} (truth ${truth.invalid + truth.conflicts}), ` +
        `duplicates ${counts.duplicates} (truth ${truth.duplicates})`,
    );
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      readings: { type: 'string', default: '1000000' },
      'page-size': { type: 'string', default: '10000' },
      dir: { type: 'string', default: join(tmpdir(), 'amisync-rest-bench') },
    },
  });
  const size = feedSize(Number(values.readings));
  const pageSize = Number(values['page-size']);
  const dir = values.dir;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });

  const { child, started } = await startSimulator(dir, size, pageSize);
  const pages: Delivery[] = [];
  let rest: Run;
  try {
    rest = await restPull(started, join(dir, 'rest.db'), pages);
  } finally {
    await stopSimulator(child);
  }
  // The simulator rewrites its truth as it stops, with any repeat it served.
  const truth = JSON.parse(readFileSync(started.truthFile, 'utf8')) as Truth;
  checkRun('REST pull', rest, truth);

  const pagePaths = await writePages(pages, join(dir, 'pages'));
  const context = pages[0]?.formatContext ?? undefined;
  const feed = generateFeed({
    seed: SEED,
    meters: size.meters,
    startMs: Date.parse(started.feedStart),
    intervals: size.days * INTERVALS_PER_DAY,
    estimateRate: 0,
    retransmitRate: 0,
    conflictRate: 0,
    badRate: 0,
    checksumRate: 0,
  });
  const ndjsonPath = join(dir, 'feed.ndjson');
  writeFileSync(ndjsonPath, [...toNdjson(feed.records)].join(''));

  const dialect = await fileIngest(pagePaths, JSON_DIALECT, context, join(dir, 'dialect.db'));
  checkRun('file ingest (vendor JSON pages)', dialect, truth);
  const ndjson = await fileIngest([ndjsonPath], 'ndjson', undefined, join(dir, 'ndjson.db'));
  checkRun('file ingest (NDJSON)', ndjson, truth);

  const rate = (run: Run): number => run.readings / run.seconds;
  const format = (run: Run): string =>
    `${Math.round(rate(run)).toLocaleString('en-US').padStart(9)} reads/s ` +
    `(${run.seconds.toFixed(2)} s)`;
  process.stdout.write(
    [
      `${truth.valid.toLocaleString('en-US')} readings (${size.meters} meters x ${size.days} ` +
        `days x 96), ${pageSize.toLocaleString('en-US')}-reading pages, ${pages.length} pages ` +
        '(cursor), simulator in a child process',
      `file ingest, same pages (vendor JSON)   ${format(dialect)}`,
      `file ingest, one NDJSON file            ${format(ndjson)}`,
      `REST pull                               ${format(rest)}`,
      `REST / file ingest (same pages) = ${(rate(rest) / rate(dialect)).toFixed(2)} ` +
        `(target >= 0.70); REST / NDJSON file = ${(rate(rest) / rate(ndjson)).toFixed(2)}`,
      `each ledger holds the simulator's truth: ${truth.currentReadings.toLocaleString('en-US')} ` +
        'readings',
      '',
    ].join('\n'),
  );
}

await main();
