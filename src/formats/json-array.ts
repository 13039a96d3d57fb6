/**
 * A JSON document whose top level is an array of records, streamed. A small scanner follows depth
 * and string state to find each top-level element's bytes, and JSON.parse reads the element alone.
 * An element that JSON.parse rejects is one reject; bytes between elements that break the array's
 * structure leave the rest of the delivery unknowable, and become one uncounted span.
 */
import assert from 'node:assert/strict';
import type { Buffer } from 'node:buffer';
import type { FormatContext, ParseItem, StreamParser } from '../core/parser.js';
import type { RecordLocation } from '../core/reading.js';
import { RECORD_BYTES_MAX } from '../core/limits.js';
import {
  ByteOrderMarkSkipper,
  Chunk,
  LineCounter,
  RecordBuffer,
  decodeUtf8,
  decodeUtf8Lenient,
} from './bytes.js';
import { encodingItem, spanRejectItem, tooLargeItem } from './items.js';
import { jsonValueItem, parseJsonRecordText } from './json-record.js';

/** A parser for one delivery holding a JSON array of records. */
export function createJsonArrayParser(): StreamParser {
  return new JsonArrayParser();
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

/** Consecutive failed guesses of the flat-record shortcut after which only the scanner reads. */
const SHORTCUT_MISSES_MAX = 16;

type State =
  | 'expect_array'
  | 'expect_first_element'
  | 'expect_element'
  | 'in_container'
  | 'in_string'
  | 'in_scalar'
  | 'after_element'
  | 'after_array'
  | 'failed';

interface Failure {
  offset: number;
  line: number;
  reason: string;
}

class JsonArrayParser implements StreamParser {
  readonly #byteOrderMark = new ByteOrderMarkSkipper();
  readonly #lines = new LineCounter();
  /** The current element's bytes from earlier chunks; empty once it is oversized. */
  readonly #carried = new RecordBuffer();
  #state: State = 'expect_array';
  #started = false;
  #chunkOffset = 0;
  #itemCount = 0;
  #ended = false;
  // The element being scanned.
  #depth = 0;
  #inString = false;
  #escaped = false;
  #elementOffset = 0;
  #elementLine = 1;
  #elementStartInChunk = 0;
  #elementBytesEarlier = 0;
  #elementOversized = false;
  /**
   * Where the bytes after the last complete element (or after `[`) begin: a cut tail starts here.
   */
  #tailOffset = 0;
  #tailLine = 1;
  #failure: Failure | null = null;
  #shortcutCredit = SHORTCUT_MISSES_MAX;

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
    const ending = this.#endingReject();
    if (ending !== null) items.push(ending);
    return items;
  }

  context(): FormatContext {
    return {};
  }

  #start(): void {
    this.#started = true;
    this.#chunkOffset = this.#byteOrderMark.skippedBytes;
    this.#tailOffset = this.#chunkOffset;
  }

  #scan(piece: Uint8Array, items: ParseItem[]): void {
    if (!this.#started) this.#start();
    if (this.#state === 'failed') {
      this.#chunkOffset += piece.length;
      return;
    }
    const chunk = new Chunk(piece);
    const bytes = chunk.bytes;
    this.#lines.startChunk(bytes);
    this.#elementStartInChunk = 0;
    let index = 0;
    while (index < bytes.length) {
      const state = this.#state;
      if (state === 'in_container' || state === 'in_string' || state === 'in_scalar') {
        const end = this.#scanElement(bytes, index);
        if (end === -1) {
          this.#carry(bytes);
          break;
        }
        this.#finishElement(chunk, bytes, end, items);
        index = end;
      } else if (
        bytes[index] === OPEN_BRACE &&
        this.#shortcutCredit > 0 &&
        (state === 'expect_element' || state === 'expect_first_element')
      ) {
        const end = this.#tryShortcut(chunk, bytes, index, items);
        index = end === -1 ? this.#startElement(bytes, index) : end;
      } else {
        index = this.#scanBetween(bytes, index);
      }
    }
    this.#lines.finishChunk();
    this.#chunkOffset += bytes.length;
  }

  /** Handles whitespace and punctuation outside elements from `index`; returns where to go on. */
  #scanBetween(bytes: Uint8Array, index: number): number {
    const byte = bytes[index] ?? 0;
    if (isWhitespace(byte)) return index + 1;
    switch (this.#state) {
      case 'expect_array':
        if (byte === OPEN_BRACKET) return this.#afterPunctuation('expect_first_element', index);
        return this.#fail(bytes, index, "expected '[' to open the JSON array");
      case 'expect_first_element':
        if (byte === CLOSE_BRACKET) return this.#afterPunctuation('after_array', index);
        return this.#startElement(bytes, index);
      case 'expect_element':
        if (byte === CLOSE_BRACKET) {
          return this.#fail(bytes, index, "expected an element after ','");
        }
        return this.#startElement(bytes, index);
      case 'after_element':
        if (byte === COMMA) return this.#afterPunctuation('expect_element', index);
        if (byte === CLOSE_BRACKET) return this.#afterPunctuation('after_array', index);
        return this.#fail(bytes, index, "expected ',' or ']' after an element");
      case 'after_array':
        return this.#fail(bytes, index, "expected nothing but whitespace after the closing ']'");
      default:
        assert.fail(`unreachable: ${this.#state} is handled by the element scanner`);
    }
  }

  #afterPunctuation(next: State, index: number): number {
    this.#state = next;
    if (next === 'expect_first_element') {
      this.#tailOffset = this.#chunkOffset + index + 1;
      this.#tailLine = this.#lines.lineAt(index + 1);
    }
    return index + 1;
  }

  /**
   * Reads an object element without the byte scanner when it is a flat record wholly in this chunk:
   * the element is guessed to end at the first `}` followed by `,` or `]`, and the guess is kept
   * only if JSON.parse accepts it. A span that JSON.parse accepts is exactly the span the scanner
   * would find (a valid object closes its depth only at its last brace, and no proper prefix of a
   * valid object is one), so the outcome is the scanner's, about ten times cheaper. Returns the
   * index past the element, or -1 to let the scanner read it; a run of failed guesses turns the
   * shortcut off for the rest of the delivery.
   */
  #tryShortcut(chunk: Chunk, bytes: Buffer, index: number, items: ParseItem[]): number {
    const end = bytes.indexOf(CLOSE_BRACE, index + 1) + 1;
    if (end === 0 || end - index > RECORD_BYTES_MAX) return -1;
    if (!followedByPunctuation(bytes, end)) return -1;
    const text = chunk.text(index, end);
    if (text === null) return -1;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      // Only a failed parse costs much (an exception); a run of them means the records are nested.
      this.#shortcutCredit -= 1;
      return -1;
    }
    this.#shortcutCredit = SHORTCUT_MISSES_MAX;
    const location: RecordLocation = {
      recordIndex: this.#itemCount,
      line: this.#lines.lineAt(index),
      byteOffset: this.#chunkOffset + index,
      byteLength: end - index,
    };
    this.#itemCount += 1;
    items.push(jsonValueItem(value, text, location));
    this.#afterElement(end);
    return end;
  }

  #startElement(bytes: Uint8Array, index: number): number {
    const byte = bytes[index];
    if (byte === COMMA || byte === COLON || byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
      return this.#fail(bytes, index, 'expected an element');
    }
    this.#elementOffset = this.#chunkOffset + index;
    this.#elementLine = this.#lines.lineAt(index);
    this.#elementStartInChunk = index;
    this.#elementBytesEarlier = 0;
    this.#elementOversized = false;
    this.#depth = 0;
    this.#inString = false;
    this.#escaped = false;
    if (byte === OPEN_BRACE || byte === OPEN_BRACKET) this.#state = 'in_container';
    else if (byte === QUOTE) this.#state = 'in_string';
    else this.#state = 'in_scalar';
    return index;
  }

  /**
   * Scans the current element from `index`; returns the index just past its end, or -1 if not here.
   */
  #scanElement(bytes: Uint8Array, index: number): number {
    if (this.#state === 'in_container') return this.#scanContainer(bytes, index);
    if (this.#state === 'in_string') {
      // The element's first byte is its opening quote; after that, the string state tells the rest.
      const opening = this.#inString ? 0 : 1;
      this.#inString = true;
      const close = this.#skipString(bytes, index + opening);
      return close === -1 ? -1 : close + 1;
    }
    return scalarEnd(bytes, index);
  }

  // The hot loop: it sees every byte of every container element, so it stays flat and branch-light.
  #scanContainer(bytes: Uint8Array, index: number): number {
    const length = bytes.length;
    let depth = this.#depth;
    let cursor = index;
    if (this.#inString) {
      cursor = this.#skipString(bytes, cursor);
      if (cursor === -1) return -1;
      cursor += 1;
    }
    for (; cursor < length; cursor++) {
      const byte = bytes[cursor];
      if (byte === QUOTE) {
        this.#inString = true;
        cursor = this.#skipString(bytes, cursor + 1);
        if (cursor === -1) break;
      } else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
        depth += 1;
      } else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
        depth -= 1;
        if (depth === 0) {
          this.#depth = 0;
          return cursor + 1;
        }
      }
    }
    this.#depth = depth;
    return -1;
  }

  /**
   * Inside a string from `index`: returns the index of the closing quote, or -1 if not in this
   * chunk.
   */
  #skipString(bytes: Uint8Array, index: number): number {
    const length = bytes.length;
    let cursor = index;
    if (this.#escaped) {
      if (cursor >= length) return -1;
      this.#escaped = false;
      cursor += 1;
    }
    for (; cursor < length; cursor++) {
      const byte = bytes[cursor];
      if (byte === QUOTE) {
        this.#inString = false;
        return cursor;
      }
      if (byte === BACKSLASH) {
        cursor += 1;
        if (cursor === length) {
          this.#escaped = true;
          return -1;
        }
      }
    }
    return -1;
  }

  #carry(bytes: Uint8Array): void {
    const start = this.#elementStartInChunk;
    const added = bytes.length - start;
    if (!this.#elementOversized && this.#carried.length + added > RECORD_BYTES_MAX) {
      this.#elementOversized = true;
      this.#carried.clear();
    }
    if (!this.#elementOversized) this.#carried.append(bytes, start, bytes.length);
    this.#elementBytesEarlier += added;
  }

  #finishElement(chunk: Chunk, bytes: Uint8Array, end: number, items: ParseItem[]): void {
    const start = this.#elementStartInChunk;
    const byteLength = this.#elementBytesEarlier + end - start;
    const location: RecordLocation = {
      recordIndex: this.#itemCount,
      line: this.#elementLine,
      byteOffset: this.#elementOffset,
      byteLength,
    };
    this.#itemCount += 1;
    if (byteLength > RECORD_BYTES_MAX) {
      items.push(tooLargeItem(location));
    } else if (this.#elementBytesEarlier === 0) {
      const text = chunk.text(start, end);
      items.push(elementItem(text, bytes.subarray(start, end), location));
    } else {
      this.#carried.append(bytes, start, end);
      const element = this.#carried.view();
      items.push(elementItem(decodeUtf8(element), element, location));
    }
    this.#carried.clear();
    this.#elementBytesEarlier = 0;
    this.#afterElement(end);
  }

  #afterElement(end: number): void {
    this.#state = 'after_element';
    this.#tailOffset = this.#chunkOffset + end;
    this.#tailLine = this.#lines.lineAt(end);
  }

  #fail(bytes: Uint8Array, index: number, expectation: string): number {
    const line = this.#lines.lineAt(index);
    const offset = this.#chunkOffset + index;
    const reason = `${expectation}, found ${describeByte(bytes[index] ?? 0)}`;
    this.#failure = { offset, line, reason };
    this.#state = 'failed';
    return bytes.length;
  }

  /** What the state at the end of the delivery says about bytes no element accounted for. */
  #endingReject(): ParseItem | null {
    switch (this.#state) {
      case 'after_array':
        return null;
      case 'failed': {
        const failure = this.#failure;
        assert.ok(failure !== null, 'a failed parser records its failure');
        return this.#spanReject(failure.offset, failure.line, failure.reason);
      }
      case 'expect_array':
        return this.#spanReject(
          this.#tailOffset,
          this.#tailLine,
          'the delivery holds no JSON array',
        );
      case 'expect_first_element':
      case 'expect_element':
      case 'after_element':
        return this.#spanReject(
          this.#tailOffset,
          this.#tailLine,
          "the array is not closed with ']'; the delivery may have been cut short",
        );
      case 'in_container':
      case 'in_string':
      case 'in_scalar':
        return this.#spanReject(
          this.#elementOffset,
          this.#elementLine,
          "the delivery ends inside an element that starts here; the array is not closed with ']'",
        );
      default: {
        const unreachable: never = this.#state;
        assert.fail(`unreachable state ${String(unreachable)}`);
      }
    }
  }

  #spanReject(offset: number, line: number, reason: string): ParseItem {
    const byteLength = this.#chunkOffset - offset;
    const location = { recordIndex: this.#itemCount, line, byteOffset: offset, byteLength };
    this.#itemCount += 1;
    const message =
      `Line ${line}, byte ${offset}: ${reason}; the remaining ${byteLength} bytes ` +
      'of the delivery could not be read as records.';
    const value = `${byteLength} bytes from byte ${offset}`;
    return spanRejectItem('parse.syntax', value, message, location);
  }
}

function elementItem(text: string | null, bytes: Uint8Array, location: RecordLocation): ParseItem {
  if (text === null) return encodingItem(decodeUtf8Lenient(bytes), location);
  return parseJsonRecordText(text, location);
}

/** A bare element (number, literal or garbage) runs to the next whitespace or punctuation. */
function scalarEnd(bytes: Uint8Array, index: number): number {
  for (let cursor = index; cursor < bytes.length; cursor++) {
    switch (bytes[cursor]) {
      case 0x20:
      case 0x0a:
      case 0x0d:
      case 0x09:
      case COMMA:
      case COLON:
      case QUOTE:
      case OPEN_BRACE:
      case CLOSE_BRACE:
      case OPEN_BRACKET:
      case CLOSE_BRACKET:
        return cursor;
      default:
        break;
    }
  }
  return -1;
}

/** True when whitespace and then `,` or `]` follow `index` within this chunk. */
function followedByPunctuation(bytes: Uint8Array, index: number): boolean {
  let cursor = index;
  while (cursor < bytes.length && isWhitespace(bytes[cursor] ?? 0)) cursor++;
  const next = bytes[cursor];
  return next === COMMA || next === CLOSE_BRACKET;
}

function isWhitespace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

function describeByte(byte: number): string {
  if (byte > 0x20 && byte < 0x7f) return `'${String.fromCharCode(byte)}'`;
  return `byte 0x${byte.toString(16).padStart(2, '0')}`;
}
