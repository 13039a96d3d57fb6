// Goal: a feed's ledger is independent of order, repeats and splits; counts always balance.
// Method: fast-check feeds through ingestDelivery into real SQLite files, against oracles here.
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { formatUtcSeconds, idempotencyKey } from '../core/identity.js';
import type { RecordFormat } from '../core/parser.js';
import type { Quality } from '../core/reading.js';
import type { BatchCounts, QuarantineRow } from '../core/store.js';
import { verifyAudit } from '../audit/verify.js';
import {
  allBatches,
  allLedgerRows,
  currentLedgerRows,
  FEED_START_MS,
  openHarness,
  outcomesSum,
  quarantineOf,
  rawBytesOf,
  sha256Hex,
  storedDeliveryBytes,
  type Harness,
} from '../test-support/ingest-harness.js';
import { removeTempDirs } from '../test-support/temp.js';
import {
  kwhText,
  toWireText,
  WIRE_CSV_COLUMNS,
  type WireRecord,
} from '../test-support/wire-text.js';
import { addCounts, emptyCounts } from './commit.js';
import { ledgerCsvLine, ledgerState } from './ledger-state.js';

afterAll(removeTempDirs);

const METERS = ['MTR-AAAA0001', 'MTR-BBBB0002', 'MTR-CCCC0003'] as const;
const SLOTS_MAX = 12;
const INTERVAL_MS = 900_000;
const FORMATS: readonly RecordFormat[] = ['ndjson', 'json', 'csv'];
/** An interval's value stays within the default dictionary's 0..1000 kWh. */
const ENERGY_MILLI_WH_MAX = 1_000_000_000;

// ------------------------------------------------------------------------------------------------
// Feeds: cells of one (meter, channel, interval) each, written as records with unique seqs.

type CellKind = 'actual' | 'estimate' | 'pair' | 'conflict' | 'two_actuals' | 'renumbered';
/** Kinds whose final ledger value is the same whatever order their records arrive in. */
const ORDER_FREE_KINDS: readonly CellKind[] = ['actual', 'estimate', 'pair'];
const ALL_KINDS: readonly CellKind[] = [
  ...ORDER_FREE_KINDS,
  'conflict',
  'two_actuals',
  'renumbered',
];

interface CellSpec {
  meter: number;
  slot: number;
  /** Absent means the record names no channel, which is channel "1". */
  channel: '1' | 'E2' | undefined;
  kind: CellKind;
  nonActual: 'estimated' | 'substituted';
  firstMilliWh: number;
  secondMilliWh: number;
  copies: number[];
}

const DEFECTS = [
  ['consumption_kwh', '12abc', 'consumption.not_decimal'],
  ['consumption_kwh', '1000.000001', 'consumption.range'],
  ['consumption_kwh', '0.0000001', 'consumption.precision'],
  ['meter_id', 'mtr-1234', 'meter_id.pattern'],
  ['timestamp_utc', '2026-03-01T00:00:00', 'timestamp.no_offset'],
  ['timestamp_utc', '2026-03-01T00:07:00Z', 'timestamp.alignment'],
  ['status_code', '256', 'status_code.range'],
] as const;

interface Feed {
  records: WireRecord[];
  /** Current readings and their energy, for feeds of order-free kinds only. */
  readings: number;
  energyMilliWh: bigint;
  invalid: number;
}

const cellArbitrary = (kinds: readonly CellKind[]): fc.Arbitrary<CellSpec> =>
  fc.record({
    meter: fc.integer({ min: 0, max: METERS.length - 1 }),
    slot: fc.integer({ min: 0, max: SLOTS_MAX - 1 }),
    channel: fc.constantFrom('1' as const, 'E2' as const, undefined),
    kind: fc.constantFrom(...kinds),
    nonActual: fc.constantFrom('estimated' as const, 'substituted' as const),
    firstMilliWh: fc.integer({ min: 0, max: ENERGY_MILLI_WH_MAX }),
    secondMilliWh: fc.integer({ min: 0, max: ENERGY_MILLI_WH_MAX }),
    copies: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 2, maxLength: 2 }),
  });

function cellIdentity(cell: CellSpec): string {
  return `${cell.meter}|${cell.channel ?? '1'}|${cell.slot}`;
}

function startText(slot: number): string {
  return formatUtcSeconds(FEED_START_MS + slot * INTERVAL_MS);
}

function wireRecord(
  cell: CellSpec,
  seq: number,
  milliWh: number,
  quality: 'actual' | 'estimated' | 'substituted',
): WireRecord {
  return {
    meter_id: METERS[cell.meter],
    channel: cell.channel,
    timestamp_utc: startText(cell.slot),
    consumption_kwh: kwhText(milliWh),
    status_code: quality === 'estimated' ? 1 : 0,
    seq,
    quality: quality === 'substituted' ? 'substituted' : undefined,
  };
}

/** A cell's records, first to last, and the value the ledger ends with (order-free kinds). */
function cellRecords(cell: CellSpec, nextSeq: () => number): [WireRecord[], number] {
  const { firstMilliWh: first, nonActual } = cell;
  // A second value that differs from the first, so that conflicts and revisions really differ.
  const second =
    cell.secondMilliWh === first ? (first + 1) % ENERGY_MILLI_WH_MAX : cell.secondMilliWh;
  const record = (seq: number, milliWh: number, quality: Quality): WireRecord =>
    wireRecord(cell, seq, milliWh, quality);
  switch (cell.kind) {
    case 'actual':
      return [[wireRecord(cell, nextSeq(), first, 'actual')], first];
    case 'estimate':
      return [[wireRecord(cell, nextSeq(), first, nonActual)], first];
    case 'pair':
      return [[record(nextSeq(), first, nonActual), record(nextSeq(), second, 'actual')], second];
    case 'conflict': {
      const seq = nextSeq();
      return [[record(seq, first, 'actual'), record(seq, second, 'actual')], -1];
    }
    case 'two_actuals':
      return [[record(nextSeq(), first, 'actual'), record(nextSeq(), second, 'actual')], -1];
    case 'renumbered':
      return [[record(nextSeq(), first, 'actual'), record(nextSeq(), first, 'actual')], -1];
    default: {
      const unreachable: never = cell.kind;
      throw new Error(`unknown kind ${String(unreachable)}`);
    }
  }
}

function buildFeed(cells: readonly CellSpec[], defects: readonly [number, number][]): Feed {
  let seq = 0;
  const nextSeq = (): number => (seq += 1);
  const records: WireRecord[] = [];
  let energy = 0n;
  for (const cell of cells) {
    const [own, finalMilliWh] = cellRecords(cell, nextSeq);
    own.forEach((record, index) => {
      for (let copy = 0; copy <= (cell.copies[index] ?? 0); copy += 1) records.push({ ...record });
    });
    energy += BigInt(finalMilliWh);
  }
  for (const [defectIndex, slot] of defects) {
    const [field, value] = DEFECTS[defectIndex % DEFECTS.length] ?? DEFECTS[0];
    const base = wireRecord(
      { meter: slot % METERS.length, slot, channel: undefined } as CellSpec,
      nextSeq(),
      1_000,
      'actual',
    );
    records.push({ ...base, [field]: value });
  }
  return { records, readings: cells.length, energyMilliWh: energy, invalid: defects.length };
}

const feedArbitrary = (kinds: readonly CellKind[], cellsMax: number): fc.Arbitrary<Feed> =>
  fc
    .record({
      cells: fc.uniqueArray(cellArbitrary(kinds), {
        maxLength: cellsMax,
        selector: cellIdentity,
      }),
      defects: fc.array(
        fc.tuple(fc.nat(DEFECTS.length - 1), fc.integer({ min: 0, max: SLOTS_MAX - 1 })),
        { maxLength: 4 },
      ),
    })
    .map(({ cells, defects }) => buildFeed(cells, defects));

// ------------------------------------------------------------------------------------------------
// Deliveries: the feed shuffled, repeated, cut anywhere, each piece in any format and batch size.

interface DeliveryPlan {
  format: RecordFormat;
  batchReadingsMax: number;
  chunkBytes: number;
}

interface Scenario {
  feed: Feed;
  deliveries: { plan: DeliveryPlan; records: WireRecord[] }[];
}

const planArbitrary: fc.Arbitrary<DeliveryPlan> = fc.record({
  format: fc.constantFrom(...FORMATS),
  batchReadingsMax: fc.integer({ min: 1, max: 50 }),
  chunkBytes: fc.integer({ min: 1, max: 700 }),
});

function scenarioArbitrary(feeds: fc.Arbitrary<Feed>, repeatsMax: number): fc.Arbitrary<Scenario> {
  return feeds.chain((feed) => {
    const count = feed.records.length;
    const indices = Array.from({ length: count }, (_, index) => index);
    return fc
      .record({
        orders: fc.array(fc.shuffledSubarray(indices, { minLength: count, maxLength: count }), {
          minLength: 1,
          maxLength: repeatsMax,
        }),
        cuts: fc.array(fc.nat(count * repeatsMax), { maxLength: 3 }),
        plans: fc.array(planArbitrary, { minLength: 4, maxLength: 4 }),
      })
      .map(({ orders, cuts, plans }) => {
        const sequence = orders.flatMap((order) => order.map((index) => feed.records[index]!));
        const bounds = [0, ...cuts.map((cut) => Math.min(cut, sequence.length)), sequence.length];
        bounds.sort((a, b) => a - b);
        const deliveries = plans.slice(0, bounds.length - 1).map((plan, index) => ({
          plan,
          records: sequence.slice(bounds[index], bounds[index + 1]),
        }));
        return { feed, deliveries };
      });
  });
}

async function withHarness<T>(run: (harness: Harness) => Promise<T>): Promise<T> {
  const harness = openHarness();
  try {
    return await run(harness);
  } finally {
    await harness.close();
  }
}

async function deliver(harness: Harness, scenario: Scenario) {
  const reports = [];
  for (const { plan, records } of scenario.deliveries) {
    const text = toWireText(plan.format, records);
    const report = await harness.ingest(text, {
      format: plan.format,
      batchReadingsMax: plan.batchReadingsMax,
      chunkBytes: plan.chunkBytes,
    });
    reports.push({ report, records, text });
  }
  return reports;
}

function isConserved(counts: BatchCounts): boolean {
  return counts.received === outcomesSum(counts);
}

/** Runs per property: each run ingests into fresh SQLite files; the file stays well under 60 s. */
const PROPERTY_RUNS = 40;

describe('ingestion through the real pipeline (property)', () => {
  it('a. leaves one ledger for any order, repeats and split: the sum of the feed', async () => {
    const scenarios = scenarioArbitrary(feedArbitrary(ORDER_FREE_KINDS, 10), 3);
    await fc.assert(
      fc.asyncProperty(scenarios, async (scenario) => {
        const reference = await withHarness(async (harness) => {
          await harness.ingest(toWireText('ndjson', scenario.feed.records));
          return { state: await ledgerState(harness.store), status: await harness.store.status() };
        });
        const shuffled = await withHarness(async (harness) => {
          await deliver(harness, scenario);
          return { state: await ledgerState(harness.store), status: await harness.store.status() };
        });
        expect(shuffled.state).toEqual(reference.state);
        expect(reference.state.readings).toBe(scenario.feed.readings);
        expect(reference.state.energyMilliWh).toBe(scenario.feed.energyMilliWh);
        for (const { status } of [reference, shuffled]) {
          expect(status.ledger.readings).toBe(scenario.feed.readings);
          expect(status.ledger.energyMilliWh).toBe(scenario.feed.energyMilliWh);
        }
      }),
      { numRuns: PROPERTY_RUNS },
    );
  });

  it('b. balances every delivery and batch, and counts each accepted version once', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArbitrary(feedArbitrary(ALL_KINDS, 8), 2), async (scenario) => {
        await withHarness(async (harness) => {
          const delivered = await deliver(harness, scenario);
          const batches = await allBatches(harness);
          const total = emptyCounts();
          for (const { report, records, text } of delivered) {
            // A blank delivery (NDJSON with no records) is one parse.empty span, counted once.
            const blank = /^[ \t\r\n]*$/.test(text);
            expect(report.counts.received).toBe(blank ? 1 : records.length);
            expect(isConserved(report.counts)).toBe(true);
            const row = await harness.store.getDelivery(report.deliveryId);
            expect(row?.status).toBe('complete');
            expect(row?.counts).toEqual(report.counts);
            const own = batches.filter((batch) => batch.deliveryId === report.deliveryId);
            expect(own).toHaveLength(report.batches);
            const summed = emptyCounts();
            for (const batch of own) {
              expect(isConserved(batch.counts)).toBe(true);
              expect(batch.kind).toBe('ingest');
              addCounts(summed, batch.counts);
            }
            expect(summed).toEqual(report.counts);
            addCounts(total, report.counts);
            // Batches cover the delivery from its first byte without gaps or overlaps, and every
            // byte of it is in the raw store.
            let byteOffset = 0;
            for (const batch of own) {
              expect(batch.byteOffset).toBe(byteOffset);
              byteOffset += batch.byteLength;
            }
            expect(byteOffset).toBeLessThanOrEqual(report.sizeBytes);
            const stored = await storedDeliveryBytes(harness, report.deliveryId, report.sizeBytes);
            expect(sha256Hex(stored)).toBe(report.sha256);
          }
          const status = await harness.store.status();
          expect(status.totals).toEqual(total);
          const versions = await allLedgerRows(harness);
          expect(versions).toHaveLength(total.accepted);
          expect(status.ledger.versions).toBe(total.accepted);
          expect(versions.filter((row) => row.version > 1)).toHaveLength(total.revisions);
          // A bad record arriving again while its item is open is a repeat of it, not an item.
          const items = await quarantineOf(harness);
          expect(items.length + status.quarantineRepeats).toBe(total.quarantined);
          expect(items.reduce((sum, item) => sum + item.repeats, 0)).toBe(status.quarantineRepeats);
          const audit = await verifyAudit(harness.store, null);
          expect(audit.firstProblem).toBeNull();
        });
      }),
      { numRuns: PROPERTY_RUNS },
    );
  });
});

// ------------------------------------------------------------------------------------------------
// c. A conflicting pair: the first to arrive stays, the other is quarantined as a conflict.

function consumptionTextOf(raw: Buffer, format: RecordFormat): string {
  const text = raw.toString('utf8');
  if (format !== 'csv') {
    return String((JSON.parse(text) as Record<string, unknown>).consumption_kwh);
  }
  return text.split(',')[WIRE_CSV_COLUMNS.indexOf('consumption_kwh')] ?? '';
}

const PAIR_METER = 'MTR-DDDD0004';

describe('a conflicting pair (property)', () => {
  it('c. keeps one in the ledger and quarantines the other as identity.conflict', async () => {
    const arbitrary = fc
      .record({
        background: feedArbitrary(ORDER_FREE_KINDS, 4),
        values: fc.uniqueArray(fc.integer({ min: 0, max: ENERGY_MILLI_WH_MAX }), {
          minLength: 2,
          maxLength: 2,
        }),
        seq: fc.integer({ min: 1, max: 1_000_000 }),
        slot: fc.integer({ min: 0, max: SLOTS_MAX - 1 }),
      })
      .chain(({ background, values, seq, slot }) => {
        const pair = values.map((milliWh) => ({
          meter_id: PAIR_METER,
          timestamp_utc: startText(slot),
          consumption_kwh: kwhText(milliWh),
          status_code: 0,
          seq,
        }));
        const feed = { ...background, records: [...background.records, ...pair] };
        return scenarioArbitrary(fc.constant(feed), 1).map((scenario) => ({ scenario, seq, slot }));
      });
    await fc.assert(
      fc.asyncProperty(arbitrary, async ({ scenario, seq, slot }) => {
        await withHarness(async (harness) => {
          const delivered = await deliver(harness, scenario);
          const arrivals = delivered.flatMap(({ records }) =>
            records.filter((record) => record.meter_id === PAIR_METER),
          );
          const [winner, loser] = arrivals.map((record) => String(record.consumption_kwh));
          const key = idempotencyKey(PAIR_METER, '1', FEED_START_MS + slot * INTERVAL_MS, seq);
          const rows = (await allLedgerRows(harness)).filter((row) => row.meterId === PAIR_METER);
          expect(rows).toHaveLength(1);
          expect(kwhText(rows[0]!.valueMicro)).toBe(winner);
          expect(rows[0]!.idempotencyKey).toBe(key);
          const conflicts = (await quarantineOf(harness)).filter((row: QuarantineRow) =>
            row.violations.some((v) => v.code === 'identity.conflict'),
          );
          expect(conflicts).toHaveLength(1);
          const conflict = conflicts[0]!;
          expect(conflict.relatedIdempotencyKey).toBe(key);
          expect(conflict.idempotencyKey).toBe(key);
          expect(conflict.meterId).toBe(PAIR_METER);
          const delivery = delivered.find((d) => d.report.deliveryId === conflict.deliveryId);
          const format = (delivery?.report.format ?? 'ndjson') as RecordFormat;
          const raw = await rawBytesOf(harness, conflict);
          expect(sha256Hex(raw)).toBe(conflict.rawSha256);
          expect(consumptionTextOf(raw, format)).toBe(loser);
          expect((await harness.store.status()).totals.conflicts).toBe(1);
        });
      }),
      { numRuns: PROPERTY_RUNS },
    );
  });
});

// ------------------------------------------------------------------------------------------------
// d. Exact arithmetic: decimal text in, bigint-exact milliWh sums and six-decimal CSV out.

interface DecimalCase {
  whole: number;
  /** 0..6 fraction digits, trailing zeros allowed. */
  fraction: string;
  asNumber: boolean;
}

function decimalText(value: DecimalCase): string {
  return value.fraction === '' ? String(value.whole) : `${value.whole}.${value.fraction}`;
}

/** milliWh of a decimal kWh text, by string and bigint arithmetic only. */
function decimalMilliWh(value: DecimalCase): bigint {
  return BigInt(value.whole) * 1_000_000n + BigInt(value.fraction.padEnd(6, '0'));
}

function sixDecimals(value: DecimalCase): string {
  return `${value.whole}.${value.fraction.padEnd(6, '0')}`;
}

const decimalArbitrary: fc.Arbitrary<DecimalCase> = fc.oneof(
  fc.record({
    whole: fc.integer({ min: 0, max: 999 }),
    fraction: fc.stringMatching(/^[0-9]{0,6}$/),
    asNumber: fc.boolean(),
  }),
  fc.record({
    whole: fc.constant(1000),
    fraction: fc.stringMatching(/^0{0,6}$/),
    asNumber: fc.boolean(),
  }),
);

describe('exact arithmetic (property)', () => {
  it('d. sums decimal inputs exactly as bigint milliWh and exports them to the digit', async () => {
    const arbitrary = fc.record({
      values: fc.uniqueArray(
        fc.record({
          meter: fc.integer({ min: 0, max: METERS.length - 1 }),
          slot: fc.integer({ min: 0, max: 40 }),
          value: decimalArbitrary,
        }),
        { minLength: 1, maxLength: 40, selector: (v) => `${v.meter}|${v.slot}` },
      ),
      plan: planArbitrary,
    });
    await fc.assert(
      fc.asyncProperty(arbitrary, async ({ values, plan }) => {
        await withHarness(async (harness) => {
          const records: WireRecord[] = values.map(({ meter, slot, value }, index) => ({
            meter_id: METERS[meter],
            timestamp_utc: startText(slot),
            consumption_kwh:
              value.asNumber && plan.format !== 'csv'
                ? { literal: decimalText(value) }
                : decimalText(value),
            status_code: 0,
            seq: index + 1,
          }));
          const report = await harness.ingest(toWireText(plan.format, records), plan);
          expect(report.counts.accepted).toBe(values.length);
          const expected = values.reduce((sum, { value }) => sum + decimalMilliWh(value), 0n);
          expect((await ledgerState(harness.store)).energyMilliWh).toBe(expected);
          expect((await harness.store.status()).ledger.energyMilliWh).toBe(expected);
          const rows = await currentLedgerRows(harness);
          const bySeq = new Map(rows.map((row) => [row.seq, row]));
          values.forEach(({ meter, slot, value }, index) => {
            const row = bySeq.get(index + 1)!;
            expect(BigInt(row.valueMicro)).toBe(decimalMilliWh(value));
            expect(ledgerCsvLine(row)).toBe(
              [
                METERS[meter],
                '1',
                startText(slot),
                '900',
                sixDecimals(value),
                'actual',
                '0',
                String(index + 1),
                '1',
                row.idempotencyKey,
                'electricity',
                'kWh',
                sixDecimals(value),
                '',
              ].join(','),
            );
          });
        });
      }),
      { numRuns: PROPERTY_RUNS },
    );
  });
});
