/**
 * One JSON record, from its bytes or text to a record or a reject. The NDJSON and JSON-array
 * parsers and replay all go through here, so a record re-parsed alone gets exactly the verdict it
 * got in its stream.
 */
import type { ParseItem } from '../core/parser.js';
import type { RecordLocation } from '../core/reading.js';
import { JSON_DEPTH_MAX, RECORD_BYTES_MAX, RECORD_FIELDS_MAX } from '../core/limits.js';
import { decodeUtf8, decodeUtf8Lenient } from './bytes.js';
import { encodingItem, recordItem, rejectItem, tooLargeItem } from './items.js';

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
  const limitMessage = exceededLimit(record);
  if (limitMessage !== null) {
    const meterId = typeof record['meter_id'] === 'string' ? record['meter_id'] : null;
    const message = `Line ${location.line}: ${limitMessage}`;
    return rejectItem('parse.record_too_large', text, message, location, meterId);
  }
  return recordItem(record, location);
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
