/**
 * The quarantine spike rule (issue 10 part 5): per source, the share of quarantined records among
 * the records received over a sliding window. When it rises strictly above `shareMax` (with at
 * least `minimumRecords` in the window, so one bad file in a quiet hour is not a spike) an alert is
 * raised once; the rule re-arms when the share falls back to the threshold or below.
 */
import type { TimerClock } from '../core/clock.js';
import type { AlertRaiser } from './alerts.js';
import { SlidingWindow } from './sliding-window.js';

export interface QuarantineSpikeSettings {
  readonly windowMs: number;
  /** Alerts when quarantined / received is strictly above this (0..1). */
  readonly shareMax: number;
  readonly minimumRecords: number;
}

export const QUARANTINE_SPIKE_DEFAULTS: QuarantineSpikeSettings = {
  windowMs: 15 * 60_000,
  shareMax: 0.05,
  minimumRecords: 100,
};

interface SourceSpike {
  readonly window: SlidingWindow;
  alerting: boolean;
}

export class QuarantineSpikeRule {
  readonly settings: QuarantineSpikeSettings;
  readonly #clock: TimerClock;
  readonly #alerts: AlertRaiser;
  readonly #sources = new Map<string, SourceSpike>();

  constructor(settings: QuarantineSpikeSettings, clock: TimerClock, alerts: AlertRaiser) {
    this.settings = settings;
    this.#clock = clock;
    this.#alerts = alerts;
  }

  /** Counts one committed delivery's records; raises the alert on the way up. */
  observe(sourceId: string, received: number, quarantined: number): void {
    const spike = this.#spikeOf(sourceId);
    const nowMs = this.#clock.monotonicMs();
    spike.window.add(nowMs, received, quarantined);
    const totals = spike.window.totals(nowMs);
    const share = totals.calls === 0 ? 0 : totals.failures / totals.calls;
    const above = totals.calls >= this.settings.minimumRecords && share > this.settings.shareMax;
    if (above && !spike.alerting) this.#raise(sourceId, totals.calls, totals.failures, share);
    if (share <= this.settings.shareMax) spike.alerting = false;
    if (above) spike.alerting = true;
  }

  #spikeOf(sourceId: string): SourceSpike {
    let spike = this.#sources.get(sourceId);
    if (spike === undefined) {
      spike = { window: new SlidingWindow(this.settings.windowMs), alerting: false };
      this.#sources.set(sourceId, spike);
    }
    return spike;
  }

  #raise(sourceId: string, received: number, quarantined: number, share: number): void {
    const percent = (share * 100).toFixed(1);
    this.#alerts.raise({
      rule: 'quarantine.spike',
      source: sourceId,
      severity: 'warning',
      message:
        `${sourceId}: ${quarantined} of ${received} records (${percent}%) quarantined in the last ` +
        `${this.settings.windowMs / 1000} s, above ${this.settings.shareMax * 100}%`,
      figures: {
        received,
        quarantined,
        share,
        shareMax: this.settings.shareMax,
        windowMs: this.settings.windowMs,
      },
    });
  }
}
