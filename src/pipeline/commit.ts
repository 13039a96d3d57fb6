/**
 * Route (ARCH 1): one batch, one transaction. Identity and detection run inside the transaction
 * against the state it reads, then the ledger rows, quarantine rows, anomaly holds, stream state,
 * sequence events, raw bytes, the batch row with its counts and its audit entry (with the batch's
 * Merkle roots) are written together. Nothing here acknowledges a source: the caller does that
 * after this returns.
 */
import assert from 'node:assert/strict';
import { merkleRootOfLeafData } from '../audit/merkle.js';
import { nextEntry } from '../audit/hash-chain.js';
import {
  LEDGER_LINE_VERSION,
  LEDGER_ROWS_PER_LEAF,
  anomalyLeafData,
  ledgerRootOf,
  quarantineLeafData,
  repeatLeafData,
} from '../audit/leaves.js';
import type { Reading } from '../core/reading.js';
import type { Reject } from '../core/reject.js';
import type {
  AnomalyInsert,
  BatchCounts,
  BatchInsert,
  LedgerRow,
  OpenQuarantineMatch,
  QuarantineInsert,
  QuarantineRepeatInsert,
  Store,
  StoreTransaction,
  StreamRef,
  StreamState,
  StreamStatistics,
} from '../core/store.js';
import type { Detectors } from '../core/detector.js';
import {
  STREAM_PROFILE_LAYOUT,
  STREAM_PROFILE_PART_NUMBERS,
  StreamProfile,
  type StoredProfile,
} from '../core/stream-profile.js';
import { asSuite } from '../detect/detect.js';
import {
  identifyBatch,
  intervalsToLookUp,
  streamKey,
  StreamKeys,
  type Decision,
  type IdentifiedReading,
  type IdentifyResult,
} from './identify.js';

export interface PendingReject {
  reject: Reject;
  rawSha256: string;
}

export interface RawChunk {
  byteOffset: number;
  bytes: Uint8Array;
}

export interface BatchInput {
  deliveryId: string;
  sourceId: string;
  kind: BatchInsert['kind'];
  format: string;
  readings: readonly IdentifiedReading[];
  rejects: readonly PendingReject[];
  /** Raw bytes to store in the same transaction (the batch's tail, not yet flushed). */
  rawChunks: readonly RawChunk[];
  byteOffset: number;
  byteLength: number;
  atMs: number;
  /** The detectors to run; a suite's statistics are loaded and saved with the batch. */
  detectors: Detectors;
  /**
   * Whether the readings' seq numbers each reading (the reference feed) and gaps are tracked;
   * false for typed formats, whose seq is a version stamp. Absent means true.
   */
  sequenced?: boolean;
  /** Operator override: accept the readings as new versions whatever the ledger holds. */
  override?: boolean;
  /** Extra facts for the audit entry (an operator's justification, the quarantine ids replayed). */
  auditExtra?: Readonly<Record<string, unknown>>;
  /** Writes that belong to the same transaction (quarantine status changes of a replay). */
  alsoInTransaction?: (tx: StoreTransaction, result: BatchResult) => Promise<void>;
}

export interface BatchResult {
  batchId: number;
  counts: BatchCounts;
  /** One per input reading, in order. */
  decisions: Decision[];
  /**
   * Quarantine ids: first the input rejects in order, then identity holds in reading order. A
   * record that repeats an open item gives that item's id.
   */
  quarantineIds: number[];
  /** How many of the batch's quarantined records were repeats of open items. */
  repeats: number;
  auditSeq: number;
}

export function emptyCounts(): BatchCounts {
  return {
    received: 0,
    accepted: 0,
    duplicates: 0,
    quarantined: 0,
    conflicts: 0,
    anomalyHeld: 0,
    deadLettered: 0,
    revisions: 0,
  };
}

export function addCounts(total: BatchCounts, add: BatchCounts): void {
  total.received += add.received;
  total.accepted += add.accepted;
  total.duplicates += add.duplicates;
  total.quarantined += add.quarantined;
  total.conflicts += add.conflicts;
  total.anomalyHeld += add.anomalyHeld;
  total.deadLettered += add.deadLettered;
  total.revisions += add.revisions;
}

export function isConserved(counts: BatchCounts): boolean {
  return (
    counts.received ===
    counts.accepted +
      counts.duplicates +
      counts.quarantined +
      counts.anomalyHeld +
      counts.deadLettered
  );
}

interface Routed {
  ledgerRows: LedgerRow[];
  quarantineRows: QuarantineInsert[];
  anomalies: AnomalyInsert[];
  counts: BatchCounts;
  revisions: [string, string][];
}

/** Built field by field: a spread of the reading is several times slower on the hot path. */
export function ledgerRow(
  reading: Reading,
  decision: Extract<Decision, { kind: 'accept' }>,
  batchId: number,
  batchPosition: number,
): LedgerRow {
  const supersedes = decision.supersedes;
  const supersedesKey =
    supersedes === null
      ? null
      : 'reading' in supersedes
        ? supersedes.reading.idempotencyKey
        : supersedes.idempotencyKey;
  return {
    meterId: reading.meterId,
    channel: reading.channel,
    intervalStartMs: reading.intervalStartMs,
    intervalSeconds: reading.intervalSeconds,
    commodity: reading.commodity,
    unit: reading.unit,
    valueMicro: reading.valueMicro,
    statusCode: reading.statusCode,
    seq: reading.seq,
    quality: reading.quality,
    qualityDetail: reading.qualityDetail,
    checksumSha256: reading.checksumSha256,
    idempotencyKey: reading.idempotencyKey,
    version: decision.version,
    supersedesKey,
    batchId,
    batchPosition,
  };
}

function route(
  input: BatchInput,
  batchId: number,
  decisions: readonly Decision[],
  holdRawSha256: (readingIndex: number) => string,
): Routed {
  const routed: Routed = {
    ledgerRows: [],
    quarantineRows: [],
    anomalies: [],
    counts: emptyCounts(),
    revisions: [],
  };
  const counts = routed.counts;
  counts.received = input.readings.length + input.rejects.length;
  const quarantine = (pending: PendingReject): void => {
    const reject = pending.reject;
    routed.quarantineRows.push({
      deliveryId: input.deliveryId,
      batchId,
      batchPosition: routed.quarantineRows.length,
      location: reject.location,
      violations: reject.violations,
      meterId: reject.meterId,
      idempotencyKey: reject.idempotencyKey,
      relatedIdempotencyKey: reject.relatedIdempotencyKey,
      uncountedSpan: reject.uncountedSpan,
      rawSha256: pending.rawSha256,
    });
    counts.quarantined += 1;
    if (reject.violations.some((v) => v.code === 'identity.conflict')) counts.conflicts += 1;
  };
  for (const pending of input.rejects) quarantine(pending);
  for (let index = 0; index < decisions.length; index++) {
    const decision = decisions[index] as Decision;
    const item = input.readings[index] as IdentifiedReading;
    switch (decision.kind) {
      case 'accept': {
        const row = ledgerRow(item.reading, decision, batchId, routed.ledgerRows.length);
        routed.ledgerRows.push(row);
        counts.accepted += 1;
        if (row.supersedesKey !== null) {
          counts.revisions += 1;
          routed.revisions.push([row.idempotencyKey, row.supersedesKey]);
        }
        break;
      }
      case 'duplicate':
        counts.duplicates += 1;
        break;
      case 'hold':
        quarantine({ reject: decision.reject, rawSha256: holdRawSha256(index) });
        break;
      case 'anomaly':
        routed.anomalies.push({
          reading: item.reading,
          batchId,
          batchPosition: routed.anomalies.length,
          findings: decision.findings,
        });
        counts.anomalyHeld += 1;
        break;
      default: {
        const unreachable: never = decision;
        assert.fail(`unknown decision ${String(unreachable)}`);
      }
    }
  }
  return routed;
}

/** A batch's quarantined records split into new items and repeats of open ones. */
interface QuarantineSplit {
  fresh: QuarantineInsert[];
  repeats: QuarantineRepeatInsert[];
  /**
   * Per routed quarantine row, in order: its index among `fresh`, the id of the open item it
   * repeats, or the index among `fresh` of an earlier record of this batch it repeats.
   */
  slots: ({ fresh: number } | { repeatOf: number } | { repeatOfFresh: number })[];
  /** Repeats of records new in this batch: their item ids are known once `fresh` is stored. */
  repeatsOfFresh: { freshIndex: number; repeat: QuarantineRepeatInsert }[];
}

/**
 * Records whose raw bytes and reasons equal an open item's become repeats of it. Only ingest
 * batches look: a replay or override acts on an item itself and must never repeat onto it. The
 * lookup runs in the batch's transaction, and only when the batch quarantined something.
 */
async function splitRepeats(
  tx: StoreTransaction,
  input: BatchInput,
  rows: readonly QuarantineInsert[],
): Promise<QuarantineSplit> {
  const split = emptySplit();
  const hashes = rows.map((row) => row.rawSha256).filter((rawSha256) => rawSha256 !== '');
  const open =
    input.kind === 'ingest' && hashes.length > 0 ? await tx.findOpenQuarantineByRaw(hashes) : [];
  const byRaw = new Map<string, OpenQuarantineMatch[]>();
  for (const item of open) {
    const same = byRaw.get(item.rawSha256);
    if (same === undefined) byRaw.set(item.rawSha256, [item]);
    else same.push(item);
  }
  // Readings of one span (a NEM12 300 line holds 48) share its bytes and often its reasons: the
  // k-th such reading of a span matches the k-th open item with those bytes and reasons from
  // another span, and a record that arrives twice in one batch repeats its first copy's item.
  const ordinals = new Map<string, number>();
  const candidatesBySpan = new Map<string, OpenQuarantineMatch[]>();
  const freshByKey = new Map<string, number>();
  for (const row of rows) {
    const reasons = JSON.stringify(row.violations);
    const span = spanOf(row.deliveryId, row.location.byteOffset);
    const sameKey = `${row.rawSha256}|${reasons}`;
    const spanKey = `${sameKey}|${span}`;
    const ordinal = ordinals.get(spanKey) ?? 0;
    ordinals.set(spanKey, ordinal + 1);
    let candidates = candidatesBySpan.get(spanKey);
    if (candidates === undefined) {
      candidates = (byRaw.get(row.rawSha256) ?? []).filter(
        (candidate) =>
          (reasons === candidate.violationsJson || reasons === candidate.currentViolationsJson) &&
          spanOf(candidate.deliveryId, candidate.byteOffset) !== span,
      );
      candidatesBySpan.set(spanKey, candidates);
    }
    const item = candidates[ordinal];
    if (item !== undefined) {
      split.slots.push({ repeatOf: item.id });
      split.repeats.push(repeatOf(item.id, row, split.repeats.length, input.atMs));
      continue;
    }
    // Ordinals count within a span, so an earlier record with this key and ordinal stood in
    // another span of this batch: the same record sent again.
    const earlier =
      input.kind === 'ingest' && row.rawSha256 !== ''
        ? freshByKey.get(`${sameKey}|${ordinal}`)
        : undefined;
    if (earlier !== undefined) {
      split.slots.push({ repeatOfFresh: earlier });
      split.repeatsOfFresh.push({ freshIndex: earlier, repeat: repeatOf(0, row, 0, input.atMs) });
      continue;
    }
    freshByKey.set(`${sameKey}|${ordinal}`, split.fresh.length);
    split.slots.push({ fresh: split.fresh.length });
    split.fresh.push({ ...row, batchPosition: split.fresh.length });
  }
  return split;
}

function spanOf(deliveryId: string, byteOffset: number): string {
  return `${deliveryId}|${byteOffset}`;
}

function emptySplit(): QuarantineSplit {
  return { fresh: [], repeats: [], slots: [], repeatsOfFresh: [] };
}

function repeatOf(
  quarantineId: number,
  row: QuarantineInsert,
  batchPosition: number,
  atMs: number,
): QuarantineRepeatInsert {
  return {
    quarantineId,
    deliveryId: row.deliveryId,
    batchId: row.batchId,
    batchPosition,
    location: row.location,
    rawSha256: row.rawSha256,
    atMs,
  };
}

/** The batch's repeats, those of records new in it given the ids their items were stored under. */
function allRepeats(split: QuarantineSplit, freshIds: readonly number[]): QuarantineRepeatInsert[] {
  const repeats = [...split.repeats];
  for (const { freshIndex, repeat } of split.repeatsOfFresh) {
    const quarantineId = freshIds[freshIndex];
    assert.ok(quarantineId !== undefined, 'a repeat of a new record follows its stored item');
    repeats.push({ ...repeat, quarantineId, batchPosition: repeats.length });
  }
  return repeats;
}

function codeSummary(rows: readonly QuarantineInsert[]): Record<string, number> {
  const summary: Record<string, number> = {};
  for (const row of rows) {
    for (const v of row.violations) summary[v.code] = (summary[v.code] ?? 0) + 1;
  }
  return summary;
}

/**
 * Commits one batch. Identity holds need the raw sha256 of the record: the caller passes it via
 * `holdRawSha256`, keyed by reading index.
 */
export async function commitBatch(
  store: Store,
  input: BatchInput,
  holdRawSha256: (readingIndex: number) => string,
): Promise<BatchResult> {
  return store.transaction(async (tx) => commitBatchIn(tx, input, holdRawSha256));
}

/**
 * Identity's decisions for a batch's readings against what the transaction reads (stream state and
 * the versions of intervals that may collide), without writing anything. The batch commit decides
 * with it, and a replay uses it to see beforehand whether an item would only be held again.
 */
export async function identifyIn(tx: StoreTransaction, input: BatchInput): Promise<IdentifyResult> {
  // Each stream's key is built once and shared by the lookups below.
  const keys = new StreamKeys();
  const count = input.readings.length;
  const readings: Reading[] = new Array<Reading>(count);
  const streamKeys: string[] = new Array<string>(count);
  const streams = new Map<string, { meterId: string; channel: string }>();
  for (let index = 0; index < count; index++) {
    const reading = (input.readings[index] as IdentifiedReading).reading;
    const key = keys.of(reading);
    readings[index] = reading;
    streamKeys[index] = key;
    if (!streams.has(key)) streams.set(key, { meterId: reading.meterId, channel: reading.channel });
  }
  const loaded = await tx.loadStreamStates([...streams.values()]);
  const loadedStates = new Map<string, StreamState>(loaded.map((s) => [streamKey(s), s]));
  const intervals = intervalsToLookUp(readings, loadedStates, streamKeys);
  const existing = await tx.findIntervalVersions(intervals);
  const profiles =
    asSuite(input.detectors) === null
      ? new Map<string, StoredProfile>()
      : await loadProfiles(tx, [...streams.values()]);
  const heldKeys =
    input.kind === 'override' ? [] : mayBeHeldKeys(readings, streamKeys, loadedStates, profiles);
  const held = heldKeys.length === 0 ? [] : await tx.findHeldReadings(heldKeys);
  return identifyBatch(
    input.readings,
    loadedStates,
    existing,
    input.detectors,
    input.override === true,
    streamKeys,
    input.sequenced !== false,
    profiles,
    held,
  );
}

/**
 * The keys of readings that may already be held as anomalies: those at or before their stream's
 * newest accepted interval or the newest its detectors have seen (a held reading advances only
 * the latter). In a feed that arrives in order there are none, so nothing is looked up.
 */
function mayBeHeldKeys(
  readings: readonly Reading[],
  streamKeys: readonly string[],
  states: ReadonlyMap<string, StreamState>,
  profiles: ReadonlyMap<string, StoredProfile>,
): string[] {
  const keys: string[] = [];
  const newestByStream = new Map<string, number>();
  for (let index = 0; index < readings.length; index++) {
    const key = streamKeys[index] as string;
    let newestMs = newestByStream.get(key);
    if (newestMs === undefined) {
      const stored = profiles.get(key);
      const seenMs = stored === undefined ? null : StreamProfile.newestOf(stored.bytes);
      newestMs = Math.max(states.get(key)?.lastIntervalStartMs ?? -Infinity, seenMs ?? -Infinity);
      newestByStream.set(key, newestMs);
    }
    const reading = readings[index] as Reading;
    if (reading.intervalStartMs <= newestMs) keys.push(reading.idempotencyKey);
  }
  return keys;
}

/** The batch's streams' detector statistics (head and every part), each read once. */
async function loadProfiles(
  tx: StoreTransaction,
  streams: readonly StreamRef[],
): Promise<Map<string, StoredProfile>> {
  const rows = await tx.loadStreamStatistics(streams, STREAM_PROFILE_PART_NUMBERS);
  const profiles = new Map<string, StoredProfile>();
  for (const row of rows) profiles.set(streamKey(row), row);
  return profiles;
}

function statisticsRows(profiles: ReadonlyMap<string, StreamProfile>): StreamStatistics[] {
  const rows: StreamStatistics[] = [];
  for (const [key, profile] of profiles) {
    const separator = key.lastIndexOf('|');
    rows.push({
      meterId: key.slice(0, separator),
      channel: key.slice(separator + 1),
      layout: STREAM_PROFILE_LAYOUT,
      bytes: profile.headBytes(),
      parts: profile.changedParts(),
    });
  }
  return rows;
}

/**
 * The same inside a transaction the caller holds, which may commit several batches together (a
 * replay run's items): each still gets its own batch row and audit entry, chained in order.
 * `decided` is identifyIn's result for this input in this transaction, when the caller has it.
 */
export async function commitBatchIn(
  tx: StoreTransaction,
  input: BatchInput,
  holdRawSha256: (readingIndex: number) => string,
  decided: IdentifyResult | null = null,
): Promise<BatchResult> {
  for (const chunk of input.rawChunks) {
    await tx.putRawChunk(input.deliveryId, chunk.byteOffset, chunk.bytes);
  }
  const batchId = await tx.allocateBatchId();
  const identified = decided ?? (await identifyIn(tx, input));
  const routed = route(input, batchId, identified.decisions, holdRawSha256);
  assert.ok(isConserved(routed.counts), 'batch counts must balance');
  const split =
    routed.quarantineRows.length === 0
      ? emptySplit()
      : await splitRepeats(tx, input, routed.quarantineRows);
  // New items are stored first, so that a repeat within the batch can name its item's id.
  const freshIds = await tx.insertQuarantineRows(split.fresh, input.format, input.atMs);
  const repeats = allRepeats(split, freshIds);
  const ledgerRoot = ledgerRootOf(routed.ledgerRows, LEDGER_ROWS_PER_LEAF, LEDGER_LINE_VERSION);
  const quarantineRoot = merkleRootOfLeafData(split.fresh.map(quarantineLeafData));
  const repeatRoot = merkleRootOfLeafData(repeats.map(repeatLeafData));
  const anomalyRoot = merkleRootOfLeafData(routed.anomalies.map(anomalyLeafData));
  await tx.insertLedgerRows(routed.ledgerRows);
  if (repeats.length > 0) await tx.insertQuarantineRepeats(repeats);
  const quarantineIds = split.slots.map((slot) =>
    'fresh' in slot
      ? (freshIds[slot.fresh] as number)
      : 'repeatOf' in slot
        ? slot.repeatOf
        : (freshIds[slot.repeatOfFresh] as number),
  );
  await tx.insertAnomalies(routed.anomalies);
  await tx.insertSequenceEvents(identified.sequenceEvents.map((e) => ({ ...e, batchId })));
  await tx.saveStreamStates([...identified.states.values()]);
  if (identified.profiles.size > 0) {
    await tx.saveStreamStatistics(statisticsRows(identified.profiles));
  }
  // The chain head is read last, after every row is written: on a store with several writers
  // that read holds the chain until commit (docs/workers.md), so it must be short.
  const head = await tx.auditHead();
  const entry = nextEntry(
    head,
    'batch',
    {
      batch: batchId,
      kind: input.kind,
      delivery: input.deliveryId,
      source: input.sourceId,
      counts: routed.counts,
      ledgerRoot,
      ledgerLeaves: routed.ledgerRows.length,
      ledgerRowsPerLeaf: LEDGER_ROWS_PER_LEAF,
      ledgerLineVersion: LEDGER_LINE_VERSION,
      quarantineRoot,
      quarantineLeaves: split.fresh.length,
      repeatRoot,
      repeatLeaves: repeats.length,
      byteOffset: input.byteOffset,
      byteLength: input.byteLength,
      revisions: routed.revisions,
      quarantineCodes: codeSummary(routed.quarantineRows),
      anomalyRoot,
      ...input.auditExtra,
    },
    input.atMs,
  );
  await tx.appendAuditEntry(entry);
  await tx.insertBatch({
    id: batchId,
    deliveryId: input.deliveryId,
    sourceId: input.sourceId,
    kind: input.kind,
    counts: routed.counts,
    ledgerRoot,
    quarantineRoot,
    byteOffset: input.byteOffset,
    byteLength: input.byteLength,
    committedAtMs: input.atMs,
    auditSeq: entry.seq,
  });
  // A delivery's totals describe its first ingestion; replays and overrides are counted in their
  // batches.
  if (input.kind === 'ingest') await tx.addDeliveryCounts(input.deliveryId, routed.counts);
  const result: BatchResult = {
    batchId,
    counts: routed.counts,
    decisions: identified.decisions,
    quarantineIds,
    repeats: repeats.length,
    auditSeq: entry.seq,
  };
  await input.alsoInTransaction?.(tx, result);
  return result;
}
