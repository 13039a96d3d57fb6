/**
 * The wire formats amisync reads, in one explicit table (STYLE 11), with format detection for
 * deliveries that do not say what they are and single-record re-parsing for replay from quarantine.
 */
import assert from 'node:assert/strict';
import type { FormatContext, InputFormat, ParseItem, StreamParser } from '../core/parser.js';
import type { RecordLocation } from '../core/reading.js';
import { createCsvParser, isCsvContext, parseCsvRowBytes } from './csv.js';
import { spanRejectItem } from './items.js';
import { createJsonArrayParser } from './json-array.js';
import { parseJsonRecordBytes } from './json-record.js';
import { createNdjsonParser } from './ndjson.js';

export const PARSER_FACTORIES: Readonly<Record<InputFormat, () => StreamParser>> = {
  json: createJsonArrayParser,
  ndjson: createNdjsonParser,
  csv: createCsvParser,
};

const FORMAT_BY_EXTENSION: Readonly<Record<string, InputFormat>> = {
  '.json': 'json',
  '.ndjson': 'ndjson',
  '.jsonl': 'ndjson',
  '.csv': 'csv',
};

/**
 * Bytes of a delivery's head that detection looks at; a header row longer than this is not found.
 */
export const DETECT_HEAD_BYTES_MAX = 4096;

/**
 * The format of a delivery from its file name's extension, else from its first bytes: `[` is a JSON
 * array, `{` NDJSON, and a first line naming `meter_id` a CSV header. Null when neither tells.
 */
export function detectFormat(fileName: string, head: Uint8Array): InputFormat | null {
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

function isWhitespace(byte: number): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d;
}

/**
 * Re-parses one record's bytes, as stored in quarantine, for replay: the same verdict, fields and
 * message the stream gave, with the stored location. The bytes are the record alone (a JSON
 * element, an NDJSON line or a CSV row, without terminator). Uncounted spans are not records:
 * replay them by running the format's stream parser over the delivery.
 */
export function parseOneRecord(
  format: InputFormat,
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
