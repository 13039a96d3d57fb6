/**
 * Data errors are values (STYLE 2). A reject names the rule that failed, the field and value it
 * failed on, where the record stood, and a sentence a billing clerk can read. Rejects are kept in
 * quarantine with the record's raw bytes, never dropped.
 */
import type { RecordLocation } from './reading.js';
import { escapeUnpairedSurrogates } from './text.js';

/** Every rule a record can fail, in one list. docs/errors.md explains each one. */
export const REJECT_CODES = [
  // The bytes could not be read as records at all.
  'parse.syntax',
  'parse.encoding',
  'parse.record_too_large',
  'parse.not_an_object',
  'parse.inexact_number',
  'parse.unpaired_surrogate',
  'parse.duplicate_key',
  // A page that should be JSON (a JSON dialect's API response) is not: an HTML error page, say.
  'parse.not_json',
  // A delivery of zero bytes or only whitespace: one span, so the operator sees it in quarantine.
  'parse.empty',
  'parse.csv_header',
  'parse.csv_columns',
  // A typed format's reader (NEM12, CMEP, a CSV dialect) found the line malformed; the violation's
  // field holds the reader's own problem code (`nem12.interval_count_mismatch`).
  'parse.format',
  // Schema: which fields, of which type.
  'field.missing',
  'field.unknown',
  'field.type',
  // Semantics from the data dictionary.
  'meter_id.pattern',
  'channel.pattern',
  'channel.not_allowed',
  'timestamp.format',
  'timestamp.no_offset',
  'timestamp.dst_ambiguous',
  'timestamp.dst_nonexistent',
  'timestamp.future',
  'timestamp.alignment',
  'timestamp.range',
  'interval_seconds.not_integer',
  'interval_seconds.not_allowed',
  'consumption.not_decimal',
  'consumption.not_finite',
  'consumption.negative_zero',
  'consumption.precision',
  'consumption.range',
  'status_code.not_integer',
  'status_code.range',
  'seq.not_integer',
  'seq.range',
  'quality.unknown',
  'quality.contradicts_status',
  'checksum.format',
  'checksum.mismatch',
  // Identity against the ledger (ARCH 2.4).
  'identity.conflict',
  'identity.revision_held',
  'identity.unit_changed',
] as const;

export type RejectCode = (typeof REJECT_CODES)[number];

/** One violated rule of one record. A record may carry several. */
export interface Violation {
  code: RejectCode;
  /** The field in the reference feed's names (`meter_id`, `consumption_kwh`...), or `record`. */
  field: string;
  /** The offending value as text, cut to VIOLATION_VALUE_CHARS_MAX characters. */
  value: string;
  message: string;
}

/** A record that will not enter the ledger: its violations and where its raw bytes are. */
export interface Reject {
  violations: Violation[];
  location: RecordLocation;
  /** Best-effort identity of the record, for listing and search; null where unknown. */
  meterId: string | null;
  /** Set when the reject is about an existing ledger row (conflict, held revision). */
  relatedIdempotencyKey: string | null;
  /** Set when the record parsed and validated but was held for identity reasons. */
  idempotencyKey: string | null;
  /**
   * True when this one reject stands for a span of bytes whose record count is unknown (a file, or
   * the rest of one, that could not be parsed). It is counted once.
   */
  uncountedSpan: boolean;
}

export const VIOLATION_VALUE_CHARS_MAX = 200;

/** Renders any value for a violation: strings as-is, others as JSON, cut to a bounded length. */
export function describeValue(value: unknown): string {
  let text: string;
  if (value === undefined) text = '(absent)';
  else if (typeof value === 'string') text = value;
  else if (typeof value === 'number' && Object.is(value, -0)) text = '-0';
  // JSON would render NaN and Infinity (a literal 1e309, say) as null, hiding what was sent.
  else if (typeof value === 'number' && !Number.isFinite(value)) text = String(value);
  else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = String(value);
    }
  }
  // Escaped before the cut, so the cut never splits a pair into two unpaired halves.
  text = escapeUnpairedSurrogates(text);
  if (text.length <= VIOLATION_VALUE_CHARS_MAX) return text;
  const cutAt = isHighSurrogate(text.charCodeAt(VIOLATION_VALUE_CHARS_MAX - 1))
    ? VIOLATION_VALUE_CHARS_MAX - 1
    : VIOLATION_VALUE_CHARS_MAX;
  return `${text.slice(0, cutAt)}... (${text.length} chars)`;
}

function isHighSurrogate(codeUnit: number): boolean {
  return codeUnit >= 0xd800 && codeUnit <= 0xdbff;
}

export function violation(
  code: RejectCode,
  field: string,
  value: unknown,
  message: string,
): Violation {
  // Every text of a violation is stored and hashed, so none may hold an unpaired surrogate.
  return {
    code,
    field: escapeUnpairedSurrogates(field),
    value: describeValue(value),
    message: escapeUnpairedSurrogates(message),
  };
}

export function recordReject(
  violations: Violation[],
  location: RecordLocation,
  meterId: string | null = null,
): Reject {
  return {
    violations,
    location,
    meterId: meterId === null ? null : escapeUnpairedSurrogates(meterId),
    relatedIdempotencyKey: null,
    idempotencyKey: null,
    uncountedSpan: false,
  };
}
