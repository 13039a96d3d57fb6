/**
 * Operator actions on quarantine: replay (re-run the kept raw bytes through the current dictionary
 * and identity), accept (an override with a required justification) and reject (closed, with a
 * required justification). Every action writes an action row and an audit entry in the same
 * transaction as its ledger effect. Nothing is deleted: a quarantine row only changes status.
 */
import { hash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { Clock } from '../core/clock.js';
import { AmisyncError } from '../core/errors.js';
import {
  INPUT_FORMATS,
  isTypedFormat,
  itemLocation,
  type InputFormat,
  type ParseItem,
  type TypedFormat,
} from '../core/parser.js';
import {
  BATCH_BYTES_MAX,
  LIST_PAGE_ROWS_MAX,
  RAW_CHUNK_BYTES_MAX,
  REPLAY_ITEMS_PER_TRANSACTION,
} from '../core/limits.js';
import type { RecordLocation } from '../core/reading.js';
import { violation, type Violation } from '../core/reject.js';
import type {
  DeliveryRow,
  QuarantineRow,
  QuarantineStatus,
  Store,
  StoreTransaction,
} from '../core/store.js';
import type { Detectors } from '../core/detector.js';
import { detectorsFor } from './detectors.js';
import type { DataDictionary } from '../dictionary/dictionary.js';
import {
  PARSER_FACTORIES,
  parseOneRecord,
  reparseTypedItem,
  reparseTypedItems,
} from '../formats/formats.js';
import { nextEntry } from '../audit/hash-chain.js';
import { recordConfig } from '../audit/record.js';
import { dictionaryFingerprint } from '../dictionary/dictionary.js';
import {
  commitBatchIn,
  identifyIn,
  type BatchInput,
  type BatchResult,
  type PendingReject,
} from './commit.js';
import type { IdentifiedReading, IdentifyResult } from './identify.js';
import { createJudge, type Judge } from './judge.js';

export interface ActionContext {
  store: Store;
  dictionary: DataDictionary;
  clock: Clock;
  actor: string;
  /** Detectors of a replay; default: the dictionary's (detectorsFor). `[]` runs none. */
  detectors?: Detectors;
}

export interface ReplayOutcome {
  quarantineId: number;
  outcome: 'accepted' | 'duplicate' | 'held-again' | 'anomaly' | 'still-invalid' | 'reparsed';
  batchId: number | null;
  violations: Violation[];
  newQuarantineIds: number[];
}

export interface ReplayReport {
  replayed: number;
  accepted: number;
  duplicates: number;
  stillQuarantined: number;
  anomalyHeld: number;
  outcomes: ReplayOutcome[];
}

function formatOf(row: QuarantineRow): InputFormat {
  const format = row.format as InputFormat;
  if (!(INPUT_FORMATS as readonly string[]).includes(format)) {
    throw new AmisyncError('INVALID_STATE', `quarantine ${row.id}: unknown format ${row.format}`);
  }
  return format;
}

/** Every decision is traceable to the dictionary in force: record it when it changed. */
async function recordDictionary(context: ActionContext): Promise<string> {
  const fingerprint = dictionaryFingerprint(context.dictionary);
  await recordConfig(context.store, fingerprint, context.dictionary, context.clock.nowMs());
  return fingerprint;
}

/** Re-parses a quarantined record (or an unparseable span) from its kept bytes. */
/**
 * Typed-format items already re-read for a replay run, by delivery and record index: one pass
 * over a delivery serves all its rows, so `replay --all` reads each delivery once, not once per
 * row. Holds only the items of the rows being replayed.
 */
type ReparsedItems = Map<string, Map<number, ParseItem>>;

/** The delivery's stored bytes from `offset`, a raw chunk at a time, for re-reading it whole. */
function deliveryReader(store: Store, deliveryId: string, end: number) {
  return async (offset: number): Promise<Uint8Array> =>
    offset >= end
      ? new Uint8Array(0)
      : store.readDeliveryBytes(deliveryId, offset, Math.min(RAW_CHUNK_BYTES_MAX, end - offset));
}

/**
 * A typed delivery is re-read whole: to its size when it ended. One cut short (its process died)
 * is read in its place from a complete delivery that delivers it again with the same bytes as far
 * as the first was stored: the whole file then gives every record the number and verdict its first
 * read gave it. Without one, it is read to its last stored byte, and only what those bytes alone
 * give out is found (see reparseTypedItems).
 */
async function typedDeliveryReader(store: Store, delivery: DeliveryRow) {
  if (delivery.sizeBytes !== null) {
    return {
      read: deliveryReader(store, delivery.id, delivery.sizeBytes),
      reach: 'ended' as const,
    };
  }
  const stored = await store.storedDeliveryBytes(delivery.id);
  for (const id of delivery.redeliveredBy) {
    const again = await store.getDelivery(id);
    if (again?.sizeBytes == null || !(await deliversSameBytes(store, delivery, again, stored))) {
      continue;
    }
    return { read: deliveryReader(store, again.id, again.sizeBytes), reach: 'ended' as const };
  }
  return { read: deliveryReader(store, delivery.id, stored), reach: 'cut-short' as const };
}

/** Whether `again` is read as `first` was, and begins with the `stored` bytes kept of `first`. */
async function deliversSameBytes(
  store: Store,
  first: DeliveryRow,
  again: DeliveryRow,
  stored: number,
): Promise<boolean> {
  if (again.format !== first.format || (again.sizeBytes ?? 0) < stored) return false;
  if (!isDeepStrictEqual(again.formatContext, first.formatContext)) return false;
  for (let offset = 0; offset < stored; offset += RAW_CHUNK_BYTES_MAX) {
    const length = Math.min(RAW_CHUNK_BYTES_MAX, stored - offset);
    const mine = await store.readDeliveryBytes(first.id, offset, length);
    const theirs = await store.readDeliveryBytes(again.id, offset, length);
    if (!Buffer.from(mine).equals(theirs)) return false;
  }
  return true;
}

/** Re-reads, once per delivery, the typed-format items of `rows`. */
async function reparseTypedRows(store: Store, rows: readonly QuarantineRow[]) {
  const wanted = new Map<string, { format: TypedFormat; indexes: Set<number> }>();
  for (const row of rows) {
    const format = formatOf(row);
    if (!isTypedFormat(format)) continue;
    const entry = wanted.get(row.deliveryId);
    if (entry === undefined) {
      wanted.set(row.deliveryId, { format, indexes: new Set([row.location.recordIndex]) });
    } else {
      entry.indexes.add(row.location.recordIndex);
    }
  }
  const reparsed: ReparsedItems = new Map();
  for (const [deliveryId, { format, indexes }] of wanted) {
    const delivery = await store.getDelivery(deliveryId);
    if (delivery === null) continue;
    const { read, reach } = await typedDeliveryReader(store, delivery);
    const context = delivery.formatContext;
    reparsed.set(deliveryId, await reparseTypedItems(format, context, read, indexes, reach));
  }
  return reparsed;
}

async function reparse(
  store: Store,
  row: QuarantineRow,
  delivery: DeliveryRow,
  bytes: Uint8Array,
  reparsed: ReparsedItems | null = null,
): Promise<ParseItem[]> {
  const format = formatOf(row);
  if (isTypedFormat(format)) {
    const index = row.location.recordIndex;
    const known = reparsed?.get(row.deliveryId);
    let item = known?.get(index) ?? null;
    if (known === undefined) {
      const { read, reach } = await typedDeliveryReader(store, delivery);
      item = await reparseTypedItem(format, delivery.formatContext, read, index, reach);
    }
    // The record found by its number must stand on the row's bytes, or it is another record.
    return item !== null && sameSpan(itemLocation(item), row.location) ? [item] : [];
  }
  if (!row.uncountedSpan) {
    return [parseOneRecord(format, bytes, delivery.formatContext, row.location)];
  }
  const parser = PARSER_FACTORIES[format]();
  const items = [...parser.push(bytes), ...parser.end()];
  // The span is parsed alone: move its locations back to where they stand in the delivery.
  for (const item of items) {
    const location = itemLocation(item);
    location.byteOffset += row.location.byteOffset;
    location.line += row.location.line - 1;
  }
  return items;
}

/** A typed record of a delivery whose first read never reached its end. */
function cutShort(row: QuarantineRow, delivery: DeliveryRow): boolean {
  return isTypedFormat(formatOf(row)) && delivery.sizeBytes === null;
}

/**
 * Why a re-read found no record: the kept bytes hold none, or (a typed delivery cut short) the
 * record waited for bytes that were never stored, and is not guessed from the ones that were.
 */
function noRecordFound(row: QuarantineRow, delivery: DeliveryRow): Violation {
  if (cutShort(row, delivery)) {
    return violation(
      'parse.syntax',
      'delivery',
      delivery.id,
      `Delivery ${delivery.id} did not reach its end (its read stopped, or goes on), and the ` +
        `bytes that complete record ${row.location.recordIndex} (line ${row.location.line}) ` +
        'are not stored. No complete delivery of the same name begins with its bytes, so the ' +
        'record cannot be read again as it was first read. Once the file is delivered again in ' +
        'full, replay reads it from there.',
    );
  }
  return violation('parse.syntax', 'record', '', 'the kept bytes hold no record at all');
}

function sameSpan(a: RecordLocation, b: RecordLocation): boolean {
  return a.byteOffset === b.byteOffset && a.byteLength === b.byteLength;
}

function notOpen(id: number, status: string): AmisyncError {
  return new AmisyncError('INVALID_STATE', `quarantine item ${id} is ${status}, not open`, {
    status,
  });
}

/**
 * The item read before any transaction, to plan the decision and fail early. It does not guard
 * the decision: another operator may decide the item before ours commits (see requireOpenIn).
 */
async function loadOpen(store: Store, id: number): Promise<QuarantineRow> {
  const row = await store.getQuarantine(id);
  if (row === null) throw new AmisyncError('NOT_FOUND', `quarantine item ${id} does not exist`);
  if (row.status !== 'open') throw notOpen(id, row.status);
  return row;
}

/**
 * The guard of every decision: the item is still open as read inside the transaction that applies
 * the decision, so of two operators acting on one item at once exactly one succeeds.
 */
async function requireOpenIn(tx: StoreTransaction, id: number): Promise<void> {
  const row = await tx.getQuarantineRow(id);
  if (row === null) throw new AmisyncError('NOT_FOUND', `quarantine item ${id} does not exist`);
  if (row.status !== 'open') throw notOpen(id, row.status);
}

/**
 * Moves an item that is open in this transaction to `status`; fails the whole decision, and so
 * rolls back everything it wrote, when the item is no longer open.
 */
async function setOpenItemStatus(
  tx: StoreTransaction,
  id: number,
  status: QuarantineStatus,
  violations: readonly Violation[],
  resolvedBatchId: number | null,
): Promise<void> {
  if (!(await tx.setQuarantineStatus(id, status, violations, resolvedBatchId))) {
    throw notOpen(id, (await tx.getQuarantineRow(id))?.status ?? 'missing');
  }
}

async function recordBytes(store: Store, row: QuarantineRow): Promise<Uint8Array> {
  return store.readDeliveryBytes(row.deliveryId, row.location.byteOffset, row.location.byteLength);
}

async function deliveryOf(store: Store, row: QuarantineRow): Promise<DeliveryRow> {
  const delivery = await store.getDelivery(row.deliveryId);
  if (delivery === null) {
    throw new AmisyncError(
      'NOT_FOUND',
      `delivery ${row.deliveryId} of quarantine ${row.id} is missing`,
    );
  }
  return delivery;
}

function outcomeOf(result: BatchResult, index: number): ReplayOutcome['outcome'] {
  const decision = result.decisions[index];
  switch (decision?.kind) {
    case 'accept':
      return 'accepted';
    case 'duplicate':
      return 'duplicate';
    case 'hold':
      return 'held-again';
    case 'anomaly':
      return 'anomaly';
    default:
      return 'still-invalid';
  }
}

/**
 * What replaying one open item will write, decided from reads alone before any transaction opens:
 * either its readings as a replay batch, or the item kept open with the reasons it still fails.
 */
type ReplayPlan =
  | { kind: 'keep-open'; row: QuarantineRow; violations: Violation[]; atMs: number }
  | {
      kind: 'commit';
      row: QuarantineRow;
      input: BatchInput;
      holdRawSha256: (readingIndex: number) => string;
    };

/** Judges by format, built once per replay run rather than once per item. */
type JudgeOf = (format: InputFormat) => Judge;

function judgeCache(context: ActionContext): JudgeOf {
  const judges = new Map<InputFormat, Judge>();
  return (format) => {
    let judge = judges.get(format);
    if (judge === undefined) {
      judge = createJudge(context.dictionary, context.clock, format);
      judges.set(format, judge);
    }
    return judge;
  };
}

async function planReplay(
  context: ActionContext,
  row: QuarantineRow,
  reparsed: ReparsedItems,
  judgeOf: JudgeOf,
): Promise<ReplayPlan> {
  const { store, clock } = context;
  const delivery = await deliveryOf(store, row);
  const bytes = await recordBytes(store, row);
  const items = await reparse(store, row, delivery, bytes, reparsed);
  const judge = judgeOf(formatOf(row));
  const readings: IdentifiedReading[] = [];
  const rejects: PendingReject[] = [];
  const rawShaOf = (offset: number, length: number): string => {
    const from = offset - row.location.byteOffset;
    return hash('sha256', bytes.subarray(from, from + length), 'hex');
  };
  for (const item of items) {
    const verdict = judge(item);
    if (verdict.ok) readings.push(verdict.item);
    else {
      const location = verdict.reject.location;
      rejects.push({
        reject: verdict.reject,
        rawSha256: rawShaOf(location.byteOffset, location.byteLength),
      });
    }
  }
  const atMs = clock.nowMs();
  if (items.length === 0) {
    return { kind: 'keep-open', row, violations: [noRecordFound(row, delivery)], atMs };
  }
  const stillUnparseable = readings.length === 0 && rejects.every((r) => r.reject.uncountedSpan);
  if ((!row.uncountedSpan || stillUnparseable) && readings.length === 0) {
    return {
      kind: 'keep-open',
      row,
      violations: rejects.flatMap((r) => r.reject.violations),
      atMs,
    };
  }
  const input: BatchInput = {
    deliveryId: row.deliveryId,
    sourceId: delivery.sourceId,
    kind: 'replay',
    format: row.format,
    readings,
    rejects: row.uncountedSpan ? rejects : [],
    rawChunks: [],
    byteOffset: row.location.byteOffset,
    byteLength: row.location.byteLength,
    atMs,
    detectors: context.detectors ?? detectorsFor(context.dictionary),
    sequenced: !isTypedFormat(row.format),
    auditExtra: {
      replayOf: row.id,
      actor: context.actor,
      dictionary: dictionaryFingerprint(context.dictionary),
    },
    alsoInTransaction: async (tx, result) => {
      await setOpenItemStatus(tx, row.id, 'replayed', row.currentViolations, result.batchId);
      await tx.insertQuarantineAction({
        quarantineId: row.id,
        action: 'replay',
        outcome: 'replayed',
        actor: context.actor,
        justification: `replayed: ${replayOutcomeOf(row, result)}`,
        violations: [],
        batchId: result.batchId,
        atMs,
      });
    },
  };
  const holdRawSha256 = (index: number): string => {
    const location = readings[index]?.location;
    return location === undefined ? '' : rawShaOf(location.byteOffset, location.byteLength);
  };
  return { kind: 'commit', row, input, holdRawSha256 };
}

function replayOutcomeOf(row: QuarantineRow, result: BatchResult): ReplayOutcome['outcome'] {
  return row.uncountedSpan ? 'reparsed' : outcomeOf(result, 0);
}

/**
 * Writes one planned replay inside the caller's transaction, after reading there that the item is
 * still open. One that another operator decided meanwhile fails an explicit replay; a replay of
 * every open item passes over it (null).
 */
async function applyReplay(
  tx: StoreTransaction,
  context: ActionContext,
  plan: ReplayPlan,
  explicit: boolean,
): Promise<ReplayOutcome | null> {
  const row = plan.row;
  const now = await tx.getQuarantineRow(row.id);
  if (now?.status !== 'open') {
    if (explicit) throw notOpen(row.id, now?.status ?? 'missing');
    return null;
  }
  if (plan.kind === 'keep-open') {
    return keepOpen(tx, context, row, plan.violations, plan.atMs, 'still-invalid');
  }
  // A record that identity would only hold again (a conflict or a revision still waiting for an
  // operator) stays the same open item with the current reasons, rather than becoming a replayed
  // item and a new open one on every run.
  let decided: IdentifyResult | null = null;
  if (!row.uncountedSpan && plan.input.readings.length === 1) {
    decided = await identifyIn(tx, plan.input);
    const [decision] = decided.decisions;
    if (decision?.kind === 'hold') {
      const violations = decision.reject.violations;
      return keepOpen(tx, context, row, violations, plan.input.atMs, 'held-again');
    }
  }
  const result = await commitBatchIn(tx, plan.input, plan.holdRawSha256, decided);
  return {
    quarantineId: row.id,
    outcome: replayOutcomeOf(row, result),
    batchId: result.batchId,
    violations: [],
    newQuarantineIds: result.quarantineIds,
  };
}

async function keepOpen(
  tx: StoreTransaction,
  context: ActionContext,
  row: QuarantineRow,
  violations: Violation[],
  atMs: number,
  outcome: 'still-invalid' | 'held-again',
): Promise<ReplayOutcome> {
  await setOpenItemStatus(tx, row.id, 'open', violations, null);
  await tx.insertQuarantineAction({
    quarantineId: row.id,
    action: 'replay',
    outcome: 'open',
    actor: context.actor,
    justification:
      outcome === 'still-invalid'
        ? 'replay still fails validation'
        : 'replay is held again: the ledger still holds another value for the interval',
    violations,
    batchId: null,
    atMs,
  });
  const payload = {
    quarantine: row.id,
    outcome,
    codes: violations.map((v) => v.code),
    actor: context.actor,
  };
  await tx.appendAuditEntry(nextEntry(await tx.auditHead(), 'quarantine.replay', payload, atMs));
  return {
    quarantineId: row.id,
    outcome,
    batchId: null,
    violations,
    newQuarantineIds: [],
  };
}

/**
 * Replays the given open items, or with 'all' every open item, oldest first, at most `limit` of
 * them. 'all' walks the open items in id order a page at a time, each once: an item that stays
 * invalid or is held again stays the same open item and never keeps the ones after it from being
 * reached.
 */
export async function replayQuarantine(
  context: ActionContext,
  ids: readonly number[] | 'all',
  limit = Number.POSITIVE_INFINITY,
  /** Told how many items were tried so far, after each page (a progress bar). */
  onProgress?: (tried: number) => void,
): Promise<ReplayReport> {
  await recordDictionary(context);
  const report: ReplayReport = {
    replayed: 0,
    accepted: 0,
    duplicates: 0,
    stillQuarantined: 0,
    anomalyHeld: 0,
    outcomes: [],
  };
  if (ids !== 'all') {
    const rows: QuarantineRow[] = [];
    for (const id of ids.slice(0, limit)) rows.push(await loadOpen(context.store, id));
    await replayRows(context, rows, report, true);
    return report;
  }
  let afterId = 0;
  while (report.replayed < limit) {
    const page = await context.store.listQuarantine({
      status: 'open',
      afterId,
      limit: Math.min(LIST_PAGE_ROWS_MAX, limit - report.replayed),
    });
    const last = page.at(-1);
    if (last === undefined) break;
    afterId = last.id;
    await replayRows(context, page, report, false);
    onProgress?.(report.replayed);
  }
  return report;
}

/** Replays `rows` in order, adding each outcome to `report`. */
async function replayRows(
  context: ActionContext,
  rows: readonly QuarantineRow[],
  report: ReplayReport,
  explicit: boolean,
): Promise<void> {
  const reparsed = await reparseTypedRows(context.store, rows);
  const judgeOf = judgeCache(context);
  let plans: ReplayPlan[] = [];
  let plannedBytes = 0;
  const commitPlans = async (): Promise<void> => {
    const group = plans;
    plans = [];
    plannedBytes = 0;
    if (group.length === 0) return;
    const written = await context.store.transaction(async (tx) => {
      const results: ReplayOutcome[] = [];
      for (const plan of group) {
        const outcome = await applyReplay(tx, context, plan, explicit);
        if (outcome !== null) results.push(outcome);
      }
      return results;
    });
    for (const outcome of written) {
      report.replayed += 1;
      report.outcomes.push(outcome);
      if (outcome.outcome === 'accepted') report.accepted += 1;
      else if (outcome.outcome === 'duplicate') report.duplicates += 1;
      else if (outcome.outcome === 'anomaly') report.anomalyHeld += 1;
      else if (outcome.outcome !== 'reparsed') report.stillQuarantined += 1;
    }
  };
  for (const row of rows) {
    // A plan holds its item's kept bytes (an unparseable span may be large), so a group is also
    // bounded by bytes, as an ingest batch is; the bytes are read when the item is planned. The
    // bytes also bound a group's readings: a record holds one, a span no more than its bytes do.
    const bytes = row.location.byteLength;
    if (
      plans.length >= REPLAY_ITEMS_PER_TRANSACTION ||
      (plans.length > 0 && plannedBytes + bytes > BATCH_BYTES_MAX)
    ) {
      await commitPlans();
    }
    plans.push(await planReplay(context, row, reparsed, judgeOf));
    plannedBytes += bytes;
  }
  await commitPlans();
}

/**
 * What an override may set aside: dictionary ranges and identity holds, never unreadable values.
 */
function lenientDictionary(dictionary: DataDictionary): DataDictionary {
  return {
    ...dictionary,
    meterIdPattern: '^[^|]{1,64}$',
    channelPattern: '^[^|]{1,16}$',
    channels: null,
    consumptionKwhMin: -9_000_000_000,
    consumptionKwhMax: 9_000_000_000,
    clockSkewToleranceSeconds: 86_400,
    requireIntervalAlignment: false,
    allowUnknownFields: true,
    channelOverrides: {},
    meterClasses: [],
    formats: {
      nem12: { ...dictionary.formats.nem12, ...LENIENT_FORMAT_IDENTITY },
      cmep: { ...dictionary.formats.cmep, ...LENIENT_FORMAT_IDENTITY },
      'csv-dialect': { ...dictionary.formats['csv-dialect'], ...LENIENT_FORMAT_IDENTITY },
      'json-dialect': { ...dictionary.formats['json-dialect'], ...LENIENT_FORMAT_IDENTITY },
      // Green Button meter ids are href paths, longer than other formats' ids.
      'green-button': {
        ...dictionary.formats['green-button'],
        meterIdPattern: '^[^|]{1,128}$',
        channelPattern: '^[^|]{1,64}$',
      },
    },
  };
}

const LENIENT_FORMAT_IDENTITY = { meterIdPattern: '^[^|]{1,64}$', channelPattern: '^[^|]{1,32}$' };

function requireJustification(justification: string): string {
  const trimmed = justification.trim();
  if (trimmed.length < 10) {
    throw new AmisyncError('USAGE', 'a justification of at least 10 characters is required');
  }
  return trimmed;
}

export interface AcceptReport {
  quarantineId: number;
  batchId: number;
  idempotencyKey: string;
  version: number | null;
  outcome: 'accepted' | 'duplicate';
  overridden: string[];
}

/** Forces an open item into the ledger as the current version of its interval. */
export async function acceptQuarantined(
  context: ActionContext,
  id: number,
  justification: string,
): Promise<AcceptReport> {
  const reason = requireJustification(justification);
  const { store, clock } = context;
  const row = await loadOpen(store, id);
  const fingerprint = await recordDictionary(context);
  if (row.uncountedSpan) {
    throw new AmisyncError(
      'INVALID_STATE',
      `quarantine ${id} is an unparseable span; replay it instead`,
    );
  }
  const delivery = await deliveryOf(store, row);
  const bytes = await recordBytes(store, row);
  const [item] = await reparse(store, row, delivery, bytes);
  if (item === undefined && cutShort(row, delivery)) {
    throw new AmisyncError(
      'INVALID_STATE',
      `quarantine ${id} cannot be accepted: ${noRecordFound(row, delivery).message}`,
    );
  }
  if (item === undefined || item.kind === 'reject') {
    throw new AmisyncError(
      'INVALID_STATE',
      `quarantine ${id} cannot be read as a record; it can only be rejected`,
    );
  }
  const result = createJudge(lenientDictionary(context.dictionary), clock, formatOf(row))(item);
  if (!result.ok) {
    throw new AmisyncError(
      'INVALID_STATE',
      `quarantine ${id} has problems an override cannot set aside: ` +
        result.reject.violations.map((v: Violation) => `${v.field} ${v.code}`).join(', '),
      { violations: result.reject.violations },
    );
  }
  const atMs = clock.nowMs();
  const overridden = row.currentViolations.map((v) => v.code);
  const input: BatchInput = {
    deliveryId: row.deliveryId,
    sourceId: delivery.sourceId,
    kind: 'override',
    format: row.format,
    readings: [{ reading: result.item.reading, location: row.location }],
    rejects: [],
    rawChunks: [],
    byteOffset: row.location.byteOffset,
    byteLength: row.location.byteLength,
    atMs,
    detectors: [],
    sequenced: !isTypedFormat(row.format),
    override: true,
    auditExtra: {
      overrideOf: id,
      actor: context.actor,
      justification: reason,
      overridden,
      dictionary: fingerprint,
    },
    alsoInTransaction: async (tx, committed) => {
      await setOpenItemStatus(tx, id, 'accepted', row.currentViolations, committed.batchId);
      await tx.insertQuarantineAction({
        quarantineId: id,
        action: 'accept',
        outcome: 'accepted',
        actor: context.actor,
        justification: reason,
        violations: row.currentViolations,
        batchId: committed.batchId,
        atMs,
      });
    },
  };
  const batch = await store.transaction(async (tx) => {
    await requireOpenIn(tx, id);
    return commitBatchIn(tx, input, () => hash('sha256', bytes, 'hex'));
  });
  const decision = batch.decisions[0];
  return {
    quarantineId: id,
    batchId: batch.batchId,
    idempotencyKey: result.item.reading.idempotencyKey,
    version: decision?.kind === 'accept' ? decision.version : null,
    outcome: decision?.kind === 'accept' ? 'accepted' : 'duplicate',
    overridden,
  };
}

export interface RejectReport {
  quarantineId: number;
  auditSeq: number;
}

/** Closes an open item for good. Its bytes and reasons stay. */
export async function rejectQuarantined(
  context: ActionContext,
  id: number,
  justification: string,
): Promise<RejectReport> {
  const reason = requireJustification(justification);
  const { store, clock } = context;
  const row = await loadOpen(store, id);
  const atMs = clock.nowMs();
  const auditSeq = await store.transaction(async (tx) => {
    await requireOpenIn(tx, id);
    await setOpenItemStatus(tx, id, 'rejected', row.currentViolations, null);
    await tx.insertQuarantineAction({
      quarantineId: id,
      action: 'reject',
      outcome: 'rejected',
      actor: context.actor,
      justification: reason,
      violations: row.currentViolations,
      batchId: null,
      atMs,
    });
    const entry = nextEntry(
      await tx.auditHead(),
      'quarantine.reject',
      { quarantine: id, actor: context.actor, justification: reason },
      atMs,
    );
    await tx.appendAuditEntry(entry);
    return entry.seq;
  });
  return { quarantineId: id, auditSeq };
}
