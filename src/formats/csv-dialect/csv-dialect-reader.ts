/**
 * The CSV dialect reader: a pure, incremental, streaming reader that turns the bytes of one vendor
 * CSV export into interval events, as a declared dialect (csv-dialect-config.ts) lays it out.
 *
 * Protocol:
 * - `push(chunk)` takes consecutive chunks of one delivery, split anywhere (inside a UTF-8
 *   character, a CRLF or a quoted field), and returns the events of the records those bytes
 *   completed, in file order.
 * - `end()` is called once after the last chunk; it returns the events of a last record without a
 *   terminator and the problems only the end reveals (no header, no data, a quote never closed).
 *   Pushing after it is a programmer error.
 * - A file is read in three parts: `skipLines` physical lines skipped unread, then (when the
 *   dialect has a header row) blank lines and the header line, which must fit on one line, then
 *   the records, whose quoted fields may hold delimiters, doubled quotes and newlines.
 * - Data errors are `problem` events with a stable code; the reader resynchronises on the next
 *   record and never throws on any input. A header that does not fit the dialect is one or more
 *   problems for the whole file, after which nothing is read. Tolerated oddities are `note` events.
 * - Memory: one record, bounded by CSV_DIALECT_RECORD_BYTES_MAX; a longer one is counted, not held.
 *
 * It is not wired into the ingestion pipeline: mapping events to readings is the caller's job.
 */
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { RECORD_BYTES_MAX, RECORD_FIELDS_MAX } from '../../core/limits.js';
import {
  ByteOrderMarkSkipper,
  CARRIAGE_RETURN,
  LINE_FEED,
  RecordBuffer,
  decodeUtf8,
} from '../bytes.js';
import { splitCsvRow } from '../csv.js';
import type { CsvDialect } from './csv-dialect-config.js';
import type { CsvDialectEvent, CsvDialectSource } from './csv-dialect-events.js';
import { CsvRecordStream, Transposition } from './csv-dialect-records.js';
import {
  CsvRowInterpreter,
  planWithoutHeader,
  problem,
  resolveHeader,
} from './csv-dialect-rows.js';

export * from './csv-dialect-config.js';
export * from './csv-dialect-events.js';

/**
 * The longest record (and header line) read, without its terminator. It is the limit of the
 * shared RFC 4180 scanner, so every CSV the project reads is bounded alike.
 */
export const CSV_DIALECT_RECORD_BYTES_MAX = RECORD_BYTES_MAX;

export interface CsvDialectReader {
  push(chunk: Uint8Array): CsvDialectEvent[];
  end(): CsvDialectEvent[];
}

/** A reader for one delivery in `dialect`, which parseCsvDialect has checked. */
export function createCsvDialectReader(dialect: CsvDialect): CsvDialectReader {
  return new CsvDialectByteReader(dialect);
}

type Phase =
  | { kind: 'skipping' }
  | { kind: 'header' }
  | { kind: 'records'; records: CsvRecordStream }
  | { kind: 'failed' };

class CsvDialectByteReader implements CsvDialectReader {
  readonly #dialect: CsvDialect;
  readonly #transposition: Transposition;
  readonly #byteOrderMark = new ByteOrderMarkSkipper();
  #phase: Phase = { kind: 'skipping' };
  #started = false;
  #ended = false;
  #chunkOffset = 0;
  // The physical line being scanned while skipping lines or looking for the header.
  #line = 1;
  #lineOffset = 0;
  #linesSkipped = 0;
  /** The header line's bytes; empty once it is oversized, when it is only counted. */
  readonly #headerBytes = new RecordBuffer();
  #headerByteCount = 0;
  #headerOversized = false;
  #headerLastByte = -1;

  constructor(dialect: CsvDialect) {
    this.#dialect = dialect;
    this.#transposition = new Transposition(dialect.delimiter, dialect.quote);
  }

  push(chunk: Uint8Array): CsvDialectEvent[] {
    assert.ok(!this.#ended, 'push() after end()');
    const events: CsvDialectEvent[] = [];
    for (const piece of this.#byteOrderMark.take(chunk)) this.#scan(piece, events);
    return events;
  }

  end(): CsvDialectEvent[] {
    const events: CsvDialectEvent[] = [];
    if (this.#ended) return events;
    this.#ended = true;
    for (const piece of this.#byteOrderMark.flush()) this.#scan(piece, events);
    if (!this.#started) this.#start();
    if (this.#phase.kind === 'header' && this.#headerByteCount > 0) {
      this.#readHeaderLine(this.#chunkOffset, events);
    }
    const phase = this.#phase;
    switch (phase.kind) {
      case 'skipping':
      case 'header':
        // Without a header row, skipped lines and nothing after them are a well-formed delivery
        // with no records: an empty delivery, reported as such, not a reject (empty-delivery.ts).
        if (this.#dialect.headerRow) events.push(this.#headerMissing());
        break;
      case 'records':
        events.push(...phase.records.end());
        break;
      case 'failed':
        break;
      default:
        assert.fail('unreachable phase');
    }
    return events;
  }

  #start(): void {
    this.#started = true;
    this.#chunkOffset = this.#byteOrderMark.skippedBytes;
    this.#lineOffset = this.#chunkOffset;
    if (this.#dialect.skipLines === 0) this.#afterSkippedLines();
  }

  #afterSkippedLines(): void {
    if (this.#dialect.headerRow) {
      this.#phase = { kind: 'header' };
      return;
    }
    const fieldCount = this.#dialect.fieldCount;
    assert.ok(fieldCount !== null, 'a dialect without a header row declares its field count');
    const rows = new CsvRowInterpreter(this.#dialect, planWithoutHeader(this.#dialect, fieldCount));
    this.#startRecords(rows, this.#lineOffset, this.#line);
  }

  #startRecords(rows: CsvRowInterpreter, byteOffset: number, line: number): void {
    const start = { byteOffset, line, headerRow: this.#dialect.headerRow };
    this.#phase = {
      kind: 'records',
      records: new CsvRecordStream(rows, this.#transposition, start),
    };
  }

  #scan(piece: Uint8Array, events: CsvDialectEvent[]): void {
    if (!this.#started) this.#start();
    const bytes = Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
    let index = 0;
    while (index < bytes.length && this.#beforeRecords())
      index = this.#scanLine(bytes, index, events);
    const phase = this.#phase;
    if (phase.kind === 'records' && index < bytes.length) {
      events.push(...phase.records.push(bytes.subarray(index)));
    }
    this.#chunkOffset += bytes.length;
  }

  // A method rather than a field test, because reading the header changes the phase under a loop.
  #beforeRecords(): boolean {
    return this.#phase.kind === 'skipping' || this.#phase.kind === 'header';
  }

  /** Scans one physical line from `start`; returns the index after its line feed, or the end. */
  #scanLine(bytes: Buffer, start: number, events: CsvDialectEvent[]): number {
    const lineFeed = bytes.indexOf(LINE_FEED, start);
    const end = lineFeed === -1 ? bytes.length : lineFeed;
    if (this.#phase.kind === 'header') this.#collectHeader(bytes, start, end);
    if (lineFeed === -1) return bytes.length;
    const nextLineOffset = this.#chunkOffset + lineFeed + 1;
    if (this.#phase.kind === 'header') {
      this.#readHeaderLine(nextLineOffset, events);
    } else {
      this.#linesSkipped += 1;
    }
    this.#line += 1;
    this.#lineOffset = nextLineOffset;
    if (this.#phase.kind === 'skipping' && this.#linesSkipped === this.#dialect.skipLines) {
      this.#afterSkippedLines();
    }
    return lineFeed + 1;
  }

  #collectHeader(bytes: Buffer, start: number, end: number): void {
    const added = end - start;
    if (added === 0) return;
    // One byte past the limit is held, since it may be the carriage return of a CRLF.
    if (!this.#headerOversized && this.#headerByteCount + added > RECORD_BYTES_MAX + 1) {
      this.#headerOversized = true;
      this.#headerBytes.clear();
    }
    if (!this.#headerOversized) this.#headerBytes.append(bytes, start, end);
    this.#headerByteCount += added;
    this.#headerLastByte = bytes[end - 1] ?? this.#headerLastByte;
  }

  /** Reads the line collected so far as the header; records start at `nextLineOffset`. */
  #readHeaderLine(nextLineOffset: number, events: CsvDialectEvent[]): void {
    const crlf = this.#headerLastByte === CARRIAGE_RETURN;
    const byteLength = crlf ? this.#headerByteCount - 1 : this.#headerByteCount;
    const source: CsvDialectSource = {
      line: this.#line,
      byteOffset: this.#lineOffset,
      byteLength,
    };
    const text =
      byteLength > RECORD_BYTES_MAX
        ? null
        : decodeUtf8(this.#headerBytes.view().subarray(0, byteLength));
    this.#headerBytes.clear();
    this.#headerByteCount = 0;
    this.#headerOversized = false;
    this.#headerLastByte = -1;
    if (text !== null && text.trim() === '') return;
    const names = this.#headerNames(text, source, events);
    if (names === null) {
      this.#phase = { kind: 'failed' };
      return;
    }
    const resolution = resolveHeader(this.#dialect, names, source);
    if (!resolution.ok) {
      events.push(...resolution.problems);
      this.#phase = { kind: 'failed' };
      return;
    }
    events.push(...resolution.notes);
    const rows = new CsvRowInterpreter(this.#dialect, resolution.plan);
    this.#startRecords(rows, nextLineOffset, this.#line + 1);
  }

  /** The header's trimmed names, or null after reporting why the line cannot be a header. */
  #headerNames(
    text: string | null,
    source: CsvDialectSource,
    events: CsvDialectEvent[],
  ): string[] | null {
    let reason: string | null = null;
    let names: string[] = [];
    if (source.byteLength > RECORD_BYTES_MAX) {
      reason = `is ${source.byteLength} bytes, more than the limit of ${RECORD_BYTES_MAX}`;
    } else if (text === null) {
      reason = 'is not valid UTF-8';
    } else {
      const split = splitCsvRow(this.#transposition.text(text));
      if (typeof split === 'string') reason = split;
      else names = split.map((name) => this.#transposition.text(name).trim());
      if (names.length > RECORD_FIELDS_MAX) {
        reason = `has ${names.length} columns, more than the limit of ${RECORD_FIELDS_MAX}`;
      }
    }
    if (reason === null) return names;
    const message =
      `Line ${source.line}: the header line ${reason}; no record of the file is read ` +
      `(a header must fit on one line).`;
    events.push(problem(source, 'header_unreadable', null, null, text, message));
    return null;
  }

  #headerMissing(): CsvDialectEvent {
    const source: CsvDialectSource = {
      line: 1,
      byteOffset: 0,
      byteLength: this.#chunkOffset,
    };
    const message =
      `The file ends on line ${this.#line}, before its header row (after ` +
      `${this.#dialect.skipLines} skipped lines and any blank ones); it holds no records.`;
    return problem(source, 'header_missing', null, null, null, message);
  }
}
