/**
 * How judged records cross between threads: a parse thread's verdicts packed into three
 * transferable buffers (numbers in a Float64Array, the job's distinct strings once each as one
 * NUL-separated UTF-8 text that the numbers index, the identity keys as 32 bytes each), so a batch
 * of thousands of readings moves as three buffers instead of thousands of cloned objects. A verdict
 * the compact form cannot hold exactly (a reject, a reading of another shape, a string with a NUL,
 * a key that is not 64 lowercase hex digits) travels beside them as a structured clone: such
 * records are rare, and a clone keeps every value (undefined, -0, Infinity) exactly as the
 * single-thread pipeline would see it.
 */
import type { Reading, RecordLocation } from '../core/reading.js';
import type { IdentifiedReading } from './identify.js';
import type { Verdict } from './judge.js';

/**
 * Numbers per verdict: kind, location (4), the reading's numbers (5), then the string table
 * indexes of its texts (meterId, channel, commodity, unit, quality, qualityDetail, checksumSha256;
 * -1 for null).
 */
const NUMBERS_PER_VERDICT = 17;
const KIND_COMPACT = 0;
const KIND_OTHER = 1;
const TEXT_AT = 10;
const NO_TEXT = -1;
const SEPARATOR = '\u0000';
/** An identity key travels as its 32 bytes: lowercase hex, as identity builds it. */
const KEY_PATTERN = /^[0-9a-f]{64}$/;
const KEY_BYTES = 32;
const KEY_HEX_LENGTH = KEY_BYTES * 2;

/** The reading's keys in the order the validators build them (JSON.stringify depends on it). */
const READING_KEYS = [
  'meterId',
  'channel',
  'intervalStartMs',
  'intervalSeconds',
  'valueMicro',
  'statusCode',
  'seq',
  'commodity',
  'unit',
  'quality',
  'qualityDetail',
  'checksumSha256',
  'idempotencyKey',
] as const;

/**
 * Verdicts in transit: `numbers`, `text` (the string table) and `keys` (the identity keys' bytes)
 * are transferred, `others` cloned.
 */
export interface EncodedVerdicts {
  count: number;
  numbers: ArrayBuffer;
  text: ArrayBuffer;
  keys: ArrayBuffer;
  others: { index: number; verdict: Verdict }[];
}

/**
 * A job's distinct texts, each sent once: a feed repeats its meter ids, channels, units and
 * qualities on every reading, and one string per distinct text is far cheaper to pack and unpack
 * than one per reading.
 */
class TextTable {
  readonly texts: string[] = [];
  readonly #indexes = new Map<unknown, number>();

  /** The text's index (NO_TEXT for null), or null when the compact form cannot hold it. */
  indexOf(text: unknown): number | null {
    const known = this.#indexes.get(text);
    if (known !== undefined) return known;
    if (text === null) return NO_TEXT;
    if (typeof text !== 'string' || text.includes(SEPARATOR)) return null;
    this.#indexes.set(text, this.texts.length);
    this.texts.push(text);
    return this.texts.length - 1;
  }
}

function hasReadingKeys(reading: Reading): boolean {
  const keys = Object.keys(reading);
  if (keys.length !== READING_KEYS.length) return false;
  for (let index = 0; index < keys.length; index++) {
    if (keys[index] !== READING_KEYS[index]) return false;
  }
  return true;
}

/** Writes a compact reading's text indexes and key; false (nothing usable) when it is not one. */
function packTexts(
  reading: Reading,
  table: TextTable,
  numbers: Float64Array,
  at: number,
  keys: Buffer,
  keyAt: number,
): boolean {
  if (!hasReadingKeys(reading)) return false;
  const key = reading.idempotencyKey;
  if (typeof key !== 'string' || !KEY_PATTERN.test(key)) return false;
  const texts = [
    reading.meterId,
    reading.channel,
    reading.commodity,
    reading.unit,
    reading.quality,
    reading.qualityDetail,
    reading.checksumSha256,
  ];
  for (let offset = 0; offset < texts.length; offset++) {
    const index = table.indexOf(texts[offset]);
    // Only the last two may be null.
    if (index === null || (index === NO_TEXT && offset < 5)) return false;
    numbers[at + TEXT_AT + offset] = index;
  }
  keys.write(key, keyAt, KEY_BYTES, 'hex');
  return true;
}

/** Packs verdicts in order (their record indexes as given). */
export function encodeVerdicts(verdicts: readonly Verdict[]): EncodedVerdicts {
  const numbers = new Float64Array(verdicts.length * NUMBERS_PER_VERDICT);
  const keys = Buffer.from(new ArrayBuffer(verdicts.length * KEY_BYTES));
  const table = new TextTable();
  const others: EncodedVerdicts['others'] = [];
  for (let index = 0; index < verdicts.length; index++) {
    const verdict = verdicts[index] as Verdict;
    const at = index * NUMBERS_PER_VERDICT;
    if (
      !verdict.ok ||
      !packTexts(verdict.item.reading, table, numbers, at, keys, index * KEY_BYTES)
    ) {
      numbers[at] = KIND_OTHER;
      others.push({ index, verdict });
      continue;
    }
    const { reading, location } = verdict.item;
    numbers[at] = KIND_COMPACT;
    numbers[at + 1] = location.recordIndex;
    numbers[at + 2] = location.line;
    numbers[at + 3] = location.byteOffset;
    numbers[at + 4] = location.byteLength;
    numbers[at + 5] = reading.intervalStartMs;
    numbers[at + 6] = reading.intervalSeconds;
    numbers[at + 7] = reading.valueMicro;
    numbers[at + 8] = reading.statusCode;
    numbers[at + 9] = reading.seq;
  }
  const joined = table.texts.join(SEPARATOR);
  const text = new Uint8Array(Buffer.byteLength(joined, 'utf8'));
  Buffer.from(text.buffer, 0, text.byteLength).write(joined, 'utf8');
  return {
    count: verdicts.length,
    numbers: numbers.buffer,
    text: text.buffer,
    keys: keys.buffer,
    others,
  };
}

/**
 * Unpacks verdicts in order, adding `recordIndexBase` to every record index (a parse thread counts
 * records from 0 in its own share of the delivery).
 */
export function decodeVerdicts(encoded: EncodedVerdicts, recordIndexBase: number): Verdict[] {
  const numbers = new Float64Array(encoded.numbers);
  // One string for all keys, each key a slice of it: one conversion instead of one per reading.
  const keys = Buffer.from(encoded.keys).toString('hex');
  const joined = Buffer.from(encoded.text).toString('utf8');
  const texts = joined.split(SEPARATOR);
  const textAt = (index: number): string | null =>
    index === NO_TEXT ? null : (texts[index] as string);
  const others = new Map(encoded.others.map((other) => [other.index, other.verdict]));
  const verdicts: Verdict[] = new Array<Verdict>(encoded.count);
  for (let index = 0; index < encoded.count; index++) {
    const at = index * NUMBERS_PER_VERDICT;
    if (numbers[at] !== KIND_COMPACT) {
      verdicts[index] = rebase(others.get(index) as Verdict, recordIndexBase);
      continue;
    }
    const location: RecordLocation = {
      recordIndex: (numbers[at + 1] as number) + recordIndexBase,
      line: numbers[at + 2] as number,
      byteOffset: numbers[at + 3] as number,
      byteLength: numbers[at + 4] as number,
    };
    const reading: Reading = {
      meterId: texts[numbers[at + TEXT_AT] as number] as string,
      channel: texts[numbers[at + TEXT_AT + 1] as number] as string,
      intervalStartMs: numbers[at + 5] as number,
      intervalSeconds: numbers[at + 6] as number,
      valueMicro: numbers[at + 7] as number,
      statusCode: numbers[at + 8] as number,
      seq: numbers[at + 9] as number,
      commodity: texts[numbers[at + TEXT_AT + 2] as number] as Reading['commodity'],
      unit: texts[numbers[at + TEXT_AT + 3] as number] as Reading['unit'],
      quality: texts[numbers[at + TEXT_AT + 4] as number] as Reading['quality'],
      qualityDetail: textAt(numbers[at + TEXT_AT + 5] as number),
      checksumSha256: textAt(numbers[at + TEXT_AT + 6] as number),
      idempotencyKey: keys.slice(index * KEY_HEX_LENGTH, (index + 1) * KEY_HEX_LENGTH),
    };
    const item: IdentifiedReading = { reading, location };
    verdicts[index] = { ok: true, item };
  }
  return verdicts;
}

/** A cloned verdict's locations, moved to the delivery's record indexes (each object once). */
function rebase(verdict: Verdict, recordIndexBase: number): Verdict {
  const location = verdict.ok ? verdict.item.location : verdict.reject.location;
  location.recordIndex += recordIndexBase;
  return verdict;
}
