/**
 * `npm run bench`: reads per second for each pipeline stage and end to end, beside the ceiling
 * measured in the same run (a raw insert of the same rows into a SQLite table with the ledger's
 * columns and unique index, WAL, synchronous=FULL, same transaction size), as a ratio. One core,
 * generated data. End to end runs twice on the same feed, with no detectors and with the built-in
 * dictionary's reference detectors, and prints what the detectors cost (budget: 15% of the rate):
 * off and on alternate (off, on, off, on, ...) and the best of each counts, both by wall-clock rate
 * and by CPU time per reading, which other jobs on a shared machine disturb less.
 *
 *   npm run bench                                  1,000,000 readings on an empty ledger
 *   npm run bench -- --readings 2000000
 *   npm run bench -- --ledger-rows 20000000         the same with 20 M readings already in the
 * ledger
 *   npm run bench -- --rounds 5 --e2e-only          only end to end off and on, five of each
 *   npm run bench -- --threads 4                     the parallel pipeline's runs with 4 threads
 *                                                    (default: the machine's cores, at most 8)
 *
 * Not part of the test suite.
 */
import { closeSync, createReadStream, mkdirSync, openSync, rmSync, statSync } from 'node:fs';
import { createWriteStream, readFileSync, readSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LEDGER_LINE_VERSION, LEDGER_ROWS_PER_LEAF, ledgerRootOf } from '../audit/leaves.js';
import { ManualClock, CountingRandom } from '../core/clock.js';
import { BATCH_READINGS_MAX, READ_CHUNK_BYTES } from '../core/limits.js';
import type { Detectors } from '../core/detector.js';
import type { Reading } from '../core/reading.js';
import { idempotencyKey } from '../core/identity.js';
import type { LedgerRow, StreamState } from '../core/store.js';
import { DEFAULT_DICTIONARY } from '../dictionary/dictionary.js';
import { createValidator } from '../dictionary/validator.js';
import { createNdjsonParser } from '../formats/ndjson.js';
import { commitBatch, ledgerRow } from '../pipeline/commit.js';
import { identifyBatch, type IdentifiedReading } from '../pipeline/identify.js';
import { ingestDelivery } from '../pipeline/ingest.js';
import { defaultThreads } from '../pipeline/parallel-parse.js';
import { generateFeedRecords, generateMeterIds, toNdjson } from '../simulator/feed-generator.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import { prefillLedger } from './prefill.js';
import {
  CEILING_ROWS_PER_STATEMENT,
  freshDatabase,
  rawInsertCeiling,
  REFERENCE_ROWS_PER_STATEMENT,
} from './raw-insert.js';

const METERS = 1_000;
const SEED = 7;
/** End to end runs this many times with and without detectors, alternating; the best counts. */
const E2E_ROUNDS = 3;

interface Row {
  stage: string;
  readings: number;
  seconds: number;
}

function rate(row: Row): number {
  return row.readings / row.seconds;
}

function seconds(startNs: bigint): number {
  return Number(process.hrtime.bigint() - startNs) / 1e9;
}

async function writeFeed(path: string, readings: number, startMs: number): Promise<number> {
  const out = createWriteStream(path);
  const records = generateFeedRecords({
    seed: SEED,
    meters: METERS,
    startMs,
    intervals: readings / METERS,
  });
  for (const line of toNdjson(records)) if (!out.write(line)) await once(out, 'drain');
  out.end();
  await once(out, 'finish');
  return statSync(path).size;
}

/** Nanoseconds per item of `work` over `count` items, after one warm-up pass. */
function nsPer(count: number, work: () => void): number {
  work();
  const start = process.hrtime.bigint();
  work();
  return Number(process.hrtime.bigint() - start) / count;
}

interface MandatedWork {
  parseNs: number;
  keyNs: number;
  merkleNs: number;
}

/**
 * What three parts of the work every accepted reading must have cost, each measured alone on the
 * feed's first readings, in a heap that holds nothing else yet: reading its JSON line, its
 * idempotency key, and its share of the batch's Merkle tree.
 */
function measureMandatedWork(feedPath: string, clock: ManualClock): MandatedWork {
  // Only the head of the feed is read: generated lines are well under this many bytes each.
  const head = Buffer.alloc(MANDATED_WORK_READINGS * MANDATED_WORK_LINE_BYTES_MAX);
  const fd = openSync(feedPath, 'r');
  const read = readSync(fd, head, 0, head.length, 0);
  closeSync(fd);
  const lines = head
    .toString('latin1', 0, read)
    .split('\n', MANDATED_WORK_READINGS)
    .filter((line) => line !== '');
  const validate = createValidator(DEFAULT_DICTIONARY, clock);
  const readings: Reading[] = [];
  for (const line of lines) {
    const result = validate({
      fields: JSON.parse(line) as Record<string, unknown>,
      location: { recordIndex: 0, line: 1, byteOffset: 0, byteLength: line.length },
    });
    if (result.ok) readings.push(result.reading);
  }
  // Rows as the commit builds them (a spread copy reads several times slower).
  const first = { kind: 'accept', version: 1, supersedes: null } as const;
  const batches: LedgerRow[][] = [];
  for (let at = 0; at < readings.length; at += BATCH_READINGS_MAX) {
    const batch = readings.slice(at, at + BATCH_READINGS_MAX);
    batches.push(batch.map((r, position) => ledgerRow(r, first, batches.length + 1, position)));
  }
  return {
    parseNs: nsPer(lines.length, () => {
      for (const line of lines) JSON.parse(line);
    }),
    keyNs: nsPer(readings.length, () => {
      for (const r of readings) idempotencyKey(r.meterId, r.channel, r.intervalStartMs, r.seq);
    }),
    merkleNs: nsPer(readings.length, () => {
      for (const batch of batches) ledgerRootOf(batch, LEDGER_ROWS_PER_LEAF, LEDGER_LINE_VERSION);
    }),
  };
}

/** The three beside what a ratio of 0.6 would leave per reading for everything but the insert. */
function mandatedWorkLine(work: MandatedWork, ceiling: Row): string {
  const budget = ((ceiling.seconds / TARGET_RATIO - ceiling.seconds) / ceiling.readings) * 1e9;
  const total = work.parseNs + work.keyNs + work.merkleNs;
  return (
    `per reading, each alone: JSON.parse of its line ${work.parseNs.toFixed(0)} ns, idempotency ` +
    `key ${work.keyNs.toFixed(0)} ns, Merkle leaves and tree ${work.merkleNs.toFixed(0)} ns ` +
    `(together ${total.toFixed(0)} ns); a ratio of ${TARGET_RATIO} leaves ${budget.toFixed(0)} ns ` +
    'per reading for all but the insert, raw bytes and stream state included'
  );
}

const TARGET_RATIO = 0.6;
const MANDATED_WORK_READINGS = 200_000;
const MANDATED_WORK_LINE_BYTES_MAX = 256;

interface EndToEnd {
  received: number;
  accepted: number;
  held: number;
  seconds: number;
  /** CPU time of the whole process (every thread), which another job's load disturbs less. */
  cpuSeconds: number;
  /**
   * CPU time of the committing thread alone (the process's own thread, which commits every batch):
   * with parse threads it bounds the rate. NaN where the kernel does not say.
   */
  committingCpuSeconds: number;
  /**
   * Time the committing thread was ready to run and waited for a core (the kernel's run queue):
   * with parse threads, the other threads' share of a small machine's cores. NaN where unknown.
   */
  committingWaitSeconds: number;
  /** Bytes the database wrote (its file and WAL), read from the kernel's I/O accounting. */
  writtenBytes: number;
}

/** The real runner on a fresh copy of `template`: file -> ledger, raw bytes kept. */
async function endToEnd(
  template: string,
  path: string,
  feedPath: string,
  clock: ManualClock,
  detectors: Detectors | undefined,
  threads = 1,
): Promise<EndToEnd> {
  freshDatabase(template, path);
  const store = openSqliteStore(path, { nowMs: () => 0 });
  const start = process.hrtime.bigint();
  const cpuStart = process.cpuUsage();
  const committingStart = threadSchedSecondsSoFar();
  const writtenStart = writtenBytesSoFar();
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
      threads,
      ...(detectors === undefined ? {} : { detectors }),
    },
  );
  const elapsed = seconds(start);
  const cpu = process.cpuUsage(cpuStart);
  const committingEnd = threadSchedSecondsSoFar();
  const writtenBytes = writtenBytesSoFar() - writtenStart;
  await store.close();
  return {
    received: report.counts.received,
    accepted: report.counts.accepted,
    held: report.counts.anomalyHeld,
    seconds: elapsed,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    committingCpuSeconds: committingEnd.onCpu - committingStart.onCpu,
    committingWaitSeconds: committingEnd.waiting - committingStart.waiting,
    writtenBytes,
  };
}

/**
 * The calling thread's time so far on a CPU and waiting for one (ready to run), in seconds, from
 * the kernel's scheduler statistics (Linux /proc/thread-self/schedstat, nanoseconds); NaN where
 * the kernel does not say.
 */
function threadSchedSecondsSoFar(): { onCpu: number; waiting: number } {
  try {
    const [onCpuNs, waitingNs] = readFileSync('/proc/thread-self/schedstat', 'utf8')
      .split(' ')
      .map(Number);
    const seconds = (ns: number | undefined) =>
      ns !== undefined && Number.isFinite(ns) ? ns / 1e9 : NaN;
    return { onCpu: seconds(onCpuNs), waiting: seconds(waitingNs) };
  } catch {
    return { onCpu: NaN, waiting: NaN };
  }
}

/** The process's bytes written so far (Linux /proc/self/io); NaN where the kernel does not say. */
function mebibytes(bytes: number): string {
  return Number.isNaN(bytes) ? 'unknown' : `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
}

function writtenBytesSoFar(): number {
  try {
    const match = /^write_bytes: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'));
    return match === null ? NaN : Number(match[1]);
  } catch {
    return NaN;
  }
}

/**
 * What the detectors cost, from alternated runs without and with them: by wall-clock rate (the
 * budget's measure: 15%) and by CPU time per reading, each side's best run. Every run is listed,
 * so the spread that other load caused is seen.
 */
function detectorCostLines(runs: { off: EndToEnd[]; on: EndToEnd[] }, readings: number): string[] {
  const best = (list: EndToEnd[], of: (run: EndToEnd) => number) =>
    list.reduce((a, b) => (of(b) < of(a) ? b : a));
  const off = best(runs.off, (run) => run.seconds);
  const on = best(runs.on, (run) => run.seconds);
  const cpuOff = best(runs.off, (run) => run.cpuSeconds).cpuSeconds;
  const cpuOn = best(runs.on, (run) => run.cpuSeconds).cpuSeconds;
  const micros = (cpuSeconds: number) => ((cpuSeconds / readings) * 1e6).toFixed(2);
  const listed = (list: EndToEnd[]) =>
    list.map((run) => `${Math.round(readings / run.seconds).toLocaleString()}/s`).join(', ');
  const wallCost = (1 - off.seconds / on.seconds) * 100;
  return [
    `detectors: end to end with / without = ${(off.seconds / on.seconds).toFixed(3)} ` +
      `(they cost ${wallCost.toFixed(1)}% of the rate; budget 15%); ` +
      `${on.held.toLocaleString()} of ${readings.toLocaleString()} generated ` +
      `readings held (${((on.held / readings) * 100).toFixed(3)}%)`,
    `detectors by CPU time per reading (less disturbed by other load; best of each): ` +
      `${micros(cpuOff)} us off, ${micros(cpuOn)} us on, ` +
      `${((1 - cpuOff / cpuOn) * 100).toFixed(1)}% of the CPU time with them ` +
      `(${((cpuOn / cpuOff - 1) * 100).toFixed(1)}% more); database writes ` +
      `${mebibytes(off.writtenBytes)} off, ${mebibytes(on.writtenBytes)} on`,
    `every run, alternated: off ${listed(runs.off)}; on ${listed(runs.on)}`,
  ];
}

/**
 * The parallel pipeline beside the one-thread one, from runs alternated in the same process: best
 * wall-clock rate of each, their ratio (target >= 1.35 with detectors off), the ratio to the
 * one-thread raw-insert ceiling, and CPU time per reading (every thread of the process counted).
 */
function parallelLines(
  single: { off: EndToEnd[]; on: EndToEnd[] },
  parallel: { off: EndToEnd[]; on: EndToEnd[] },
  threads: number,
  readings: number,
  ceiling: Row | null,
): string[] {
  const fastest = (list: EndToEnd[]) => list.reduce((a, b) => (b.seconds < a.seconds ? b : a));
  const leastCpu = (list: EndToEnd[]) =>
    list.reduce((a, b) => (b.cpuSeconds < a.cpuSeconds ? b : a));
  const micros = (run: EndToEnd) => ((run.cpuSeconds / readings) * 1e6).toFixed(2);
  /** The least of each run's `of`, in microseconds a reading. */
  const leastMicros = (list: EndToEnd[], of: (run: EndToEnd) => number) => {
    const least = Math.min(...list.map(of));
    return Number.isNaN(least) ? 'unknown' : `${((least / readings) * 1e6).toFixed(2)} us`;
  };
  const committingMicros = (list: EndToEnd[]) =>
    leastMicros(list, (run) => run.committingCpuSeconds);
  const waitedMicros = (list: EndToEnd[]) => leastMicros(list, (run) => run.committingWaitSeconds);
  const lines: string[] = [];
  for (const side of ['off', 'on'] as const) {
    const one = fastest(single[side]);
    const many = fastest(parallel[side]);
    const perSecond = Math.round(readings / many.seconds).toLocaleString();
    const vsCeiling =
      ceiling === null ? '' : `, ${(ceiling.seconds / many.seconds).toFixed(2)} x ceiling`;
    lines.push(
      `END TO END, ${threads} threads, detectors ${side}: ${perSecond}/s${vsCeiling}; ` +
        `${(one.seconds / many.seconds).toFixed(2)}x one thread (target >= 1.35); CPU per ` +
        `reading ${micros(leastCpu(single[side]))} us on one thread, ` +
        `${micros(leastCpu(parallel[side]))} us on ${threads} (all threads)`,
    );
    const listed = (list: EndToEnd[]) =>
      list.map((run) => `${Math.round(readings / run.seconds).toLocaleString()}/s`).join(', ');
    lines.push(`  every run, detectors ${side}: ${threads} threads ${listed(parallel[side])}`);
    lines.push(
      `  committing thread's CPU per reading, detectors ${side} (least of each): ` +
        `${committingMicros(single[side])} on one thread, ${committingMicros(parallel[side])} ` +
        `on ${threads}; waiting for a core (least of each): ` +
        `${waitedMicros(single[side])} on one thread, ${waitedMicros(parallel[side])} ` +
        `on ${threads}`,
    );
  }
  return lines;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      readings: { type: 'string', default: '1000000' },
      'ledger-rows': { type: 'string', default: '0' },
      dir: { type: 'string', default: join(tmpdir(), 'amisync-bench') },
      rounds: { type: 'string', default: String(E2E_ROUNDS) },
      'e2e-only': { type: 'boolean', default: false },
      threads: { type: 'string', default: String(defaultThreads()) },
    },
  });
  const threads = Math.max(2, Math.floor(Number(values.threads)));
  const rounds = Math.max(1, Math.floor(Number(values.rounds)));
  const readings = Math.max(METERS, Math.round(Number(values.readings) / METERS) * METERS);
  const prefillRows = Number(values['ledger-rows']);
  const dir = values.dir;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const startMs = Date.UTC(2026, 0, 1);
  const clock = new ManualClock(Date.UTC(2030, 0, 1));
  const meterIds = generateMeterIds(SEED, METERS);
  process.stderr.write(`generating ${readings.toLocaleString()} readings...\n`);
  const feedPath = join(dir, 'feed.ndjson');
  const feedBytes = await writeFeed(feedPath, readings, startMs);
  // End to end first, on a fresh heap, through the real runner: file -> ledger, raw bytes kept.
  const template = join(dir, 'template.db');
  await openSqliteStore(template, { nowMs: () => 0 }).close();
  prefillLedger(template, prefillRows, meterIds, startMs);
  // Detectors off first, then the reference detectors of the built-in dictionary, each on a fresh
  // copy of the same database, so their cost is the difference of two runs of the same work.
  // Alternated and the best of each kept, so that a burst of load on a shared machine does not
  // land on one side only.
  const runs: { off: EndToEnd[]; on: EndToEnd[] } = { off: [], on: [] };
  // The parallel pipeline on the same feed, alternated with the one-thread runs (issue 11, part 4).
  const parallel: { off: EndToEnd[]; on: EndToEnd[] } = { off: [], on: [] };
  for (let round = 0; round < rounds; round++) {
    runs.off.push(await endToEnd(template, join(dir, 'e2e-off.db'), feedPath, clock, []));
    parallel.off.push(
      await endToEnd(template, join(dir, 'e2e-off-n.db'), feedPath, clock, [], threads),
    );
    runs.on.push(await endToEnd(template, join(dir, 'e2e-on.db'), feedPath, clock, undefined));
    parallel.on.push(
      await endToEnd(template, join(dir, 'e2e-on-n.db'), feedPath, clock, undefined, threads),
    );
  }
  const fastest = (list: EndToEnd[]) => list.reduce((a, b) => (b.seconds < a.seconds ? b : a));
  const e2eOff = fastest(runs.off);
  const e2eOn = fastest(runs.on);
  for (const run of [...runs.off, ...runs.on, ...parallel.off, ...parallel.on]) {
    if (run.accepted + run.held !== readings) {
      throw new Error(`accepted ${run.accepted} and held ${run.held} of ${readings}`);
    }
  }
  const e2e: Row = {
    stage: `END TO END, detectors off (best of ${rounds})`,
    readings: e2eOff.received,
    seconds: e2eOff.seconds,
  };
  const e2eDetectors: Row = {
    stage: `END TO END, detectors on (best of ${rounds})`,
    readings: e2eOn.received,
    seconds: e2eOn.seconds,
  };
  const header =
    `amisync bench: ${readings.toLocaleString()} readings (${(feedBytes / 1e6).toFixed(0)} MB NDJSON), ` +
    `${prefillRows.toLocaleString()} rows already in the ledger, batches of ${BATCH_READINGS_MAX}, ` +
    `WAL + synchronous=FULL, node ${process.version}`;
  if (values['e2e-only']) {
    const e2eLines = [e2e, e2eDetectors].map(
      (row) => `${row.stage.padEnd(42)}${Math.round(rate(row)).toLocaleString().padStart(12)}`,
    );
    const cost = detectorCostLines(runs, readings);
    const threadLines = parallelLines(runs, parallel, threads, readings, null);
    process.stdout.write(
      `${[header, '', ...e2eLines, '', ...cost, '', ...threadLines].join('\n')}\n`,
    );
    rmSync(dir, { recursive: true, force: true });
    return;
  }

  const mandated = measureMandatedWork(feedPath, clock);

  // The same pipeline again, stage by stage, each stage's time accumulated separately.
  const stagedPath = join(dir, 'staged.db');
  freshDatabase(template, stagedPath);
  const store = openSqliteStore(stagedPath, { nowMs: () => 0 });
  await store.createDelivery({
    id: 'bench',
    sourceId: 'bench',
    name: 'bench',
    format: 'ndjson',
    formatContext: {},
    startedAtMs: 0,
  });
  const parser = createNdjsonParser();
  const validate = createValidator(DEFAULT_DICTIONARY, clock);
  const stageNs = { parse: 0n, validate: 0n, identify: 0n, commit: 0n };
  let states = new Map<string, StreamState>();
  const allBatches: IdentifiedReading[][] = [];
  let batch: IdentifiedReading[] = [];
  const runBatch = async (items: IdentifiedReading[]): Promise<void> => {
    let t = process.hrtime.bigint();
    states = identifyBatch(items, states, []).states;
    stageNs.identify += process.hrtime.bigint() - t;
    t = process.hrtime.bigint();
    await commitBatch(
      store,
      {
        deliveryId: 'bench',
        sourceId: 'bench',
        kind: 'ingest',
        format: 'ndjson',
        readings: items,
        rejects: [],
        rawChunks: [],
        byteOffset: 0,
        byteLength: 0,
        atMs: clock.nowMs(),
        detectors: [],
      },
      () => '',
    );
    stageNs.commit += process.hrtime.bigint() - t;
    allBatches.push(items);
  };
  const handle = async (items: ReturnType<typeof parser.push>): Promise<void> => {
    const t = process.hrtime.bigint();
    for (const item of items) {
      if (item.kind !== 'record') throw new Error('bench feed has a parse reject');
      const result = validate(item.record);
      if (!result.ok) throw new Error(`bench record invalid: ${JSON.stringify(result.reject)}`);
      batch.push({ reading: result.reading, location: item.record.location });
    }
    stageNs.validate += process.hrtime.bigint() - t;
    while (batch.length >= BATCH_READINGS_MAX) {
      await runBatch(batch.slice(0, BATCH_READINGS_MAX));
      batch = batch.slice(BATCH_READINGS_MAX);
    }
  };
  for await (const chunk of createReadStream(feedPath, { highWaterMark: READ_CHUNK_BYTES })) {
    const t = process.hrtime.bigint();
    const items = parser.push(chunk as Buffer);
    stageNs.parse += process.hrtime.bigint() - t;
    await handle(items);
  }
  await handle(parser.end());
  if (batch.length > 0) await runBatch(batch);
  await store.close();
  const stage = (name: string, ns: bigint): Row => ({
    stage: name,
    readings,
    seconds: Number(ns) / 1e9,
  });
  const parseRow = stage('parse (NDJSON)', stageNs.parse);
  const validateRow = stage('validate (dictionary + idempotency key)', stageNs.validate);
  // commitBatch identifies inside its transaction, against the state it reads there, so the
  // commit row includes identify; the identify row times the same work alone.
  const commitRow = stage('commit (identify, route, Merkle, audit, SQL)', stageNs.commit);
  const rows: Row[] = [
    parseRow,
    validateRow,
    stage('identify alone (also inside commit)', stageNs.identify),
    commitRow,
  ];

  const ceilingPath = join(dir, 'ceiling.db');
  freshDatabase(template, ceilingPath);
  const ceiling: Row = {
    stage: 'ceiling: raw INSERT, same rows/index',
    ...rawInsertCeiling(ceilingPath, allBatches, CEILING_ROWS_PER_STATEMENT),
  };
  const plainPath = join(dir, 'plain.db');
  freshDatabase(template, plainPath);
  const plain: Row = {
    stage: `reference: ${REFERENCE_ROWS_PER_STATEMENT}-row INSERT`,
    ...rawInsertCeiling(plainPath, allBatches, REFERENCE_ROWS_PER_STATEMENT),
  };
  rows.push(e2e, e2eDetectors, ceiling, plain);

  const ceilingRate = rate(ceiling);
  const lines = [
    header,
    '',
    `${'stage'.padEnd(42)}${'reads/s'.padStart(12)}${'seconds'.padStart(10)}${'x ceiling'.padStart(11)}`,
    ...rows.map(
      (row) =>
        `${row.stage.padEnd(42)}${Math.round(rate(row)).toLocaleString().padStart(12)}` +
        `${row.seconds.toFixed(2).padStart(10)}${(rate(row) / ceilingRate).toFixed(2).padStart(11)}`,
    ),
    '',
    // What one core allows at best: the ceiling's own time plus stages that cannot be skipped.
    `bounds on one core: if all but parse and validate cost nothing, end to end would reach at ` +
      `most ${(ceiling.seconds / (ceiling.seconds + parseRow.seconds + validateRow.seconds)).toFixed(2)} ` +
      `of the ceiling; with parse and validate free, the commit stage alone reaches ` +
      `${(rate(commitRow) / ceilingRate).toFixed(2)}`,
    mandatedWorkLine(mandated, ceiling),
    ...detectorCostLines(runs, readings),
    ...parallelLines(runs, parallel, threads, readings, ceiling),
    `end to end / ceiling = ${(rate(e2e) / ceilingRate).toFixed(2)} (target >= 0.60); against ` +
      `a ${REFERENCE_ROWS_PER_STATEMENT}-row INSERT it would be ` +
      `${(rate(e2e) / rate(plain)).toFixed(2)}; ` +
      `peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  rmSync(dir, { recursive: true, force: true });
}

await main();
