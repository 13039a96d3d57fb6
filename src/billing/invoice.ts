/**
 * Invoice lines from determinants and a tariff: a fixed charge, energy per TOU period and tier,
 * demand per demand period and tier, flat demand, a minimum charge and tax. Every amount is exact
 * in femtodollars until each line is rounded once to a whole cent, half away from zero; the total
 * is the sum of the rounded lines (docs/billing.md, "Rounding").
 */
import { formatNanodollars, nanoToFemto, parseScaled, roundToCents } from './money.js';
import type { Determinants } from './determinants.js';
import type { Tariff, Tier } from './tariff.js';

export const LINE_KINDS = ['fixed', 'energy', 'demand', 'flat-demand', 'minimum', 'tax'] as const;
export type LineKind = (typeof LINE_KINDS)[number];

export interface InvoiceLine {
  kind: LineKind;
  servicePointId: string;
  /** The tariff's TOU period and tier (0-based, as URDB numbers them); null when not applicable. */
  period: number | null;
  tier: number | null;
  description: string;
  /** The quantity billed as an exact decimal text, in `unit`. */
  quantity: string;
  unit: string;
  /** Price per unit in dollars, exact decimal text. */
  price: string;
  amountCents: number;
}

const MICRO = 1_000_000n;

function decimalText(micro: bigint): string {
  const negative = micro < 0n;
  const text = (negative ? -micro : micro).toString().padStart(7, '0');
  const fraction = text.slice(-6).replace(/0+$/, '');
  return `${negative ? '-' : ''}${text.slice(0, -6)}${fraction === '' ? '' : `.${fraction}`}`;
}

/** The upper bound of a tier in millionths of kWh or kW, for this period's determinants. */
function boundMicro(tier: Tier, d: Determinants): bigint | null {
  if (tier.maxMicro === null) return null;
  if (tier.unit === 'kWh daily') return tier.maxMicro * BigInt(d.days);
  if (tier.unit === 'kWh/kW') return (tier.maxMicro * BigInt(d.peakDemandMicroKw)) / MICRO;
  return tier.maxMicro;
}

interface TierShare {
  tier: number;
  quantityMicro: bigint;
  priceNano: bigint;
}

/** A quantity split over tiers: each tier takes up to its bound, the rest goes higher. */
export function splitTiers(
  quantityMicro: bigint,
  tiers: readonly Tier[],
  d: Determinants,
): TierShare[] {
  const shares: TierShare[] = [];
  let below = 0n;
  tiers.forEach((tier, index) => {
    const bound = boundMicro(tier, d);
    const top =
      bound === null || index === tiers.length - 1
        ? quantityMicro
        : bound < quantityMicro
          ? bound
          : quantityMicro;
    const share = top > below ? top - below : 0n;
    if (share > 0n) {
      shares.push({ tier: index, quantityMicro: share, priceNano: tier.rateNano + tier.adjNano });
    }
    if (top > below) below = top;
  });
  return shares;
}

function chargeLines(
  kind: 'energy' | 'demand' | 'flat-demand',
  servicePointId: string,
  periods: readonly (readonly Tier[])[],
  quantities: readonly number[],
  d: Determinants,
): InvoiceLine[] {
  const unit = kind === 'energy' ? 'kWh' : 'kW';
  const lines: InvoiceLine[] = [];
  quantities.forEach((quantity, period) => {
    const tiers = periods[period];
    if (tiers === undefined || quantity === 0) return;
    for (const share of splitTiers(BigInt(quantity), tiers, d)) {
      if (share.quantityMicro === 0n) continue;
      lines.push({
        kind,
        servicePointId,
        period,
        tier: share.tier,
        description: `${kind} period ${period} tier ${share.tier}`,
        quantity: decimalText(share.quantityMicro),
        unit,
        price: formatNanodollars(share.priceNano),
        amountCents: roundToCents(share.quantityMicro * share.priceNano),
      });
    }
  });
  return lines;
}

function chargeCents(nano: bigint, unit: string, days: number): number {
  return roundToCents(nanoToFemto(unit === '$/day' ? nano * BigInt(days) : nano));
}

/** The lines of one service point: fixed, energy, demand, flat demand and minimum charge. */
export function servicePointLines(
  servicePointId: string,
  tariff: Tariff,
  d: Determinants,
): InvoiceLine[] {
  const lines: InvoiceLine[] = [];
  if (tariff.fixedNano !== 0n) {
    const daily = tariff.fixedUnit === '$/day';
    lines.push({
      kind: 'fixed',
      servicePointId,
      period: null,
      tier: null,
      description: 'fixed charge',
      quantity: daily ? String(d.days) : '1',
      unit: daily ? 'day' : 'month',
      price: formatNanodollars(tariff.fixedNano),
      amountCents: chargeCents(tariff.fixedNano, tariff.fixedUnit, d.days),
    });
  }
  lines.push(
    ...chargeLines('energy', servicePointId, tariff.energyPeriods, d.energyMicroByPeriod, d),
  );
  lines.push(
    ...chargeLines('demand', servicePointId, tariff.demandPeriods, d.demandMicroKwByPeriod, d),
  );
  const flatPeriod = tariff.flatDemandMonths[d.month];
  if (flatPeriod !== undefined) {
    const quantities = tariff.flatDemandPeriods.map((_, period) =>
      period === flatPeriod ? d.peakDemandMicroKw : 0,
    );
    lines.push(
      ...chargeLines('flat-demand', servicePointId, tariff.flatDemandPeriods, quantities, d),
    );
  }
  const minimumCents = chargeCents(tariff.minNano, tariff.minUnit, d.days);
  const subtotal = lines.reduce((sum, line) => sum + line.amountCents, 0);
  if (subtotal < minimumCents) {
    lines.push({
      kind: 'minimum',
      servicePointId,
      period: null,
      tier: null,
      description: 'minimum charge (difference)',
      quantity: '1',
      unit: tariff.minUnit === '$/day' ? `${d.days} days` : 'month',
      price: formatNanodollars(tariff.minNano),
      amountCents: minimumCents - subtotal,
    });
  }
  return lines;
}

/** Tax as a percentage of the lines above it (one line per service point), rounded once. */
export function taxLine(
  servicePointId: string,
  lines: readonly InvoiceLine[],
  taxPercent: string,
): InvoiceLine | null {
  const percent = parseScaled(taxPercent, 6, 'percent');
  if (!percent.ok || percent.scaled === 0n) return null;
  const base = lines.reduce((sum, line) => sum + line.amountCents, 0);
  // cents x millionths of a percent = 1e-8 cents = 1e-10 $ = 1e5 femtodollars.
  const femto = BigInt(base) * percent.scaled * 100_000n;
  return {
    kind: 'tax',
    servicePointId,
    period: null,
    tier: null,
    description: `tax ${taxPercent}%`,
    quantity: (base / 100).toFixed(2),
    unit: '$',
    price: `${taxPercent}%`,
    amountCents: roundToCents(femto),
  };
}

export function totalCents(lines: readonly InvoiceLine[]): number {
  return lines.reduce((sum, line) => sum + line.amountCents, 0);
}

/** The key two invoices of one account and period compare lines by (adjustments). */
export function lineKey(line: InvoiceLine): string {
  return [line.servicePointId, line.kind, line.period ?? '', line.tier ?? ''].join('|');
}
