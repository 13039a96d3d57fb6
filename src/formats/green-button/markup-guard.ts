/**
 * A small lexer run over decoded text before the XML parser sees it. The parser buffers a whole
 * text node, tag, comment or DOCTYPE before it reports it, so limits on those must be enforced
 * here, while streaming: the guard counts the current token's characters and stops at the first
 * one over the limit, and it stops at `<!DOCTYPE` before any of the declaration is parsed.
 */
import type { EspiProblemCode, TextPosition } from './green-button.js';

export interface GuardStop {
  /** Index in the scanned text of the character that broke the rule. */
  index: number;
  code: EspiProblemCode;
  message: string;
  position: TextPosition;
}

export interface MarkupGuard {
  /** Scans the next decoded text; returns the first violation, or null. */
  scan(text: string): GuardStop | null;
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

  function scan(text: string): GuardStop | null {
    for (let index = 0; index < text.length; index += 1) {
      const char = text.charAt(index);
      if (char === '\n') {
        line += 1;
        column = 0;
      } else column += 1;
      tokenChars += 1;
      const stop = step(char, index);
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

  function step(char: string, index: number): GuardStop | null {
    switch (state) {
      case 'text':
        if (char === '<') begin('open');
        return null;
      case 'open':
        if (char === '?') state = 'pi';
        else if (char === '!') state = 'bang';
        else tagChar(char);
        if (state === 'bang') bangPrefix = '';
        return null;
      case 'bang':
        return bangChar(char, index);
      case 'tag':
        tagChar(char);
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

  function tagChar(char: string): void {
    state = 'tag';
    if (quote !== '') {
      if (char === quote) quote = '';
    } else if (char === '"' || char === "'") quote = char;
    else if (char === '>') begin('text');
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

  return { scan };
}

function unreachable(value: never): never {
  throw new Error(`unreachable lexer state ${String(value)}`);
}
