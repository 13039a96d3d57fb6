/**
 * The Store contract (ARCH 4). `transaction(fn)` is the only way to write: everything one batch
 * does (ledger rows, quarantine rows, anomaly holds, per-stream state, the batch row with its
 * counts, its audit entry) commits or rolls back together, and a source is acknowledged only after
 * it returns.
 *
 * Every method is batch-shaped (arrays in, arrays out) so that a networked engine pays one round
 * trip per batch, not per reading. Implementations: src/store/sqlite (embedded default) and
 * src/store/postgres (scale-out). All run the conformance suite src/store/store.case.test.ts.
 *
 * What `transaction(fn)` promises, on every engine: transactions that write are serialised (SQLite:
 * BEGIN IMMEDIATE; PostgreSQL: READ COMMITTED under a transaction-scoped advisory lock of the
 * schema), so everything `fn` reads through its StoreTransaction stays true until it commits, as if
 * serializable. `fn` runs exactly once: the store never retries it, and no serialization failure
 * can occur. When `fn` throws, or the engine fails, everything rolls back and the error reaches the
 * caller (engine outages as STORE_UNAVAILABLE); running the batch again is the caller's choice, and
 * the source's redelivery plus idempotency make that safe.
 *
 * Append-only tables (ledger, raw chunks, batches, audit, checkpoints, quarantine actions) reject
 * UPDATE and DELETE in the engine itself. Quarantine rows may change only their status and current
 * reasons.
 */
import type { Commodity, Quality, Reading, RecordLocation, Unit } from './reading.js';
import type { Violation } from './reject.js';
import type { Finding } from './detector.js';

/** One (meter, channel) series. Sequence numbers and high-water marks are tracked per stream. */
export interface StreamRef {
  meterId: string;
  channel: string;
}

export interface IntervalRef extends StreamRef {
  intervalStartMs: number;
}

export interface StreamState extends StreamRef {
  /** Highest interval start the ledger holds for this stream; null when it holds none. */
  lastIntervalStartMs: number | null;
  /** Feed sequence number of the last accepted reading; null before the first. */
  lastSeq: number | null;
  seqGaps: number;
  seqRegressions: number;
  /** Intervals with a current ledger value, and the sum of those current values. */
  currentReadings: number;
  currentValueMicro: number;
  /** Fixed by the stream's first accepted reading: a stream never mixes commodities or units. */
  commodity: Commodity;
  unit: Unit;
}

/**
 * A stream's detector statistics as the store keeps them: opaque blobs, whose layout
 * (src/core/stream-profile.ts) only the detectors read: a head, and numbered parts each kept on its
 * own, so that a batch rewrites only the parts it changed. The store saves them in the batch's
 * transaction beside the stream's state and never looks inside.
 */
export interface StreamStatistics extends StreamRef {
  /** The head's layout version, so that a reader can tell one it does not know. */
  layout: number;
  /** The head: replaced by every save. */
  bytes: Uint8Array;
  /**
   * Parts by number. A load gives the stored parts among the numbers asked for; a save replaces
   * the parts given and leaves the others as stored. Absent: none.
   */
  parts?: ReadonlyMap<number, Uint8Array>;
}

/** A ledger row: an accepted reading, in the batch and at the version it was accepted. */
export interface LedgerRow extends Reading {
  /** 1 for the first value of an interval; each accepted revision adds one. */
  version: number;
  /** Idempotency key of the version this one supersedes; null for version 1. */
  supersedesKey: string | null;
  batchId: number;
  /** 0-based position of the row in its batch: the order of the batch's Merkle leaves. */
  batchPosition: number;
}

export const QUARANTINE_STATUSES = ['open', 'replayed', 'accepted', 'rejected'] as const;
export type QuarantineStatus = (typeof QUARANTINE_STATUSES)[number];

export interface QuarantineInsert {
  deliveryId: string;
  batchId: number;
  /**
   * 0-based position among the batch's quarantine rows: the order of its quarantine Merkle leaves.
   */
  batchPosition: number;
  location: RecordLocation;
  violations: Violation[];
  meterId: string | null;
  idempotencyKey: string | null;
  relatedIdempotencyKey: string | null;
  uncountedSpan: boolean;
  /** sha256 of the record's raw bytes, so the bytes can be proven unchanged. */
  rawSha256: string;
}

export interface QuarantineRow extends QuarantineInsert {
  id: number;
  /** How many times the same bad record (raw bytes and reasons) arrived again while open. */
  repeats: number;
  status: QuarantineStatus;
  createdAtMs: number;
  /** The reasons now: the original ones, or those of the latest failed replay. */
  currentViolations: Violation[];
  format: string;
  resolvedBatchId: number | null;
}

/**
 * A bad record that arrived again while an open item holds the same raw bytes and reasons: recorded
 * on that item instead of opening another. Its delivery still counts it as quarantined.
 */
export interface QuarantineRepeatInsert {
  quarantineId: number;
  deliveryId: string;
  batchId: number;
  /** 0-based position among the batch's repeats: the order of its repeat Merkle leaves. */
  batchPosition: number;
  location: RecordLocation;
  rawSha256: string;
  atMs: number;
}

/**
 * An open item a retransmitted record may repeat: its raw hash and its reasons (original and
 * current) as the JSON text the store keeps, compared as text so the lookup parses nothing.
 */
export interface OpenQuarantineMatch {
  id: number;
  rawSha256: string;
  violationsJson: string;
  currentViolationsJson: string;
  /**
   * Where the item's bytes stand. A typed format's line can hold many readings, each its own item
   * over the same bytes: items of the same span in the same delivery are siblings, not repeats.
   */
  deliveryId: string;
  byteOffset: number;
}

export interface QuarantineActionInsert {
  quarantineId: number;
  action: 'replay' | 'accept' | 'reject';
  outcome: QuarantineStatus;
  actor: string;
  justification: string;
  violations: Violation[];
  batchId: number | null;
  atMs: number;
}

export interface AnomalyInsert {
  reading: Reading;
  batchId: number;
  batchPosition: number;
  /** Each finding's detector, message and, from the reference detectors, its figures. */
  findings: readonly Finding[];
}

/** `held`: in the anomaly ledger awaiting review; the other two are an operator's decision. */
export const ANOMALY_STATUSES = ['held', 'released', 'rejected'] as const;
export type AnomalyStatus = (typeof ANOMALY_STATUSES)[number];

/** An operator's decision on a held reading, written once. */
export interface AnomalyDecision {
  status: Exclude<AnomalyStatus, 'held'>;
  actor: string;
  note: string;
  atMs: number;
  /** The batch that moved the reading into the billing ledger; null for a rejection. */
  resolvedBatchId: number | null;
}

/** A held reading with where it came from and, once decided, the decision. */
export interface AnomalyRow extends AnomalyInsert {
  id: number;
  status: AnomalyStatus;
  /** The delivery and source of the batch that held it, and when that batch committed. */
  deliveryId: string;
  sourceId: string;
  heldAtMs: number;
  decision: AnomalyDecision | null;
}

export interface AnomalyFilter {
  status?: AnomalyStatus;
  meterId?: string;
  /** Holds with at least one finding of this detector. */
  detector?: string;
  /** Interval start at or after, and before, these instants. */
  fromMs?: number;
  toMs?: number;
  afterId?: number;
  limit: number;
}

/** Held readings and their kWh (each reading once), and the same per detector that flagged it. */
export interface AnomalyBacklog {
  held: number;
  /** Held electricity in kWh, in milliwatt-hours; other units are counted, never summed. */
  heldEnergyMilliWh: bigint;
  released: number;
  rejected: number;
  /** A reading flagged by two detectors counts under each. */
  byDetector: { detector: string; held: number; heldEnergyMilliWh: bigint }[];
}

export interface SequenceEvent extends StreamRef {
  kind: 'gap' | 'regression';
  expectedSeq: number;
  receivedSeq: number;
  intervalStartMs: number;
  batchId: number;
}

export interface BatchCounts {
  received: number;
  accepted: number;
  duplicates: number;
  quarantined: number;
  /** Of `quarantined`: same key, different content. */
  conflicts: number;
  anomalyHeld: number;
  deadLettered: number;
  /** Of `accepted`: new versions of intervals the ledger already held. */
  revisions: number;
}

export interface BatchInsert {
  id: number;
  deliveryId: string;
  sourceId: string;
  /**
   * What produced the batch: a delivery's records, or an operator's action (a quarantine replay;
   * an override, which is a quarantine accept, an anomaly release or an estimation run).
   */
  kind: 'ingest' | 'replay' | 'override';
  counts: BatchCounts;
  ledgerRoot: string;
  quarantineRoot: string;
  /** Byte range of the delivery this batch covers (replays: 0, 0). */
  byteOffset: number;
  byteLength: number;
  committedAtMs: number;
  auditSeq: number;
}

export type BatchRow = BatchInsert;

export interface DeliveryInsert {
  id: string;
  sourceId: string;
  name: string;
  format: string;
  formatContext: Readonly<Record<string, unknown>>;
  startedAtMs: number;
  /** The transport's own id for it (Delivery.sourceDeliveryId); absent for an operator's file. */
  transportId?: string | null;
  /** 1 for the first attempt (the transport's redelivery count plus one). */
  attempt?: number;
  /** What the transport said about it (HTTP status and rate-limit headers, file size and mtime). */
  metadata?: Readonly<Record<string, string>>;
  partitionKey?: string | null;
}

/** One source as its deliveries show it: what `status` lists per source. */
export interface SourceSummaryRow {
  sourceId: string;
  /** Deliveries complete, and in progress (running or interrupted). */
  complete: number;
  unfinished: number;
  /** When the last delivery of the source finished; null before the first. */
  lastFinishedAtMs: number | null;
  /** The conservation counts over the source's deliveries. */
  counts: BatchCounts;
  /** When the source last saved its position; null for a source that saves none (files). */
  positionSavedAtMs: number | null;
}

/** Where a source stood after the delivery that reached it committed (Delivery.position). */
export interface SourcePositionRow {
  sourceId: string;
  /** The source's own JSON, as text. */
  position: string;
  deliveryId: string;
  savedAtMs: number;
}

/**
 * The process that holds a delivery while it runs. A delivery still in progress whose owner is
 * gone (same host, no such process, or a process started at another time) was interrupted.
 */
export interface DeliveryOwner {
  host: string;
  pid: number;
  processStartedAtMs: number;
}

/**
 * `running`: in progress and its owner is alive (or on another host, where it cannot be checked);
 * `interrupted`: its process died before it finished, marked by the next writer or seen dead now.
 */
export type DeliveryStatus = 'running' | 'interrupted' | 'complete';

export interface DeliveryRow extends DeliveryInsert {
  status: DeliveryStatus;
  owner: DeliveryOwner | null;
  /** When a later process recorded the interruption (with an audit entry); null until then. */
  interruptedAtMs: number | null;
  /** The interrupted delivery of the same source and name that this one delivers again. */
  redelivers: string | null;
  /** Deliveries that deliver this (interrupted) one again. */
  redeliveredBy: string[];
  sha256: string | null;
  sizeBytes: number | null;
  finishedAtMs: number | null;
  transportId: string | null;
  attempt: number;
  metadata: Readonly<Record<string, string>>;
  partitionKey: string | null;
  /** The position its commit saved for its source (JSON text); null when it saved none. */
  position: string | null;
  /**
   * The earliest earlier complete delivery of the same source with the same transport id or the
   * same bytes (sha256): set when this one delivers it again. Null for a first delivery.
   */
  firstDeliveryId: string | null;
  /** Whether the delivery's records all fell into uncounted spans (an unparseable file). */
  counts: BatchCounts;
}

export interface AuditEntryRow {
  seq: number;
  atMs: number;
  kind: string;
  payload: string;
  prevHash: string;
  hash: string;
}

export interface CheckpointRow {
  auditSeq: number;
  headHash: string;
  atMs: number;
  keyFingerprint: string;
  signature: string;
}

/** A circuit breaker's stored state (src/resilience/breaker.ts owns the snapshot's format). */
export interface BreakerStateRow {
  readonly endpoint: string;
  readonly state: 'closed' | 'open' | 'half-open';
  /** The breaker's snapshot as JSON text. */
  readonly snapshot: string;
  readonly changedAtMs: number;
  /** The audit entry of the transition that wrote it. */
  readonly auditSeq: number | null;
}

export interface StoreTransaction {
  allocateBatchId(): Promise<number>;
  /** Stores raw bytes content-addressed (once per sha256) and maps them into the delivery. */
  putRawChunk(deliveryId: string, byteOffset: number, bytes: Uint8Array): Promise<string>;
  loadStreamStates(streams: readonly StreamRef[]): Promise<StreamState[]>;
  saveStreamStates(states: readonly StreamState[]): Promise<void>;
  /**
   * The detector statistics of these streams, with their stored parts among `parts`; a stream
   * without any is absent from the result.
   */
  loadStreamStatistics(
    streams: readonly StreamRef[],
    parts?: readonly number[],
  ): Promise<StreamStatistics[]>;
  /** Replaces each stream's head and the parts given (one row per stream and per part). */
  saveStreamStatistics(rows: readonly StreamStatistics[]): Promise<void>;
  /** Every ledger version of each given interval (superseded ones too). */
  findIntervalVersions(intervals: readonly IntervalRef[]): Promise<LedgerRow[]>;
  /**
   * The readings the anomaly ledger holds (held, released or rejected) under these idempotency
   * keys, each once: a retransmitted held reading is found here, not in the ledger.
   */
  findHeldReadings(idempotencyKeys: readonly string[]): Promise<Reading[]>;
  insertLedgerRows(rows: readonly LedgerRow[]): Promise<void>;
  insertQuarantineRows(
    rows: readonly QuarantineInsert[],
    format: string,
    atMs: number,
  ): Promise<number[]>;
  insertAnomalies(rows: readonly AnomalyInsert[]): Promise<void>;
  insertSequenceEvents(events: readonly SequenceEvent[]): Promise<void>;
  insertBatch(batch: BatchInsert): Promise<void>;
  /** Adds the batch's counts to its delivery's running totals. */
  addDeliveryCounts(deliveryId: string, counts: BatchCounts): Promise<void>;
  auditHead(): Promise<{ seq: number; hash: string } | null>;
  appendAuditEntry(entry: AuditEntryRow): Promise<void>;
  /** Inserts or replaces the endpoint's breaker state. */
  saveBreakerState(row: BreakerStateRow): Promise<void>;
  insertCheckpoint(checkpoint: CheckpointRow): Promise<void>;
  getQuarantineRow(id: number): Promise<QuarantineRow | null>;
  /**
   * Sets an open item's status (open again after a failed replay, or closed) in one conditional
   * update, and returns whether it did: false when the item is no longer open (another operator's
   * decision committed first) or does not exist. Every decision acts only when this returns true,
   * so two decisions on one item never both succeed.
   */
  setQuarantineStatus(
    id: number,
    status: QuarantineStatus,
    currentViolations: readonly Violation[],
    resolvedBatchId: number | null,
  ): Promise<boolean>;
  insertQuarantineAction(action: QuarantineActionInsert): Promise<void>;
  /** A held reading as this transaction reads it. */
  getAnomalyRow(id: number): Promise<AnomalyRow | null>;
  /**
   * Records the decision on a hold that is still held, in one conditional update, and returns
   * whether it did: false when another decision committed first or the hold does not exist.
   */
  decideAnomaly(id: number, decision: AnomalyDecision): Promise<boolean>;
  /**
   * Open items whose raw sha256 is one of these, read inside the batch's transaction so that the
   * decision to record a repeat acts on the state it read. Called only for quarantined records.
   */
  findOpenQuarantineByRaw(rawSha256s: readonly string[]): Promise<OpenQuarantineMatch[]>;
  insertQuarantineRepeats(rows: readonly QuarantineRepeatInsert[]): Promise<void>;
  /**
   * Deliveries in progress whose owning process is gone and whose interruption is not yet
   * recorded. The engine judges liveness from the owner it stamped at createDelivery.
   */
  findAbandonedDeliveries(): Promise<DeliveryRow[]>;
  /**
   * Deliveries of one source in progress whose interruption is not yet recorded, whoever owns
   * them, alive or not. Asked by the holder of that source's only writer (a partition's lease, in
   * a transaction fenced by it) before it reads: none of them is its own, and none can commit
   * again, since the fence refuses every transaction of an earlier holder (docs/workers.md).
   */
  findUnfinishedDeliveriesOf(sourceId: string): Promise<DeliveryRow[]>;
  /** Records a delivery's interruption, with the audit entry that records it. */
  markDeliveryInterrupted(deliveryId: string, atMs: number, auditSeq: number): Promise<void>;
  /**
   * Marks a delivery complete, in the transaction of its last batch, and links it to the earliest
   * earlier complete delivery of its source with the same transport id or the same sha256.
   */
  finishDelivery(
    deliveryId: string,
    sha256: string,
    sizeBytes: number,
    atMs: number,
  ): Promise<{ firstDeliveryId: string | null }>;
  /** Saves where the delivery's source now stands, in the transaction that commits the delivery. */
  saveSourcePosition(row: SourcePositionRow): Promise<void>;
  /** Records a dead letter (its bytes already put as its delivery's raw chunks); returns its id. */
  insertDeadLetter(row: DeadLetterInsert): Promise<number>;
  /** A dead letter as this transaction reads it. */
  getDeadLetterRow(id: number): Promise<DeadLetterRow | null>;
  /**
   * Records the decision on a dead letter that is still open, in one conditional update, and
   * returns whether it did: false when another decision committed first or it does not exist.
   */
  decideDeadLetter(id: number, decision: DeadLetterDecision): Promise<boolean>;
  /**
   * The latest control of a scope (a source id, or null for the global scope) as this transaction
   * reads it; null when none was ever written. A pause or resume checks it here, in the
   * transaction that writes the next one, so two operators never both pause one scope.
   */
  getControl(sourceId: string | null): Promise<ControlRow | null>;
  /** Appends a control (a pause or a resume of one scope) and returns its id. */
  putControl(control: ControlInsert): Promise<number>;
  /**
   * Records that a breach of one source, local day and target window was alerted; returns false
   * (and writes nothing) when one was recorded already, so that the caller raises it once.
   */
  recordSlaAlert(row: SlaAlertRow): Promise<boolean>;
}

export interface QuarantineFilter {
  status?: QuarantineStatus;
  deliveryId?: string;
  code?: string;
  afterId?: number;
  limit: number;
}

/** Current readings of one commodity and unit, and the exact sum of their values. */
export interface UnitTotal {
  commodity: Commodity;
  unit: Unit;
  readings: number;
  /** Millionths of `unit`. */
  valueMicro: bigint;
}

/** Current readings of one channel name in one commodity and unit, over every meter. */
export interface ChannelTotal extends UnitTotal {
  channel: string;
}

export interface LedgerTotals {
  /** Current (non-superseded) readings. */
  readings: number;
  /** Electricity in kWh, in milliwatt-hours: the energy that is billed. */
  energyMilliWh: bigint;
  /** Every commodity and unit the ledger holds, each summed on its own. */
  byUnit: UnitTotal[];
  /**
   * The same split further by channel name, so that an export channel (NEM12 B1, a Green Button
   * reverse-flow channel, CMEP kWh.received) is seen apart from consumption: the kWh total sums
   * every kWh channel, whatever its direction.
   */
  byChannel: ChannelTotal[];
  versions: number;
  streams: number;
}

/** Current ledger rows in a span of interval starts, of some meters or of all. */
export interface LedgerSpan {
  /** Interval start at or after this instant, and before `toMs`. */
  fromMs: number;
  toMs: number;
  /** Only these meters; every meter when null. */
  meterIds: readonly string[] | null;
}

export interface StoreStatus {
  /** Sums over ingest batches: what the feeds delivered and where each reading went. */
  totals: BatchCounts;
  /** Sums over replay and override batches: what operators moved out of quarantine. */
  operatorTotals: BatchCounts;
  ledger: LedgerTotals;
  quarantine: Record<QuarantineStatus, number>;
  deliveries: { complete: number; running: number; interrupted: number };
  /** Bad records that arrived again while an item with the same bytes and reasons was open. */
  quarantineRepeats: number;
  sequence: { gaps: number; regressions: number; streamsWithGaps: number };
  batches: number;
  auditEntries: number;
  lastCheckpoint: CheckpointRow | null;
  /** Dead letters by status; each counts once in `totals` as received and dead-lettered. */
  deadLetters: Record<DeadLetterStatus, number>;
}

/** A vendor that pushes readings: its API key is kept as a hash only (sha256 of the whole key). */
export interface VendorInsert {
  name: string;
  /** The public part of the key (`amk_<keyId>_<secret>`), by which a request's key is found. */
  keyId: string;
  /** Lowercase hex sha256 of the whole key as the vendor sends it. */
  keySha256: string;
  /** The meters the vendor may push: a list, a pattern, or any meter (exactly one is set). */
  meters: readonly string[] | null;
  meterPattern: string | null;
  anyMeter: boolean;
  createdAtMs: number;
}

export interface VendorRow extends VendorInsert {
  /** When the key was revoked; a revoked vendor's requests are refused as unauthenticated. */
  revokedAtMs: number | null;
}

/** The roles an API token may hold (docs/api.md): what each may do is the API's to decide. */
export const API_ROLES = ['viewer', 'operator', 'auditor', 'admin'] as const;
export type ApiRole = (typeof API_ROLES)[number];

/** An API or dashboard token: kept as a sha256 only, like a vendor's key. */
export interface ApiTokenInsert {
  /** Who acts with it: the name the audit trail records for its calls. */
  name: string;
  role: ApiRole;
  /** The public part of the token (`amt_<tokenId>_<secret>`), by which a request is matched. */
  tokenId: string;
  /** Lowercase hex sha256 of the whole token as it is sent. */
  tokenSha256: string;
  createdAtMs: number;
}

export interface ApiTokenRow extends ApiTokenInsert {
  /** When the token was revoked; a revoked token's requests are refused as unauthenticated. */
  revokedAtMs: number | null;
}

/** Tokens of the HTTP API and dashboard. */
export interface ApiTokenStore {
  /** Throws INVALID_STATE when a token of that name exists (revoked ones too). */
  addApiToken(token: ApiTokenInsert): Promise<void>;
  listApiTokens(): Promise<ApiTokenRow[]>;
  findApiTokenById(tokenId: string): Promise<ApiTokenRow | null>;
  /** Returns false when no token of that name exists or it was revoked already. */
  revokeApiToken(name: string, atMs: number): Promise<boolean>;
}

/** What the push source looks up: vendors and their keys, and a delivery by its transport id. */
export interface VendorStore {
  /** Throws INVALID_STATE when a vendor of that name exists (revoked ones too). */
  addVendor(vendor: VendorInsert): Promise<void>;
  listVendors(): Promise<VendorRow[]>;
  findVendorByKeyId(keyId: string): Promise<VendorRow | null>;
  findVendorByName(name: string): Promise<VendorRow | null>;
  /** Returns false when no vendor of that name exists or it was revoked already. */
  revokeVendor(name: string, atMs: number): Promise<boolean>;
  /** The first complete delivery of the source with this transport id; null when none. */
  findDeliveryByTransportId(sourceId: string, transportId: string): Promise<DeliveryRow | null>;
}

export interface Store extends VendorStore, ApiTokenStore {
  readonly engine: string;
  transaction<T>(fn: (tx: StoreTransaction) => Promise<T>): Promise<T>;
  /**
   * Optional: from now until `close()`, the engine may do its own upkeep on another thread (SQLite:
   * WAL checkpoints), leaving the calling thread to commit. A parallel pipeline asks for it, one
   * thread does not. Calling it again does nothing.
   */
  upkeepInBackground?(): void;
  /** Every stored circuit breaker state, by endpoint. */
  listBreakerStates(): Promise<BreakerStateRow[]>;

  // Deliveries and raw bytes. Raw chunks are evidence, content-addressed and written idempotently;
  // they may be committed ahead of the batch that refers to them.
  /**
   * Creates a delivery owned by this process. In the same transaction it links the delivery to the
   * latest interrupted delivery of the same source and name that nothing redelivered yet.
   */
  createDelivery(delivery: DeliveryInsert): Promise<void>;
  putRawChunk(deliveryId: string, byteOffset: number, bytes: Uint8Array): Promise<string>;
  finishDelivery(
    deliveryId: string,
    sha256: string,
    sizeBytes: number,
    atMs: number,
  ): Promise<void>;
  getDelivery(id: string): Promise<DeliveryRow | null>;
  /** The position the source's last committed delivery saved; null before the first. */
  loadSourcePosition(sourceId: string): Promise<SourcePositionRow | null>;
  /** Every source that has delivered, by id. */
  listSourceSummaries(): Promise<SourceSummaryRow[]>;
  listDeliveries(limit: number): Promise<DeliveryRow[]>;
  /** Bytes [byteOffset, byteOffset + byteLength) of a delivery, from its raw chunks. */
  readDeliveryBytes(
    deliveryId: string,
    byteOffset: number,
    byteLength: number,
  ): Promise<Uint8Array>;
  /**
   * How many of a delivery's bytes, from its first, the raw store holds: its size once complete;
   * for one cut short, the bytes of its committed batches (and of any long record stored ahead).
   */
  storedDeliveryBytes(deliveryId: string): Promise<number>;

  status(): Promise<StoreStatus>;
  listQuarantine(filter: QuarantineFilter): Promise<QuarantineRow[]>;
  getQuarantine(id: number): Promise<QuarantineRow | null>;
  listQuarantineActions(quarantineId: number): Promise<QuarantineActionInsert[]>;
  listSequenceEvents(limit: number): Promise<SequenceEvent[]>;
  /** Held and decided readings in id order, filtered; the anomaly ledger's worklist. */
  listAnomalies(filter: AnomalyFilter): Promise<AnomalyRow[]>;
  getAnomaly(id: number): Promise<AnomalyRow | null>;
  /** Dead letters in id order, filtered; the dead-letter queue's worklist. */
  listDeadLetters(filter: DeadLetterFilter): Promise<DeadLetterRow[]>;
  getDeadLetter(id: number): Promise<DeadLetterRow | null>;
  anomalyBacklog(): Promise<AnomalyBacklog>;
  /** The anomaly ledger and estimates of one period, summed for `report discrepancies`. */
  discrepancyFigures(query: DiscrepancyQuery): Promise<DiscrepancyFigures>;
  /**
   * Current ledger values of one stream at the interval starts fromMs, fromMs + intervalMs, ...
   * before toMs, oldest first, at most `limit`: the series a report charts around a meter's
   * flagged readings and a meter page shows; a value off the grid is not returned. Engines read it
   * as one range of an index by (meter, channel, interval start), so its cost does not grow with
   * the number of other meters in the window.
   */
  streamSeries(query: StreamSeriesQuery): Promise<SeriesPoint[]>;
  /**
   * When each interval of the window first reached the ledger from each source: one row per
   * (source, meter, channel, interval start) whose interval starts in [fromMs, toMs), with the
   * commit time of the earliest batch of that source that wrote any version of it, in (interval
   * start, meter, channel, source) order. What `report sla` measures timeliness by.
   */
  iterateArrivals(query: ArrivalQuery): AsyncIterable<ArrivalRow[]>;
  /** SLA breaches alerted so far (the record that keeps one alert per source, day and target). */
  listSlaAlerts(sourceIds: readonly string[]): Promise<SlaAlertRow[]>;

  /**
   * Current ledger rows (the highest version of each interval), in (interval start, meter, channel)
   * order.
   */
  iterateCurrentLedger(): AsyncIterable<LedgerRow[]>;
  /**
   * Every ledger row of every version, in batch order then batch position: what the audit covers.
   */
  iterateLedgerByBatch(): AsyncIterable<LedgerRow[]>;
  findLedgerRowsByKey(idempotencyKey: string): Promise<LedgerRow[]>;
  /**
   * Current readings and their energy, computed from the ledger rows themselves (slow; for verify).
   */
  recomputeLedgerTotals(): Promise<{ readings: number; byUnit: UnitTotal[] }>;
  /**
   * Current ledger rows (the highest version of each interval) whose interval starts in the span,
   * in (interval start, meter, channel) order: what gap listing and estimation read.
   */
  iterateCurrentLedgerSpan(span: LedgerSpan): AsyncIterable<LedgerRow[]>;
  ledgerRowsOfBatch(batchId: number): Promise<LedgerRow[]>;
  quarantineRowsOfBatch(batchId: number): Promise<QuarantineRow[]>;
  /** The batch's repeats in batch-position order: the order of its repeat Merkle leaves. */
  quarantineRepeatsOfBatch(batchId: number): Promise<QuarantineRepeatInsert[]>;
  /** Every repeat of one item, oldest first. */
  quarantineRepeatsOf(quarantineId: number): Promise<QuarantineRepeatInsert[]>;
  /** The batch's anomaly holds in batch-position order: the order of its anomaly Merkle leaves. */
  anomalyRowsOfBatch(batchId: number): Promise<AnomalyInsert[]>;
  iterateBatches(): AsyncIterable<BatchRow[]>;
  getBatch(id: number): Promise<BatchRow | null>;

  iterateAuditEntries(): AsyncIterable<AuditEntryRow[]>;
  getAuditEntry(seq: number): Promise<AuditEntryRow | null>;
  latestAuditEntryOfKind(kind: string): Promise<AuditEntryRow | null>;
  /** Signed checkpoints, oldest first: all of them, or only the newest `newest`. */
  listCheckpoints(newest?: number): Promise<CheckpointRow[]>;

  close(): Promise<void>;

  /** The latest control of every scope that has one (paused or not), global first, then by id. */
  listControls(): Promise<ControlRow[]>;
  /** Every control ever written, oldest first: the pause history that `audit verify` checks. */
  listControlHistory(): Promise<ControlRow[]>;

  /**
   * The meter's streams (one per channel), from their stored state, with each stream's interval
   * length and first interval read from the ledger; in channel order, empty for an unknown meter.
   */
  listMeterStreams(meterId: string): Promise<MeterStreamRow[]>;
  /**
   * Current ledger rows (the highest version of each interval) of one meter, of one channel or
   * of all, whose interval starts in [fromMs, toMs) and come after the cursor, in (interval
   * start, channel) order, at most `limit`: one range of the ledger's meter-first index, then
   * each returned row and its delivery (by its batch).
   */
  listLedgerRange(query: LedgerRangeQuery): Promise<LedgerRangeRow[]>;
  /** Every version of one interval, newest first, each with the delivery that brought it. */
  listIntervalVersions(interval: IntervalRef): Promise<LedgerRangeRow[]>;
  /** Quarantine items that name the meter, newest first, at most `limit`. */
  listQuarantineOfMeter(meterId: string, limit: number): Promise<QuarantineRow[]>;
  /**
   * Deliveries newest first (by the order they were created), of one source or of all, before
   * the cursor, at most `limit`; each with the position the next page continues before.
   */
  listDeliveryPage(filter: DeliveryPageFilter): Promise<DeliveryPageRow[]>;
  /**
   * The overview's worklist counts, each as `status()` gives it, read without the rest of the
   * status (ledger and conservation totals): one count by index per worklist.
   */
  worklistCounts(): Promise<WorklistCounts>;
}

/** Open quarantine items, held readings, open dead letters and audit entries: the worklists. */
export interface WorklistCounts {
  quarantineOpen: number;
  anomaliesHeld: number;
  deadLettersOpen: number;
  auditEntries: number;
}

export type { Quality };

/**
 * What a discrepancy report covers: holds and ledger readings whose interval starts in
 * [fromMs, toMs), of the given sources (every source when the list is empty).
 */
export interface DiscrepancyQuery {
  fromMs: number;
  toMs: number;
  /** Sources whose batches held or wrote the readings; empty for every source. */
  sourceIds: readonly string[];
  /** The moment open holds are aged against (the injected clock's now). */
  nowMs: number;
  /** How many meters `topMeters` lists at most. */
  topMetersMax: number;
}

/** Holds of one status: how many, and their kWh (electricity in kWh only, milliwatt-hours). */
export interface HoldTotal {
  items: number;
  energyMilliWh: bigint;
}

/** The holds one detector flagged, by status; a reading flagged by two detectors counts twice. */
export interface DetectorFigures {
  detector: string;
  held: HoldTotal;
  released: HoldTotal;
  rejected: HoldTotal;
}

/** Open holds of one age in whole days since the batch that held them committed. */
export interface OpenAgeRow {
  ageDays: number;
  items: number;
  energyMilliWh: bigint;
}

/** One meter's holds in the period; `atStakeMilliWh` sums the absolute kWh of its open holds. */
export interface MeterFigures {
  meterId: string;
  held: HoldTotal;
  released: HoldTotal;
  rejected: HoldTotal;
  atStakeMilliWh: bigint;
}

export interface DiscrepancyFigures {
  /** Each held reading once, by its status now. */
  byStatus: Record<AnomalyStatus, HoldTotal>;
  byDetector: DetectorFigures[];
  /** Current ledger readings with quality `estimated`: how many, and their kWh. */
  estimated: HoldTotal;
  metersWithOpen: number;
  /** Open holds grouped by whole days of age (0 = held less than a day ago), youngest first. */
  openByAgeDays: OpenAgeRow[];
  /**
   * Meters with open holds, most kWh at stake first (then most open holds, then meter id), at
   * most `topMetersMax`.
   */
  topMeters: MeterFigures[];
}

/** The ledger window `iterateArrivals` reads: interval starts in [fromMs, toMs). */
export interface ArrivalQuery {
  fromMs: number;
  toMs: number;
  /** Sources whose batches wrote the readings; empty for every source. */
  sourceIds: readonly string[];
}

/** The first arrival of one interval of one stream from one source. */
export interface ArrivalRow extends StreamRef {
  sourceId: string;
  intervalStartMs: number;
  intervalSeconds: number;
  /** Commit time of the earliest batch of this source that wrote a version of the interval. */
  firstCommittedAtMs: number;
}

/** One alerted SLA breach: a source's local day (`YYYY-MM-DD`) missed one target. */
export interface SlaAlertRow {
  sourceId: string;
  day: string;
  withinMs: number;
  /** The target share in thousandths of a percent (99.5% is 99500). */
  shareMilliPercent: number;
  expected: number;
  receivedWithin: number;
  alertedAtMs: number;
}

export interface StreamSeriesQuery extends StreamRef {
  fromMs: number;
  toMs: number;
  /** The stream's interval length: the grid's step. */
  intervalMs: number;
  limit: number;
}

/** One current ledger value of a stream. */
export interface SeriesPoint {
  intervalStartMs: number;
  valueMicro: number;
  quality: Quality;
}

/** `open`: awaiting an operator; `replayed` or `discarded`: an operator's audited decision. */
export const DEAD_LETTER_STATUSES = ['open', 'replayed', 'discarded'] as const;
export type DeadLetterStatus = (typeof DEAD_LETTER_STATUSES)[number];

/** One attempt's error and timing, as the dead letter keeps it. */
export interface DeadLetterAttempt {
  code: string;
  message: string;
  startedAtMs: number;
  durationMs: number;
}

/**
 * A delivery (or a page request) that could not be processed after its attempts. Written once:
 * only its status and decision change, once.
 */
export interface DeadLetterInsert {
  sourceId: string;
  /** The store's delivery that records it (its raw chunks hold the bytes that were fetched). */
  deliveryId: string;
  /** The transport's id for the delivery or request; null when it gave none. */
  transportId: string | null;
  name: string;
  format: string;
  formatContext: Readonly<Record<string, unknown>>;
  /** sha256 and size of the bytes fetched; null when none were (a page request that failed). */
  rawSha256: string | null;
  sizeBytes: number | null;
  /** Whether every byte of the delivery was read before it failed (only then is it replayable). */
  bytesComplete: boolean;
  /** What was asked for, as the source describes it; null when the bytes say it all. */
  request: Readonly<Record<string, unknown>> | null;
  attempts: DeadLetterAttempt[];
  /** Why it was dead-lettered: `attempts-exhausted` or `non-retryable`. */
  cause: string;
  createdAtMs: number;
  /** The `deadletter.recorded` entry that records it. */
  auditSeq: number;
}

/** An operator's decision on a dead letter, written once with its audit entry. */
export interface DeadLetterDecision {
  status: Exclude<DeadLetterStatus, 'open'>;
  actor: string;
  justification: string;
  atMs: number;
  /** The delivery its replay ingested; null for a discard. */
  resolvedDeliveryId: string | null;
  auditSeq: number;
}

export interface DeadLetterRow extends DeadLetterInsert {
  id: number;
  status: DeadLetterStatus;
  decision: DeadLetterDecision | null;
}

export interface DeadLetterFilter {
  status?: DeadLetterStatus;
  sourceId?: string;
  afterId?: number;
  limit: number;
}

/**
 * An operator's emergency control of one scope: a pause or a resume, global (`sourceId` null) or
 * of one source. Controls are append-only; the latest of a scope is in force.
 */
export interface ControlInsert {
  sourceId: string | null;
  paused: boolean;
  reason: string;
  actor: string;
  atMs: number;
  /** The `control.pause` or `control.resume` audit entry written in the same transaction. */
  auditSeq: number;
}

export interface ControlRow extends ControlInsert {
  id: number;
}

/** One stream of a meter, as the meter page shows it. */
export interface MeterStreamRow extends StreamState {
  /** The interval length of its latest reading; null when the ledger holds none. */
  intervalSeconds: number | null;
  /** The earliest interval start the ledger holds for it; null when it holds none. */
  firstIntervalStartMs: number | null;
}

/** Where a page of one meter's ledger rows continues: after this interval start and channel. */
export interface LedgerCursor {
  intervalStartMs: number;
  channel: string;
}

export interface LedgerRangeQuery {
  meterId: string;
  /** One channel; every channel of the meter when absent. */
  channel?: string;
  fromMs: number;
  toMs: number;
  after?: LedgerCursor;
  limit: number;
}

/**
 * A ledger row with the delivery, source and commit time of the batch that wrote it; null only in
 * a ledger filled without batches (a benchmark's SQL shortcut).
 */
export interface LedgerRangeRow extends LedgerRow {
  deliveryId: string | null;
  sourceId: string | null;
  committedAtMs: number | null;
}

export interface DeliveryPageFilter {
  sourceId?: string;
  /** A `position` of an earlier page's last row: deliveries created before it. */
  before?: number;
  limit: number;
}

export interface DeliveryPageRow {
  /** The delivery's place in creation order, the cursor of the page after it. */
  position: number;
  delivery: DeliveryRow;
}
