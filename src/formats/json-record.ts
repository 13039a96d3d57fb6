/**
 * One JSON record, from its bytes or text to a record or a reject. The NDJSON and JSON-array
 * parsers and replay all go through here, so a record re-parsed alone gets exactly the verdict it
 * got in its stream.
 */
import type { ParseItem } from '../core/parser.js';
import type { RecordLocation } from '../core/reading.js';
import { JSON_DEPTH_MAX, RECORD_BYTES_MAX, RECORD_FIELDS_MAX } from '../core/limits.js';
import { decodeUtf8, decodeUtf8Lenient } from './bytes.js';
import { recordReject, violation } from '../core/reject.js';
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
  const limitMessage = exceededLimit(record);
  if (limitMessage !== null) {
    const message = `Line ${location.line}: ${limitMessage}`;
    return rejectItem('parse.record_too_large', text, message, location, meterId);
  }
  const unpaired = unpairedSurrogateItem(record, text, location, meterId);
  if (unpaired !== null) return unpaired;
  if (hasLongNumberRun(text)) {
    const inexact = inexactNumber(record, text);
    if (inexact !== null) {
      const message =
        `Line ${location.line}: the number ${inexact.literal} given for ${inexact.field} has more ` +
        `digits than a JSON number carries exactly (it would read as ${inexact.read}); send it ` +
        'with fewer digits or as a decimal string.';
      return {
        kind: 'reject',
        reject: recordReject(
          [violation('parse.inexact_number', inexact.field, inexact.literal, message)],
          location,
          meterId,
        ),
      };
    }
  }
  return recordItem(record, location);
}

/**
 * JSON.parse reads numbers as doubles, which carry 15 to 17 significant digits: a longer literal
 * such as 100.000000000000001 silently reads as 100, and exact-decimal checks downstream never see
 * what was sent. Only a run of at least 17 digits and dots can be such a literal, so the precise
 * check runs on the rare record that has one (a long hexadecimal checksum, say).
 */
const NUMBER_RUN_CHARS_MIN = 17;
const RUN_SAMPLE_STEP = 8;

/**
 * Whether `text` has a run of NUMBER_RUN_CHARS_MIN digits and dots. Such a run covers at least two
 * consecutive positions of every RUN_SAMPLE_STEP-th character, so only those are looked at first: a
 * regular expression over the whole record cost a fifth of the parse.
 */
function hasLongNumberRun(text: string): boolean {
  let previousInRun = false;
  for (let at = 0; at < text.length; at += RUN_SAMPLE_STEP) {
    const inRun = isDigitOrDot(text.charCodeAt(at));
    if (inRun && previousInRun && runLengthAround(text, at) >= NUMBER_RUN_CHARS_MIN) return true;
    previousInRun = inRun;
  }
  return false;
}

function isDigitOrDot(charCode: number): boolean {
  return (charCode >= 48 && charCode <= 57) || charCode === 46;
}

function runLengthAround(text: string, at: number): number {
  let start = at;
  while (start > 0 && isDigitOrDot(text.charCodeAt(start - 1))) start -= 1;
  let end = at;
  while (end < text.length && isDigitOrDot(text.charCodeAt(end))) end += 1;
  return end - start;
}

interface InexactNumber {
  field: string;
  literal: string;
  read: string;
}

/** A top-level number field whose literal in `text` is not what JSON.parse read; null when none. */
function inexactNumber(record: Record<string, unknown>, text: string): InexactNumber | null {
  for (const field in record) {
    const value = record[field];
    if (typeof value !== 'number' || !Number.isFinite(value)) continue;
    const literal = numberLiteral(text, field);
    if (literal === null || Number(literal) !== value) continue;
    if (!sameDecimal(literal, String(value))) return { field, literal, read: String(value) };
  }
  return null;
}

/** The number literal after the last `"field":` in `text` (JSON.parse keeps the last duplicate). */
function numberLiteral(text: string, field: string): string | null {
  const key = JSON.stringify(field);
  let at = text.lastIndexOf(key);
  if (at === -1) return null;
  at += key.length;
  while (at < text.length && /[\s:]/.test(text.charAt(at))) at += 1;
  const match = /^-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?/.exec(text.slice(at, at + 400));
  return match === null ? null : match[0];
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
  let exponent = Number(match[4] ?? '0') - fraction.length;
  let digits = (whole + fraction).replace(/^0+/, '');
  if (digits === '') return '0';
  while (digits.endsWith('0')) {
    digits = digits.slice(0, -1);
    exponent += 1;
  }
  return `${sign}${digits}e${exponent}`;
}

function exceededLimit(record: Record<string, unknown>): string | null {
  // One pass serves both limits; for-in measured faster than Object.keys or Object.values here. It
  // would also count enumerable keys added to Object.prototype, which nothing in amisync does.
  let fieldCount = 0;
  let tooDeep = false;
  for (const key in record) {
    fieldCount += 1;
    const value = record[key];
    if (typeof value === 'object' && value !== null && !tooDeep) {
      tooDeep = nestsDeeperThan(value, JSON_DEPTH_MAX - 1);
    }
  }
  if (fieldCount > RECORD_FIELDS_MAX) {
    return `the record has ${fieldCount} fields, more than the limit of ${RECORD_FIELDS_MAX}.`;
  }
  if (tooDeep) return `the record nests objects or arrays more than ${JSON_DEPTH_MAX} deep.`;
  return null;
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
