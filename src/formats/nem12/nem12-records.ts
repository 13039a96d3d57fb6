/**
 * Interprets one NEM12/NEM13 line at a time against the little state the format carries between
 * lines: whether a header and end were seen, the channel of the last 200 record and the day of the
 * last 300 record. Pure over its inputs; the byte-level reader feeds it decoded lines.
 */
import {
  NEM12_PROBLEM_VALUE_CHARS_MAX,
  type Nem12Channel,
  type Nem12Event,
  type Nem12ProblemCode,
  type Nem12Quality,
  type Nem12QualityFlag,
  type Nem12Source,
  type Nem12Tolerance,
  type Nem12ToleranceCode,
} from './nem12-events.js';
import {
  MINUTES_PER_DAY,
  isCalendarDate,
  isUnsignedDecimal,
  normaliseUnit,
} from './nem12-values.js';

/** Interval lengths the MDFF specification allows, in minutes. */
export const NEM12_INTERVAL_MINUTES_ALLOWED: readonly number[] = [5, 15, 30];
/**
 * Channels remembered to recognise a repeated 200 record; past this many the note is no longer
 * given, so the state stays bounded whatever the file holds.
 */
export const NEM12_CHANNELS_TRACKED_MAX = 10_000;

const QUALITY_METHOD = /^([AEFNSV])(\d{2})?$/;
const DATE_TIME_12 = /^\d{12}$/;
const STARTS_WITH_LETTER = /^[A-Za-z]/;

/** Fields each record holds in full, and the fewest it may hold with optional ones left off. */
const FIELD_COUNTS = {
  '100': { full: 5, least: 3 },
  '200': { full: 10, least: 9 },
  '400': { full: 6, least: 4 },
  '500': { full: 5, least: 2 },
  '250': { full: 23, least: 20 },
  '550': { full: 5, least: 1 },
  '900': { full: 1, least: 1 },
} as const;
/** Fields of a 300 record besides its values: indicator, date, then five after the values. */
const DAY_FIELDS_AFTER_VALUES = 5;

/** What one line looks like once split: its fields and where it stood. */
export interface Nem12Line {
  fields: string[];
  source: Nem12Source;
  tolerated: Nem12Tolerance[];
}

interface DayState {
  line: number;
  source: Nem12Source;
  /** Quality V: the 400 records that follow must cover every interval, in order. */
  variable: boolean;
  /** The first interval no 400 record has covered yet. */
  nextInterval: number;
  intervalDate: string;
  intervalsPerDay: number;
  channel: Nem12Channel;
}

/** A record broken off before its quality flag, which following value-only lines may continue. */
interface ShortDayState {
  line: number;
}

export class Nem12RecordInterpreter {
  #recordCount = 0;
  #headerSeen = false;
  #endLine: number | null = null;
  #afterEndReported = false;
  #channel: Nem12Channel | null = null;
  #failedDetailsLine: number | null = null;
  #day: DayState | null = null;
  #shortDay: ShortDayState | null = null;
  readonly #channelsSeen = new Set<string>();

  /** The events of one non-blank line. */
  interpret(line: Nem12Line): Nem12Event[] {
    const events: Nem12Event[] = [];
    const indicator = line.fields[0] ?? '';
    this.#recordCount += 1;
    if (this.#recordCount === 1 && indicator !== '100') {
      events.push(problem(line, 'missing_header', indicator, missingHeaderMessage(line)));
    }
    if (this.#endLine !== null && indicator !== '900' && !this.#afterEndReported) {
      this.#afterEndReported = true;
      const message =
        `Line ${line.source.line} holds a ${indicator} record after the 900 end record on line ` +
        `${this.#endLine}; it is read, but the file should have ended.`;
      events.push(problem(line, 'records_after_end', indicator, message));
    }
    const shortDay = this.#shortDay;
    this.#shortDay = null;
    if (indicator !== '400') events.push(...this.#closeDay());
    events.push(...this.#dispatch(indicator, line, shortDay));
    return events;
  }

  /** A line that could not be read as text: one problem, and it counts as a record. */
  interpretUnreadable(line: Nem12Line, code: Nem12ProblemCode, message: string): Nem12Event[] {
    this.#recordCount += 1;
    this.#shortDay = null;
    this.#day = null;
    return [problem(line, code, null, message)];
  }

  /** The problems only the end of the delivery reveals. */
  finish(source: Nem12Source): Nem12Event[] {
    const line: Nem12Line = { fields: [], source, tolerated: [] };
    if (this.#recordCount === 0) {
      return [problem(line, 'empty_file', null, 'The file holds no records at all.')];
    }
    const events: Nem12Event[] = this.#closeDay();
    if (this.#endLine === null) {
      const message =
        `The file ends at line ${source.line} without a 900 end record, ` +
        'so it may be truncated.';
      events.push(problem(line, 'missing_end', null, message));
    }
    return events;
  }

  /** Ends the run of 400 records of the last 300: a V day must have had every interval covered. */
  #closeDay(): Nem12Event[] {
    const day = this.#day;
    this.#day = null;
    if (day === null || !day.variable || day.nextInterval > day.intervalsPerDay) return [];
    const covered = day.nextInterval === 1 ? 'none' : `only 1..${day.nextInterval - 1}`;
    const message =
      `The 300 record on line ${day.line} has quality V, but the 400 records after it cover ` +
      `${covered} of its ${day.intervalsPerDay} intervals, so the quality of the rest is ` +
      `unknown.`;
    const line: Nem12Line = { fields: [], source: day.source, tolerated: [] };
    return [problem(line, 'interval_event_coverage', String(day.nextInterval - 1), message)];
  }

  #dispatch(indicator: string, line: Nem12Line, shortDay: ShortDayState | null): Nem12Event[] {
    switch (indicator) {
      case '100':
        return this.#header(line);
      case '200':
        return this.#nmiDetails(line);
      case '300':
        return this.#intervalDay(line);
      case '400':
        return this.#intervalEvent(line);
      case '500':
        return [b2b(line)];
      case '250':
        return this.#accumulationRead(line);
      case '550':
        return [accumulationB2b(line)];
      case '900':
        return [this.#end(line)];
      default:
        return [this.#unknown(indicator, line, shortDay)];
    }
  }

  #header(line: Nem12Line): Nem12Event[] {
    if (this.#headerSeen || this.#recordCount > 1) {
      const message =
        `Line ${line.source.line} holds a 100 header record, which may only be the first record ` +
        `of a file.`;
      return [problem(line, 'header_not_first', '100', message)];
    }
    this.#headerSeen = true;
    const counted = checkFieldCount(line, '100');
    if (typeof counted !== 'boolean') return [counted];
    const [, version = '', created = '', from = '', to = ''] = line.fields;
    const upperVersion = version.toUpperCase();
    if (upperVersion !== 'NEM12' && upperVersion !== 'NEM13') {
      const message =
        `The 100 header on line ${line.source.line} declares version '${version}'; this reader ` +
        `reads NEM12 and NEM13.`;
      return [problem(line, 'header_invalid', version, message)];
    }
    if (!DATE_TIME_12.test(created)) {
      const message =
        `The 100 header on line ${line.source.line} has creation time '${created}', which is ` +
        `not YYYYMMDDHHmm.`;
      return [problem(line, 'header_invalid', created, message)];
    }
    return [
      {
        kind: 'header',
        ...base(line),
        version: upperVersion,
        createdNemTime: created,
        fromParticipant: from,
        toParticipant: to,
      },
    ];
  }

  #nmiDetails(line: Nem12Line): Nem12Event[] {
    this.#channel = null;
    this.#failedDetailsLine = line.source.line;
    const counted = checkFieldCount(line, '200');
    if (typeof counted !== 'boolean') return [counted];
    const [, nmi = '', configuration = '', registerId = '', suffix = ''] = line.fields;
    const [mdmDataStreamId = '', meterSerialNumber = '', unitAsSent = ''] = line.fields.slice(5);
    const [intervalText = '', nextRead = ''] = line.fields.slice(8);
    const invalid = checkNmiDetails(line, nmi, configuration, suffix, unitAsSent, intervalText);
    if (invalid !== null) return [invalid];
    const unit = normaliseUnit(unitAsSent);
    if (unit === null) return [];
    const intervalMinutes = Number(intervalText);
    this.#failedDetailsLine = null;
    this.#channel = {
      nmi,
      nmiSuffix: suffix,
      registerId,
      meterSerialNumber,
      unit,
      intervalMinutes,
      nmiDetailsLine: line.source.line,
    };
    const event: Nem12Event = {
      kind: 'nmiDetails',
      ...base(line),
      nmi,
      nmiConfiguration: configuration,
      registerId,
      nmiSuffix: suffix,
      mdmDataStreamId,
      meterSerialNumber,
      unitAsSent,
      unit,
      intervalMinutes,
      intervalsPerDay: MINUTES_PER_DAY / intervalMinutes,
      nextScheduledReadDate: nextRead === '' ? null : nextRead,
    };
    if (unit !== unitAsSent) {
      note(event.tolerated, 'unit_case', `Unit '${unitAsSent}' read as ${unit}.`);
    }
    this.#noteRepeatedChannel(event.tolerated, nmi, suffix);
    return [event];
  }

  #noteRepeatedChannel(tolerated: Nem12Tolerance[], nmi: string, suffix: string): void {
    const key = `${nmi}\u0000${suffix}`;
    if (this.#channelsSeen.has(key)) {
      note(tolerated, 'repeated_nmi_details', `NMI ${nmi} suffix ${suffix} was declared before.`);
    } else if (this.#channelsSeen.size < NEM12_CHANNELS_TRACKED_MAX) {
      this.#channelsSeen.add(key);
    }
  }

  #intervalDay(line: Nem12Line): Nem12Event[] {
    const channel = this.#channel;
    const where = `The 300 record on line ${line.source.line}`;
    if (channel === null) {
      const message =
        this.#failedDetailsLine === null
          ? `${where} comes before any 200 record, so its NMI, unit and interval length are ` +
            `unknown.`
          : `${where} follows the 200 record on line ${this.#failedDetailsLine}, which was ` +
            `invalid, so its channel is unknown.`;
      return [problem(line, 'interval_day_without_details', '300', message)];
    }
    const intervalDate = line.fields[1] ?? '';
    if (!isCalendarDate(intervalDate)) {
      const message =
        `${where} has interval date '${intervalDate}', ` + 'which is not a YYYYMMDD calendar date.';
      return [problem(line, 'interval_date_invalid', intervalDate, message)];
    }
    const qualityIndex = line.fields.findIndex(
      (field, index) => index >= 2 && isQualityLike(field),
    );
    const intervalsPerDay = MINUTES_PER_DAY / channel.intervalMinutes;
    if (qualityIndex === -1) {
      this.#shortDay = { line: line.source.line };
      const valueCount = trimTrailingEmpty(line.fields).length - 2;
      const message =
        `${where} ends after ${valueCount} interval values without a quality flag: the row is ` +
        `truncated (${intervalsPerDay} values are needed).`;
      return [problem(line, 'record_truncated', String(valueCount), message)];
    }
    const values = line.fields.slice(2, qualityIndex);
    if (values.length !== intervalsPerDay) {
      const message =
        `${where} has ${values.length} interval values, but the 200 record on line ` +
        `${channel.nmiDetailsLine} declares ${channel.intervalMinutes}-minute intervals, so it ` +
        `needs ${intervalsPerDay}.`;
      return [problem(line, 'interval_count_mismatch', String(values.length), message)];
    }
    const badValue = values.findIndex((value) => !isUnsignedDecimal(value));
    if (badValue !== -1) {
      const value = values[badValue] ?? '';
      const message =
        `${where} holds '${value}' for interval ${badValue + 1}, which is not an unsigned ` +
        `decimal number.`;
      return [problem(line, 'value_not_decimal', value, message)];
    }
    return this.#completeDay(line, channel, intervalDate, values, qualityIndex);
  }

  #completeDay(
    line: Nem12Line,
    channel: Nem12Channel,
    intervalDate: string,
    values: string[],
    qualityIndex: number,
  ): Nem12Event[] {
    const rest = line.fields.slice(qualityIndex);
    const quality = parseQuality(line, rest, true, '300');
    if ('kind' in quality) return [quality];
    const counted = checkTrailingFields(
      line,
      qualityIndex + DAY_FIELDS_AFTER_VALUES,
      qualityIndex + 1,
    );
    if (counted !== null) return [counted];
    const [, , , updateDateTime = '', msatsLoadDateTime = ''] = rest;
    const badStamp = [updateDateTime, msatsLoadDateTime].find(
      (stamp) => stamp !== '' && !DATE_TIME_14.test(stamp),
    );
    if (badStamp !== undefined) {
      // The UpdateDateTime becomes the readings' sequence number, so it must be exactly a number.
      const message =
        `The 300 record on line ${line.source.line} gives '${badStamp}' as its UpdateDateTime or ` +
        'MSATSLoadDateTime, which is not a DateTime(14) (YYYYMMDDhhmmss).';
      return [problem(line, 'update_datetime_invalid', badStamp, message)];
    }
    this.#day = {
      line: line.source.line,
      source: line.source,
      variable: quality.qualityFlag === 'V',
      nextInterval: 1,
      intervalDate,
      intervalsPerDay: values.length,
      channel,
    };
    return [
      {
        kind: 'intervalDay',
        ...base(line),
        channel,
        intervalDate,
        values,
        ...quality,
        updateDateTime: updateDateTime === '' ? null : updateDateTime,
        msatsLoadDateTime: msatsLoadDateTime === '' ? null : msatsLoadDateTime,
      },
    ];
  }

  #intervalEvent(line: Nem12Line): Nem12Event[] {
    const day = this.#day;
    if (day === null) {
      const message =
        `The 400 record on line ${line.source.line} does not follow a valid 300 record, so the ` +
        `day it qualifies is unknown.`;
      return [problem(line, 'interval_event_without_day', '400', message)];
    }
    const counted = checkFieldCount(line, '400');
    if (typeof counted !== 'boolean') return [counted];
    const [, startText = '', endText = ''] = line.fields;
    const start = parseIntervalNumber(startText);
    const end = parseIntervalNumber(endText);
    if (start === null || end === null || start > end || end > day.intervalsPerDay) {
      const message =
        `The 400 record on line ${line.source.line} covers intervals '${startText}' to ` +
        `'${endText}', which is not a range within 1..${day.intervalsPerDay} of the 300 record ` +
        `on line ${day.line}.`;
      return [problem(line, 'interval_event_range', `${startText}-${endText}`, message)];
    }
    if (!day.variable) {
      const message =
        `The 400 record on line ${line.source.line} follows the 300 record on line ${day.line}, ` +
        `whose quality is not V, so it may not carry interval qualities.`;
      return [problem(line, 'interval_event_unexpected', '400', message)];
    }
    if (start !== day.nextInterval) {
      const message =
        `The 400 record on line ${line.source.line} starts at interval ${start}, but the 400 ` +
        `records of the 300 on line ${day.line} have covered up to ${day.nextInterval - 1}: ` +
        `they must run in order without gap or overlap.`;
      return [problem(line, 'interval_event_range', `${startText}-${endText}`, message)];
    }
    // The range is sound, so the next 400 continues after it even if this one's quality is not.
    day.nextInterval = end + 1;
    const quality = parseQuality(line, line.fields.slice(3), false, '400');
    if ('kind' in quality) return [quality];
    return [
      {
        kind: 'intervalEvent',
        ...base(line),
        channel: day.channel,
        intervalDate: day.intervalDate,
        intervalDayLine: day.line,
        startInterval: start,
        endInterval: end,
        ...quality,
      },
    ];
  }

  #accumulationRead(line: Nem12Line): Nem12Event[] {
    const counted = checkFieldCount(line, '250');
    if (typeof counted !== 'boolean') return [counted];
    const field = (index: number): string => line.fields[index] ?? '';
    const optional = (index: number): string | null => (field(index) === '' ? null : field(index));
    const unit = normaliseUnit(field(19));
    const invalid = checkAccumulation(line, unit, field(1), [field(8), field(13), field(18)]);
    if (invalid !== null || unit === null) return invalid === null ? [] : [invalid];
    const event: Nem12Event = {
      kind: 'accumulation',
      indicator: '250',
      ...base(line),
      nmi: field(1),
      nmiConfiguration: field(2),
      registerId: field(3),
      nmiSuffix: field(4),
      mdmDataStreamId: field(5),
      meterSerialNumber: field(6),
      directionIndicator: field(7),
      previousRegisterRead: field(8),
      previousReadDateTime: field(9),
      previousQualityMethod: field(10),
      currentRegisterRead: field(13),
      currentReadDateTime: field(14),
      currentQualityMethod: field(15),
      quantity: field(18),
      unitAsSent: field(19),
      unit,
      nextScheduledReadDate: optional(20),
      updateDateTime: optional(21),
      msatsLoadDateTime: optional(22),
    };
    if (unit !== field(19))
      note(event.tolerated, 'unit_case', `Unit '${field(19)}' read as ${unit}.`);
    return [event];
  }

  #end(line: Nem12Line): Nem12Event {
    const counted = checkFieldCount(line, '900');
    if (typeof counted !== 'boolean') return counted;
    const event: Nem12Event = { kind: 'end', ...base(line) };
    if (this.#endLine === null) {
      this.#endLine = line.source.line;
    } else {
      const message = `A further 900 end record; the first was on line ${this.#endLine}.`;
      note(event.tolerated, 'repeated_end', message);
    }
    return event;
  }

  #unknown(indicator: string, line: Nem12Line, shortDay: ShortDayState | null): Nem12Event {
    if (shortDay !== null && isUnsignedDecimal(indicator)) {
      this.#shortDay = shortDay;
      const message =
        `Line ${line.source.line} starts with a value, not a record indicator: it continues the ` +
        `300 record on line ${shortDay.line}, which was hard-wrapped over several lines, so its ` +
        `values are not read.`;
      return problem(line, 'interval_row_wrapped', indicator, message);
    }
    const message =
      `Line ${line.source.line} starts with '${indicator}', which is not an MDFF record ` +
      `indicator (100, 200, 300, 400, 500, 250, 550, 900).`;
    return problem(line, 'unknown_record', indicator, message);
  }
}

function base(line: Nem12Line): Nem12Source & { tolerated: Nem12Tolerance[] } {
  return { ...line.source, tolerated: [...line.tolerated] };
}

function note(tolerated: Nem12Tolerance[], code: Nem12ToleranceCode, message: string): void {
  tolerated.push({ code, message });
}

/** NEM12's DateTime(14): YYYYMMDDhhmmss. */
const DATE_TIME_14 = /^[0-9]{14}$/;

export function problem(
  line: Nem12Line,
  code: Nem12ProblemCode,
  value: string | null,
  message: string,
): Nem12Event {
  const shown =
    value !== null && value.length > NEM12_PROBLEM_VALUE_CHARS_MAX
      ? `${value.slice(0, NEM12_PROBLEM_VALUE_CHARS_MAX)}... (${value.length} chars)`
      : value;
  return { kind: 'problem', ...base(line), code, value: shown, message };
}

function missingHeaderMessage(line: Nem12Line): string {
  return (
    `The first record, on line ${line.source.line}, is not a 100 header: the file's version, ` +
    'creation time and participants are unknown. The records are still read.'
  );
}

/**
 * Checks a record's field count against its layout: a problem when too few or non-empty extras,
 * true when it is complete or tolerably short or padded (noting which on the line).
 */
function checkFieldCount(line: Nem12Line, indicator: keyof typeof FIELD_COUNTS): Nem12Event | true {
  const { full, least } = FIELD_COUNTS[indicator];
  return checkTrailingFields(line, full, least) ?? true;
}

function checkTrailingFields(line: Nem12Line, full: number, least: number): Nem12Event | null {
  const indicator = line.fields[0] ?? '';
  const count = line.fields.length;
  if (count < least) {
    const message =
      `The ${indicator} record on line ${line.source.line} has ${count} fields; at least ` +
      `${least} are required, so it is truncated.`;
    return problem(line, 'record_truncated', String(count), message);
  }
  if (count < full) {
    note(
      line.tolerated,
      'optional_fields_missing',
      `${full - count} optional trailing fields absent.`,
    );
  }
  const extras = line.fields.slice(full);
  if (extras.some((field) => field !== '')) {
    const message =
      `The ${indicator} record on line ${line.source.line} has ${count} fields where its layout ` +
      `has ${full}; the extra fields are not empty.`;
    return problem(line, 'fields_unexpected', extras.join(','), message);
  }
  if (extras.length > 0) {
    note(
      line.tolerated,
      'trailing_empty_fields',
      `${extras.length} empty trailing fields ignored.`,
    );
  }
  return null;
}

function checkNmiDetails(
  line: Nem12Line,
  nmi: string,
  configuration: string,
  suffix: string,
  unitAsSent: string,
  intervalText: string,
): Nem12Event | null {
  const where = `The 200 record on line ${line.source.line}`;
  if (nmi === '' || configuration === '' || suffix === '') {
    const missing = nmi === '' ? 'NMI' : configuration === '' ? 'NMI configuration' : 'NMI suffix';
    return problem(line, 'nmi_details_invalid', '', `${where} has an empty ${missing}.`);
  }
  if (!suffixPairs(configuration).includes(suffix)) {
    const message =
      `${where} is for suffix ${suffix}, which its NMI configuration '${configuration}' does ` +
      `not list.`;
    return problem(line, 'suffix_not_in_configuration', suffix, message);
  }
  if (normaliseUnit(unitAsSent) === null) {
    const message = `${where} declares unit '${unitAsSent}', which is not a known unit of measure.`;
    return problem(line, 'unit_unknown', unitAsSent, message);
  }
  if (!NEM12_INTERVAL_MINUTES_ALLOWED.some((minutes) => String(minutes) === intervalText)) {
    const message =
      `${where} declares interval length '${intervalText}'; ` + 'NEM12 allows 5, 15 or 30 minutes.';
    return problem(line, 'interval_length_invalid', intervalText, message);
  }
  return null;
}

function suffixPairs(configuration: string): string[] {
  const pairs: string[] = [];
  for (let index = 0; index + 2 <= configuration.length; index += 2) {
    pairs.push(configuration.slice(index, index + 2));
  }
  return pairs;
}

function checkAccumulation(
  line: Nem12Line,
  unit: string | null,
  nmi: string,
  decimals: string[],
): Nem12Event | null {
  const where = `The 250 record on line ${line.source.line}`;
  if (nmi === '') return problem(line, 'accumulation_invalid', '', `${where} has an empty NMI.`);
  const bad = decimals.find((value) => !isUnsignedDecimal(value));
  if (bad !== undefined) {
    const message =
      `${where} holds register read or quantity '${bad}', which is not an unsigned decimal ` +
      `number.`;
    return problem(line, 'value_not_decimal', bad, message);
  }
  if (unit === null) {
    const unitAsSent = line.fields[19] ?? '';
    const message = `${where} declares unit '${unitAsSent}', which is not a known unit of measure.`;
    return problem(line, 'unit_unknown', unitAsSent, message);
  }
  return null;
}

function b2b(line: Nem12Line): Nem12Event {
  const counted = checkFieldCount(line, '500');
  if (typeof counted !== 'boolean') return counted;
  const [, transactionCode = '', serviceOrder = '', readDateTime = '', indexRead = ''] =
    line.fields;
  if (transactionCode === '') {
    const message = `The 500 record on line ${line.source.line} has an empty transaction code.`;
    return problem(line, 'b2b_invalid', '', message);
  }
  return {
    kind: 'b2b',
    ...base(line),
    transactionCode,
    retailServiceOrder: serviceOrder === '' ? null : serviceOrder,
    readDateTime: readDateTime === '' ? null : readDateTime,
    indexRead: indexRead === '' ? null : indexRead,
  };
}

function accumulationB2b(line: Nem12Line): Nem12Event {
  const counted = checkFieldCount(line, '550');
  if (typeof counted !== 'boolean') return counted;
  const optional = (index: number): string | null => {
    const value = line.fields[index] ?? '';
    return value === '' ? null : value;
  };
  return {
    kind: 'accumulation',
    indicator: '550',
    ...base(line),
    previousTransactionCode: optional(1),
    previousRetailServiceOrder: optional(2),
    currentTransactionCode: optional(3),
    currentRetailServiceOrder: optional(4),
  };
}

/**
 * Reads QualityMethod, ReasonCode, ReasonDescription from `fields`. E, F and S need a two-digit
 * method flag; V (the 400s give the quality) is allowed on 300 records only and takes none.
 */
function parseQuality(
  line: Nem12Line,
  fields: string[],
  allowVariable: boolean,
  indicator: '300' | '400',
): Nem12Quality | Nem12Event {
  const [qualityMethod = '', reasonCode = '', reasonDescription = ''] = fields;
  const match = QUALITY_METHOD.exec(qualityMethod);
  const flag = match?.[1] as Nem12QualityFlag | undefined;
  const method = match?.[2] ?? null;
  const needsMethod = flag === 'E' || flag === 'F' || flag === 'S';
  const valid =
    flag !== undefined &&
    (flag !== 'V' || (allowVariable && method === null)) &&
    (!needsMethod || method !== null);
  if (!valid) {
    const message =
      `The ${indicator} record on line ${line.source.line} has quality '${qualityMethod}'; ` +
      `expected a flag ${allowVariable ? 'A, E, F, N, S or V' : 'A, E, F, N or S'}, with a ` +
      `two-digit method flag after E, F and S.`;
    return problem(line, 'quality_invalid', qualityMethod, message);
  }
  return {
    qualityMethod,
    qualityFlag: flag,
    methodFlag: method,
    reasonCode: reasonCode === '' ? null : reasonCode,
    reasonDescription: reasonDescription === '' ? null : reasonDescription,
  };
}

function isQualityLike(field: string): boolean {
  return STARTS_WITH_LETTER.test(field);
}

function parseIntervalNumber(text: string): number | null {
  if (!/^\d{1,4}$/.test(text)) return null;
  const number = Number(text);
  return number >= 1 ? number : null;
}

function trimTrailingEmpty(fields: string[]): string[] {
  let end = fields.length;
  while (end > 0 && fields[end - 1] === '') end -= 1;
  return fields.slice(0, end);
}
