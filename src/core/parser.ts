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
import type { CandidateReading, RecordLocation, SourceRecord } from './reading.js';

export type ParseItem =
  | { kind: 'record'; record: SourceRecord }
  | { kind: 'candidate'; candidate: CandidateReading }
  | { kind: 'reject'; reject: Reject };

/** Where an item stood in its delivery. */
export function itemLocation(item: ParseItem): RecordLocation {
  switch (item.kind) {
    case 'record':
      return item.record.location;
    case 'candidate':
      return item.candidate.location;
    case 'reject':
      return item.reject.location;
  }
}

export interface StreamParser {
  push(chunk: Uint8Array): ParseItem[];
  end(): ParseItem[];
  context(): FormatContext;
  /**
   * Departures from the format's specification that the parser accepted, by code, with a count
   * (`{ "unit_case": 3 }`), so the operator is told what was tolerated. Complete after end().
   */
  tolerated?(): Readonly<Record<string, number>>;
}

/** Counts tolerated departures by code, for a parser's `tolerated()`. */
export class ToleranceCounter {
  readonly #counts: Record<string, number> = {};

  add(codes: Iterable<{ code: string }>): void {
    for (const { code } of codes) this.#counts[code] = (this.#counts[code] ?? 0) + 1;
  }

  counts(): Readonly<Record<string, number>> {
    return { ...this.#counts };
  }
}

/** Format-specific facts needed to re-parse one record alone (JSON: none; CSV: the header). */
export type FormatContext = Readonly<Record<string, unknown>>;

/** Formats of records with the reference feed's field names, judged by the record validator. */
export const RECORD_FORMATS = ['json', 'ndjson', 'csv'] as const;
/** Typed formats whose readers yield candidate readings (CandidateReading). */
export const TYPED_FORMATS = [
  'nem12',
  'cmep',
  'csv-dialect',
  'green-button',
  'json-dialect',
] as const;
/**
 * Typed formats whose parser cannot read a byte without its format context: a vendor's dialect
 * (`{ dialect }`, and for JSON pages `recordsPath`). They are never detected from bytes; whoever
 * hands over a delivery in one of them names the format and its context.
 */
export const CONTEXT_TYPED_FORMATS = ['csv-dialect', 'json-dialect'] as const;
export type ContextTypedFormat = (typeof CONTEXT_TYPED_FORMATS)[number];
export type RecordFormat = (typeof RECORD_FORMATS)[number];
export type TypedFormat = (typeof TYPED_FORMATS)[number];
export const INPUT_FORMATS = [...RECORD_FORMATS, ...TYPED_FORMATS] as const;
export type InputFormat = (typeof INPUT_FORMATS)[number];

export function isTypedFormat(format: string): format is TypedFormat {
  return (TYPED_FORMATS as readonly string[]).includes(format);
}

export function needsFormatContext(format: string): format is ContextTypedFormat {
  return (CONTEXT_TYPED_FORMATS as readonly string[]).includes(format);
}
