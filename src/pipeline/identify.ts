/**
 * Identity (ARCH 2.3, 2.4): decides, for each validated reading of a batch, whether it is new, an
 * exact retransmission, a conflict (same key, other content), an accepted revision (an actual
 * replacing a non-actual) or a revision held for an operator. Pure: the caller supplies the
 * streams' state and every existing ledger version of the intervals that could collide, and gets
 * back decisions and new state.
 */
import type { Reading } from '../core/reading.js';
import { formatValueMicro } from '../core/decimal.js';
import { violation, type Reject, type Violation } from '../core/reject.js';
import type {
  IntervalRef,
  LedgerRow,
  SequenceEvent,
  StreamRef,
  StreamState,
} from '../core/store.js';
import type { RecordLocation } from '../core/reading.js';
import type { Detectors, DetectorSuite, Finding } from '../core/detector.js';
import { StreamProfile, type StoredProfile } from '../core/stream-profile.js';
import { asSuite, streamDetection, StreamInspector } from '../detect/detect.js';

export interface IdentifiedReading {
  reading: Reading;
  location: RecordLocation;
}

export type Decision =
  | { kind: 'accept'; version: number; supersedes: LedgerRow | Pending | null }
  | { kind: 'duplicate'; of: string }
  | { kind: 'anomaly'; findings: readonly Finding[] }
  | { kind: 'hold'; reject: Reject };

/** The common decision, shared rather than allocated per reading. */
const ACCEPT_FIRST_VERSION: Decision = Object.freeze({
  kind: 'accept',
  version: 1,
  supersedes: null,
});

/** A version accepted earlier in the same batch, not yet in the ledger. */
export interface Pending {
  reading: Reading;
  version: number;
}

type Version = LedgerRow | Pending;

export function streamKey(ref: StreamRef): string {
  return `${ref.meterId}|${ref.channel}`;
}

/**
 * Stream keys of one batch, each built once: a batch holds many readings of the same streams, and
 * building the key string per reading left a million short-lived strings per million readings.
 */
export class StreamKeys {
  readonly #byMeter = new Map<string, Map<string, string>>();

  of(ref: StreamRef): string {
    let byChannel = this.#byMeter.get(ref.meterId);
    if (byChannel === undefined) {
      byChannel = new Map();
      this.#byMeter.set(ref.meterId, byChannel);
    }
    let key = byChannel.get(ref.channel);
    if (key === undefined) {
      key = streamKey(ref);
      byChannel.set(ref.channel, key);
    }
    return key;
  }
}

export function intervalKey(ref: IntervalRef): string {
  return `${ref.intervalStartMs}|${ref.meterId}|${ref.channel}`;
}

/** A stream before its first reading: it takes that reading's commodity and unit. */
export function freshStreamState(reading: Reading): StreamState {
  return {
    meterId: reading.meterId,
    channel: reading.channel,
    commodity: reading.commodity,
    unit: reading.unit,
    lastIntervalStartMs: null,
    lastSeq: null,
    seqGaps: 0,
    seqRegressions: 0,
    currentReadings: 0,
    currentValueMicro: 0,
  };
}

/**
 * Readings that might collide with the ledger: those at or before their stream's high-water mark.
 * Readings past it cannot, which keeps the common in-order case free of lookups.
 */
export function intervalsToLookUp(
  readings: readonly Reading[],
  states: ReadonlyMap<string, StreamState>,
  streamKeys: readonly string[] = readings.map(streamKey),
): IntervalRef[] {
  const wanted = new Map<string, IntervalRef>();
  for (let index = 0; index < readings.length; index++) {
    const reading = readings[index] as Reading;
    const state = states.get(streamKeys[index] as string);
    const highWaterMs = state?.lastIntervalStartMs ?? null;
    if (highWaterMs !== null && reading.intervalStartMs <= highWaterMs) {
      wanted.set(intervalKey(reading), {
        meterId: reading.meterId,
        channel: reading.channel,
        intervalStartMs: reading.intervalStartMs,
      });
    }
  }
  return [...wanted.values()];
}

function versionReading(version: Version): Reading {
  return 'reading' in version ? version.reading : version;
}

function sameContent(a: Reading, b: Reading): boolean {
  return (
    a.valueMicro === b.valueMicro &&
    a.statusCode === b.statusCode &&
    a.quality === b.quality &&
    a.intervalSeconds === b.intervalSeconds &&
    a.unit === b.unit &&
    a.qualityDetail === b.qualityDetail
  );
}

function describeContent(reading: Reading): string {
  const detail = reading.qualityDetail === null ? '' : ` (${reading.qualityDetail})`;
  return (
    `${formatValueMicro(reading.valueMicro)} ${reading.unit}, status ${reading.statusCode}, ` +
    `${reading.quality}${detail}, ${reading.intervalSeconds} s`
  );
}

/** A reading of another commodity or unit than its stream has carried so far. */
function unitChangedHold(item: IdentifiedReading, state: StreamState): Decision {
  const reading = item.reading;
  const message =
    `meter ${reading.meterId} channel ${reading.channel} has carried ${state.commodity} in ` +
    `${state.unit}; a ${reading.commodity} reading in ${reading.unit} on the same channel is held ` +
    'for an operator (a channel never mixes units, so its totals stay meaningful)';
  const reject: Reject = {
    violations: [violation('identity.unit_changed', 'unit', reading.unit, message)],
    location: item.location,
    meterId: reading.meterId,
    relatedIdempotencyKey: null,
    idempotencyKey: reading.idempotencyKey,
    uncountedSpan: false,
  };
  return { kind: 'hold', reject };
}

function holdReject(
  item: IdentifiedReading,
  code: Violation['code'],
  related: Reading,
  message: string,
) {
  const reject: Reject = {
    violations: [violation(code, 'record', describeContent(item.reading), message)],
    location: item.location,
    meterId: item.reading.meterId,
    relatedIdempotencyKey: related.idempotencyKey,
    idempotencyKey: item.reading.idempotencyKey,
    uncountedSpan: false,
  };
  return reject;
}

/**
 * Decides one reading against the versions its interval already has (ledger and earlier in the
 * batch).
 */
export function decide(
  item: IdentifiedReading,
  versions: readonly Version[],
  override = false,
): Decision {
  const reading = item.reading;
  if (versions.length === 0) return ACCEPT_FIRST_VERSION;
  if (override) return decideOverride(reading, versions);
  const sameKey = versions.find((v) => versionReading(v).idempotencyKey === reading.idempotencyKey);
  if (sameKey !== undefined) {
    const existing = versionReading(sameKey);
    if (sameContent(existing, reading)) return { kind: 'duplicate', of: existing.idempotencyKey };
    const message =
      `key ${reading.idempotencyKey.slice(0, 12)}... already in the ledger with different content ` +
      `(${describeContent(existing)}); the ledger keeps the first value until an operator decides`;
    return { kind: 'hold', reject: holdReject(item, 'identity.conflict', existing, message) };
  }
  const equal = versions.find((v) => sameContent(versionReading(v), reading));
  if (equal !== undefined) return { kind: 'duplicate', of: versionReading(equal).idempotencyKey };
  const current = versions[versions.length - 1] as Version;
  const currentReading = versionReading(current);
  if (reading.quality === 'actual' && currentReading.quality !== 'actual') {
    return { kind: 'accept', version: current.version + 1, supersedes: current };
  }
  const message =
    `interval already holds ${currentReading.quality} ${describeContent(currentReading)}; ` +
    `a ${reading.quality} value replacing it needs an operator (only an actual replaces an estimate)`;
  return {
    kind: 'hold',
    reject: holdReject(item, 'identity.revision_held', currentReading, message),
  };
}

/**
 * A reading whose key the anomaly ledger already holds: the same content is a duplicate of the
 * hold (a retransmission adds nothing, and a held reading reaches the ledger only by release);
 * other content under the same key is a conflict, held like one against the ledger. Null when the
 * key is not held.
 */
function decideAgainstHold(item: IdentifiedReading, heldReading: Reading | undefined) {
  if (heldReading === undefined) return null;
  const reading = item.reading;
  if (sameContent(heldReading, reading)) {
    return { kind: 'duplicate', of: heldReading.idempotencyKey } satisfies Decision;
  }
  const message =
    `key ${reading.idempotencyKey.slice(0, 12)}... is already held as an anomaly with different ` +
    `content (${describeContent(heldReading)}); the hold keeps the first value until an ` +
    `operator decides`;
  return {
    kind: 'hold',
    reject: holdReject(item, 'identity.conflict', heldReading, message),
  } satisfies Decision;
}

/** An operator's override: the reading becomes the current version unless it already is. */
function decideOverride(reading: Reading, versions: readonly Version[]): Decision {
  const current = versions[versions.length - 1] as Version;
  const currentReading = versionReading(current);
  if (
    currentReading.idempotencyKey === reading.idempotencyKey &&
    sameContent(currentReading, reading)
  ) {
    return { kind: 'duplicate', of: currentReading.idempotencyKey };
  }
  return { kind: 'accept', version: current.version + 1, supersedes: current };
}

export interface IdentifyResult {
  decisions: Decision[];
  states: Map<string, StreamState>;
  /** The detector statistics of every stream that learnt from the batch, to be saved with it. */
  profiles: Map<string, StreamProfile>;
  sequenceEvents: Omit<SequenceEvent, 'batchId'>[];
}

/** Tracks the feed's sequence number per stream: gaps and regressions are recorded, never fatal. */
function trackSequence(
  state: StreamState,
  reading: Reading,
  events: IdentifyResult['sequenceEvents'],
) {
  if (reading.seq === 0) return;
  if (state.lastSeq !== null) {
    const expectedSeq = state.lastSeq + 1;
    const base = { meterId: state.meterId, channel: state.channel, expectedSeq };
    const at = { receivedSeq: reading.seq, intervalStartMs: reading.intervalStartMs };
    if (reading.seq < expectedSeq) {
      state.seqRegressions += 1;
      events.push({ ...base, ...at, kind: 'regression' });
    } else if (reading.seq > expectedSeq) {
      state.seqGaps += 1;
      events.push({ ...base, ...at, kind: 'gap' });
    }
  }
  state.lastSeq = Math.max(state.lastSeq ?? 0, reading.seq);
}

function applyAccept(state: StreamState, reading: Reading, supersedes: Version | null): void {
  if (supersedes === null) {
    state.currentReadings += 1;
    state.currentValueMicro += reading.valueMicro;
  } else {
    state.currentValueMicro += reading.valueMicro - versionReading(supersedes).valueMicro;
  }
  if (state.lastIntervalStartMs === null || reading.intervalStartMs > state.lastIntervalStartMs) {
    state.lastIntervalStartMs = reading.intervalStartMs;
  }
}

/**
 * The versions an interval already has, from the ledger (the rows looked up) and from earlier
 * readings of the same batch. Built only when a reading falls at or before its stream's high-water
 * mark, which in an in-order feed is rare, so the common path allocates nothing per reading.
 */
class IntervalIndex {
  readonly #existing: readonly LedgerRow[];
  /** Readings accepted so far in the batch and their versions, apart: no object per reading. */
  readonly #acceptedReadings: Reading[] = [];
  readonly #acceptedVersions: number[] = [];
  #byInterval: Map<string, Version[]> | null = null;

  constructor(existing: readonly LedgerRow[]) {
    this.#existing = existing;
  }

  versions(ref: IntervalRef): readonly Version[] {
    if (this.#byInterval === null) {
      this.#byInterval = new Map();
      for (const row of this.#existing) this.#insert(row, row);
      for (let index = 0; index < this.#acceptedReadings.length; index++) {
        const reading = this.#acceptedReadings[index] as Reading;
        this.#insert(reading, { reading, version: this.#acceptedVersions[index] as number });
      }
    }
    return this.#byInterval.get(intervalKey(ref)) ?? NO_VERSIONS;
  }

  add(reading: Reading, version: number): void {
    if (this.#byInterval !== null) this.#insert(reading, { reading, version });
    else {
      this.#acceptedReadings.push(reading);
      this.#acceptedVersions.push(version);
    }
  }

  #insert(ref: IntervalRef, version: Version): void {
    const map = this.#byInterval as Map<string, Version[]>;
    const key = intervalKey(ref);
    const list = map.get(key);
    if (list === undefined) map.set(key, [version]);
    else list.push(version);
  }
}

const NO_VERSIONS: readonly Version[] = Object.freeze([]);

/**
 * One stream's detection in a batch: its settings and detectors, resolved once, and its profile,
 * decoded (a copy) from the loaded bytes on first use, so that what was loaded is never changed.
 */
class BatchDetection {
  readonly #suite: DetectorSuite;
  readonly #loaded: ReadonlyMap<string, StoredProfile>;
  readonly #streams = new Map<string, StreamInspector>();

  constructor(suite: DetectorSuite, loaded: ReadonlyMap<string, StoredProfile>) {
    this.#suite = suite;
    this.#loaded = loaded;
  }

  /** The reading's stream, ready to inspect it and then learn or note it. */
  streamOf(reading: Reading, streamKey: string, state: StreamState): StreamInspector {
    let stream = this.#streams.get(streamKey);
    if (stream === undefined) {
      const stored = this.#loaded.get(streamKey);
      const profile =
        stored === undefined ? StreamProfile.empty() : StreamProfile.fromStored(stored);
      const detection = streamDetection(this.#suite, reading);
      stream = new StreamInspector(this.#suite, detection, profile, state);
      this.#streams.set(streamKey, stream);
    }
    return stream;
  }

  /**
   * The profiles that learnt something: only those are saved, so a batch of duplicates or held
   * readings (a redelivered file) rewrites no statistics.
   */
  learntProfiles(): Map<string, StreamProfile> {
    const profiles = new Map<string, StreamProfile>();
    for (const [key, stream] of this.#streams)
      if (stream.changed) profiles.set(key, stream.profile);
    return profiles;
  }
}

/**
 * Decides a batch in order. `existing` holds the ledger versions of every interval
 * intervalsToLookUp named, sorted by version. States are copied, never mutated in place.
 * `sequenced` is false for feeds whose seq is a version stamp shared by many readings (a NEM12
 * UpdateDateTime), not a number per reading: their gaps and regressions would mean nothing.
 */
export function identifyBatch(
  items: readonly IdentifiedReading[],
  loadedStates: ReadonlyMap<string, StreamState>,
  existing: readonly LedgerRow[],
  detectors: Detectors = [],
  override = false,
  streamKeys: readonly string[] = items.map((item) => streamKey(item.reading)),
  sequenced = true,
  loadedProfiles: ReadonlyMap<string, StoredProfile> = new Map(),
  heldReadings: readonly Reading[] = [],
): IdentifyResult {
  const suite = asSuite(detectors);
  const detection = suite === null ? null : new BatchDetection(suite, loadedProfiles);
  const states = new Map<string, StreamState>();
  for (const [key, state] of loadedStates) states.set(key, { ...state });
  const index = new IntervalIndex(existing);
  // Readings the anomaly ledger holds, by key, with those this batch holds added as it goes: a
  // retransmission of a held reading is a duplicate of the hold, never a first value to bill.
  const held = new Map<string, Reading>();
  for (const reading of heldReadings) held.set(reading.idempotencyKey, reading);
  const decisions: Decision[] = [];
  const sequenceEvents: IdentifyResult['sequenceEvents'] = [];
  for (let position = 0; position < items.length; position++) {
    const item = items[position] as IdentifiedReading;
    const reading = item.reading;
    const sKey = streamKeys[position] as string;
    let state = states.get(sKey);
    if (state === undefined) {
      state = freshStreamState(reading);
      states.set(sKey, state);
    }
    if (state.unit !== reading.unit || state.commodity !== reading.commodity) {
      decisions.push(unitChangedHold(item, state));
      continue;
    }
    const highWaterMs = state.lastIntervalStartMs;
    const mayCollide = highWaterMs !== null && reading.intervalStartMs <= highWaterMs;
    let decision = decide(item, mayCollide ? index.versions(reading) : NO_VERSIONS, override);
    if (decision.kind === 'accept' && !override && held.size > 0) {
      decision = decideAgainstHold(item, held.get(reading.idempotencyKey)) ?? decision;
    }
    if (decision.kind === 'accept' && detection !== null) {
      const stream = detection.streamOf(reading, sKey, state);
      const findings = stream.inspect(reading, state);
      if (findings.length > 0) {
        decision = { kind: 'anomaly', findings };
        held.set(reading.idempotencyKey, reading);
        if (stream.updates) stream.noteHeld();
      } else if (stream.updates) stream.learn();
    }
    decisions.push(decision);
    if (decision.kind !== 'accept') continue;
    index.add(reading, decision.version);
    if (sequenced) trackSequence(state, reading, sequenceEvents);
    applyAccept(state, reading, decision.supersedes);
  }
  return { decisions, states, sequenceEvents, profiles: detection?.learntProfiles() ?? new Map() };
}
