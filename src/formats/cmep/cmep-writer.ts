/**
 * A small CMEP MEPMD01 writer, the inverse of the reader for the tests: a round trip through it
 * shows that the reader returns exactly the intervals written. It writes what it is given, as
 * given (date-times, flags and values are already protocol text); it does no time zone work.
 */
import assert from 'node:assert/strict';
import type { CmepCommodity, CmepPurpose, CmepRecordVersion } from './cmep-events.js';

/** One triple as written: a null date-time is left empty, to be implied by the interval. */
export interface CmepWriteTriple {
  endDateTime: string | null;
  flag: string;
  value: string;
}

export interface CmepWriteRecord {
  recordVersion: CmepRecordVersion;
  senderId: string;
  senderCustomerId: string;
  receiverId: string;
  receiverCustomerId: string;
  createdDateTime: string | null;
  meterId: string;
  purpose: CmepPurpose;
  commodity: CmepCommodity;
  units: string;
  calculationConstant: string | null;
  /** MMDDHHMM. */
  interval: string;
  triples: CmepWriteTriple[];
}

export interface CmepWriteOptions {
  /** The protocol's CR LF (the default), or LF alone as some senders write. */
  lineEnd?: '\r\n' | '\n';
  /** Ends every record with an empty CRC field, a trailing comma, as the protocol lays out. */
  crcField?: boolean;
}

/** The text of a delivery holding `records`, one line each, every line terminated. */
export function writeCmep(
  records: readonly CmepWriteRecord[],
  options: CmepWriteOptions = {},
): string {
  const lineEnd = options.lineEnd ?? '\r\n';
  return records
    .map((record) => `${writeRecord(record, options.crcField ?? false)}${lineEnd}`)
    .join('');
}

function writeRecord(record: CmepWriteRecord, crcField: boolean): string {
  const fields = [
    'MEPMD01',
    record.recordVersion,
    record.senderId,
    record.senderCustomerId,
    record.receiverId,
    record.receiverCustomerId,
    record.createdDateTime ?? '',
    record.meterId,
    record.purpose,
    record.commodity,
    record.units,
    record.calculationConstant ?? '',
    record.interval,
    String(record.triples.length),
    ...record.triples.flatMap((triple) => [triple.endDateTime ?? '', triple.flag, triple.value]),
  ];
  if (crcField) fields.push('');
  return fields.map(quoteIfNeeded).join(',');
}

/** Quotes a field holding a comma or significant blanks; a quotation mark cannot be written. */
function quoteIfNeeded(field: string): string {
  assert.ok(!field.includes('"'), 'CMEP has no way to write a quotation mark inside a field');
  assert.ok(!/[\r\n]/.test(field), 'a CMEP field cannot hold a line break');
  return field.includes(',') || field.trim() !== field ? `"${field}"` : field;
}
