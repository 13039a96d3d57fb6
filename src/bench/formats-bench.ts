/**
 * The per-format rows of `npm run bench`: each wire format's delivery of the same readings,
 * ingested end to end (file -> parser -> dictionary -> ledger, raw bytes kept) in a child process
 * of its own, so that each row's peak resident memory is that format's alone.
 *
 *   node dist/bench/formats-bench.js --readings 1000000
 *   node dist/bench/formats-bench.js --readings 4000000 --only nem12,cmep
 *
 * Not part of the test suite.
 */
import { spawnSync } from 'node:child_process';
import { createReadStream, createWriteStream, mkdirSync, rmSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CountingRandom, ManualClock } from '../core/clock.js';
import { READ_CHUNK_BYTES } from '../core/limits.js';
import type { InputFormat } from '../core/parser.js';
import { parseDictionary } from '../dictionary/dictionary.js';
import { writeEspiFeed } from '../formats/green-button/espi-writer.js';
import { ingestDelivery } from '../pipeline/ingest.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';

const METERS = 500;
const INTERVALS_PER_DAY = 96;
const DAY_MS = 86_400_000;
/** 2026-01-01T00:00:00+10:00: NEM time midnight, the first day of every generated delivery. */
const FIRST_DAY_NEM_MS = Date.UTC(2025, 11, 31, 14);
const NOW_MS = Date.UTC(2030, 0, 1);

/** Each meter's NMI (10 characters from NEM12's alphabet) and CMEP/CSV meter id. */
function meterId(index: number): string {
  return `NMB${String(index).padStart(7, '0')}`;
}

/** A deterministic load value in kWh with three decimals, never negative. */
function kwh(meter: number, day: number, interval: number): string {
  const milli = ((meter * 7919 + day * 104_729 + interval * 31) % 900) + 50;
  return (milli / 1000).toFixed(3);
}

function yyyymmdd(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10).replaceAll('-', '');
}

interface Delivery {
  format: InputFormat;
  formatContext: Record<string, unknown>;
  lines: Generator<string>;
}

/**
 * Day by day, every meter's day in turn, as a distributor's daily files arrive: the ledger's index
 * is in time order, so this is the layout it inserts fastest. A file of one meter's many days
 * (a backfill) inserts out of time order, which costs more per row (ARCHITECTURE 8).
 */
function* nem12Lines(days: number): Generator<string> {
  yield '100,NEM12,202601010000,MDPBENCH,RETBENCH\n';
  for (let day = 0; day < days; day++) {
    const date = yyyymmdd(FIRST_DAY_NEM_MS + 10 * 3_600_000 + day * DAY_MS);
    for (let meter = 0; meter < METERS; meter++) {
      yield `200,${meterId(meter)},E1,1,E1,N1,METER${meter},kWh,15,\n`;
      const values = Array.from({ length: INTERVALS_PER_DAY }, (_, i) => kwh(meter, day, i));
      yield `300,${date},${values.join(',')},A,,,20260201000000,\n`;
    }
  }
  yield '900\n';
}

/** CMEP in UTC: one record per meter and day, 96 quarter hours, only the first END stamp sent. */
function* cmepLines(days: number): Generator<string> {
  for (let day = 0; day < days; day++) {
    for (let meter = 0; meter < METERS; meter++) {
      const startMs = FIRST_DAY_NEM_MS + day * DAY_MS;
      const firstEnd = new Date(startMs + 900_000).toISOString();
      const stamp = firstEnd.slice(0, 16).replace(/[-T:]/g, '');
      const triples = Array.from({ length: INTERVALS_PER_DAY }, (_, i) =>
        i === 0 ? `${stamp},,${kwh(meter, day, i)}` : `,,${kwh(meter, day, i)}`,
      );
      yield (
        `MEPMD01,19970819,BENCH,BENCHCUST,RECEIVER,RECVCUST,202602010000,${meterId(meter)},OK,E,` +
        `KWH,1,00000015,${INTERVALS_PER_DAY},${triples.join(',')}\r\n`
      );
    }
  }
}

const CSV_DIALECT = {
  name: 'bench-semicolon',
  delimiter: ';',
  decimalSeparator: ',',
  columns: {
    meterId: 'meter',
    channel: null,
    timestamp: 'start',
    value: 'value',
    unit: { constant: 'kWh' },
    quality: null,
    intervalSeconds: { constant: 900 },
  },
  timestampFormat: 'iso8601',
  timeZone: 'UTC',
  timestampMarks: 'start',
};

function* csvDialectLines(days: number): Generator<string> {
  yield 'meter;start;value\n';
  for (let day = 0; day < days; day++) {
    for (let meter = 0; meter < METERS; meter++) {
      for (let i = 0; i < INTERVALS_PER_DAY; i++) {
        const start = new Date(FIRST_DAY_NEM_MS + day * DAY_MS + i * 900_000).toISOString();
        yield `${meterId(meter)};${start.slice(0, 19)}Z;${kwh(meter, day, i).replace('.', ',')}\n`;
      }
    }
  }
}

/**
 * A Green Button feed: one UsagePoint per meter, its days as IntervalBlocks of 96 quarter hours in
 * Wh. A feed is a customer's history, meter by meter, so unlike the other rows it inserts out of
 * time order (ARCHITECTURE 8).
 */
function* greenButtonLines(days: number): Generator<string> {
  const usagePoints = Array.from({ length: METERS }, (_, meter) => ({
    path: `RetailCustomer/${meter}/UsagePoint/1`,
    title: `meter ${meter}`,
    serviceKind: '0',
    meterReadings: [
      {
        id: '01',
        readingType: {
          id: `RT${meter}`,
          accumulationBehaviour: '4',
          commodity: '1',
          flowDirection: '1',
          intervalLength: '900',
          powerOfTenMultiplier: '0',
          uom: '72',
        },
        intervalBlocks: Array.from({ length: days }, (_, day) => {
          const startSeconds = (FIRST_DAY_NEM_MS + day * DAY_MS) / 1000;
          return {
            id: String(day + 1),
            updated: '2026-02-01T00:00:00Z',
            intervalStart: String(startSeconds),
            intervalDuration: '86400',
            readings: Array.from({ length: INTERVALS_PER_DAY }, (_, i) => ({
              start: String(startSeconds + i * 900),
              duration: '900',
              value: String(Math.round(Number(kwh(meter, day, i)) * 1000)),
              qualities: [],
            })),
          };
        }),
      },
    ],
  }));
  yield writeEspiFeed({
    hrefRoot: 'https://utility.example/DataCustodian/espi/1_1/resource',
    updated: '2026-02-01T00:00:00Z',
    usagePoints,
  });
}

function deliveryOf(format: InputFormat, days: number): Delivery {
  switch (format) {
    case 'nem12':
      return { format, formatContext: {}, lines: nem12Lines(days) };
    case 'cmep':
      return { format, formatContext: { timeZone: 'UTC' }, lines: cmepLines(days) };
    case 'csv-dialect':
      return { format, formatContext: { dialect: CSV_DIALECT }, lines: csvDialectLines(days) };
    case 'green-button':
      return { format, formatContext: {}, lines: greenButtonLines(days) };
    default:
      throw new Error(`no generator for ${format}`);
  }
}

async function writeLines(path: string, lines: Iterable<string>): Promise<number> {
  const out = createWriteStream(path);
  for (const line of lines) if (!out.write(line)) await once(out, 'drain');
  out.end();
  await once(out, 'finish');
  return statSync(path).size;
}

const DICTIONARY = parseDictionary({
  formats: { nem12: {}, cmep: {}, 'csv-dialect': { meterIdPattern: '^NMB[0-9]{7}$' } },
});

/** Child: ingests one generated file and prints what it measured as one JSON line. */
async function child(format: InputFormat, file: string, db: string, context: string) {
  const store = openSqliteStore(db, { nowMs: () => 0 });
  const start = process.hrtime.bigint();
  const report = await ingestDelivery(createReadStream(file, { highWaterMark: READ_CHUNK_BYTES }), {
    store,
    dictionary: DICTIONARY,
    clock: new ManualClock(NOW_MS),
    random: new CountingRandom(),
    format,
    formatContext: JSON.parse(context) as Record<string, unknown>,
    name: file,
    sourceId: 'bench',
  });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await store.close();
  const result = {
    received: report.counts.received,
    accepted: report.counts.accepted,
    seconds,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      readings: { type: 'string', default: '1000000' },
      dir: { type: 'string', default: join(tmpdir(), 'amisync-bench-formats') },
      child: { type: 'string' },
      file: { type: 'string' },
      db: { type: 'string' },
      context: { type: 'string' },
      keep: { type: 'boolean', default: false },
      only: { type: 'string' },
    },
  });
  if (values.child !== undefined) {
    await child(
      values.child as InputFormat,
      values.file ?? '',
      values.db ?? '',
      values.context ?? '{}',
    );
    return;
  }
  const days = Math.max(1, Math.round(Number(values.readings) / METERS / INTERVALS_PER_DAY));
  const dir = values.dir;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const self = fileURLToPath(import.meta.url);
  const lines = [
    `per format: ${(METERS * days * INTERVALS_PER_DAY).toLocaleString()} readings each, ` +
      'end to end into a fresh ledger, one child process per format',
    '',
    `${'format'.padEnd(14)}${'MB'.padStart(8)}${'reads/s'.padStart(12)}${'seconds'.padStart(10)}` +
      `${'peak RSS MB'.padStart(13)}`,
  ];
  const formats = (['nem12', 'green-button', 'cmep', 'csv-dialect'] as const).filter(
    (format) => values.only === undefined || values.only.split(',').includes(format),
  );
  for (const format of formats) {
    const delivery = deliveryOf(format, days);
    const file = join(dir, `feed.${format}`);
    const bytes = await writeLines(file, delivery.lines);
    const db = join(dir, `${format}.db`);
    const run = spawnSync(
      process.execPath,
      [
        self,
        '--child',
        format,
        '--file',
        file,
        '--db',
        db,
        '--context',
        JSON.stringify(delivery.formatContext),
      ],
      { encoding: 'utf8' },
    );
    if (run.status !== 0) throw new Error(`${format} bench failed: ${run.stderr}`);
    const result = JSON.parse(run.stdout) as {
      received: number;
      accepted: number;
      seconds: number;
      maxRssMb: number;
    };
    if (result.accepted !== result.received) {
      throw new Error(`${format}: accepted ${result.accepted} of ${result.received}`);
    }
    lines.push(
      `${format.padEnd(14)}${(bytes / 1e6).toFixed(0).padStart(8)}` +
        `${Math.round(result.received / result.seconds)
          .toLocaleString()
          .padStart(12)}` +
        `${result.seconds.toFixed(2).padStart(10)}${result.maxRssMb.toFixed(0).padStart(13)}`,
    );
    if (!values.keep) rmSync(file);
    rmSync(db, { force: true });
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  if (!values.keep) rmSync(dir, { recursive: true, force: true });
}

await main();
