/**
 * Consumption of AMR meters from their register reads (src/core/register.ts): the difference
 * between consecutive reads of one register, with rollover at the meter's digit count, the
 * meter's multiplier, estimates replaced by later actuals, and meter exchanges (each meter's reads
 * are its own stream; the accounts' spans say which meter served when). A register that goes
 * backwards without a rollover yields a finding and no consumption, never a negative one.
 *
 * Proration rule (docs/billing.md): the consumption between two reads is spread evenly over the
 * time between them; the energy up to an instant t is floor(E * (t - t0) / (t1 - t0)) millionths
 * of a kWh, and a period gets the energy up to its end minus the energy up to its start. The
 * floors telescope, so the periods of a read span always add up to its whole consumption.
 * Pure: no store, no clock.
 */
import assert from 'node:assert/strict';
import { isRegisterRead } from '../core/register.js';
import { VALUE_MICRO_PER_UNIT } from '../core/reading.js';
import type { BillingReading, MeterSpan } from './determinants.js';

/** How a meter's register is read, from the accounts file. */
export interface RegisterConfig {
  /** Whole-kWh digits the register shows (5: rolls over after 99,999); null: not configured. */
  registerDigits: number | null;
  /** What the register's difference is multiplied by (CT and dial ratios), a whole number. */
  multiplier: number;
}

export const DEFAULT_REGISTER_CONFIG: RegisterConfig = Object.freeze({
  registerDigits: null,
  multiplier: 1,
});

/** One span between two consecutive reads of a register that were used, with its energy. */
export interface RegisterUse {
  meterId: string;
  channel: string;
  fromMs: number;
  toMs: number;
  /** Energy over [fromMs, toMs) after rollover and multiplier, millionths of a kWh. */
  energyMicro: number;
  /** Either read is not actual. */
  estimated: boolean;
  rollover: boolean;
  reads: [BillingReading, BillingReading];
}

export const REGISTER_FINDING_CODES = ['register_backwards', 'sum_check', 'register_tou'] as const;
export type RegisterFindingCode = (typeof REGISTER_FINDING_CODES)[number];

export interface RegisterFinding {
  code: RegisterFindingCode;
  meterId: string;
  channel: string;
  fromMs: number;
  toMs: number;
  message: string;
  /** The figure judged, in kWh (the difference, or the intervals' sum minus the register's). */
  value: number;
  threshold: number;
}

export interface RegisterDerivation {
  uses: RegisterUse[];
  findings: RegisterFinding[];
}

/**
 * The reads that count: the current version of each read, and of the estimated ones only those
 * that no later actual read of the same register follows (an actual replaces the estimates
 * before it).
 */
export function readsInForce(reads: readonly BillingReading[]): BillingReading[] {
  const sorted = [...reads].sort((a, b) => a.intervalStartMs - b.intervalStartMs);
  let lastActualMs = Number.NEGATIVE_INFINITY;
  for (const read of sorted) if (read.quality === 'actual') lastActualMs = read.intervalStartMs;
  return sorted.filter((read) => read.quality === 'actual' || read.intervalStartMs > lastActualMs);
}

/** Register uses of every register stream in `readings` (other readings are ignored). */
export function deriveRegisterUses(
  readings: readonly BillingReading[],
  configOf: (meterId: string) => RegisterConfig,
): RegisterDerivation {
  const byStream = new Map<string, BillingReading[]>();
  for (const reading of readings) {
    if (!isRegisterRead(reading)) continue;
    const key = `${reading.meterId}|${reading.channel}`;
    const list = byStream.get(key);
    if (list === undefined) byStream.set(key, [reading]);
    else list.push(reading);
  }
  const derivation: RegisterDerivation = { uses: [], findings: [] };
  for (const key of [...byStream.keys()].sort()) {
    const reads = readsInForce(byStream.get(key) ?? []);
    for (let at = 1; at < reads.length; at++) {
      const pair: [BillingReading, BillingReading] = [
        reads[at - 1] as BillingReading,
        reads[at] as BillingReading,
      ];
      useOf(pair, configOf(pair[0].meterId), derivation);
    }
  }
  return derivation;
}

function useOf(
  reads: [BillingReading, BillingReading],
  config: RegisterConfig,
  derivation: RegisterDerivation,
): void {
  const [previous, current] = reads;
  let differenceMicro = current.valueMicro - previous.valueMicro;
  let rollover = false;
  if (differenceMicro < 0) {
    const wrapped = rolloverDifference(previous.valueMicro, current.valueMicro, config);
    if (wrapped === null) {
      derivation.findings.push(backwards(reads, config));
      return;
    }
    differenceMicro = wrapped;
    rollover = true;
  }
  const energyMicro = differenceMicro * config.multiplier;
  assert.ok(Number.isSafeInteger(energyMicro), 'register energy stays a safe integer');
  derivation.uses.push({
    meterId: previous.meterId,
    channel: previous.channel,
    fromMs: previous.intervalStartMs,
    toMs: current.intervalStartMs,
    energyMicro,
    estimated: previous.quality !== 'actual' || current.quality !== 'actual',
    rollover,
    reads,
  });
}

/**
 * The difference across a rollover: the register counted up to 10^digits and on from zero. A
 * fall is a rollover only when the meter's digits are configured, the previous read fits them,
 * and the wrapped difference is under half the register's range (a meter does not turn over half
 * its register between two reads); otherwise it is a register going backwards.
 */
export function rolloverDifference(
  previousMicro: number,
  currentMicro: number,
  config: RegisterConfig,
): number | null {
  if (config.registerDigits === null) return null;
  const rangeMicro = 10 ** config.registerDigits * VALUE_MICRO_PER_UNIT;
  if (previousMicro >= rangeMicro || currentMicro >= rangeMicro) return null;
  const wrapped = rangeMicro - previousMicro + currentMicro;
  return wrapped < rangeMicro / 2 ? wrapped : null;
}

function backwards(reads: [BillingReading, BillingReading], config: RegisterConfig) {
  const [previous, current] = reads;
  const kwh = (micro: number) => micro / VALUE_MICRO_PER_UNIT;
  const digits =
    config.registerDigits === null
      ? 'no digit count configured'
      : `${config.registerDigits} digits`;
  return {
    code: 'register_backwards' as const,
    meterId: previous.meterId,
    channel: previous.channel,
    fromMs: previous.intervalStartMs,
    toMs: current.intervalStartMs,
    message:
      `register ${previous.channel} of meter ${previous.meterId} went from ` +
      `${kwh(previous.valueMicro)} to ${kwh(current.valueMicro)} kWh, which is not a rollover ` +
      `(${digits}): no consumption is billed for this span`,
    value: kwh(current.valueMicro - previous.valueMicro),
    threshold: 0,
  };
}

/** Energy of `use` up to `atMs` (clamped to the use), millionths of a kWh; exact, floored. */
export function energyUpToMicro(use: RegisterUse, atMs: number): number {
  if (atMs <= use.fromMs) return 0;
  if (atMs >= use.toMs) return use.energyMicro;
  const part =
    (BigInt(use.energyMicro) * BigInt(atMs - use.fromMs)) / BigInt(use.toMs - use.fromMs);
  return Number(part);
}

/** Energy of `use` within [fromMs, toMs). */
export function energyWithinMicro(use: RegisterUse, fromMs: number, toMs: number): number {
  if (toMs <= fromMs) return 0;
  return energyUpToMicro(use, toMs) - energyUpToMicro(use, fromMs);
}

/** What the register uses give a service point over its meter spans. */
export interface RegisterTotals {
  energyMicro: number;
  estimatedEnergyMicro: number;
  /** Time of the spans that a use covers, actual and estimated, ms. */
  actualMs: number;
  estimatedMs: number;
  /** Time of the spans, ms. */
  spanMs: number;
  /** The uses that gave energy or cover a part of a span. */
  used: RegisterUse[];
}

export function registerTotals(
  uses: readonly RegisterUse[],
  spans: readonly MeterSpan[],
): RegisterTotals {
  const totals: RegisterTotals = {
    energyMicro: 0,
    estimatedEnergyMicro: 0,
    actualMs: 0,
    estimatedMs: 0,
    spanMs: spans.reduce((sum, span) => sum + Math.max(0, span.toMs - span.fromMs), 0),
    used: [],
  };
  for (const use of uses) {
    let touched = false;
    for (const span of spans) {
      if (span.meterId !== use.meterId) continue;
      const fromMs = Math.max(span.fromMs, use.fromMs);
      const toMs = Math.min(span.toMs, use.toMs);
      if (toMs <= fromMs) continue;
      touched = true;
      const energy = energyWithinMicro(use, fromMs, toMs);
      totals.energyMicro += energy;
      if (use.estimated) {
        totals.estimatedEnergyMicro += energy;
        totals.estimatedMs += toMs - fromMs;
      } else totals.actualMs += toMs - fromMs;
    }
    if (touched) totals.used.push(use);
  }
  return totals;
}

/** The sum check's tolerance: 2% of the register's consumption, and never under 0.5 kWh. */
export const SUM_CHECK_PERCENT = 2;
export const SUM_CHECK_KWH_MIN = 0.5;

/**
 * VEE sum check for meters that send intervals and register reads: for each register use whose
 * whole span lies in [windowFromMs, windowToMs) (where the intervals are known), the meter's
 * intervals starting in the span must sum to the register's consumption within the tolerance.
 */
export function sumCheck(
  uses: readonly RegisterUse[],
  intervals: readonly BillingReading[],
  windowFromMs: number,
  windowToMs: number,
): RegisterFinding[] {
  const findings: RegisterFinding[] = [];
  for (const use of uses) {
    if (use.fromMs < windowFromMs || use.toMs > windowToMs) continue;
    const own = intervals.filter(
      (reading) =>
        reading.meterId === use.meterId &&
        !isRegisterRead(reading) &&
        reading.intervalStartMs >= use.fromMs &&
        reading.intervalStartMs < use.toMs,
    );
    if (own.length === 0) continue;
    const sumMicro = own.reduce((sum, reading) => sum + reading.valueMicro, 0);
    const differenceKwh = (sumMicro - use.energyMicro) / VALUE_MICRO_PER_UNIT;
    const registerKwh = use.energyMicro / VALUE_MICRO_PER_UNIT;
    const tolerance = Math.max(SUM_CHECK_KWH_MIN, (registerKwh * SUM_CHECK_PERCENT) / 100);
    if (Math.abs(differenceKwh) <= tolerance) continue;
    findings.push({
      code: 'sum_check',
      meterId: use.meterId,
      channel: use.channel,
      fromMs: use.fromMs,
      toMs: use.toMs,
      message:
        `meter ${use.meterId}: its intervals sum to ${sumMicro / VALUE_MICRO_PER_UNIT} kWh ` +
        `between two reads of ${use.channel}, which differ by ${registerKwh} kWh`,
      value: differenceKwh,
      threshold: tolerance,
    });
  }
  return findings;
}
