/**
 * The data dictionary's verdict on a candidate reading from a typed format (NEM12, CMEP, a vendor
 * CSV dialect). The format's reader has already read the fields exactly; what is left is the
 * utility's rules: the meter id and channel by the format's own patterns (or mapped to the
 * utility's meter ids), the interval length, the value's precision and range, the interval's
 * alignment and that it has ended. Every violation is reported, with the same codes and field
 * names the reference feed's validator uses, so quarantine reads the same for every format.
 */
import type { Clock } from '../core/clock.js';
import { idempotencyKey, isKeyableText } from '../core/identity.js';
import type { CandidateReading, Reading } from '../core/reading.js';
import { recordReject, violation, type RejectCode, type Violation } from '../core/reject.js';
import { formatValueMicro, parseKwhToMilliWh } from '../core/decimal.js';
import {
  isRegisterChannel,
  REGISTER_CHANNEL_PREFIX,
  REGISTER_ID_PATTERN,
  REGISTER_INTERVAL_SECONDS,
  REGISTER_KWH_MAX,
} from '../core/register.js';
import { compilePattern, type DataDictionary, type FormatsRules } from './dictionary.js';
import { boundsScope, compileDictionary, type ValidationResult } from './validator.js';

export type TypedFormat = keyof FormatsRules;
export type CandidateValidator = (candidate: CandidateReading) => ValidationResult;

/** Quality detail is printed in ledger lines and exports: short, printable, never a `|`. */
const QUALITY_DETAIL_PATTERN = /^[\x20-\x7b\x7d\x7e]{1,64}$/;
/** Intervals up to an hour are checked for alignment; longer ones start at local midnights. */
const ALIGNED_INTERVAL_SECONDS_MAX = 3600;
const MS_PER_SECOND = 1000;

export function createCandidateValidator(
  dictionary: DataDictionary,
  clock: Clock,
  format: TypedFormat,
): CandidateValidator {
  const compiled = compileDictionary(dictionary);
  const rules = dictionary.formats[format];
  const meterIdRegex =
    rules.meterIdPattern === null ? compiled.meterIdRegex : compilePattern(rules.meterIdPattern);
  const channelRegex =
    rules.channelPattern === null ? compiled.channelRegex : compilePattern(rules.channelPattern);
  const meterIds = new Map(Object.entries(rules.meterIds));

  return function validateCandidate(candidate: CandidateReading): ValidationResult {
    const violations: Violation[] = [];
    const add = (code: RejectCode, field: string, value: unknown, message: string): void => {
      violations.push(violation(code, field, value, message));
    };
    const meterId = resolveMeterId(candidate.meterId, add);
    const register = candidate.intervalSeconds === REGISTER_INTERVAL_SECONDS;
    let valueMicro: number;
    if (register) {
      checkRegisterChannel(candidate.channel, add);
      checkTime(candidate, false, add);
      valueMicro = checkRegisterValue(candidate, add);
    } else {
      checkChannel(candidate.channel, add);
      const intervalAllowed = checkInterval(candidate, add);
      checkTime(candidate, intervalAllowed, add);
      valueMicro = checkValue(candidate, meterId, add);
    }
    if (!Number.isSafeInteger(candidate.seq) || candidate.seq < 0) {
      // A reader's version stamp is its sequence number; one that is not a whole number cannot
      // be keyed or stored, whatever the reader let through.
      add('seq.range', 'seq', candidate.seq, 'seq must be a whole number from 0 to 2^53 - 1.');
    }
    const detail = candidate.qualityDetail;
    if (detail !== null && !QUALITY_DETAIL_PATTERN.test(detail)) {
      add(
        'quality.unknown',
        'quality_detail',
        detail,
        'quality detail must be 1..64 printable characters without "|".',
      );
    }
    if (violations.length > 0) {
      return { ok: false, reject: recordReject(violations, candidate.location, meterId) };
    }
    return { ok: true, reading: readingOf(candidate, meterId, valueMicro) };
  };

  function resolveMeterId(sent: string, add: AddViolation): string {
    const mapped = meterIds.get(sent);
    if (mapped !== undefined) {
      if (!compiled.meterIdRegex.test(mapped) || !isKeyableText(mapped)) {
        add(
          'meter_id.pattern',
          'meter_id',
          mapped,
          `meter ${sent} maps to ${mapped}, which does not match the dictionary's pattern ` +
            `${compiled.meterIdRegex.source}.`,
        );
      }
      return mapped;
    }
    if (!meterIdRegex.test(sent) || !isKeyableText(sent)) {
      add(
        'meter_id.pattern',
        'meter_id',
        sent,
        `meter_id does not match the ${format} pattern ${meterIdRegex.source} and is not in ` +
          `formats.${format}.meterIds (and may never contain "|").`,
      );
    }
    return sent;
  }

  function checkChannel(channel: string, add: AddViolation): void {
    if (!channelRegex.test(channel) || !isKeyableText(channel)) {
      add(
        'channel.pattern',
        'channel',
        channel,
        `channel does not match the ${format} pattern ${channelRegex.source} (and may never ` +
          'contain "|").',
      );
    }
  }

  /** A register read's channel is `reg:` and the register's id (src/core/register.ts). */
  function checkRegisterChannel(channel: string, add: AddViolation): void {
    const id = channel.slice(REGISTER_CHANNEL_PREFIX.length);
    if (!isRegisterChannel(channel) || !REGISTER_ID_PATTERN.test(id)) {
      add(
        'channel.pattern',
        'channel',
        channel,
        `a register read's channel must be ${REGISTER_CHANNEL_PREFIX} and a register id ` +
          `matching ${REGISTER_ID_PATTERN.source}.`,
      );
    }
  }

  /** A register value is cumulative: kWh only, from 0 to REGISTER_KWH_MAX. */
  function checkRegisterValue(candidate: CandidateReading, add: AddViolation): number {
    const parsed = parseKwhToMilliWh(candidate.value);
    if (!parsed.ok) {
      add(parsed.code, 'register_kwh', candidate.value, `the register value ${parsed.message}.`);
      return Number.NaN;
    }
    const maxMicro = REGISTER_KWH_MAX * 1_000_000;
    if (candidate.unit !== 'kWh' || parsed.milliWh < 0 || parsed.milliWh > maxMicro) {
      add(
        'consumption.range',
        'register_kwh',
        candidate.value,
        `a register read must be in kWh from 0 to ${REGISTER_KWH_MAX} (got ` +
          `${candidate.value} ${candidate.unit}).`,
      );
    }
    return parsed.milliWh;
  }

  function checkInterval(candidate: CandidateReading, add: AddViolation): boolean {
    const override = compiled.overrides.get(candidate.channel);
    const allowed = override?.intervalSecondsAllowed ?? compiled.intervalSecondsAllowed;
    if (allowed.includes(candidate.intervalSeconds)) return true;
    const scope = override?.intervalSecondsAllowed === undefined ? '' : ` on ${override.label}`;
    add(
      'interval_seconds.not_allowed',
      'interval_seconds',
      candidate.intervalSeconds,
      `an interval of ${candidate.intervalSeconds} s is not allowed${scope}; allowed: ` +
        `${allowed.join(', ')} s.`,
    );
    return false;
  }

  function checkTime(candidate: CandidateReading, intervalAllowed: boolean, add: AddViolation) {
    const startMs = candidate.intervalStartMs;
    const seconds = candidate.intervalSeconds;
    const endMs = startMs + seconds * MS_PER_SECOND;
    const nowMs = clock.nowMs();
    if (endMs > nowMs + compiled.clockSkewToleranceMs) {
      add(
        'timestamp.future',
        'timestamp_utc',
        isoText(startMs),
        `the interval ends at ${isoText(endMs)}, later than the current time ` +
          `${isoText(nowMs)} plus the clock-skew tolerance of ` +
          `${compiled.clockSkewToleranceSeconds} s.`,
      );
    }
    const checked = intervalAllowed && seconds <= ALIGNED_INTERVAL_SECONDS_MAX;
    if (compiled.requireIntervalAlignment && checked && startMs % (seconds * MS_PER_SECOND) !== 0) {
      add(
        'timestamp.alignment',
        'timestamp_utc',
        isoText(startMs),
        `the interval start is not on a ${seconds} s boundary (a multiple of the interval ` +
          'length since 1970-01-01T00:00:00Z).',
      );
    }
  }

  function checkValue(candidate: CandidateReading, meterId: string, add: AddViolation): number {
    const parsed = parseKwhToMilliWh(candidate.value);
    if (!parsed.ok) {
      add(parsed.code, 'value', candidate.value, `the ${candidate.unit} value ${parsed.message}.`);
      return Number.NaN;
    }
    const valueMicro = parsed.milliWh;
    if (candidate.unit !== 'kWh') {
      // Units other than kWh have no configured bounds yet: only a negative value is refused.
      if (valueMicro < 0) {
        add(
          'consumption.range',
          'value',
          candidate.value,
          `a ${candidate.unit} value must not be negative.`,
        );
      }
      return valueMicro;
    }
    const override = compiled.overrides.get(candidate.channel);
    const meterClass = compiled.classes.find((c) => c.meterIdRegex.test(meterId));
    const min = override?.minMilliWh ?? meterClass?.minMilliWh ?? compiled.minMilliWh;
    const max = override?.maxMilliWh ?? meterClass?.maxMilliWh ?? compiled.maxMilliWh;
    if (valueMicro < min || valueMicro > max) {
      add(
        'consumption.range',
        'value',
        candidate.value,
        `${formatValueMicro(valueMicro)} kWh is outside the allowed range ` +
          `${formatValueMicro(min)}..${formatValueMicro(max)} kWh${boundsScope(override, meterClass)}.`,
      );
    }
    return valueMicro;
  }
}

/** An instant as ISO 8601 text for a message, or its number when no Date can hold it. */
function isoText(epochMs: number): string {
  return Number.isFinite(epochMs) && Math.abs(epochMs) <= 8.64e15
    ? new Date(epochMs).toISOString()
    : String(epochMs);
}

type AddViolation = (code: RejectCode, field: string, value: unknown, message: string) => void;

function readingOf(candidate: CandidateReading, meterId: string, valueMicro: number): Reading {
  return {
    meterId,
    channel: candidate.channel,
    intervalStartMs: candidate.intervalStartMs,
    intervalSeconds: candidate.intervalSeconds,
    commodity: candidate.commodity,
    unit: candidate.unit,
    valueMicro,
    statusCode: candidate.statusCode,
    seq: candidate.seq,
    quality: candidate.quality,
    qualityDetail: candidate.qualityDetail,
    checksumSha256: null,
    idempotencyKey: idempotencyKey(
      meterId,
      candidate.channel,
      candidate.intervalStartMs,
      candidate.seq,
    ),
  };
}
