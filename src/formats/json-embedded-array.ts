/**
 * Finds the array of records inside a JSON page (an API response such as
 * `{"data":{"readings":[...]},"next":"..."}`) and streams its elements, without holding the page.
 * Beside json-array.ts, which reads a delivery that is one top-level array: here the array sits at
 * a path of object keys, and the bytes around it are walked over, not kept.
 *
 * Protocol: `push(chunk)` takes consecutive chunks (split anywhere) and returns the elements those
 * bytes completed, each with its bytes and its span in the page; `end()` returns what the end
 * reveals. A page that cannot hold the records (not JSON, the path missing, not an array there)
 * is one page problem spanning the whole page; a syntax error once the records have begun is a
 * problem spanning the rest. Elements are not parsed here: the caller reads each one alone.
 *
 * Memory: one element (bounded by RECORD_BYTES_MAX; a longer one is counted, not held) and one
 * object key (bounded by JSON_PAGE_KEY_BYTES_MAX). Values walked over are followed by their depth
 * and string state only, so a deeply nested or huge value beside the records costs no memory.
 */
import assert from 'node:assert/strict';
import { JSON_PAGE_KEY_BYTES_MAX, RECORD_BYTES_MAX } from '../core/limits.js';
import { ByteOrderMarkSkipper, Chunk, LineCounter, RecordBuffer, decodeUtf8 } from './bytes.js';
import type { SourceSpan } from './items.js';

/** Why a page yields no records, or no more records, and from which byte. */
export const PAGE_PROBLEM_CODES = [
  'not_json',
  'records_path_missing',
  'records_not_array',
  'syntax',
] as const;
export type PageProblemCode = (typeof PAGE_PROBLEM_CODES)[number];

export type EmbeddedArrayEvent =
  | {
      kind: 'element';
      /** The element's text, or null when its bytes are not UTF-8 or it is oversized. */
      text: string | null;
      /** The element's bytes, empty when it is oversized; valid until the next push. */
      bytes: Uint8Array;
      span: SourceSpan;
      oversized: boolean;
    }
  | { kind: 'page_problem'; code: PageProblemCode; reason: string; span: SourceSpan };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

type State =
  | 'root'
  | 'key_or_close'
  | 'key_start'
  | 'key'
  | 'colon'
  | 'value'
  | 'skip_string'
  | 'skip_container'
  | 'skip_scalar'
  | 'comma_or_close'
  | 'first_element'
  | 'element'
  | 'in_element'
  | 'after_element'
  | 'after_records'
  | 'done'
  | 'failed';

type ElementKind = 'container' | 'string' | 'scalar';

interface Failure {
  code: PageProblemCode;
  offset: number;
  line: number;
  reason: string;
}

/** A scanner for one page; `recordsPath` is the keys from the top-level object to the array. */
export class EmbeddedArrayScanner {
  readonly #path: readonly string[];
  readonly #byteOrderMark = new ByteOrderMarkSkipper();
  readonly #lines = new LineCounter();
  readonly #key = new RecordBuffer();
  readonly #element = new RecordBuffer();
  #state: State = 'root';
  #started = false;
  #ended = false;
  #chunkOffset = 0;
  /** Path segments matched so far: the objects on the path that are open. */
  #level = 0;
  #keyBytes = 0;
  #keyMatches = false;
  /** Depth of the value being walked over or of the element being read. */
  #depth = 0;
  #inString = false;
  #escaped = false;
  #elementKind: ElementKind = 'container';
  #elementOffset = 0;
  #elementLine = 1;
  #elementBytes = 0;
  #failure: Failure | null = null;
  /** Where the bytes after the last record (or after the opening '[') begin. */
  #tailOffset = 0;
  #tailLine = 1;
  #keyStart = 0;

  constructor(recordsPath: readonly string[]) {
    this.#path = recordsPath;
  }

  push(chunk: Uint8Array): EmbeddedArrayEvent[] {
    assert.ok(!this.#ended, 'push() after end()');
    const events: EmbeddedArrayEvent[] = [];
    for (const piece of this.#byteOrderMark.take(chunk)) this.#scan(piece, events);
    return events;
  }

  end(): EmbeddedArrayEvent[] {
    const events: EmbeddedArrayEvent[] = [];
    if (this.#ended) return events;
    this.#ended = true;
    for (const piece of this.#byteOrderMark.flush()) this.#scan(piece, events);
    if (!this.#started) this.#start();
    const problem = this.#endingProblem();
    if (problem !== null) events.push(problem);
    return events;
  }

  #start(): void {
    this.#started = true;
    this.#chunkOffset = this.#byteOrderMark.skippedBytes;
  }

  #scan(piece: Uint8Array, events: EmbeddedArrayEvent[]): void {
    if (!this.#started) this.#start();
    if (this.#state === 'failed' || piece.length === 0) {
      this.#chunkOffset += piece.length;
      return;
    }
    const chunk = new Chunk(piece);
    const bytes = chunk.bytes;
    this.#lines.startChunk(bytes);
    let index = 0;
    while (index < bytes.length && !this.#hasFailed()) {
      index = this.#step(chunk, index, events);
    }
    if (this.#state === 'in_element') this.#carryElement(bytes, this.#elementStartIn(bytes));
    if (this.#state === 'key') this.#carryKey(bytes, this.#keyStart, bytes.length);
    this.#lines.finishChunk();
    this.#chunkOffset += bytes.length;
  }

  /** Where the element being read starts in this chunk (0 when it began in an earlier one). */
  #elementStartIn(bytes: Uint8Array): number {
    const start = this.#elementOffset - this.#chunkOffset;
    return start > 0 && start <= bytes.length ? start : 0;
  }

  /** Handles the bytes from `index` in the current state; returns where to go on. */
  #step(chunk: Chunk, index: number, events: EmbeddedArrayEvent[]): number {
    const bytes = chunk.bytes;
    switch (this.#state) {
      case 'skip_string':
      case 'skip_container':
      case 'skip_scalar':
        return this.#skipValue(bytes, index);
      case 'key':
        return this.#readKey(bytes, index);
      case 'in_element':
        return this.#readElement(chunk, index, events);
      case 'after_records':
        return this.#skipAfterRecords(bytes, index);
      default:
        break;
    }
    const byte = bytes[index] ?? 0;
    if (isWhitespace(byte)) return index + 1;
    return this.#punctuation(bytes, index, byte);
  }

  #punctuation(bytes: Uint8Array, index: number, byte: number): number {
    switch (this.#state) {
      case 'root':
        return this.#root(bytes, index, byte);
      case 'key_or_close':
        if (byte === CLOSE_BRACE) return this.#pathMissing(bytes, index);
        return this.#keyStartAt(bytes, index, byte);
      case 'key_start':
        return this.#keyStartAt(bytes, index, byte);
      case 'colon':
        if (byte !== COLON) return this.#fail('syntax', bytes, index, "expected ':' after a key");
        this.#state = 'value';
        return index + 1;
      case 'value':
        return this.#value(bytes, index, byte);
      case 'comma_or_close':
        if (byte === COMMA) return this.#goTo('key_start', index);
        if (byte === CLOSE_BRACE) return this.#pathMissing(bytes, index);
        return this.#fail('syntax', bytes, index, "expected ',' or '}' after a value");
      case 'first_element':
        if (byte === CLOSE_BRACKET) return this.#goTo('after_records', index, this.#level);
        return this.#startElement(bytes, index, byte);
      case 'element':
        return this.#startElement(bytes, index, byte);
      case 'after_element':
        if (byte === COMMA) return this.#goTo('element', index);
        if (byte === CLOSE_BRACKET) return this.#goTo('after_records', index, this.#level);
        return this.#fail('syntax', bytes, index, "expected ',' or ']' after a record");
      case 'done':
        return this.#fail('syntax', bytes, index, 'expected nothing after the end of the page');
      default:
        assert.fail(`unreachable: ${this.#state} is handled by its own scanner`);
    }
  }

  #goTo(state: State, index: number, depth = 0): number {
    this.#state = state;
    if (state === 'first_element' || state === 'after_records') this.#markTail(index + 1);
    this.#depth = depth;
    this.#inString = false;
    this.#escaped = false;
    if (state === 'after_records' && depth === 0) this.#state = 'done';
    return index + 1;
  }

  #root(bytes: Uint8Array, index: number, byte: number): number {
    if (!startsJsonValue(byte)) {
      return this.#fail('not_json', bytes, index, 'the page is not JSON', true);
    }
    if (this.#path.length === 0) {
      if (byte === OPEN_BRACKET) return this.#goTo('first_element', index);
      const reason = 'the page is not a JSON array of records (no records path is set)';
      return this.#fail('records_not_array', bytes, index, reason, true);
    }
    if (byte !== OPEN_BRACE) {
      const reason = `the page is not a JSON object, so it has no ${this.#pathText()}`;
      return this.#fail('records_path_missing', bytes, index, reason, true);
    }
    return this.#goTo('key_or_close', index);
  }

  #keyStartAt(bytes: Uint8Array, index: number, byte: number): number {
    if (byte !== QUOTE) return this.#fail('syntax', bytes, index, 'expected a key');
    this.#state = 'key';
    this.#keyBytes = 0;
    this.#key.clear();
    this.#escaped = false;
    this.#keyStart = index + 1;
    return index + 1;
  }

  #readKey(bytes: Uint8Array, index: number): number {
    const close = this.#stringClose(bytes, index);
    if (close === -1) return bytes.length;
    this.#carryKey(bytes, this.#keyStart, close);
    this.#keyMatches = this.#keyIsSegment();
    this.#state = 'colon';
    return close + 1;
  }

  #carryKey(bytes: Uint8Array, start: number, end: number): void {
    const added = end - start;
    if (this.#keyBytes + added <= JSON_PAGE_KEY_BYTES_MAX) this.#key.append(bytes, start, end);
    this.#keyBytes += added;
    this.#keyStart = 0;
  }

  #keyIsSegment(): boolean {
    if (this.#keyBytes > JSON_PAGE_KEY_BYTES_MAX) return false;
    const text = decodeUtf8(this.#key.view());
    if (text === null) return false;
    let key: unknown;
    try {
      key = JSON.parse(`"${text}"`);
    } catch {
      return false;
    }
    return key === this.#path[this.#level];
  }

  #value(bytes: Uint8Array, index: number, byte: number): number {
    if (!startsJsonValue(byte)) return this.#fail('syntax', bytes, index, 'expected a value');
    if (!this.#keyMatches) return this.#startSkip(index, byte);
    const last = this.#level === this.#path.length - 1;
    if (last) {
      if (byte === OPEN_BRACKET) {
        this.#level += 1;
        return this.#goTo('first_element', index);
      }
      const reason = `${this.#pathText()} is ${describeValueStart(byte)}, not an array`;
      return this.#fail('records_not_array', bytes, index, reason, true);
    }
    if (byte !== OPEN_BRACE) {
      const segment = this.#path.slice(0, this.#level + 1).join('.');
      const reason =
        `${segment} is ${describeValueStart(byte)}, not an object, so the page has no ` +
        this.#pathText();
      return this.#fail('records_path_missing', bytes, index, reason, true);
    }
    this.#level += 1;
    return this.#goTo('key_or_close', index);
  }

  #startSkip(index: number, byte: number): number {
    this.#inString = false;
    this.#escaped = false;
    this.#depth = 0;
    if (byte === QUOTE) {
      this.#state = 'skip_string';
      return index + 1;
    }
    if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
      this.#state = 'skip_container';
      this.#depth = 1;
      return index + 1;
    }
    this.#state = 'skip_scalar';
    return index;
  }

  #skipValue(bytes: Uint8Array, index: number): number {
    if (this.#state === 'skip_string') {
      const close = this.#stringClose(bytes, index);
      if (close === -1) return bytes.length;
      this.#state = 'comma_or_close';
      return close + 1;
    }
    if (this.#state === 'skip_scalar') {
      const end = scalarEnd(bytes, index);
      if (end === -1) return bytes.length;
      this.#state = 'comma_or_close';
      return end;
    }
    const end = this.#containerEnd(bytes, index);
    if (end === -1) return bytes.length;
    this.#state = 'comma_or_close';
    return end;
  }

  #skipAfterRecords(bytes: Uint8Array, index: number): number {
    const end = this.#containerEnd(bytes, index);
    if (end === -1) return bytes.length;
    this.#state = 'done';
    return end;
  }

  #startElement(bytes: Uint8Array, index: number, byte: number): number {
    if (!startsJsonValue(byte)) return this.#fail('syntax', bytes, index, 'expected a record');
    this.#state = 'in_element';
    this.#elementOffset = this.#chunkOffset + index;
    this.#elementLine = this.#lines.lineAt(index);
    this.#elementBytes = 0;
    this.#element.clear();
    this.#depth = 0;
    this.#inString = false;
    this.#escaped = false;
    if (byte === QUOTE) {
      this.#elementKind = 'string';
      return index + 1;
    }
    if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
      this.#elementKind = 'container';
      this.#depth = 1;
      return index + 1;
    }
    this.#elementKind = 'scalar';
    return index;
  }

  #readElement(chunk: Chunk, index: number, events: EmbeddedArrayEvent[]): number {
    const bytes = chunk.bytes;
    let end: number;
    if (this.#elementKind === 'string') {
      const close = this.#stringClose(bytes, index);
      end = close === -1 ? -1 : close + 1;
    } else if (this.#elementKind === 'scalar') {
      end = scalarEnd(bytes, index);
    } else {
      end = this.#containerEnd(bytes, index);
    }
    if (end === -1) return bytes.length;
    const start = this.#elementStartIn(bytes);
    const byteLength = this.#elementBytes + end - start;
    const span = { line: this.#elementLine, byteOffset: this.#elementOffset, byteLength };
    if (byteLength > RECORD_BYTES_MAX) {
      events.push({ kind: 'element', text: null, bytes: new Uint8Array(0), span, oversized: true });
    } else if (this.#elementBytes === 0) {
      const text = chunk.text(start, end);
      events.push({
        kind: 'element',
        text,
        bytes: bytes.subarray(start, end),
        span,
        oversized: false,
      });
    } else {
      this.#element.append(bytes, start, end);
      const element = this.#element.view();
      events.push({
        kind: 'element',
        text: decodeUtf8(element),
        bytes: element,
        span,
        oversized: false,
      });
    }
    this.#element.clear();
    this.#elementBytes = 0;
    this.#state = 'after_element';
    this.#markTail(end);
    return end;
  }

  // A method rather than a field test, because a step changes the state under the loop.
  #hasFailed(): boolean {
    return this.#state === 'failed';
  }

  #markTail(index: number): void {
    this.#tailOffset = this.#chunkOffset + index;
    this.#tailLine = this.#lines.lineAt(index);
  }

  #carryElement(bytes: Uint8Array, start: number): void {
    const added = bytes.length - start;
    const held = this.#elementBytes + added;
    if (held <= RECORD_BYTES_MAX) this.#element.append(bytes, start, bytes.length);
    else this.#element.clear();
    this.#elementBytes = held;
  }

  /** Inside a string from `index`: the index of its closing quote, or -1 if not in this chunk. */
  #stringClose(bytes: Uint8Array, index: number): number {
    let cursor = index;
    if (this.#escaped) {
      if (cursor >= bytes.length) return -1;
      this.#escaped = false;
      cursor += 1;
    }
    for (; cursor < bytes.length; cursor++) {
      const byte = bytes[cursor];
      if (byte === QUOTE) return cursor;
      if (byte === BACKSLASH) {
        cursor += 1;
        if (cursor === bytes.length) {
          this.#escaped = true;
          return -1;
        }
      }
    }
    return -1;
  }

  /** Inside a container at `#depth` from `index`: the index past its close, or -1. */
  #containerEnd(bytes: Uint8Array, index: number): number {
    let cursor = index;
    if (this.#inString) {
      cursor = this.#stringClose(bytes, cursor);
      if (cursor === -1) return -1;
      this.#inString = false;
      cursor += 1;
    }
    for (; cursor < bytes.length; cursor++) {
      const byte = bytes[cursor];
      if (byte === QUOTE) {
        this.#inString = true;
        cursor = this.#stringClose(bytes, cursor + 1);
        if (cursor === -1) return -1;
        this.#inString = false;
      } else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
        this.#depth += 1;
      } else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
        this.#depth -= 1;
        if (this.#depth === 0) return cursor + 1;
      }
    }
    return -1;
  }

  #pathMissing(bytes: Uint8Array, index: number): number {
    const where = this.#level === 0 ? 'the page' : this.#path.slice(0, this.#level).join('.');
    const reason =
      `${where} has no key ${JSON.stringify(this.#path[this.#level])}, so the page has no ` +
      this.#pathText();
    return this.#fail('records_path_missing', bytes, index, reason, true);
  }

  #pathText(): string {
    return `records at ${this.#path.map((segment) => JSON.stringify(segment)).join('.')}`;
  }

  #fail(
    code: PageProblemCode,
    bytes: Uint8Array,
    index: number,
    expectation: string,
    wholePage = false,
  ): number {
    const line = wholePage ? 1 : this.#lines.lineAt(index);
    const offset = wholePage ? 0 : this.#chunkOffset + index;
    const found =
      wholePage && code !== 'not_json' ? '' : `, found ${describeByte(bytes[index] ?? 0)}`;
    this.#failure = { code, offset, line, reason: `${expectation}${found}` };
    this.#state = 'failed';
    return bytes.length;
  }

  #endingProblem(): EmbeddedArrayEvent | null {
    const span = (offset: number, line: number): SourceSpan => ({
      line,
      byteOffset: offset,
      byteLength: this.#chunkOffset - offset,
    });
    const problem = (code: PageProblemCode, offset: number, line: number, reason: string) =>
      ({ kind: 'page_problem', code, reason, span: span(offset, line) }) as const;
    switch (this.#state) {
      case 'done':
        return null;
      case 'failed': {
        const failure = this.#failure;
        assert.ok(failure !== null, 'a failed scanner records its failure');
        return problem(failure.code, failure.offset, failure.line, failure.reason);
      }
      case 'root':
        return problem('not_json', 0, 1, 'the page holds nothing but whitespace');
      case 'in_element':
        return problem(
          'syntax',
          this.#elementOffset,
          this.#elementLine,
          'the page ends inside a record that starts here; it was cut short',
        );
      case 'first_element':
      case 'element':
      case 'after_element':
      case 'after_records': {
        const reason =
          'the page ends before its records array and the objects around it are closed; it ' +
          'was cut short';
        // A page cut just after a record leaves no tail bytes: the whole page stands for it.
        if (this.#tailOffset === this.#chunkOffset) return problem('syntax', 0, 1, reason);
        return problem('syntax', this.#tailOffset, this.#tailLine, reason);
      }
      default:
        return problem(
          'records_path_missing',
          0,
          1,
          `the page ends before its ${this.#pathText()} begin; it was cut short or is not JSON`,
        );
    }
  }
}

function startsJsonValue(byte: number): boolean {
  return (
    byte === OPEN_BRACE ||
    byte === OPEN_BRACKET ||
    byte === QUOTE ||
    byte === 0x2d ||
    (byte >= 0x30 && byte <= 0x39) ||
    byte === 0x74 ||
    byte === 0x66 ||
    byte === 0x6e
  );
}

function describeValueStart(byte: number): string {
  if (byte === OPEN_BRACE) return 'an object';
  if (byte === QUOTE) return 'a string';
  if (byte === 0x74 || byte === 0x66) return 'a boolean';
  if (byte === 0x6e) return 'null';
  return 'a number';
}

/** A bare value (number, literal or garbage) runs to the next whitespace or punctuation. */
function scalarEnd(bytes: Uint8Array, index: number): number {
  for (let cursor = index; cursor < bytes.length; cursor++) {
    const byte = bytes[cursor] ?? 0;
    if (isWhitespace(byte) || byte === COMMA || byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
      return cursor;
    }
    if (byte === COLON || byte === QUOTE || byte === OPEN_BRACE || byte === OPEN_BRACKET) {
      return cursor;
    }
  }
  return -1;
}

function isWhitespace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

function describeByte(byte: number): string {
  if (byte > 0x20 && byte < 0x7f) return `'${String.fromCharCode(byte)}'`;
  return `byte 0x${byte.toString(16).padStart(2, '0')}`;
}
