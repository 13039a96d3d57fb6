/**
 * Interprets one CMEP line at a time. The protocol is context free (each record stands alone), so
 * the only state kept between lines is the number of records seen. A MEPMD01 record is checked
 * whole, header, field count and every triple, before any of its events is emitted: a record is
 * read completely or reported as one problem. Pure over its inputs; the byte-level reader feeds
 * it split lines.
 */
import assert from 'node:assert/strict';
import type { Temporal } from 'temporal-polyfill';
import {
  CMEP_COMMODITIES,
  CMEP_OTHER_RECORD_TYPES,
  CMEP_PROBLEM_VALUE_CHARS_MAX,
  CMEP_PURPOSES,
  CMEP_QUALITY_FLAGS,
  CMEP_RECORD_VERSIONS,
  type CmepEvent,
  type CmepIntervalEvent,
  type CmepIntervalLength,
  type CmepProblemCode,
  type CmepProblemEvent,
  type CmepQuality,
  type CmepQualityFlag,
  type CmepRecordEvent,
  type CmepSource,
  type CmepTolerance,
  type CmepToleranceCode,
} from './cmep-events.js';
import {
  MS_PER_MINUTE,
  formatDateTime,
  localToUtcMs,
  parseDateTime,
  parseDecimal,
  parseIntervalLength,
  stepCalendar,
  unitMeaning,
} from './cmep-values.js';

/** Fields before the first triple: Record Type through Count. */
export const CMEP_HEADER_FIELDS = 14;
const FIELDS_PER_TRIPLE = 3;
/** The protocol allows at most this many triples per record; more are read and noted. */
export const CMEP_TRIPLES_PROTOCOL_MAX = 48;
/** The protocol's longest line, in characters including CR and LF; longer lines are noted. */
export const CMEP_LINE_CHARS_PROTOCOL_MAX = 2048;
const LINE_TERMINATOR_CHARS = 2;

const RECORD_TYPE = 'MEPMD01';
const COUNT_PATTERN = /^\d{1,9}$/;
const CRC_PATTERN = /^H[0-9A-Fa-f]{4}$/;

const QUALITY_BY_FLAG: Readonly<Record<CmepQualityFlag, CmepQuality>> = {
  '': 'actual',
  R: 'raw',
  E: 'estimated',
  A: 'substituted',
  N: 'missing',
};

/** What one line looks like once split: its fields and where it stood. */
export interface CmepLine {
  fields: string[];
  source: CmepSource;
  tolerated: CmepTolerance[];
  /** False for a last line that ended without a line feed, which may have been cut short. */
  terminated: boolean;
  /** Characters of the line's text without its terminator. */
  textChars: number;
}

/** The fields of a record event, checked. */
type RecordFields = Omit<CmepRecordEvent, keyof CmepSource | 'kind' | 'tolerated'>;

/** Where a triple's interval ends: its instant, and its wall-clock time where known. */
interface IntervalEnd {
  epochMs: number;
  wall: Temporal.PlainDateTime | null;
  asSent: string | null;
}

export class CmepRecordInterpreter {
  readonly #timeZone: string;
  #recordCount = 0;

  /** `timeZone` must be a canonical zone id (see canonicalTimeZone). */
  constructor(timeZone: string) {
    this.#timeZone = timeZone;
  }

  /** The events of one non-blank line. */
  interpret(line: CmepLine): CmepEvent[] {
    this.#recordCount += 1;
    const recordType = line.fields[0] ?? '';
    if (recordType !== RECORD_TYPE) return [otherRecordType(line, recordType)];
    const fields = readRecordFields(line);
    if ('kind' in fields) return [fields];
    const layout = checkLayout(line, fields.count);
    if (layout !== null) return [layout];
    const intervals = readTriples(line, fields, this.#timeZone);
    if (!Array.isArray(intervals)) return [intervals];
    const record: CmepRecordEvent = { kind: 'record', ...base(line), ...fields };
    return [record, ...intervals];
  }

  /** A line that could not be read as text: one problem, and it counts as a record. */
  interpretUnreadable(line: CmepLine, code: CmepProblemCode, message: string): CmepEvent[] {
    this.#recordCount += 1;
    return [problem(line, code, null, message)];
  }

  /** The problems only the end of the delivery reveals. */
  finish(source: CmepSource): CmepEvent[] {
    if (this.#recordCount > 0) return [];
    const line: CmepLine = { fields: [], source, tolerated: [], terminated: true, textChars: 0 };
    return [problem(line, 'empty_file', null, 'The file holds no records at all.')];
  }
}

function base(line: CmepLine): CmepSource & { tolerated: CmepTolerance[] } {
  return { ...line.source, tolerated: [...line.tolerated] };
}

function note(tolerated: CmepTolerance[], code: CmepToleranceCode, message: string): void {
  tolerated.push({ code, message });
}

export function problem(
  line: CmepLine,
  code: CmepProblemCode,
  value: string | null,
  message: string,
): CmepProblemEvent {
  const shown =
    value !== null && value.length > CMEP_PROBLEM_VALUE_CHARS_MAX
      ? `${value.slice(0, CMEP_PROBLEM_VALUE_CHARS_MAX)}... (${value.length} chars)`
      : value;
  return { kind: 'problem', ...base(line), code, value: shown, message };
}

function isOneOf<T extends string>(list: readonly T[], value: string): value is T {
  return (list as readonly string[]).includes(value);
}

function otherRecordType(line: CmepLine, recordType: string): CmepProblemEvent {
  if (isOneOf(CMEP_OTHER_RECORD_TYPES, recordType)) {
    const message =
      `Line ${line.source.line} holds a ${recordType} record; this reader reads MEPMD01 ` +
      `interval data records only, so it is skipped.`;
    return problem(line, 'record_type_unsupported', recordType, message);
  }
  const message =
    `Line ${line.source.line} starts with '${recordType}', which is not a CMEP record type ` +
    `(MEPMD01, ${CMEP_OTHER_RECORD_TYPES.join(', ')}).`;
  return problem(line, 'record_type_unknown', recordType, message);
}

/** Checks fields 2 to 14 and returns them typed, or the first problem. */
function readRecordFields(line: CmepLine): RecordFields | CmepProblemEvent {
  const where = `The MEPMD01 record on line ${line.source.line}`;
  const count = line.fields.length;
  if (count < CMEP_HEADER_FIELDS) {
    const message =
      `${where} has ${count} fields; the ${CMEP_HEADER_FIELDS} fields before the triples are ` +
      `required, so it is truncated.`;
    return problem(line, 'record_truncated', String(count), message);
  }
  const field = (index: number): string => line.fields[index] ?? '';
  const version = field(1);
  if (!isOneOf(CMEP_RECORD_VERSIONS, version)) {
    const message =
      `${where} has record version '${version}'; this reader knows the MEPMD01 layout of ` +
      `versions ${CMEP_RECORD_VERSIONS.join(' and ')} only.`;
    return problem(line, 'record_version_unknown', version, message);
  }
  const identity = readIdentity(line, where, field);
  if ('kind' in identity) return identity;
  const quantity = readQuantity(line, where, field);
  if ('kind' in quantity) return quantity;
  return {
    recordVersion: version,
    senderId: field(2),
    senderCustomerId: field(3),
    receiverId: field(4),
    receiverCustomerId: field(5),
    ...identity,
    ...quantity,
  };
}

type Identity = Pick<RecordFields, 'createdDateTime' | 'meterId' | 'purpose' | 'commodity'>;

/** Time stamp, meter id, purpose and commodity (fields 7 to 10). */
function readIdentity(
  line: CmepLine,
  where: string,
  field: (index: number) => string,
): Identity | CmepProblemEvent {
  const [timeStamp, meterId, purpose, commodity] = [field(6), field(7), field(8), field(9)];
  if (timeStamp === '') {
    note(line.tolerated, 'time_stamp_missing', 'The record creation time stamp is empty.');
  } else if (parseDateTime(timeStamp) === null) {
    const message = `${where} has time stamp '${timeStamp}', which is not a CCYYMMDDHHMM date-time.`;
    return problem(line, 'time_stamp_invalid', timeStamp, message);
  }
  if (meterId === '') {
    return problem(line, 'meter_id_missing', '', `${where} has an empty meter id.`);
  }
  if (!isOneOf(CMEP_PURPOSES, purpose)) {
    const message = `${where} has purpose '${purpose}'; the protocol defines ${CMEP_PURPOSES.join(', ')}.`;
    return problem(line, 'purpose_unknown', purpose, message);
  }
  if (!isOneOf(CMEP_COMMODITIES, commodity)) {
    const message =
      `${where} has commodity '${commodity}'; the protocol defines E (electricity), G (gas), ` +
      `W (water) and S (steam).`;
    return problem(line, 'commodity_unknown', commodity, message);
  }
  return {
    createdDateTime: timeStamp === '' ? null : timeStamp,
    meterId,
    purpose,
    commodity,
  };
}

type Quantity = Pick<
  RecordFields,
  | 'unitAsSent'
  | 'unit'
  | 'measurement'
  | 'flow'
  | 'calculationConstant'
  | 'intervalAsSent'
  | 'intervalLength'
  | 'count'
>;

/** Units, calculation constant, interval and count (fields 11 to 14). */
function readQuantity(
  line: CmepLine,
  where: string,
  field: (index: number) => string,
): Quantity | CmepProblemEvent {
  const [unitAsSent, constantText, intervalAsSent, countText] = [
    field(10),
    field(11),
    field(12),
    field(13),
  ];
  const meaning = unitMeaning(unitAsSent);
  if (meaning === null) {
    const message = `${where} has units '${unitAsSent}', which the protocol's unit list lacks.`;
    return problem(line, 'unit_unknown', unitAsSent, message);
  }
  if (unitAsSent !== unitAsSent.toUpperCase()) {
    note(line.tolerated, 'unit_case', `Units '${unitAsSent}' read as ${unitAsSent.toUpperCase()}.`);
  }
  const constant = constantText === '' ? null : parseDecimal(constantText);
  if (constantText !== '' && constant === null) {
    const message = `${where} has calculation constant '${constantText}', which is not a number.`;
    return problem(line, 'calculation_constant_invalid', constantText, message);
  }
  if (constant?.scientific === true) {
    const text = `Calculation constant '${constantText}' read as ${constant.decimal}.`;
    note(line.tolerated, 'value_scientific_notation', text);
  }
  const intervalLength = parseIntervalLength(intervalAsSent);
  if (intervalLength === null) return intervalProblem(line, where, intervalAsSent);
  if (!COUNT_PATTERN.test(countText)) {
    const message = `${where} has count '${countText}', which is not a whole number of triples.`;
    return problem(line, 'count_invalid', countText, message);
  }
  return {
    unitAsSent,
    ...meaning,
    calculationConstant: constant?.decimal ?? null,
    intervalAsSent,
    intervalLength,
    count: Number(countText),
  };
}

function intervalProblem(line: CmepLine, where: string, intervalAsSent: string): CmepProblemEvent {
  const message =
    `${where} has interval '${intervalAsSent}'; the reader needs an MMDDHHMM length above zero: ` +
    `minutes dividing the hour or hours dividing the day, or whole days, or whole months.`;
  return problem(line, 'interval_invalid', intervalAsSent, message);
}

/**
 * Checks that the line holds exactly `count` triples, then only the optional CRC field and empty
 * padding. A last line without a line feed is read only if it reaches the CRC field: otherwise
 * its last value may have been cut short (12.345 sent, 12.3 received) and nothing would show it.
 */
function checkLayout(line: CmepLine, count: number): CmepProblemEvent | null {
  const where = `The MEPMD01 record on line ${line.source.line}`;
  const fields = line.fields;
  const expected = CMEP_HEADER_FIELDS + count * FIELDS_PER_TRIPLE;
  if (fields.length < expected) {
    const present = fields.length - CMEP_HEADER_FIELDS;
    const complete = Math.floor(present / FIELDS_PER_TRIPLE);
    if (present % FIELDS_PER_TRIPLE !== 0) {
      const message =
        `${where} ends inside triple ${complete + 1} of the ${count} its count declares, so ` +
        `it is truncated.`;
      return problem(line, 'record_truncated', String(complete), message);
    }
    const message =
      `${where} declares ${count} triples but holds ${complete}: it is truncated or its count ` +
      `is wrong.`;
    return problem(line, 'count_mismatch', String(complete), message);
  }
  const extra = checkExtraFields(line, where, expected);
  if (extra !== null) return extra;
  if (!line.terminated && fields.length === expected) {
    const message =
      `${where} is the last line and has no line terminator and no CRC field, so its last ` +
      `value may have been cut short; it is not read.`;
    return problem(line, 'record_unterminated', null, message);
  }
  noteLimits(line, count);
  return null;
}

function checkExtraFields(
  line: CmepLine,
  where: string,
  expected: number,
): CmepProblemEvent | null {
  const fields = line.fields;
  const crc = fields[expected] ?? '';
  const padding = fields.slice(expected + 1);
  if ((crc !== '' && !CRC_PATTERN.test(crc)) || padding.some((field) => field !== '')) {
    let used = fields.length;
    while (used > expected && fields[used - 1] === '') used -= 1;
    const surplus = fields.slice(expected, used);
    const code = surplus.length >= FIELDS_PER_TRIPLE ? 'count_mismatch' : 'fields_unexpected';
    const message =
      `${where} holds ${surplus.length} non-empty fields after the triples its count declares, ` +
      `where only a CRC field (H and four hexadecimal digits) may follow.`;
    return problem(line, code, surplus.join(','), message);
  }
  if (crc !== '') {
    const message =
      `CRC field '${crc}' not checked: the protocol names CRC-16 but not its parameters or ` +
      `which bytes it covers.`;
    note(line.tolerated, 'crc_not_checked', message);
  }
  if (padding.length > 0) {
    note(
      line.tolerated,
      'trailing_empty_fields',
      `${padding.length} empty trailing fields ignored.`,
    );
  }
  if (!line.terminated) {
    const message = 'The last line has no line terminator; its CRC field shows it is whole.';
    note(line.tolerated, 'final_line_end_missing', message);
  }
  return null;
}

function noteLimits(line: CmepLine, count: number): void {
  if (count > CMEP_TRIPLES_PROTOCOL_MAX) {
    const message = `${count} triples, over the protocol's ${CMEP_TRIPLES_PROTOCOL_MAX} per record.`;
    note(line.tolerated, 'count_over_protocol_max', message);
  }
  const chars = line.textChars + LINE_TERMINATOR_CHARS;
  if (chars > CMEP_LINE_CHARS_PROTOCOL_MAX) {
    const message = `${chars} characters with CR LF, over the protocol's ${CMEP_LINE_CHARS_PROTOCOL_MAX}.`;
    note(line.tolerated, 'line_over_protocol_length', message);
  }
}

/** Every triple of a record as an interval event, or the first problem. */
function readTriples(
  line: CmepLine,
  record: RecordFields,
  timeZone: string,
): CmepIntervalEvent[] | CmepProblemEvent {
  const intervals: CmepIntervalEvent[] = [];
  let previous: IntervalEnd | null = null;
  for (let index = 0; index < record.count; index++) {
    const at = CMEP_HEADER_FIELDS + index * FIELDS_PER_TRIPLE;
    const [dateText = '', flagText = '', valueText = ''] = line.fields.slice(at, at + 3);
    const triple = { line, number: index + 1, length: record.intervalLength, timeZone };
    const end = readEnd(triple, dateText, previous);
    if ('kind' in end) return end;
    const startMs = readStart(triple, end);
    if (typeof startMs !== 'number') return startMs;
    if (previous !== null && startMs < previous.epochMs) return overlap(triple, end, previous);
    const reading = readReading(triple, flagText, valueText);
    if ('kind' in reading) return reading;
    intervals.push({
      kind: 'interval',
      ...line.source,
      tolerated: reading.tolerated,
      triple: index + 1,
      meterId: record.meterId,
      purpose: record.purpose,
      commodity: record.commodity,
      unitAsSent: record.unitAsSent,
      unit: record.unit,
      measurement: record.measurement,
      flow: record.flow,
      calculationConstant: record.calculationConstant,
      intervalStartUtcMs: startMs,
      intervalSeconds: (end.epochMs - startMs) / 1000,
      endDateTimeAsSent: end.asSent,
      value: reading.value,
      qualityAsSent: reading.qualityAsSent,
      quality: QUALITY_BY_FLAG[reading.qualityAsSent],
    });
    previous = end;
  }
  return intervals;
}

type CalendarLength = Exclude<CmepIntervalLength, { unit: 'minute' }>;

/** One triple being read: its line, 1-based number, and the record's interval and zone. */
interface Triple {
  line: CmepLine;
  number: number;
  length: CmepIntervalLength;
  timeZone: string;
}

function tripleWhere(triple: Triple): string {
  return `Triple ${triple.number} of the MEPMD01 record on line ${triple.line.source.line}`;
}

/** The end of a triple's interval: its date-time as sent, or implied from the previous end. */
function readEnd(
  triple: Triple,
  dateText: string,
  previous: IntervalEnd | null,
): IntervalEnd | CmepProblemEvent {
  const where = tripleWhere(triple);
  if (dateText !== '') {
    const wall = parseDateTime(dateText);
    if (wall === null) {
      const message = `${where} has date-time '${dateText}', which is not a CCYYMMDDHHMM date-time.`;
      return problem(triple.line, 'date_time_invalid', dateText, message);
    }
    const instant = wallToUtcMs(triple, wall, 'end');
    return typeof instant === 'number' ? { epochMs: instant, wall, asSent: dateText } : instant;
  }
  if (previous === null) {
    const message =
      `${where} has an empty date-time; only triples after the first may leave it to be ` +
      `implied by the interval.`;
    return problem(triple.line, 'date_time_invalid', '', message);
  }
  if (triple.length.unit === 'minute') {
    const epochMs = previous.epochMs + triple.length.minutes * MS_PER_MINUTE;
    return { epochMs, wall: null, asSent: null };
  }
  assert.ok(previous.wall !== null, 'calendar interval ends keep their wall-clock time');
  const wall = stepCalendar(previous.wall, triple.length, 1);
  if (wall === null) return calendarOverflow(triple, triple.length, previous.wall, 'after');
  const instant = wallToUtcMs(triple, wall, 'end');
  return typeof instant === 'number' ? { epochMs: instant, wall, asSent: null } : instant;
}

/** The start of a triple's interval: its end less one interval. */
function readStart(triple: Triple, end: IntervalEnd): number | CmepProblemEvent {
  if (triple.length.unit === 'minute') return end.epochMs - triple.length.minutes * MS_PER_MINUTE;
  assert.ok(end.wall !== null, 'calendar interval ends keep their wall-clock time');
  const wall = stepCalendar(end.wall, triple.length, -1);
  if (wall === null) return calendarOverflow(triple, triple.length, end.wall, 'before');
  return wallToUtcMs(triple, wall, 'start');
}

function wallToUtcMs(
  triple: Triple,
  wall: Temporal.PlainDateTime,
  role: 'start' | 'end',
): number | CmepProblemEvent {
  const result = localToUtcMs(wall, triple.timeZone);
  if (result.ok) return result.epochMs;
  const text = formatDateTime(wall);
  const how =
    result.code === 'dst_ambiguous'
      ? 'occurs twice there (daylight saving time ends)'
      : 'does not exist there (skipped when daylight saving time starts)';
  const message =
    `${tripleWhere(triple)} has its interval ${role} at ${text} in ${triple.timeZone}, which ` +
    `${how}, so the instant is not guessed.`;
  return problem(triple.line, result.code, text, message);
}

function calendarOverflow(
  triple: Triple,
  length: CalendarLength,
  wall: Temporal.PlainDateTime,
  direction: 'after' | 'before',
): CmepProblemEvent {
  const step = length.unit === 'day' ? `${length.days} days` : `${length.months} months`;
  const message =
    `${tripleWhere(triple)} needs the date ${step} ${direction} ${formatDateTime(wall)}, a day ` +
    `that month lacks; the protocol does not say which day is meant, so none is picked.`;
  return problem(triple.line, 'date_time_calendar_overflow', formatDateTime(wall), message);
}

function overlap(triple: Triple, end: IntervalEnd, previous: IntervalEnd): CmepProblemEvent {
  const shown = end.asSent ?? '(implied)';
  const message =
    `${tripleWhere(triple)} ends at ${shown}, less than one interval after the previous ` +
    `triple's end, so the two intervals overlap or run backwards.`;
  return problem(triple.line, 'intervals_overlap', `${previous.asSent ?? ''}-${shown}`, message);
}

interface Reading {
  value: string | null;
  qualityAsSent: CmepQualityFlag;
  tolerated: CmepTolerance[];
}

function readReading(
  triple: Triple,
  flagText: string,
  valueText: string,
): Reading | CmepProblemEvent {
  const where = tripleWhere(triple);
  if (!isOneOf(CMEP_QUALITY_FLAGS, flagText)) {
    const message =
      `${where} has data quality flag '${flagText}'; the protocol defines an empty flag, E, A, ` +
      `N and R.`;
    return problem(triple.line, 'quality_invalid', flagText, message);
  }
  const tolerated: CmepTolerance[] = [];
  if (flagText === 'N') {
    if (valueText !== '') {
      const message = `Flag N sends no value, so the value '${valueText}' is ignored.`;
      note(tolerated, 'missing_flag_value_ignored', message);
    }
    return { value: null, qualityAsSent: flagText, tolerated };
  }
  const parsed = parseDecimal(valueText);
  if (parsed === null) {
    const message =
      valueText === ''
        ? `${where} has an empty value; the protocol reads an empty number as zero, but a ` +
          `billed zero is not guessed from a missing field.`
        : `${where} has value '${valueText}', which is not a decimal number.`;
    return problem(triple.line, 'value_not_decimal', valueText, message);
  }
  if (parsed.scientific) {
    note(tolerated, 'value_scientific_notation', `Value '${valueText}' read as ${parsed.decimal}.`);
  }
  return { value: parsed.decimal, qualityAsSent: flagText, tolerated };
}
