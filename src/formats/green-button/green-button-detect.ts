/**
 * Tells a Green Button delivery by its first bytes, whatever the file is called: after an optional
 * byte order mark, XML declaration, processing instructions, comments, DOCTYPE (which the reader
 * then refuses) and whitespace, the root element is an Atom `feed` or `entry` in the Atom
 * namespace, or an ESPI resource in the ESPI namespace, each declared on the root element. Other
 * XML (`<xml/>`, an RSS feed) is not taken; an Atom feed of something else is, and yields nothing.
 */
import { ATOM_NAMESPACE, ESPI_NAMESPACE } from './green-button.js';

/** ESPI resources that can be the root of a direct document. */
const ESPI_ROOTS = new Set([
  'UsagePoint',
  'MeterReading',
  'ReadingType',
  'IntervalBlock',
  'IntervalReading',
  'LocalTimeParameters',
  'ElectricPowerUsageSummary',
  'ElectricPowerQualitySummary',
  'UsageSummary',
]);
const ATOM_ROOTS = new Set(['feed', 'entry']);

const ROOT_TAG_PATTERN = /^<(?:([A-Za-z_][\w.-]*):)?([A-Za-z_][\w.-]*)(\s[^>]*)?\/?>/;
const WHITESPACE = /\s/;

/** True when the text (a delivery's head, decoded) starts a Green Button document. */
export function isGreenButtonHead(text: string): boolean {
  const start = rootStart(text);
  if (start === -1) return false;
  const match = ROOT_TAG_PATTERN.exec(text.slice(start));
  if (match === null) return false;
  const [, prefix, local = '', attributes = ''] = match;
  const namespace = declaredNamespace(attributes, prefix ?? null);
  if (ATOM_ROOTS.has(local)) return namespace === ATOM_NAMESPACE;
  return ESPI_ROOTS.has(local) && namespace === ESPI_NAMESPACE;
}

/** Where the root element's `<` is, past the prolog; -1 when the head does not show it. */
function rootStart(text: string): number {
  let index = text.startsWith('\ufeff') ? 1 : 0;
  for (;;) {
    while (index < text.length && WHITESPACE.test(text.charAt(index))) index += 1;
    let end: number;
    if (text.startsWith('<?', index)) end = after(text, '?>', index + 2);
    else if (text.startsWith('<!--', index)) end = after(text, '-->', index + 4);
    else if (text.startsWith('<!DOCTYPE', index)) end = doctypeEnd(text, index + 9);
    else return text.charAt(index) === '<' ? index : -1;
    if (end === -1) return -1;
    index = end;
  }
}

function after(text: string, terminator: string, from: number): number {
  const at = text.indexOf(terminator, from);
  return at === -1 ? -1 : at + terminator.length;
}

/** Past a DOCTYPE's closing `>`, skipping quoted literals and an internal subset. */
function doctypeEnd(text: string, from: number): number {
  let quote = '';
  let depth = 0;
  for (let index = from; index < text.length; index += 1) {
    const char = text.charAt(index);
    if (quote !== '') {
      if (char === quote) quote = '';
    } else if (char === '"' || char === "'") quote = char;
    else if (char === '[') depth += 1;
    else if (char === ']') depth -= 1;
    else if (char === '>' && depth <= 0) return index + 1;
  }
  return -1;
}

function declaredNamespace(attributes: string, prefix: string | null): string | null {
  const name = prefix === null ? 'xmlns' : `xmlns:${prefix}`;
  const escaped = name.replace(/[.-]/g, '\\$&');
  const pattern = new RegExp(`(?:^|\\s)${escaped}\\s*=\\s*(["'])(.*?)\\1`);
  return pattern.exec(attributes)?.[2] ?? null;
}
