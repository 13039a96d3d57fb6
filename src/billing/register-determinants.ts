/**
 * Determinants of an AMR service point (one billed from register reads, src/billing/register.ts):
 * the energy its registers' uses give the period's meter spans, prorated by the rule there. A
 * register read has no time of day, so all the energy is billed in one energy period: the one the
 * tariff's schedules give the most hours of the meter spans (local time; the lower period on a
 * tie), which for a tariff without time of use is the month's only period. When the spans' hours
 * fall in more than one period the tariff is time-of-use and the bill is held (`register_tou`):
 * the split between periods is not known, and `--force` bills it at that fallback period. No
 * demand is known. Completeness is counted in hours: the hours of the meter spans are the expected
 * "intervals", and the hours a use covers are present (estimated when either of its reads is),
 * whole hours only.
 */
import assert from 'node:assert/strict';
import { isRegisterRead } from '../core/register.js';
import { localSlotter, periodOf } from './billing-period.js';
import type { Tariff } from './tariff.js';
import {
  determinantsOf,
  emptyDeterminants,
  type BillingReading,
  type Determinants,
  type MeterSpan,
} from './determinants.js';
import {
  DEFAULT_REGISTER_CONFIG,
  deriveRegisterUses,
  registerTotals,
  sumCheck,
  type RegisterConfig,
  type RegisterFinding,
  type RegisterUse,
} from './register.js';

const MS_PER_HOUR = 3_600_000;

/** Hours of the spans in each energy period of the tariff, local time; by period index. */
export function energyPeriodHours(
  tariff: Tariff,
  timeZone: string,
  spans: readonly MeterSpan[],
): Map<number, number> {
  const slotOf = localSlotter(timeZone);
  const hours = new Map<number, number>();
  for (const span of spans) {
    // Hour starts from the span's start; a span of a month is at most 745 of them.
    for (let atMs = span.fromMs; atMs < span.toMs; atMs += MS_PER_HOUR) {
      const period = periodOf(tariff.energyWeekday, tariff.energyWeekend, slotOf(atMs));
      hours.set(period, (hours.get(period) ?? 0) + 1);
    }
  }
  return hours;
}

/** The period with the most hours (the lower on a tie); 0 when there are no hours. */
export function fallbackEnergyPeriod(hours: ReadonlyMap<number, number>): number {
  let best = 0;
  let bestHours = -1;
  for (const [period, count] of [...hours].sort((a, b) => a[0] - b[0])) {
    if (count > bestHours) {
      best = period;
      bestHours = count;
    }
  }
  return best;
}

export function registerDeterminants(
  tariff: Tariff,
  timeZone: string,
  spans: readonly MeterSpan[],
  uses: readonly RegisterUse[],
  frame: { days: number; month: number },
): { determinants: Determinants; used: RegisterUse[]; periodHours: Map<number, number> } {
  const totals = registerTotals(uses, spans);
  const determinants = emptyDeterminants(tariff, frame.days, frame.month);
  const periodHours = energyPeriodHours(tariff, timeZone, spans);
  const period = fallbackEnergyPeriod(periodHours);
  // Tariff parsing rejects a schedule naming a period the rate structure lacks.
  assert.ok(period < determinants.energyMicroByPeriod.length, 'the schedule names a known period');
  determinants.energyMicroByPeriod[period] = totals.energyMicro;
  determinants.energyMicro = totals.energyMicro;
  determinants.estimatedEnergyMicro = totals.estimatedEnergyMicro;
  determinants.actualIntervals = Math.floor(totals.actualMs / MS_PER_HOUR);
  determinants.estimatedIntervals = Math.floor(totals.estimatedMs / MS_PER_HOUR);
  determinants.expectedIntervals = Math.ceil(totals.spanMs / MS_PER_HOUR);
  return { determinants, used: totals.used, periodHours };
}

/** A service point's determinants from its ledger rows, whether interval or AMR. */
export interface ServicePointDeterminants<R extends BillingReading> {
  determinants: Determinants;
  /** The ledger rows the determinants were computed from (for the invoice's ledger digest). */
  used: R[];
  /** Register findings in the period: backwards registers and failed sum checks. */
  findings: RegisterFinding[];
  kind: 'interval' | 'register';
  /** The register uses billed (AMR service points; empty for interval ones), for proof bundles. */
  registerUses: RegisterUse[];
}

/**
 * Interval determinants when the service point's meters have intervals in the period; otherwise
 * AMR determinants from register reads. Register reads never enter interval sums; on an interval
 * meter they feed the sum check.
 */
export function servicePointDeterminants<R extends BillingReading>(
  tariff: Tariff,
  timeZone: string,
  spans: readonly MeterSpan[],
  rows: readonly R[],
  frame: { days: number; month: number },
): ServicePointDeterminants<R> {
  const intervals = rows.filter(
    (row) =>
      !isRegisterRead(row) &&
      spans.some(
        (s) =>
          s.meterId === row.meterId &&
          row.intervalStartMs >= s.fromMs &&
          row.intervalStartMs < s.toMs,
      ),
  );
  const meters = new Set(spans.map((span) => span.meterId));
  const reads = rows.filter((row) => isRegisterRead(row) && meters.has(row.meterId));
  const derivation = deriveRegisterUses(reads, (meterId) => configOf(spans, meterId));
  const findings = derivation.findings.filter((finding) => overlapsSpans(finding, spans));
  if (intervals.length === 0 && reads.length > 0) {
    const { determinants, used, periodHours } = registerDeterminants(
      tariff,
      timeZone,
      spans,
      derivation.uses,
      frame,
    );
    const keys = new Set(used.flatMap((use) => use.reads.map((read) => read.idempotencyKey)));
    const usedRows = reads.filter((row) => keys.has(row.idempotencyKey));
    if (periodHours.size > 1 && determinants.energyMicro > 0)
      findings.push(timeOfUse(spans, periodHours, determinants.energyMicroByPeriod));
    return { determinants, used: usedRows, findings, kind: 'register', registerUses: used };
  }
  const determinants = determinantsOf(tariff, timeZone, spans, intervals, frame);
  const fromMs = Math.min(...spans.map((span) => span.fromMs));
  const toMs = Math.max(...spans.map((span) => span.toMs));
  findings.push(...sumCheck(derivation.uses, intervals, fromMs, toMs));
  return { determinants, used: intervals, findings, kind: 'interval', registerUses: [] };
}

/** The hold of an AMR service point on a time-of-use tariff: its kWh have no time of day. */
function timeOfUse(
  spans: readonly MeterSpan[],
  periodHours: ReadonlyMap<number, number>,
  energyMicroByPeriod: readonly number[],
): RegisterFinding {
  const first = spans[0];
  const meters = [...new Set(spans.map((span) => span.meterId))].join(', ');
  const billed = energyMicroByPeriod.findIndex((energy) => energy > 0);
  const split = [...periodHours]
    .sort((a, b) => a[0] - b[0])
    .map(([period, hours]) => `period ${period}: ${hours} h`)
    .join(', ');
  return {
    code: 'register_tou',
    meterId: first?.meterId ?? '',
    channel: '',
    fromMs: Math.min(...spans.map((span) => span.fromMs)),
    toMs: Math.max(...spans.map((span) => span.toMs)),
    message:
      `the tariff prices energy by time of use (${split}) but meter ${meters} is read as a ` +
      `register, which gives kWh per read span only; --force bills all of it in period ` +
      `${billed}, the one with the most hours`,
    value: periodHours.size,
    threshold: 1,
  };
}

function configOf(spans: readonly MeterSpan[], meterId: string): RegisterConfig {
  const span = spans.find((s) => s.meterId === meterId);
  return {
    registerDigits: span?.registerDigits ?? DEFAULT_REGISTER_CONFIG.registerDigits,
    multiplier: span?.multiplier ?? DEFAULT_REGISTER_CONFIG.multiplier,
  };
}

function overlapsSpans(finding: RegisterFinding, spans: readonly MeterSpan[]): boolean {
  return spans.some(
    (span) =>
      span.meterId === finding.meterId && finding.fromMs < span.toMs && span.fromMs < finding.toMs,
  );
}
