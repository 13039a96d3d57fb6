/**
 * The Parser contract (ARCH 4). A parser is pure and incremental: the pipeline pushes the
 * delivery's bytes in order and gets back what those bytes completed. It never does I/O, never
 * sleeps, and never holds more than one record (bounded by RECORD_BYTES_MAX) plus its own small
 * state.
 *
 * Protocol:
 * - `push(chunk)` is called with consecutive chunks of the delivery; it returns the records and
 * rejects that   the bytes so far completed, in delivery order. Offsets in locations are absolute
 * within the delivery.
 * - `end()` is called once after the last chunk; it returns whatever the final bytes completed, and
 * rejects   a truncated last record.
 * - After a syntax error the parser resynchronises where the format allows (next line for NDJSON
 * and CSV);   where it does not, it returns one reject spanning the rest of the delivery with
 * `uncountedSpan` set.
 * - `context()` returns what replaying one record needs besides its bytes (a CSV header, say).
 */
import type { Reject } from './reject.js';
import type { SourceRecord } from './reading.js';

export type ParseItem =
  { kind: 'record'; record: SourceRecord } | { kind: 'reject'; reject: Reject };

export interface StreamParser {
  push(chunk: Uint8Array): ParseItem[];
  end(): ParseItem[];
  context(): FormatContext;
}

/** Format-specific facts needed to re-parse one record alone (JSON: none; CSV: the header). */
export type FormatContext = Readonly<Record<string, unknown>>;

export const INPUT_FORMATS = ['json', 'ndjson', 'csv'] as const;
export type InputFormat = (typeof INPUT_FORMATS)[number];
