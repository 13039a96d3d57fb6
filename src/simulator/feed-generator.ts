/**
 * A realistic AMI interval feed in the reference feed's field names, with an oracle of what a
 * correct ingestion must end with. Used by the demo, the benchmark and tests.
 *
 * Output is a pure function of the options: every random choice comes from seeded mulberry32
 * generators, one for meter values and one for injected faults, so turning faults on leaves the
 * true interval values of a seed unchanged. The oracle is computed here from the generator's own
 * choices, never by running pipeline code, so it can catch a pipeline that miscounts.
 *
 * Delivery order: every meter's interval i, then the follow-ups that fall due at that point
 * (actuals replacing estimates, retransmissions, conflicts, bad records, each
 * 1..FOLLOW_UP_DELAY_INTERVALS_MAX intervals after the record they follow up), then interval
 * i + 1, and so on; follow-ups still due after the last interval are flushed at the end in the
 * order they fell due.
 */
import assert from 'node:assert/strict';
import { hash } from 'node:crypto';

import { formatUtcSeconds } from '../core/identity.js';

export interface FeedOptions {
  seed: number;
  /** Meter ids are `MTR-` + 8 chars [A-Z0-9], derived from seed and index, unique. */
  meters: number;
  /** First interval start (UTC epoch ms), a multiple of the interval length. */
  startMs: number;
  /** Intervals per meter. */
  intervals: number;
  /** Default 900. When given, every record carries `interval_seconds`. */
  intervalSeconds?: number;
  /** When given, every record carries `channel`; otherwise the field is omitted (channel "1"). */
  channel?: string;
  /** Fraction of readings first sent as estimates (status 1), later corrected by an actual. */
  estimateRate?: number;
  /** Fraction of readings sent again verbatim later in the feed (exact duplicates). */
  retransmitRate?: number;
  /** Fraction of non-estimate readings sent again with the same seq and another consumption. */
  conflictRate?: number;
  /** Fraction (of readings) of extra invalid records injected. */
  badRate?: number;
  /** Fraction of new records carrying a correct checksum_sha256. */
  checksumRate?: number;
}

/**
 * One record under the reference feed's field names: meter_id, timestamp_utc, consumption_kwh,
 * status_code, seq, [channel], [interval_seconds], [checksum_sha256]. Bad records may carry other
 * values, miss a field or add `foo`.
 */
export type FeedRecord = Record<string, unknown>;

/** What a correct ingestion of the whole feed (with the default data dictionary) must end with. */
export interface FeedExpectation {
  /** Intervals with a billable value: meters x intervals. */
  currentReadings: number;
  /** Exact sum of the current values (actuals replace estimates). */
  energyMilliWh: bigint;
  /** Exact retransmissions. */
  duplicates: number;
  /** Records with the key of an earlier non-estimate record but another consumption. */
  conflicts: number;
  /** Injected bad records (in CSV, the `foo` record is a column-count reject instead). */
  invalid: number;
  /** Actuals that replace an estimate. */
  revisions: number;
  /** records.length */
  received: number;
  /** The feed's one channel ("1" unless FeedOptions.channel). */
  channel: string;
  /** Per meter (on that channel): its current readings and their exact energy. */
  streams: Map<string, StreamExpectation>;
}

/** What one meter's channel must end with in the ledger. */
export interface StreamExpectation {
  readings: number;
  energyMilliWh: bigint;
}

export interface GeneratedFeed {
  records: FeedRecord[];
  expected: FeedExpectation;
}

export const DEFAULT_INTERVAL_SECONDS = 900;
/** Follow-ups arrive 1..this many intervals after the record they follow up. */
export const FOLLOW_UP_DELAY_INTERVALS_MAX = 8;
/** Meter ids are held in memory (and checked for uniqueness), so their number is bounded. */
export const FEED_METERS_MAX = 1_000_000;
export const FEED_INTERVALS_MAX = 10_000_000;
/** Draws of a meter id before giving up (there are 36^8 ids, so a collision is rare). */
const METER_ID_ATTEMPTS_MAX = 16;
const METER_ID_PREFIX = 'MTR-';
const METER_ID_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const METER_ID_LENGTH = 8;
const CHANNEL_PATTERN = /^[A-Za-z0-9]{1,8}$/;
const STATUS_ACTUAL = 0;
const STATUS_ESTIMATED = 1;
/** Reference interval of the load curves: their values are kWh per 15 minutes. */
const CURVE_SECONDS = 900;
const MS_PER_DAY = 86_400_000;
const MS_PER_HOUR = 3_600_000;
const WH_PER_KWH = 1000;
/** One interval's consumption stays below the default dictionary's 1000 kWh bound. */
const INTERVAL_WH_MAX = 999_999;
const COMMERCIAL_METER_SHARE = 0.04;
const VACANCY_START_PROBABILITY = 0.002;
const VACANCY_INTERVALS_MIN = 4;
const VACANCY_INTERVALS_MAX = 96;
const NOISE_SIGMA = 0.22;

// Salts that give each random stream of a feed its own seed.
const SALT_METER_ID = 0x4d455445;
const SALT_METER_PROFILE = 0x50524f46;
const SALT_VALUES = 0x56414c55;
const SALT_FAULTS = 0x4641554c;

/** mulberry32 (Tommy Ettinger): a 32-bit state generator, fast and good enough for simulation. */
export class Mulberry32 {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  nextUint32(): number {
    this.#state = (this.#state + 0x6d2b79f5) | 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in [0, 1). */
  nextFloat(): number {
    return this.nextUint32() / 4_294_967_296;
  }

  /** Uniform integer in [min, max]. */
  nextInt(min: number, max: number): number {
    return min + Math.floor(this.nextFloat() * (max - min + 1));
  }
}

/** The murmur3 finalizer: a bijective 32-bit mix. */
function fmix32(value: number): number {
  let h = value >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A 32-bit seed from the feed seed (any safe integer) and a list of small integers. */
export function deriveSeed(seed: number, parts: readonly number[]): number {
  const low = seed >>> 0;
  const high = Math.floor(seed / 4_294_967_296) >>> 0;
  let h = fmix32(low ^ fmix32(high ^ 0x9e3779b9));
  for (const part of parts) h = fmix32(h ^ fmix32((part >>> 0) + 0x7f4a7c15));
  return h;
}

function meterIdCandidate(seed: number, index: number, attempt: number): string {
  const random = new Mulberry32(deriveSeed(seed, [SALT_METER_ID, index, attempt]));
  let id = METER_ID_PREFIX;
  for (let char = 0; char < METER_ID_LENGTH; char += 1) {
    id += METER_ID_CHARS[random.nextInt(0, METER_ID_CHARS.length - 1)];
  }
  return id;
}

/** The feed's meter ids: the id of index i depends on seed and i (and, on a collision, retries). */
export function generateMeterIds(seed: number, meters: number): string[] {
  const ids: string[] = [];
  const seen = new Set<string>();
  for (let index = 0; index < meters; index += 1) {
    ids.push(uniqueMeterId(seed, index, seen));
  }
  return ids;
}

function uniqueMeterId(seed: number, index: number, seen: Set<string>): string {
  for (let attempt = 0; attempt < METER_ID_ATTEMPTS_MAX; attempt += 1) {
    const id = meterIdCandidate(seed, index, attempt);
    if (!seen.has(id)) {
      seen.add(id);
      return id;
    }
  }
  assert.fail(`no unique meter id for index ${index} after ${METER_ID_ATTEMPTS_MAX} attempts`);
}

/** A bell around `peakHour` on the 24-hour circle, 1 at the peak. */
export function bell(hour: number, peakHour: number, widthHours: number): number {
  const distance = Math.abs(hour - peakHour);
  const wrapped = Math.min(distance, 24 - distance) / widthHours;
  return Math.exp(-0.5 * wrapped * wrapped);
}

/**
 * Household load in kWh per 15 minutes at scale 1: ~0.09 at night, a morning peak around 07:30
 * (later and broader at weekends), a small midday hump and an evening peak around 19:00 (~0.65).
 * Hours are UTC: the simulated utility's wall clock is UTC, which keeps tests free of zones.
 */
export function residentialKwhPer15Min(hour: number, weekend: boolean): number {
  if (weekend) {
    return (
      0.1 + 0.28 * bell(hour, 9.5, 1.5) + 0.2 * bell(hour, 13.5, 2.5) + 0.5 * bell(hour, 18.5, 1.8)
    );
  }
  return (
    0.09 + 0.32 * bell(hour, 7.5, 0.9) + 0.1 * bell(hour, 13, 2.5) + 0.55 * bell(hour, 19, 1.5)
  );
}

/** Small-commercial load at scale 1: a flat base and a business-hours plateau on weekdays. */
export function commercialKwhPer15Min(hour: number, weekend: boolean): number {
  const open = 1 / (1 + Math.exp(-3 * (hour - 7.5)));
  const closed = 1 / (1 + Math.exp(-3 * (hour - 18.5)));
  return 0.15 + (weekend ? 0.1 : 0.6) * (open - closed);
}

interface MeterState {
  readonly id: string;
  readonly scale: number;
  readonly commercial: boolean;
  vacantIntervalsLeft: number;
  /** The last seq sent; the next new reading takes lastSeq + 1. */
  lastSeq: number;
  /** The exact energy of this meter's current values so far, in Wh. */
  energyWh: bigint;
}

function createMeterState(seed: number, index: number, id: string): MeterState {
  const random = new Mulberry32(deriveSeed(seed, [SALT_METER_PROFILE, index]));
  const commercial = random.nextFloat() < COMMERCIAL_METER_SHARE;
  // Log-uniform scales: households 0.5x..3x, small-commercial premises 4x..15x.
  const scale = commercial ? 4 * 3.75 ** random.nextFloat() : 0.5 * 6 ** random.nextFloat();
  return { id, scale, commercial, vacantIntervalsLeft: 0, lastSeq: 0, energyWh: 0n };
}

interface ResolvedOptions {
  readonly seed: number;
  readonly meters: number;
  readonly startMs: number;
  readonly intervals: number;
  readonly intervalSeconds: number;
  readonly intervalSecondsField: number | undefined;
  readonly channelField: string | undefined;
  readonly channel: string;
  readonly estimateRate: number;
  readonly retransmitRate: number;
  readonly conflictRate: number;
  readonly badRate: number;
  readonly checksumRate: number;
}

function assertRate(name: string, rate: number | undefined): number {
  const value = rate ?? 0;
  assert.ok(value >= 0 && value <= 1, `${name} must be within 0..1, got ${value}`);
  return value;
}

function resolveOptions(options: FeedOptions): ResolvedOptions {
  const { seed, meters, startMs, intervals } = options;
  assert.ok(Number.isSafeInteger(seed), `seed must be a safe integer, got ${seed}`);
  assert.ok(Number.isInteger(meters) && meters >= 0 && meters <= FEED_METERS_MAX, 'meters');
  assert.ok(
    Number.isInteger(intervals) && intervals >= 0 && intervals <= FEED_INTERVALS_MAX,
    'intervals',
  );
  const intervalSeconds = options.intervalSeconds ?? DEFAULT_INTERVAL_SECONDS;
  assert.ok(Number.isInteger(intervalSeconds) && intervalSeconds > 0, 'intervalSeconds');
  assert.ok(
    Number.isSafeInteger(startMs) && startMs % (intervalSeconds * 1000) === 0,
    `startMs must be aligned to ${intervalSeconds} s, got ${startMs}`,
  );
  const channel = options.channel;
  assert.ok(channel === undefined || CHANNEL_PATTERN.test(channel), `channel ${channel}`);
  return {
    seed,
    meters,
    startMs,
    intervals,
    intervalSeconds,
    intervalSecondsField: options.intervalSeconds,
    channelField: channel,
    channel: channel ?? '1',
    estimateRate: assertRate('estimateRate', options.estimateRate),
    retransmitRate: assertRate('retransmitRate', options.retransmitRate),
    conflictRate: assertRate('conflictRate', options.conflictRate),
    badRate: assertRate('badRate', options.badRate),
    checksumRate: assertRate('checksumRate', options.checksumRate),
  };
}

/** kWh with exactly six decimals from whole watt-hours: 412 -> "0.412000". */
function whAsKwhSixDecimals(wh: number): string {
  const fraction = wh % WH_PER_KWH;
  const padded = fraction < 10 ? `00${fraction}` : fraction < 100 ? `0${fraction}` : `${fraction}`;
  return `${(wh - fraction) / WH_PER_KWH}.${padded}000`;
}

/** The checksum a validator expects: sha256 of `meter_id|channel|start|kWh.6|status|seq`. */
export function feedRecordChecksum(
  meterId: string,
  channel: string,
  intervalStartUtc: string,
  wh: number,
  statusCode: number,
  seq: number,
): string {
  const text = `${meterId}|${channel}|${intervalStartUtc}|${whAsKwhSixDecimals(wh)}|${statusCode}|${seq}`;
  return hash('sha256', text, 'hex');
}

/** The kinds of injected bad record; each breaks exactly one validation rule. */
export const BAD_RECORD_KINDS = [
  'meter_id_character',
  'meter_id_lowercase',
  'consumption_text',
  'consumption_empty',
  'consumption_negative',
  'consumption_too_large',
  'consumption_precision',
  'timestamp_month',
  'timestamp_no_offset',
  'status_code_range',
  'status_code_text',
  'field_missing',
  'field_unknown',
] as const;
export type BadRecordKind = (typeof BAD_RECORD_KINDS)[number];

const REQUIRED_FIELDS = ['meter_id', 'timestamp_utc', 'consumption_kwh', 'status_code'] as const;

/** Applies one defect to a valid record, in place. `pick` chooses which field goes missing. */
function applyDefect(record: FeedRecord, kind: BadRecordKind, pick: number): void {
  switch (kind) {
    case 'meter_id_character':
      record['meter_id'] = 'MTR-bad!';
      return;
    case 'meter_id_lowercase':
      record['meter_id'] = 'mtr-1234';
      return;
    case 'consumption_text':
      record['consumption_kwh'] = '12abc';
      return;
    case 'consumption_empty':
      record['consumption_kwh'] = '';
      return;
    case 'consumption_negative':
      record['consumption_kwh'] = -1;
      return;
    case 'consumption_too_large':
      record['consumption_kwh'] = 1000.5;
      return;
    case 'consumption_precision':
      record['consumption_kwh'] = 0.0000001;
      return;
    case 'timestamp_month':
      record['timestamp_utc'] = '2026-13-01T00:00:00Z';
      return;
    case 'timestamp_no_offset':
      record['timestamp_utc'] = String(record['timestamp_utc']).slice(0, -1);
      return;
    case 'status_code_range':
      record['status_code'] = 256;
      return;
    case 'status_code_text':
      record['status_code'] = 'x';
      return;
    case 'field_missing':
      delete record[REQUIRED_FIELDS[pick % REQUIRED_FIELDS.length] as string];
      return;
    case 'field_unknown':
      record['foo'] = 'bar';
      return;
    default:
      assert.fail(`unknown bad record kind ${String(kind satisfies never)}`);
  }
}

/** A follow-up waiting for its interval: a finished record, or an actual still to take its seq. */
type FollowUp =
  | { kind: 'record'; record: FeedRecord; tally: 'duplicates' | 'conflicts' | 'invalid' }
  | { kind: 'actual'; meter: MeterState; intervalStartUtc: string; wh: number };

interface Tally {
  currentReadings: number;
  energyWh: bigint;
  duplicates: number;
  conflicts: number;
  invalid: number;
  revisions: number;
  received: number;
}

function emptyTally(): Tally {
  return {
    currentReadings: 0,
    energyWh: 0n,
    duplicates: 0,
    conflicts: 0,
    invalid: 0,
    revisions: 0,
    received: 0,
  };
}

/** One pass over a feed. Holds the meters and a ring of follow-ups due in the next intervals. */
class FeedRun {
  readonly #options: ResolvedOptions;
  readonly #tally: Tally;
  readonly #meters: MeterState[];
  readonly #values: Mulberry32;
  readonly #faults: Mulberry32;
  /** Bucket (interval % length) holds the follow-ups due after that interval's originals. */
  readonly #due: FollowUp[][];
  /** A meter id outside the feed, for bad records that keep a valid id: they collide with none. */
  readonly #strayMeterId: string;
  #straySeq = 0;

  /** Per meter: its current readings and exact energy, once the run has ended. */
  streams(): Map<string, StreamExpectation> {
    const streams = new Map<string, StreamExpectation>();
    for (const meter of this.#meters) {
      streams.set(meter.id, {
        readings: this.#options.intervals,
        energyMilliWh: meter.energyWh * 1000n,
      });
    }
    return streams;
  }

  constructor(options: ResolvedOptions, tally: Tally) {
    this.#options = options;
    this.#tally = tally;
    const seen = new Set<string>();
    this.#meters = [];
    for (let index = 0; index < options.meters; index += 1) {
      const id = uniqueMeterId(options.seed, index, seen);
      this.#meters.push(createMeterState(options.seed, index, id));
    }
    this.#strayMeterId = uniqueMeterId(options.seed, options.meters, seen);
    this.#values = new Mulberry32(deriveSeed(options.seed, [SALT_VALUES]));
    this.#faults = new Mulberry32(deriveSeed(options.seed, [SALT_FAULTS]));
    this.#due = Array.from({ length: FOLLOW_UP_DELAY_INTERVALS_MAX + 1 }, () => []);
  }

  *records(): Generator<FeedRecord> {
    const { intervals, intervalSeconds, startMs } = this.#options;
    for (let interval = 0; interval < intervals; interval += 1) {
      const intervalStartMs = startMs + interval * intervalSeconds * 1000;
      yield* this.#originals(interval, intervalStartMs);
      yield* this.#followUps(interval);
    }
    for (let step = 0; step < FOLLOW_UP_DELAY_INTERVALS_MAX; step += 1) {
      yield* this.#followUps(intervals + step);
    }
  }

  *#originals(interval: number, intervalStartMs: number): Generator<FeedRecord> {
    const days = Math.floor(intervalStartMs / MS_PER_DAY);
    const hour = (intervalStartMs - days * MS_PER_DAY) / MS_PER_HOUR;
    const dayOfWeek = (((days + 4) % 7) + 7) % 7;
    const weekend = dayOfWeek === 0 || dayOfWeek === 6;
    const lengthFactor = this.#options.intervalSeconds / CURVE_SECONDS;
    const residentialKwh = residentialKwhPer15Min(hour, weekend) * lengthFactor;
    const commercialKwh = commercialKwhPer15Min(hour, weekend) * lengthFactor;
    const intervalStartUtc = formatUtcSeconds(intervalStartMs);
    let intervalWh = 0;
    for (const meter of this.#meters) {
      const profileWh = (meter.commercial ? commercialKwh : residentialKwh) * meter.scale * 1000;
      const wh = this.#actualWh(meter, profileWh);
      intervalWh += wh;
      meter.energyWh += BigInt(wh);
      yield this.#original(meter, interval, intervalStartUtc, wh, profileWh);
    }
    this.#tally.currentReadings += this.#meters.length;
    this.#tally.energyWh += BigInt(intervalWh);
  }

  /** The metered value: the profile with lognormal-like noise, or zero while vacant. */
  #actualWh(meter: MeterState, profileWh: number): number {
    const random = this.#values;
    const normal = (random.nextFloat() + random.nextFloat() + random.nextFloat() - 1.5) * 2;
    if (meter.vacantIntervalsLeft === 0 && random.nextFloat() < VACANCY_START_PROBABILITY) {
      meter.vacantIntervalsLeft = random.nextInt(VACANCY_INTERVALS_MIN, VACANCY_INTERVALS_MAX);
    }
    if (meter.vacantIntervalsLeft > 0) {
      meter.vacantIntervalsLeft -= 1;
      return 0;
    }
    return Math.min(INTERVAL_WH_MAX, Math.round(profileWh * Math.exp(NOISE_SIGMA * normal)));
  }

  #original(
    meter: MeterState,
    interval: number,
    intervalStartUtc: string,
    wh: number,
    profileWh: number,
  ): FeedRecord {
    const options = this.#options;
    const estimated = options.estimateRate > 0 && this.#faults.nextFloat() < options.estimateRate;
    let record: FeedRecord;
    if (estimated) {
      const estimateWh = Math.min(INTERVAL_WH_MAX, Math.round(profileWh));
      record = this.#newRecord(meter, intervalStartUtc, estimateWh, STATUS_ESTIMATED);
      this.#schedule(interval, { kind: 'actual', meter, intervalStartUtc, wh });
    } else {
      record = this.#newRecord(meter, intervalStartUtc, wh, STATUS_ACTUAL);
    }
    this.#scheduleFaults(interval, record, estimated);
    return record;
  }

  #scheduleFaults(interval: number, record: FeedRecord, estimated: boolean): void {
    const options = this.#options;
    const faults = this.#faults;
    if (options.retransmitRate > 0 && faults.nextFloat() < options.retransmitRate) {
      this.#schedule(interval, { kind: 'record', record: { ...record }, tally: 'duplicates' });
    }
    if (!estimated && options.conflictRate > 0 && faults.nextFloat() < options.conflictRate) {
      const conflict = this.#conflict(record);
      this.#schedule(interval, { kind: 'record', record: conflict, tally: 'conflicts' });
    }
    if (options.badRate > 0 && faults.nextFloat() < options.badRate) {
      this.#schedule(interval, { kind: 'record', record: this.#bad(record), tally: 'invalid' });
    }
  }

  /** A new reading: it takes the meter's next seq, and a checksum at checksumRate. */
  #newRecord(meter: MeterState, intervalStartUtc: string, wh: number, statusCode: number) {
    meter.lastSeq += 1;
    const rate = this.#options.checksumRate;
    const withChecksum = rate >= 1 || (rate > 0 && this.#faults.nextFloat() < rate);
    return this.#record(meter.id, intervalStartUtc, wh, statusCode, meter.lastSeq, withChecksum);
  }

  #record(
    meterId: string,
    intervalStartUtc: string,
    wh: number,
    statusCode: number,
    seq: number,
    withChecksum: boolean,
  ): FeedRecord {
    const options = this.#options;
    const record: FeedRecord = {
      meter_id: meterId,
      timestamp_utc: intervalStartUtc,
      consumption_kwh: wh / WH_PER_KWH,
      status_code: statusCode,
      seq,
    };
    if (options.channelField !== undefined) record['channel'] = options.channelField;
    if (options.intervalSecondsField !== undefined) {
      record['interval_seconds'] = options.intervalSecondsField;
    }
    if (withChecksum) {
      record['checksum_sha256'] = feedRecordChecksum(
        meterId,
        options.channel,
        intervalStartUtc,
        wh,
        statusCode,
        seq,
      );
    }
    return record;
  }

  /** The original's key (meter, interval, seq) with another consumption, checksum recomputed. */
  #conflict(original: FeedRecord): FeedRecord {
    const originalWh = Math.round((original['consumption_kwh'] as number) * WH_PER_KWH);
    const deltaWh = this.#faults.nextInt(1, 500);
    const wh =
      originalWh + deltaWh <= INTERVAL_WH_MAX ? originalWh + deltaWh : originalWh - deltaWh;
    return this.#record(
      original['meter_id'] as string,
      original['timestamp_utc'] as string,
      wh,
      original['status_code'] as number,
      original['seq'] as number,
      original['checksum_sha256'] !== undefined,
    );
  }

  /** A valid record of a meter outside the feed, at the original's interval, with one defect. */
  #bad(original: FeedRecord): FeedRecord {
    this.#straySeq += 1;
    const intervalStartUtc = original['timestamp_utc'] as string;
    const seq = this.#straySeq;
    const record = this.#record(this.#strayMeterId, intervalStartUtc, 250, 0, seq, false);
    const kind = BAD_RECORD_KINDS[this.#faults.nextInt(0, BAD_RECORD_KINDS.length - 1)];
    applyDefect(record, kind as BadRecordKind, this.#faults.nextUint32());
    return record;
  }

  #schedule(interval: number, followUp: FollowUp): void {
    const delay = this.#faults.nextInt(1, FOLLOW_UP_DELAY_INTERVALS_MAX);
    this.#due[(interval + delay) % this.#due.length]?.push(followUp);
  }

  *#followUps(interval: number): Generator<FeedRecord> {
    const bucket = this.#due[interval % this.#due.length];
    if (bucket === undefined || bucket.length === 0) return;
    this.#due[interval % this.#due.length] = [];
    for (const followUp of bucket) yield this.#send(followUp);
  }

  #send(followUp: FollowUp): FeedRecord {
    switch (followUp.kind) {
      case 'record':
        this.#tally[followUp.tally] += 1;
        return followUp.record;
      case 'actual':
        this.#tally.revisions += 1;
        return this.#newRecord(
          followUp.meter,
          followUp.intervalStartUtc,
          followUp.wh,
          STATUS_ACTUAL,
        );
      default:
        assert.fail(`unknown follow-up ${String(followUp satisfies never)}`);
    }
  }
}

function* countedRecords(run: FeedRun, tally: Tally): Generator<FeedRecord> {
  for (const record of run.records()) {
    tally.received += 1;
    yield record;
  }
}

/** The whole feed in delivery order, with the oracle of what its correct ingestion ends with. */
export function generateFeed(options: FeedOptions): GeneratedFeed {
  const tally = emptyTally();
  const resolved = resolveOptions(options);
  const run = new FeedRun(resolved, tally);
  const records = [...countedRecords(run, tally)];
  const { energyWh, ...counts } = tally;
  return {
    records,
    expected: {
      ...counts,
      energyMilliWh: energyWh * 1000n,
      channel: resolved.channel,
      streams: run.streams(),
    },
  };
}

/**
 * The same records as generateFeed, streamed. Memory: the meters plus the follow-ups due within the
 * next FOLLOW_UP_DELAY_INTERVALS_MAX intervals (none when every rate is 0).
 */
export function generateFeedRecords(options: FeedOptions): Generator<FeedRecord> {
  return new FeedRun(resolveOptions(options), emptyTally()).records();
}

/** One JSON object per line, each line ending in '\n'. */
export function* toNdjson(records: Iterable<FeedRecord>): Generator<string> {
  for (const record of records) yield `${JSON.stringify(record)}\n`;
}

/** A JSON array: '[\n', the elements joined by ',\n', then '\n]\n'. */
export function* toJsonArray(records: Iterable<FeedRecord>): Generator<string> {
  yield '[\n';
  let first = true;
  for (const record of records) {
    yield first ? JSON.stringify(record) : `,\n${JSON.stringify(record)}`;
    first = false;
  }
  yield '\n]\n';
}

export const CSV_COLUMNS = [
  'meter_id',
  'timestamp_utc',
  'consumption_kwh',
  'status_code',
  'seq',
  'channel',
  'interval_seconds',
  'checksum_sha256',
] as const;

const CSV_COLUMN_SET: ReadonlySet<string> = new Set(CSV_COLUMNS);

function csvCell(value: unknown): string {
  if (value === undefined || value === null) return '';
  const text =
    typeof value === 'string'
      ? value
      : typeof value === 'number'
        ? String(value)
        : JSON.stringify(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/**
 * CSV with the CSV_COLUMNS header, '\n' line ends, an empty cell for an absent field. A field
 * outside the header (the `foo` bad record) cannot be named, so its value is appended as an extra
 * cell: the row then has more cells than the header and is still rejected, as a column-count
 * error.
 */
export function* toCsv(records: Iterable<FeedRecord>): Generator<string> {
  yield `${CSV_COLUMNS.join(',')}\n`;
  for (const record of records) {
    let line = CSV_COLUMNS.map((column) => csvCell(record[column])).join(',');
    for (const name in record) {
      if (!CSV_COLUMN_SET.has(name)) line += `,${csvCell(record[name])}`;
    }
    yield `${line}\n`;
  }
}
