// Goal: --threads N commits exactly what --threads 1 commits (every table, audit chain included).
// Method: fast-check generated NDJSON feeds with faults, ingested once per thread count, dumped.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyAudit } from '../audit/verify.js';
import { AmisyncError } from '../core/errors.js';
import { DEFAULT_DICTIONARY } from '../dictionary/dictionary.js';
import { generateFeed } from '../simulator/feed-generator.js';
import {
  chunksOf,
  FEED_START_MS,
  openHarness,
  outcomesSum,
} from '../test-support/ingest-harness.js';
import { removeTempDirs, tempDir } from '../test-support/temp.js';
import { ingestDelivery, type DeliveryReport } from './ingest.js';
import { ParsePool } from './parallel-parse.js';

const pools: ParsePool[] = [];
afterAll(async () => {
  await Promise.all(pools.map((pool) => pool.close()));
  removeTempDirs();
});

function pool(size: number, url?: URL): ParsePool {
  const made = url === undefined ? new ParsePool(size) : new ParsePool(size, url);
  pools.push(made);
  return made;
}

/** Every row of every table, in insertion order, as text: two equal dumps are equal stores. */
function dump(path: string): Record<string, string[]> {
  const db = new Database(path, { readonly: true });
  const tables = db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    .all() as { name: string }[];
  const result: Record<string, string[]> = {};
  for (const { name } of tables) {
    let rows: unknown[];
    try {
      rows = db.prepare(`SELECT * FROM "${name}" ORDER BY rowid`).all();
    } catch {
      rows = db.prepare(`SELECT * FROM "${name}"`).all();
    }
    result[name] = rows.map((row) =>
      JSON.stringify(row, (_key, value: unknown) =>
        Buffer.isBuffer(value) ? value.toString('hex') : value,
      ),
    );
  }
  db.close();
  return result;
}

interface Run {
  report: DeliveryReport;
  tables: Record<string, string[]>;
  auditOk: boolean;
}

async function ingestWith(
  bytes: Buffer,
  chunkBytes: number,
  batchReadingsMax: number,
  threads: number,
  parsePool: ParsePool | undefined,
  parallelFromBytes = 0,
): Promise<Run> {
  const harness = openHarness();
  const report = await ingestDelivery(chunksOf(bytes, chunkBytes), {
    store: harness.store,
    dictionary: DEFAULT_DICTIONARY,
    clock: harness.clock,
    random: harness.random,
    format: 'ndjson',
    name: 'feed.ndjson',
    sourceId: 'test',
    batchReadingsMax,
    threads,
    parallelFromBytes,
    ...(parsePool === undefined ? {} : { parsePool }),
  });
  const audit = await verifyAudit(harness.store, null);
  await harness.close();
  return { report, tables: dump(harness.path), auditOk: audit.ok };
}

/** Lines that break in every way a line can: each must get the same verdict on any thread. */
const FAULTY_LINES: readonly (string | Buffer)[] = [
  'not json',
  '   ',
  '',
  '[1,2]',
  '{"meter_id":"MTR-AAAA0001","meter_id":"MTR-AAAA0002"}',
  `{"meter_id":"${'A'.repeat(70_000)}"}`,
  `{"meter_id":"${'B'.repeat(65_530)}"}`,
  Buffer.from([0x7b, 0xff, 0xfe, 0x7d]),
  '{"meter_id":"MTR-\\u0000AAA01","timestamp_utc":"2026-02-01T00:00:00Z"}',
  '{"meter_id":"MTR-AAAA0001","timestamp_utc":"2026-02-01T00:00:00Z","consumption_kwh":1e400}',
  '\ufeff{"a":1}',
];

interface FeedShape {
  seed: number;
  meters: number;
  intervals: number;
  faults: { at: number; line: number }[];
  crlf: boolean;
  byteOrderMark: boolean;
  finalNewline: boolean;
}

const feedShape: fc.Arbitrary<FeedShape> = fc.record({
  seed: fc.integer({ min: 1, max: 1_000_000 }),
  meters: fc.integer({ min: 1, max: 6 }),
  intervals: fc.integer({ min: 1, max: 40 }),
  faults: fc.array(
    fc.record({
      at: fc.nat({ max: 400 }),
      line: fc.integer({ min: 0, max: FAULTY_LINES.length - 1 }),
    }),
    { maxLength: 8 },
  ),
  crlf: fc.boolean(),
  byteOrderMark: fc.boolean(),
  finalNewline: fc.boolean(),
});

function feedBytes(shape: FeedShape): Buffer {
  const feed = generateFeed({
    seed: shape.seed,
    meters: shape.meters,
    startMs: FEED_START_MS - 86_400_000,
    intervals: shape.intervals,
    estimateRate: 0.1,
    retransmitRate: 0.1,
    conflictRate: 0.05,
    badRate: 0.1,
    checksumRate: 0.3,
  });
  const lines: Buffer[] = feed.records.map((record) => Buffer.from(JSON.stringify(record)));
  for (const fault of shape.faults) {
    const line = FAULTY_LINES[fault.line] as string | Buffer;
    lines.splice(fault.at % (lines.length + 1), 0, Buffer.from(line));
  }
  const newline = Buffer.from(shape.crlf ? '\r\n' : '\n');
  const parts: Buffer[] = shape.byteOrderMark ? [Buffer.from([0xef, 0xbb, 0xbf])] : [];
  lines.forEach((line, index) => {
    parts.push(line);
    if (index < lines.length - 1 || shape.finalNewline) parts.push(newline);
  });
  return Buffer.concat(parts);
}

describe('the parallel pipeline', () => {
  const shared = { two: pool(1), three: pool(2) };

  it('commits what one thread commits, for generated feeds with faults', async () => {
    await fc.assert(
      fc.asyncProperty(
        feedShape,
        fc.integer({ min: 1, max: 300_000 }),
        fc.integer({ min: 1, max: 60 }),
        // 0 sends every delivery to the parse threads; others first read a head of that size.
        fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 60_000 })),
        async (shape, chunkBytes, batchReadingsMax, fromBytes) => {
          const bytes = feedBytes(shape);
          const one = await ingestWith(bytes, chunkBytes, batchReadingsMax, 1, undefined);
          const two = await ingestWith(bytes, chunkBytes, batchReadingsMax, 2, shared.two);
          const three = await ingestWith(
            bytes,
            chunkBytes,
            batchReadingsMax,
            3,
            shared.three,
            fromBytes,
          );
          expect(one.auditOk).toBe(true);
          expect(outcomesSum(one.report.counts)).toBe(one.report.counts.received);
          for (const other of [two, three]) {
            expect(other.report).toEqual(one.report);
            expect(other.tables).toEqual(one.tables);
          }
        },
      ),
      { numRuns: Number(process.env['AMISYNC_PARALLEL_RUNS'] ?? 40) },
    );
  }, 300_000);

  it('gives an empty or blank delivery the same verdict as one thread', async () => {
    for (const text of ['', '  \n\n', '\ufeff\n', '\ufeff']) {
      const bytes = Buffer.from(text);
      const one = await ingestWith(bytes, 1, 10, 1, undefined);
      const two = await ingestWith(bytes, 1, 10, 2, shared.two);
      expect(two.report).toEqual(one.report);
      expect(two.tables).toEqual(one.tables);
    }
  });
});

describe('lines cut across chunks', () => {
  const shared = pool(1);
  const good =
    '{"meter_id":"MTR-AAAA0001","timestamp_utc":"2026-02-28T00:00:00Z",' +
    '"consumption_kwh":"1.5","status_code":0,"seq":1}';
  const cases: [string, Buffer][] = [
    [
      'a byte order mark and an oversized first line',
      Buffer.from(`\ufeff{"meter_id":"${'A'.repeat(70_000)}"}\r\n${good}\r\n`),
    ],
    [
      'a first line of exactly RECORD_BYTES_MAX after a mark',
      Buffer.from(`\ufeff{"a":"${'B'.repeat(65_536 - 8)}"}\n${good}\n`),
    ],
    [
      'an oversized last line with no line feed',
      Buffer.from(`${good}\n{"meter_id":"${'C'.repeat(80_000)}"}\r`),
    ],
    [
      'oversized lines back to back',
      Buffer.from(`${'x'.repeat(66_000)}\n${'y'.repeat(70_000)}\r\n\n${good}`),
    ],
  ];
  for (const [name, bytes] of cases) {
    it(`gives ${name} the verdicts of one thread, for any chunk size`, async () => {
      for (const chunkBytes of [7, 1_000, 4_096, 65_537, 65_538, 1 << 20]) {
        const one = await ingestWith(bytes, chunkBytes, 3, 1, undefined);
        const two = await ingestWith(bytes, chunkBytes, 3, 2, shared);
        expect(one.report.counts.quarantined).toBeGreaterThan(0);
        expect(two.report).toEqual(one.report);
        expect(two.tables).toEqual(one.tables);
      }
    }, 120_000);
  }
});

describe('a parse thread that fails', () => {
  const dir = tempDir('amisync-parse-fail-');
  const script = (name: string, body: string): URL => {
    const path = join(dir, name);
    writeFileSync(path, `import { parentPort } from 'node:worker_threads';\n${body}\n`);
    return pathToFileURL(path);
  };
  const exits = script('exits.mjs', "parentPort.on('message', () => process.exit(3));");
  const throws = script('throws.mjs', "parentPort.on('message', () => { throw new Error('x'); });");
  const bytes = feedBytes({
    seed: 5,
    meters: 3,
    intervals: 10,
    faults: [],
    crlf: false,
    byteOrderMark: false,
    finalNewline: true,
  });

  for (const [how, url] of [
    ['exits', exits],
    ['throws', throws],
  ] as const) {
    it(`fails the delivery cleanly when it ${how}: INTERNAL, nothing committed`, async () => {
      const harness = openHarness();
      const failing = ingestDelivery(chunksOf(bytes, 100), {
        store: harness.store,
        dictionary: DEFAULT_DICTIONARY,
        clock: harness.clock,
        random: harness.random,
        format: 'ndjson',
        name: 'feed.ndjson',
        sourceId: 'test',
        threads: 3,
        parallelFromBytes: 0,
        parsePool: pool(2, url),
      });
      const error = await failing.then(
        () => null,
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(AmisyncError);
      expect((error as AmisyncError).code).toBe('INTERNAL');
      expect((error as AmisyncError).message).toMatch(/parse thread .*not committed/);
      await harness.close();
      const tables = dump(harness.path);
      expect(tables['ledger']).toEqual([]);
      expect(tables['batches']).toEqual([]);
      expect(tables['quarantine']).toEqual([]);
    });
  }
});

describe('a delivery smaller than parallelFromBytes', () => {
  const dir = tempDir('amisync-parse-small-');
  const path = join(dir, 'exits.mjs');
  writeFileSync(
    path,
    "import { parentPort } from 'node:worker_threads';\nparentPort.on('message', () => process.exit(3));\n",
  );
  const exiting = pool(1, pathToFileURL(path));
  const bytes = feedBytes({
    seed: 9,
    meters: 4,
    intervals: 30,
    faults: [{ at: 7, line: 0 }],
    crlf: false,
    byteOrderMark: false,
    finalNewline: true,
  });

  it('runs on the committing thread: parse threads that would fail are never asked', async () => {
    const one = await ingestWith(bytes, 1_000, 25, 1, undefined);
    const small = await ingestWith(bytes, 1_000, 25, 2, exiting, bytes.length + 1);
    expect(small.report).toEqual(one.report);
    expect(small.tables).toEqual(one.tables);
  });

  it('reaching it goes to the parse threads (here failing the delivery, nothing committed)', async () => {
    const error = await ingestWith(bytes, 1_000, 25, 2, exiting, bytes.length).then(
      () => null,
      (caught: unknown) => caught,
    );
    expect((error as AmisyncError).code).toBe('INTERNAL');
  });
});
