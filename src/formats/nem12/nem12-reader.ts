/**
 * The AEMO MDFF reader (NEM12 interval data, NEM13 accumulation data): a pure, incremental,
 * streaming reader that turns a delivery's bytes into typed events, one source line at a time.
 *
 * Protocol:
 * - `push(chunk)` takes consecutive chunks of one delivery, split anywhere, and returns the events
 *   of the lines those bytes completed, in file order.
 * - `end()` is called once after the last chunk; it returns the events of a last line without a
 *   terminator and the problems only the end reveals (empty file, missing 900). Pushing after it is
 *   a programmer error.
 * - Data errors are `problem` events with a stable code; the reader resynchronises on the next
 *   line and never throws on any input. Accepted dialects are `tolerated` notes on events.
 * - Memory: one line, bounded by NEM12_LINE_BYTES_MAX; a longer line is counted, not held.
 *
 * It is not wired into the ingestion pipeline: mapping events to readings (identity, units via
 * toKwhDecimal, times via intervalStartUtcMs) is the caller's job.
 */
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { ByteOrderMarkSkipper, CARRIAGE_RETURN, LINE_FEED, decodeUtf8 } from '../bytes.js';
import type { Nem12Event, Nem12Source, Nem12Tolerance } from './nem12-events.js';
import { Nem12RecordInterpreter, type Nem12Line } from './nem12-records.js';

export * from './nem12-events.js';
export { intervalStartUtcMs, toKwhDecimal } from './nem12-values.js';

/** The longest line read, without its terminator. A 288-value 5-minute row is about 3 KB. */
export const NEM12_LINE_BYTES_MAX = 1024 * 1024;

export interface Nem12Reader {
  push(chunk: Uint8Array): Nem12Event[];
  end(): Nem12Event[];
}

/** A reader for one MDFF delivery. */
export function createNem12Reader(): Nem12Reader {
  return new Nem12ByteReader();
}

class Nem12ByteReader implements Nem12Reader {
  readonly #byteOrderMark = new ByteOrderMarkSkipper();
  readonly #records = new Nem12RecordInterpreter();
  /** Pieces of the current line seen in earlier chunks; emptied once the line is oversized. */
  #carried: Buffer[] = [];
  #carriedBytes = 0;
  #lineOversized = false;
  #lineLastByte = -1;
  #chunkOffset = 0;
  #started = false;
  #lineOffset = 0;
  #lineNumber = 1;
  #blankLinesSkipped = 0;
  #ended = false;

  push(chunk: Uint8Array): Nem12Event[] {
    assert.ok(!this.#ended, 'push() after end()');
    const events: Nem12Event[] = [];
    for (const piece of this.#byteOrderMark.take(chunk)) this.#scan(piece, events);
    return events;
  }

  end(): Nem12Event[] {
    const events: Nem12Event[] = [];
    if (this.#ended) return events;
    this.#ended = true;
    for (const piece of this.#byteOrderMark.flush()) this.#scan(piece, events);
    if (this.#carriedBytes > 0) {
      this.#finishLine(Buffer.alloc(0), 0, 0, events);
      this.#startLine(this.#lineOffset + this.#carriedBytes);
    }
    const source: Nem12Source = {
      line: Math.max(1, this.#lineNumber - 1),
      byteOffset: this.#chunkOffset,
      byteLength: 0,
    };
    events.push(...this.#records.finish(source));
    return events;
  }

  #scan(piece: Uint8Array, events: Nem12Event[]): void {
    if (!this.#started) {
      this.#started = true;
      this.#chunkOffset = this.#byteOrderMark.skippedBytes;
      this.#lineOffset = this.#chunkOffset;
    }
    const bytes = Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
    let start = 0;
    for (;;) {
      const lineFeed = bytes.indexOf(LINE_FEED, start);
      if (lineFeed === -1) break;
      this.#finishLine(bytes, start, lineFeed, events);
      this.#startLine(this.#chunkOffset + lineFeed + 1);
      start = lineFeed + 1;
    }
    this.#carry(bytes, start);
    this.#chunkOffset += bytes.length;
  }

  #carry(bytes: Buffer, start: number): void {
    const added = bytes.length - start;
    if (added === 0) return;
    // One byte past the limit is held, since it may be the carriage return of a CRLF.
    if (!this.#lineOversized && this.#carriedBytes + added > NEM12_LINE_BYTES_MAX + 1) {
      this.#lineOversized = true;
      this.#carried = [];
    }
    // A copy, so that the caller may reuse its chunk buffer after push() returns.
    if (!this.#lineOversized) this.#carried.push(Buffer.from(bytes.subarray(start)));
    this.#carriedBytes += added;
    this.#lineLastByte = bytes[bytes.length - 1] ?? -1;
  }

  #startLine(offset: number): void {
    this.#lineOffset = offset;
    this.#lineNumber += 1;
    this.#carried = [];
    this.#carriedBytes = 0;
    this.#lineOversized = false;
    this.#lineLastByte = -1;
  }

  /** The current line ends at `end` of `bytes`, its line feed (if any) not included. */
  #finishLine(bytes: Buffer, start: number, end: number, events: Nem12Event[]): void {
    const lastByte = end > start ? (bytes[end - 1] ?? -1) : this.#lineLastByte;
    const crlf = lastByte === CARRIAGE_RETURN;
    const totalBytes = this.#carriedBytes + end - start;
    const byteLength = crlf ? totalBytes - 1 : totalBytes;
    const source: Nem12Source = {
      line: this.#lineNumber,
      byteOffset: this.#lineOffset,
      byteLength,
    };
    const tolerated: Nem12Tolerance[] = [];
    if (byteLength > NEM12_LINE_BYTES_MAX) {
      const message =
        `Line ${source.line} is ${byteLength} bytes long, over the ${NEM12_LINE_BYTES_MAX}-byte ` +
        `limit; it is skipped unread.`;
      const line = { fields: [], source, tolerated };
      events.push(...this.#records.interpretUnreadable(line, 'line_too_long', message));
      return;
    }
    const lineBytes =
      this.#carriedBytes === 0
        ? bytes.subarray(start, start + byteLength)
        : Buffer.concat([...this.#carried, bytes.subarray(start, end)]).subarray(0, byteLength);
    this.#readLine(lineBytes, source, crlf, events);
  }

  #readLine(lineBytes: Buffer, source: Nem12Source, crlf: boolean, events: Nem12Event[]): void {
    const tolerated: Nem12Tolerance[] = [];
    const text = decodeUtf8(lineBytes);
    if (text === null) {
      const message = `Line ${source.line} is not valid UTF-8 text; it is skipped unread.`;
      const line = { fields: [], source, tolerated };
      events.push(...this.#records.interpretUnreadable(line, 'encoding', message));
      return;
    }
    if (text.trim() === '') {
      this.#blankLinesSkipped += 1;
      return;
    }
    if (this.#blankLinesSkipped > 0) {
      const message = `${this.#blankLinesSkipped} blank lines before this line skipped.`;
      tolerated.push({ code: 'blank_lines_skipped', message });
      this.#blankLinesSkipped = 0;
    }
    if (crlf) tolerated.push({ code: 'crlf_line_end', message: 'Line ends with CRLF.' });
    events.push(...this.#records.interpret(splitLine(text, source, tolerated)));
  }
}

function splitLine(text: string, source: Nem12Source, tolerated: Nem12Tolerance[]): Nem12Line {
  const raw = text.split(',');
  const fields = raw.map((field) => field.trim());
  if (fields.some((field, index) => field !== raw[index])) {
    tolerated.push({ code: 'whitespace_trimmed', message: 'Spaces around fields removed.' });
  }
  return { fields, source, tolerated };
}
