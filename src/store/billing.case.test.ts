// Goal: every BillingStore implementation keeps the same contract, so the engines cannot drift:
// the same month billed on SQLite and on PostgreSQL gives the same invoices, holds, adjustments,
// ledger reads and audit chain; billing rows are append-only; a failed transaction leaves nothing.
// Method: one scripted month (interval feeds, a late reading, a reverse-flow hold, NEM13 register
// reads, real URDB tariffs) through the billing operations on each engine, read back through the
// contract and compared whole; the superuser "attacker" of store.case.test.ts; no mocks.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadOrCreateSigningKey } from '../audit/checkpoint.js';
import { nextEntry } from '../audit/hash-chain.js';
import { writeCheckpoint } from '../audit/record.js';
import { verifyAudit } from '../audit/verify.js';
import {
  DEFAULT_HOLD_THRESHOLDS,
  importAccounts,
  importTariffs,
  runBills,
  verifyInvoice,
  type BillingContext,
  type BillRequest,
} from '../billing/billing.js';
import type { BillingStore } from '../core/billing-store.js';
import { CountingRandom, ManualClock } from '../core/clock.js';
import type { Store } from '../core/store.js';
import { DEFAULT_DICTIONARY } from '../dictionary/dictionary.js';
import { ingestDelivery } from '../pipeline/ingest.js';
import type { InputFormat } from '../core/parser.js';
import {
  dropPostgresSchemas,
  freshPostgresSchema,
  probePostgres,
  runAsSuperuser,
} from '../test-support/postgres.js';
import { flatRegisterTariff, registerAccountsCsv } from '../test-support/register-fixture.js';
import { requireOrSkip } from '../test-support/services.js';
import { removeTempDirs, tempDir } from '../test-support/temp.js';
import { PostgresBillingStore } from './postgres/postgres-billing.js';
import { openPostgresStore } from './postgres/postgres-store.js';
import { SqliteBillingStore } from './sqlite/sqlite-billing.js';
import { openSqliteStore } from './sqlite/sqlite-store.js';

interface Opened {
  store: Store;
  billing: BillingStore;
  /** Runs SQL as someone with direct access to the database (triggers still on). */
  attack(sql: string): Promise<void>;
}

interface Engine {
  name: string;
  runs: boolean;
  open(): Promise<Opened>;
}

const postgres = await probePostgres();

const ENGINES: Engine[] = [
  {
    name: 'sqlite',
    runs: true,
    async open() {
      const store = openSqliteStore(join(tempDir(), 'billing.db'), { nowMs: () => 1 });
      return {
        store,
        billing: new SqliteBillingStore(store),
        attack: async (sql) => {
          store.db.exec(sql);
        },
      };
    },
  },
  {
    name: 'postgres',
    runs: requireOrSkip('PostgreSQL', postgres.available, postgres.reason),
    async open() {
      const { schema, url } = freshPostgresSchema();
      const store = await openPostgresStore(url, { nowMs: () => 1 });
      return {
        store,
        billing: new PostgresBillingStore(store),
        attack: (sql) => runAsSuperuser(schema, sql),
      };
    },
  },
];

const SLOT_MS = 900_000;
/** 2026-10-01 00:00 in New York (EDT, UTC-4). */
const OCT_START_MS = Date.UTC(2026, 9, 1, 4);
const REVERSE_FLOW = DEFAULT_DICTIONARY.statusBits.reverseFlow;
const URDB = new URL('../../test/fixtures/urdb/', import.meta.url);
const NEM13 = new URL(
  '../../test/fixtures/nem12/valid/nemreader-Example_NEM13_consumption_data.csv',
  import.meta.url,
);
const KEY = loadOrCreateSigningKey(join(tempDir(), 'signing-key.pem')).key;

/** A day's worth of 15-minute readings per day in [fromDay, toDay), rising through each day. */
function feed(meterId: string, fromDay: number, toDay: number, options: FeedOptions = {}): string {
  const lines: string[] = [];
  for (let slot = fromDay * 96; slot < toDay * 96; slot += 1) {
    if (options.skip === slot) continue;
    lines.push(
      JSON.stringify({
        meter_id: meterId,
        timestamp_utc: new Date(OCT_START_MS + slot * SLOT_MS).toISOString(),
        consumption_kwh: (0.2 + (slot % 96) / 1000).toFixed(3),
        status_code: options.reverseFlowAt === slot ? REVERSE_FLOW : 0,
      }),
    );
  }
  return `${lines.join('\n')}\n`;
}

interface FeedOptions {
  skip?: number;
  reverseFlowAt?: number;
}

function urdbTariffs(): string {
  const read = (name: string): unknown => JSON.parse(readFileSync(new URL(name, URDB), 'utf8'));
  return JSON.stringify({
    items: [
      read('city-of-anderson-residential.json'),
      read('wiec-large-power-rate-4.json'),
      flatRegisterTariff('AMR-1', 'Basic meter'),
    ],
  });
}

const INTERVAL_ACCOUNTS = [
  'account_id,service_point_id,meter_id,tariff,time_zone,from,to',
  'ACC-1,SP-1,MTR-BILL0001,amisync-fixture-anderson-rs,America/New_York,2026-01-01,',
  'ACC-2,SP-2,MTR-BILL0002,Residential Service,America/New_York,2026-01-01,',
  'ACC-3,SP-3,MTR-BILL0003,amisync-fixture-anderson-rs,America/New_York,2026-01-01,2026-10-15',
  'ACC-3,SP-3,MTR-BILL0004,amisync-fixture-anderson-rs,America/New_York,2026-10-15,',
  'ACC-4,SP-4,MTR-BILL0005,amisync-fixture-anderson-rs,America/New_York,2026-01-01,',
].join('\n');

function request(period: string): BillRequest {
  return {
    period,
    accountIds: null,
    taxPercent: '5',
    thresholds: DEFAULT_HOLD_THRESHOLDS,
    forceJustification: null,
    threads: 1,
  };
}

function contextOf(billing: BillingStore, clock: ManualClock): BillingContext {
  return {
    store: billing,
    nowMs: () => clock.nowMs(),
    actor: 'billing-clerk',
    appendAudit: async (tx, kind, payload, atMs) => {
      const entry = nextEntry(await tx.auditHead(), kind, payload, atMs);
      await tx.appendAuditEntry(entry);
      return entry.seq;
    },
  };
}

async function* chunksOf(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}

/** The month's work, the same on every engine; returns everything it read back. */
async function billMonth({ store, billing }: Opened): Promise<Record<string, unknown>> {
  const clock = new ManualClock(Date.UTC(2026, 10, 5));
  const random = new CountingRandom();
  const ingest = async (name: string, text: string | Uint8Array, format: InputFormat) => {
    const bytes = typeof text === 'string' ? Buffer.from(text) : text;
    const report = await ingestDelivery(chunksOf(bytes), {
      store,
      dictionary: DEFAULT_DICTIONARY,
      clock,
      random,
      format,
      name,
      sourceId: 'billing-case',
      batchReadingsMax: 2_000,
    });
    clock.advanceMs(60_000);
    return report.counts;
  };
  const context = contextOf(billing, clock);
  const tariffs = await importTariffs(context, urdbTariffs());
  const accounts = await importAccounts(context, INTERVAL_ACCOUNTS);
  const registers = await importAccounts(
    context,
    registerAccountsCsv(['A1,SP1,VABC005890,AMR-1,Australia/Brisbane,2003-10-01,,6,']),
  );
  // MTR-BILL0001 lacks its first reading until later; MTR-BILL0002 reads half the month;
  // MTR-BILL0003 is exchanged for MTR-BILL0004 on the 15th; MTR-BILL0005 reports reverse flow.
  const october = await ingest(
    'october.ndjson',
    feed('MTR-BILL0001', 0, 31, { skip: 0 }) +
      feed('MTR-BILL0002', 0, 15) +
      feed('MTR-BILL0003', 0, 31) +
      feed('MTR-BILL0004', 14, 31) +
      feed('MTR-BILL0005', 0, 31, { reverseFlowAt: 500 }),
    'ndjson',
  );
  const registerReads = await ingest('nem13.csv', readFileSync(NEM13), 'nem12');
  const first = await runBills(context, request('2026-10'));
  const registerBill = await runBills(context, request('2003-11'));
  await writeCheckpoint(store, KEY, clock.nowMs());
  clock.advanceMs(60_000);
  const lateLine = `${feed('MTR-BILL0001', 0, 1).split('\n')[0] ?? ''}\n`;
  const late = await ingest('late.ndjson', lateLine, 'ndjson');
  const second = await runBills(context, request('2026-10'));
  const third = await runBills(context, request('2026-10'));
  await writeCheckpoint(store, KEY, clock.nowMs());

  const invoices = await billing.listInvoices({});
  const verified = [];
  for (const invoice of invoices) verified.push(await verifyInvoice(billing, invoice.id));
  const rowIdMax = Number.MAX_SAFE_INTEGER;
  const meters = new Set(['MTR-BILL0001', 'MTR-BILL0003', 'MTR-BILL0004', 'VABC005890']);
  const byMeter = await billing.billingLedgerByMeter({
    meterIds: meters,
    fromMs: OCT_START_MS + 14 * 86_400_000,
    toMs: OCT_START_MS + 16 * 86_400_000,
    rowIdMax,
  });
  const oneMeter = await billing.billingLedger({
    meterIds: ['MTR-BILL0001'],
    fromMs: OCT_START_MS,
    toMs: OCT_START_MS + 86_400_000,
    rowIdMax,
  });
  const reads = await billing.billingLedger({
    meterIds: ['VABC005890', 'MTR-BILL0001'],
    fromMs: Date.UTC(2003, 0, 1),
    toMs: Date.UTC(2005, 0, 1),
    rowIdMax,
    registerReads: true,
  });
  const november = [OCT_START_MS, OCT_START_MS + 31 * 86_400_000] as const;
  const audit = await verifyAudit(store, KEY.publicKey);
  return {
    ingested: { october, registerReads, late },
    imports: { tariffs, accounts, registers },
    runs: { first, registerBill, second, third },
    tariffs: await billing.listTariffs(),
    tariffBySha256: await billing.findTariffBySha256(tariffs.imported[0]?.sha256 ?? ''),
    missingTariff: await billing.findTariffBySha256('0'.repeat(64)),
    assignments: await billing.listAssignments(),
    assignmentsOfTwo: await billing.listAssignments(['ACC-3', 'A1']),
    invoices,
    invoicesOfOne: await billing.listInvoices({ accountId: 'ACC-1', period: '2026-10' }),
    firstInvoice: await billing.getInvoice(1),
    missingInvoice: await billing.getInvoice(999),
    verified,
    byMeter: [...byMeter].sort(([a], [b]) => (a < b ? -1 : 1)),
    oneMeter,
    reads,
    asOfFirstRun: await billing.billingLedger({
      meterIds: ['MTR-BILL0001'],
      fromMs: OCT_START_MS,
      toMs: OCT_START_MS + SLOT_MS,
      rowIdMax: first.invoices[0]?.ledgerRowIdMax ?? 0,
    }),
    heldStarts: await billing.heldAnomalyStarts(...november),
    heldOfMeters: await billing.heldAnomalies(['MTR-BILL0005', 'MTR-BILL0001'], ...november),
    batchIds: [
      ...(await billing.batchIdsOfLedgerRows([
        ...oneMeter.slice(0, 2),
        ...reads.slice(0, 1),
        { id: 10 ** 9, meterId: 'MTR-BILL0001', intervalStartMs: OCT_START_MS },
      ])),
    ],
    audit: { ok: audit.ok, problems: audit.problems },
  };
}

type Books = Awaited<ReturnType<typeof billMonth>>;
const booksOf = new Map<string, Books>();

afterAll(async () => {
  removeTempDirs();
  await dropPostgresSchemas();
});

/** What the month must show on any engine, so that agreement is not agreement on nothing. */
function expectBilled(books: Books): void {
  const runs = books.runs as Record<string, Awaited<ReturnType<typeof runBills>>>;
  const issued = (name: string) =>
    runs[name]?.invoices.map((invoice) => [invoice.accountId, invoice.kind]);
  expect(issued('first')).toEqual([
    ['ACC-1', 'invoice'],
    ['ACC-3', 'invoice'],
  ]);
  // A1's register reads are of 2003: October 2026 has none, so it is held too.
  expect(runs.first?.held.map((held) => held.accountId)).toEqual(['A1', 'ACC-2', 'ACC-4']);
  expect(runs.first?.held[2]?.reasons.map((reason) => reason.code)).toContain('anomalies');
  // November 2003 of the NEM13 sample: $114.66 (worked out in register-ingest.test.ts), plus
  // 5% tax of $5.733, rounded $5.73: $120.39.
  expect(runs.registerBill?.invoices.map((i) => [i.accountId, i.totalCents])).toEqual([
    ['A1', 12_039],
  ]);
  expect(issued('second')).toEqual([['ACC-1', 'adjustment']]);
  expect(runs.second?.invoices[0]?.totalCents).toBeGreaterThan(0);
  expect(runs.third?.invoices).toEqual([]);
  expect((books.verified as { ok: boolean }[]).every((result) => result.ok)).toBe(true);
  expect(books.verified).toHaveLength(4);
  expect(books.heldOfMeters).toBe(1);
  expect(books.reads).toHaveLength(2);
  expect(books.asOfFirstRun).toEqual([]);
  expect(books.audit).toEqual({ ok: true, problems: [] });
}

for (const engine of ENGINES) {
  describe.runIf(engine.runs)(`BillingStore conformance: ${engine.name}`, () => {
    it('bills a month, adjusts after a late reading, verifies, and audits', async () => {
      const opened = await engine.open();
      try {
        const books = await billMonth(opened);
        expectBilled(books);
        booksOf.set(engine.name, books);
      } finally {
        await opened.store.close();
      }
    }, 120_000);

    it('refuses UPDATE and DELETE of tariffs, assignments and invoices', async () => {
      const opened = await engine.open();
      try {
        const clock = new ManualClock(Date.UTC(2026, 10, 5));
        const context = contextOf(opened.billing, clock);
        await importTariffs(context, urdbTariffs());
        await importAccounts(context, INTERVAL_ACCOUNTS);
        await opened.billing.transaction(async (tx) =>
          tx.insertInvoice({ ...INVOICE, auditSeq: 99 }),
        );
        for (const sql of [
          "UPDATE tariffs SET json = '{}'",
          'DELETE FROM tariffs',
          "UPDATE meter_assignments SET meter_id = 'MTR-OTHER001'",
          'DELETE FROM meter_assignments',
          'UPDATE invoices SET total_cents = 1',
          'DELETE FROM invoices',
        ]) {
          await expect(opened.attack(sql), sql).rejects.toThrow(/append-only/);
        }
        expect((await opened.billing.listInvoices({}))[0]?.totalCents).toBe(INVOICE.totalCents);
      } finally {
        await opened.store.close();
      }
    });

    it('reads its own invoice in the transaction, and keeps nothing when it throws', async () => {
      const opened = await engine.open();
      try {
        const { billing, store } = opened;
        const seen = await billing.transaction(async (tx) => {
          await tx.insertInvoice({ ...INVOICE, auditSeq: 1_000 });
          return tx.invoicesOf(INVOICE.accountId, INVOICE.period);
        });
        expect(seen.map((row) => [row.id, row.totalCents])).toEqual([[1, INVOICE.totalCents]]);
        await expect(
          billing.transaction(async (tx) => {
            const entry = nextEntry(await tx.auditHead(), 'billing.invoice', {}, 5);
            await tx.appendAuditEntry(entry);
            await tx.insertInvoice({ ...INVOICE, kind: 'adjustment', auditSeq: entry.seq });
            throw new Error('crash mid-run');
          }),
        ).rejects.toThrow('crash mid-run');
        expect(await billing.listInvoices({})).toHaveLength(1);
        expect((await store.status()).auditEntries).toBe(0);
        expect(await billing.transaction((tx) => tx.ledgerRowIdMax())).toBe(0);
        await expect(
          billing.transaction((tx) =>
            tx.insertInvoice({ ...INVOICE, kind: 'credit' as 'invoice', auditSeq: 2_000 }),
          ),
        ).rejects.toThrow(/check constraint/i);
      } finally {
        await opened.store.close();
      }
    });
  });
}

const INVOICE = {
  accountId: 'ACC-1',
  period: '2026-10',
  kind: 'invoice' as const,
  totalCents: 12_345,
  linesJson: '[]',
  basisJson: '{"taxPercent":"0","servicePoints":[]}',
  ledgerRowIdMax: 0,
  ledgerDigest: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  ledgerRows: 0,
  auditHeadSeq: 0,
  auditHeadHash: '',
  overrideJson: null,
  createdAtMs: 5,
};

describe.runIf(ENGINES.every((engine) => engine.runs))('SQLite and PostgreSQL billing', () => {
  it('keep the same books for the same month', () => {
    const sqlite = booksOf.get('sqlite');
    const postgresBooks = booksOf.get('postgres');
    expect(sqlite).toBeDefined();
    expect(postgresBooks).toEqual(sqlite);
  });
});
