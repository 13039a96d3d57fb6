/**
 * The wire formats amisync reads, in one explicit table (STYLE 11), with format detection for
 * deliveries that do not say what they are and single-record re-parsing for replay from quarantine.
 */
import assert from 'node:assert/strict';
import {
  itemLocation,
  type FormatContext,
  type InputFormat,
  type ParseItem,
  type RecordFormat,
  type StreamParser,
  type TypedFormat,
} from '../core/parser.js';
import { createCmepParser } from './cmep/cmep-parser.js';
import { createCsvDialectParser } from './csv-dialect/csv-dialect-parser.js';
import { isGreenButtonHead } from './green-button/green-button-detect.js';
import { createGreenButtonParser } from './green-button/green-button-parser.js';
import { createJsonDialectParser } from './json-dialect/json-dialect-parser.js';
import { createNem12Parser } from './nem12/nem12-parser.js';
import type { RecordLocation } from '../core/reading.js';
import { createCsvParser, isCsvContext, parseCsvRowBytes } from './csv.js';
import { guardEmptyDelivery } from './empty-delivery.js';
import { spanRejectItem } from './items.js';
import { createJsonArrayParser } from './json-array.js';
import { parseJsonRecordBytes } from './json-record.js';
import { createNdjsonParser } from './ndjson.js';

/**
 * One factory per format. The context is what the format needs besides bytes: a CMEP delivery's
 * time zone, a CSV dialect's config; the parser's own `context()` returns it again, so a delivery
 * is always re-read as it was read. Every parser is guarded, so an empty delivery gets the same
 * verdict in every format (see empty-delivery.ts).
 */
export const PARSER_FACTORIES: Readonly<
  Record<InputFormat, (context?: FormatContext) => StreamParser>
> = {
  json: () => guardEmptyDelivery(createJsonArrayParser()),
  ndjson: () => guardEmptyDelivery(createNdjsonParser()),
  csv: () => guardEmptyDelivery(createCsvParser()),
  nem12: () => guardEmptyDelivery(createNem12Parser()),
  cmep: (context = {}) => guardEmptyDelivery(createCmepParser(context)),
  'csv-dialect': (context = {}) => guardEmptyDelivery(createCsvDialectParser(context)),
  'green-button': () => guardEmptyDelivery(createGreenButtonParser()),
  'json-dialect': (context = {}) => guardEmptyDelivery(createJsonDialectParser(context)),
};

const FORMAT_BY_EXTENSION: Readonly<Record<string, InputFormat>> = {
  '.json': 'json',
  '.ndjson': 'ndjson',
  '.jsonl': 'ndjson',
  '.csv': 'csv',
  '.nem12': 'nem12',
  '.nem13': 'nem12',
  '.cmep': 'cmep',
};

/**
 * Bytes of a delivery's head that detection looks at; a header row longer than this is not found.
 */
export const DETECT_HEAD_BYTES_MAX = 4096;

/**
 * The format of a delivery: NEM12 or CMEP when its first record says so, Green Button when its
 * root element is an Atom feed or entry or an ESPI resource (whatever the file is called; `.xml`
 * alone says nothing), else from the file name's extension, else from its first bytes: `[` is a
 * JSON array, `{` NDJSON, and a first line naming `meter_id` a CSV header. Null when none of these
 * tells. A vendor CSV dialect is never guessed: it is named with its dialect config.
 */
export function detectFormat(fileName: string, head: Uint8Array): InputFormat | null {
  // NEM12 and CMEP files are often named .csv: their first record says what they are.
  const typed = detectTypedFormat(head.subarray(0, DETECT_HEAD_BYTES_MAX));
  if (typed !== null) return typed;
  const dot = fileName.lastIndexOf('.');
  const extension = dot === -1 ? '' : fileName.slice(dot).toLowerCase();
  const byExtension = FORMAT_BY_EXTENSION[extension];
  if (byExtension !== undefined) return byExtension;
  return detectFormatFromContent(head.subarray(0, DETECT_HEAD_BYTES_MAX));
}

function detectFormatFromContent(head: Uint8Array): InputFormat | null {
  const hasMark = head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf;
  const start = hasMark ? 3 : 0;
  let index = start;
  while (index < head.length && isWhitespace(head[index] ?? 0)) index++;
  if (head[index] === 0x5b) return 'json';
  if (head[index] === 0x7b) return 'ndjson';
  const lineFeed = head.indexOf(0x0a, start);
  const firstLine = head.subarray(start, lineFeed === -1 ? head.length : lineFeed);
  if (new TextDecoder().decode(firstLine).includes('meter_id')) return 'csv';
  return null;
}

/**
 * NEM12 or NEM13 by its 100 header record, CMEP by its MEPMD01 record type, Green Button by its
 * root element; else null.
 */
function detectTypedFormat(head: Uint8Array): InputFormat | null {
  const decoded = new TextDecoder().decode(head);
  const text = decoded
    .replace(/^\ufeff/, '')
    .trimStart()
    .slice(0, 16);
  if (/^100,NEM1[23](,|\r|\n|$)/i.test(text)) return 'nem12';
  if (/^MEPMD01,/i.test(text)) return 'cmep';
  if (isGreenButtonHead(decoded)) return 'green-button';
  return null;
}

function isWhitespace(byte: number): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d;
}

/** Whether the first read of a delivery reached its end, or its process died before. */
export type DeliveryReach = 'ended' | 'cut-short';

/**
 * Re-reads a typed format's delivery, from its first byte, to the items numbered
 * `recordIndexes`: such a record depends on what came before it (a NEM12 300 on its 200) and may
 * hold several readings, so it is replayed from the whole delivery, read with the context it was
 * read with. One pass serves every index asked for, and stops once all are found. Not once past
 * the highest: numbers are not always given in order (NEM12 numbers a line it cannot read when it
 * reads it, before the readings of a 300 line above it, which wait for the 400 lines after it).
 * `readBytes` gives the delivery's bytes from an offset, in order; an empty array ends them.
 *
 * `reach` says whether the first read of the delivery reached its end. Only then are the items the
 * parser gives out at the end (a 300 line's readings still waiting for their 400 lines) the items
 * it gave out then. A delivery cut short (its process died) keeps only the bytes of its committed
 * batches: items that waited for later bytes were given out after bytes it no longer has, so
 * ending the parse early would give them other verdicts, and other numbers (the same number could
 * name another reading of the same line). Such items are absent, not guessed.
 * Returns the items found, by index; an index the delivery no longer yields is absent.
 */
export async function reparseTypedItems(
  format: TypedFormat,
  context: FormatContext,
  readBytes: (offset: number) => Promise<Uint8Array>,
  recordIndexes: ReadonlySet<number>,
  reach: DeliveryReach,
): Promise<Map<number, ParseItem>> {
  const found = new Map<number, ParseItem>();
  const parser = PARSER_FACTORIES[format](context);
  const take = (items: readonly ParseItem[]): boolean => {
    for (const item of items) {
      const index = itemLocation(item).recordIndex;
      if (recordIndexes.has(index)) found.set(index, item);
    }
    return found.size === recordIndexes.size;
  };
  let offset = 0;
  for (;;) {
    const bytes = await readBytes(offset);
    if (bytes.byteLength === 0) break;
    offset += bytes.byteLength;
    if (take(parser.push(bytes))) return found;
  }
  if (reach === 'ended') take(parser.end());
  return found;
}

/** {@link reparseTypedItems} for one item; null when the delivery no longer yields it. */
export async function reparseTypedItem(
  format: TypedFormat,
  context: FormatContext,
  readBytes: (offset: number) => Promise<Uint8Array>,
  recordIndex: number,
  reach: DeliveryReach,
): Promise<ParseItem | null> {
  const found = await reparseTypedItems(format, context, readBytes, new Set([recordIndex]), reach);
  return found.get(recordIndex) ?? null;
}

/**
 * Re-parses one record's bytes, as stored in quarantine, for replay: the same verdict, fields and
 * message the stream gave, with the stored location. The bytes are the record alone (a JSON
 * element, an NDJSON line or a CSV row, without terminator). Uncounted spans are not records:
 * replay them by running the format's stream parser over the delivery.
 */
export function parseOneRecord(
  format: RecordFormat,
  bytes: Uint8Array,
  context: FormatContext,
  location: RecordLocation,
): ParseItem {
  switch (format) {
    case 'json':
    case 'ndjson':
      return parseJsonRecordBytes(bytes, location);
    case 'csv': {
      if (!isCsvContext(context) || context.header.length === 0) {
        const message = `Line ${location.line}: the row cannot be read without its delivery's header.`;
        return spanRejectItem('parse.csv_header', '(no header)', message, location);
      }
      return parseCsvRowBytes(bytes, context.header, location);
    }
    default: {
      const unreachable: never = format;
      assert.fail(`unreachable: unknown format ${String(unreachable)}`);
    }
  }
}
