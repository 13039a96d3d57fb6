/**
 * Readings, ledger rows and stream states for pure identity tests. Keys are derived with the
 * documented scheme (core/identity.ts), as the validator derives them, so a test states only what
 * it is about: the interval slot, the value, the seq and the quality.
 */
import { idempotencyKey } from '../core/identity.js';
import type { Quality, Reading } from '../core/reading.js';
import type { LedgerRow, StreamRef, StreamState } from '../core/store.js';
import type { IdentifiedReading, Pending } from '../pipeline/identify.js';

/** 2026-03-01T00:00:00Z: slot 0 of every test stream. */
export const SLOT_ZERO_MS = Date.UTC(2026, 2, 1);
export const SLOT_SECONDS = 900;
export const SLOT_MS = SLOT_SECONDS * 1000;
export const TEST_METER = 'MTR-0A1B2C3D';
export const OTHER_METER = 'MTR-ZZZZ9999';

export interface ReadingSpec {
  meterId?: string;
  channel?: string;
  /** Interval index from SLOT_ZERO_MS. */
  slot?: number;
  valueMicro?: number;
  seq?: number;
  quality?: Quality;
  /** Defaults to 1 (the estimated bit) for an estimate, else 0. */
  statusCode?: number;
  intervalSeconds?: number;
}

export function slotMs(slot: number): number {
  return SLOT_ZERO_MS + slot * SLOT_MS;
}

export function makeReading(spec: ReadingSpec = {}): Reading {
  const meterId = spec.meterId ?? TEST_METER;
  const channel = spec.channel ?? '1';
  const intervalStartMs = slotMs(spec.slot ?? 0);
  const seq = spec.seq ?? 1;
  const quality = spec.quality ?? 'actual';
  return {
    meterId,
    channel,
    intervalStartMs,
    intervalSeconds: spec.intervalSeconds ?? SLOT_SECONDS,
    commodity: 'electricity',
    unit: 'kWh',
    valueMicro: spec.valueMicro ?? 250_000,
    statusCode: spec.statusCode ?? (quality === 'estimated' ? 1 : 0),
    seq,
    quality,
    qualityDetail: null,
    checksumSha256: null,
    idempotencyKey: idempotencyKey(meterId, channel, intervalStartMs, seq),
  };
}

/** The same reading with some content changed; the key stays unless meter, slot or seq change. */
export function withChanges(reading: Reading, changes: Partial<Reading>): Reading {
  return { ...reading, ...changes };
}

export function asItem(reading: Reading, recordIndex = 0): IdentifiedReading {
  return {
    reading,
    location: { recordIndex, line: recordIndex + 1, byteOffset: recordIndex * 100, byteLength: 99 },
  };
}

export function asItems(readings: readonly Reading[]): IdentifiedReading[] {
  return readings.map((reading, index) => asItem(reading, index));
}

export function asLedgerRow(
  reading: Reading,
  version: number,
  supersedes: Reading | null = null,
  batchId = 1,
): LedgerRow {
  return {
    ...reading,
    version,
    supersedesKey: supersedes?.idempotencyKey ?? null,
    batchId,
    batchPosition: version - 1,
  };
}

/** Versions of one interval, each superseding the previous one, as the store holds them. */
export function versionChain(readings: readonly Reading[]): LedgerRow[] {
  return readings.map((reading, index) =>
    asLedgerRow(reading, index + 1, index === 0 ? null : (readings[index - 1] ?? null)),
  );
}

export function streamStateOf(
  ref: StreamRef,
  changes: Partial<Omit<StreamState, 'meterId' | 'channel'>> = {},
): StreamState {
  return {
    meterId: ref.meterId,
    channel: ref.channel,
    lastIntervalStartMs: null,
    lastSeq: null,
    seqGaps: 0,
    seqRegressions: 0,
    currentReadings: 0,
    currentValueMicro: 0,
    commodity: 'electricity',
    unit: 'kWh',
    ...changes,
  };
}

/** The reading a decision's `supersedes` names, whether a ledger row or a pending version. */
export function supersededKey(supersedes: LedgerRow | Pending | null): string | null {
  if (supersedes === null) return null;
  return 'reading' in supersedes ? supersedes.reading.idempotencyKey : supersedes.idempotencyKey;
}
