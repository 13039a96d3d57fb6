/**
 * Billing determinants of one service point for one period, from ledger readings only: kWh per
 * energy TOU period, peak demand in kW per demand period and over the month (interval energy over
 * interval hours), counts of actual and estimated intervals and completeness. Pure: the same
 * readings in any order give the same determinants, and determinants of parts of a period merge
 * into those of the whole (determinants.property.test.ts).
 */
import assert from 'node:assert/strict';
import { localSlotter, periodOf } from './billing-period.js';
import type { Tariff } from './tariff.js';

const SECONDS_PER_HOUR = 3600;

/** One current ledger value as billing reads it. */
export interface BillingReading {
  meterId: string;
  channel: string;
  intervalStartMs: number;
  intervalSeconds: number;
  /** Millionths of a kWh. */
  valueMicro: number;
  quality: string;
  idempotencyKey: string;
  version: number;
}

/** A span of time a meter served the service point: [fromMs, toMs). */
export interface MeterSpan {
  meterId: string;
  fromMs: number;
  toMs: number;
  /** The register's digit count and multiplier (src/billing/register.ts), when configured. */
  registerDigits?: number;
  multiplier?: number;
}

export interface Determinants {
  /** kWh in millionths per energy period of the tariff (index = URDB period). */
  energyMicroByPeriod: number[];
  energyMicro: number;
  /** Of `energyMicro`: what estimated (or substituted) intervals hold. */
  estimatedEnergyMicro: number;
  /** Highest demand in millionths of a kW per demand period, and over every interval. */
  demandMicroKwByPeriod: number[];
  peakDemandMicroKw: number;
  actualIntervals: number;
  estimatedIntervals: number;
  /** Intervals the meter spans hold at the readings' interval length. */
  expectedIntervals: number;
  /** Local days of the period (for daily charges and daily tier bounds). */
  days: number;
  /** Local month of the period, 0..11 (for flat demand months). */
  month: number;
}

/** Demand of one interval: energy over hours, in millionths of a kW (floored off the hour grid). */
export function demandMicroKw(valueMicro: number, intervalSeconds: number): number {
  return Math.floor((valueMicro * SECONDS_PER_HOUR) / intervalSeconds);
}

export function emptyDeterminants(tariff: Tariff, days: number, month: number): Determinants {
  return {
    energyMicroByPeriod: Array<number>(Math.max(1, tariff.energyPeriods.length)).fill(0),
    energyMicro: 0,
    estimatedEnergyMicro: 0,
    demandMicroKwByPeriod: Array<number>(tariff.demandPeriods.length).fill(0),
    peakDemandMicroKw: 0,
    actualIntervals: 0,
    estimatedIntervals: 0,
    expectedIntervals: 0,
    days,
    month,
  };
}

function spanOf(spans: readonly MeterSpan[], reading: BillingReading): boolean {
  return spans.some(
    (span) =>
      span.meterId === reading.meterId &&
      reading.intervalStartMs >= span.fromMs &&
      reading.intervalStartMs < span.toMs,
  );
}

/**
 * Adds readings to determinants. Readings of several channels of one interval are summed into the
 * interval first, so demand is the service point's, not a channel's.
 */
export function determinantsOf(
  tariff: Tariff,
  timeZone: string,
  spans: readonly MeterSpan[],
  readings: readonly BillingReading[],
  frame: { days: number; month: number },
): Determinants {
  const result = emptyDeterminants(tariff, frame.days, frame.month);
  const slotOf = localSlotter(timeZone);
  const intervals = new Map<number, { valueMicro: number; seconds: number; estimated: boolean }>();
  let intervalSeconds = 0;
  for (const reading of readings) {
    if (!spanOf(spans, reading)) continue;
    const estimated = reading.quality !== 'actual';
    const slot = slotOf(reading.intervalStartMs);
    const period = periodOf(tariff.energyWeekday, tariff.energyWeekend, slot);
    result.energyMicroByPeriod[period] =
      (result.energyMicroByPeriod[period] ?? 0) + reading.valueMicro;
    result.energyMicro += reading.valueMicro;
    if (estimated) result.estimatedEnergyMicro += reading.valueMicro;
    const key = reading.intervalStartMs;
    const known = intervals.get(key);
    intervals.set(key, {
      valueMicro: (known?.valueMicro ?? 0) + reading.valueMicro,
      seconds: reading.intervalSeconds,
      estimated: (known?.estimated ?? false) || estimated,
    });
    intervalSeconds =
      intervalSeconds === 0
        ? reading.intervalSeconds
        : Math.min(intervalSeconds, reading.intervalSeconds);
  }
  for (const [startMs, interval] of intervals) {
    if (interval.estimated) result.estimatedIntervals += 1;
    else result.actualIntervals += 1;
    const demand = demandMicroKw(interval.valueMicro, interval.seconds);
    result.peakDemandMicroKw = Math.max(result.peakDemandMicroKw, demand);
    if (tariff.demandPeriods.length > 0) {
      const period = periodOf(tariff.demandWeekday, tariff.demandWeekend, slotOf(startMs));
      result.demandMicroKwByPeriod[period] = Math.max(
        result.demandMicroKwByPeriod[period] ?? 0,
        demand,
      );
    }
  }
  result.expectedIntervals = expectedIntervals(
    spans,
    intervalSeconds === 0 ? DEFAULT_INTERVAL_SECONDS : intervalSeconds,
  );
  assert(Number.isSafeInteger(result.energyMicro), 'energy of one period stays a safe integer');
  return result;
}

/** The interval length assumed for completeness when a service point has no reading at all. */
export const DEFAULT_INTERVAL_SECONDS = 900;

function expectedIntervals(spans: readonly MeterSpan[], intervalSeconds: number): number {
  const intervalMs = intervalSeconds * 1000;
  return spans.reduce(
    (sum, span) => sum + Math.max(0, Math.ceil((span.toMs - span.fromMs) / intervalMs)),
    0,
  );
}

/** Determinants of two disjoint parts of one period, merged. */
export function mergeDeterminants(a: Determinants, b: Determinants): Determinants {
  const add = (x: number[], y: number[]) => x.map((value, index) => value + (y[index] ?? 0));
  const max = (x: number[], y: number[]) => x.map((value, index) => Math.max(value, y[index] ?? 0));
  return {
    energyMicroByPeriod: add(a.energyMicroByPeriod, b.energyMicroByPeriod),
    energyMicro: a.energyMicro + b.energyMicro,
    estimatedEnergyMicro: a.estimatedEnergyMicro + b.estimatedEnergyMicro,
    demandMicroKwByPeriod: max(a.demandMicroKwByPeriod, b.demandMicroKwByPeriod),
    peakDemandMicroKw: Math.max(a.peakDemandMicroKw, b.peakDemandMicroKw),
    actualIntervals: a.actualIntervals + b.actualIntervals,
    estimatedIntervals: a.estimatedIntervals + b.estimatedIntervals,
    expectedIntervals: a.expectedIntervals + b.expectedIntervals,
    days: a.days,
    month: a.month,
  };
}

/** Share of expected intervals present (1 when none was expected). */
export function completenessOf(d: Determinants): number {
  if (d.expectedIntervals === 0) return 1;
  return (d.actualIntervals + d.estimatedIntervals) / d.expectedIntervals;
}
