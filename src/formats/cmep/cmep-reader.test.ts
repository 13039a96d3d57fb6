// Goal: MEPMD01 records become exact interval events with the right UTC starts, broken lines coded
// problems, whatever the chunking. Method: hand-summed fixtures, dialects, fast-check round trips.
import { readFileSync, readdirSync } from 'node:fs';
import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CMEP_COMMODITIES,
  CMEP_LINE_BYTES_MAX,
  CMEP_PROBLEM_CODES,
  CMEP_PURPOSES,
  CMEP_RECORD_VERSIONS,
  CMEP_UNIT_TEXTS,
  applyCalculationConstant,
  createCmepReader,
  type CmepEvent,
  type CmepIntervalEvent,
  type CmepRecordEvent,
} from './cmep-reader.js';
import { parseIntervalLength } from './cmep-values.js';
import { writeCmep, type CmepWriteRecord, type CmepWriteTriple } from './cmep-writer.js';
import { pushSplit } from '../../test-support/split.js';

const FIXTURES = new URL('../../../test/fixtures/cmep/', import.meta.url);
const VALID_FILES = readdirSync(new URL('valid/', FIXTURES)).sort();
const INVALID_FILES = readdirSync(new URL('invalid/', FIXTURES)).sort();

/** The zone each fixture is written in, as its README lists. */
const FIXTURE_ZONES: Record<string, string> = {
  'electric-15min-day-pacific.cmep': 'America/Los_Angeles',
  'electric-hourly-spring-forward.cmep': 'America/Los_Angeles',
  'electric-hourly-fall-back.cmep': 'America/Los_Angeles',
  'gas-daily-therms-utc.cmep': 'UTC',
  'water-monthly-ccf-offset.cmep': '-08:00',
  'count-and-truncation.cmep': 'UTC',
  'dst-and-calendar.cmep': 'America/Los_Angeles',
  'vendor-dialect.cmep': 'UTC',
  'bad-fields.cmep': 'UTC',
};

function fixture(folder: 'valid' | 'invalid', name: string): Buffer {
  return readFileSync(new URL(`${folder}/${name}`, FIXTURES));
}

function zoneOf(name: string): string {
  const zone = FIXTURE_ZONES[name];
  if (zone === undefined) throw new Error(`no zone listed for fixture ${name}`);
  return zone;
}

function readAll(bytes: Uint8Array, timeZone: string, splitPoints: number[] = []): CmepEvent[] {
  return pushSplit(createCmepReader({ timeZone }), bytes, splitPoints);
}

function readText(text: string, timeZone = 'UTC'): CmepEvent[] {
  return readAll(Buffer.from(text, 'utf8'), timeZone);
}

function readFixture(folder: 'valid' | 'invalid', name: string): CmepEvent[] {
  return readAll(fixture(folder, name), zoneOf(name));
}

function problemsOf(events: CmepEvent[]): Array<[number, string]> {
  return events.flatMap((event) => (event.kind === 'problem' ? [[event.line, event.code]] : []));
}

function intervals(events: CmepEvent[], unitAsSent?: string): CmepIntervalEvent[] {
  return events.filter(
    (event): event is CmepIntervalEvent =>
      event.kind === 'interval' && (unitAsSent === undefined || event.unitAsSent === unitAsSent),
  );
}

function records(events: CmepEvent[]): CmepRecordEvent[] {
  return events.filter((event): event is CmepRecordEvent => event.kind === 'record');
}

function notesOf(event: CmepEvent | undefined): string[] {
  return event?.tolerated.map((note) => note.code) ?? [];
}

const iso = (epochMs: number | undefined): string =>
  epochMs === undefined ? 'none' : new Date(epochMs).toISOString();

/** Exact sum of signed decimals as a canonical decimal string, through BigInt. */
function sumDecimals(values: Array<string | null>): string {
  const texts = values.map((value) => value ?? '0');
  const scale = Math.max(0, ...texts.map((value) => (value.split('.')[1] ?? '').length));
  const total = texts.reduce((sum, value) => {
    const negative = value.startsWith('-');
    const [integer = '', fraction = ''] = value.replace('-', '').split('.');
    const magnitude = BigInt(`${integer || '0'}${fraction.padEnd(scale, '0')}`);
    return sum + (negative ? -magnitude : magnitude);
  }, 0n);
  const sign = total < 0n ? '-' : '';
  const digits = (total < 0n ? -total : total).toString().padStart(scale + 1, '0');
  const integer = digits.slice(0, digits.length - scale);
  const fraction = digits.slice(digits.length - scale).replace(/0+$/, '');
  return `${sign}${fraction === '' ? integer : `${integer}.${fraction}`}`;
}

describe('valid fixtures', () => {
  it.each(VALID_FILES)('%s reads without problems, every record whole', (name) => {
    const events = readFixture('valid', name);
    expect(problemsOf(events)).toEqual([]);
    for (const record of records(events)) {
      const own = events.filter((event) => event.kind === 'interval' && event.line === record.line);
      expect(own).toHaveLength(record.count);
    }
  });

  it('reads hand-checked facts of the 15-minute Pacific day (implied date-times)', () => {
    const events = readFixture('valid', 'electric-15min-day-pacific.cmep');
    const kwh = intervals(events, 'KWH');
    expect(kwh).toHaveLength(96);
    expect(sumDecimals(kwh.map((interval) => interval.value))).toBe('17.338');
    expect(iso(kwh[0]?.intervalStartUtcMs)).toBe('2024-05-14T07:00:00.000Z');
    expect(iso(kwh[95]?.intervalStartUtcMs)).toBe('2024-05-15T06:45:00.000Z');
    expect(new Set(kwh.map((interval) => interval.intervalSeconds))).toEqual(new Set([900]));
    expect(kwh[0]).toMatchObject({
      meterId: 'E1234567',
      unit: 'kWh',
      endDateTimeAsSent: '202405140015',
    });
    expect(kwh[1]?.endDateTimeAsSent).toBeNull();
    const estimated = kwh.filter((interval) => interval.quality === 'estimated');
    expect(estimated.map((interval) => [iso(interval.intervalStartUtcMs), interval.value])).toEqual(
      [
        ['2024-05-14T14:30:00.000Z', '0.339'],
        ['2024-05-14T14:45:00.000Z', '0.308'],
      ],
    );
    const exported = intervals(events, 'GKWH');
    expect(exported).toHaveLength(24);
    expect(exported[0]).toMatchObject({
      unit: 'kWh',
      flow: 'received',
      measurement: 'accumulation',
    });
    expect(sumDecimals(exported.map((interval) => interval.value))).toBe('8.416');
    const [demand] = intervals(events, 'KW');
    expect(demand).toMatchObject({
      measurement: 'demand',
      value: '3.912',
      intervalSeconds: 86_400,
    });
    expect(iso(demand?.intervalStartUtcMs)).toBe('2024-05-14T07:00:00.000Z');
  });

  it('reads 23 hours across the spring-forward gap, stepping the implied times in exact time', () => {
    const events = readFixture('valid', 'electric-hourly-spring-forward.cmep');
    const all = intervals(events);
    expect(all).toHaveLength(23);
    expect(sumDecimals(all.map((interval) => interval.value))).toBe('19.33');
    expect(iso(all[0]?.intervalStartUtcMs)).toBe('2024-03-10T08:00:00.000Z');
    expect(iso(all[1]?.intervalStartUtcMs)).toBe('2024-03-10T09:00:00.000Z');
    expect(iso(all[22]?.intervalStartUtcMs)).toBe('2024-03-11T06:00:00.000Z');
    expect(new Set(all.map((interval) => interval.intervalSeconds))).toEqual(new Set([3600]));
    expect(notesOf(records(events)[0])).toEqual([]);
  });

  it('reads 25 hours on the fall-back day, the repeated hour once in each offset', () => {
    const events = readFixture('valid', 'electric-hourly-fall-back.cmep');
    const all = intervals(events);
    expect(all).toHaveLength(26);
    const dayStartMs = Date.parse('2024-11-03T07:00:00Z');
    const nextDayStartMs = Date.parse('2024-11-04T08:00:00Z');
    const day = all.filter(
      (interval) =>
        interval.intervalStartUtcMs >= dayStartMs && interval.intervalStartUtcMs < nextDayStartMs,
    );
    expect(day).toHaveLength(25);
    expect(sumDecimals(day.map((interval) => interval.value))).toBe('21.53');
    expect(iso(all[0]?.intervalStartUtcMs)).toBe('2024-11-03T06:00:00.000Z');
    expect(iso(all[25]?.intervalStartUtcMs)).toBe('2024-11-04T07:00:00.000Z');
    const starts = all.map((interval) => interval.intervalStartUtcMs);
    expect(
      starts.every((start, index) => index === 0 || start - (starts[index - 1] ?? 0) === 3_600_000),
    ).toBe(true);
    expect(all[9]).toMatchObject({ qualityAsSent: 'R', quality: 'raw' });
  });

  it('reads the UTC gas week, dial reads and pulses with their constant', () => {
    const events = readFixture('valid', 'gas-daily-therms-utc.cmep');
    const [therms, dial, pulses] = records(events);
    expect(therms).toMatchObject({
      purpose: 'RESEND',
      commodity: 'G',
      senderCustomerId: 'ACCT 55102, UNIT B',
      calculationConstant: null,
      intervalLength: { unit: 'day', days: 1 },
    });
    const daily = intervals(events, 'THERM');
    expect(daily).toHaveLength(7);
    expect(sumDecimals(daily.map((interval) => interval.value))).toBe('20.7');
    expect(daily.map((interval) => interval.quality)).toEqual([
      'actual',
      'actual',
      'estimated',
      'substituted',
      'actual',
      'raw',
      'actual',
    ]);
    expect(iso(daily[0]?.intervalStartUtcMs)).toBe('2024-01-01T00:00:00.000Z');
    expect(dial).toMatchObject({ unit: 'dial', measurement: 'register' });
    const reads = intervals(events, 'GASREG');
    expect(reads.map((read) => [read.value, read.intervalSeconds])).toEqual([
      ['4512', 604_800],
      ['4533', 604_800],
    ]);
    expect(pulses).toMatchObject({ unit: 'pulse', calculationConstant: '2.5', purpose: 'HISTORY' });
    const engineering = intervals(events, 'PULSE').map((interval) =>
      applyCalculationConstant(interval.value ?? '0', interval.calculationConstant ?? '1'),
    );
    expect(engineering).toEqual(['27.5', '22.5', '35']);
    expect(sumDecimals(engineering)).toBe('85');
  });

  it('reads the monthly water year at a fixed offset, noting its dialect', () => {
    const events = readFixture('valid', 'water-monthly-ccf-offset.cmep');
    const [year, second] = records(events);
    expect(year).toMatchObject({ recordVersion: '20020201', unitAsSent: 'ccf', unit: 'hft3' });
    expect(notesOf(year)).toEqual([
      'lf_line_end',
      'unit_case',
      'crc_not_checked',
      'trailing_empty_fields',
    ]);
    const all = intervals(events).filter((interval) => interval.meterId === 'W55-00871');
    expect(all).toHaveLength(12);
    expect(sumDecimals(all.map((interval) => interval.value))).toBe('128.6');
    expect(iso(all[0]?.intervalStartUtcMs)).toBe('2024-01-01T08:00:00.000Z');
    expect(iso(all[11]?.intervalStartUtcMs)).toBe('2024-12-01T08:00:00.000Z');
    expect(all.slice(0, 2).map((interval) => interval.intervalSeconds)).toEqual([
      31 * 86_400,
      29 * 86_400,
    ]);
    const seconds = all.reduce((total, interval) => total + interval.intervalSeconds, 0);
    expect(seconds).toBe(366 * 86_400);
    expect(second?.senderCustomerId).toBe('W-20932');
    expect(notesOf(second)).toEqual(['lf_line_end', 'whitespace_trimmed']);
  });

  it('gives every event the byte span of its own line', () => {
    for (const name of VALID_FILES) {
      const bytes = fixture('valid', name);
      const lines = bytes.toString('latin1').split('\n');
      for (const event of readAll(bytes, zoneOf(name))) {
        const text = bytes.toString(
          'latin1',
          event.byteOffset,
          event.byteOffset + event.byteLength,
        );
        expect(text).toBe(lines[event.line - 1]?.replace(/\r$/, ''));
      }
    }
  });
});

/** Problems (line, code) each invalid fixture must yield, and the intervals still read. */
const INVALID_EXPECTATIONS: Record<
  string,
  { problems: Array<[number, string]>; intervals: number }
> = {
  'count-and-truncation.cmep': {
    problems: [
      [2, 'count_mismatch'],
      [3, 'record_truncated'],
      [4, 'count_mismatch'],
      [6, 'fields_unexpected'],
      [7, 'record_unterminated'],
    ],
    intervals: 6,
  },
  'dst-and-calendar.cmep': {
    problems: [
      [1, 'dst_ambiguous'],
      [2, 'dst_nonexistent'],
      [4, 'date_time_calendar_overflow'],
    ],
    intervals: 3,
  },
  'vendor-dialect.cmep': {
    problems: [
      [1, 'record_version_unknown'],
      [2, 'quality_invalid'],
      [3, 'unit_unknown'],
    ],
    intervals: 3,
  },
  'bad-fields.cmep': {
    problems: [
      [1, 'record_type_unsupported'],
      [3, 'record_type_unknown'],
      [4, 'commodity_unknown'],
      [5, 'purpose_unknown'],
      [6, 'meter_id_missing'],
      [7, 'value_not_decimal'],
      [8, 'value_not_decimal'],
      [9, 'interval_invalid'],
      [10, 'intervals_overlap'],
      [11, 'quote_invalid'],
      [12, 'time_stamp_invalid'],
      [13, 'calculation_constant_invalid'],
      [14, 'date_time_invalid'],
      [15, 'date_time_invalid'],
      [16, 'count_invalid'],
      [17, 'record_truncated'],
    ],
    intervals: 2,
  },
};

describe('invalid fixtures', () => {
  it('has an expectation and a zone for every fixture', () => {
    expect(Object.keys(INVALID_EXPECTATIONS).sort()).toEqual(INVALID_FILES);
    expect(Object.keys(FIXTURE_ZONES).sort()).toEqual([...VALID_FILES, ...INVALID_FILES].sort());
  });

  it.each(INVALID_FILES)('%s yields its documented problems and keeps the rest', (name) => {
    const expected = INVALID_EXPECTATIONS[name];
    const events = readFixture('invalid', name);
    expect(problemsOf(events)).toEqual(expected?.problems);
    expect(intervals(events)).toHaveLength(expected?.intervals ?? -1);
    for (const event of events) {
      if (event.kind === 'problem') expect(event.message).toMatch(/^[A-Z0-9].*\.$/);
    }
  });

  it('never reads the cut value of an unterminated last line', () => {
    const events = readFixture('invalid', 'count-and-truncation.cmep');
    expect(intervals(events).map((interval) => interval.meterId)).toEqual([
      'M-100',
      'M-100',
      'M-100',
      'M-101',
      'M-101',
      'M-101',
    ]);
    const last = events.at(-1);
    expect(last?.kind === 'problem' && last.message).toBe(
      'The MEPMD01 record on line 7 is the last line and has no line terminator and no CRC ' +
        'field, so its last value may have been cut short; it is not read.',
    );
  });

  it('names the wall time and zone of a DST problem', () => {
    const events = readFixture('invalid', 'dst-and-calendar.cmep');
    const [ambiguous, nonexistent] = events.filter((event) => event.kind === 'problem');
    expect(ambiguous).toMatchObject({ value: '202411030100' });
    expect(ambiguous?.kind === 'problem' && ambiguous.message).toBe(
      'Triple 2 of the MEPMD01 record on line 1 has its interval end at 202411030100 in ' +
        'America/Los_Angeles, which occurs twice there (daylight saving time ends), so the ' +
        'instant is not guessed.',
    );
    expect(nonexistent).toMatchObject({ value: '202403100230' });
    const read = intervals(events).map((interval) => iso(interval.intervalStartUtcMs));
    expect(read).toEqual([
      '2024-11-03T06:00:00.000Z',
      '2024-11-03T07:00:00.000Z',
      '2024-11-03T08:00:00.000Z',
    ]);
  });
});

const HEADER = 'MEPMD01,19970819,SENDER,,RECEIVER,,202406020600,M-1,OK,E,KWH,1';
/** A valid hourly record with `count` triples, the first date-time sent and the rest implied. */
function record(count: number, value = '1.5', header = HEADER): string {
  const triples = [`202406010100,,${value}`];
  for (let index = 1; index < count; index++) triples.push(`,,${value}`);
  return `${header},00000100,${count},${triples.join(',')}`;
}

describe('dialects and synthetic errors', () => {
  it('tolerates a byte order mark, blank lines, LF, blanks, padding and unit case', () => {
    const header = HEADER.replace('KWH', 'kWh').replace('SENDER', ' SENDER ');
    const text = `\uFEFF\r\n\n${record(2, '1.5', header)},,,\n${record(1)}\r\n`;
    const events = readText(text);
    expect(problemsOf(events)).toEqual([]);
    const [first, second] = records(events);
    expect(first).toMatchObject({ line: 3, byteOffset: 6, senderId: 'SENDER', unit: 'kWh' });
    expect(notesOf(first)).toEqual([
      'byte_order_mark',
      'blank_lines_skipped',
      'lf_line_end',
      'whitespace_trimmed',
      'unit_case',
      'trailing_empty_fields',
    ]);
    expect(notesOf(second)).toEqual([]);
  });

  it('notes a CRC field, an empty time stamp and a missing final line end it can trust', () => {
    const header = HEADER.replace('202406020600', '');
    const events = readText(`${record(1, '2', header)},HBEEF`);
    expect(problemsOf(events)).toEqual([]);
    expect(notesOf(records(events)[0])).toEqual([
      'time_stamp_missing',
      'crc_not_checked',
      'final_line_end_missing',
    ]);
    expect(records(events)[0]?.createdDateTime).toBeNull();
  });

  it('reads records over the protocol limits of 48 triples and 2048 characters, noted', () => {
    const events = readText(`${record(150, '12345.678901234')}\r\n`);
    expect(problemsOf(events)).toEqual([]);
    expect(intervals(events)).toHaveLength(150);
    expect(notesOf(records(events)[0])).toEqual([
      'count_over_protocol_max',
      'line_over_protocol_length',
    ]);
  });

  it('rewrites scientific notation exactly and ignores a value sent with flag N', () => {
    const header = HEADER.replace(/,1$/, ',5E-1');
    const line = `${header},00000100,4,202406010100,,1.5E-3,,,+2,,N,7,,N,`;
    const events = readText(`${line}\r\n`);
    expect(problemsOf(events)).toEqual([]);
    expect(records(events)[0]?.calculationConstant).toBe('0.5');
    expect(notesOf(records(events)[0])).toEqual(['value_scientific_notation']);
    const all = intervals(events);
    expect(all.map((interval) => [interval.value, interval.quality])).toEqual([
      ['0.0015', 'actual'],
      ['2', 'actual'],
      [null, 'missing'],
      [null, 'missing'],
    ]);
    expect(all.map((interval) => notesOf(interval))).toEqual([
      ['value_scientific_notation'],
      [],
      ['missing_flag_value_ignored'],
      [],
    ]);
  });

  it('keeps quoted text verbatim, commas and blanks included', () => {
    const line = record(1).replace(',RECEIVER,', ', " R, 1 " ,');
    const events = readText(`${line}\r\n`);
    expect(problemsOf(events)).toEqual([]);
    expect(records(events)[0]?.receiverId).toBe(' R, 1 ');
    expect(notesOf(records(events)[0])).toEqual(['whitespace_trimmed']);
    expect(problemsOf(readText(`${line.replace('" ,', '"x,')}\r\n`))).toEqual([
      [1, 'quote_invalid'],
    ]);
  });

  it('reads days on the wall clock: the spring-forward day is 23 hours long', () => {
    const line = `${HEADER},00010000,3,202403100000,,20.1,,,18.7,,,21.4`;
    const all = intervals(readText(`${line}\r\n`, 'America/Los_Angeles'));
    expect(
      all.map((interval) => [iso(interval.intervalStartUtcMs), interval.intervalSeconds]),
    ).toEqual([
      ['2024-03-09T08:00:00.000Z', 86_400],
      ['2024-03-10T08:00:00.000Z', 82_800],
      ['2024-03-11T07:00:00.000Z', 86_400],
    ]);
  });

  it('refuses month steps that land on a day the month lacks, forwards and backwards', () => {
    const monthly = (first: string): string => `${HEADER},01000000,2,${first},,612.4,,,587.9\r\n`;
    expect(problemsOf(readText(monthly('202403310000')))).toEqual([
      [1, 'date_time_calendar_overflow'],
    ]);
    expect(problemsOf(readText(monthly('202401310000')))).toEqual([
      [1, 'date_time_calendar_overflow'],
    ]);
    const read = intervals(readText(monthly('202402290000')));
    expect(
      read.map((interval) => [iso(interval.intervalStartUtcMs), interval.intervalSeconds]),
    ).toEqual([
      ['2024-01-29T00:00:00.000Z', 31 * 86_400],
      ['2024-02-29T00:00:00.000Z', 29 * 86_400],
    ]);
  });

  it('copies the record fields a reading needs onto every interval', () => {
    const events = readText(`${record(2).replace(',1,00000100', ',0.25,00000100')}\r\n`);
    const [first] = records(events);
    for (const interval of intervals(events)) {
      expect(interval).toMatchObject({
        line: first?.line,
        byteOffset: first?.byteOffset,
        byteLength: first?.byteLength,
        meterId: first?.meterId,
        purpose: first?.purpose,
        commodity: first?.commodity,
        unitAsSent: first?.unitAsSent,
        unit: first?.unit,
        measurement: first?.measurement,
        flow: first?.flow,
        calculationConstant: '0.25',
      });
    }
    expect(intervals(events).map((interval) => interval.triple)).toEqual([1, 2]);
  });

  it('reads the same wall times as different instants in different zones', () => {
    const line = `${record(1)}\r\n`;
    const startIn = (timeZone: string): string =>
      iso(intervals(readText(line, timeZone))[0]?.intervalStartUtcMs);
    expect(startIn('UTC')).toBe('2024-06-01T00:00:00.000Z');
    expect(startIn('-08:00')).toBe('2024-06-01T08:00:00.000Z');
    expect(startIn('+05:30')).toBe('2024-05-31T18:30:00.000Z');
    expect(startIn('America/New_York')).toBe('2024-06-01T04:00:00.000Z');
    expect(() => createCmepReader({ timeZone: 'Mars/Olympus_Mons' })).toThrow();
  });

  it('skips an oversized line without holding it, then reads on', () => {
    const reader = createCmepReader({ timeZone: 'UTC' });
    const events = [...reader.push(Buffer.from(`${record(1)}\r\n${HEADER},00000100,`))];
    const piece = Buffer.alloc(64 * 1024, ',,1');
    for (let index = 0; index < 20; index++) events.push(...reader.push(piece));
    events.push(...reader.push(Buffer.from(`\r\n${record(2)}\r\n`)), ...reader.end());
    expect(problemsOf(events)).toEqual([[2, 'line_too_long']]);
    const tooLong = events.find((event) => event.kind === 'problem');
    expect(tooLong?.byteLength).toBeGreaterThan(CMEP_LINE_BYTES_MAX);
    expect(records(events).map((event) => event.line)).toEqual([1, 3]);
  });

  it('reports an empty file, undecodable bytes, and a problem value cut to length', () => {
    expect(problemsOf(readText('\r\n  \n'))).toEqual([[2, 'empty_file']]);
    expect(problemsOf(readText(''))).toEqual([[1, 'empty_file']]);
    const bytes = Buffer.concat([Buffer.from('MEPMD01,\xff'), Buffer.from(`\r\n${record(1)}\r\n`)]);
    bytes[8] = 0xff;
    expect(problemsOf(readAll(bytes, 'UTC'))).toEqual([[1, 'encoding']]);
    const long = readText(`${'X'.repeat(500)},1\r\n`).find((event) => event.kind === 'problem');
    expect(long?.kind === 'problem' && long.value).toBe(`${'X'.repeat(200)}... (500 chars)`);
  });

  it('refuses intervals the protocol does not let it step by', () => {
    const accepted = ['00000001', '00000005', '00000015', '00000030', '00000100', '00000130'];
    for (const text of accepted) expect(parseIntervalLength(text)?.unit).toBe('minute');
    expect(parseIntervalLength('00070000')).toEqual({ unit: 'day', days: 7 });
    expect(parseIntervalLength('03000000')).toEqual({ unit: 'month', months: 3 });
    const refused = ['00000000', '00000007', '00000045', '00000700', '00002400', '00000060'];
    for (const text of [...refused, '01010000', '00010030', '13000000', '0000015', '']) {
      expect(parseIntervalLength(text)).toBeNull();
    }
  });

  it('has a stable code for every problem it can report', () => {
    expect(new Set(CMEP_PROBLEM_CODES).size).toBe(CMEP_PROBLEM_CODES.length);
    expect(CMEP_PROBLEM_CODES).toContain('record_unterminated');
  });
});

describe('calculation constant', () => {
  it('multiplies exactly and canonically', () => {
    expect(applyCalculationConstant('11', '2.5')).toBe('27.5');
    expect(applyCalculationConstant('0.1', '0.2')).toBe('0.02');
    expect(applyCalculationConstant('-1.50', '2')).toBe('-3');
    expect(applyCalculationConstant('-0.0', '7')).toBe('0');
    expect(applyCalculationConstant('.5', '4.')).toBe('2');
    expect(() => applyCalculationConstant('1e3', '1')).toThrow();
  });

  it('matches BigInt cross-multiplication for any decimals', () => {
    const decimal = fc
      .tuple(
        fc.boolean(),
        fc.string({ unit: fc.constantFrom('0', '1', '5', '9'), minLength: 1, maxLength: 12 }),
        fc.string({ unit: fc.constantFrom('0', '3', '7'), maxLength: 8 }),
      )
      .map(([negative, integer, fraction]) => `${negative ? '-' : ''}${integer}.${fraction}`);
    const rational = (text: string): { numerator: bigint; scale: number } => {
      const [integer = '', fraction = ''] = text.replace('-', '').split('.');
      const magnitude = BigInt(`${integer}${fraction}` || '0');
      return { numerator: text.startsWith('-') ? -magnitude : magnitude, scale: fraction.length };
    };
    fc.assert(
      fc.property(decimal, decimal, (left, right) => {
        const product = applyCalculationConstant(left, right);
        expect(product).toMatch(/^-?(0|[1-9]\d*)(\.\d*[1-9])?$/);
        expect(product).not.toBe('-0');
        const [a, b, c] = [rational(left), rational(right), rational(product)];
        const exact = a.numerator * b.numerator * 10n ** BigInt(c.scale);
        expect(c.numerator * 10n ** BigInt(a.scale + b.scale)).toBe(exact);
      }),
    );
  });
});

// ---- Round trips through the writer -------------------------------------------------------------

/** A fixed offset and its minutes east of UTC: no daylight saving, so the oracle is plain math. */
const OFFSETS: ReadonlyArray<[string, number]> = [
  ['UTC', 0],
  ['-08:00', -480],
  ['+05:30', 330],
  ['-03:00', -180],
];

type IntervalChoice =
  { unit: 'minute'; minutes: number } | { unit: 'day' | 'month'; count: number };

interface GeneratedRecord {
  write: CmepWriteRecord;
  /** What the reader must return for it, in order. */
  expected: Array<{
    meterId: string;
    unitAsSent: string;
    intervalStartUtcMs: number;
    intervalSeconds: number;
    value: string | null;
    qualityAsSent: string;
  }>;
}

const pad = (value: number, width = 2): string => String(value).padStart(width, '0');

/** CCYYMMDDHHMM of the wall time `offsetMinutes` east of the UTC instant `epochMs`. */
function wallText(epochMs: number, offsetMinutes: number): string {
  const wall = new Date(epochMs + offsetMinutes * 60_000);
  return (
    `${pad(wall.getUTCFullYear(), 4)}${pad(wall.getUTCMonth() + 1)}${pad(wall.getUTCDate())}` +
    `${pad(wall.getUTCHours())}${pad(wall.getUTCMinutes())}`
  );
}

function intervalText(choice: IntervalChoice): string {
  if (choice.unit === 'minute')
    return `0000${pad(Math.floor(choice.minutes / 60))}${pad(choice.minutes % 60)}`;
  return choice.unit === 'day' ? `00${pad(choice.count)}0000` : `${pad(choice.count)}000000`;
}

/**
 * The UTC instant of the wall time that is `steps` intervals after the first end, computed with
 * Date.UTC (which rolls months and days over by itself), apart from the reader's Temporal path.
 */
function endAfter(
  first: { year: number; month: number; day: number; hour: number; minute: number },
  choice: IntervalChoice,
  steps: number,
  offsetMinutes: number,
): number {
  const minutes = choice.unit === 'minute' ? choice.minutes * steps : 0;
  const days = choice.unit === 'day' ? choice.count * steps : 0;
  const months = choice.unit === 'month' ? choice.count * steps : 0;
  const wallMs = Date.UTC(
    first.year,
    first.month - 1 + months,
    first.day + days,
    first.hour,
    first.minute + minutes,
  );
  return wallMs - offsetMinutes * 60_000;
}

const intervalChoice: fc.Arbitrary<IntervalChoice> = fc.oneof(
  fc
    .constantFrom(1, 5, 10, 15, 20, 30, 60, 90, 120, 180, 360, 720)
    .map((minutes): IntervalChoice => ({ unit: 'minute', minutes })),
  fc.integer({ min: 1, max: 7 }).map((count): IntervalChoice => ({ unit: 'day', count })),
  fc.integer({ min: 1, max: 3 }).map((count): IntervalChoice => ({ unit: 'month', count })),
);

const valueText = fc
  .tuple(
    fc.constantFrom('', '', '-', '+'),
    fc.string({ unit: fc.constantFrom('0', '1', '2', '5', '9'), minLength: 1, maxLength: 7 }),
    fc.option(fc.string({ unit: fc.constantFrom('0', '3', '7'), maxLength: 4 })),
  )
  .map(
    ([sign, integer, fraction]) => `${sign}${integer}${fraction === null ? '' : `.${fraction}`}`,
  );

const generatedTriple = fc.record({
  gap: fc.constantFrom(1, 1, 1, 2, 3),
  implied: fc.boolean(),
  flag: fc.constantFrom('', '', 'E', 'A', 'R', 'N'),
  value: valueText,
});

const textField = fc.stringMatching(/^[A-Z0-9]([A-Z0-9 ,:-]{0,8}[A-Z0-9])?$/);

function generatedRecord(offsetMinutes: number): fc.Arbitrary<GeneratedRecord> {
  return fc
    .record({
      version: fc.constantFrom(...CMEP_RECORD_VERSIONS),
      senderId: textField,
      receiverCustomerId: fc.option(textField, { nil: '' }),
      meterId: textField,
      purpose: fc.constantFrom(...CMEP_PURPOSES),
      commodity: fc.constantFrom(...CMEP_COMMODITIES),
      units: fc.constantFrom(...CMEP_UNIT_TEXTS),
      constant: fc.option(valueText, { nil: null }),
      interval: intervalChoice,
      first: fc.record({
        year: fc.integer({ min: 1998, max: 2150 }),
        month: fc.integer({ min: 1, max: 12 }),
        day: fc.integer({ min: 1, max: 28 }),
        hour: fc.integer({ min: 0, max: 23 }),
        minute: fc.integer({ min: 0, max: 59 }),
      }),
      triples: fc.array(generatedTriple, { maxLength: 12 }),
    })
    .map((draw) => buildRecord(draw, offsetMinutes));
}

function buildRecord(
  draw: {
    version: CmepWriteRecord['recordVersion'];
    senderId: string;
    receiverCustomerId: string;
    meterId: string;
    purpose: CmepWriteRecord['purpose'];
    commodity: CmepWriteRecord['commodity'];
    units: string;
    constant: string | null;
    interval: IntervalChoice;
    first: { year: number; month: number; day: number; hour: number; minute: number };
    triples: Array<{ gap: number; implied: boolean; flag: string; value: string }>;
  },
  offsetMinutes: number,
): GeneratedRecord {
  // Month steps keep the first end's day (at most 28) and time, so that no step needs a day the
  // month lacks; a whole-minute first end keeps minute steps on the protocol's clock.
  const first =
    draw.interval.unit === 'minute' ? draw.first : { ...draw.first, hour: 0, minute: 0 };
  const triples: CmepWriteTriple[] = [];
  const expected: GeneratedRecord['expected'] = [];
  let steps = 0;
  draw.triples.forEach((triple, index) => {
    steps += index === 0 ? 0 : triple.gap;
    const endMs = endAfter(first, draw.interval, steps, offsetMinutes);
    const startMs = endAfter(first, draw.interval, steps - 1, offsetMinutes);
    const implied = index > 0 && triple.implied && triple.gap === 1;
    const value = triple.flag === 'N' ? '' : triple.value;
    triples.push({
      endDateTime: implied ? null : wallText(endMs, offsetMinutes),
      flag: triple.flag,
      value,
    });
    expected.push({
      meterId: draw.meterId,
      unitAsSent: draw.units,
      intervalStartUtcMs: startMs,
      intervalSeconds: (endMs - startMs) / 1000,
      value: triple.flag === 'N' ? null : value.replace(/^\+/, ''),
      qualityAsSent: triple.flag,
    });
  });
  const write: CmepWriteRecord = {
    recordVersion: draw.version,
    senderId: draw.senderId,
    senderCustomerId: '',
    receiverId: 'RECEIVER',
    receiverCustomerId: draw.receiverCustomerId,
    createdDateTime: '202501010000',
    meterId: draw.meterId,
    purpose: draw.purpose,
    commodity: draw.commodity,
    units: draw.units,
    calculationConstant: draw.constant,
    interval: intervalText(draw.interval),
    triples,
  };
  return { write, expected };
}

const generatedDocument = fc.constantFrom(...OFFSETS).chain(([timeZone, offsetMinutes]) =>
  fc.record({
    timeZone: fc.constant(timeZone),
    records: fc.array(generatedRecord(offsetMinutes), { minLength: 1, maxLength: 5 }),
    lineEnd: fc.constantFrom<'\r\n' | '\n'>('\r\n', '\n'),
    crcField: fc.boolean(),
  }),
);

function project(interval: CmepIntervalEvent): GeneratedRecord['expected'][number] {
  return {
    meterId: interval.meterId,
    unitAsSent: interval.unitAsSent,
    intervalStartUtcMs: interval.intervalStartUtcMs,
    intervalSeconds: interval.intervalSeconds,
    value: interval.value,
    qualityAsSent: interval.qualityAsSent,
  };
}

describe('properties', () => {
  it('reads back exactly the intervals any generated document holds, split anywhere', () => {
    fc.assert(
      fc.property(generatedDocument, fc.array(fc.nat(), { maxLength: 8 }), (document, cuts) => {
        const options = { lineEnd: document.lineEnd, crcField: document.crcField };
        const bytes = Buffer.from(
          writeCmep(
            document.records.map((each) => each.write),
            options,
          ),
        );
        const splitPoints = cuts.map((cut) => cut % (bytes.length + 1));
        const events = readAll(bytes, document.timeZone, splitPoints);
        expect(problemsOf(events)).toEqual([]);
        expect(intervals(events).map(project)).toEqual(
          document.records.flatMap((each) => each.expected),
        );
        expect(records(events).map((event) => event.meterId)).toEqual(
          document.records.map((each) => each.write.meterId),
        );
      }),
      { numRuns: 300 },
    );
  });

  const fixtureSamples = [
    ...VALID_FILES.map((name) => ({ name, folder: 'valid' as const })),
    ...INVALID_FILES.map((name) => ({ name, folder: 'invalid' as const })),
  ].map(({ name, folder }) => ({ bytes: fixture(folder, name), timeZone: zoneOf(name) }));
  // A byte order mark and multi-byte UTF-8 that split points may cut through.
  const markedSample = {
    bytes: Buffer.from(`\uFEFF${record(2).replace('SENDER', 'S\u00e9NDER\u20ac')}\r\n${record(3)}`),
    timeZone: 'UTC',
  };

  it('gives identical events for any chunk split of any fixture', () => {
    const sample = fc.constantFrom(...fixtureSamples, markedSample);
    fc.assert(
      fc.property(
        sample.chain((chosen) =>
          fc.tuple(
            fc.constant(chosen),
            fc.array(fc.integer({ min: 0, max: chosen.bytes.length }), { maxLength: 30 }),
          ),
        ),
        ([chosen, splitPoints]) => {
          expect(readAll(chosen.bytes, chosen.timeZone, splitPoints)).toEqual(
            readAll(chosen.bytes, chosen.timeZone),
          );
        },
      ),
      { numRuns: 200 },
    );
  });

  it('after lines are duplicated, deleted, swapped or the end cut, reads only written intervals', () => {
    const edit = fc.oneof(
      fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('swap' as const), at: fc.nat() }),
    );
    fc.assert(
      fc.property(
        generatedDocument,
        fc.array(edit, { maxLength: 4 }),
        fc.option(fc.nat()),
        (document, edits, cut) => {
          const options = { lineEnd: document.lineEnd, crcField: document.crcField };
          const text = writeCmep(
            document.records.map((each) => each.write),
            options,
          );
          const written = new Set(
            document.records.flatMap((each) => each.expected).map((each) => JSON.stringify(each)),
          );
          let bytes: Uint8Array = Buffer.from(text);
          for (const change of edits) bytes = applyEdit(bytes, change.kind, change.at);
          // The cut comes last: a cut line duplicated would glue two pieces into one new line.
          if (cut !== null) bytes = bytes.subarray(0, cut % (bytes.length + 1));
          const events = readAll(bytes, document.timeZone);
          for (const interval of intervals(events)) {
            expect(written.has(JSON.stringify(project(interval)))).toBe(true);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('never throws on byte corruption, and reads each interval from its own line alone', () => {
    const corruption = fc.array(
      fc.record({
        at: fc.nat(),
        byte: fc.constantFrom(
          0x2c,
          0x0d,
          0x0a,
          0x30,
          0x39,
          0x2e,
          0x45,
          0x4e,
          0x22,
          0x20,
          0xff,
          0xc3,
        ),
      }),
      { minLength: 1, maxLength: 6 },
    );
    fc.assert(
      fc.property(fc.constantFrom(...fixtureSamples, markedSample), corruption, (sample, flips) => {
        const bytes = Buffer.from(sample.bytes);
        for (const { at, byte } of flips) bytes[at % bytes.length] = byte;
        const events = readAll(bytes, sample.timeZone);
        const byLine = new Map<number, CmepIntervalEvent[]>();
        for (const interval of intervals(events)) {
          byLine.set(interval.line, [...(byLine.get(interval.line) ?? []), interval]);
        }
        for (const own of byLine.values()) {
          const first = own[0];
          if (first === undefined) continue;
          const lineBytes = bytes.subarray(first.byteOffset, first.byteOffset + first.byteLength);
          const alone = intervals(
            readAll(Buffer.concat([lineBytes, Buffer.from('\r\n')]), sample.timeZone),
          );
          expect(alone.map(project)).toEqual(own.map(project));
          const text = lineBytes.toString('utf8');
          for (const interval of own) {
            expect(text).toContain(interval.meterId);
            if (interval.value !== null && notesOf(interval).length === 0) {
              expect(text).toContain(interval.value);
            }
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});

function applyEdit(
  bytes: Uint8Array,
  kind: 'duplicate' | 'delete' | 'swap',
  at: number,
): Uint8Array {
  const lines = Buffer.from(bytes)
    .toString('utf8')
    .split(/(?<=\n)/);
  if (lines.length === 0) return bytes;
  const index = at % lines.length;
  const line = lines[index] ?? '';
  if (kind === 'duplicate') lines.splice(index, 0, line);
  if (kind === 'delete') lines.splice(index, 1);
  if (kind === 'swap' && index + 1 < lines.length) {
    lines[index] = lines[index + 1] ?? '';
    lines[index + 1] = line;
  }
  return Buffer.from(lines.join(''));
}
