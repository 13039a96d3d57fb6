/**
 * What the register (AMR) billing tests share: the accounts CSV with its register columns
 * (register_digits, multiplier) and a flat URDB tariff of $10.00 a month fixed and $0.25 a kWh,
 * the figures their hand-computed totals are worked from.
 */

/** The accounts import header, register columns included. */
export const REGISTER_ACCOUNTS_HEADER =
  'account_id,service_point_id,meter_id,tariff,time_zone,from,to,register_digits,multiplier';

/** The accounts CSV of `rows` (each one account span, without its line end) under the header. */
export function registerAccountsCsv(rows: readonly string[]): string {
  return `${[REGISTER_ACCOUNTS_HEADER, ...rows].join('\n')}\n`;
}

/** A URDB schedule with every month and hour in period 0. */
export function flatSchedule(): number[][] {
  return Array.from({ length: 12 }, () => Array<number>(24).fill(0));
}

/** $10.00 fixed a month and $0.25 a kWh in every hour, in URDB form, under `label`. */
export function flatRegisterTariff(label: string, name: string) {
  return {
    label,
    name,
    fixedchargefirstmeter: 10,
    energyratestructure: [[{ rate: 0.25 }]],
    energyweekdayschedule: flatSchedule(),
    energyweekendschedule: flatSchedule(),
  };
}
