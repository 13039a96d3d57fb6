/**
 * NDJSON: one JSON object per line, LF or CRLF, blank lines skipped, a byte order mark at the start
 * skipped. Every line stands alone, so a bad line is one reject and the next line reads normally.
 */
import assert from 'node:assert/strict';
import type { FormatContext, ParseItem, StreamParser } from '../core/parser.js';
import type { RecordLocation } from '../core/reading.js';
import { RECORD_BYTES_MAX } from '../core/limits.js';
import {
  ByteOrderMarkSkipper,
  CARRIAGE_RETURN,
  Chunk,
  LINE_FEED,
  RecordBuffer,
  decodeUtf8,
  decodeUtf8Lenient,
} from './bytes.js';
import { encodingItem, tooLargeItem } from './items.js';
import { parseJsonRecordText } from './json-record.js';

/** A parser for one NDJSON delivery. */
export function createNdjsonParser(): StreamParser {
  return new NdjsonParser({ byteOffset: 0, line: 1, atDeliveryStart: true });
}

/**
 * Where a run of whole lines cut from a delivery starts: its first byte's offset and line in the
 * delivery, and whether it is the delivery's start (where a byte order mark is dropped). The
 * parallel pipeline parses such runs in worker threads; their records' indexes count from 0.
 */
export interface NdjsonSegmentStart {
  byteOffset: number;
  line: number;
  atDeliveryStart: boolean;
}

/** A parser for a run of lines of a delivery that starts at `start` (see NdjsonSegmentStart). */
export function createNdjsonSegmentParser(start: NdjsonSegmentStart): StreamParser {
  return new NdjsonParser(start);
}

class NdjsonParser implements StreamParser {
  readonly #byteOrderMark: ByteOrderMarkSkipper | null;
  readonly #startOffset: number;
  /**
   * The start of the current line when it began in an earlier chunk; empty once it is oversized.
   */
  readonly #carried = new RecordBuffer();
  /** Absolute offset of the first byte of the next chunk. */
  #chunkOffset = 0;
  #started = false;
  #lineOffset = 0;
  #lineNumber = 1;
  /** Bytes of the current line seen in earlier chunks, whether held or only counted. */
  #lineBytesEarlier = 0;
  #lineOversized = false;
  /** The last byte of the current line so far, to recognise CRLF when the line was not held. */
  #lineLastByte = -1;
  #itemCount = 0;
  #ended = false;

  constructor(start: NdjsonSegmentStart) {
    this.#byteOrderMark = start.atDeliveryStart ? new ByteOrderMarkSkipper() : null;
    this.#startOffset = start.byteOffset;
    this.#lineNumber = start.line;
  }

  push(chunk: Uint8Array): ParseItem[] {
    assert.ok(!this.#ended, 'push() after end()');
    const items: ParseItem[] = [];
    if (this.#byteOrderMark === null) this.#scan(chunk, items);
    else for (const piece of this.#byteOrderMark.take(chunk)) this.#scan(piece, items);
    return items;
  }

  end(): ParseItem[] {
    const items: ParseItem[] = [];
    if (this.#ended) return items;
    this.#ended = true;
    for (const piece of this.#byteOrderMark?.flush() ?? []) this.#scan(piece, items);
    if (this.#lineBytesEarlier > 0) this.#finishLine(null, new Uint8Array(0), 0, 0, items);
    return items;
  }

  context(): FormatContext {
    return {};
  }

  #scan(piece: Uint8Array, items: ParseItem[]): void {
    if (!this.#started) {
      this.#started = true;
      this.#chunkOffset = this.#startOffset + (this.#byteOrderMark?.skippedBytes ?? 0);
      this.#lineOffset = this.#chunkOffset;
    }
    const chunk = new Chunk(piece);
    const bytes = chunk.bytes;
    let start = 0;
    for (;;) {
      const lineFeed = bytes.indexOf(LINE_FEED, start);
      if (lineFeed === -1) break;
      this.#finishLine(chunk, bytes, start, lineFeed, items);
      this.#startLine(this.#chunkOffset + lineFeed + 1);
      start = lineFeed + 1;
    }
    this.#carry(bytes, start);
    this.#chunkOffset += bytes.length;
  }

  #carry(bytes: Uint8Array, start: number): void {
    const added = bytes.length - start;
    if (added === 0) return;
    if (!this.#lineOversized && this.#carried.length + added > RECORD_BYTES_MAX + 1) {
      this.#lineOversized = true;
      this.#carried.clear();
    }
    if (!this.#lineOversized) this.#carried.append(bytes, start, bytes.length);
    this.#lineBytesEarlier += added;
    this.#lineLastByte = bytes[bytes.length - 1] ?? -1;
  }

  #startLine(offset: number): void {
    this.#lineOffset = offset;
    this.#lineNumber += 1;
    this.#lineBytesEarlier = 0;
    this.#lineOversized = false;
    this.#lineLastByte = -1;
    this.#carried.clear();
  }

  /** The line ends at `end` of `bytes` (its terminator, if any, not included). */
  #finishLine(
    chunk: Chunk | null,
    bytes: Uint8Array,
    start: number,
    end: number,
    items: ParseItem[],
  ): void {
    const lastByte = end > start ? (bytes[end - 1] ?? -1) : this.#lineLastByte;
    const totalBytes = this.#lineBytesEarlier + end - start;
    const length = lastByte === CARRIAGE_RETURN ? totalBytes - 1 : totalBytes;
    if (length > RECORD_BYTES_MAX) {
      items.push(tooLargeItem(this.#location(length)));
      return;
    }
    if (this.#lineBytesEarlier === 0 && chunk !== null) {
      if (isBlank(bytes, start, start + length)) return;
      this.#pushLine(chunk.text(start, start + length), bytes, start, length, items);
      return;
    }
    this.#carried.append(bytes, start, end);
    const line = this.#carried.view();
    if (isBlank(line, 0, length)) return;
    this.#pushLine(decodeUtf8(line.subarray(0, length)), line, 0, length, items);
  }

  #pushLine(
    text: string | null,
    bytes: Uint8Array,
    start: number,
    length: number,
    items: ParseItem[],
  ): void {
    const location = this.#location(length);
    if (text === null) {
      items.push(encodingItem(decodeUtf8Lenient(bytes.subarray(start, start + length)), location));
    } else {
      items.push(parseJsonRecordText(text, location));
    }
  }

  #location(byteLength: number): RecordLocation {
    const recordIndex = this.#itemCount;
    this.#itemCount += 1;
    return { recordIndex, line: this.#lineNumber, byteOffset: this.#lineOffset, byteLength };
  }
}

/** A line of nothing but JSON whitespace is skipped like an empty one. */
function isBlank(bytes: Uint8Array, start: number, end: number): boolean {
  for (let index = start; index < end; index++) {
    const byte = bytes[index];
    if (byte !== 0x20 && byte !== 0x09 && byte !== CARRIAGE_RETURN) return false;
  }
  return true;
}
