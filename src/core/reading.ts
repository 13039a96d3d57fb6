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
 * Value resolution (ARCH 2.7): integers of millionths of the reading's unit. For kWh that is
 * milliwatt-hours (watt-hours x 1000), i.e. kWh to six decimals. One reading's value is at most a
 * few 1e9 and stays a safe integer; sums over a ledger use bigint, per unit.
 */
export const VALUE_MICRO_PER_UNIT = 1_000_000;
export const VALUE_DECIMALS = 6;
/** The same resolution named for the common case: milliwatt-hours per kWh. */
export const ENERGY_MILLI_WH_PER_KWH = VALUE_MICRO_PER_UNIT;
export const ENERGY_DECIMALS = VALUE_DECIMALS;

/** What is metered. Readings of different commodities are never summed together. */
export const COMMODITIES = ['electricity', 'gas', 'water'] as const;
export type Commodity = (typeof COMMODITIES)[number];

/**
 * The canonical unit of a reading's value, one per quantity: every wire unit is converted exactly
 * to one of these (Wh and MWh to kWh, VArh to kVArh, and so on) or the record is quarantined.
 * Energy units are summed for billing; the others (demand, voltage, power factor, volume) are kept
 * as their own channels and never summed into energy.
 */
export const UNITS = {
  kWh: { commodity: 'electricity', energy: true },
  kVArh: { commodity: 'electricity', energy: false },
  kVAh: { commodity: 'electricity', energy: false },
  kW: { commodity: 'electricity', energy: false },
  kVAr: { commodity: 'electricity', energy: false },
  kVA: { commodity: 'electricity', energy: false },
  V: { commodity: 'electricity', energy: false },
  A: { commodity: 'electricity', energy: false },
  pf: { commodity: 'electricity', energy: false },
  therm: { commodity: 'gas', energy: false },
  m3: { commodity: null, energy: false },
  ft3: { commodity: null, energy: false },
  gal: { commodity: 'water', energy: false },
} as const satisfies Record<string, { commodity: Commodity | null; energy: boolean }>;
export type Unit = keyof typeof UNITS;

export function isUnit(value: unknown): value is Unit {
  return typeof value === 'string' && Object.hasOwn(UNITS, value);
}

export interface Reading {
  meterId: string;
  /** Channel name; "1" when the feed has none. */
  channel: string;
  /** Start of the interval, UTC, milliseconds since the epoch. Always the start, never the end. */
  intervalStartMs: number;
  intervalSeconds: number;
  /** What is metered; a stream (meter, channel) keeps one commodity and unit. */
  commodity: Commodity;
  unit: Unit;
  /** The value in millionths of `unit` (for kWh: milliwatt-hours). */
  valueMicro: number;
  /** Vendor status byte, 0..255; its bits are interpreted by the data dictionary. */
  statusCode: number;
  /** The feed's own sequence number; 0 when it has none. Never assigned at ingestion. */
  seq: number;
  quality: Quality;
  /**
   * The feed's own quality marks as sent, when it has more than `quality` says (a NEM12 quality
   * flag with its method and reason, `S14 51`); null when it has none.
   */
  qualityDetail: string | null;
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
 * A reading as a typed format (NEM12, CMEP, a vendor CSV dialect) states it, before the data
 * dictionary has judged it: the format's reader has already read its fields exactly (times as UTC
 * interval starts, the value as an exact decimal in a canonical unit). Untrusted until validated:
 * the dictionary still decides the meter id, channel, interval length, range and time rules.
 */
export interface CandidateReading {
  /** The meter as the format identifies it (a NEM12 NMI); the dictionary may map it. */
  meterId: string;
  channel: string;
  intervalStartMs: number;
  intervalSeconds: number;
  commodity: Commodity;
  unit: Unit;
  /** Exact decimal text in `unit`, as converted from the wire without floats. */
  value: string;
  quality: Quality;
  qualityDetail: string | null;
  statusCode: number;
  /** The feed's own version of the data (a NEM12 UpdateDateTime as digits); 0 when none. */
  seq: number;
  location: RecordLocation;
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
