/**
 * CSV after RFC 4180, with a header row: quoted fields, doubled quotes, newlines inside quotes,
 * CRLF or LF, a byte order mark at the start. The stream only finds where each row ends (a line
 * feed outside quotes); the row alone is then split and checked, the same way replay splits it.
 *
 * A quote opens a quoted field only at the start of a field; elsewhere it is left for the row check
 * to reject, so a stray quote in the middle of a value costs one row, not the rest of the delivery.
 */
import assert from 'node:assert/strict';
import type { FormatContext, ParseItem, StreamParser } from '../core/parser.js';
import type { RecordLocation } from '../core/reading.js';
import { RECORD_BYTES_MAX, RECORD_FIELDS_MAX } from '../core/limits.js';
import {
  ByteOrderMarkSkipper,
  CARRIAGE_RETURN,
  Chunk,
  LINE_FEED,
  LineCounter,
  RecordBuffer,
  decodeUtf8,
  decodeUtf8Lenient,
} from './bytes.js';
import { encodingItem, recordItem, rejectItem, spanRejectItem, tooLargeItem } from './items.js';

const QUOTE = 0x22;
const COMMA = 0x2c;

/** A parser for one CSV delivery; `context()` gives the header once the header row is read. */
export function createCsvParser(): StreamParser {
  return new CsvParser();
}

/** The replay context of a CSV delivery: the trimmed header names, in column order. */
export type CsvContext = { header: readonly string[] };

export function isCsvContext(context: FormatContext): context is CsvContext {
  const header = context['header'];
  return Array.isArray(header) && header.every((name) => typeof name === 'string');
}

type Header =
  | { kind: 'pending' }
  | { kind: 'read'; names: readonly string[] }
  | { kind: 'failed'; line: number; reason: string };

class CsvParser implements StreamParser {
  readonly #byteOrderMark = new ByteOrderMarkSkipper();
  readonly #lines = new LineCounter();
  /** The current row's bytes from earlier chunks; empty once it is oversized. */
  readonly #carried = new RecordBuffer();
  #header: Header = { kind: 'pending' };
  #started = false;
  #chunkOffset = 0;
  #itemCount = 0;
  #ended = false;
  // The row being delimited.
  #rowOffset = 0;
  #rowLine = 1;
  #rowStartInChunk = 0;
  #rowBytesEarlier = 0;
  #rowOversized = false;
  #inQuotes = false;
  /**
   * Absolute offset of the quote that last closed a quoted section: a quote right after it is `""`.
   */
  #closedQuoteOffset = -1;
  /**
   * The byte before the current chunk, to tell a field start and a CRLF across a chunk boundary.
   */
  #previousByte = -1;

  push(chunk: Uint8Array): ParseItem[] {
    assert.ok(!this.#ended, 'push() after end()');
    const items: ParseItem[] = [];
    for (const piece of this.#byteOrderMark.take(chunk)) this.#scan(piece, items);
    return items;
  }

  end(): ParseItem[] {
    const items: ParseItem[] = [];
    if (this.#ended) return items;
    this.#ended = true;
    for (const piece of this.#byteOrderMark.flush()) this.#scan(piece, items);
    if (!this.#started) this.#start();
    if (this.#inQuotes) this.#unclosedQuote(items);
    else if (this.#rowBytesEarlier > 0) this.#finishRow(null, new Uint8Array(0), 0, 0, items);
    if (this.#header.kind === 'failed') items.push(this.#headerReject());
    return items;
  }

  context(): FormatContext {
    const header = this.#header.kind === 'read' ? this.#header.names : [];
    const context: CsvContext = { header };
    return context;
  }

  #start(): void {
    this.#started = true;
    this.#chunkOffset = this.#byteOrderMark.skippedBytes;
    this.#rowOffset = this.#chunkOffset;
  }

  #scan(piece: Uint8Array, items: ParseItem[]): void {
    if (!this.#started) this.#start();
    if (this.#header.kind === 'failed') {
      this.#chunkOffset += piece.length;
      return;
    }
    const chunk = new Chunk(piece);
    const bytes = chunk.bytes;
    this.#lines.startChunk(bytes);
    this.#rowStartInChunk = 0;
    // Only quotes and line feeds matter for finding a row's end; memchr-like searches jump between
    // them.
    let nextQuote = bytes.indexOf(QUOTE);
    let nextLineFeed = bytes.indexOf(LINE_FEED);
    for (;;) {
      if (this.#inQuotes) {
        if (nextQuote === -1) break;
        this.#inQuotes = false;
        this.#closedQuoteOffset = this.#chunkOffset + nextQuote;
        const cursor = nextQuote + 1;
        nextQuote = bytes.indexOf(QUOTE, cursor);
        if (nextLineFeed !== -1 && nextLineFeed < cursor) {
          nextLineFeed = bytes.indexOf(LINE_FEED, cursor);
        }
      } else if (nextQuote !== -1 && (nextLineFeed === -1 || nextQuote < nextLineFeed)) {
        this.#inQuotes = this.#opensQuotedField(bytes, nextQuote);
        nextQuote = bytes.indexOf(QUOTE, nextQuote + 1);
      } else if (nextLineFeed === -1) {
        break;
      } else {
        this.#finishRow(chunk, bytes, this.#rowStartInChunk, nextLineFeed, items);
        if (this.#headerFailed()) break;
        this.#startRow(nextLineFeed + 1);
        nextLineFeed = bytes.indexOf(LINE_FEED, nextLineFeed + 1);
      }
    }
    if (!this.#headerFailed()) this.#carry(bytes);
    this.#lines.finishChunk();
    this.#previousByte = bytes[bytes.length - 1] ?? this.#previousByte;
    this.#chunkOffset += bytes.length;
  }

  // A method rather than a field test, because the row handlers change the header under the loop.
  #headerFailed(): boolean {
    return this.#header.kind === 'failed';
  }

  #opensQuotedField(bytes: Uint8Array, index: number): boolean {
    const offset = this.#chunkOffset + index;
    if (offset === this.#rowOffset) return true;
    const previous = index > 0 ? bytes[index - 1] : this.#previousByte;
    return previous === COMMA || offset - 1 === this.#closedQuoteOffset;
  }

  #startRow(index: number): void {
    this.#rowOffset = this.#chunkOffset + index;
    this.#rowLine = this.#lines.lineAt(index);
    this.#rowStartInChunk = index;
    this.#rowBytesEarlier = 0;
    this.#rowOversized = false;
    this.#carried.clear();
  }

  #carry(bytes: Uint8Array): void {
    const start = this.#rowStartInChunk;
    const added = bytes.length - start;
    if (added === 0) return;
    if (!this.#rowOversized && this.#carried.length + added > RECORD_BYTES_MAX + 1) {
      this.#rowOversized = true;
      this.#carried.clear();
    }
    if (!this.#rowOversized) this.#carried.append(bytes, start, bytes.length);
    this.#rowBytesEarlier += added;
  }

  /** The row ends at `end` of `bytes` (its terminator, if any, not included). */
  #finishRow(
    chunk: Chunk | null,
    bytes: Uint8Array,
    start: number,
    end: number,
    items: ParseItem[],
  ): void {
    const earlierLastByte = this.#rowBytesEarlier > 0 ? this.#previousByte : -1;
    const lastByte = end > start ? bytes[end - 1] : earlierLastByte;
    const totalBytes = this.#rowBytesEarlier + end - start;
    const length = lastByte === CARRIAGE_RETURN ? totalBytes - 1 : totalBytes;
    if (length === 0) return;
    const location: RecordLocation = {
      recordIndex: this.#itemCount,
      line: this.#rowLine,
      byteOffset: this.#rowOffset,
      byteLength: length,
    };
    if (length > RECORD_BYTES_MAX) {
      this.#readRow(null, new Uint8Array(0), location, items);
    } else if (this.#rowBytesEarlier === 0 && chunk !== null) {
      const text = chunk.text(start, start + length);
      const shown = text === null ? bytes.subarray(start, start + length) : bytes;
      this.#readRow(text, shown, location, items);
    } else {
      this.#carried.append(bytes, start, end);
      const row = this.#carried.view().subarray(0, length);
      this.#readRow(decodeUtf8(row), row, location, items);
    }
  }

  /**
   * `text` is null when the row is oversized or not valid UTF-8; `bytes` are shown in the latter
   * case.
   */
  #readRow(
    text: string | null,
    bytes: Uint8Array,
    location: RecordLocation,
    items: ParseItem[],
  ): void {
    const header = this.#header;
    if (header.kind === 'pending') {
      this.#header = readHeader(text, location);
      return;
    }
    if (header.kind === 'failed') return;
    this.#itemCount += 1;
    if (location.byteLength > RECORD_BYTES_MAX) items.push(tooLargeItem(location));
    else if (text === null) items.push(encodingItem(decodeUtf8Lenient(bytes), location));
    else items.push(parseCsvRowText(text, header.names, location));
  }

  #unclosedQuote(items: ParseItem[]): void {
    const reason = 'has a quoted field that is never closed';
    if (this.#header.kind === 'pending') {
      this.#header = { kind: 'failed', line: this.#rowLine, reason: `row ${reason}` };
      return;
    }
    if (this.#header.kind === 'failed') return;
    const byteLength = this.#chunkOffset - this.#rowOffset;
    const location: RecordLocation = {
      recordIndex: this.#itemCount,
      line: this.#rowLine,
      byteOffset: this.#rowOffset,
      byteLength,
    };
    this.#itemCount += 1;
    const message =
      `Line ${location.line}: the row ${reason}; the remaining ${byteLength} bytes of the ` +
      'delivery could not be read as rows.';
    items.push(spanRejectItem('parse.syntax', `${byteLength} bytes`, message, location));
  }

  #headerReject(): ParseItem {
    const header = this.#header;
    assert.ok(header.kind === 'failed', 'only a failed header is rejected');
    const location: RecordLocation = {
      recordIndex: this.#itemCount,
      line: 1,
      byteOffset: 0,
      byteLength: this.#chunkOffset,
    };
    this.#itemCount += 1;
    const message =
      `Line ${header.line}: the header ${header.reason}; no row of the delivery can be read ` +
      'without a sound header.';
    return spanRejectItem('parse.csv_header', header.reason, message, location);
  }
}

function readHeader(text: string | null, location: RecordLocation): Header {
  const line = location.line;
  if (location.byteLength > RECORD_BYTES_MAX) {
    return { kind: 'failed', line, reason: `row is more than ${RECORD_BYTES_MAX} bytes` };
  }
  if (text === null) return { kind: 'failed', line, reason: 'row is not valid UTF-8' };
  const split = splitCsvRow(text);
  if (typeof split === 'string') return { kind: 'failed', line, reason: `row ${split}` };
  const names = split.map((name) => name.trim());
  if (names.length > RECORD_FIELDS_MAX) {
    const reason = `has ${names.length} columns, more than the limit of ${RECORD_FIELDS_MAX}`;
    return { kind: 'failed', line, reason };
  }
  const emptyIndex = names.indexOf('');
  if (emptyIndex !== -1) {
    return { kind: 'failed', line, reason: `column ${emptyIndex + 1} has no name` };
  }
  const duplicate = names.find((name, index) => names.indexOf(name) !== index);
  if (duplicate !== undefined) {
    return { kind: 'failed', line, reason: `names the column "${duplicate}" more than once` };
  }
  return { kind: 'read', names };
}

/** Re-reads one row from its bytes (terminator excluded), as the stream read it. */
export function parseCsvRowBytes(
  bytes: Uint8Array,
  header: readonly string[],
  location: RecordLocation,
): ParseItem {
  if (bytes.length > RECORD_BYTES_MAX) return tooLargeItem(location);
  const text = decodeUtf8(bytes);
  if (text === null) return encodingItem(decodeUtf8Lenient(bytes), location);
  return parseCsvRowText(text, header, location);
}

function parseCsvRowText(
  text: string,
  header: readonly string[],
  location: RecordLocation,
): ParseItem {
  const values = splitCsvRow(text);
  if (typeof values === 'string') {
    return rejectItem('parse.syntax', text, `Line ${location.line}: the row ${values}.`, location);
  }
  if (values.length !== header.length) {
    const noun = values.length === 1 ? 'field' : 'fields';
    const message =
      `Line ${location.line}: the row has ${values.length} ${noun} but the header has ` +
      `${header.length}.`;
    const meterIndex = header.indexOf('meter_id');
    const meterId = meterIndex === -1 ? null : (values[meterIndex] ?? null);
    return rejectItem('parse.csv_columns', text, message, location, meterId);
  }
  return recordItem(rowFields(header, values), location);
}

function rowFields(header: readonly string[], values: readonly string[]): Record<string, string> {
  const fields: Record<string, string> = {};
  for (let index = 0; index < header.length; index++) {
    const name = header[index] ?? '';
    const value = values[index] ?? '';
    // Assigning to "__proto__" would set the prototype and lose the column; define it as data
    // instead.
    if (name === '__proto__') {
      Object.defineProperty(fields, name, { value, enumerable: true, writable: true });
    } else {
      fields[name] = value;
    }
  }
  return fields;
}

/**
 * Splits one row's text into field values, or returns why it is not RFC 4180: a quote inside an
 * unquoted field, text after a closing quote, or a quoted field left open.
 */
export function splitCsvRow(text: string): string[] | string {
  if (!text.includes('"')) return text.split(',');
  const values: string[] = [];
  let index = 0;
  for (;;) {
    const fieldNumber = values.length + 1;
    let value: string;
    if (text.charCodeAt(index) === QUOTE) {
      const quoted = readQuotedField(text, index);
      if (quoted === null) return `has a quoted field ${fieldNumber} that is never closed`;
      value = quoted.value;
      index = quoted.end;
      if (index < text.length && text.charCodeAt(index) !== COMMA) {
        return `has text after the closing quote of field ${fieldNumber}`;
      }
    } else {
      const comma = text.indexOf(',', index);
      const end = comma === -1 ? text.length : comma;
      value = text.slice(index, end);
      if (value.includes('"')) return `has a quote inside the unquoted field ${fieldNumber}`;
      index = end;
    }
    values.push(value);
    if (index >= text.length) return values;
    index += 1;
  }
}

/** Reads a quoted field opening at `start`; `end` is just past its closing quote. */
function readQuotedField(text: string, start: number): { value: string; end: number } | null {
  let value = '';
  let cursor = start + 1;
  for (;;) {
    const quote = text.indexOf('"', cursor);
    if (quote === -1) return null;
    value += text.slice(cursor, quote);
    if (text.charCodeAt(quote + 1) !== QUOTE) return { value, end: quote + 1 };
    value += '"';
    cursor = quote + 2;
  }
}
