/**
 * Splits a dialect's records with the project's one RFC 4180 scanner (csv.ts) instead of a second
 * tokenizer. csv.ts knows only the comma and the double quote, so the dialect's bytes are
 * transposed on the way in: its delimiter and the comma trade places, and so do its quote and the
 * double quote. The swap is a byte-for-byte involution on ASCII, which UTF-8 never uses inside a
 * multi-byte character, so lengths, offsets, line feeds and UTF-8 validity are unchanged, and each
 * field is transposed back to the text that was sent.
 *
 * csv.ts reads its first row as a header; it is given a synthetic one (`f0,f1,...`) with the field
 * count the dialect's header or declaration gives, so it checks every record's field count, and
 * its locations are shifted back past that synthetic row.
 */
import assert from 'node:assert/strict';
import type { ParseItem, StreamParser } from '../../core/parser.js';
import type { RecordLocation } from '../../core/reading.js';
import { VIOLATION_VALUE_CHARS_MAX } from '../../core/reject.js';
import { RECORD_BYTES_MAX } from '../../core/limits.js';
import { createCsvParser, splitCsvRow } from '../csv.js';
import type { CsvDialectDelimiter, CsvDialectQuote } from './csv-dialect-config.js';
import type { CsvDialectEvent, CsvDialectSource } from './csv-dialect-events.js';
import { problem, type CsvRowInterpreter } from './csv-dialect-rows.js';

const COMMA = ',';
const DOUBLE_QUOTE = '"';

/** The swap between a dialect's delimiter and quote and csv.ts's comma and double quote. */
export class Transposition {
  readonly identity: boolean;
  readonly #table = new Uint8Array(256);
  readonly #swapped: ReadonlyMap<string, string>;
  readonly #pattern: RegExp;

  constructor(delimiter: CsvDialectDelimiter, quote: CsvDialectQuote) {
    const pairs: Array<[string, string]> = [];
    if (delimiter !== COMMA) pairs.push([delimiter, COMMA]);
    if (quote !== DOUBLE_QUOTE) pairs.push([quote, DOUBLE_QUOTE]);
    this.identity = pairs.length === 0;
    for (let byte = 0; byte < 256; byte++) this.#table[byte] = byte;
    const swapped = new Map<string, string>();
    for (const [left, right] of pairs) {
      this.#table[left.charCodeAt(0)] = right.charCodeAt(0);
      this.#table[right.charCodeAt(0)] = left.charCodeAt(0);
      swapped.set(left, right).set(right, left);
    }
    this.#swapped = swapped;
    const characters = [...swapped.keys()].map((char) => `\\x${hex(char)}`).join('');
    this.#pattern = new RegExp(`[${characters || '\\x00'}]`, 'g');
  }

  /** A transposed copy of `bytes` (the bytes themselves when nothing is swapped). */
  bytes(bytes: Uint8Array): Uint8Array {
    if (this.identity) return bytes;
    const copy = new Uint8Array(bytes.length);
    const table = this.#table;
    for (let index = 0; index < bytes.length; index++) copy[index] = table[bytes[index] ?? 0] ?? 0;
    return copy;
  }

  text(text: string): string {
    if (this.identity) return text;
    return text.replace(this.#pattern, (char) => this.#swapped.get(char) ?? char);
  }
}

function hex(char: string): string {
  return char.charCodeAt(0).toString(16).padStart(2, '0');
}

/**
 * The records of one file after its header (or after its skipped lines, when it has none). Every
 * record that is not blank yields an interval or problems; `recordsSeen` counts them.
 */
export class CsvRecordStream {
  readonly #parser: StreamParser = createCsvParser();
  readonly #rows: CsvRowInterpreter;
  readonly #transposition: Transposition;
  readonly #syntheticHeaderBytes: number;
  /** Where the first byte after the header stood in the file. */
  readonly #dataOffset: number;
  readonly #dataLine: number;
  readonly #headerRow: boolean;
  recordsSeen = 0;

  constructor(
    rows: CsvRowInterpreter,
    transposition: Transposition,
    start: { byteOffset: number; line: number; headerRow: boolean },
  ) {
    this.#rows = rows;
    this.#transposition = transposition;
    this.#dataOffset = start.byteOffset;
    this.#dataLine = start.line;
    this.#headerRow = start.headerRow;
    const names = Array.from({ length: rows.fieldCount }, (_, index) => `f${index}`);
    const header = new TextEncoder().encode(`${names.join(COMMA)}\n`);
    this.#syntheticHeaderBytes = header.length;
    const items = this.#parser.push(header);
    assert.equal(items.length, 0, 'a synthetic header yields no items');
  }

  /** Where the records part of the file begins. */
  get start(): { line: number; byteOffset: number } {
    return { line: this.#dataLine, byteOffset: this.#dataOffset };
  }

  push(bytes: Uint8Array): CsvDialectEvent[] {
    return this.#events(this.#parser.push(this.#transposition.bytes(bytes)));
  }

  end(): CsvDialectEvent[] {
    return this.#events(this.#parser.end());
  }

  #events(items: readonly ParseItem[]): CsvDialectEvent[] {
    const events: CsvDialectEvent[] = [];
    for (const item of items) {
      const itemEvents = this.#itemEvents(item);
      if (itemEvents.length > 0) this.recordsSeen += 1;
      events.push(...itemEvents);
    }
    return events;
  }

  #source(location: RecordLocation): CsvDialectSource {
    return {
      line: this.#dataLine + location.line - 2,
      byteOffset: this.#dataOffset + location.byteOffset - this.#syntheticHeaderBytes,
      byteLength: location.byteLength,
    };
  }

  #itemEvents(item: ParseItem): CsvDialectEvent[] {
    if (item.kind === 'record') {
      const fields = item.record.fields;
      const values = Array.from({ length: this.#rows.fieldCount }, (_, index) =>
        this.#transposition.text(String(fields[`f${index}`] ?? '')),
      );
      return this.#rows.interpret(values, this.#source(item.record.location));
    }
    assert.ok(item.kind === 'reject', 'the CSV scanner yields records and rejects only');
    const { reject } = item;
    const source = this.#source(reject.location);
    const violation = reject.violations[0];
    assert.ok(violation !== undefined, 'a reject has a violation');
    // describeValue cut longer texts, so a value at most this long is the record's whole text.
    const whole = violation.value.length <= VIOLATION_VALUE_CHARS_MAX ? violation.value : null;
    switch (violation.code) {
      case 'parse.record_too_large':
        return [tooLarge(source)];
      case 'parse.encoding':
        return [notUtf8(source, this.#transposition.text(violation.value))];
      case 'parse.syntax':
        if (reject.uncountedSpan) return [unclosedQuote(source)];
        return [this.#syntaxProblem(source, whole, violation.value)];
      case 'parse.csv_columns':
        return this.#fieldCountProblem(source, whole, violation.value);
      default:
        assert.fail(`csv.ts rejected a record with the unexpected code ${violation.code}`);
    }
  }

  #syntaxProblem(source: CsvDialectSource, whole: string | null, shown: string): CsvDialectEvent {
    const split = whole === null ? null : splitCsvRow(whole);
    const reason = typeof split === 'string' ? split : 'is not a well-formed CSV record';
    const message = `Line ${source.line}: the record ${reason}; it is skipped.`;
    return problem(source, 'syntax', null, null, this.#transposition.text(shown), message);
  }

  #fieldCountProblem(
    source: CsvDialectSource,
    whole: string | null,
    shown: string,
  ): CsvDialectEvent[] {
    const split = whole === null ? null : splitCsvRow(whole);
    const fields = Array.isArray(split) ? split : null;
    if (fields !== null && fields.every((field) => field.trim() === '')) return [];
    const expected = `${this.#rows.fieldCount}`;
    const declared = this.#headerRow ? 'the header has' : 'the dialect declares';
    const what =
      fields === null
        ? `does not have the ${expected} fields ${declared}`
        : `has ${fields.length} fields, but ${declared} ${expected}`;
    const message = `Line ${source.line}: the record ${what}; it is skipped.`;
    const text = this.#transposition.text(shown);
    return [problem(source, 'field_count', null, null, text, message)];
  }
}

function tooLarge(source: CsvDialectSource): CsvDialectEvent {
  const message =
    `Line ${source.line}: the record is ${source.byteLength} bytes, more than the limit of ` +
    `${RECORD_BYTES_MAX}; it is skipped unread.`;
  return problem(source, 'record_too_large', null, null, `${source.byteLength} bytes`, message);
}

function notUtf8(source: CsvDialectSource, shownText: string): CsvDialectEvent {
  const message = `Line ${source.line}: the record is not valid UTF-8; it is skipped.`;
  return problem(source, 'encoding', null, null, shownText, message);
}

function unclosedQuote(source: CsvDialectSource): CsvDialectEvent {
  const message =
    `Line ${source.line}: the record opens a quoted field that is never closed; the remaining ` +
    `${source.byteLength} bytes of the file are not read as records.`;
  return problem(source, 'quote_unclosed', null, null, `${source.byteLength} bytes`, message);
}
