/**
 * A small lexer run over decoded text before the XML parser sees it. The parser buffers a whole
 * text node, tag, comment or DOCTYPE before it reports it, so limits on those must be enforced
 * here, while streaming: the guard counts the current token's characters and stops at the first
 * one over the limit, and it stops at `<!DOCTYPE` before any of the declaration is parsed.
 *
 * The guard also counts the UTF-8 bytes of what it scans, so it knows where each tag stands in the
 * delivery: it queues the byte offset of every start tag's `<` and of the byte just past every
 * tag's `>`. The XML parser reports start tags, and tag ends, in the same order, one for one (or
 * fails, which stops the delivery), so the reader takes one mark per report.
 */
import assert from 'node:assert/strict';
import type { EspiProblemCode, TextPosition } from './green-button.js';

export interface GuardStop {
  /** Index in the scanned text of the character that broke the rule. */
  index: number;
  code: EspiProblemCode;
  message: string;
  position: TextPosition;
}

/** A place in the delivery: a byte offset and the 1-based line it is on. */
export interface TagMark {
  byteOffset: number;
  line: number;
}

export interface MarkupGuard {
  /** Scans the next decoded text; returns the first violation, or null. */
  scan(text: string): GuardStop | null;
  /** Counts bytes that precede the scanned text without being part of it (a byte order mark). */
  skipBytes(count: number): void;
  /** The `<` of the oldest scanned start tag not yet taken. */
  takeStartTag(): TagMark;
  /** Just past the `>` of the oldest scanned tag end (start, end or empty tag) not yet taken. */
  takeTagEnd(): TagMark;
}

/** Taken marks a queue keeps before dropping them, so dropping stays rare and cheap. */
const MARKS_COMPACTED_AFTER = 1024;

/** Marks in scan order, taken from the front; holds the tags of about one scanned text. */
class MarkQueue {
  #offsets: number[] = [];
  #lines: number[] = [];
  #head = 0;

  push(byteOffset: number, line: number): void {
    this.#offsets.push(byteOffset);
    this.#lines.push(line);
  }

  take(what: string): TagMark {
    const byteOffset = this.#offsets[this.#head];
    const line = this.#lines[this.#head];
    assert.ok(byteOffset !== undefined && line !== undefined, `no ${what} mark left to take`);
    this.#head += 1;
    // A text often ends inside a tag, so the queue seldom empties: taken marks are dropped in bulk.
    if (this.#head >= MARKS_COMPACTED_AFTER && this.#head * 2 >= this.#offsets.length) {
      this.#offsets = this.#offsets.slice(this.#head);
      this.#lines = this.#lines.slice(this.#head);
      this.#head = 0;
    }
    return { byteOffset, line };
  }
}

type LexState = 'text' | 'open' | 'bang' | 'tag' | 'comment' | 'cdata' | 'pi' | 'declaration';

const BANG_PREFIXES = { comment: '--', cdata: '[CDATA[', doctype: 'DOCTYPE' } as const;

const TOKEN_NAMES: Record<LexState, string> = {
  text: 'text node',
  open: 'tag',
  bang: 'declaration',
  tag: 'tag (with its attributes)',
  comment: 'comment',
  cdata: 'CDATA section',
  pi: 'processing instruction',
  declaration: 'declaration',
};

export function createMarkupGuard(tokenCharsMax: number): MarkupGuard {
  let state: LexState = 'text';
  let tokenChars = 0;
  let quote = '';
  let bangPrefix = '';
  let tail = '';
  let line = 1;
  let column = 0;
  let byteOffset = 0;
  let openingByteOffset = 0;
  let openingLine = 1;
  const startTags = new MarkQueue();
  const tagEnds = new MarkQueue();

  function scan(text: string): GuardStop | null {
    for (let index = 0; index < text.length; index += 1) {
      const char = text.charAt(index);
      if (char === '\n') {
        line += 1;
        column = 0;
      } else column += 1;
      tokenChars += 1;
      const charByteOffset = byteOffset;
      byteOffset += utf8Bytes(text.charCodeAt(index));
      const stop = step(char, index, charByteOffset);
      if (stop !== null) return stop;
      if (tokenChars > tokenCharsMax) {
        const message =
          `A ${TOKEN_NAMES[state]} is longer than ${tokenCharsMax} characters; ` +
          'the delivery is not read further.';
        return { index, code: 'limit.token_chars', message, position: { line, column } };
      }
    }
    return null;
  }

  function step(char: string, index: number, charByteOffset: number): GuardStop | null {
    switch (state) {
      case 'text':
        if (char === '<') {
          begin('open');
          openingByteOffset = charByteOffset;
          openingLine = line;
        }
        return null;
      case 'open':
        if (char === '?') state = 'pi';
        else if (char === '!') state = 'bang';
        else {
          if (char !== '/') startTags.push(openingByteOffset, openingLine);
          tagChar(char, charByteOffset);
        }
        if (state === 'bang') bangPrefix = '';
        return null;
      case 'bang':
        return bangChar(char, index);
      case 'tag':
        tagChar(char, charByteOffset);
        return null;
      case 'comment':
        return endsWith(char, '-->');
      case 'cdata':
        return endsWith(char, ']]>');
      case 'pi':
        return endsWith(char, '?>');
      case 'declaration':
        if (char === '>') begin('text');
        return null;
      default:
        return unreachable(state);
    }
  }

  function begin(next: LexState): void {
    state = next;
    tokenChars = next === 'text' ? 0 : 1;
    quote = '';
    tail = '';
  }

  function tagChar(char: string, charByteOffset: number): void {
    state = 'tag';
    if (quote !== '') {
      if (char === quote) quote = '';
    } else if (char === '"' || char === "'") quote = char;
    else if (char === '>') {
      tagEnds.push(charByteOffset + 1, line);
      begin('text');
    }
  }

  function bangChar(char: string, index: number): GuardStop | null {
    bangPrefix += char;
    if (bangPrefix === BANG_PREFIXES.doctype) {
      const message =
        'The document has a DOCTYPE declaration; DOCTYPEs are refused so that no entity ' +
        'expansion or external entity can happen.';
      return { index, code: 'xml.doctype', message, position: { line, column } };
    }
    if (bangPrefix === BANG_PREFIXES.comment) state = 'comment';
    else if (bangPrefix === BANG_PREFIXES.cdata) state = 'cdata';
    else if (!Object.values(BANG_PREFIXES).some((prefix) => prefix.startsWith(bangPrefix))) {
      state = 'declaration';
    }
    return null;
  }

  function endsWith(char: string, terminator: string): null {
    tail = (tail + char).slice(-terminator.length);
    if (tail === terminator) begin('text');
    return null;
  }

  return {
    scan,
    skipBytes: (count: number) => {
      byteOffset += count;
    },
    takeStartTag: () => startTags.take('start tag'),
    takeTagEnd: () => tagEnds.take('tag end'),
  };
}

/**
 * UTF-8 bytes of one UTF-16 code unit of decoded text. Each half of a surrogate pair counts 2, so
 * a pair counts the 4 bytes of its code point; decoded text holds no unpaired surrogate.
 */
function utf8Bytes(code: number): number {
  if (code < 0x80) return 1;
  if (code < 0x800) return 2;
  if (code >= 0xd800 && code <= 0xdfff) return 2;
  return 3;
}

function unreachable(value: never): never {
  throw new Error(`unreachable lexer state ${String(value)}`);
}
