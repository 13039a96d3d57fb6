/**
 * Determinants of an AMR service point (one billed from register reads, src/billing/register.ts):
 * the energy its registers' uses give the period's meter spans, prorated by the rule there. A
 * register read has no time of day, so the energy is billed in the tariff's first energy period
 * (URDB period 0) and no demand is known. Completeness is counted in hours: the hours of the meter
 * spans are the expected "intervals", and the hours a use covers are present (estimated when
 * either of its reads is), whole hours only.
 */
import { isRegisterRead } from '../core/register.js';
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

export function registerDeterminants(
  tariff: Tariff,
  spans: readonly MeterSpan[],
  uses: readonly RegisterUse[],
  frame: { days: number; month: number },
): { determinants: Determinants; used: RegisterUse[] } {
  const totals = registerTotals(uses, spans);
  const determinants = emptyDeterminants(tariff, frame.days, frame.month);
  determinants.energyMicroByPeriod[0] = totals.energyMicro;
  determinants.energyMicro = totals.energyMicro;
  determinants.estimatedEnergyMicro = totals.estimatedEnergyMicro;
  determinants.actualIntervals = Math.floor(totals.actualMs / MS_PER_HOUR);
  determinants.estimatedIntervals = Math.floor(totals.estimatedMs / MS_PER_HOUR);
  determinants.expectedIntervals = Math.ceil(totals.spanMs / MS_PER_HOUR);
  return { determinants, used: totals.used };
}

/** A service point's determinants from its ledger rows, whether interval or AMR. */
export interface ServicePointDeterminants<R extends BillingReading> {
  determinants: Determinants;
  /** The ledger rows the determinants were computed from (for the invoice's ledger digest). */
  used: R[];
  /** Register findings in the period: backwards registers and failed sum checks. */
  findings: RegisterFinding[];
  kind: 'interval' | 'register';
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
    const { determinants, used } = registerDeterminants(tariff, spans, derivation.uses, frame);
    const keys = new Set(used.flatMap((use) => use.reads.map((read) => read.idempotencyKey)));
    const usedRows = reads.filter((row) => keys.has(row.idempotencyKey));
    return { determinants, used: usedRows, findings, kind: 'register' };
  }
  const determinants = determinantsOf(tariff, timeZone, spans, intervals, frame);
  const fromMs = Math.min(...spans.map((span) => span.fromMs));
  const toMs = Math.max(...spans.map((span) => span.toMs));
  findings.push(...sumCheck(derivation.uses, intervals, fromMs, toMs));
  return { determinants, used: intervals, findings, kind: 'interval' };
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
