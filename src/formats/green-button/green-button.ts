/**
 * The Green Button (NAESB REQ.21 ESPI) event model. A reader turns the bytes of one delivery, an
 * Atom feed (feed/entry/content) or a direct ESPI document, into these events. It is pure and
 * incremental like the Parser contract (src/core/parser.ts): the caller pushes consecutive chunks
 * and gets back the events those bytes completed, then calls `end()` once.
 *
 * Everything is as sent: numbers stay strings, nothing is scaled, defaulted or converted.
 * Mapping to pipeline records (units, channels, time zones) is a later step; the events carry
 * what it needs:
 * - Small resources (ReadingType, UsagePoint, MeterReading, LocalTimeParameters) are emitted when
 *   their Atom entry closes, with that entry's id, title and `self`/`up`/`related` hrefs, because
 *   feeds put the links before or after the content.
 * - Interval data streams: `intervalBlock` and `intervalReading` are emitted as they complete and
 *   carry `entryIndex` and `blockIndex`; the `entry` event with the same `entryIndex` follows when
 *   the entry closes. A MeterReading's `related` hrefs name its ReadingType's `self` href and the
 *   `up` href of its IntervalBlock entries.
 * - Resources nested in one another (a direct document: UsagePoint > MeterReading > ReadingType,
 *   IntervalBlock) are tied by ordinals: each UsagePoint and MeterReading element is numbered in
 *   document order, and what is nested in one carries its number.
 * - Each IntervalReading carries the exact bytes of its element in the delivery (from the `<` of
 *   its start tag to just past the `>` of its end tag, a byte order mark counted), so the raw
 *   evidence of one reading can be cut out of the delivery.
 *
 * Data errors are values: a `problem` with `fatal: true` ends the delivery (nothing after it is
 * read), other problems and `tolerated` notes ride along. Positions are 1-based lines and columns
 * in characters of the decoded text.
 */

export const ESPI_NAMESPACE = 'http://naesb.org/espi';
export const ATOM_NAMESPACE = 'http://www.w3.org/2005/Atom';

/** Every problem a delivery can have, in one list. */
export const ESPI_PROBLEM_CODES = [
  // Fatal: the delivery stops here.
  'xml.doctype',
  'xml.syntax',
  'xml.encoding',
  'limit.depth',
  'limit.elements',
  'limit.token_chars',
  // Not fatal: the reading is still emitted, as sent, for the mapping to reject.
  'reading.no_value',
  'reading.value_not_integer',
  'reading.no_time_period',
  'reading.unclosed',
] as const;
export type EspiProblemCode = (typeof ESPI_PROBLEM_CODES)[number];

/** Departures from the schema that the reader accepts and reports. */
export const ESPI_TOLERATED_CODES = [
  'element.empty',
  'epoch.fractional',
  'reading_type.empty',
  'reading_type.nested',
  'namespace.unbound_prefix',
] as const;
export type EspiToleratedCode = (typeof ESPI_TOLERATED_CODES)[number];

export interface TextPosition {
  line: number;
  column: number;
}

/** The Atom entry a resource came in. Hrefs are as sent (often relative). */
export interface EntryRef {
  /** Ordinal of the entry in the delivery, from 0. */
  entryIndex: number;
  id: string | null;
  title: string | null;
  selfHref: string | null;
  upHref: string | null;
  relatedHrefs: string[];
  /** The entry's Atom `updated` date-time, as sent. */
  updated: string | null;
}

export const READING_TYPE_FIELDS = [
  'accumulationBehaviour',
  'commodity',
  'currency',
  'dataQualifier',
  'defaultQuality',
  'flowDirection',
  'intervalLength',
  'kind',
  'phase',
  'powerOfTenMultiplier',
  'timeAttribute',
  'uom',
] as const;
export type ReadingTypeField = (typeof READING_TYPE_FIELDS)[number];

export const LOCAL_TIME_PARAMETERS_FIELDS = [
  'dstEndRule',
  'dstOffset',
  'dstStartRule',
  'tzOffset',
] as const;
export type LocalTimeParametersField = (typeof LOCAL_TIME_PARAMETERS_FIELDS)[number];

/** Each field is the trimmed text as sent, or null when absent or empty. */
export type FieldValues<F extends string> = Record<F, string | null>;

export interface ReadingTypeEvent {
  kind: 'readingType';
  entry: EntryRef | null;
  /** Set when the ReadingType sat inside a MeterReading instead of its own entry. */
  nestedIn: 'MeterReading' | null;
  /** The ordinal of the MeterReading element it sat in, null when in none. */
  meterReadingIndex: number | null;
  fields: FieldValues<ReadingTypeField>;
  position: TextPosition;
}

export interface LocalTimeParametersEvent {
  kind: 'localTimeParameters';
  entry: EntryRef | null;
  fields: FieldValues<LocalTimeParametersField>;
  position: TextPosition;
}

export interface UsagePointEvent {
  kind: 'usagePoint';
  entry: EntryRef | null;
  /** Ordinal of the UsagePoint element in the delivery, from 0. */
  usagePointIndex: number;
  /** ServiceCategory/kind: 0 electricity, 1 gas, 2 water... */
  serviceKind: string | null;
  status: string | null;
  position: TextPosition;
}

export interface MeterReadingEvent {
  kind: 'meterReading';
  entry: EntryRef | null;
  /** Ordinal of the MeterReading element in the delivery, from 0. */
  meterReadingIndex: number;
  /** The ordinal of the UsagePoint element it sat in, null when in none. */
  usagePointIndex: number | null;
  position: TextPosition;
}

export interface EntryEvent {
  kind: 'entry';
  entry: EntryRef;
}

export interface IntervalBlockEvent {
  kind: 'intervalBlock';
  /** The entry it is in (see its `entry` event), null in a direct document. */
  entryIndex: number | null;
  /** Ordinal of the block in the delivery, from 0. */
  blockIndex: number;
  /** Epoch seconds (UTC) and seconds, as sent. */
  intervalStartEpochSeconds: string | null;
  intervalDurationSeconds: string | null;
  position: TextPosition;
}

export interface IntervalReadingEvent {
  kind: 'intervalReading';
  entryIndex: number | null;
  /** The enclosing block's `blockIndex`, null for a reading outside any block. */
  blockIndex: number | null;
  /** Ordinal of the reading within its block, from 0. */
  readingIndex: number;
  /** timePeriod start in epoch seconds (UTC) and duration in seconds, as sent. */
  startEpochSeconds: string | null;
  durationSeconds: string | null;
  /** Integer in the ReadingType's uom, scaled by 10^powerOfTenMultiplier (see scaledValue). */
  value: string | null;
  /** Hundred-thousandths of the ReadingType's currency, as sent. */
  cost: string | null;
  /** ReadingQuality/quality codes in document order (0 = valid, 8 = estimated...). */
  qualities: string[];
  /** Ordinals of the MeterReading and UsagePoint elements it sat in, null when in none. */
  meterReadingIndex: number | null;
  usagePointIndex: number | null;
  /** Where the element's bytes start in the delivery and how many they are. */
  byteOffset: number;
  byteLength: number;
  /** 1-based lines of the element's first and last bytes. */
  line: number;
  endLine: number;
  position: TextPosition;
}

export interface ToleratedEvent {
  kind: 'tolerated';
  code: EspiToleratedCode;
  message: string;
  position: TextPosition;
}

export interface ProblemEvent {
  kind: 'problem';
  code: EspiProblemCode;
  message: string;
  fatal: boolean;
  position: TextPosition;
}

export type EspiEvent =
  | EntryEvent
  | ReadingTypeEvent
  | LocalTimeParametersEvent
  | UsagePointEvent
  | MeterReadingEvent
  | IntervalBlockEvent
  | IntervalReadingEvent
  | ToleratedEvent
  | ProblemEvent;

/** Push protocol: consecutive chunks, then `end()` once. After a fatal problem both return []. */
export interface EspiReader {
  push(chunk: Uint8Array): EspiEvent[];
  end(): EspiEvent[];
}
