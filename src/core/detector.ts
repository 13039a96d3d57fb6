/**
 * The Detector contract (ARCH 4): a pure look at one reading that identity would accept, against
 * its stream's statistics (a StreamProfile). A non-empty list of findings holds the reading in the
 * anomaly ledger, apart from billing, until an operator releases it.
 *
 * Protocol, per reading, inside the batch's transaction (src/detect/detect.ts `inspectReading`):
 *  1. The pipeline builds a DetectorView: the stream's state, the settings the data dictionary
 *     gives this stream, and the reading's local calendar facts.
 *  2. Every enabled detector's `inspect` returns its findings (usually none). It reads the profile
 *     and the view and writes nothing.
 *  3. The inspection returns, beside the findings, the update the stream's profile would learn
 *     from the reading. The pipeline applies it only when the reading is accepted into the billing
 *     ledger, so a held reading never moves the profile it was judged against.
 * Detectors share one profile rather than each keeping its own: the z-score, the IQR fences and
 * the robust score read the same hour-of-week cells and quantile sketch, so one update per reading
 * serves them all and the stream's statistics stay one compact row.
 */
import type { Reading } from './reading.js';
import type { StreamRef, StreamState } from './store.js';
import type { LocalCalendar } from './local-calendar.js';
import type { StreamProfile } from './stream-profile.js';

/** Stable detector codes: stored with each hold, filtered on, counted in reports. */
export const DETECTOR_CODES = [
  'spike',
  'zscore',
  'mad',
  'iqr',
  'zero_run',
  'flat_line',
  'reverse_flow',
  'daily_high',
  'daily_low',
  'tamper',
  'clock',
] as const;
/**
 * The detector of register reads (src/core/register.ts). It has no settings in the data
 * dictionary: it runs on every register read whenever detection runs at all, since a register
 * going backwards is never a matter of tuning.
 */
export const REGISTER_DETECTOR_CODE = 'register_backwards';
export type DetectorCode = (typeof DETECTOR_CODES)[number] | typeof REGISTER_DETECTOR_CODE;

/**
 * One detector's verdict on one reading. The figures are what an operator checks the verdict
 * with: `value` is what was judged (the reading in its unit, or the day's total, or a run length),
 * `statistic` what the detector computed from it and the history (a z-score, a ratio, a run
 * length), `threshold` the limit `statistic` crossed. Every detector in src/detect sets all three;
 * they are optional only for stand-in detectors of tests and for holds stored before they existed.
 */
export interface Finding {
  detector: string;
  message: string;
  value?: number;
  statistic?: number;
  threshold?: number;
}

/** Shared by detectors that compare a value with a spread: below `minDeviation` never flags. */
export interface SpreadSettings {
  readonly enabled: boolean;
  readonly threshold: number;
  /** In the reading's own unit (kWh on electricity channels). */
  readonly minDeviation: number;
  /** Completed local days of history before the detector may flag. */
  readonly warmUpDays: number;
}

/** Every detector's settings for one stream, resolved from the data dictionary. */
export interface DetectorSettings {
  readonly zscore: SpreadSettings & { readonly minSamples: number };
  readonly mad: SpreadSettings;
  readonly iqr: SpreadSettings;
  /** `threshold`: how many times the recent typical maximum a spike must exceed. */
  readonly spike: SpreadSettings;
  readonly zero_run: {
    readonly enabled: boolean;
    readonly intervals: number;
    /** The hour-of-week mean at or above which the profile expects use. */
    readonly expectedMin: number;
    readonly warmUpDays: number;
  };
  readonly flat_line: { readonly enabled: boolean; readonly intervals: number };
  readonly reverse_flow: { readonly enabled: boolean };
  /** `percent` above (high) or below (low) the stream's average daily use. */
  readonly daily_high: {
    readonly enabled: boolean;
    readonly percent: number;
    readonly minDeviation: number;
    readonly warmUpDays: number;
  };
  readonly daily_low: {
    readonly enabled: boolean;
    readonly percent: number;
    readonly warmUpDays: number;
  };
  readonly tamper: { readonly enabled: boolean };
  readonly clock: { readonly enabled: boolean };
}

/** The status-code masks detectors read (the data dictionary's statusBits). */
export interface DetectorStatusBits {
  readonly outage: number;
  readonly reverseFlow: number;
  readonly tamper: number;
  readonly clock: number;
}

/** What a detector knows about the reading besides its value and its stream's profile. */
export interface DetectorView {
  readonly stream: Readonly<StreamState>;
  readonly settings: DetectorSettings;
  readonly statusBits: DetectorStatusBits;
  /** The reading's local hour of the week (0: Monday 00:00) in the dictionary's time zone. */
  readonly hourOfWeek: number;
  /** Local days since 1970-01-01 of the interval start. */
  readonly localDay: number;
  /** Whether the interval ends on a local midnight: the last interval of its day. */
  readonly endsLocalDay: boolean;
  /** Whether the status code carries the outage bit. */
  readonly outage: boolean;
}

export interface Detector {
  readonly name: string;
  /**
   * True for a detector that reads the stream's history (profile or runs): it is skipped for a
   * reading older than the newest one the profile learnt (backfill, docs/detectors.md).
   */
  readonly usesHistory?: boolean;
  /**
   * The completed local days of history (`StreamProfile.completedDaysAt`) this detector needs
   * under these settings before it can flag anything: a promise that before then `inspect` finds
   * nothing whatever the reading, so the inspection does not call it. Absent: no warm-up.
   */
  warmUpDays?(settings: DetectorSettings): number;
  /**
   * Pure: the reading's findings against `profile` as it stood before the reading. The view is
   * valid only during the call (the pipeline reuses it for the stream's next reading).
   */
  inspect(reading: Reading, profile: StreamProfile, view: DetectorView): readonly Finding[];
}

/** The detectors of a data dictionary with what they need to build each stream's view. */
export interface DetectorSuite {
  readonly detectors: readonly Detector[];
  readonly statusBits: DetectorStatusBits;
  readonly calendar: LocalCalendar;
  /** The settings the dictionary gives this stream (channel, then meter class, then defaults). */
  settingsFor(stream: StreamRef): DetectorSettings;
}

/** A suite, or a plain list of detectors (empty: no detection at all). */
export type Detectors = DetectorSuite | readonly Detector[];

export const NO_FINDINGS: readonly Finding[] = Object.freeze([]);

/**
 * The reference defaults (docs/detectors.md gives each one's reason). Thresholds are far from the
 * textbook 3: real interval data is heavy-tailed, and at 3 a z-score flags a few percent of clean
 * readings; these keep clean load data under 0.1% flagged.
 */
export const DEFAULT_DETECTOR_SETTINGS: DetectorSettings = Object.freeze({
  zscore: Object.freeze({
    enabled: true,
    threshold: 8,
    minDeviation: 1,
    warmUpDays: 7,
    minSamples: 4,
  }),
  mad: Object.freeze({ enabled: true, threshold: 16, minDeviation: 1, warmUpDays: 7 }),
  iqr: Object.freeze({ enabled: true, threshold: 8, minDeviation: 1, warmUpDays: 7 }),
  spike: Object.freeze({ enabled: true, threshold: 4, minDeviation: 1, warmUpDays: 3 }),
  zero_run: Object.freeze({ enabled: true, intervals: 16, expectedMin: 0.05, warmUpDays: 7 }),
  flat_line: Object.freeze({ enabled: true, intervals: 16 }),
  reverse_flow: Object.freeze({ enabled: true }),
  daily_high: Object.freeze({ enabled: true, percent: 200, minDeviation: 5, warmUpDays: 7 }),
  daily_low: Object.freeze({ enabled: true, percent: 80, warmUpDays: 7 }),
  tamper: Object.freeze({ enabled: true }),
  clock: Object.freeze({ enabled: true }),
});
