// Goal: NEM12/NEM13, CMEP and vendor CSV dialect deliveries go through the whole pipeline: exact
// units and totals, quality kept, broken lines quarantined by line, replay from the delivery.
// Method: the public and hand-written fixtures through ingestDelivery on a real SQLite store.
import { readFileSync, readdirSync } from 'node:fs';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import type { QuarantineRow } from '../core/store.js';
import {
  DEFAULT_DICTIONARY,
  parseDictionary,
  type DataDictionary,
} from '../dictionary/dictionary.js';
import { INVALID_EXPECTATIONS } from '../formats/nem12/nem12-fixtures.js';
import {
  allLedgerRows,
  collect,
  currentLedgerRows,
  openHarness,
  outcomesSum,
  quarantineOf,
  rawBytesOf,
  sha256Hex,
  type Harness,
} from '../test-support/ingest-harness.js';
import { removeTempDirs } from '../test-support/temp.js';
import { ledgerState } from './ledger-state.js';
import { replayQuarantine } from './quarantine.js';

afterAll(removeTempDirs);

const FIXTURES = new URL('../../test/fixtures/', import.meta.url).pathname;
const NEM12_VALID = readdirSync(`${FIXTURES}nem12/valid`).sort();
const NEM12_INVALID = readdirSync(`${FIXTURES}nem12/invalid`).sort();

function nem12(folder: 'valid' | 'invalid', name: string): Buffer {
  return readFileSync(`${FIXTURES}nem12/${folder}/${name}`);
}

/** The certification files use made-up NMIs (NMI1234567) and large commercial loads. */
const CERTIFICATION_DICTIONARY: DataDictionary = parseDictionary({
  consumptionKwhMax: 1_000_000,
  formats: { nem12: { meterIdPattern: '^[A-Z0-9]{1,10}$' } },
});

/**
 * An independent count of a NEM12 file's interval values: 1440 / L per 300 record, L from its 200.
 * Plain string splitting, on purpose nothing from the reader.
 */
function countIntervals(bytes: Buffer): { intervals: number; accumulations: number } {
  let minutes = 0;
  let intervals = 0;
  let accumulations = 0;
  for (const line of bytes.toString('latin1').split(/\r?\n/)) {
    const fields = line.split(',');
    if (fields[0] === '200') minutes = Number(fields[8]);
    if (fields[0] === '300') intervals += 1440 / minutes;
    if (fields[0] === '250') accumulations += 1;
  }
  return { intervals, accumulations };
}

function totalsByUnit(harness: Harness) {
  return harness.store
    .status()
    .then((status) =>
      Object.fromEntries(
        status.ledger.byUnit.map((t) => [
          t.unit,
          { readings: t.readings, valueMicro: t.valueMicro },
        ]),
      ),
    );
}

describe('NEM12 through the pipeline', () => {
  let harness: Harness;
  beforeEach(() => {
    harness = openHarness();
  });
  afterEach(async () => {
    await harness.close();
  });

  it.each(NEM12_VALID)('%s: every interval is received, and none is lost', async (name) => {
    const bytes = nem12('valid', name);
    const report = await harness.ingest(bytes, {
      format: 'nem12',
      dictionary: CERTIFICATION_DICTIONARY,
    });
    const { intervals, accumulations } = countIntervals(bytes);
    // A NEM13 250 record holds two register reads, the previous and the current.
    expect(report.counts.received).toBe(intervals + 2 * accumulations);
    expect(outcomesSum(report.counts)).toBe(report.counts.received);
    const rows = await quarantineOf(harness, report.deliveryId);
    for (const row of rows) {
      const violation = row.violations[0];
      // Valid files are read without a problem: what is held is null data or a changed value
      // for an interval the file already gave.
      expect(['parse.format nem12.null_data', 'identity.revision_held record']).toContain(
        `${violation?.code} ${violation?.field}`,
      );
    }
  });

  it('converts units exactly and never sums reactive energy into kWh', async () => {
    // Summed by hand from the file: 768 Wh values of 35 Wh on average and 384 VArh values of 50.
    // The example's values repeat for hours, which flat_line rightly holds: detection is not what
    // this test is about, so it runs none.
    const report = await harness.ingest(
      nem12('valid', 'nemreader-Example_NEM12_multiple_meters.csv'),
      { format: 'nem12', detectors: [] },
    );
    expect(report.counts).toMatchObject({ received: 1152, accepted: 1152, quarantined: 0 });
    expect(await totalsByUnit(harness)).toEqual({
      kWh: { readings: 768, valueMicro: 26_880_000n },
      kVArh: { readings: 384, valueMicro: 19_200_000n },
    });
    const status = await harness.store.status();
    expect(status.ledger.energyMilliWh).toBe(26_880_000n);
  });

  it('reads upper-case units, says so, and keeps each channel in its unit', async () => {
    // A synthetic example whose values repeat (flat_line would hold them): no detectors here.
    const report = await harness.ingest(
      nem12('valid', 'nemreader-Example_NEM12_upper_case_units.csv'),
      { format: 'nem12', detectors: [] },
    );
    expect(report.tolerated).toMatchObject({ unit_case: 2 });
    expect(await totalsByUnit(harness)).toEqual({
      kWh: { readings: 48, valueMicro: 53_328_000n },
      kVArh: { readings: 48, valueMicro: 106_656_000n },
    });
    const channels = new Set(
      (await currentLedgerRows(harness)).map((r) => `${r.channel} ${r.unit}`),
    );
    expect(channels).toEqual(new Set(['E1 kWh', 'Q1 kVArh']));
  });

  it('places each interval in NEM time (UTC+10) and keys it by NMI, suffix and UpdateDateTime', async () => {
    await harness.ingest(nem12('valid', 'aemo-NEM12#SCENARIO1#UNITEDDP#NEMMCO.csv'), {
      format: 'nem12',
      dictionary: CERTIFICATION_DICTIONARY,
    });
    const rows = await currentLedgerRows(harness);
    expect(rows).toHaveLength(384);
    const total = rows.reduce((sum, row) => sum + BigInt(row.valueMicro), 0n);
    expect(total).toBe(258_238_000n);
    const first = rows.reduce((a, b) => (a.intervalStartMs <= b.intervalStartMs ? a : b));
    // 2005-03-01 00:00 in NEM time is 2005-02-28 14:00 UTC; 30-minute intervals.
    expect(new Date(first.intervalStartMs).toISOString()).toBe('2005-02-28T14:00:00.000Z');
    expect(first).toMatchObject({ channel: 'E1', intervalSeconds: 1800, quality: 'actual' });
    expect(first.meterId).toBe('NEM1201009');
    // Every interval of a day shares its UpdateDateTime: a version stamp, not a sequence, so no
    // gap or regression is recorded for it.
    expect((await harness.store.status()).sequence).toEqual({
      gaps: 0,
      regressions: 0,
      streamsWithGaps: 0,
    });
  });

  it('takes a V day\u2019s qualities from its 400 records, with method and reason', async () => {
    const report = await harness.ingest(
      nem12('valid', 'nemreader-Example_NEM12_multiple_quality.csv'),
      { format: 'nem12' },
    );
    expect(report.counts.accepted).toBe(48);
    const rows = await currentLedgerRows(harness);
    const byDetail = new Map<string, number>();
    for (const row of rows) {
      const key = `${row.quality} ${row.qualityDetail}`;
      byDetail.set(key, (byDetail.get(key) ?? 0) + 1);
    }
    // The file's 400 records: intervals 1-20 F14 reason 76, the rest as its later 400s say.
    expect(byDetail.get('substituted F14 76')).toBe(20);
    const total = rows.reduce((sum, row) => sum + BigInt(row.valueMicro), 0n);
    expect(total).toBe(896_990_000n);
  });

  it('gives the same ledger whatever the chunking', async () => {
    const bytes = nem12('valid', 'nemreader-Example_NEM12_multiple_quality.csv');
    await harness.ingest(bytes, { format: 'nem12', chunkBytes: 7 });
    const chunked = await ledgerState(harness.store);
    const whole = openHarness();
    try {
      await whole.ingest(bytes, { format: 'nem12' });
      expect(await ledgerState(whole.store)).toEqual(chunked);
    } finally {
      await whole.close();
    }
  });

  it('counts a retransmitted file as duplicates, and a later UpdateDateTime as new versions', async () => {
    const bytes = nem12('valid', 'nemreader-Example_NEM12_actual_interval.csv');
    const first = await harness.ingest(bytes, { format: 'nem12' });
    const again = await harness.ingest(bytes, { format: 'nem12' });
    // Readings the detectors held the first time are duplicates of their holds the second time.
    expect(again.counts).toMatchObject({
      received: first.counts.received,
      accepted: 0,
      anomalyHeld: 0,
      duplicates: first.counts.accepted + first.counts.anomalyHeld,
    });
  });

  it.each(NEM12_INVALID)(
    '%s: quarantines its broken lines by line and keeps the rest',
    async (name) => {
      const expected = INVALID_EXPECTATIONS[name];
      if (expected === undefined) throw new Error(`no expectation for ${name}`);
      const report = await harness.ingest(nem12('invalid', name), {
        format: 'nem12',
        dictionary: CERTIFICATION_DICTIONARY,
      });
      expect(outcomesSum(report.counts)).toBe(report.counts.received);
      const rows = await quarantineOf(harness, report.deliveryId);
      if (expected.problems.some(([, code]) => code === 'empty_file')) {
        // A blank file is an empty delivery in every format, quarantined whole before any reader.
        expect(rows.map((row) => row.violations[0]?.code)).toEqual(['parse.empty']);
        expect(report.empty).toBe(true);
        return;
      }
      const problems = new Set(
        rows
          .filter((row) => row.violations[0]?.code === 'parse.format')
          .map((row) => `${row.location.line} ${row.violations[0]?.field}`),
      );
      const documented = expected.problems.map(([line, code]) => `${line} nem12.${code}`);
      for (const problem of documented) expect(problems).toContain(problem);
      // Besides the reader's problems, each interval of a V day that no valid 400 covers, and
      // each null (N) interval, is quarantined on its own, at its 300 line.
      for (const problem of problems) {
        if (documented.includes(problem)) continue;
        expect(problem).toMatch(/ nem12\.(interval_event_coverage|null_data)$/);
      }
      const kept = report.counts.accepted + report.counts.duplicates;
      expect(kept > 0).toBe(expected.days > 0);
      // Each quarantined line keeps its exact bytes, provably: the stored range hashes to the
      // row's rawSha256 and is the very line the reader named.
      const original = nem12('invalid', name);
      for (const row of rows) {
        const raw = await rawBytesOf(harness, row);
        expect(sha256Hex(raw)).toBe(row.rawSha256);
        const { byteOffset, byteLength } = row.location;
        expect(raw.equals(original.subarray(byteOffset, byteOffset + byteLength))).toBe(true);
      }
    },
  );

  it('replays a quarantined interval from its delivery once the dictionary maps its NMI', async () => {
    const bytes = nem12('valid', 'aemo-NEM12#SCENARIO1#UNITEDDP#NEMMCO.csv');
    const strict = parseDictionary({ formats: { nem12: { meterIdPattern: '^X{10}$' } } });
    const report = await harness.ingest(bytes, { format: 'nem12', dictionary: strict });
    expect(report.counts.quarantined).toBe(384);
    const rows: QuarantineRow[] = await quarantineOf(harness, report.deliveryId);
    expect(rows[100]?.violations[0]?.code).toBe('meter_id.pattern');
    const mapped = parseDictionary({
      formats: { nem12: { meterIdPattern: '^X{10}$', meterIds: { NEM1201009: 'MTR-NEM12009' } } },
    });
    const context = (dictionary: DataDictionary) => ({
      store: harness.store,
      dictionary,
      clock: new ManualClock(harness.clock.nowMs()),
      actor: 'test',
    });
    const target = rows[100] as QuarantineRow;
    const replayed = await replayQuarantine(context(mapped), [target.id], 1);
    expect(replayed.accepted).toBe(1);
    const [row] = await currentLedgerRows(harness);
    expect(row).toMatchObject({ meterId: 'MTR-NEM12009', channel: 'E1', unit: 'kWh' });
    // It is the same interval the quarantine row stood for: the 101st value of the file.
    const all = await allLedgerRows(harness);
    expect(all).toHaveLength(1);
    // One pass over the delivery serves every row: each row reads its own bytes once, and the
    // whole delivery is read once more, not once per row.
    const store = harness.store;
    const read = store.readDeliveryBytes.bind(store);
    let reads = 0;
    store.readDeliveryBytes = (...args: Parameters<typeof read>) => {
      reads += 1;
      return read(...args);
    };
    const untouched = await replayQuarantine(context(strict), 'all', 1000);
    expect(untouched.accepted).toBe(0);
    expect(untouched.stillQuarantined).toBe(383);
    expect(reads).toBe(383 + 1);
  });
});

/** The hand-written Pacific-time CMEP day, read in its zone, with the clock well past it. */
function ingestPacificDay(harness: Harness, dictionary: DataDictionary) {
  harness.clock.setMs(Date.UTC(2030, 0, 1));
  const bytes = readFileSync(`${FIXTURES}cmep/valid/electric-15min-day-pacific.cmep`);
  return harness.ingest(bytes, {
    format: 'cmep',
    formatContext: { timeZone: 'America/Los_Angeles' },
    dictionary,
  });
}

describe('CMEP through the pipeline', () => {
  it('ingests a Pacific-time day of 15-minute reads with its hand-summed totals', async () => {
    const harness = openHarness();
    try {
      const dictionary = parseDictionary({ intervalSecondsAllowed: [900, 3600, 86_400] });
      const report = await ingestPacificDay(harness, dictionary);
      // 96 KWH quarter hours, 24 GKWH (export) hours and one daily KW demand value.
      expect(report.counts).toMatchObject({ received: 121, accepted: 121, quarantined: 0 });
      const rows = await currentLedgerRows(harness);
      const sum = (channel: string) =>
        rows.filter((r) => r.channel === channel).reduce((s, r) => s + BigInt(r.valueMicro), 0n);
      expect(sum('kWh.delivered')).toBe(17_338_000n);
      expect(sum('kWh.received')).toBe(8_416_000n);
      const first = rows
        .filter((r) => r.channel === 'kWh.delivered')
        .reduce((a, b) => (a.intervalStartMs <= b.intervalStartMs ? a : b));
      expect(new Date(first.intervalStartMs).toISOString()).toBe('2024-05-14T07:00:00.000Z');
      const estimated = rows.filter((r) => r.quality === 'estimated');
      expect(estimated.map((r) => r.valueMicro).sort()).toEqual([308_000, 339_000]);
    } finally {
      await harness.close();
    }
  });

  it('quarantines a default-dictionary daily value with the interval rule that refused it', async () => {
    const harness = openHarness();
    try {
      const report = await ingestPacificDay(harness, DEFAULT_DICTIONARY);
      expect(report.counts).toMatchObject({ received: 121, accepted: 120, quarantined: 1 });
      const [row] = await quarantineOf(harness, report.deliveryId);
      expect(row?.violations[0]).toMatchObject({
        code: 'interval_seconds.not_allowed',
        value: '86400',
      });
    } finally {
      await harness.close();
    }
  });
});

describe('what a reader tolerated, in the ingest report', () => {
  it('counts a Green Button feed\u2019s departures from the schema by code', async () => {
    const harness = openHarness();
    try {
      const bytes = readFileSync(`${FIXTURES}greenbutton/input/gas_containerized.xml`);
      const report = await harness.ingest(bytes, { format: 'green-button' });
      expect(report.tolerated).toEqual({
        'element.empty': 1,
        'epoch.fractional': 6,
        'reading_type.empty': 1,
      });
      const plain = await harness.ingest('{"meter_id":"MTR-00000001"}\n', { format: 'ndjson' });
      expect(plain.tolerated).toEqual({});
    } finally {
      await harness.close();
    }
  });
});

describe('a vendor CSV dialect through the pipeline', () => {
  it('ingests the headerless fixed-offset export with its hand-worked total', async () => {
    const harness = openHarness();
    try {
      const dialect = JSON.parse(
        readFileSync(`${FIXTURES}csv-dialect/headerless-pipe-fixed-offset.dialect.json`, 'utf8'),
      ) as unknown;
      const bytes = readFileSync(`${FIXTURES}csv-dialect/headerless-pipe-fixed-offset.csv`);
      harness.clock.setMs(Date.UTC(2030, 0, 1));
      const report = await harness.ingest(bytes, {
        format: 'csv-dialect',
        formatContext: { dialect },
        dictionary: DEFAULT_DICTIONARY,
      });
      expect(outcomesSum(report.counts)).toBe(report.counts.received);
      const rows = await collect(harness.store.iterateCurrentLedger());
      const total = rows.reduce((sum, row) => sum + BigInt(row.valueMicro), 0n);
      expect({ readings: rows.length, total }).toEqual({ readings: 8, total: 1_904_000n });
    } finally {
      await harness.close();
    }
  });
});
