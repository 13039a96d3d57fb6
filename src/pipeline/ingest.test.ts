// Goal: one delivery runs end to end: good records commit, every bad one is kept with its reason.
// Method: example deliveries through ingestDelivery into a real SQLite file; read back every row.
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyAudit } from '../audit/verify.js';
import { formatUtcSeconds, idempotencyKey } from '../core/identity.js';
import { AmisyncError } from '../core/errors.js';
import { BATCH_BYTES_MAX, RECORD_BYTES_MAX } from '../core/limits.js';
import type { InputFormat } from '../core/parser.js';
import type { QuarantineRow, Store } from '../core/store.js';
import type { Detector } from '../detect/detect.js';
import { DEFAULT_DICTIONARY, type DataDictionary } from '../dictionary/dictionary.js';
import {
  allBatches,
  allLedgerRows,
  auditKinds,
  currentLedgerRows,
  FEED_START_MS,
  firstCodes,
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
  csvRow,
  recordJson,
  toCsvText,
  toJsonArrayText,
  toNdjsonText,
  type WireRecord,
} from '../test-support/wire-text.js';
import { ledgerCsvLine } from './ledger-state.js';
import {
  acceptQuarantined,
  rejectQuarantined,
  replayQuarantine,
  type ActionContext,
} from './quarantine.js';
import { SEMICOLON_BERLIN_DIALECT } from '../test-support/dialects.js';

const METER = 'MTR-AAAA0001';
const INTERVAL_MS = 900_000;
const MIB = 1024 * 1024;

function good(slot: number, seq: number, kwh: string = '0.250'): WireRecord {
  return {
    meter_id: METER,
    timestamp_utc: formatUtcSeconds(FEED_START_MS + slot * INTERVAL_MS),
    consumption_kwh: kwh,
    status_code: 0,
    seq,
  };
}

/** Where each line of a text starts, in bytes, and its length without the line feed. */
function lineSpans(text: string): { byteOffset: number; byteLength: number }[] {
  const spans: { byteOffset: number; byteLength: number }[] = [];
  let byteOffset = 0;
  for (const line of text.split('\n').slice(0, -1)) {
    const byteLength = Buffer.byteLength(line);
    spans.push({ byteOffset, byteLength });
    byteOffset += byteLength + 1;
  }
  return spans;
}

/** Every quarantine row's bytes read back from the raw store are the input's, and hash as kept. */
async function expectRawBytesKept(harness: Harness, rows: QuarantineRow[], input: Buffer) {
  for (const row of rows) {
    const { byteOffset, byteLength } = row.location;
    const raw = await rawBytesOf(harness, row);
    expect(raw.equals(input.subarray(byteOffset, byteOffset + byteLength))).toBe(true);
    expect(sha256Hex(raw)).toBe(row.rawSha256);
  }
}

let harness: Harness;

beforeEach(() => {
  harness = openHarness();
});

afterEach(async () => {
  await harness.close();
});

afterAll(removeTempDirs);

describe('a delivery mixing good and bad records', () => {
  const lines = [
    recordJson(good(0, 1, '0.250')),
    recordJson({ ...good(1, 2), consumption_kwh: '12abc' }),
    recordJson(good(2, 3, '1.5')),
    '{"meter_id":"MTR-AAAA0001",',
    recordJson({ ...good(3, 4), foo: 'bar' }),
    recordJson({ ...good(4, 5), status_code: undefined }),
    recordJson(good(5, 6, '0')),
    recordJson({ ...good(6, 7), meter_id: 'x|y', status_code: 999 }),
  ];
  const text = `${lines.join('\n')}\n`;

  it('commits the good ones and quarantines each bad one with code, field and value', async () => {
    const report = await harness.ingest(text, { batchReadingsMax: 3, chunkBytes: 37 });
    expect(report.counts).toMatchObject({ received: 8, accepted: 3, quarantined: 5 });
    expect(outcomesSum(report.counts)).toBe(report.counts.received);
    expect(report.sha256).toBe(sha256Hex(text));
    expect(report.sizeBytes).toBe(Buffer.byteLength(text));

    const ledger = await currentLedgerRows(harness);
    expect(ledger.map((row) => [row.seq, row.valueMicro])).toEqual([
      [1, 250_000],
      [3, 1_500_000],
      [6, 0],
    ]);

    const rows = await quarantineOf(harness, report.deliveryId);
    const spans = lineSpans(text);
    expect(rows.map((row) => [row.location.line, row.location.byteOffset])).toEqual(
      [2, 4, 5, 6, 8].map((line) => [line, spans[line - 1]?.byteOffset]),
    );
    const shown = rows.map((row) => row.violations.map((v) => [v.code, v.field, v.value]));
    expect(shown).toEqual([
      [['consumption.not_decimal', 'consumption_kwh', '12abc']],
      [['parse.syntax', 'record', '{"meter_id":"MTR-AAAA0001",']],
      [['field.unknown', 'foo', 'bar']],
      [['field.missing', 'status_code', '(absent)']],
      [
        ['meter_id.pattern', 'meter_id', 'x|y'],
        ['status_code.range', 'status_code', '999'],
      ],
    ]);
    expect(rows.map((row) => row.meterId)).toEqual([METER, null, METER, METER, 'x|y']);
    expect(rows.every((row) => row.status === 'open' && row.format === 'ndjson')).toBe(true);
    expect(rows.every((row) => row.violations.every((v) => v.message.length > 0))).toBe(true);
    await expectRawBytesKept(harness, rows, Buffer.from(text));
  });
});

interface BadValueCase {
  name: string;
  format: InputFormat;
  /** The record's text as it stands in the delivery (one line, or one CSV row). */
  record: string;
  code: string;
  field: string;
  /** The value the violation shows; any of a list where the runtime's rendering may vary. */
  value: string | string[];
}

/** Shows that the violation's value is the whole record's text (a record that is not JSON). */
const WHOLE_RECORD = Symbol('whole record');

/**
 * A record of the given format whose `field` holds `wire`: a JSON literal written verbatim for
 * NDJSON (so `"12abc"` is a string and `NaN` a bare token), a cell's text for CSV.
 */
function badCase(
  format: InputFormat,
  field: string,
  wire: string,
  code: string,
  value: string | string[] | typeof WHOLE_RECORD,
): BadValueCase {
  const record =
    format === 'csv'
      ? csvRow({ ...good(0, 1), [field]: wire })
      : recordJson({ ...good(0, 1), [field]: { literal: wire } });
  const shownField = value === WHOLE_RECORD ? 'record' : field;
  const shown = value === WHOLE_RECORD ? record : value;
  const name = `${format} ${field} ${wire}`;
  return { name, format, record, code, field: shownField, value: shown };
}

const KWH = 'consumption_kwh';
const NO_OFFSET = '2026-03-01T00:00:00';

const BAD_VALUES: BadValueCase[] = [
  badCase('ndjson', KWH, '"12abc"', 'consumption.not_decimal', '12abc'),
  badCase('ndjson', KWH, '""', 'consumption.not_decimal', ''),
  badCase('ndjson', KWH, '"NaN"', 'consumption.not_finite', 'NaN'),
  badCase('ndjson', KWH, '"Infinity"', 'consumption.not_finite', 'Infinity'),
  badCase('ndjson', KWH, 'NaN', 'parse.syntax', WHOLE_RECORD),
  badCase('ndjson', KWH, 'Infinity', 'parse.syntax', WHOLE_RECORD),
  badCase('ndjson', KWH, '-0', 'consumption.negative_zero', '-0'),
  badCase('ndjson', KWH, '"-0.000"', 'consumption.negative_zero', '-0.000'),
  // JSON.parse reads 0.0000001 as the number 1e-7; either rendering names the same value.
  badCase('ndjson', KWH, '0.0000001', 'consumption.precision', ['0.0000001', '1e-7']),
  badCase('ndjson', KWH, '"0.0000001"', 'consumption.precision', '0.0000001'),
  badCase('ndjson', 'timestamp_utc', `"${NO_OFFSET}"`, 'timestamp.no_offset', NO_OFFSET),
  badCase('csv', KWH, '12abc', 'consumption.not_decimal', '12abc'),
  badCase('csv', KWH, '', 'consumption.not_decimal', ''),
  badCase('csv', KWH, 'NaN', 'consumption.not_finite', 'NaN'),
  badCase('csv', KWH, 'Infinity', 'consumption.not_finite', 'Infinity'),
  badCase('csv', KWH, '1e309', 'consumption.not_finite', '1e309'),
  badCase('csv', KWH, '-0', 'consumption.negative_zero', '-0'),
  badCase('csv', KWH, '0.0000001', 'consumption.precision', '0.0000001'),
  badCase('csv', 'timestamp_utc', NO_OFFSET, 'timestamp.no_offset', NO_OFFSET),
];

const jsonBad = (field: string, literal: string): string =>
  recordJson({ ...good(0, 1), [field]: { literal } });

/** The bad record between two good ones; `line` is where it stands (a CSV header comes first). */
function deliveryAround(format: InputFormat, record: string) {
  const before = format === 'csv' ? csvRow(good(1, 2)) : recordJson(good(1, 2));
  const after = format === 'csv' ? csvRow(good(2, 3)) : recordJson(good(2, 3));
  const head = format === 'csv' ? `${toCsvText([]).trimEnd()}\n${before}\n` : `${before}\n`;
  const line = format === 'csv' ? 3 : 2;
  return { text: `${head}${record}\n${after}\n`, offset: Buffer.byteLength(head), line };
}

async function quarantineOne(format: InputFormat, record: string) {
  const { text, offset, line } = deliveryAround(format, record);
  const report = await harness.ingest(text, { format });
  const rows = await quarantineOf(harness, report.deliveryId);
  return { report, rows, text, offset, line };
}

describe('each bad value of the issue', () => {
  it.each(BAD_VALUES)('quarantines $name with its rule and value', async (bad) => {
    const { report, rows, text, offset, line } = await quarantineOne(bad.format, bad.record);
    expect(report.counts).toMatchObject({ received: 3, accepted: 2, quarantined: 1 });
    expect(rows).toHaveLength(1);
    const row = rows[0] as QuarantineRow;
    expect(row.violations).toHaveLength(1);
    expect(row.violations[0]).toMatchObject({ code: bad.code, field: bad.field });
    const values = Array.isArray(bad.value) ? bad.value : [bad.value];
    expect(values).toContain(row.violations[0]?.value);
    expect(row.location).toMatchObject({
      byteOffset: offset,
      byteLength: Buffer.byteLength(bad.record),
      line,
    });
    const raw = await rawBytesOf(harness, row);
    expect(raw.toString('utf8')).toBe(bad.record);
    expect(sha256Hex(raw)).toBe(row.rawSha256);
    expect(sha256Hex(await storedDeliveryBytes(harness, report.deliveryId, report.sizeBytes))).toBe(
      sha256Hex(text),
    );
  });

  // A JSON literal beyond double range parses to Infinity; the kept value must be the literal
  // sent, not "null" or "Infinity", so it is refused before the double is read.
  it.each(['1e309', '-1e309'])('quarantines the JSON literal %s as inexact', async (literal) => {
    const { rows } = await quarantineOne('ndjson', jsonBad('consumption_kwh', literal));
    expect(rows[0]?.violations[0]).toMatchObject({
      code: 'parse.inexact_number',
      field: 'consumption_kwh',
      value: literal,
    });
  });
});

describe('a JSON array cut short', () => {
  it('commits the records before the cut and quarantines the tail once, counted once', async () => {
    const records = [good(0, 1, '1'), good(1, 2, '2'), good(2, 3, '3')];
    const whole = toJsonArrayText(records);
    const cutAt = whole.indexOf('"consumption_kwh":"3"');
    const text = whole.slice(0, cutAt);
    const call = { format: 'json', batchReadingsMax: 1, chunkBytes: 50 } as const;
    const report = await harness.ingest(text, call);
    expect(report.counts).toMatchObject({ received: 3, accepted: 2, quarantined: 1 });
    expect(report.uncountedSpans).toBe(1);
    expect((await currentLedgerRows(harness)).map((row) => row.seq)).toEqual([1, 2]);
    const rows = await quarantineOf(harness, report.deliveryId);
    expect(rows).toHaveLength(1);
    const tail = rows[0] as QuarantineRow;
    expect(tail.uncountedSpan).toBe(true);
    expect(tail.violations.map((v) => v.code)).toEqual(['parse.syntax']);
    // The span starts where the unfinished element starts.
    expect(tail.location.byteOffset).toBe(text.lastIndexOf('{'));
    expect(tail.location.byteOffset + tail.location.byteLength).toBe(Buffer.byteLength(text));
    await expectRawBytesKept(harness, rows, Buffer.from(text));
    const batches = await allBatches(harness);
    expect(batches.reduce((sum, batch) => sum + batch.counts.received, 0)).toBe(3);
  });

  it('reads a broken element as one reject; a missing comma ends the array', async () => {
    const a = recordJson(good(0, 1));
    const b = recordJson(good(1, 2));
    const brokenElement = `[${a},\n12abc,\n${b}]\n`;
    const broken = await harness.ingest(brokenElement, { format: 'json' });
    expect(broken.counts).toMatchObject({ received: 3, accepted: 2, quarantined: 1 });
    expect(broken.uncountedSpans).toBe(0);
    const missingComma = `[${recordJson(good(2, 3))}\n${recordJson(good(3, 4))}]\n`;
    const cut = await harness.ingest(missingComma, { format: 'json' });
    expect(cut.counts).toMatchObject({ received: 2, accepted: 1, quarantined: 1 });
    expect(cut.uncountedSpans).toBe(1);
    const rows = await quarantineOf(harness, cut.deliveryId);
    await expectRawBytesKept(harness, rows, Buffer.from(missingComma));
  });
});

describe('bounded memory for big deliveries', () => {
  const roomy: DataDictionary = { ...DEFAULT_DICTIONARY, allowUnknownFields: true };

  it('cuts batches by bytes past BATCH_BYTES_MAX and stores every byte', async () => {
    const note = 'n'.repeat(60_000);
    const count = Math.ceil((BATCH_BYTES_MAX * 1.2) / note.length);
    const records = Array.from({ length: count }, (_, index) => ({
      ...good(index, index + 1),
      note,
    }));
    const text = Buffer.from(toNdjsonText(records));
    expect(text.byteLength).toBeGreaterThan(BATCH_BYTES_MAX);
    harness.clock.setMs(FEED_START_MS + (count + 1) * INTERVAL_MS);
    // Every record reads 0.250 kWh, a run flat_line would hold; this test is about bytes.
    const report = await harness.ingest(text, {
      dictionary: roomy,
      chunkBytes: MIB,
      detectors: [],
    });
    expect(report.counts).toMatchObject({ received: count, accepted: count });
    expect(report.batches).toBeGreaterThanOrEqual(2);
    const batches = await allBatches(harness);
    let expectedOffset = 0;
    for (const batch of batches) {
      expect(batch.byteOffset).toBe(expectedOffset);
      expect(batch.byteLength).toBeLessThanOrEqual(BATCH_BYTES_MAX + MIB);
      expectedOffset += batch.byteLength;
    }
    expect(expectedOffset).toBe(text.byteLength);
    const stored = await storedDeliveryBytes(harness, report.deliveryId, report.sizeBytes, 3 * MIB);
    expect(sha256Hex(stored)).toBe(sha256Hex(text));
    expect(report.sha256).toBe(sha256Hex(text));
  });

  it('stores over BATCH_BYTES_MAX bytes of blank lines in pieces, holding no batch', async () => {
    const text = Buffer.concat([
      Buffer.from(`${recordJson(good(0, 1))}\n`),
      Buffer.alloc(BATCH_BYTES_MAX + MIB, '\n'),
      Buffer.from(`${recordJson(good(1, 2))}\n`),
    ]);
    const report = await harness.ingest(text, { chunkBytes: MIB });
    expect(report.counts).toMatchObject({ received: 2, accepted: 2 });
    const stored = await storedDeliveryBytes(harness, report.deliveryId, report.sizeBytes);
    expect(stored.equals(text)).toBe(true);
  });

  it('skips a record over RECORD_BYTES_MAX unread, keeps its bytes and reads on', async () => {
    const giant = recordJson({ ...good(1, 2), note: 'g'.repeat(RECORD_BYTES_MAX + 10) });
    const text = Buffer.from(`${recordJson(good(0, 1))}\n${giant}\n${recordJson(good(2, 3))}\n`);
    const report = await harness.ingest(text, { dictionary: roomy, chunkBytes: 4096 });
    expect(report.counts).toMatchObject({ received: 3, accepted: 2, quarantined: 1 });
    const rows = await quarantineOf(harness, report.deliveryId);
    expect(rows[0]?.violations[0]).toMatchObject({
      code: 'parse.record_too_large',
      value: `${Buffer.byteLength(giant)} bytes`,
    });
    await expectRawBytesKept(harness, rows, text);
    const stored = await storedDeliveryBytes(harness, report.deliveryId, report.sizeBytes);
    expect(stored.equals(text)).toBe(true);
  });

  it('quarantines a record larger than BATCH_BYTES_MAX and keeps all its bytes', async () => {
    const giant = recordJson({ ...good(1, 2), note: 'g'.repeat(BATCH_BYTES_MAX + MIB) });
    const text = Buffer.from(`${recordJson(good(0, 1))}\n${giant}\n${recordJson(good(2, 3))}\n`);
    const report = await harness.ingest(text, { dictionary: roomy, chunkBytes: MIB });
    expect(report.counts).toMatchObject({ received: 3, accepted: 2, quarantined: 1 });
    const rows = await quarantineOf(harness, report.deliveryId);
    expect(firstCodes(rows)).toEqual(['parse.record_too_large']);
    await expectRawBytesKept(harness, rows, text);
    const stored = await storedDeliveryBytes(harness, report.deliveryId, report.sizeBytes);
    expect(stored.equals(text)).toBe(true);
  });

  it('hashes a conflict that arrives after BATCH_BYTES_MAX of blank lines from held bytes', async () => {
    await harness.ingest(Buffer.from(`${recordJson(good(0, 1))}\n`), { chunkBytes: MIB });
    const changed = recordJson(good(0, 1, '0.999'));
    // The record starts 40 bytes before a chunk boundary at which the held bytes are flushed.
    const text = Buffer.from(`${'\n'.repeat(BATCH_BYTES_MAX + MIB - 40)}${changed}\n`);
    const report = await harness.ingest(text, { chunkBytes: MIB });
    expect(report.counts).toMatchObject({ received: 1, quarantined: 1, conflicts: 1 });
    const rows = await quarantineOf(harness, report.deliveryId);
    expect(rows[0]?.rawSha256).toBe(sha256Hex(changed));
    await expectRawBytesKept(harness, rows, text);
  });

  it('quarantines an unparseable tail longer than BATCH_BYTES_MAX as one span', async () => {
    const text = Buffer.from(`[${recordJson(good(0, 1))} x${' '.repeat(BATCH_BYTES_MAX + MIB)}]`);
    const report = await harness.ingest(text, { format: 'json', chunkBytes: MIB });
    expect(report.counts).toMatchObject({ received: 2, accepted: 1, quarantined: 1 });
    expect(report.uncountedSpans).toBe(1);
    await expectRawBytesKept(harness, await quarantineOf(harness, report.deliveryId), text);
  });
});

describe('deliveries without records', () => {
  const NEM12_EMPTY = '100,NEM12,200506081149,UNITEDDP,NEMMCO\n900\n';
  const DIALECT = SEMICOLON_BERLIN_DIALECT;
  const contextFor = (format: InputFormat) =>
    format === 'cmep' ? { timeZone: 'UTC' } : format === 'csv-dialect' ? { dialect: DIALECT } : {};

  it.each<[InputFormat, string]>([
    ['json', '[]'],
    ['json', ' [\n] \n'],
    ['csv', `${toCsvText([])}`],
    ['nem12', NEM12_EMPTY],
    ['csv-dialect', 'meter;channel;start;seconds;value;unit\n'],
    ['green-button', '<feed xmlns="http://www.w3.org/2005/Atom"></feed>'],
  ])(
    'a well-formed %s delivery of %j with no records is empty, not a reject',
    async (format, text) => {
      const report = await harness.ingest(text, { format, formatContext: contextFor(format) });
      expect(report.counts).toMatchObject({ received: 0, accepted: 0, quarantined: 0 });
      expect(report.empty).toBe(true);
      expect(report.sha256).toBe(sha256Hex(text));
      const delivery = await harness.store.getDelivery(report.deliveryId);
      expect(delivery).toMatchObject({ status: 'complete', sizeBytes: Buffer.byteLength(text) });
      const stored = await storedDeliveryBytes(harness, report.deliveryId, report.sizeBytes);
      expect(stored.toString('utf8')).toBe(text);
      expect((await harness.store.status()).ledger.readings).toBe(0);
    },
  );

  const blanks = ['', ' \n\t\n\r\n\n', '\ufeff\n'];
  it.each<[InputFormat, string]>(
    (['json', 'ndjson', 'csv', 'nem12', 'cmep', 'csv-dialect', 'green-button'] as const).flatMap(
      (format) => blanks.map((text): [InputFormat, string] => [format, text]),
    ),
  )('a %s delivery of %j is one parse.empty span, counted once', async (format, text) => {
    const report = await harness.ingest(text, { format, formatContext: contextFor(format) });
    expect(report.counts).toMatchObject({ received: 1, quarantined: 1 });
    expect(report.uncountedSpans).toBe(1);
    expect(report.empty).toBe(true);
    const rows = await quarantineOf(harness, report.deliveryId);
    expect(firstCodes(rows)).toEqual(['parse.empty']);
    expect(rows[0]?.location).toMatchObject({ byteOffset: 0, byteLength: Buffer.byteLength(text) });
    await expectRawBytesKept(harness, rows, Buffer.from(text));
  });

  it('keeps every byte of a blank delivery longer than BATCH_BYTES_MAX in its one span', async () => {
    const text = Buffer.alloc(BATCH_BYTES_MAX + MIB, '\n');
    const report = await harness.ingest(text, { format: 'ndjson', chunkBytes: MIB });
    expect(report.counts).toMatchObject({ received: 1, quarantined: 1 });
    const rows = await quarantineOf(harness, report.deliveryId);
    expect(firstCodes(rows)).toEqual(['parse.empty']);
    await expectRawBytesKept(harness, rows, text);
  });

  it('a delivery with records is not empty', async () => {
    const report = await harness.ingest(`\n${recordJson(good(0, 1))}\n`, { format: 'ndjson' });
    expect(report.empty).toBe(false);
  });
});

describe('CSV input', () => {
  it('reads quoted fields and CRLF, and rejects rows by column count and by value', async () => {
    const header = 'meter_id,timestamp_utc,consumption_kwh,status_code,seq,quality';
    const rows = [
      `${METER},2026-03-01T00:00:00Z,0.5,0,1,`,
      `"${METER}","2026-03-01T00:15:00Z","1.25",1,2,"estimated"`,
      `${METER},2026-03-01T00:30:00Z,0.5,0`,
      `${METER},2026-03-01T00:45:00Z,"1,5",0,4,`,
      `${METER},2026-03-01T01:00:00Z,2,0,5,actual`,
    ];
    const text = `${[header, ...rows].join('\r\n')}\r\n`;
    const report = await harness.ingest(text, { format: 'csv', chunkBytes: 16 });
    expect(report.counts).toMatchObject({ received: 5, accepted: 3, quarantined: 2 });
    const ledger = await currentLedgerRows(harness);
    expect(ledger.map((row) => [row.seq, row.valueMicro, row.quality])).toEqual([
      [1, 500_000, 'actual'],
      [2, 1_250_000, 'estimated'],
      [5, 2_000_000, 'actual'],
    ]);
    const quarantined = await quarantineOf(harness, report.deliveryId);
    expect(quarantined.map((row) => row.violations[0]?.code)).toEqual([
      'parse.csv_columns',
      'consumption.not_decimal',
    ]);
    expect(quarantined[1]?.violations[0]?.value).toBe('1,5');
    expect(quarantined.map((row) => row.location.line)).toEqual([4, 5]);
    for (const row of quarantined) {
      expect((await rawBytesOf(harness, row)).toString()).toBe(rows[row.location.line - 2]);
    }
    await expectRawBytesKept(harness, quarantined, Buffer.from(text));
    const delivery = await harness.store.getDelivery(report.deliveryId);
    expect(delivery?.formatContext).toEqual({ header: header.split(',') });
  });

  it('keeps the CSV header for replay when it comes after BATCH_BYTES_MAX bytes', async () => {
    const header = 'meter_id,timestamp_utc,consumption_kwh,status_code,seq';
    const line = csvRow(good(0, 1, '1500'), header.split(','));
    const text = `${'\n'.repeat(BATCH_BYTES_MAX + MIB)}${header}\n${line}\n`;
    const report = await harness.ingest(text, { format: 'csv', chunkBytes: MIB });
    expect(report.counts).toMatchObject({ received: 1, quarantined: 1 });
    const delivery = await harness.store.getDelivery(report.deliveryId);
    expect(delivery?.formatContext).toEqual({ header: header.split(',') });
    const [row] = await quarantineOf(harness, report.deliveryId);
    const context: ActionContext = {
      store: harness.store,
      dictionary: { ...DEFAULT_DICTIONARY, consumptionKwhMax: 2000 },
      clock: harness.clock,
      actor: 'clerk@utility',
    };
    expect(await replayQuarantine(context, [row!.id], 1)).toMatchObject({ accepted: 1 });
  });
});

describe('detectors and the feed sequence through the runner', () => {
  const overOneKwh: Detector = {
    name: 'over-1-kwh',
    inspect: (reading) =>
      reading.valueMicro > 1_000_000 ? [{ detector: 'over-1-kwh', message: 'spike' }] : [],
  };

  it('holds flagged readings apart from the ledger and counts them in the balance', async () => {
    const text = toNdjsonText([good(0, 1, '0.5'), good(1, 2, '7.5'), good(2, 3, '0.25')]);
    const report = await harness.ingest(text, { detectors: [overOneKwh] });
    expect(report.counts).toMatchObject({ received: 3, accepted: 2, anomalyHeld: 1 });
    expect(outcomesSum(report.counts)).toBe(3);
    expect((await currentLedgerRows(harness)).map((row) => row.seq)).toEqual([1, 3]);
    const held = harness.store.db.prepare('SELECT reading, findings FROM anomalies').all() as {
      reading: string;
      findings: string;
    }[];
    expect(held).toHaveLength(1);
    const reading: unknown = JSON.parse(held[0]?.reading ?? '{}');
    expect(reading).toMatchObject({ seq: 2, valueMicro: 7_500_000 });
    const findings: unknown = JSON.parse(held[0]?.findings ?? '[]');
    expect(findings).toEqual([{ detector: 'over-1-kwh', message: 'spike' }]);
    const ledger = (await harness.store.status()).ledger;
    expect(ledger).toMatchObject({ readings: 2, energyMilliWh: 750_000n });
  });

  it('records gaps and regressions of the feed sequence, refusing no reading', async () => {
    const text = toNdjsonText([1, 2, 5, 3].map((seq, slot) => good(slot, seq)));
    const report = await harness.ingest(text, { batchReadingsMax: 2 });
    expect(report.counts).toMatchObject({ received: 4, accepted: 4 });
    const status = await harness.store.status();
    expect(status.sequence).toEqual({ gaps: 1, regressions: 1, streamsWithGaps: 1 });
    const events = await harness.store.listSequenceEvents(10);
    expect(events.map((e) => [e.kind, e.expectedSeq, e.receivedSeq]).sort()).toEqual([
      ['gap', 3, 5],
      ['regression', 6, 3],
    ]);
  });
});

describe('operator actions on quarantine', () => {
  function context(dictionary: DataDictionary = DEFAULT_DICTIONARY): ActionContext {
    return { store: harness.store, dictionary, clock: harness.clock, actor: 'clerk@utility' };
  }

  const raised: DataDictionary = { ...DEFAULT_DICTIONARY, consumptionKwhMax: 2000 };

  /** Audit entries of the kinds operator actions write; `config` entries come and go with them. */
  async function actionEntries(): Promise<{ batch: number; replay: number; reject: number }> {
    const kinds = await auditKinds(harness);
    return {
      batch: kinds['batch'] ?? 0,
      replay: kinds['quarantine.replay'] ?? 0,
      reject: kinds['quarantine.reject'] ?? 0,
    };
  }

  it.each<InputFormat>(['ndjson', 'csv'])(
    'replays a %s consumption.range reject into the ledger once the maximum is raised',
    async (format) => {
      const records = [good(0, 1, '1'), good(1, 2, '1500')];
      const text = format === 'csv' ? toCsvText(records) : toNdjsonText(records);
      const report = await harness.ingest(text, { format });
      const [row] = await quarantineOf(harness, report.deliveryId);
      expect(row?.violations[0]).toMatchObject({ code: 'consumption.range', value: '1500' });
      const id = (row as QuarantineRow).id;

      const entries = await actionEntries();
      const unchanged = await replayQuarantine(context(), [id], 10);
      expect(unchanged).toMatchObject({ replayed: 1, accepted: 0, stillQuarantined: 1 });
      expect((await harness.store.getQuarantine(id))?.status).toBe('open');
      expect(await actionEntries()).toEqual({ ...entries, replay: entries.replay + 1 });

      harness.clock.advanceMs(60_000);
      const replayed = await replayQuarantine(context(raised), 'all', 10);
      expect(replayed).toMatchObject({ replayed: 1, accepted: 1, stillQuarantined: 0 });
      const batchId = replayed.outcomes[0]?.batchId;
      const after = await harness.store.getQuarantine(id);
      expect(after).toMatchObject({ status: 'replayed', resolvedBatchId: batchId });
      expect(after?.violations[0]?.code).toBe('consumption.range');
      const ledger = await currentLedgerRows(harness);
      expect(ledger.map((r) => [r.seq, r.valueMicro, r.batchId])).toEqual([
        [1, 1_000_000, 1],
        [2, 1_500_000_000, batchId],
      ]);
      expect((await harness.store.getBatch(batchId as number))?.kind).toBe('replay');
      const actions = await harness.store.listQuarantineActions(id);
      expect(actions.map((a) => [a.action, a.outcome, a.actor])).toEqual([
        ['replay', 'open', 'clerk@utility'],
        ['replay', 'replayed', 'clerk@utility'],
      ]);
      const status = await harness.store.status();
      expect(status.operatorTotals).toMatchObject({ received: 1, accepted: 1 });
      expect(status.totals).toMatchObject({ received: 2, accepted: 1, quarantined: 1 });
      expect(status.ledger).toMatchObject({ readings: 2, energyMilliWh: 1_501_000_000n });
      expect(await actionEntries()).toEqual({
        batch: entries.batch + 1,
        replay: entries.replay + 1,
        reject: entries.reject,
      });
      expect((await verifyAudit(harness.store, null)).ok).toBe(true);
      await expect(replayQuarantine(context(raised), [id], 10)).rejects.toMatchObject({
        code: 'INVALID_STATE',
      });
    },
  );

  it('accepts a conflict as the new current version, and rejects an unreadable value', async () => {
    const first = good(0, 1, '0.5');
    const text = toNdjsonText([first, { ...first, consumption_kwh: '0.75' }, good(1, 2, '12abc')]);
    const report = await harness.ingest(text);
    expect(report.counts).toMatchObject({ accepted: 1, quarantined: 2, conflicts: 1 });
    // A batch lists its input rejects first, then its identity holds.
    const [unreadable, conflict] = await quarantineOf(harness, report.deliveryId);
    expect(conflict?.violations[0]?.code).toBe('identity.conflict');
    expect(unreadable?.violations[0]?.code).toBe('consumption.not_decimal');
    const entries = await actionEntries();

    await expect(acceptQuarantined(context(), conflict!.id, 'short')).rejects.toMatchObject({
      code: 'USAGE',
    });
    await expect(
      acceptQuarantined(context(), unreadable!.id, 'meter vendor confirmed the value'),
    ).rejects.toBeInstanceOf(AmisyncError);
    expect(await actionEntries()).toEqual(entries);

    const accepted = await acceptQuarantined(context(), conflict!.id, 'vendor re-read the meter');
    expect(accepted).toMatchObject({
      outcome: 'accepted',
      version: 2,
      overridden: ['identity.conflict'],
    });
    const key = idempotencyKey(METER, '1', FEED_START_MS, 1);
    expect(accepted.idempotencyKey).toBe(key);
    const versions = await allLedgerRows(harness);
    expect(versions.map((r) => [r.version, r.valueMicro, r.supersedesKey])).toEqual([
      [1, 500_000, null],
      [2, 750_000, key],
    ]);
    expect((await harness.store.status()).ledger).toMatchObject({
      readings: 1,
      energyMilliWh: 750_000n,
      versions: 2,
    });
    expect(await harness.store.getQuarantine(conflict!.id)).toMatchObject({
      status: 'accepted',
      resolvedBatchId: accepted.batchId,
    });
    expect((await harness.store.getBatch(accepted.batchId))?.kind).toBe('override');

    const why = 'garbage from the head-end';
    const rejected = await rejectQuarantined(context(), unreadable!.id, why);
    expect(await harness.store.getQuarantine(unreadable!.id)).toMatchObject({ status: 'rejected' });
    const entry = await harness.store.latestAuditEntryOfKind('quarantine.reject');
    expect(entry?.seq).toBe(rejected.auditSeq);
    expect(JSON.parse(entry?.payload ?? '{}')).toMatchObject({
      quarantine: unreadable!.id,
      actor: 'clerk@utility',
      justification: 'garbage from the head-end',
    });
    expect(await actionEntries()).toEqual({
      batch: entries.batch + 1,
      replay: entries.replay,
      reject: entries.reject + 1,
    });
    const actions = await harness.store.listQuarantineActions(unreadable!.id);
    expect(actions.map((a) => [a.action, a.outcome])).toEqual([['reject', 'rejected']]);
    expect((await currentLedgerRows(harness)).map((r) => r.valueMicro)).toEqual([750_000]);
    await expect(
      rejectQuarantined(context(), conflict!.id, 'changed my mind entirely'),
    ).rejects.toMatchObject({ code: 'INVALID_STATE' });
    const audit = await verifyAudit(harness.store, null);
    expect(audit.problems).toEqual([]);
    expect(audit.ok).toBe(true);
  });

  it('replays with all every open item, past a first page that stays invalid', async () => {
    // 1,010 readings over any maximum, then 40 that a raised maximum lets in: a run limited to the
    // first page of open items would replay only the 1,010, again and again.
    const records = Array.from({ length: 1_050 }, (_, slot) =>
      good(slot, slot + 1, slot < 1_010 ? '9000' : '1500'),
    );
    harness.clock.setMs(FEED_START_MS + 1_100 * INTERVAL_MS);
    await harness.ingest(toNdjsonText(records));
    // The 40 equal readings are a run flat_line would hold; this test is about paging.
    const report = await replayQuarantine({ ...context(raised), detectors: [] }, 'all');
    expect(report).toMatchObject({ replayed: 1_050, accepted: 40, stillQuarantined: 1_010 });
    expect((await currentLedgerRows(harness)).map((r) => r.seq)).toEqual(
      Array.from({ length: 40 }, (_, k) => 1_011 + k),
    );
    // Items commit many to a transaction, yet each keeps its own batch or audit entry, chained.
    const accepted = report.outcomes.filter((o) => o.outcome === 'accepted');
    expect(new Set(accepted.map((o) => o.batchId)).size).toBe(40);
    expect(await actionEntries()).toMatchObject({ replay: 1_010 });
    expect((await verifyAudit(harness.store, null)).ok).toBe(true);
    const limited = await replayQuarantine(context(raised), 'all', 5);
    expect(limited).toMatchObject({ replayed: 5, stillQuarantined: 5 });
  });

  /** The harness's store, counting the transactions opened through it. */
  function countingStore(): { store: Store; transactions: () => number } {
    let count = 0;
    const target = harness.store;
    const store = new Proxy(target, {
      get(object, property) {
        if (property === 'transaction') {
          return (fn: Parameters<Store['transaction']>[0]) => {
            count += 1;
            return object.transaction(fn);
          };
        }
        const value: unknown = Reflect.get(object, property, object);
        return typeof value === 'function' ? (value as () => unknown).bind(object) : value;
      },
    });
    return { store, transactions: () => count };
  }

  it('commits replayed items 500 to a transaction, and fewer when their kept bytes are large', async () => {
    harness.clock.setMs(FEED_START_MS + 1_100 * INTERVAL_MS);
    await harness.ingest(
      toNdjsonText(Array.from({ length: 1_050 }, (_, slot) => good(slot, slot + 1, '9000'))),
    );
    const { store, transactions } = countingStore();
    await replayQuarantine({ ...context(), store }, 'all');
    // One records the dictionary in force (first use); then pages of 1,000: 500 + 500, then 50.
    expect(transactions()).toBe(1 + 3);

    // Records over RECORD_BYTES_MAX stay quarantined whole; 150 of them are more than
    // BATCH_BYTES_MAX, so they cannot share one transaction.
    const padding = 'x'.repeat(RECORD_BYTES_MAX);
    const large = Array.from({ length: 150 }, (_, k) => `{"meter_id":"${padding}","seq":${k}}\n`);
    await harness.ingest(large.join(''));
    expect(150 * RECORD_BYTES_MAX).toBeGreaterThan(BATCH_BYTES_MAX);
    const bytes = countingStore();
    const again = await replayQuarantine({ ...context(), store: bytes.store }, 'all');
    expect(again).toMatchObject({ replayed: 1_200, stillQuarantined: 1_200 });
    // The first page's 1,000 small items in 500 + 500; the second page's 50 small and 150 large
    // ones would fit one transaction by count, and take two by bytes.
    expect(bytes.transactions()).toBe(2 + 2);
  });

  it('keeps a held revision the same open item on every replay; a span never becomes a record', async () => {
    const actual = good(0, 1, '0.5');
    const estimate = { ...good(0, 2, '0.4'), status_code: 1 };
    const first = await harness.ingest(toNdjsonText([actual, estimate]));
    const [held] = await quarantineOf(harness, first.deliveryId);
    expect(held?.violations[0]?.code).toBe('identity.revision_held');
    const entries = await actionEntries();
    for (const run of [1, 2]) {
      const replay = await replayQuarantine(context(), 'all');
      expect(replay).toMatchObject({ replayed: 1, stillQuarantined: 1 });
      expect(replay.outcomes[0]).toMatchObject({
        quarantineId: held!.id,
        outcome: 'held-again',
        batchId: null,
        newQuarantineIds: [],
      });
      const open = await harness.store.listQuarantine({ status: 'open', limit: 10 });
      expect(open.map((row) => row.id)).toEqual([held!.id]);
      expect(open[0]?.currentViolations.map((v) => v.code)).toEqual(['identity.revision_held']);
      expect(open[0]?.rawSha256).toBe(held!.rawSha256);
      // No batch: a replay held again writes its action and audit entry, and nothing else.
      expect(await actionEntries()).toEqual({ ...entries, replay: entries.replay + run });
    }
    const actions = await harness.store.listQuarantineActions(held!.id);
    expect(actions.map((a) => [a.action, a.outcome])).toEqual([
      ['replay', 'open'],
      ['replay', 'open'],
    ]);
    expect((await currentLedgerRows(harness)).map((r) => r.valueMicro)).toEqual([500_000]);

    const cut = await harness.ingest(`[${recordJson(good(1, 3))}\n${recordJson(good(2, 4))}]`, {
      format: 'json',
    });
    const [span] = await quarantineOf(harness, cut.deliveryId);
    expect(span?.uncountedSpan).toBe(true);
    await expect(
      acceptQuarantined(context(), span!.id, 'the vendor says it is fine'),
    ).rejects.toMatchObject({ code: 'INVALID_STATE' });
    const again = await replayQuarantine(context(), [span!.id], 10);
    expect(again.outcomes[0]).toMatchObject({ outcome: 'still-invalid' });
    expect((await harness.store.getQuarantine(span!.id))?.status).toBe('open');
    expect((await verifyAudit(harness.store, null)).ok).toBe(true);
  });

  it('reports replay outcomes (accepted, duplicate, anomaly), refuses unknown ids', async () => {
    const over = { ...good(0, 2, '1500') };
    // The copy names its fields in another order: other bytes, so its own item, not a repeat.
    const copy = { seq: over.seq, ...over };
    const report = await harness.ingest(
      toNdjsonText([over, copy, good(1, 3, '1800'), good(2, 4, '12abc'), good(3, 5)]),
    );
    const ids = (await quarantineOf(harness, report.deliveryId)).map((row) => row.id);
    expect(ids).toHaveLength(4);
    const flagBig: Detector = {
      name: 'big',
      inspect: (reading) =>
        reading.valueMicro > 1_700_000_000 ? [{ detector: 'big', message: 'too big' }] : [],
    };
    const replay = await replayQuarantine({ ...context(raised), detectors: [flagBig] }, ids, 10);
    expect(replay.outcomes.map((o) => o.outcome)).toEqual([
      'accepted',
      'duplicate',
      'anomaly',
      'still-invalid',
    ]);
    expect(replay).toMatchObject({
      replayed: 4,
      accepted: 1,
      duplicates: 1,
      anomalyHeld: 1,
      stillQuarantined: 1,
    });
    const statuses = await Promise.all(ids.map((id) => harness.store.getQuarantine(id)));
    const replayed = 'replayed';
    expect(statuses.map((row) => row?.status)).toEqual([replayed, replayed, replayed, 'open']);
    const status = await harness.store.status();
    expect(status.operatorTotals).toMatchObject({
      received: 3,
      accepted: 1,
      duplicates: 1,
      anomalyHeld: 1,
    });
    expect(status.ledger).toMatchObject({ readings: 2, energyMilliWh: 1_500_250_000n });
    await expect(replayQuarantine(context(), [9_999], 10)).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    const [syntax] = await quarantineOf(
      harness,
      (await harness.ingest('{"meter_id":\n')).deliveryId,
    );
    await expect(
      acceptQuarantined(context(), syntax!.id, 'looks fine to me, honestly'),
    ).rejects.toMatchObject({ code: 'INVALID_STATE' });
    expect((await verifyAudit(harness.store, null)).ok).toBe(true);
  });

  it('exports an overridden odd meter id and channel as CSV no spreadsheet runs', async () => {
    const odd = { ...good(0, 1, '2.5'), meter_id: '=SUM(A1)', channel: '-x,y' };
    const report = await harness.ingest(toNdjsonText([odd]));
    const [row] = await quarantineOf(harness, report.deliveryId);
    expect(row?.violations.map((v) => v.code)).toEqual(['meter_id.pattern', 'channel.pattern']);
    await acceptQuarantined(context(), row!.id, 'test meter on the bench, keep it');
    const [ledger] = await currentLedgerRows(harness);
    expect(ledgerCsvLine(ledger!)).toBe(
      [
        "'=SUM(A1)",
        `"'-x,y"`,
        '2026-03-01T00:00:00Z',
        '900',
        '2.500000',
        'actual',
        '0',
        '1',
        '1',
        idempotencyKey('=SUM(A1)', '-x,y', FEED_START_MS, 1),
        'electricity',
        'kWh',
        '2.500000',
        '',
      ].join(','),
    );
  });

  it('accepts a consumption.range reject by override without changing the dictionary', async () => {
    const report = await harness.ingest(toNdjsonText([good(0, 1, '1500')]));
    const [row] = await quarantineOf(harness, report.deliveryId);
    const accepted = await acceptQuarantined(context(), row!.id, 'industrial meter, verified');
    expect(accepted).toMatchObject({ outcome: 'accepted', version: 1 });
    expect((await currentLedgerRows(harness)).map((r) => r.valueMicro)).toEqual([1_500_000_000]);
    expect((await verifyAudit(harness.store, null)).ok).toBe(true);
  });
});
