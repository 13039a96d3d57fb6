/**
 * The fuzz harness's parts: a valid delivery of every reader (seeds), fast-check arbitraries that
 * damage one (bytes flipped, cut, spliced; one field replaced by arbitrary text), and the checks
 * every input must pass whatever it holds: no crash, bounded memory, conservation, every rejected
 * record kept with its bytes and a reason, only well-formed text stored, `audit verify` passing.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import type { FormatContext, InputFormat } from '../core/parser.js';
import { REJECT_CODES } from '../core/reject.js';
import type { QuarantineRepeatInsert } from '../core/store.js';
import { isWellFormedText } from '../core/text.js';
import { verifyAudit } from '../audit/verify.js';
import { parseDictionary, type DataDictionary } from '../dictionary/dictionary.js';
import { replayQuarantine } from '../pipeline/quarantine.js';
import {
  allBatches,
  allLedgerRows,
  openHarness,
  outcomesSum,
  quarantineOf,
  rawBytesOf,
  sha256Hex,
  storedDeliveryBytes,
  type Harness,
} from './ingest-harness.js';
import { toWireText, WIRE_CSV_COLUMNS, type WireRecord } from './wire-text.js';

const FIXTURES = new URL('../../test/fixtures/', import.meta.url).pathname;

/** The clock stands after every seed's intervals: no reading is refused as in the future. */
export const FUZZ_NOW_MS = Date.UTC(2030, 0, 1);

/**
 * A loose dictionary, as a utility with unusual meter ids might write one: meter ids and channels
 * are almost any text, so damaged text reaches the ledger and the keys instead of stopping at a
 * pattern.
 */
export const LOOSE_DICTIONARY: DataDictionary = parseDictionary({
  meterIdPattern: '^[^|]{1,64}$',
  channelPattern: '^[^|]{1,32}$',
  consumptionKwhMax: 1_000_000,
  formats: {
    nem12: { meterIdPattern: '^[^|]{1,64}$', channelPattern: '^[^|]{1,32}$' },
    cmep: { meterIdPattern: '^[^|]{1,64}$', channelPattern: '^[^|]{1,32}$' },
    'green-button': { meterIdPattern: '^[^|]{1,64}$', channelPattern: '^[^|]{1,32}$' },
    'csv-dialect': { meterIdPattern: '^[^|]{1,64}$', channelPattern: '^[^|]{1,32}$' },
  },
});

/** A valid delivery of one reader, and how it is read. */
export interface Seed {
  name: string;
  format: InputFormat;
  bytes: Buffer;
  formatContext?: FormatContext;
  /** For the JSON and CSV readers: the records, so a field can be replaced structurally. */
  records?: WireRecord[];
  /** The characters between fields, for replacing one field of a text format. */
  fieldSeparators: RegExp;
}

function referenceRecords(): WireRecord[] {
  const records: WireRecord[] = [];
  for (let slot = 0; slot < 4; slot++) {
    records.push({
      meter_id: slot % 2 === 0 ? 'MTR-AAAA0001' : 'MTR-BBBB0002',
      channel: '1',
      timestamp_utc: new Date(Date.UTC(2026, 2, 1, 0, 15 * slot)).toISOString(),
      interval_seconds: 900,
      consumption_kwh: `${slot}.25`,
      status_code: 0,
      seq: slot + 1,
      quality: 'actual',
    });
  }
  return records;
}

function fixture(path: string): Buffer {
  return readFileSync(`${FIXTURES}${path}`);
}

function dialectOf(path: string): FormatContext {
  return { dialect: JSON.parse(fixture(path).toString('utf8')) as unknown };
}

/** One seed per reader, each small enough that an input costs milliseconds. */
export function fuzzSeeds(): Seed[] {
  const records = referenceRecords();
  const jsonSeparators = /[{}[\],:"\n]/;
  return [
    {
      name: 'ndjson',
      format: 'ndjson',
      bytes: Buffer.from(toWireText('ndjson', records)),
      records,
      fieldSeparators: jsonSeparators,
    },
    {
      name: 'json',
      format: 'json',
      bytes: Buffer.from(toWireText('json', records)),
      records,
      fieldSeparators: jsonSeparators,
    },
    {
      name: 'csv',
      format: 'csv',
      bytes: Buffer.from(toWireText('csv', records)),
      records,
      fieldSeparators: /[,\n]/,
    },
    {
      name: 'nem12',
      format: 'nem12',
      bytes: fixture('nem12/valid/aemo-NEM12#000000000000008#CNRGYMDP#NEMMCO.csv'),
      fieldSeparators: /[,\r\n]/,
    },
    {
      name: 'cmep',
      format: 'cmep',
      bytes: fixture('cmep/valid/gas-daily-therms-utc.cmep'),
      fieldSeparators: /[,\r\n]/,
    },
    {
      name: 'green-button',
      format: 'green-button',
      bytes: fixture('greenbutton/input/gas_direct.xml'),
      fieldSeparators: /[<>"]/,
    },
    {
      name: 'csv-dialect',
      format: 'csv-dialect',
      bytes: fixture('csv-dialect/us-comma-new-york.csv'),
      formatContext: dialectOf('csv-dialect/us-comma-new-york.dialect.json'),
      fieldSeparators: /[,\n]/,
    },
  ];
}

// ------------------------------------------------------------------------------------------------
// Hostile text and its encodings.

/** Any UTF-16 code unit, so unpaired surrogates come up often. */
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((unit) => String.fromCharCode(unit));
const HOSTILE_PIECES = [
  '\ud800',
  '\udfff',
  '\ud83d\ude00',
  '\u0000',
  '\ufffe',
  '\uffff',
  '\u{10ffff}',
  '\u001b]0;owned\u0007',
  '\u001b[2J',
  '\r\n',
  '\u202e',
  '|',
  '\\',
  '"',
  "'",
  '\\u0000',
  '\\ud800',
  '&#xD800;',
  '&#0;',
  '&amp;',
  '<',
  '9007199254740993',
  '1e400',
  '-0',
];

/** Text as a hostile vendor might send it: full Unicode, unpaired surrogates, NUL, escapes. */
export const hostileText: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.string({ unit: codeUnit, maxLength: 12 }),
  fc
    .array(fc.constantFrom(...HOSTILE_PIECES), { minLength: 1, maxLength: 4 })
    .map((p) => p.join('')),
  fc.string({ unit: 'grapheme-ascii', maxLength: 80 }),
);

/**
 * `text` as generalised UTF-8: an unpaired surrogate becomes the three bytes UTF-8 would give it
 * (ED A0 80), which is not UTF-8 at all: what a careless vendor's encoder writes.
 */
export function wtf8(text: string): Buffer {
  const bytes: number[] = [];
  for (let index = 0; index < text.length; index++) {
    const point = text.codePointAt(index) as number;
    if (point > 0xffff) index += 1;
    if (point < 0x80) bytes.push(point);
    else if (point < 0x800) bytes.push(0xc0 | (point >> 6), 0x80 | (point & 0x3f));
    else if (point < 0x10000) {
      bytes.push(0xe0 | (point >> 12), 0x80 | ((point >> 6) & 0x3f), 0x80 | (point & 0x3f));
    } else {
      bytes.push(
        0xf0 | (point >> 18),
        0x80 | ((point >> 12) & 0x3f),
        0x80 | ((point >> 6) & 0x3f),
        0x80 | (point & 0x3f),
      );
    }
  }
  return Buffer.from(bytes);
}

/** Every character of `text` as an XML character reference, surrogates and NUL included. */
function characterReferences(text: string): string {
  let out = '';
  for (let index = 0; index < text.length; index++) {
    out += `&#x${text.charCodeAt(index).toString(16)};`;
  }
  return out;
}

// ------------------------------------------------------------------------------------------------
// Damage.

/** A change to a seed's bytes, shown by fast-check when an input fails. */
export type Damage =
  | { kind: 'flip'; at: number; mask: number }
  | { kind: 'insert'; at: number; bytes: number[] }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'duplicate'; at: number; length: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'field'; fieldIndex: number; text: string; encoding: 'utf8' | 'wtf8' | 'references' }
  | { kind: 'record-field'; recordIndex: number; field: string; value: WireValueDamage };

export type WireValueDamage = { text: string } | { literal: string };

const HOSTILE_BYTES = [
  [0xed, 0xa0, 0x80],
  [0xc0, 0x80],
  [0xff],
  [0x00],
  [0xef, 0xbb, 0xbf],
  [0x0d],
  [0x0a],
  [0x1b, 0x5d, 0x30, 0x3b, 0x07],
  [0x22],
  [0x5c, 0x75, 0x64, 0x38, 0x30, 0x30],
];

/** A position as a fraction of the seed, so one damage fits every seed's length. */
const position = fc.integer({ min: 0, max: 1_000_000 });

export const byteDamage: fc.Arbitrary<Damage> = fc.oneof(
  fc.record({
    kind: fc.constant('flip' as const),
    at: position,
    mask: fc.integer({ min: 1, max: 255 }),
  }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: position,
    bytes: fc.oneof(
      fc.constantFrom(...HOSTILE_BYTES),
      fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 16 }),
    ),
  }),
  fc.record({
    kind: fc.constant('delete' as const),
    at: position,
    length: fc.integer({ min: 1, max: 64 }),
  }),
  fc.record({
    kind: fc.constant('duplicate' as const),
    at: position,
    length: fc.integer({ min: 1, max: 400 }),
  }),
  fc.record({ kind: fc.constant('truncate' as const), at: position }),
);

const WIRE_FIELDS = [...WIRE_CSV_COLUMNS, 'checksum_sha256'];

const JSON_LITERALS = [
  '9007199254740993',
  '-9007199254740993',
  '18446744073709551617',
  '1e400',
  '-0',
  '0.1000000000000000055511151231257827',
  '{"a":{"b":[1,{"c":"\\ud800"}]}}',
  '["\\udc00"]',
  'null',
  'true',
  '"\\u0000"',
];

/** A field replaced by arbitrary text in every way a text format can carry it. */
export const fieldDamage: fc.Arbitrary<Damage> = fc.record({
  kind: fc.constant('field' as const),
  fieldIndex: fc.nat({ max: 400 }),
  text: hostileText,
  encoding: fc.constantFrom('utf8' as const, 'wtf8' as const, 'references' as const),
});

/** A field of a JSON or CSV record set to arbitrary text or a hostile JSON literal. */
export const recordFieldDamage: fc.Arbitrary<Damage> = fc.record({
  kind: fc.constant('record-field' as const),
  recordIndex: fc.nat({ max: 3 }),
  field: fc.oneof(fc.constantFrom(...WIRE_FIELDS), hostileText),
  value: fc.oneof(
    hostileText.map((text) => ({ text })),
    fc.constantFrom(...JSON_LITERALS).map((literal) => ({ literal })),
  ),
});

/** The damages that fit a seed: structured ones by the seed's kind, byte ones for all. */
export function damagesFor(seed: Seed): fc.Arbitrary<Damage[]> {
  const structured =
    seed.records === undefined ? fieldDamage : fc.oneof(recordFieldDamage, fieldDamage);
  return fc.array(fc.oneof(structured, byteDamage), { minLength: 1, maxLength: 3 });
}

export function applyDamages(seed: Seed, damages: readonly Damage[]): Buffer {
  let records = seed.records;
  let bytes = seed.bytes;
  for (const damage of damages) {
    if (damage.kind === 'record-field' && records !== undefined && seed.records !== undefined) {
      records = withField(records, damage);
      bytes = wireBytes(seed, records);
    } else {
      bytes = applyDamage(seed, bytes, damage);
    }
  }
  return bytes;
}

function withField(
  records: readonly WireRecord[],
  damage: Extract<Damage, { kind: 'record-field' }>,
): WireRecord[] {
  const changed = records.map((record) => ({ ...record }));
  const at = damage.recordIndex % changed.length;
  const value = 'literal' in damage.value ? { literal: damage.value.literal } : damage.value.text;
  changed[at] = { ...changed[at], [damage.field]: value };
  return changed;
}

/**
 * The records written in the seed's format. JSON escapes an unpaired surrogate (`\ud800`), the
 * attack itself; CSV has no escapes, so its cells go out as generalised UTF-8.
 */
function wireBytes(seed: Seed, records: readonly WireRecord[]): Buffer {
  const format = seed.format === 'csv' ? 'csv' : seed.format === 'json' ? 'json' : 'ndjson';
  const text = toWireText(format, records);
  return format === 'csv' ? wtf8(text) : Buffer.from(text, 'utf8');
}

function applyDamage(seed: Seed, bytes: Buffer, damage: Damage): Buffer {
  const at = (fraction: number) => Math.floor((fraction / 1_000_001) * (bytes.length + 1));
  switch (damage.kind) {
    case 'flip': {
      if (bytes.length === 0) return bytes;
      const copy = Buffer.from(bytes);
      const index = Math.min(at(damage.at), copy.length - 1);
      copy[index] = (copy[index] as number) ^ damage.mask;
      return copy;
    }
    case 'insert': {
      const index = at(damage.at);
      return Buffer.concat([
        bytes.subarray(0, index),
        Buffer.from(damage.bytes),
        bytes.subarray(index),
      ]);
    }
    case 'delete': {
      const index = at(damage.at);
      return Buffer.concat([bytes.subarray(0, index), bytes.subarray(index + damage.length)]);
    }
    case 'duplicate': {
      const index = at(damage.at);
      const piece = bytes.subarray(index, index + damage.length);
      return Buffer.concat([bytes.subarray(0, index), piece, piece, bytes.subarray(index)]);
    }
    case 'truncate':
      return bytes.subarray(0, at(damage.at));
    case 'field':
      return replaceField(seed, bytes, damage);
    case 'record-field':
      return bytes;
    default: {
      const unreachable: never = damage;
      throw new Error(`unknown damage ${JSON.stringify(unreachable)}`);
    }
  }
}

/** The `fieldIndex`-th run between the seed's separators, replaced by the damage's text. */
function replaceField(
  seed: Seed,
  bytes: Buffer,
  damage: Extract<Damage, { kind: 'field' }>,
): Buffer {
  const text = bytes.toString('latin1');
  const spans: [number, number][] = [];
  let start = 0;
  for (let index = 0; index <= text.length; index++) {
    if (index === text.length || seed.fieldSeparators.test(text.charAt(index))) {
      if (index > start) spans.push([start, index]);
      start = index + 1;
    }
  }
  if (spans.length === 0) return bytes;
  const [from, to] = spans[damage.fieldIndex % spans.length] as [number, number];
  const replacement =
    damage.encoding === 'references'
      ? Buffer.from(characterReferences(damage.text), 'latin1')
      : damage.encoding === 'wtf8'
        ? wtf8(damage.text)
        : Buffer.from(damage.text, 'utf8');
  return Buffer.concat([bytes.subarray(0, from), replacement, bytes.subarray(to)]);
}

// ------------------------------------------------------------------------------------------------
// The checks.

/** Resident memory one input may never push the test process past. */
export const FUZZ_RSS_BYTES_MAX = 1_536 * 1024 * 1024;

/**
 * Ingests `bytes` as `seed`'s format into a fresh store and checks every promise; throws (for
 * fast-check to shrink) on the first broken one.
 */
export async function checkDelivery(seed: Seed, bytes: Buffer): Promise<void> {
  const harness = openHarness();
  harness.clock.setMs(FUZZ_NOW_MS);
  try {
    const report = await harness.ingest(bytes, {
      format: seed.format,
      dictionary: LOOSE_DICTIONARY,
      ...(seed.formatContext === undefined ? {} : { formatContext: seed.formatContext }),
      chunkBytes: 1 + (bytes.length % 977),
    });
    expectThat(
      outcomesSum(report.counts) === report.counts.received,
      'conservation',
      report.counts,
    );
    const stored = await storedDeliveryBytes(harness, report.deliveryId, report.sizeBytes);
    expectThat(stored.equals(bytes), 'the delivery is kept byte for byte', report.sizeBytes);
    const quarantined = await quarantineOf(harness, report.deliveryId);
    const repeats = await repeatsOf(harness, report.deliveryId);
    const kept = quarantined.length + repeats.length;
    expectThat(kept === report.counts.quarantined, 'every reject kept, as an item or a repeat', {
      items: quarantined.length,
      repeats: repeats.length,
      counted: report.counts.quarantined,
    });
    for (const repeat of repeats) {
      const item = quarantined.find((row) => row.id === repeat.quarantineId);
      const bytes = await harness.store.readDeliveryBytes(
        repeat.deliveryId,
        repeat.location.byteOffset,
        repeat.location.byteLength,
      );
      const same = item !== undefined && sha256Hex(bytes) === item.rawSha256;
      expectThat(same, "a repeat has its item's bytes", repeat);
    }
    for (const row of quarantined) {
      expectThat(row.violations.length > 0, 'a reject has a reason', row);
      for (const v of row.violations) {
        const known = (REJECT_CODES as readonly string[]).includes(v.code);
        expectThat(known && v.message.length > 0, 'a reason has a code and a sentence', v);
        expectThat(allWellFormed([v.field, v.value, v.message]), 'reasons are Unicode', v);
      }
      expectThat(allWellFormed([row.meterId ?? '']), 'a reject meter id is Unicode', row);
      const raw = await rawBytesOf(harness, row);
      expectThat(sha256Hex(raw) === row.rawSha256, 'a reject points at its own bytes', row);
    }
    for (const row of await allLedgerRows(harness)) {
      const texts = [row.meterId, row.channel, row.qualityDetail ?? '', row.unit, row.commodity];
      expectThat(allWellFormed(texts), 'ledger text is Unicode', row);
    }
    const audit = await verifyAudit(harness.store, null);
    expectThat(audit.ok, 'audit verify passes', audit.firstProblem);
    await replayEverything(harness);
    const rss = process.memoryUsage().rss;
    expectThat(rss < FUZZ_RSS_BYTES_MAX, 'memory stays bounded', rss);
  } finally {
    await harness.close();
  }
}

/** The repeats recorded by the delivery's batches. */
async function repeatsOf(harness: Harness, deliveryId: string): Promise<QuarantineRepeatInsert[]> {
  const repeats: QuarantineRepeatInsert[] = [];
  for (const batch of await allBatches(harness)) {
    if (batch.deliveryId !== deliveryId || batch.kind !== 'ingest') continue;
    repeats.push(...(await harness.store.quarantineRepeatsOfBatch(batch.id)));
  }
  return repeats;
}

/**
 * Replays every open item, as an operator would after fixing the dictionary: replay re-reads the
 * kept bytes alone, a second path through each reader. Every replay batch must balance and the
 * chain must still verify.
 */
async function replayEverything(harness: Harness): Promise<void> {
  const context = {
    store: harness.store,
    dictionary: LOOSE_DICTIONARY,
    clock: harness.clock,
    actor: 'fuzz',
  };
  const report = await replayQuarantine(context, 'all');
  const outcomes =
    report.accepted + report.duplicates + report.stillQuarantined + report.anomalyHeld;
  expectThat(
    report.replayed === report.outcomes.length,
    'every replayed item has an outcome',
    report,
  );
  expectThat(outcomes <= report.replayed, 'replay outcomes add up', report);
  for (const batch of await allBatches(harness)) {
    expectThat(
      outcomesSum(batch.counts) === batch.counts.received,
      'a replay batch balances',
      batch,
    );
  }
  const audit = await verifyAudit(harness.store, null);
  expectThat(audit.ok, 'audit verify passes after replay', audit.firstProblem);
}

function allWellFormed(texts: readonly string[]): boolean {
  return texts.every((text) => isWellFormedText(text));
}

function expectThat(holds: boolean, promise: string, detail: unknown): void {
  if (holds) return;
  let shown: string;
  try {
    shown = JSON.stringify(detail, (_key, value: unknown) =>
      typeof value === 'bigint' ? value.toString() : value,
    );
  } catch {
    shown = String(detail);
  }
  throw new Error(`broken: ${promise}: ${shown.slice(0, 2000)}`);
}
