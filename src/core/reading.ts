/**
 * The canonical reading: one interval value of one meter channel, after validation. Every wire
 * format is turned into this shape before identity, detection and routing see it.
 */

/**
 * How the value was obtained. Only an `actual` may replace a non-actual without an operator (ARCH
 * 2.4).
 */
export const QUALITIES = ['actual', 'estimated', 'substituted'] as const;
export type Quality = (typeof QUALITIES)[number];

export function isQuality(value: unknown): value is Quality {
  return typeof value === 'string' && (QUALITIES as readonly string[]).includes(value);
}

/**
 * Energy resolution: integers of milliwatt-hours (watt-hours x 1000), i.e. kWh to six decimals
 * (ARCH 2.7). One reading's value is at most a few 1e9 and stays a safe integer; sums over a ledger
 * use bigint.
 */
export const ENERGY_MILLI_WH_PER_KWH = 1_000_000;
export const ENERGY_DECIMALS = 6;

export interface Reading {
  meterId: string;
  /** Channel name; "1" when the feed has none. */
  channel: string;
  /** Start of the interval, UTC, milliseconds since the epoch. Always the start, never the end. */
  intervalStartMs: number;
  intervalSeconds: number;
  energyMilliWh: number;
  /** Vendor status byte, 0..255; its bits are interpreted by the data dictionary. */
  statusCode: number;
  /** The feed's own sequence number; 0 when it has none. Never assigned at ingestion. */
  seq: number;
  quality: Quality;
  /** Lowercase hex sha256 as sent by the vendor, already verified; null when absent. */
  checksumSha256: string | null;
  /** Derived from meterId, channel, intervalStartMs and seq (see identity.ts). */
  idempotencyKey: string;
}

/**
 * Where a record stood in its delivery, so a reject can be found and replayed from the raw bytes.
 */
export interface RecordLocation {
  /** 0-based index of the record in the delivery. */
  recordIndex: number;
  /** 1-based line number where the record starts (for text formats). */
  line: number;
  /** Byte offset of the record's first byte in the delivery. */
  byteOffset: number;
  byteLength: number;
}

/**
 * A record as a parser found it: field values exactly as the wire gave them (strings for CSV, JSON
 * values for JSON), under the reference feed's field names. Untrusted until the dictionary
 * validates it.
 */
export interface SourceRecord {
  fields: Readonly<Record<string, unknown>>;
  location: RecordLocation;
}
