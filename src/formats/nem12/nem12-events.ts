/**
 * The event model of the AEMO MDFF reader (NEM12 interval data, NEM13 accumulation data). Each
 * event stands for one source line and says where that line was, so that the mapping to pipeline
 * records can quarantine exact bytes. Values stay exact decimal strings in the unit of their 200
 * record: the reader never converts a quantity to a float.
 */

/** Where an event's source line stood in the delivery: 1-based line, absolute byte span. */
export interface Nem12Source {
  line: number;
  /** Offset of the line's first byte; a byte order mark at the start is counted. */
  byteOffset: number;
  /** Bytes of the line without its LF or CRLF terminator. */
  byteLength: number;
}

/**
 * Deviations from the specification that the reader accepts, each noted on its event. A line's end
 * is not among them: AEMO's own sample files end every line with CRLF and others send LF, and both
 * are read as they come.
 */
export const NEM12_TOLERANCE_CODES = [
  'blank_lines_skipped',
  'trailing_empty_fields',
  'optional_fields_missing',
  'whitespace_trimmed',
  'unit_case',
  'repeated_nmi_details',
  'repeated_end',
] as const;
export type Nem12ToleranceCode = (typeof NEM12_TOLERANCE_CODES)[number];

export interface Nem12Tolerance {
  code: Nem12ToleranceCode;
  message: string;
}

/** Every data error the reader reports, in one list; each problem event carries one. */
export const NEM12_PROBLEM_CODES = [
  'empty_file',
  'missing_header',
  'header_not_first',
  'header_invalid',
  'line_too_long',
  'encoding',
  'unknown_record',
  'record_truncated',
  'fields_unexpected',
  'nmi_details_invalid',
  'unit_unknown',
  'interval_length_invalid',
  'suffix_not_in_configuration',
  'interval_day_without_details',
  'interval_date_invalid',
  'interval_count_mismatch',
  'interval_row_wrapped',
  'value_not_decimal',
  'quality_invalid',
  'update_datetime_invalid',
  'interval_event_without_day',
  'interval_event_range',
  'interval_event_unexpected',
  'interval_event_coverage',
  'b2b_invalid',
  'accumulation_invalid',
  'records_after_end',
  'missing_end',
] as const;
export type Nem12ProblemCode = (typeof NEM12_PROBLEM_CODES)[number];

/**
 * Quality flags of 300, 400 and 250 records: Actual, Estimated, Final substitute, Null,
 * Substituted, Variable (the day's quality is given by its 400 records).
 */
export const NEM12_QUALITY_FLAGS = ['A', 'E', 'F', 'N', 'S', 'V'] as const;
export type Nem12QualityFlag = (typeof NEM12_QUALITY_FLAGS)[number];

/** Units of measure as normalised by the reader; `unitAsSent` keeps the original spelling. */
export const NEM12_UNITS = [
  'Wh',
  'kWh',
  'MWh',
  'VArh',
  'kVArh',
  'MVArh',
  'VAh',
  'kVAh',
  'MVAh',
  'W',
  'kW',
  'MW',
  'VAr',
  'kVAr',
  'MVAr',
  'VA',
  'kVA',
  'MVA',
  'V',
  'kV',
  'A',
  'kA',
  'pf',
] as const;
export type Nem12Unit = (typeof NEM12_UNITS)[number];

/** The channel a 300 or 400 record belongs to, copied from its 200 record for easy mapping. */
export interface Nem12Channel {
  nmi: string;
  nmiSuffix: string;
  registerId: string;
  meterSerialNumber: string;
  unit: Nem12Unit;
  intervalMinutes: number;
  /** Line of the 200 record that declared the channel. */
  nmiDetailsLine: number;
}

/** Quality of a day (300) or of a run of intervals (400). */
export interface Nem12Quality {
  /** The QualityMethod field as sent, for example `A`, `E52`, `S14`. */
  qualityMethod: string;
  qualityFlag: Nem12QualityFlag;
  /** Two-digit method flag, null where none was sent. */
  methodFlag: string | null;
  reasonCode: string | null;
  reasonDescription: string | null;
}

interface EventBase extends Nem12Source {
  tolerated: Nem12Tolerance[];
}

/** 100: the file header. `createdNemTime` is `YYYYMMDDHHmm` in NEM time (UTC+10). */
export interface Nem12HeaderEvent extends EventBase {
  kind: 'header';
  version: 'NEM12' | 'NEM13';
  createdNemTime: string;
  fromParticipant: string;
  toParticipant: string;
}

/** 200: declares the channel (NMI, suffix, unit, interval length) of the 300s that follow. */
export interface Nem12NmiDetailsEvent extends EventBase {
  kind: 'nmiDetails';
  nmi: string;
  nmiConfiguration: string;
  registerId: string;
  nmiSuffix: string;
  mdmDataStreamId: string;
  meterSerialNumber: string;
  unitAsSent: string;
  unit: Nem12Unit;
  intervalMinutes: number;
  /** 1440 / intervalMinutes: the number of values every 300 of this channel must carry. */
  intervalsPerDay: number;
  /** `YYYYMMDD`, null where the optional field was empty or missing. */
  nextScheduledReadDate: string | null;
}

/**
 * 300: one day of interval values of the channel. `values[i]` is the exact decimal text sent for
 * interval i (0-based), covering [intervalDate + i*L, intervalDate + (i+1)*L) in NEM time.
 */
export interface Nem12IntervalDayEvent extends EventBase, Nem12Quality {
  kind: 'intervalDay';
  channel: Nem12Channel;
  /** `YYYYMMDD` in NEM time. */
  intervalDate: string;
  values: string[];
  /** `YYYYMMDDHHmmss` in NEM time, null where not sent. */
  updateDateTime: string | null;
  msatsLoadDateTime: string | null;
}

/** 400: quality of intervals startInterval..endInterval (1-based, inclusive) of the last 300. */
export interface Nem12IntervalEventEvent extends EventBase, Nem12Quality {
  kind: 'intervalEvent';
  channel: Nem12Channel;
  intervalDate: string;
  /** Line of the 300 record this 400 qualifies. */
  intervalDayLine: number;
  startInterval: number;
  endInterval: number;
}

/** 500: the B2B transaction that produced the preceding data. */
export interface Nem12B2bEvent extends EventBase {
  kind: 'b2b';
  transactionCode: string;
  retailServiceOrder: string | null;
  /** `YYYYMMDDHHmmss` in NEM time, null where not sent. */
  readDateTime: string | null;
  indexRead: string | null;
}

/** 250: one NEM13 accumulation (basic meter) read: previous and current register reads. */
export interface Nem12AccumulationReadEvent extends EventBase {
  kind: 'accumulation';
  indicator: '250';
  nmi: string;
  nmiConfiguration: string;
  registerId: string;
  nmiSuffix: string;
  mdmDataStreamId: string;
  meterSerialNumber: string;
  directionIndicator: string;
  previousRegisterRead: string;
  previousReadDateTime: string;
  previousQualityMethod: string;
  currentRegisterRead: string;
  currentReadDateTime: string;
  currentQualityMethod: string;
  /** Exact decimal energy between the two reads, in `unit`. */
  quantity: string;
  unitAsSent: string;
  unit: Nem12Unit;
  nextScheduledReadDate: string | null;
  updateDateTime: string | null;
  msatsLoadDateTime: string | null;
}

/** 550: the NEM13 B2B details of the previous and current reads. */
export interface Nem12AccumulationB2bEvent extends EventBase {
  kind: 'accumulation';
  indicator: '550';
  previousTransactionCode: string | null;
  previousRetailServiceOrder: string | null;
  currentTransactionCode: string | null;
  currentRetailServiceOrder: string | null;
}

/** 900: the end of the data. */
export interface Nem12EndEvent extends EventBase {
  kind: 'end';
}

/** A data error. The line it names is skipped; reading resumes on the next line. */
export interface Nem12ProblemEvent extends EventBase {
  kind: 'problem';
  code: Nem12ProblemCode;
  /** The offending text, cut to NEM12_PROBLEM_VALUE_CHARS_MAX characters; null if none. */
  value: string | null;
  message: string;
}

export type Nem12Event =
  | Nem12HeaderEvent
  | Nem12NmiDetailsEvent
  | Nem12IntervalDayEvent
  | Nem12IntervalEventEvent
  | Nem12B2bEvent
  | Nem12AccumulationReadEvent
  | Nem12AccumulationB2bEvent
  | Nem12EndEvent
  | Nem12ProblemEvent;

export const NEM12_PROBLEM_VALUE_CHARS_MAX = 200;
