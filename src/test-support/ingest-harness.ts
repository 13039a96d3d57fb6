/**
 * A real pipeline on a real SQLite file for tests: a fresh temporary store, a manual clock a day
 * after the feeds' first interval, counting ids, and helpers to feed bytes in chosen chunk sizes
 * and to read back what the store holds. No mocks: every call goes through ingestDelivery and the
 * SQLite store.
 */
import { hash } from 'node:crypto';
import { join } from 'node:path';
import { CountingRandom, ManualClock } from '../core/clock.js';
import type { FormatContext, InputFormat } from '../core/parser.js';
import type { BatchCounts, BatchRow, LedgerRow, QuarantineRow } from '../core/store.js';
import type { Detector } from '../detect/detect.js';
import { DEFAULT_DICTIONARY, type DataDictionary } from '../dictionary/dictionary.js';
import { ingestDelivery, type DeliveryReport } from '../pipeline/ingest.js';
import { openSqliteStore, type SqliteStore } from '../store/sqlite/sqlite-store.js';
import { tempDir } from './temp.js';

/** 2026-03-01T00:00:00Z: the first interval of the test feeds. */
export const FEED_START_MS = Date.UTC(2026, 2, 1);
/** The clock stands a day later, so every test interval has ended. */
export const FEED_NOW_MS = FEED_START_MS + 86_400_000;
export const QUARANTINE_ROWS_MAX = 100_000;

export interface IngestCall {
  format?: InputFormat;
  name?: string;
  dictionary?: DataDictionary;
  batchReadingsMax?: number;
  /** Bytes handed to the pipeline per chunk; the whole input at once when absent. */
  chunkBytes?: number;
  detectors?: readonly Detector[];
  formatContext?: FormatContext;
}

export interface Harness {
  readonly store: SqliteStore;
  readonly clock: ManualClock;
  readonly random: CountingRandom;
  readonly path: string;
  ingest(input: string | Uint8Array, call?: IngestCall): Promise<DeliveryReport>;
  close(): Promise<void>;
}

export function openHarness(): Harness {
  const path = join(tempDir('amisync-pipeline-'), 'store.db');
  const clock = new ManualClock(FEED_NOW_MS);
  const random = new CountingRandom();
  const store = openSqliteStore(path, { nowMs: () => clock.nowMs() });
  return {
    store,
    clock,
    random,
    path,
    ingest: (input, call = {}) => {
      const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
      return ingestDelivery(chunksOf(bytes, call.chunkBytes ?? Math.max(1, bytes.byteLength)), {
        store,
        dictionary: call.dictionary ?? DEFAULT_DICTIONARY,
        clock,
        random,
        format: call.format ?? 'ndjson',
        name: call.name ?? 'test-delivery',
        sourceId: 'test',
        ...(call.batchReadingsMax === undefined ? {} : { batchReadingsMax: call.batchReadingsMax }),
        ...(call.detectors === undefined ? {} : { detectors: call.detectors }),
        ...(call.formatContext === undefined ? {} : { formatContext: call.formatContext }),
      });
    },
    close: () => store.close(),
  };
}

/** The bytes in consecutive chunks of `chunkBytes` (the last may be shorter), as sources yield. */
export async function* chunksOf(bytes: Uint8Array, chunkBytes: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.byteLength; at += chunkBytes) {
    yield bytes.subarray(at, Math.min(bytes.byteLength, at + chunkBytes));
  }
}

export async function collect<T>(pages: AsyncIterable<T[]>): Promise<T[]> {
  const all: T[] = [];
  for await (const page of pages) all.push(...page);
  return all;
}

export function sha256Hex(bytes: Uint8Array | string): string {
  return hash('sha256', bytes, 'hex');
}

export function allLedgerRows(harness: Harness): Promise<LedgerRow[]> {
  return collect(harness.store.iterateLedgerByBatch());
}

export function currentLedgerRows(harness: Harness): Promise<LedgerRow[]> {
  return collect(harness.store.iterateCurrentLedger());
}

export function allBatches(harness: Harness): Promise<BatchRow[]> {
  return collect(harness.store.iterateBatches());
}

export function quarantineOf(harness: Harness, deliveryId?: string): Promise<QuarantineRow[]> {
  return harness.store.listQuarantine({
    limit: QUARANTINE_ROWS_MAX,
    ...(deliveryId === undefined ? {} : { deliveryId }),
  });
}

/** The first violation's code of each row, in quarantine id order. */
export function firstCodes(rows: readonly QuarantineRow[]): string[] {
  return rows.map((row) => row.violations[0]?.code ?? '(none)');
}

export function outcomesSum(counts: BatchCounts): number {
  const held = counts.quarantined + counts.anomalyHeld + counts.deadLettered;
  return counts.accepted + counts.duplicates + held;
}

/** How many audit entries of each kind the chain holds (`batch`, `quarantine.reject`...). */
export async function auditKinds(harness: Harness): Promise<Record<string, number>> {
  const kinds: Record<string, number> = {};
  for (const entry of await collect(harness.store.iterateAuditEntries())) {
    kinds[entry.kind] = (kinds[entry.kind] ?? 0) + 1;
  }
  return kinds;
}

/** The raw bytes a quarantine row points at, read back from the raw store. */
export async function rawBytesOf(harness: Harness, row: QuarantineRow): Promise<Buffer> {
  const bytes = await harness.store.readDeliveryBytes(
    row.deliveryId,
    row.location.byteOffset,
    row.location.byteLength,
  );
  return Buffer.from(bytes);
}

/** Every stored byte of a delivery, read back in pieces of at most `pieceBytes`. */
export async function storedDeliveryBytes(
  harness: Harness,
  deliveryId: string,
  sizeBytes: number,
  pieceBytes = 4 * 1024 * 1024,
): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for (let at = 0; at < sizeBytes; at += pieceBytes) {
    const length = Math.min(pieceBytes, sizeBytes - at);
    pieces.push(Buffer.from(await harness.store.readDeliveryBytes(deliveryId, at, length)));
  }
  return Buffer.concat(pieces);
}
