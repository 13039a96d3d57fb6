/**
 * `npm run bench` (billing): invoices per second of `bill run` for a month, with one pricing
 * thread and with one per core. Generates a ledger for N service points (one meter each, one
 * tariff, New York time) straight into a SQLite store, then bills October 2026 twice, each time on
 * a fresh copy of that store (a second run on the same store would issue nothing).
 *
 *   AMISYNC_BENCH_SERVICE_POINTS   service points (default 100000)
 *   AMISYNC_BENCH_INTERVAL_MINUTES reading interval (default 1440: one read a day; 15 gives a
 *                                  real AMI month, 2976 readings per meter)
 *
 * The ledger rows are inserted directly (not through ingest, whose speed `bench.ts` measures);
 * accounts are stored directly too. Not part of the test suite.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { nextEntry } from '../audit/hash-chain.js';
import {
  DEFAULT_HOLD_THRESHOLDS,
  importTariffs,
  runBills,
  type AuditAppend,
  type BillingContext,
} from '../billing/billing.js';
import { periodSpan } from '../billing/billing-period.js';
import { idempotencyKey } from '../core/identity.js';
import type { Reading } from '../core/reading.js';
import { SqliteBillingStore } from '../store/sqlite/sqlite-billing.js';
import {
  LEDGER_COLUMN_COUNT,
  ledgerInsertSql,
  openSqliteStore,
  putReadingParams,
} from '../store/sqlite/sqlite-store.js';

const TIME_ZONE = 'America/New_York';
const ROWS_PER_INSERT = 500;
const ROWS_PER_TRANSACTION = 100_000;
const TARIFF = new URL(
  '../../test/fixtures/urdb/elberton-residential-seasonal.json',
  import.meta.url,
);

function envNumber(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`${name} must be a whole number`);
  return value;
}

const appendAudit: AuditAppend = async (tx, kind, payload, atMs) => {
  const entry = nextEntry(await tx.auditHead(), kind, payload, atMs);
  await tx.appendAuditEntry(entry);
  return entry.seq;
};

const meterOf = (index: number): string => `MTR-${String(index).padStart(8, '0')}`;

function reading(meterId: string, startMs: number, seconds: number, slot: number): Reading {
  return {
    meterId,
    channel: '1',
    intervalStartMs: startMs,
    intervalSeconds: seconds,
    commodity: 'electricity',
    unit: 'kWh',
    valueMicro: Math.round((seconds / 900) * (150_000 + ((slot * 37) % 400) * 1_000)),
    statusCode: 0,
    seq: 0,
    quality: 'actual',
    qualityDetail: null,
    checksumSha256: null,
    idempotencyKey: idempotencyKey(meterId, '1', startMs, 0),
  } as Reading;
}

/** Inserts every meter's readings of the month in time order; returns the rows written. */
function generateLedger(db: Database.Database, meters: number, minutes: number) {
  const { startMs, endMs } = periodSpan({ period: '2026-10', year: 2026, month: 10 }, TIME_ZONE);
  const seconds = minutes * 60;
  const insert = db.prepare(ledgerInsertSql(ROWS_PER_INSERT));
  const params: unknown[] = new Array(ROWS_PER_INSERT * LEDGER_COLUMN_COUNT);
  let pending = 0;
  let written = 0;
  let inTransaction = false;
  const flush = (): void => {
    if (pending === ROWS_PER_INSERT) insert.run(params);
    else if (pending > 0) {
      db.prepare(ledgerInsertSql(pending)).run(params.slice(0, pending * LEDGER_COLUMN_COUNT));
    }
    written += pending;
    pending = 0;
  };
  let slot = 0;
  for (let at = startMs; at < endMs; at += seconds * 1000, slot += 1) {
    for (let meter = 0; meter < meters; meter += 1) {
      if (!inTransaction) {
        db.exec('BEGIN');
        inTransaction = true;
      }
      const row = reading(meterOf(meter), at, seconds, slot + meter);
      putReadingParams(params, pending * LEDGER_COLUMN_COUNT, row, 1, null, 1, written + pending);
      pending += 1;
      if (pending === ROWS_PER_INSERT) flush();
      if ((written + pending) % ROWS_PER_TRANSACTION === 0 && pending === 0) {
        db.exec('COMMIT');
        inTransaction = false;
      }
    }
  }
  flush();
  if (inTransaction) db.exec('COMMIT');
  return written;
}

async function setUp(path: string, meters: number, minutes: number) {
  const store = openSqliteStore(path, { nowMs: () => Date.now() });
  try {
    const rows = generateLedger(store.db, meters, minutes);
    const billing = new SqliteBillingStore(store);
    const context = billingContext(billing);
    await importTariffs(context, readFileSync(TARIFF, 'utf8'));
    const fromMs = Date.UTC(2026, 0, 1, 5);
    await billing.transaction(async (tx) => {
      await tx.insertAssignments(
        Array.from({ length: meters }, (_, index) => ({
          accountId: `ACC-${index}`,
          servicePointId: `SP-${index}`,
          meterId: meterOf(index),
          tariff: 'amisync-fixture-elberton-res',
          timeZone: TIME_ZONE,
          fromMs,
          toMs: null,
          registerDigits: null,
          multiplier: 1,
          importedAtMs: Date.now(),
          auditSeq: 1,
        })),
      );
    });
    store.db.pragma('wal_checkpoint(TRUNCATE)');
    return rows;
  } finally {
    await store.close();
  }
}

function billingContext(store: SqliteBillingStore): BillingContext {
  return { store, nowMs: () => Date.now(), appendAudit, actor: 'bench' };
}

async function billOnce(source: string, copy: string, threads: number) {
  copyFileSync(source, copy);
  const store = openSqliteStore(copy, { nowMs: () => Date.now() });
  try {
    const started = process.hrtime.bigint();
    const cpuStarted = process.cpuUsage();
    const report = await runBills(billingContext(new SqliteBillingStore(store)), {
      period: '2026-10',
      accountIds: null,
      taxPercent: '5',
      thresholds: DEFAULT_HOLD_THRESHOLDS,
      forceJustification: null,
      threads,
    });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const cpu = process.cpuUsage(cpuStarted);
    return {
      threads,
      invoices: report.invoices.length,
      held: report.held.length,
      seconds,
      mainThreadCpuSeconds: (cpu.user + cpu.system) / 1e6,
      invoicesPerSecond: report.invoices.length / seconds,
      totalCents: report.invoices.reduce((sum, invoice) => sum + invoice.totalCents, 0),
    };
  } finally {
    await store.close();
  }
}

async function main(): Promise<void> {
  const meters = envNumber('AMISYNC_BENCH_SERVICE_POINTS', 100_000);
  const minutes = envNumber('AMISYNC_BENCH_INTERVAL_MINUTES', 1440);
  const folder = mkdtempSync(join(tmpdir(), 'amisync-billing-bench-'));
  try {
    const source = join(folder, 'ledger.db');
    const setupStarted = process.hrtime.bigint();
    const rows = await setUp(source, meters, minutes);
    const setupSeconds = Number(process.hrtime.bigint() - setupStarted) / 1e9;
    const megabytes = statSync(source).size / 1e6;
    console.log(
      `billing bench: ${meters.toLocaleString('en-US')} service points, ${minutes}-minute ` +
        `readings, ${rows.toLocaleString('en-US')} ledger rows for October 2026 ` +
        `(${megabytes.toFixed(0)} MB, generated in ${setupSeconds.toFixed(1)} s)`,
    );
    const cores = availableParallelism();
    const runs = [];
    for (const threads of cores > 1 ? [1, cores] : [1]) {
      const run = await billOnce(source, join(folder, `bill-${threads}.db`), threads);
      runs.push(run);
      console.log(
        `bill run --threads ${threads}: ${run.invoices.toLocaleString('en-US')} invoices ` +
          `(${run.held} held) in ${run.seconds.toFixed(1)} s = ` +
          `${Math.round(run.invoicesPerSecond).toLocaleString('en-US')} invoices/s ` +
          `(main thread CPU ${run.mainThreadCpuSeconds.toFixed(1)} s)`,
      );
    }
    if (runs.length > 1 && runs[0]?.totalCents !== runs[1]?.totalCents) {
      throw new Error('one thread and every core billed different totals');
    }
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

await main();
