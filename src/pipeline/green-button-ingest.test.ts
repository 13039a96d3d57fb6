// Goal: Green Button feeds go through the whole pipeline: exact totals, nothing lost, duplicates on
// resend, hostile files quarantined whole, replay after a mapping, any chunking the same ledger.
// Method: the public feeds and hand-written attacks through ingestDelivery on a real SQLite store.
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { BATCH_BYTES_MAX } from '../core/limits.js';
import type { QuarantineRow } from '../core/store.js';
import { parseDictionary, type DataDictionary } from '../dictionary/dictionary.js';
import {
  GREEN_BUTTON_INPUT_NAMES,
  atomEntry,
  atomFeed,
  greenButtonExpected,
  greenButtonInput,
  intervalBlockContent,
  meterReadingContent,
  readingTypeContent,
  simpleFeed,
  usagePointContent,
} from '../formats/green-button/green-button-fixtures.js';
import {
  allLedgerRows,
  currentLedgerRows,
  firstCodes,
  openHarness,
  outcomesSum,
  quarantineOf,
  rawBytesOf,
  type Harness,
} from '../test-support/ingest-harness.js';
import { removeTempDirs } from '../test-support/temp.js';
import { ledgerState } from './ledger-state.js';
import { replayQuarantine } from './quarantine.js';

afterAll(removeTempDirs);

/**
 * Hourly and daily values are allowed; monthly billing values are not. Detectors are off: these
 * tests are about reading Green Button into the ledger, and the sample files are synthetic, with
 * runs of 16 and more equal hourly values that flat_line rightly holds (src/detect tests that).
 */
const HOURLY_AND_DAILY: DataDictionary = parseDictionary({
  intervalSecondsAllowed: [3600, 86_400],
  defaultIntervalSeconds: 3600,
  detectors: { enabled: false },
});

/**
 * The kWh total of each hourly electric sample, in milliwatt-hours: the Wh values of its oracle
 * file, summed once by hand, times 1000. oracleMilliWh sums them again, as a check of the figure.
 */
const HOURLY_TOTALS_MILLI_WH: Record<string, bigint> = {
  'Coastal_Multi_Family_Jan_1_2011_to_Jan_1_2012_RetailCustomer_5.xml': 4_425_305_000n,
  'TestGBDataHourlyNineDaysBinnedDaily.xml': 199_563_000n,
  'electric_containerized.xml': 4_086_000n,
};

/** The same total, computed again from the oracle file: its Wh values summed as integers. */
function oracleMilliWh(name: string): bigint {
  let total = 0n;
  for (const interval of greenButtonExpected(name)) {
    expect(interval.unit).toBe('Wh');
    expect(interval.value).toMatch(/^\d+$/);
    total += BigInt(interval.value) * 1000n;
  }
  return total;
}

async function kwhTotal(harness: Harness): Promise<bigint> {
  const rows = await currentLedgerRows(harness);
  return rows
    .filter((row) => row.unit === 'kWh')
    .reduce((sum, row) => sum + BigInt(row.valueMicro), 0n);
}

const encoder = new TextEncoder();

const HOSTILE: Record<string, readonly [string | Uint8Array, string]> = {
  'billion laughs': [
    `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol9 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<feed xmlns="http://www.w3.org/2005/Atom"><title>&lol9;</title></feed>`,
    'green-button.xml.doctype',
  ],
  'external entity': [
    `<?xml version="1.0"?>
<!DOCTYPE feed [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<IntervalReading xmlns="http://naesb.org/espi"><value>&secret;</value></IntervalReading>`,
    'green-button.xml.doctype',
  ],
  'plain DOCTYPE': [
    '<!DOCTYPE feed><feed xmlns="http://www.w3.org/2005/Atom"></feed>',
    'green-button.xml.doctype',
  ],
  'undeclared entity': [
    '<IntervalReading xmlns="http://naesb.org/espi"><value>&lol9;</value></IntervalReading>',
    'green-button.xml.syntax',
  ],
  'deep nesting': [
    `<feed xmlns="http://www.w3.org/2005/Atom">${'<a>'.repeat(100_000)}`,
    'green-button.limit.depth',
  ],
  '1 MB+ text node': [
    encoder.encode(
      `<feed xmlns="http://www.w3.org/2005/Atom"><title>${'a'.repeat(1_100_000)}</title></feed>`,
    ),
    'green-button.limit.token_chars',
  ],
};

describe('Green Button through the pipeline', () => {
  let harness: Harness;
  beforeEach(() => {
    harness = openHarness();
  });
  afterEach(async () => {
    await harness.close();
  });

  it.each(Object.keys(HOURLY_TOTALS_MILLI_WH))(
    '%s lands in the ledger with its hand-checked kWh total',
    async (name) => {
      const total = HOURLY_TOTALS_MILLI_WH[name];
      expect(oracleMilliWh(name)).toBe(total);
      const expected = greenButtonExpected(name).length;
      const report = await harness.ingest(greenButtonInput(name), {
        format: 'green-button',
        dictionary: HOURLY_AND_DAILY,
      });
      expect(report.counts).toMatchObject({
        received: expected,
        accepted: expected,
        quarantined: 0,
        duplicates: 0,
      });
      expect(await kwhTotal(harness)).toBe(total);
      const status = await harness.store.status();
      expect(status.ledger.energyMilliWh).toBe(total);
    },
  );

  it.each(GREEN_BUTTON_INPUT_NAMES)(
    '%s: every reading is received, and accepted or quarantined with its reason',
    async (name) => {
      const report = await harness.ingest(greenButtonInput(name), {
        format: 'green-button',
        dictionary: HOURLY_AND_DAILY,
      });
      expect(report.counts.received).toBe(greenButtonExpected(name).length);
      expect(outcomesSum(report.counts)).toBe(report.counts.received);
      const rows = await quarantineOf(harness, report.deliveryId);
      expect(rows).toHaveLength(report.counts.quarantined);
      const reasons = new Set(
        rows.map((row) => `${row.violations[0]?.code} ${row.violations[0]?.field}`),
      );
      for (const reason of reasons) {
        // Monthly billing values are longer than any allowed interval; gas_containerized's
        // ReadingType is empty.
        expect([
          'interval_seconds.not_allowed interval_seconds',
          'parse.format green-button.no_unit',
        ]).toContain(reason);
      }
    },
  );

  it('quarantines daily values of DST days (23 and 25 hours), with the rule that refused them', async () => {
    const name = 'TestGBDataOneYearDailyBinnedMonthly.xml';
    const report = await harness.ingest(greenButtonInput(name), {
      format: 'green-button',
      dictionary: HOURLY_AND_DAILY,
    });
    expect(report.counts).toMatchObject({ received: 444, accepted: 441, quarantined: 3 });
    const rows = await quarantineOf(harness, report.deliveryId);
    expect(rows.map((row) => row.violations[0])).toMatchObject([
      { code: 'interval_seconds.not_allowed', value: '82800' },
      { code: 'interval_seconds.not_allowed', value: '90000' },
      { code: 'interval_seconds.not_allowed', value: '82800' },
    ]);
    // The 441 whole days of the oracle file, summed by hand: 9,841,104 Wh.
    expect(await kwhTotal(harness)).toBe(9_841_104_000n);
    for (const row of rows) {
      const raw = (await rawBytesOf(harness, row)).toString('utf8');
      expect(raw).toMatch(/^<IntervalReading>[^]*<\/IntervalReading>$/);
    }
  });

  it('keeps gas in therms, apart from electricity', async () => {
    const gasDaily = parseDictionary({
      intervalSecondsAllowed: [86_400],
      defaultIntervalSeconds: 86_400,
    });
    const feed = greenButtonInput('gas_direct.xml').toString('utf8');
    // The same first reading cut to one day, so that the dictionary lets it in.
    const daily = feed.replace('<duration>3024000</duration>', '<duration>86400</duration>');
    const report = await harness.ingest(daily, { format: 'green-button', dictionary: gasDaily });
    expect(report.counts).toMatchObject({ received: 5, accepted: 1, quarantined: 4 });
    const [row] = await currentLedgerRows(harness);
    expect(row).toMatchObject({
      meterId: 'v1/BillingAccount/1234567890/UsagePoint/NET_USAGE',
      commodity: 'gas',
      unit: 'therm',
      valueMicro: 37_000_000,
    });
    expect((await harness.store.status()).ledger.energyMilliWh).toBe(0n);
  });

  it('leaves values finer than a milliwatt-hour to the dictionary, which refuses them', async () => {
    const feed = simpleFeed({
      readingType: { uom: '72', powerOfTenMultiplier: '-4' },
      readings: [
        { start: '3600', duration: '3600', value: '10' },
        { start: '7200', duration: '3600', value: '1' },
      ],
    });
    const report = await harness.ingest(feed, {
      format: 'green-button',
      dictionary: HOURLY_AND_DAILY,
    });
    expect(report.counts).toMatchObject({ received: 2, accepted: 1, quarantined: 1 });
    const [row] = await quarantineOf(harness, report.deliveryId);
    expect(row?.violations).toMatchObject([{ code: 'consumption.precision', value: '0.0000001' }]);
    expect((await currentLedgerRows(harness))[0]?.valueMicro).toBe(1);
  });

  it('counts a resent file as duplicates', async () => {
    const bytes = greenButtonInput('TestGBDataHourlyNineDaysBinnedDaily.xml');
    const first = await harness.ingest(bytes, {
      format: 'green-button',
      dictionary: HOURLY_AND_DAILY,
    });
    const again = await harness.ingest(bytes, {
      format: 'green-button',
      dictionary: HOURLY_AND_DAILY,
    });
    expect(first.counts).toMatchObject({ received: 216, accepted: 216 });
    expect(again.counts).toMatchObject({
      received: 216,
      accepted: 0,
      duplicates: 216,
      quarantined: 0,
    });
    expect(await allLedgerRows(harness)).toHaveLength(216);
  });

  it.each(Object.entries(HOSTILE))(
    '%s: one uncounted span with the reader code, and the process goes on',
    async (_name, [input, field]) => {
      const report = await harness.ingest(input, { format: 'green-button' });
      expect(report.counts).toMatchObject({ received: 1, accepted: 0, quarantined: 1 });
      expect(report.uncountedSpans).toBe(1);
      const [row] = await quarantineOf(harness, report.deliveryId);
      expect(row?.uncountedSpan).toBe(true);
      expect(row?.violations).toMatchObject([{ code: 'parse.format', field }]);
      const size = typeof input === 'string' ? encoder.encode(input).length : input.length;
      expect(row?.location).toMatchObject({ byteOffset: 0, byteLength: size });
      const next = await harness.ingest(greenButtonInput('electric_containerized.xml'), {
        format: 'green-button',
      });
      expect(next.counts).toMatchObject({ received: 8, accepted: 8 });
    },
  );

  it('replays a quarantined reading once the dictionary maps its UsagePoint', async () => {
    const bytes = greenButtonInput('electric_containerized.xml');
    const strict = parseDictionary({ formats: { 'green-button': { meterIdPattern: '^X$' } } });
    const report = await harness.ingest(bytes, { format: 'green-button', dictionary: strict });
    expect(report.counts).toMatchObject({ received: 8, quarantined: 8 });
    const rows: QuarantineRow[] = await quarantineOf(harness, report.deliveryId);
    expect(firstCodes(rows)).toEqual(Array(8).fill('meter_id.pattern'));
    const target = rows[5] as QuarantineRow;
    const raw = (await rawBytesOf(harness, target)).toString('utf8');
    expect(raw).toMatch(/^<IntervalReading>[^]*<value>591<\/value>[^]*<\/IntervalReading>$/);
    const mapped = parseDictionary({
      formats: {
        'green-button': {
          meterIdPattern: '^X$',
          meterIds: { 'RetailCustomer/3/UsagePoint/1': 'MTR-GB000001' },
        },
      },
    });
    const context = (dictionary: DataDictionary) => ({
      store: harness.store,
      dictionary,
      clock: new ManualClock(harness.clock.nowMs()),
      actor: 'test',
    });
    const replayed = await replayQuarantine(context(mapped), [target.id], 1);
    expect(replayed.accepted).toBe(1);
    const ledger = await allLedgerRows(harness);
    expect(ledger).toHaveLength(1);
    // The sixth interval of the file: 2011-01-01 21:00 UTC, 591 Wh.
    expect(ledger[0]).toMatchObject({
      meterId: 'MTR-GB000001',
      channel: '01',
      intervalStartMs: Date.UTC(2011, 0, 1, 21),
      intervalSeconds: 3600,
      unit: 'kWh',
      valueMicro: 591_000,
      seq: 20110102080000,
    });
    const untouched = await replayQuarantine(context(strict), 'all', 100);
    expect(untouched).toMatchObject({ accepted: 0, stillQuarantined: 7 });
  });

  it('quarantines readings that wait longer than a batch of bytes, their raw bytes intact', async () => {
    // The first block's entry holds more than BATCH_BYTES_MAX bytes of comments after its
    // readings, and its resources come after it. The pipeline stores all but the last bytes of so
    // long a stretch, so a reading may not wait through it: those readings are quarantined
    // (pending_limit), located where they stand. Small batches make the pipeline commit as soon as
    // readings arrive, which is where a late reading would land behind the stored bytes.
    const comment = `<!--${'x'.repeat(1_000_000)}-->`;
    const padding = comment.repeat(Math.ceil(BATCH_BYTES_MAX / 1e6) + 1);
    const readings = (first: number) =>
      [0, 1, 2].map((i) => ({ start: String((first + i) * 3600), duration: '3600', value: '7' }));
    const meterReading = 'UsagePoint/1/MeterReading/1';
    const feed = atomFeed([
      atomEntry(
        { self: `${meterReading}/IntervalBlock/1` },
        intervalBlockContent(readings(0)) + padding,
      ),
      atomEntry({ self: meterReading, related: ['RT/1'] }, meterReadingContent()),
      atomEntry({ self: 'RT/1' }, readingTypeContent({ uom: '72' })),
      atomEntry({ self: 'UsagePoint/1' }, usagePointContent('0')),
      atomEntry({ self: `${meterReading}/IntervalBlock/2` }, intervalBlockContent(readings(3))),
      atomEntry({ self: 'Padding/1' }, comment.repeat(3)),
    ]);
    const report = await harness.ingest(feed, {
      format: 'green-button',
      dictionary: HOURLY_AND_DAILY,
      chunkBytes: 1_048_576,
      batchReadingsMax: 2,
    });
    const stored = await harness.store.readDeliveryBytes(report.deliveryId, 0, report.sizeBytes);
    expect(Buffer.from(stored).toString('utf8')).toBe(feed);
    expect(report.counts).toMatchObject({ received: 6, accepted: 3, quarantined: 3 });
    const rows = await quarantineOf(harness, report.deliveryId);
    expect(rows.map((row) => row.violations[0]?.field)).toEqual(
      Array(3).fill('green-button.pending_limit'),
    );
    for (const [index, row] of rows.entries()) {
      const raw = (await rawBytesOf(harness, row)).toString('utf8');
      expect(raw).toBe(
        `<IntervalReading><timePeriod><duration>3600</duration><start>${index * 3600}</start>` +
          '</timePeriod><value>7</value></IntervalReading>',
      );
    }
    const starts = (await currentLedgerRows(harness)).map((row) => row.intervalStartMs / 3_600_000);
    expect(starts).toEqual([3, 4, 5]);
  });

  it('gives the same ledger whatever the chunking', async () => {
    const bytes = greenButtonInput('TestGBDataHourlyNineDaysBinnedDaily.xml');
    await harness.ingest(bytes, {
      format: 'green-button',
      dictionary: HOURLY_AND_DAILY,
      chunkBytes: 7,
    });
    const chunked = await ledgerState(harness.store);
    expect(chunked.readings).toBe(216);
    const whole = openHarness();
    try {
      await whole.ingest(bytes, { format: 'green-button', dictionary: HOURLY_AND_DAILY });
      expect(await ledgerState(whole.store)).toEqual(chunked);
    } finally {
      await whole.close();
    }
  });
});
