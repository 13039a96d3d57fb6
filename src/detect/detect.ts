/**
 * The detectors (one file each) and the inspection the pipeline runs for every reading identity
 * would accept (the Detector contract and its protocol: src/core/detector.ts). Pure: the
 * inspection reads the stream's profile and returns the findings with the update the profile
 * learns if the reading is accepted.
 *
 * Backfill rule: a reading at or before the newest interval the stream's profile has learnt is
 * judged by the stateless detectors only (reverse_flow, tamper, clock) and is not learnt. A profile
 * therefore grows in time order only, and the same time-ordered readings give the same decisions
 * whatever the deliveries and batches they came in.
 */
import assert from 'node:assert/strict';

import {
  DEFAULT_DETECTOR_SETTINGS,
  NO_FINDINGS,
  type Detector,
  type DetectorSettings,
  type Detectors,
  type DetectorStatusBits,
  type DetectorSuite,
  type DetectorView,
  type Finding,
} from '../core/detector.js';
import {
  createLocalCalendar,
  hourOfWeekOf,
  localDayOf,
  MS_PER_DAY,
  type LocalCalendar,
} from '../core/local-calendar.js';
import type { Reading } from '../core/reading.js';
import type { StreamRef, StreamState } from '../core/store.js';
import type { ProfileUpdate, StreamProfile } from '../core/stream-profile.js';
import { dailyHighDetector, dailyLowDetector } from './daily.js';
import { flatLineDetector } from './flat-line.js';
import { iqrDetector } from './iqr.js';
import { madDetector } from './mad.js';
import { isRegisterChannel } from '../core/register.js';
import { registerBackwardsDetector } from './register-backwards.js';
import { reverseFlowDetector } from './reverse-flow.js';
import { spikeDetector } from './spike.js';
import { clockDetector, tamperDetector } from './status-bits.js';
import { zeroRunDetector } from './zero-run.js';
import { zscoreDetector } from './zscore.js';

export type { Detector, Finding } from '../core/detector.js';

/** Every detector, in the order of DETECTOR_CODES. */
export const REFERENCE_DETECTORS: readonly Detector[] = Object.freeze([
  spikeDetector,
  zscoreDetector,
  madDetector,
  iqrDetector,
  zeroRunDetector,
  flatLineDetector,
  reverseFlowDetector,
  dailyHighDetector,
  dailyLowDetector,
  tamperDetector,
  clockDetector,
  registerBackwardsDetector,
]);

/**
 * The detectors that judge register reads (src/core/register.ts): a cumulative value has no
 * hour-of-week shape, so only the backwards check and the status bits apply to it, and the
 * backwards check applies to nothing else.
 */
const REGISTER_DETECTOR_NAMES: ReadonlySet<string> = new Set([
  registerBackwardsDetector.name,
  tamperDetector.name,
  clockDetector.name,
]);

/** The dictionary's default status bits (src/dictionary), for plain detector lists. */
export const DEFAULT_DETECTOR_STATUS_BITS: DetectorStatusBits = Object.freeze({
  outage: 2,
  reverseFlow: 4,
  tamper: 8,
  clock: 16,
});

/** A suite of the reference detectors over per-stream settings, in a time zone. */
export function createDetectorSuite(
  settingsFor: (stream: StreamRef) => DetectorSettings,
  statusBits: DetectorStatusBits,
  timeZone: string | null,
  detectors: readonly Detector[] = REFERENCE_DETECTORS,
): DetectorSuite {
  return { detectors, statusBits, calendar: createLocalCalendar(timeZone), settingsFor };
}

/** A plain list as a suite (default settings, UTC); null when there is nothing to run. */
export function asSuite(detectors: Detectors): DetectorSuite | null {
  if (!isDetectorList(detectors)) return detectors.detectors.length === 0 ? null : detectors;
  if (detectors.length === 0) return null;
  return createDetectorSuite(() => DEFAULT_DETECTOR_SETTINGS, DEFAULT_DETECTOR_STATUS_BITS, null, [
    ...detectors,
  ]);
}

function isDetectorList(detectors: Detectors): detectors is readonly Detector[] {
  return Array.isArray(detectors);
}

/** A stream's detectors and settings, resolved once per batch. */
export interface StreamDetection {
  readonly settings: DetectorSettings;
  /** The enabled detectors: all of them, and apart those that read no history. */
  readonly all: readonly Detector[];
  readonly stateless: readonly Detector[];
  /**
   * The enabled detectors by warm-up, in the order of `all`: `ready[i]` holds those whose warm-up
   * is at most `readyFromDays[i]` completed local days. Ascending, from 0.
   */
  readonly readyFromDays: readonly number[];
  readonly ready: readonly (readonly Detector[])[];
}

/** Each suite's detections by settings: a dictionary has few distinct settings, streams many. */
const detectionsBySuite = new WeakMap<DetectorSuite, WeakMap<DetectorSettings, StreamDetection>>();

const registerDetectionsBySuite = new WeakMap<
  DetectorSuite,
  WeakMap<DetectorSettings, StreamDetection>
>();

export function streamDetection(suite: DetectorSuite, stream: StreamRef): StreamDetection {
  const settings = suite.settingsFor(stream);
  const register = isRegisterChannel(stream.channel);
  const cache = register ? registerDetectionsBySuite : detectionsBySuite;
  let bySettings = cache.get(suite);
  if (bySettings === undefined) {
    bySettings = new WeakMap();
    cache.set(suite, bySettings);
  }
  let detection = bySettings.get(settings);
  if (detection === undefined) {
    const all = suite.detectors.filter(
      (detector) =>
        isEnabled(detector, settings) &&
        (register
          ? REGISTER_DETECTOR_NAMES.has(detector.name)
          : detector.name !== registerBackwardsDetector.name),
    );
    const stateless = all.filter((detector) => detector.usesHistory !== true);
    detection = { settings, all, stateless, ...byWarmUp(all, settings) };
    bySettings.set(settings, detection);
  }
  return detection;
}

function isEnabled(detector: Detector, settings: DetectorSettings): boolean {
  const own = (settings as unknown as Record<string, { enabled?: boolean } | undefined>)[
    detector.name
  ];
  return own === undefined || own.enabled !== false;
}

/** The detectors ready at each distinct warm-up of the list (see StreamDetection). */
function byWarmUp(
  detectors: readonly Detector[],
  settings: DetectorSettings,
): Pick<StreamDetection, 'readyFromDays' | 'ready'> {
  const warmUps = detectors.map((detector) => detector.warmUpDays?.(settings) ?? 0);
  const readyFromDays = [...new Set([0, ...warmUps])].sort((left, right) => left - right);
  const ready = readyFromDays.map((days) =>
    detectors.filter((_, index) => (warmUps[index] as number) <= days),
  );
  return { readyFromDays, ready };
}

/** The detectors of `detection` that may flag a stream with `completedDays` of history. */
function readyAt(detection: StreamDetection, completedDays: number): readonly Detector[] {
  const fromDays = detection.readyFromDays;
  let at = 0;
  while (at + 1 < fromDays.length && (fromDays[at + 1] as number) <= completedDays) at++;
  return detection.ready[at] as readonly Detector[];
}

/** The view of one reading: its stream, settings and local calendar facts. */
export function viewOf(
  reading: Reading,
  stream: Readonly<StreamState>,
  settings: DetectorSettings,
  suite: DetectorSuite,
): DetectorView {
  return fillView(new ReadingView(stream, settings, suite.statusBits), reading, suite.calendar);
}

/** A DetectorView whose reading facts are refilled for each reading of its stream. */
class ReadingView implements DetectorView {
  stream: Readonly<StreamState>;
  readonly settings: DetectorSettings;
  readonly statusBits: DetectorStatusBits;
  hourOfWeek = 0;
  localDay = 0;
  endsLocalDay = false;
  outage = false;

  constructor(
    stream: Readonly<StreamState>,
    settings: DetectorSettings,
    statusBits: DetectorStatusBits,
  ) {
    this.stream = stream;
    this.settings = settings;
    this.statusBits = statusBits;
  }
}

function fillView(view: ReadingView, reading: Reading, calendar: LocalCalendar): ReadingView {
  const startMs = reading.intervalStartMs;
  const offsetMs = calendar.offsetMs(startMs);
  const endMs = startMs + reading.intervalSeconds * 1000;
  const endLocalMs = endMs + calendar.offsetMs(endMs);
  view.hourOfWeek = hourOfWeekOf(startMs, offsetMs);
  view.localDay = localDayOf(startMs, offsetMs);
  view.endsLocalDay = endLocalMs % MS_PER_DAY === 0;
  view.outage = (reading.statusCode & view.statusBits.outage) !== 0;
  return view;
}

export interface Inspection {
  findings: readonly Finding[];
  /** What the profile learns if the reading is accepted; null for a backfilled reading. */
  update: ProfileUpdate | null;
}

/**
 * Runs a stream's enabled detectors on one reading and returns their findings with the profile's
 * update. A reading at or before the newest one the profile learnt (backfill) meets only the
 * stateless detectors and teaches the profile nothing. A detector still in warm-up is not asked:
 * it would find nothing (Detector.warmUpDays).
 */
export function inspectReading(
  detection: StreamDetection,
  reading: Reading,
  profile: StreamProfile,
  view: DetectorView,
): Inspection {
  const backfill = isBackfill(reading, profile);
  const findings = runDetectors(detection, reading, profile, view, backfill);
  return { findings, update: backfill ? null : updateOf(reading, view) };
}

function isBackfill(reading: Reading, profile: StreamProfile): boolean {
  const newestMs = profile.newestLearnedMs;
  return newestMs !== null && reading.intervalStartMs <= newestMs;
}

function runDetectors(
  detection: StreamDetection,
  reading: Reading,
  profile: StreamProfile,
  view: DetectorView,
  backfill: boolean,
): readonly Finding[] {
  const detectors = backfill
    ? detection.stateless
    : readyAt(detection, profile.completedDaysAt(view.localDay));
  let findings: readonly Finding[] = NO_FINDINGS;
  for (let index = 0; index < detectors.length; index++) {
    const found = (detectors[index] as Detector).inspect(reading, profile, view);
    if (found.length > 0) findings = findings.length === 0 ? found : [...findings, ...found];
  }
  return findings;
}

function updateOf(reading: Reading, view: DetectorView): ProfileUpdate {
  return {
    valueMicro: reading.valueMicro,
    intervalStartMs: reading.intervalStartMs,
    intervalSeconds: reading.intervalSeconds,
    hourOfWeek: view.hourOfWeek,
    localDay: view.localDay,
    outage: view.outage,
  };
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * One stream's detection through a batch: its detectors, its profile, and one view and one update
 * reused for each of its readings, so that inspecting a reading allocates nothing unless a
 * detector finds something. After `inspect`, `learn` (the reading was accepted) or `noteHeld` (it
 * was held) applies the reading to the profile, unless it was backfill (`updates` is false).
 */
export class StreamInspector {
  readonly detection: StreamDetection;
  readonly profile: StreamProfile;
  readonly #calendar: LocalCalendar;
  readonly #view: ReadingView;
  readonly #update: Mutable<ProfileUpdate> = {
    valueMicro: 0,
    intervalStartMs: 0,
    intervalSeconds: 0,
    hourOfWeek: 0,
    localDay: 0,
    outage: false,
  };
  #updates = false;
  #changed = false;

  constructor(
    suite: DetectorSuite,
    detection: StreamDetection,
    profile: StreamProfile,
    stream: Readonly<StreamState>,
  ) {
    this.detection = detection;
    this.profile = profile;
    this.#calendar = suite.calendar;
    this.#view = new ReadingView(stream, detection.settings, suite.statusBits);
  }

  /** Whether the last reading inspected would change the profile (it is not backfill). */
  get updates(): boolean {
    return this.#updates;
  }

  /** Whether learn or noteHeld changed the profile since it was loaded. */
  get changed(): boolean {
    return this.#changed;
  }

  /** The reading's findings against the profile as it stands (see inspectReading). */
  inspect(reading: Reading, stream: Readonly<StreamState>): readonly Finding[] {
    const view = this.#view;
    view.stream = stream;
    fillView(view, reading, this.#calendar);
    const backfill = isBackfill(reading, this.profile);
    this.#updates = !backfill;
    if (!backfill) {
      const update = this.#update;
      update.valueMicro = reading.valueMicro;
      update.intervalStartMs = reading.intervalStartMs;
      update.intervalSeconds = reading.intervalSeconds;
      update.hourOfWeek = view.hourOfWeek;
      update.localDay = view.localDay;
      update.outage = view.outage;
    }
    return runDetectors(this.detection, reading, this.profile, view, backfill);
  }

  /** The last reading inspected was accepted: the profile learns it. */
  learn(): void {
    assert.ok(this.#updates, 'only a reading that is not backfill is learnt');
    this.profile.learn(this.#update);
    this.#updates = false;
    this.#changed = true;
  }

  /** The last reading inspected was held: the profile notes it (StreamProfile.noteHeld). */
  noteHeld(): void {
    assert.ok(this.#updates, 'only a reading that is not backfill is noted');
    this.profile.noteHeld(this.#update);
    this.#updates = false;
    this.#changed = true;
  }
}
