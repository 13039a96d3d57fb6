/**
 * JSON can spell text that is not Unicode: the escape `\ud800` stands for half of a surrogate pair
 * with no other half. Such text cannot be stored or hashed faithfully (core/text.ts), so a record
 * holding it anywhere, in a key or a value at any depth, is refused before any field is judged.
 */
import type { RecordLocation } from '../core/reading.js';
import { recordReject, violation } from '../core/reject.js';
import { escapeUnpairedSurrogates, isWellFormedText } from '../core/text.js';
import type { ParseItem } from '../core/parser.js';

interface Found {
  /** Where the text stands: `meter_id`, `extra.notes[2]`, or the key itself for a bad key. */
  path: string;
  text: string;
  inKey: boolean;
}

/**
 * The reject for a record whose text holds an unpaired surrogate, or null when it holds none.
 * `text` is the record's decoded bytes, themselves well-formed: only a `\u` escape can make an
 * unpaired surrogate, so a record without one is passed at the cost of one search.
 */
export function unpairedSurrogateItem(
  record: Readonly<Record<string, unknown>>,
  text: string,
  location: RecordLocation,
  meterId: string | null,
): ParseItem | null {
  if (!text.includes('\\u')) return null;
  const found = findUnpaired(record, '');
  if (found === null) return null;
  const where = found.inKey
    ? `a key of ${found.path === '' ? 'the record' : found.path}`
    : found.path;
  const shown = escapeUnpairedSurrogates(found.text);
  const message =
    `Line ${location.line}: ${where} holds ${JSON.stringify(shown)}, whose escape is half of a ` +
    'UTF-16 surrogate pair with no other half: it is not Unicode text, so it cannot be stored ' +
    'or hashed as sent.';
  const field = found.inKey ? 'record' : found.path;
  const reject = recordReject(
    [violation('parse.unpaired_surrogate', field, found.text, message)],
    location,
    meterId !== null && isWellFormedText(meterId) ? meterId : null,
  );
  return { kind: 'reject', reject };
}

/** The first unpaired surrogate in `value`'s keys and strings, depth first; null when none. */
function findUnpaired(value: unknown, path: string): Found | null {
  if (typeof value === 'string') {
    return isWellFormedText(value) ? null : { path, text: value, inKey: false };
  }
  if (typeof value !== 'object' || value === null) return null;
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index++) {
      const found = findUnpaired(value[index], `${path}[${index}]`);
      if (found !== null) return found;
    }
    return null;
  }
  for (const key in value) {
    if (!isWellFormedText(key)) return { path, text: key, inKey: true };
    const found = findUnpaired(
      (value as Record<string, unknown>)[key],
      path === '' ? key : `${path}.${key}`,
    );
    if (found !== null) return found;
  }
  return null;
}
