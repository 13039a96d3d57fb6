/**
 * One JSON record, from its bytes or text to a record or a reject. The NDJSON and JSON-array
 * parsers and replay all go through here, so a record re-parsed alone gets exactly the verdict it
 * got in its stream.
 */
import type { ParseItem } from '../core/parser.js';
import type { RecordLocation } from '../core/reading.js';
import { JSON_DEPTH_MAX, RECORD_BYTES_MAX, RECORD_FIELDS_MAX } from '../core/limits.js';
import { decodeUtf8, decodeUtf8Lenient } from './bytes.js';
import { recordReject, violation, type RejectCode } from '../core/reject.js';
import { encodingItem, recordItem, rejectItem, tooLargeItem } from './items.js';
import { unpairedSurrogateItem } from './json-unicode.js';

export function parseJsonRecordBytes(bytes: Uint8Array, location: RecordLocation): ParseItem {
  if (bytes.length > RECORD_BYTES_MAX) return tooLargeItem(location);
  const text = decodeUtf8(bytes);
  if (text === null) return encodingItem(decodeUtf8Lenient(bytes), location);
  return parseJsonRecordText(text, location);
}

/** `text` is the record's bytes already decoded; its byte length was checked by the caller. */
export function parseJsonRecordText(text: string, location: RecordLocation): ParseItem {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    const message = `Line ${location.line}: the record is not valid JSON (${reason}).`;
    return rejectItem('parse.syntax', text, message, location);
  }
  return jsonValueItem(value, text, location);
}

/** The verdict on a value JSON.parse returned for `text`: a record, or why it cannot be one. */
export function jsonValueItem(value: unknown, text: string, location: RecordLocation): ParseItem {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const kind = describeJsonKind(value);
    const message = `Line ${location.line}: the record is ${kind}, not an object.`;
    return rejectItem('parse.not_an_object', value, message, location);
  }
  const record = value as Record<string, unknown>;
  const meterId = typeof record['meter_id'] === 'string' ? record['meter_id'] : null;
  const limit = exceededLimit(record);
  if (limit.message !== null) {
    const message = `Line ${location.line}: ${limit.message}`;
    return rejectItem('parse.record_too_large', text, message, location, meterId);
  }
  const unpaired = unpairedSurrogateItem(record, text, location, meterId);
  if (unpaired !== null) return unpaired;
  const scan = scanRecordText(text);
  if (scan.keyCount !== limit.keyCount) {
    const duplicate = findDuplicateKey(text);
    if (duplicate !== null) {
      const where = duplicate.path === '' ? 'the record' : `the object under ${duplicate.path}`;
      const message =
        `Line ${location.line}: the key ${JSON.stringify(duplicate.key)} appears more than once ` +
        `in ${where}; JSON readers disagree on which value counts, so the record is not read.`;
      const { key } = duplicate;
      return fieldRejectItem('parse.duplicate_key', key, key, message, location, meterId);
    }
  }
  if (scan.suspectNumbers) {
    const inexact = inexactNumber(text);
    if (inexact !== null) {
      const message =
        `Line ${location.line}: the number ${inexact.literal} given for ${inexact.field} is not ` +
        `carried exactly by a JSON number (it would read as ${inexact.read}); send it ` +
        'with fewer digits or as a decimal string.';
      const { field, literal } = inexact;
      return fieldRejectItem('parse.inexact_number', field, literal, message, location, meterId);
    }
  }
  return recordItem(record, location);
}

/** A reject about one field, unlike rejectItem's about the whole record. */
function fieldRejectItem(
  code: RejectCode,
  field: string,
  value: string,
  message: string,
  location: RecordLocation,
  meterId: string | null,
): ParseItem {
  return {
    kind: 'reject',
    reject: recordReject([violation(code, field, value, message)], location, meterId),
  };
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const MINUS = 0x2d;
const DIGIT_ZERO = 0x30;
const DIGIT_NINE = 0x39;
const LOWER_E = 0x65;
const UPPER_E = 0x45;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/**
 * A number literal of at most this many digits and no exponent always reads back exactly. Proof:
 * with no exponent, 15 digits or fewer means at most 15 significant digits and a magnitude between
 * 1e-15 and 1e15, inside the doubles' normal range; every decimal of at most 15 significant digits
 * (DBL_DIG) maps to a double of its own, and the shortest decimal that reads back to that double
 * (what String gives, and what the exact-decimal checks downstream see) has at most as many
 * digits, so it is the literal's own value. At 16 digits this fails (9007199254740993 reads as
 * 9007199254740992), and an exponent can leave the range (1e400 is Infinity, 2.5e-324 a
 * subnormal), so those literals get the precise check.
 */
const EXACT_NUMBER_DIGITS_MAX = 15;

interface TextScan {
  /** Colons outside strings: in valid JSON each one follows a key, so this counts keys. */
  keyCount: number;
  /** Whether some number literal has more than EXACT_NUMBER_DIGITS_MAX digits or an exponent. */
  suspectNumbers: boolean;
}

/**
 * One pass over valid JSON text, jumping over strings: it counts keys and flags number literals
 * a double may not carry. Only the text between strings is read byte by byte, and in a record
 * that is a few punctuation marks and numbers per field.
 */
function scanRecordText(text: string): TextScan {
  let keyCount = 0;
  let suspectNumbers = false;
  const length = text.length;
  let at = 0;
  while (at < length) {
    const code = text.charCodeAt(at);
    if (code === QUOTE) {
      at = stringEnd(text, at);
    } else if (code === COLON) {
      keyCount += 1;
      at += 1;
    } else if (code === MINUS || (code >= DIGIT_ZERO && code <= DIGIT_NINE)) {
      const end = numberEnd(text, at);
      if (!suspectNumbers) suspectNumbers = isSuspectNumber(text, at, end);
      at = end;
    } else {
      at += 1;
    }
  }
  return { keyCount, suspectNumbers };
}

/** The index just past the string whose opening quote is at `start` (the text is valid JSON). */
function stringEnd(text: string, start: number): number {
  let close = text.indexOf('"', start + 1);
  while (close !== -1 && isEscaped(text, close)) close = text.indexOf('"', close + 1);
  return close === -1 ? text.length : close + 1;
}

/** Whether the quote at `at` is escaped: an odd run of backslashes stands before it. */
function isEscaped(text: string, at: number): boolean {
  let backslashes = 0;
  while (text.charCodeAt(at - 1 - backslashes) === BACKSLASH) backslashes += 1;
  return backslashes % 2 === 1;
}

function numberEnd(text: string, start: number): number {
  let at = start + 1;
  while (at < text.length && isNumberChar(text.charCodeAt(at))) at += 1;
  return at;
}

function isNumberChar(code: number): boolean {
  return (
    (code >= DIGIT_ZERO && code <= DIGIT_NINE) ||
    code === 0x2e ||
    code === LOWER_E ||
    code === UPPER_E ||
    code === 0x2b ||
    code === MINUS
  );
}

function isSuspectNumber(text: string, start: number, end: number): boolean {
  let digits = 0;
  for (let at = start; at < end; at++) {
    const code = text.charCodeAt(at);
    if (code === LOWER_E || code === UPPER_E) return true;
    if (code >= DIGIT_ZERO && code <= DIGIT_NINE) digits += 1;
  }
  return digits > EXACT_NUMBER_DIGITS_MAX;
}

interface InexactNumber {
  /** The top-level field the number stands in, itself or nested inside it. */
  field: string;
  literal: string;
  read: string;
}

/**
 * The first number literal in valid JSON `text` whose double does not read back as the literal's
 * decimal value, with the top-level field it is in; null when none. Nested numbers count too: a
 * dictionary may map a nested value to a field.
 */
function inexactNumber(text: string): InexactNumber | null {
  let depth = 0;
  let fieldStart = -1;
  let fieldEnd = -1;
  let at = 0;
  while (at < text.length) {
    const code = text.charCodeAt(at);
    if (code === QUOTE) {
      const end = stringEnd(text, at);
      if (depth === 1 && isKeyAt(text, end)) {
        fieldStart = at;
        fieldEnd = end;
      }
      at = end;
    } else if (code === OPEN_BRACE || code === OPEN_BRACKET) {
      depth += 1;
      at += 1;
    } else if (code === CLOSE_BRACE || code === CLOSE_BRACKET) {
      depth -= 1;
      at += 1;
    } else if (code === MINUS || (code >= DIGIT_ZERO && code <= DIGIT_NINE)) {
      const end = numberEnd(text, at);
      const literal = text.slice(at, end);
      const read = Number(literal);
      if (!Number.isFinite(read) || !sameDecimal(literal, String(read))) {
        const field = fieldStart === -1 ? 'record' : decodeKey(text, fieldStart, fieldEnd);
        return { field, literal, read: String(read) };
      }
      at = end;
    } else {
      at += 1;
    }
  }
  return null;
}

/** Whether the string ending just before `at` is a key: a colon follows it, after whitespace. */
function isKeyAt(text: string, at: number): boolean {
  let cursor = at;
  while (isJsonWhitespace(text.charCodeAt(cursor))) cursor += 1;
  return text.charCodeAt(cursor) === COLON;
}

function isJsonWhitespace(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d;
}

/** The key a string token stands for, escapes decoded (`"meter\u005fid"` is `meter_id`). */
function decodeKey(text: string, start: number, end: number): string {
  const token = text.slice(start, end);
  return token.includes('\\') ? (JSON.parse(token) as string) : token.slice(1, -1);
}

interface DuplicateKey {
  key: string;
  /** The top-level field holding the object with the duplicate, or '' for the record itself. */
  path: string;
}

/**
 * The first key that appears twice in one object of valid JSON `text`, compared decoded. Only run
 * when the keys in the text outnumber those JSON.parse kept, so its sets cost nothing usually.
 */
function findDuplicateKey(text: string): DuplicateKey | null {
  const objects: (Set<string> | null)[] = [];
  let topField = '';
  let at = 0;
  while (at < text.length) {
    const code = text.charCodeAt(at);
    if (code === QUOTE) {
      const end = stringEnd(text, at);
      const keys = objects[objects.length - 1];
      if (keys !== undefined && keys !== null && isKeyAt(text, end)) {
        const key = decodeKey(text, at, end);
        if (keys.has(key)) return { key, path: objects.length === 1 ? '' : topField };
        keys.add(key);
        if (objects.length === 1) topField = key;
      }
      at = end;
    } else {
      if (code === OPEN_BRACE) objects.push(new Set());
      else if (code === OPEN_BRACKET) objects.push(null);
      else if (code === CLOSE_BRACE || code === CLOSE_BRACKET) objects.pop();
      at += 1;
    }
  }
  return null;
}

/** Whether two decimal literals denote the same number, compared digit by digit (no floats). */
function sameDecimal(a: string, b: string): boolean {
  return normalizeDecimal(a) === normalizeDecimal(b);
}

/** `-`?digits`e`exponent with no leading or trailing zeros in the digits: a canonical decimal. */
function normalizeDecimal(literal: string): string {
  const match = /^(-?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([-+]?[0-9]+))?$/.exec(literal);
  if (match === null) return literal;
  const sign = match[1] ?? '';
  const whole = match[2] ?? '';
  const fraction = match[3] ?? '';
  // BigInt keeps an exponent of any length exact, so 1e99999999999999999999 is not 1e+Infinity.
  let exponent = BigInt(match[4] ?? '0') - BigInt(fraction.length);
  let digits = (whole + fraction).replace(/^0+/, '');
  if (digits === '') return '0';
  while (digits.endsWith('0')) {
    digits = digits.slice(0, -1);
    exponent += 1n;
  }
  return `${sign}${digits}e${exponent}`;
}

interface LimitCheck {
  /** Why the record is too large, or null. */
  message: string | null;
  /** Keys in the record and every object nested in it; counted only when within the limits. */
  keyCount: number;
}

function exceededLimit(record: Record<string, unknown>): LimitCheck {
  // One pass serves both limits; for-in measured faster than Object.keys or Object.values here. It
  // would also count enumerable keys added to Object.prototype, which nothing in amisync does.
  let fieldCount = 0;
  let tooDeep = false;
  let nestedKeyCount = 0;
  for (const key in record) {
    fieldCount += 1;
    const value = record[key];
    if (typeof value === 'object' && value !== null && !tooDeep) {
      tooDeep = nestsDeeperThan(value, JSON_DEPTH_MAX - 1);
      // Counted only once the depth is known to be bounded, so the recursion is bounded too.
      if (!tooDeep) nestedKeyCount += countKeys(value);
    }
  }
  if (fieldCount > RECORD_FIELDS_MAX) {
    const message = `the record has ${fieldCount} fields, more than the limit of ${RECORD_FIELDS_MAX}.`;
    return { message, keyCount: 0 };
  }
  if (tooDeep) {
    return {
      message: `the record nests objects or arrays more than ${JSON_DEPTH_MAX} deep.`,
      keyCount: 0,
    };
  }
  return { message: null, keyCount: fieldCount + nestedKeyCount };
}

/** Keys of every object in `value`, itself included; `value` nests at most JSON_DEPTH_MAX deep. */
function countKeys(value: object): number {
  let count = 0;
  if (Array.isArray(value)) {
    for (const child of value)
      if (typeof child === 'object' && child !== null) count += countKeys(child);
    return count;
  }
  for (const child of Object.values(value)) {
    count += 1;
    if (typeof child === 'object' && child !== null) count += countKeys(child as object);
  }
  return count;
}

/** True when `value` holds containers more than `depthMax` deep, counting itself. */
function nestsDeeperThan(value: unknown, depthMax: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (depthMax === 0) return true;
  const children: unknown[] = Array.isArray(value) ? value : Object.values(value);
  return children.some((child) => nestsDeeperThan(child, depthMax - 1));
}

function describeJsonKind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}
