/**
 * The optional per-record checksum a vendor may send in `checksum_sha256`: lowercase hex sha256 of
 * the UTF-8 string `meter_id|channel|interval_start_utc|consumption_kwh|status_code|seq`, where
 * interval_start_utc is `YYYY-MM-DDTHH:MM:SSZ`, consumption_kwh is the exact value with exactly six
 * decimals, status_code and seq are base-10 integers and channel is the resolved channel ("1" when
 * the feed sent none). It covers the values as the ledger will hold them, not the bytes as sent, so
 * "1.5" and 1.500 give one checksum. README.md in this folder has worked test vectors.
 */
import { hash } from 'node:crypto';

import { formatUtcSeconds } from '../core/identity.js';
import type { Reading } from '../core/reading.js';
import type { RejectCode } from '../core/reject.js';
import { formatMilliWhAsKwh } from '../core/decimal.js';

/** The reading values a checksum covers. A Reading has all of them. */
export type ChecksumFields = Pick<
  Reading,
  'meterId' | 'channel' | 'intervalStartMs' | 'valueMicro' | 'statusCode' | 'seq'
>;

export type ChecksumRejectCode = Extract<RejectCode, 'checksum.format' | 'checksum.mismatch'>;

export type ChecksumCheckResult =
  { ok: true; checksumSha256: string } | { ok: false; code: ChecksumRejectCode; message: string };

export const CHECKSUM_HEX_CHARS = 64;

/** The exact UTF-8 text whose sha256 is the record checksum. */
export function canonicalChecksumInput(fields: ChecksumFields): string {
  const intervalStartUtc = formatUtcSeconds(fields.intervalStartMs);
  const energyKwh = formatMilliWhAsKwh(fields.valueMicro);
  const { meterId, channel, statusCode, seq } = fields;
  return `${meterId}|${channel}|${intervalStartUtc}|${energyKwh}|${statusCode}|${seq}`;
}

/** Lowercase hex sha256 of canonicalChecksumInput. */
export function computeRecordChecksum(fields: ChecksumFields): string {
  return hash('sha256', canonicalChecksumInput(fields), 'hex');
}

const CHAR_ZERO = 48;
const CHAR_NINE = 57;
const CHAR_LOWER_A = 97;
const CHAR_LOWER_F = 102;
const CHAR_UPPER_A = 65;
const CHAR_UPPER_F = 70;

/** The checksum in lowercase when `value` is a 64-character hex string (any case), else null. */
export function normalizeChecksum(value: unknown): string | null {
  if (typeof value !== 'string' || value.length !== CHECKSUM_HEX_CHARS) return null;
  let lowercase = true;
  for (let index = 0; index < CHECKSUM_HEX_CHARS; index += 1) {
    const charCode = value.charCodeAt(index);
    if (charCode >= CHAR_ZERO && charCode <= CHAR_NINE) continue;
    if (charCode >= CHAR_LOWER_A && charCode <= CHAR_LOWER_F) continue;
    if (charCode < CHAR_UPPER_A || charCode > CHAR_UPPER_F) return null;
    lowercase = false;
  }
  return lowercase ? value : value.toLowerCase();
}

/**
 * Checks a sent checksum against the values it should cover. `checksum.format` when it is not 64
 * hex characters; `checksum.mismatch`, naming the expected value, when it covers other values.
 */
export function checkRecordChecksum(sent: unknown, fields: ChecksumFields): ChecksumCheckResult {
  const checksumSha256 = normalizeChecksum(sent);
  if (checksumSha256 === null) {
    return { ok: false, code: 'checksum.format', message: checksumFormatMessage() };
  }
  const expected = computeRecordChecksum(fields);
  if (checksumSha256 === expected) return { ok: true, checksumSha256 };
  const message =
    `does not match the record: expected ${expected}, the sha256 of ` +
    `"${canonicalChecksumInput(fields)}"`;
  return { ok: false, code: 'checksum.mismatch', message };
}

export function checksumFormatMessage(): string {
  return `must be ${CHECKSUM_HEX_CHARS} hexadecimal characters (a sha256 digest)`;
}
