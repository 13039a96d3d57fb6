/**
 * Text that amisync hashes and stores must be well-formed Unicode. JavaScript strings may hold an
 * unpaired UTF-16 surrogate (a JSON escape such as `\ud800` makes one); SQLite and SHA-256 each
 * turn it into different bytes (three replacement characters in one, one in the other), so a
 * stored row would no longer match the hash recorded for it, and `audit verify` would report
 * tampering that never happened. Records holding such text are refused; text that is kept anyway
 * (a violation's value, a message) has each unpaired surrogate written out as its escape.
 */

// With the `u` flag a surrogate range matches only surrogates that are not part of a pair.
const UNPAIRED_SURROGATE = /[\uD800-\uDFFF]/u;
const UNPAIRED_SURROGATES = /[\uD800-\uDFFF]/gu;

/** Whether `text` is well-formed Unicode: no unpaired surrogate. */
export function isWellFormedText(text: string): boolean {
  return !UNPAIRED_SURROGATE.test(text);
}

/** The escape of a UTF-16 code unit as JSON and JavaScript write it: `\ud800`. */
export function codeUnitEscape(codeUnit: number): string {
  return `\\u${codeUnit.toString(16).padStart(4, '0')}`;
}

/**
 * `text` with each unpaired surrogate written as its escape (`\ud800`), so that what is stored,
 * hashed and shown are the same characters. Well-formed text comes back unchanged.
 */
export function escapeUnpairedSurrogates(text: string): string {
  if (isWellFormedText(text)) return text;
  return text.replace(UNPAIRED_SURROGATES, (unit) => codeUnitEscape(unit.charCodeAt(0)));
}

const HTML_ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Text for an HTML element's content or a quoted attribute (every page amisync writes). */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => HTML_ESCAPES[character] ?? character);
}
