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
    detection = { settings, all, stateless };
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

/** The view of one reading: its stream, settings and local calendar facts. */
export function viewOf(
  reading: Reading,
  stream: Readonly<StreamState>,
  settings: DetectorSettings,
  suite: DetectorSuite,
): DetectorView {
  const calendar: LocalCalendar = suite.calendar;
  const startMs = reading.intervalStartMs;
  const offsetMs = calendar.offsetMs(startMs);
  const endMs = startMs + reading.intervalSeconds * 1000;
  const endLocalMs = endMs + calendar.offsetMs(endMs);
  return {
    stream,
    settings,
    statusBits: suite.statusBits,
    hourOfWeek: hourOfWeekOf(startMs, offsetMs),
    localDay: localDayOf(startMs, offsetMs),
    endsLocalDay: endLocalMs % MS_PER_DAY === 0,
    outage: (reading.statusCode & suite.statusBits.outage) !== 0,
  };
}

export interface Inspection {
  findings: readonly Finding[];
  /** What the profile learns if the reading is accepted; null for a backfilled reading. */
  update: ProfileUpdate | null;
}

/**
 * Runs a stream's enabled detectors on one reading and returns their findings with the profile's
 * update. A reading at or before the newest one the profile learnt (backfill) meets only the
 * stateless detectors and teaches the profile nothing.
 */
export function inspectReading(
  detection: StreamDetection,
  reading: Reading,
  profile: StreamProfile,
  view: DetectorView,
): Inspection {
  const newestMs = profile.newestLearnedMs;
  const backfill = newestMs !== null && reading.intervalStartMs <= newestMs;
  const detectors = backfill ? detection.stateless : detection.all;
  let findings: readonly Finding[] = NO_FINDINGS;
  for (const detector of detectors) {
    const found = detector.inspect(reading, profile, view);
    if (found.length > 0) findings = findings.length === 0 ? found : [...findings, ...found];
  }
  const update: ProfileUpdate | null = backfill
    ? null
    : {
        valueMicro: reading.valueMicro,
        intervalStartMs: reading.intervalStartMs,
        intervalSeconds: reading.intervalSeconds,
        hourOfWeek: view.hourOfWeek,
        localDay: view.localDay,
        outage: view.outage,
      };
  return { findings, update };
}
