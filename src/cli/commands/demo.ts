/**
 * `amisync demo`: the whole promise in one command. Generates a realistic week of 15-minute reads
 * for a few hundred meters (with estimates later corrected, retransmissions, conflicts and bad
 * records, plus a truncated file), ingests everything twice, and shows that the second pass changed
 * nothing, that every batch balances, that the ledger equals an independent oracle, and that the
 * audit trail verifies. At a terminal (and without --exit), or with --serve-for, it then runs the
 * service live on the demo's database (demo-live.ts): simulated REST and drop feeds, the dashboard
 * and API with a one-time login token, until Ctrl-C (or for --serve-for seconds).
 */
import { createWriteStream, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { join, resolve } from 'node:path';
import { AmisyncError } from '../../core/errors.js';
import { formatMilliWhAsKwh, formatValueMicro } from '../../core/decimal.js';
import { ledgerState } from '../../pipeline/ledger-state.js';
import { verifyAudit } from '../../audit/verify.js';
import { proveReading } from '../../audit/prove.js';
import {
  generateFeed,
  toCsv,
  toJsonArray,
  toNdjson,
  type FeedRecord,
} from '../../simulator/feed-generator.js';
import { generateNem12Feed } from '../../simulator/nem12-generator.js';
import { invoiceRowsOf, openStore, publicKeyFor, runtime, type GlobalOptions } from '../context.js';
import { printLines } from '../output.js';
import { countsTable, runIngest } from './ingest.js';
import { parsePort, SERVE_PORT_DEFAULT, untilSignal } from './serve.js';
import { runLiveDemo } from './demo-live.js';

const DAY_MS = 86_400_000;

async function writeLines(path: string, lines: Iterable<string>): Promise<void> {
  const out = createWriteStream(path);
  for (const line of lines) if (!out.write(line)) await once(out, 'drain');
  out.end();
  await once(out, 'finish');
}

function positiveInteger(text: unknown, name: string, max: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new AmisyncError('USAGE', `--${name} must be a whole number from 1 to ${max}`);
  }
  return value;
}

export interface DemoOptions extends GlobalOptions {
  dir?: string;
  meters?: string;
  days?: string;
  /** Print the summary and exit, even at a terminal. */
  exit?: boolean;
  port?: string;
  /**
   * Run the live part (the service on simulated feeds, the dashboard) for this many seconds, then
   * exit with its summary, whether or not a terminal is there (CI, a rehearsal).
   */
  serveFor?: string;
}

/** Whether the demo keeps serving after its summary, and what ends it then. */
export interface DemoEnvironment {
  /** Standard input is a terminal: someone is there to open the dashboard and press Ctrl-C. */
  readonly interactive: boolean;
  /** Resolves when the served demo should stop (Ctrl-C, SIGTERM). */
  readonly stopped: () => Promise<unknown>;
}

const PROCESS_DEMO: DemoEnvironment = {
  get interactive() {
    return process.stdin.isTTY === true;
  },
  stopped: () => untilSignal(),
};

export async function runDemo(options: DemoOptions, environment: DemoEnvironment = PROCESS_DEMO) {
  const dir = resolve(options.dir ?? './demo-output');
  const meters = positiveInteger(options.meters ?? '200', 'meters', 10_000);
  const days = positiveInteger(options.days ?? '7', 'days', 366);
  mkdirSync(dir, { recursive: true });
  const db = options.db ?? join(dir, 'demo.db');
  for (const suffix of ['', '-wal', '-shm']) {
    if (existsSync(db + suffix)) rmSync(db + suffix);
  }
  const context: GlobalOptions = { ...options, db };
  const nowMs = runtime.clock.nowMs();
  const startMs = Math.floor(nowMs / DAY_MS) * DAY_MS - days * DAY_MS;
  const feed = generateFeed({
    seed: 2026,
    meters,
    startMs,
    intervals: days * 96,
    estimateRate: 0.02,
    retransmitRate: 0.02,
    conflictRate: 0.003,
    badRate: 0.002,
    checksumRate: 0.1,
  });
  // The vendor sends most meters as NDJSON, a few as a CSV export, and one truncated JSON file.
  const split = Math.floor(feed.records.length * 0.8);
  const ndjson: FeedRecord[] = feed.records.slice(0, split);
  const csv: FeedRecord[] = feed.records.slice(split);
  const files = [join(dir, 'head-end-export.ndjson'), join(dir, 'head-end-export-part2.csv')];
  await writeLines(files[0] as string, toNdjson(ndjson));
  await writeLines(files[1] as string, toCsv(csv));
  const truncated = [...toJsonArray(feed.records.slice(0, 3))].join('').slice(0, -40);
  const truncatedPath = join(dir, 'interrupted-upload.json');
  writeFileSync(truncatedPath, truncated);
  files.push(truncatedPath);
  // A distributor's NEM12 file for other meters: kWh and kVArh, an estimate later corrected,
  // per-interval qualities and a day of null data. Named .csv, as such files often are.
  const nem12 = generateNem12Feed({ nmis: 20, days: Math.min(days, 7), firstDayMs: startMs });
  const nem12Path = join(dir, 'distributor-NEM12.csv');
  writeFileSync(nem12Path, nem12.text);
  files.push(nem12Path);

  const lines: string[] = [
    `demo: ${meters} meters x ${days * 96} intervals of 15 minutes, ${feed.records.length} records ` +
      `in ${files.length} files under ${dir}`,
    '',
  ];
  const first = await runIngest(files, context);
  const second = await runIngest(files, context);
  lines.push(
    ...countsTable(
      ...first.files.map((f): [string, typeof f.counts] => [f.name, f.counts]),
      ['first delivery', first],
      ...second.files.map((f): [string, typeof f.counts] => [`${f.name} (again)`, f.counts]),
      ['same files again', second],
    ).map((line) => `  ${line}`),
  );
  const notes = first.files
    .filter((f) => f.note !== null)
    .map((f) => `  note (${f.name}): ${f.note}`);
  lines.push(...notes);

  const store = await openStore(context, runtime.clock);
  try {
    const state = await ledgerState(store);
    const verify = await verifyAudit(store, publicKeyFor(context), invoiceRowsOf(store));
    const status = await store.status();
    const sample = (await store.listQuarantine({ status: 'open', limit: 3 })).map(
      (row) => `  #${row.id} line ${row.location.line}: ${row.currentViolations[0]?.message ?? ''}`,
    );
    let proofLine = 'no reading to prove';
    for await (const page of store.iterateCurrentLedger()) {
      const row = page[0];
      if (row !== undefined) {
        const proof = await proveReading(store, row.idempotencyKey, publicKeyFor(context));
        proofLine = `audit prove ${row.idempotencyKey.slice(0, 16)}...: ${proof.verified ? 'verified' : 'FAILED'}`;
      }
      break;
    }
    const expectedKwh = formatMilliWhAsKwh(feed.expected.energyMilliWh + nem12.expected.kwhMicro);
    const expectedReadings =
      feed.expected.currentReadings +
      nem12.expected.currentKwhReadings +
      nem12.expected.currentKvarhReadings;
    const ledgerKwh = formatMilliWhAsKwh(state.energyMilliWh);
    const kvarh = status.ledger.byUnit.find((total) => total.unit === 'kVArh')?.valueMicro ?? 0n;
    const kvarhText = formatValueMicro(kvarh);
    const expectedKvarh = formatValueMicro(nem12.expected.kvarhMicro);
    lines.push(
      '',
      `conservation: ${first.conserved && second.conserved ? 'holds' : 'BROKEN'} ` +
        '(received = accepted + duplicates + quarantined + anomaly-held + dead-lettered, every batch)',
      `second delivery accepted ${second.accepted} readings (retransmissions never inflate totals)`,
      `ledger: ${state.readings} current readings, ${ledgerKwh} kWh; independent oracle: ` +
        `${expectedReadings} readings, ${expectedKwh} kWh -> ` +
        (ledgerKwh === expectedKwh && state.readings === expectedReadings ? 'equal' : 'DIFFERENT'),
      `reactive energy (NEM12 Q1 channels, never summed into kWh): ${kvarhText} kVArh; oracle ` +
        `${expectedKvarh} kVArh -> ${kvarhText === expectedKvarh ? 'equal' : 'DIFFERENT'}`,
      `revisions applied (actual replacing estimate): ${status.totals.revisions}`,
      `quarantine: ${status.quarantine.open} open items, for example:`,
      ...sample,
      `audit verify: ${verify.ok ? 'verified' : `FAILED: ${verify.firstProblem?.reason}`} ` +
        `(${verify.entries} entries, ${verify.ledgerRows} ledger rows, ${verify.checkpointsVerified} ` +
        'signed checkpoints)',
      proofLine,
      '',
      `try: npx amisync status --db ${db}`,
      `     npx amisync quarantine list --db ${db}`,
      `     npx amisync ledger export --db ${db} --format csv`,
    );
    printLines(lines);
    if (!verify.ok || !first.conserved || !second.conserved) {
      throw new AmisyncError('AUDIT_VERIFY_FAILED', 'the demo did not verify');
    }
  } finally {
    await store.close();
  }
  const serveForS =
    options.serveFor === undefined ? null : positiveInteger(options.serveFor, 'serve-for', 86_400);
  if (serveForS === null && (!environment.interactive || options.exit === true)) return;
  await runLiveDemo({
    db: resolve(db),
    dir,
    port: parsePort('--port', options.port, SERVE_PORT_DEFAULT),
    stopped:
      serveForS === null
        ? environment.stopped
        : () => new Promise((done) => setTimeout(done, serveForS * 1000)),
  });
}
