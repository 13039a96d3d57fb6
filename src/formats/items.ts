/**
 * Builders for what parsers return, so every format words its rejects the same way. Parse rejects
 * name the field `record`: the bytes could not be read as fields at all.
 */
import type { ParseItem } from '../core/parser.js';
import type { RecordLocation } from '../core/reading.js';
import { RECORD_BYTES_MAX } from '../core/limits.js';
import { recordReject, violation, type RejectCode } from '../core/reject.js';

export function recordItem(
  fields: Readonly<Record<string, unknown>>,
  location: RecordLocation,
): ParseItem {
  return { kind: 'record', record: { fields, location } };
}

/** One record that could not be read; the stream goes on after it. */
export function rejectItem(
  code: RejectCode,
  value: unknown,
  message: string,
  location: RecordLocation,
  meterId: string | null = null,
): ParseItem {
  const reject = recordReject([violation(code, 'record', value, message)], location, meterId);
  return { kind: 'reject', reject };
}

/** A span of bytes whose record count is unknown (the rest of a delivery, say), counted once. */
export function spanRejectItem(
  code: RejectCode,
  value: unknown,
  message: string,
  location: RecordLocation,
): ParseItem {
  const reject = recordReject([violation(code, 'record', value, message)], location);
  return { kind: 'reject', reject: { ...reject, uncountedSpan: true } };
}

export function tooLargeItem(location: RecordLocation): ParseItem {
  const message =
    `Line ${location.line}: the record is ${location.byteLength} bytes, more than the limit of ` +
    `${RECORD_BYTES_MAX}; it was not parsed, and its bytes are kept in the raw store ` +
    '(quarantine show --raw-out FILE writes them out).';
  return rejectItem('parse.record_too_large', `${location.byteLength} bytes`, message, location);
}

export function encodingItem(shownText: string, location: RecordLocation): ParseItem {
  const message = `Line ${location.line}: the record is not valid UTF-8.`;
  return rejectItem('parse.encoding', shownText, message, location);
}

/** Where a typed reader said a record stood: its line and byte span. */
export interface SourceSpan {
  line: number;
  byteOffset: number;
  byteLength: number;
}

/**
 * Numbers a delivery's items in the order they are handed over: each record index is the next
 * one, so a replay that reads the delivery again finds the same item at the same index.
 */
export class RecordNumbering {
  #next = 0;

  locate(source: SourceSpan): RecordLocation {
    const location = {
      recordIndex: this.#next,
      line: source.line,
      byteOffset: source.byteOffset,
      byteLength: source.byteLength,
    };
    this.#next += 1;
    return location;
  }
}
