/**
 * How judged records cross between threads: a parse thread's verdicts packed into two transferable
 * buffers (numbers in a Float64Array, strings as one NUL-separated UTF-8 text), so a batch of
 * thousands of readings moves as two buffers instead of thousands of cloned objects. A verdict the
 * compact form cannot hold exactly (a reject, a reading of another shape, a string with a NUL)
 * travels beside them as a structured clone: such records are rare, and a clone keeps every value
 * (undefined, -0, Infinity) exactly as the single-thread pipeline would see it.
 */
import type { Reading, RecordLocation } from '../core/reading.js';
import type { IdentifiedReading } from './identify.js';
import type { Verdict } from './judge.js';

/** Numbers per verdict: kind, location (4), the reading's numbers (5), flags. */
const NUMBERS_PER_VERDICT = 11;
const KIND_COMPACT = 0;
const KIND_OTHER = 1;
const FLAG_QUALITY_DETAIL = 1;
const FLAG_CHECKSUM = 2;
const SEPARATOR = '\u0000';

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

/** Verdicts in transit: `numbers` and `text` are transferred, `others` cloned. */
export interface EncodedVerdicts {
  count: number;
  numbers: ArrayBuffer;
  text: ArrayBuffer;
  others: { index: number; verdict: Verdict }[];
}

function isCompact(reading: Reading): boolean {
  const keys = Object.keys(reading);
  if (keys.length !== READING_KEYS.length) return false;
  for (let index = 0; index < keys.length; index++) {
    if (keys[index] !== READING_KEYS[index]) return false;
  }
  const texts = [reading.meterId, reading.channel, reading.commodity, reading.unit];
  texts.push(reading.quality, reading.qualityDetail ?? '', reading.checksumSha256 ?? '');
  return texts.every((text) => typeof text === 'string' && !text.includes(SEPARATOR));
}

/** Packs verdicts in order (their record indexes as given). */
export function encodeVerdicts(verdicts: readonly Verdict[]): EncodedVerdicts {
  const numbers = new Float64Array(verdicts.length * NUMBERS_PER_VERDICT);
  const texts: string[] = [];
  const others: EncodedVerdicts['others'] = [];
  for (let index = 0; index < verdicts.length; index++) {
    const verdict = verdicts[index] as Verdict;
    const at = index * NUMBERS_PER_VERDICT;
    if (!verdict.ok || !isCompact(verdict.item.reading)) {
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
    let flags = 0;
    texts.push(reading.meterId, reading.channel, reading.commodity, reading.unit, reading.quality);
    if (reading.qualityDetail !== null) {
      flags |= FLAG_QUALITY_DETAIL;
      texts.push(reading.qualityDetail);
    }
    if (reading.checksumSha256 !== null) {
      flags |= FLAG_CHECKSUM;
      texts.push(reading.checksumSha256);
    }
    texts.push(reading.idempotencyKey);
    numbers[at + 10] = flags;
  }
  const joined = texts.join(SEPARATOR);
  const text = new Uint8Array(Buffer.byteLength(joined, 'utf8'));
  Buffer.from(text.buffer, 0, text.byteLength).write(joined, 'utf8');
  return { count: verdicts.length, numbers: numbers.buffer, text: text.buffer, others };
}

/**
 * Unpacks verdicts in order, adding `recordIndexBase` to every record index (a parse thread counts
 * records from 0 in its own share of the delivery).
 */
export function decodeVerdicts(encoded: EncodedVerdicts, recordIndexBase: number): Verdict[] {
  const numbers = new Float64Array(encoded.numbers);
  const joined = Buffer.from(encoded.text).toString('utf8');
  const texts = joined === '' ? [] : joined.split(SEPARATOR);
  const others = new Map(encoded.others.map((other) => [other.index, other.verdict]));
  const verdicts: Verdict[] = new Array<Verdict>(encoded.count);
  let cursor = 0;
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
    const flags = numbers[at + 10] as number;
    const meterId = texts[cursor++] as string;
    const channel = texts[cursor++] as string;
    const commodity = texts[cursor++] as Reading['commodity'];
    const unit = texts[cursor++] as Reading['unit'];
    const quality = texts[cursor++] as Reading['quality'];
    const qualityDetail = (flags & FLAG_QUALITY_DETAIL) !== 0 ? (texts[cursor++] as string) : null;
    const checksumSha256 = (flags & FLAG_CHECKSUM) !== 0 ? (texts[cursor++] as string) : null;
    const reading: Reading = {
      meterId,
      channel,
      intervalStartMs: numbers[at + 5] as number,
      intervalSeconds: numbers[at + 6] as number,
      valueMicro: numbers[at + 7] as number,
      statusCode: numbers[at + 8] as number,
      seq: numbers[at + 9] as number,
      commodity,
      unit,
      quality,
      qualityDetail,
      checksumSha256,
      idempotencyKey: texts[cursor++] as string,
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
