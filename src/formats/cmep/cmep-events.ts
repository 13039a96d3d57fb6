/**
 * The event model of the CMEP reader (California Metering Exchange Protocol, MEPMD01 "Metering
 * Data Type 1 - Interval Data" records). Each record line yields a `record` event and then one
 * `interval` event per date-time/flag/value triple, or a single `problem` event when anything on
 * the line is wrong: a record is read whole or not at all. Every event says where its line stood
 * in the delivery, so that the mapping to pipeline readings can quarantine exact bytes.
 *
 * Values stay exact decimal strings in the unit the record names: the reader never converts a
 * quantity to a float and never applies the calculation constant (see applyCalculationConstant).
 * Times are the interval's START as UTC epoch milliseconds: CMEP stamps the END of each interval,
 * and the reader subtracts the interval length (see cmep-reader.ts for the time zone rules).
 */

/** Where an event's source line stood in the delivery: 1-based line, absolute byte span. */
export interface CmepSource {
  line: number;
  /** Offset of the line's first byte; a byte order mark at the start is counted. */
  byteOffset: number;
  /** Bytes of the line without its CRLF or LF terminator. */
  byteLength: number;
}

/** Deviations from the protocol text that the reader accepts, each noted on its event. */
export const CMEP_TOLERANCE_CODES = [
  'byte_order_mark',
  'lf_line_end',
  'final_line_end_missing',
  'blank_lines_skipped',
  'whitespace_trimmed',
  'trailing_empty_fields',
  'crc_not_checked',
  'unit_case',
  'time_stamp_missing',
  'count_over_protocol_max',
  'line_over_protocol_length',
  'value_scientific_notation',
  'missing_flag_value_ignored',
] as const;
export type CmepToleranceCode = (typeof CMEP_TOLERANCE_CODES)[number];

export interface CmepTolerance {
  code: CmepToleranceCode;
  message: string;
}

/** Every data error the reader reports, in one list; each problem event carries one. */
export const CMEP_PROBLEM_CODES = [
  'empty_file',
  'line_too_long',
  'encoding',
  'quote_invalid',
  'record_type_unknown',
  'record_type_unsupported',
  'record_version_unknown',
  'record_truncated',
  'record_unterminated',
  'count_invalid',
  'count_mismatch',
  'fields_unexpected',
  'time_stamp_invalid',
  'meter_id_missing',
  'purpose_unknown',
  'commodity_unknown',
  'unit_unknown',
  'calculation_constant_invalid',
  'interval_invalid',
  'date_time_invalid',
  'date_time_calendar_overflow',
  'dst_ambiguous',
  'dst_nonexistent',
  'intervals_overlap',
  'quality_invalid',
  'value_not_decimal',
] as const;
export type CmepProblemCode = (typeof CMEP_PROBLEM_CODES)[number];

/**
 * Record versions whose MEPMD01 layout the reader reads. `19970819` is the version the protocol
 * text (v1.20) names for MEPMD01. `20020201` is the version of a later revision, read with the
 * same field layout: an assumption, since that revision's text was not available to check. Any
 * other version (vendor extensions such as `20080501`, with their own flags and units) is a
 * problem, never read as if it were one of these.
 */
export const CMEP_RECORD_VERSIONS = ['19970819', '20020201'] as const;
export type CmepRecordVersion = (typeof CMEP_RECORD_VERSIONS)[number];

/** The other record types the protocol defines; the reader names them but reads only MEPMD01. */
export const CMEP_OTHER_RECORD_TYPES = [
  'MEPAD01',
  'MEPAD02',
  'MEPMD02',
  'MEPBD01',
  'MEPBD02',
  'MEPBD03',
  'MEPLF01',
  'MEPEC01',
  'MEPRR01',
] as const;

/**
 * Why the data was sent: a normal transmission, a retransmission, totals computed from metering
 * data, archival data, an account usage profile or template, or data returned to its sender as
 * rejected. The reader reports the purpose; which purposes a ledger accepts is the caller's rule.
 */
export const CMEP_PURPOSES = [
  'OK',
  'RESEND',
  'SUMMARY',
  'HISTORY',
  'PROFILE',
  'TEMPLATE',
  'REJECT',
] as const;
export type CmepPurpose = (typeof CMEP_PURPOSES)[number];

/** Electricity, Gas, Water, Steam. */
export const CMEP_COMMODITIES = ['E', 'G', 'W', 'S'] as const;
export type CmepCommodity = (typeof CMEP_COMMODITIES)[number];

/**
 * Data quality flags as sent: empty (the value is OK and validated), `E` estimated, `A` an
 * adjustment correcting metering inconsistencies or errors, `N` no value is sent for the interval,
 * `R` raw, not validated.
 */
export const CMEP_QUALITY_FLAGS = ['', 'E', 'A', 'N', 'R'] as const;
export type CmepQualityFlag = (typeof CMEP_QUALITY_FLAGS)[number];

/**
 * The flag's meaning: `actual` (empty flag: measured and validated), `raw` (R: measured, not yet
 * validated), `estimated` (E), `substituted` (A: a corrected value replacing what was measured),
 * `missing` (N: no value; the event's `value` is null).
 */
export type CmepQuality = 'actual' | 'raw' | 'estimated' | 'substituted' | 'missing';

/**
 * Units as normalised by the reader; `unitAsSent` keeps the protocol text. `hft3` and `kft3` are
 * hundreds and thousands of cubic feet (CCF, MCF), `dial` is a gas meter's dial reading (GASREG),
 * whose physical unit the protocol leaves to the meter, and `pulse` a count of meter pulses.
 */
export const CMEP_UNITS = [
  'kWh',
  'kVAh',
  'kVArh',
  'kW',
  'kVA',
  'kVAr',
  'V',
  'BTU',
  'therm',
  'gal',
  'ft3',
  'hft3',
  'kft3',
  'acre-ft',
  'lb',
  'USD',
  'pulse',
  'dial',
] as const;
export type CmepUnit = (typeof CMEP_UNITS)[number];

/**
 * What a value measures: `accumulation` over the interval (energy, volume, pulses, money),
 * `demand` (a rate over the interval, usually its peak), `register` (a cumulative dial or register
 * reading at the interval's end), `level` (a level such as voltage during the interval).
 */
export type CmepMeasurement = 'accumulation' | 'demand' | 'register' | 'level';

/** `received` is the G-prefixed units: energy or demand received from a generating customer. */
export type CmepFlow = 'delivered' | 'received';

/**
 * The time between readings, from the MMDDHHMM Interval field: a whole number of minutes that
 * divides a day, or whole days, or whole months. Minutes are exact time; days and months are
 * calendar steps on the local wall clock.
 */
export type CmepIntervalLength =
  | { unit: 'minute'; minutes: number }
  | { unit: 'day'; days: number }
  | { unit: 'month'; months: number };

interface EventBase extends CmepSource {
  tolerated: CmepTolerance[];
}

/**
 * One MEPMD01 record whose every field and triple was valid; its `count` interval events follow.
 * Notes about the line as a whole (terminator, padding, unit spelling) are on this event only.
 */
export interface CmepRecordEvent extends EventBase {
  kind: 'record';
  recordVersion: CmepRecordVersion;
  senderId: string;
  senderCustomerId: string;
  receiverId: string;
  receiverCustomerId: string;
  /** When the record was created, `CCYYMMDDHHMM` as sent; null where the field was empty. */
  createdDateTime: string | null;
  meterId: string;
  purpose: CmepPurpose;
  commodity: CmepCommodity;
  unitAsSent: string;
  unit: CmepUnit;
  measurement: CmepMeasurement;
  flow: CmepFlow;
  /** Exact decimal multiplier to engineering units, null where the optional field was empty. */
  calculationConstant: string | null;
  /** The Interval field as sent, `MMDDHHMM`. */
  intervalAsSent: string;
  intervalLength: CmepIntervalLength;
  /** Number of triples, which is the number of interval events that follow. */
  count: number;
}

/**
 * One triple of a record: the value of one interval, with the record fields a reading needs
 * copied on, so that each interval maps to a reading on its own. Its source is its record's line;
 * its `tolerated` notes are about this triple only (the line's are on the record event).
 */
export interface CmepIntervalEvent extends EventBase {
  kind: 'interval';
  /** 1-based position of the triple in its record. */
  triple: number;
  meterId: string;
  purpose: CmepPurpose;
  commodity: CmepCommodity;
  unitAsSent: string;
  unit: CmepUnit;
  measurement: CmepMeasurement;
  flow: CmepFlow;
  calculationConstant: string | null;
  /** The interval's START, UTC epoch milliseconds (the record stamps its end). */
  intervalStartUtcMs: number;
  /** Exact length from start to end; days and months follow the zone's calendar (23 h, 25 h...). */
  intervalSeconds: number;
  /**
   * The triple's date-time as sent, `CCYYMMDDHHMM`, the END of the interval in the reader's time
   * zone; null where it was empty and implied by the Interval field.
   */
  endDateTimeAsSent: string | null;
  /**
   * The exact decimal text sent, without a leading plus sign; scientific notation is rewritten
   * exactly as a plain decimal (noted). Null exactly when `quality` is `missing`.
   */
  value: string | null;
  qualityAsSent: CmepQualityFlag;
  quality: CmepQuality;
}

/** A data error. The line it names is skipped whole; reading resumes on the next line. */
export interface CmepProblemEvent extends EventBase {
  kind: 'problem';
  code: CmepProblemCode;
  /** The offending text, cut to CMEP_PROBLEM_VALUE_CHARS_MAX characters; null if none. */
  value: string | null;
  message: string;
}

export type CmepEvent = CmepRecordEvent | CmepIntervalEvent | CmepProblemEvent;

export const CMEP_PROBLEM_VALUE_CHARS_MAX = 200;
