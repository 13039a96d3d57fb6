/**
 * The simulated head-end's own JSON record shape, and its mapping from the reference feed's
 * fields. The mapping only renames keys and keeps every value exactly as the generator made it, so
 * each injected defect (a text consumption, a timestamp without an offset, an unknown field) stays
 * the same defect in the vendor's shape and the generator's oracle still holds for it. A field the
 * mapping does not name (the `foo` of a bad record) is kept under its own name.
 *
 * The dialect below declares this shape for a JSON records reader; it is the simulator's own
 * declaration until the project's JSON dialect format settles its keys.
 */
import type { FeedRecord } from '../feed-generator.js';

/** Reference feed field -> the vendor's field name. */
export const VENDOR_FIELD_NAMES = {
  meter_id: 'meterNumber',
  channel: 'register',
  timestamp_utc: 'intervalStart',
  consumption_kwh: 'usageKwh',
  status_code: 'statusCode',
  seq: 'sequenceNumber',
  interval_seconds: 'intervalSeconds',
  checksum_sha256: 'checksum',
} as const satisfies Record<string, string>;

const TO_VENDOR: ReadonlyMap<string, string> = new Map(Object.entries(VENDOR_FIELD_NAMES));
const FROM_VENDOR: ReadonlyMap<string, string> = new Map(
  Object.entries(VENDOR_FIELD_NAMES).map(([reference, vendor]) => [vendor, reference]),
);

/**
 * How a JSON records reader maps the vendor's records onto the reference fields: field names,
 * timestamps as ISO 8601 with an offset (a timestamp without one is a defect, as in the reference
 * feed; it must not be read in a default zone), interval starts, values in kWh.
 */
export const VENDOR_DIALECT = {
  name: 'sim-head-end',
  fields: {
    meterId: VENDOR_FIELD_NAMES.meter_id,
    channel: VENDOR_FIELD_NAMES.channel,
    timestamp: VENDOR_FIELD_NAMES.timestamp_utc,
    value: VENDOR_FIELD_NAMES.consumption_kwh,
    unit: { constant: 'kWh' },
    statusCode: VENDOR_FIELD_NAMES.status_code,
    seq: VENDOR_FIELD_NAMES.seq,
    intervalSeconds: VENDOR_FIELD_NAMES.interval_seconds,
    checksum: VENDOR_FIELD_NAMES.checksum_sha256,
  },
  timestampFormat: 'iso8601',
  timeZone: 'UTC',
  timestampMarks: 'start',
} as const;

function renamed(record: FeedRecord, names: ReadonlyMap<string, string>): FeedRecord {
  const out: FeedRecord = {};
  for (const [name, value] of Object.entries(record)) out[names.get(name) ?? name] = value;
  return out;
}

/** The vendor's record for a reference record: keys renamed, values and key order kept. */
export function toVendorRecord(record: FeedRecord): FeedRecord {
  return renamed(record, TO_VENDOR);
}

/** The reference record a vendor record came from (the inverse of toVendorRecord). */
export function fromVendorRecord(record: FeedRecord): FeedRecord {
  return renamed(record, FROM_VENDOR);
}
