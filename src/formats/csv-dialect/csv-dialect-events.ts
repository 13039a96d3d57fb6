/**
 * The event model of the CSV dialect reader. Each event stands for one source record (or, for
 * problems with the file as a whole, for its header line or its end) and says where it stood, so
 * that a caller can quarantine exact bytes. Energy leaves the reader as an exact kWh decimal
 * string; no quantity is ever a float.
 */
import type { CsvColumnRef, CsvDialectQuality } from './csv-dialect-config.js';

/** Where an event's source stood in the delivery: 1-based line, absolute byte span. */
export interface CsvDialectSource {
  /** Line of the record's first byte; a quoted newline makes a record span several lines. */
  line: number;
  /** Offset of the record's first byte; a byte order mark at the start is counted. */
  byteOffset: number;
  /** Bytes of the record without its LF or CRLF terminator. */
  byteLength: number;
}

/** Every data error the reader reports, in one list; each problem event carries one. */
export const CSV_DIALECT_PROBLEM_CODES = [
  // The file as a whole: no record after it is read.
  'header_missing',
  'header_unreadable',
  'column_missing',
  'column_duplicate',
  // One record: it is skipped and reading resumes at the next record.
  'record_too_large',
  'encoding',
  'syntax',
  'quote_unclosed',
  'field_count',
  'field_empty',
  'value_not_decimal',
  'value_separator',
  'value_precision',
  'value_range',
  'value_negative_zero',
  'unit_unknown',
  'quality_unknown',
  'interval_invalid',
  'timestamp_format',
  'timestamp_dst_ambiguous',
  'timestamp_dst_nonexistent',
  'timestamp_range',
] as const;
export type CsvDialectProblemCode = (typeof CSV_DIALECT_PROBLEM_CODES)[number];

/** Deviations the reader accepts and reports; nothing is lost by them. */
export const CSV_DIALECT_NOTE_CODES = ['column_unknown'] as const;
export type CsvDialectNoteCode = (typeof CSV_DIALECT_NOTE_CODES)[number];

/** The fields a dialect maps, as named in its `columns` object; problems name the one at fault. */
export const CSV_DIALECT_FIELDS = [
  'meterId',
  'channel',
  'timestamp',
  'date',
  'time',
  'value',
  'unit',
  'quality',
  'intervalSeconds',
] as const;
export type CsvDialectField = (typeof CSV_DIALECT_FIELDS)[number];

/**
 * One interval of one meter channel. The interval covers
 * [intervalStartUtcMs, intervalStartUtcMs + intervalSeconds * 1000): an export that stamps interval
 * ends has already been converted to starts.
 */
export interface CsvDialectIntervalEvent extends CsvDialectSource {
  kind: 'interval';
  meterId: string;
  /** The channel column's text or the dialect's constant; null when the dialect maps none. */
  channel: string | null;
  intervalStartUtcMs: number;
  intervalSeconds: number;
  /** Exact energy in kWh with six decimals (one milliwatt-hour), for example `0.125000`. */
  valueKwh: string;
  /** The value's text as sent, before its separators and unit were resolved. */
  valueAsSent: string;
  /** The unit's text as sent (or the dialect's constant unit): `Wh`, `kWh`, `MWh` in any case. */
  unitAsSent: string;
  /** Mapped through the dialect's quality map; null when the dialect maps no quality column. */
  quality: CsvDialectQuality | null;
}

/** A data error. A record-level problem skips its record; a file-level one, the rest. */
export interface CsvDialectProblemEvent extends CsvDialectSource {
  kind: 'problem';
  code: CsvDialectProblemCode;
  /** The mapped field at fault; null when the problem is not about one field. */
  field: CsvDialectField | null;
  /** The column as the dialect names it (header name or 0-based position); null when none. */
  column: CsvColumnRef | null;
  /** The offending text, cut to CSV_DIALECT_PROBLEM_VALUE_CHARS_MAX characters; null if none. */
  value: string | null;
  message: string;
}

/** Something the reader tolerated, such as a column the dialect does not map. */
export interface CsvDialectNoteEvent extends CsvDialectSource {
  kind: 'note';
  code: CsvDialectNoteCode;
  column: CsvColumnRef | null;
  message: string;
}

export type CsvDialectEvent =
  CsvDialectIntervalEvent | CsvDialectProblemEvent | CsvDialectNoteEvent;

export const CSV_DIALECT_PROBLEM_VALUE_CHARS_MAX = 200;
