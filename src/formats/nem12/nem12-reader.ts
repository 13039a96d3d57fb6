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
import { decodeUtf8 } from '../bytes.js';
import { LineScanner, type ScannedLine } from '../lines.js';
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
  readonly #lines = new LineScanner(NEM12_LINE_BYTES_MAX);
  readonly #records = new Nem12RecordInterpreter();
  #blankLinesSkipped = 0;
  #ended = false;

  push(chunk: Uint8Array): Nem12Event[] {
    assert.ok(!this.#ended, 'push() after end()');
    const events: Nem12Event[] = [];
    for (const line of this.#lines.push(chunk)) this.#finishLine(line, events);
    return events;
  }

  end(): Nem12Event[] {
    const events: Nem12Event[] = [];
    if (this.#ended) return events;
    this.#ended = true;
    for (const line of this.#lines.end()) this.#finishLine(line, events);
    const source: Nem12Source = {
      line: Math.max(1, this.#lines.nextLine - 1),
      byteOffset: this.#lines.bytesSeen,
      byteLength: 0,
    };
    events.push(...this.#records.finish(source));
    return events;
  }

  #finishLine(scanned: ScannedLine, events: Nem12Event[]): void {
    const { line, byteOffset, byteLength } = scanned;
    const source: Nem12Source = { line, byteOffset, byteLength };
    if (scanned.bytes === null) {
      const message =
        `Line ${source.line} is ${byteLength} bytes long, over the ${NEM12_LINE_BYTES_MAX}-byte ` +
        `limit; it is skipped unread.`;
      const unread = { fields: [], source, tolerated: [] };
      events.push(...this.#records.interpretUnreadable(unread, 'line_too_long', message));
      return;
    }
    this.#readLine(scanned.bytes, source, scanned.crlf, events);
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
