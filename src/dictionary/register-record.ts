/**
 * A register read in the reference feed (a drive-by or walk-by read): a record with `register_kwh`
 * (the register's cumulative value) instead of `consumption_kwh`, and no `interval_seconds`. Its
 * fields are read here into a candidate register read (src/core/register.ts), which the candidate
 * validator then judges by the dictionary's rules (meter id pattern, register id, value range,
 * read time not in the future), so a register read is held to the same rules in every format.
 *
 * Fields: `meter_id` (required), `channel` (optional, the dictionary's default channel; the
 * register read's channel is `reg:` and this), `timestamp_utc` (the read time, required),
 * `register_kwh` (required), `quality` (optional, default actual), `seq` (optional, default 0),
 * `status_code` (optional, default 0). Any other field, `consumption_kwh` and `interval_seconds`
 * included, is refused.
 */
import type { Clock } from '../core/clock.js';
import { isQuality, type CandidateReading, type SourceRecord } from '../core/reading.js';
import { recordReject, violation, type RejectCode, type Violation } from '../core/reject.js';
import { registerChannel, REGISTER_INTERVAL_SECONDS } from '../core/register.js';
import { parseTimestamp } from '../core/timestamp.js';
import { createCandidateValidator } from './candidate.js';
import type { DataDictionary } from './dictionary.js';
import type { ValidationResult } from './validator.js';

export const REGISTER_RECORD_FIELD = 'register_kwh';
const REGISTER_RECORD_FIELDS: ReadonlySet<string> = new Set([
  'meter_id',
  'channel',
  'timestamp_utc',
  'register_kwh',
  'quality',
  'seq',
  'status_code',
]);
const WHOLE_NUMBER_TEXT = /^(?:0|[1-9][0-9]{0,15})$/;

/** Whether a record is a register read: it carries a `register_kwh` value (not empty). */
export function isRegisterRecord(record: SourceRecord): boolean {
  return !isAbsent(record.fields[REGISTER_RECORD_FIELD]);
}

/** Absent, null and '' all mean "not sent" (a CSV row leaves a column empty). */
function isAbsent(value: unknown): boolean {
  return value === undefined || value === null || value === '';
}

export type RegisterRecordValidator = (record: SourceRecord) => ValidationResult;

export function createRegisterRecordValidator(
  dictionary: DataDictionary,
  clock: Clock,
): RegisterRecordValidator {
  const validateCandidate = createCandidateValidator(dictionary, clock, 'json-dialect');
  return function validateRegisterRecord(record: SourceRecord): ValidationResult {
    const violations: Violation[] = [];
    const add = (code: RejectCode, field: string, value: unknown, message: string): void => {
      violations.push(violation(code, field, value, message));
    };
    const candidate = readCandidate(record, dictionary, add);
    if (violations.length > 0 || candidate === null) {
      const meterId = record.fields['meter_id'];
      const known = typeof meterId === 'string' ? meterId : null;
      return { ok: false, reject: recordReject(violations, record.location, known) };
    }
    return validateCandidate(candidate);
  };
}

type Add = (code: RejectCode, field: string, value: unknown, message: string) => void;

function readCandidate(
  record: SourceRecord,
  dictionary: DataDictionary,
  add: Add,
): CandidateReading | null {
  const fields = record.fields;
  for (const name of Object.keys(fields)) {
    if (REGISTER_RECORD_FIELDS.has(name) || isAbsent(fields[name])) continue;
    add('field.unknown', name, fields[name], `${name} is not a field of a register read.`);
  }
  const meterId = fields['meter_id'];
  if (typeof meterId !== 'string') add('field.type', 'meter_id', meterId, 'meter_id: a string.');
  const channel = channelOf(fields['channel'], dictionary.defaultChannel, add);
  const time = parseTimestamp(fields['timestamp_utc'], dictionary.timeZone);
  if (!time.ok) add(time.code, 'timestamp_utc', fields['timestamp_utc'], time.message);
  const value = fields[REGISTER_RECORD_FIELD];
  if (typeof value !== 'string' && typeof value !== 'number') {
    add('field.type', REGISTER_RECORD_FIELD, value, 'register_kwh: a decimal number or string.');
  }
  const quality = fields['quality'] ?? 'actual';
  if (!isQuality(quality)) add('quality.unknown', 'quality', quality, 'quality is not known.');
  const seq = wholeNumber(fields['seq'], 'seq', add);
  const statusCode = wholeNumber(fields['status_code'], 'status_code', add);
  if (statusCode > dictionary.statusCodeMax) {
    add('status_code.range', 'status_code', statusCode, 'status_code is out of range.');
  }
  if (typeof meterId !== 'string' || channel === null || !time.ok || !isQuality(quality)) {
    return null;
  }
  if (typeof value !== 'string' && typeof value !== 'number') return null;
  return {
    meterId,
    channel: registerChannel(channel),
    intervalStartMs: time.epochMs,
    intervalSeconds: REGISTER_INTERVAL_SECONDS,
    commodity: 'electricity',
    unit: 'kWh',
    value: String(value),
    quality,
    qualityDetail: null,
    statusCode,
    seq,
    location: record.location,
  };
}

function channelOf(value: unknown, defaultChannel: string, add: Add): string | null {
  if (isAbsent(value)) return defaultChannel;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return String(value);
  add('field.type', 'channel', value, 'channel: a string or a non-negative integer.');
  return null;
}

function wholeNumber(value: unknown, field: string, add: Add): number {
  if (isAbsent(value)) return 0;
  const text = typeof value === 'number' || typeof value === 'string' ? String(value) : '';
  if (WHOLE_NUMBER_TEXT.test(text) && Number.isSafeInteger(Number(text))) return Number(text);
  const code: RejectCode = field === 'seq' ? 'seq.not_integer' : 'status_code.not_integer';
  add(code, field, value, `${field} must be a whole number from 0.`);
  return 0;
}
