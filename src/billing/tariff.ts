/**
 * Rate schedules in the OpenEI Utility Rate Database (URDB) JSON format, read into an exact model:
 * every price in nanodollars, every tier bound in millionths of its unit, every schedule checked to
 * be 12 months x 24 hours of period indices that exist. A problem is reported with its field path,
 * the rule and the value, never guessed around (docs/billing.md lists the fields read).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { parseDollars, parseScaled } from './money.js';

/** Tier units billed: a monthly kWh bound, a bound per day of the period, per kW of demand. */
export const ENERGY_TIER_UNITS = ['kWh', 'kWh daily', 'kWh/kW'] as const;
export type EnergyTierUnit = (typeof ENERGY_TIER_UNITS)[number];
export const CHARGE_UNITS = ['$/month', '$/day'] as const;
export type ChargeUnit = (typeof CHARGE_UNITS)[number];

/** One tier: its upper bound (null: no bound) and its price (rate + adj). */
export interface Tier {
  /** Millionths of the tier's unit (kWh or kW); null for the last, unbounded tier. */
  maxMicro: bigint | null;
  rateNano: bigint;
  adjNano: bigint;
  unit: EnergyTierUnit;
}

/** A month x hour map of period indices (12 rows of 24), as URDB writes it. */
export type Schedule = readonly (readonly number[])[];

export interface Tariff {
  label: string;
  name: string;
  utility: string;
  energyPeriods: Tier[][];
  energyWeekday: Schedule;
  energyWeekend: Schedule;
  demandPeriods: Tier[][];
  demandWeekday: Schedule;
  demandWeekend: Schedule;
  flatDemandPeriods: Tier[][];
  /** One flat-demand period index per month (12). */
  flatDemandMonths: readonly number[];
  fixedNano: bigint;
  fixedUnit: ChargeUnit;
  minNano: bigint;
  minUnit: ChargeUnit;
  /** Effective from and until (URDB `startdate`, `enddate`, epoch seconds); null when open. */
  startMs: number | null;
  endMs: number | null;
}

const numberish = z.union([z.number(), z.string()]);
const tierSchema = z.object({
  max: numberish.optional(),
  rate: numberish.optional(),
  adj: numberish.optional(),
  unit: z.string().optional(),
});
const periodsSchema = z.array(z.array(tierSchema).min(1));
const scheduleSchema = z.array(z.array(z.number().int().min(0)).length(24)).length(12);

/** The URDB rate object fields amisync reads; others are kept in the stored JSON, unread. */
export const urdbRateSchema = z.object({
  label: z.string().min(1).max(200),
  name: z.string().min(1).max(500),
  utility: z.string().max(500).optional(),
  energyratestructure: periodsSchema.optional(),
  energyweekdayschedule: scheduleSchema.optional(),
  energyweekendschedule: scheduleSchema.optional(),
  demandratestructure: periodsSchema.optional(),
  demandweekdayschedule: scheduleSchema.optional(),
  demandweekendschedule: scheduleSchema.optional(),
  flatdemandstructure: periodsSchema.optional(),
  flatdemandmonths: z.array(z.number().int().min(0)).length(12).optional(),
  fixedchargefirstmeter: numberish.optional(),
  fixedchargeunits: z.string().optional(),
  mincharge: numberish.optional(),
  minchargeunits: z.string().optional(),
  startdate: z.number().int().optional(),
  enddate: z.number().int().optional(),
});
export type UrdbRate = z.infer<typeof urdbRateSchema>;

/** One problem of a tariff file: where (a field path), which rule, the value and a sentence. */
export interface TariffProblem {
  path: string;
  rule: string;
  value: unknown;
  message: string;
}

export type TariffParse =
  | { ok: true; tariff: Tariff; rate: UrdbRate; json: string; sha256: string }
  | { ok: false; problems: TariffProblem[] };

/** The rate objects of a file: one URDB rate object, or a URDB API response's `items`. */
export function rateObjectsOf(document: unknown): unknown[] {
  if (typeof document === 'object' && document !== null && 'items' in document) {
    const items = (document as { items: unknown }).items;
    return Array.isArray(items) ? items : [items];
  }
  return [document];
}

function pathOf(prefix: string, path: readonly PropertyKey[]): string {
  return [
    prefix,
    ...path.map((part) => (typeof part === 'number' ? `[${part}]` : `.${String(part)}`)),
  ]
    .join('')
    .replace(/^\./, '');
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let value = root;
  for (const part of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[part];
  }
  return value;
}

/** Canonical text of a rate object (sorted keys), whose sha256 names the tariff exactly. */
export function canonicalRateJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalRateJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalRateJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Reads one URDB rate object; `prefix` names it in problems (e.g. `items[2]`). */
export function parseUrdbRate(raw: unknown, prefix = ''): TariffParse {
  const parsed = urdbRateSchema.safeParse(raw);
  if (!parsed.success) {
    return {
      ok: false,
      problems: parsed.error.issues.map((issue) => ({
        path: pathOf(prefix, issue.path),
        rule: issue.code,
        value: valueAt(raw, issue.path),
        message: issue.message,
      })),
    };
  }
  const problems: TariffProblem[] = [];
  const tariff = buildTariff(parsed.data, prefix, problems);
  if (problems.length > 0) return { ok: false, problems };
  const json = canonicalRateJson(raw);
  const sha256 = createHash('sha256').update(json, 'utf8').digest('hex');
  return { ok: true, tariff, rate: parsed.data, json, sha256 };
}

/** The model of a rate object already checked by the schema (stored tariffs are read so too). */
export function tariffFromJson(json: string): Tariff {
  const result = parseUrdbRate(JSON.parse(json) as unknown);
  if (!result.ok)
    throw new Error(`a stored tariff no longer reads: ${result.problems[0]?.message}`);
  return result.tariff;
}

type Problems = TariffProblem[];

function price(value: number | string | undefined, path: string, problems: Problems): bigint {
  if (value === undefined) return 0n;
  const result = parseDollars(value);
  if (result.ok) return result.scaled;
  problems.push({ path, rule: 'price.decimal', value, message: result.message });
  return 0n;
}

function chargeUnit(value: string | undefined, path: string, problems: Problems): ChargeUnit {
  if (value === undefined) return '$/month';
  if ((CHARGE_UNITS as readonly string[]).includes(value)) return value as ChargeUnit;
  problems.push({
    path,
    rule: 'unit.supported',
    value,
    message: `${JSON.stringify(value)} is not a charge unit amisync bills (${CHARGE_UNITS.join(', ')})`,
  });
  return '$/month';
}

function tiersOf(
  periods: z.infer<typeof periodsSchema> | undefined,
  path: string,
  defaultUnit: EnergyTierUnit,
  problems: Problems,
): Tier[][] {
  return (periods ?? []).map((tiers, period) =>
    tiers.map((tier, index) => {
      const at = `${path}[${period}][${index}]`;
      const unit = tier.unit ?? defaultUnit;
      if (!(ENERGY_TIER_UNITS as readonly string[]).includes(unit)) {
        problems.push({
          path: `${at}.unit`,
          rule: 'unit.supported',
          value: tier.unit,
          message: `${JSON.stringify(unit)} is not a tier unit amisync bills (${ENERGY_TIER_UNITS.join(', ')})`,
        });
      }
      let maxMicro: bigint | null = null;
      if (tier.max !== undefined) {
        const max = parseScaled(tier.max, 6, 'units');
        if (max.ok && max.scaled > 0n) maxMicro = max.scaled;
        else {
          problems.push({
            path: `${at}.max`,
            rule: 'tier.max',
            value: tier.max,
            message: max.ok ? 'a tier bound must be above zero' : max.message,
          });
        }
      }
      if (tier.rate === undefined && tier.adj === undefined) {
        problems.push({
          path: `${at}.rate`,
          rule: 'tier.rate',
          value: undefined,
          message: 'a tier needs a rate',
        });
      }
      return {
        maxMicro,
        rateNano: price(tier.rate, `${at}.rate`, problems),
        adjNano: price(tier.adj, `${at}.adj`, problems),
        unit: unit as EnergyTierUnit,
      };
    }),
  );
}

function checkTierOrder(periods: Tier[][], path: string, problems: Problems): void {
  periods.forEach((tiers, period) => {
    tiers.forEach((tier, index) => {
      const isLast = index === tiers.length - 1;
      const previous = tiers[index - 1]?.maxMicro ?? 0n;
      if (!isLast && tier.maxMicro === null) {
        problems.push({
          path: `${path}[${period}][${index}].max`,
          rule: 'tier.max',
          value: undefined,
          message: 'every tier but the last needs a max',
        });
      } else if (tier.maxMicro !== null && tier.maxMicro <= previous) {
        problems.push({
          path: `${path}[${period}][${index}].max`,
          rule: 'tier.order',
          value: Number(tier.maxMicro) / 1e6,
          message: 'tier bounds must increase',
        });
      }
    });
  });
}

function checkSchedule(
  schedule: Schedule | undefined,
  periods: number,
  path: string,
  problems: Problems,
): Schedule {
  if (schedule === undefined) {
    if (periods > 0) {
      problems.push({
        path,
        rule: 'schedule.required',
        value: undefined,
        message: `${path} is required when its rate structure is given`,
      });
    }
    return [];
  }
  schedule.forEach((hours, month) =>
    hours.forEach((period, hour) => {
      if (period >= periods) {
        problems.push({
          path: `${path}[${month}][${hour}]`,
          rule: 'schedule.period',
          value: period,
          message: `period ${period} does not exist (the structure has ${periods})`,
        });
      }
    }),
  );
  return schedule;
}

function buildTariff(rate: UrdbRate, prefix: string, problems: Problems): Tariff {
  const at = (field: string): string => (prefix === '' ? field : `${prefix}.${field}`);
  const energyPeriods = tiersOf(
    rate.energyratestructure,
    at('energyratestructure'),
    'kWh',
    problems,
  );
  const demandPeriods = tiersOf(
    rate.demandratestructure,
    at('demandratestructure'),
    'kWh',
    problems,
  );
  const flatDemandPeriods = tiersOf(
    rate.flatdemandstructure,
    at('flatdemandstructure'),
    'kWh',
    problems,
  );
  checkTierOrder(energyPeriods, at('energyratestructure'), problems);
  checkTierOrder(demandPeriods, at('demandratestructure'), problems);
  checkTierOrder(flatDemandPeriods, at('flatdemandstructure'), problems);
  const flatMonths =
    rate.flatdemandmonths ?? (flatDemandPeriods.length > 0 ? Array<number>(12).fill(0) : []);
  flatMonths.forEach((period, month) => {
    if (period >= flatDemandPeriods.length) {
      problems.push({
        path: `${at('flatdemandmonths')}[${month}]`,
        rule: 'schedule.period',
        value: period,
        message: `period ${period} does not exist (the structure has ${flatDemandPeriods.length})`,
      });
    }
  });
  return {
    label: rate.label,
    name: rate.name,
    utility: rate.utility ?? '',
    energyPeriods,
    energyWeekday: checkSchedule(
      rate.energyweekdayschedule,
      energyPeriods.length,
      at('energyweekdayschedule'),
      problems,
    ),
    energyWeekend: checkSchedule(
      rate.energyweekendschedule,
      energyPeriods.length,
      at('energyweekendschedule'),
      problems,
    ),
    demandPeriods,
    demandWeekday: checkSchedule(
      rate.demandweekdayschedule,
      demandPeriods.length,
      at('demandweekdayschedule'),
      problems,
    ),
    demandWeekend: checkSchedule(
      rate.demandweekendschedule,
      demandPeriods.length,
      at('demandweekendschedule'),
      problems,
    ),
    flatDemandPeriods,
    flatDemandMonths: flatMonths,
    fixedNano: price(rate.fixedchargefirstmeter, at('fixedchargefirstmeter'), problems),
    fixedUnit: chargeUnit(rate.fixedchargeunits, at('fixedchargeunits'), problems),
    minNano: price(rate.mincharge, at('mincharge'), problems),
    minUnit: chargeUnit(rate.minchargeunits, at('minchargeunits'), problems),
    startMs: rate.startdate === undefined ? null : rate.startdate * 1000,
    endMs: rate.enddate === undefined ? null : rate.enddate * 1000,
  };
}
