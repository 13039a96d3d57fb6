/**
 * The simulated head-end's own JSON record shape, and the JSON dialect that reads it: the vendor
 * API shape the project's JSON dialect tests are written against, served by the simulator so that
 * the records a client reads from it are the ones a JSON dialect is proven to read. The REST
 * source's config written by `simulate rest --config-out` names VENDOR_DIALECT as its records
 * dialect.
 *
 * The mapping from a reference feed record keeps every verdict: a valid record becomes the same
 * reading (kWh as exact Wh text, status 0 and 1 as quality flags A and E) and a bad record stays
 * bad, so the generator's oracle holds for what the simulator serves.
 */
import assert from 'node:assert/strict';
import { plainNumberText } from '../../formats/json-dialect/json-dialect-records.js';
import type { FeedRecord } from '../feed-generator.js';

/**
 * A vendor head-end's JSON API as a JSON dialect sees it: a page holds its readings under
 * `data.readings` and a cursor under `next`; each reading names its meter `meterNumber`, its
 * channel `channelId`, the interval's start `intervalStart` (ISO 8601 with its offset), the energy
 * `value` as a decimal string in the unit `uom` (Wh), a `qualityFlag` (A actual, E estimated,
 * S substituted) and the vendor's `sequence` number. Every interval lasts 900 s. Unknown keys are
 * rejected, so a reading that carries a key the vendor never sends stays a bad record. The REST
 * simulator serves this shape; tests read it with this dialect.
 *
 * ```json
 * {"data":{"readings":[{"meterNumber":"MTR-K28YNLK1","channelId":"1",
 *   "intervalStart":"2026-03-02T00:15:00Z","value":"310.5","uom":"Wh","qualityFlag":"A",
 *   "sequence":17}]},"next":"c2"}
 * ```
 */
export const VENDOR_DIALECT = {
  name: 'vendor-headend',
  recordsPath: 'data.readings',
  fields: {
    meterId: 'meterNumber',
    channel: 'channelId',
    timestamp: 'intervalStart',
    value: 'value',
    unit: 'uom',
    quality: { field: 'qualityFlag', map: { A: 'actual', E: 'estimated', S: 'substituted' } },
    intervalSeconds: { constant: 900 },
    sequence: 'sequence',
  },
  timestampFormat: 'iso8601',
  timeZone: null,
  timestampMarks: 'start',
  unknownFields: 'reject',
} as const;

/** Where VENDOR_DIALECT's pages hold their readings. */
export const VENDOR_RECORDS_PATH = ['data', 'readings'] as const;

/** The vendor's quality flag of each reference status code; any other code is sent as its text. */
const VENDOR_QUALITY_FLAGS: ReadonlyMap<unknown, string> = new Map([
  [0, 'A'],
  [1, 'E'],
]);

/** Reference field to vendor key, for the fields toVendorRecord carries over one to one. */
const VENDOR_KEYS: Readonly<Record<string, string>> = {
  meter_id: 'meterNumber',
  timestamp_utc: 'intervalStart',
  seq: 'sequence',
  channel: 'channelId',
};

/**
 * A reference feed record (simulator/feed-generator.ts) in VENDOR_DIALECT's shape. Read with that
 * dialect and the default data dictionary, it gets the verdict the record gets in the reference
 * feed: the same reading (kWh becomes exact Wh text, status 0 and 1 become the flags A and E) or
 * a reject. A bad record stays bad: a value that is not a decimal is sent as it is, a status the
 * flags do not cover is sent as its text (not in the quality map), a missing field stays missing,
 * and a key outside the reference names stays in the record (the dialect rejects unknown keys).
 * `interval_seconds` must be absent or 900 (the dialect's constant); `checksum_sha256` has no
 * vendor field and is dropped.
 */
export function toVendorRecord(record: FeedRecord): Record<string, unknown> {
  const seconds = record['interval_seconds'];
  assert.ok(seconds === undefined || seconds === 900, 'the vendor dialect has 900 s intervals');
  const vendor: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) {
    if (key === 'consumption_kwh') {
      vendor['value'] = kwhToWhText(value);
      vendor['uom'] = 'Wh';
    } else if (key === 'status_code') {
      vendor['qualityFlag'] = VENDOR_QUALITY_FLAGS.get(value) ?? String(value);
    } else if (key === 'interval_seconds' || key === 'checksum_sha256') {
      continue;
    } else {
      vendor[VENDOR_KEYS[key] ?? key] = value;
    }
  }
  if (record['channel'] === undefined) vendor['channelId'] = '1';
  return vendor;
}

/**
 * One page of VENDOR_DIALECT's API holding `records` (already in the vendor shape), with the
 * cursor of the next page or null on the last.
 */
export function vendorPage(
  records: readonly Record<string, unknown>[],
  next: string | null,
): string {
  return JSON.stringify({ data: { readings: records }, next });
}

/**
 * kWh (a JSON number or decimal text) as exact Wh decimal text: the decimal point moves three
 * places, no float arithmetic. Anything that is not a plain decimal is passed on unchanged, so a
 * bad value stays bad.
 */
export function kwhToWhText(value: unknown): unknown {
  const text = typeof value === 'number' ? plainNumberText(value) : value;
  if (typeof text !== 'string') return value;
  const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text);
  if (match === null) return value;
  const [, sign = '', whole = '', fraction = ''] = match;
  const digits = `${whole}${fraction.padEnd(3, '0')}`;
  const point = whole.length + 3;
  const integer = digits.slice(0, point).replace(/^0+(?=\d)/, '');
  const rest = digits.slice(point).replace(/0+$/, '');
  return rest === '' ? `${sign}${integer}` : `${sign}${integer}.${rest}`;
}
