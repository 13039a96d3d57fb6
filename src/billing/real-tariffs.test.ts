// Goal: four real tariffs, written as URDB JSON from their published pages (test/fixtures/urdb),
// bill generated load to the cent that an independent calculation from the sheet's figures gives.
// Method: seeded 15-minute load for a month; the engine reads the fixture file, while the expected
// total is computed here from the sheet's prices typed in again, with milli-kWh and BigInt only.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parsePeriod, periodSpan } from './billing-period.js';
import { determinantsOf, type BillingReading } from './determinants.js';
import { servicePointLines, totalCents } from './invoice.js';
import { parseUrdbRate } from './tariff.js';

const ZONE = 'America/New_York';

function fixture(name: string) {
  const text = readFileSync(new URL(`../../test/fixtures/urdb/${name}.json`, import.meta.url));
  const result = parseUrdbRate(JSON.parse(text.toString('utf8')) as unknown);
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.tariff;
}

/** Seeded load in whole watt-hours (0.050 to 1.549 kWh per 15 minutes). */
function load(seed: number, periodText: string, scale: number) {
  const span = periodSpan(parsePeriod(periodText)!, ZONE);
  let state = seed;
  const wattHours: number[] = [];
  const readings: BillingReading[] = [];
  for (let ms = span.startMs; ms < span.endMs; ms += 900_000) {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    const wh = Math.floor(((50 + (state % 1500)) * scale) / 100);
    wattHours.push(wh);
    readings.push({
      meterId: 'M1',
      channel: '1',
      intervalStartMs: ms,
      intervalSeconds: 900,
      valueMicro: wh * 1000,
      quality: 'actual',
      idempotencyKey: String(ms),
      version: 1,
    });
  }
  return { span, wattHours, readings, month: parsePeriod(periodText)!.month - 1 };
}

function engineTotal(name: string, generated: ReturnType<typeof load>): number {
  const tariff = fixture(name);
  const d = determinantsOf(
    tariff,
    ZONE,
    [{ meterId: 'M1', fromMs: generated.span.startMs, toMs: generated.span.endMs }],
    generated.readings,
    { days: generated.span.days, month: generated.month },
  );
  return totalCents(servicePointLines('SP', tariff, d));
}

// The independent side: prices as the sheets print them, in millionths of a dollar.
const micro = (dollars: string): bigint => {
  const [whole = '0', fraction = ''] = dollars.split('.');
  return BigInt(whole) * 1_000_000n + BigInt(fraction.padEnd(6, '0'));
};
/** Cents of Wh x micro-dollars per kWh (1e-9 $), half away from zero. */
const cents = (wh: bigint, microPerKwh: bigint): number =>
  Number((wh * microPerKwh + 5_000_000n) / 10_000_000n);

function tiered(wh: bigint, tiers: [number | null, string][]): number {
  let below = 0n;
  let sum = 0;
  for (const [maxKwh, price] of tiers) {
    const top = maxKwh === null ? wh : BigInt(maxKwh) * 1000n < wh ? BigInt(maxKwh) * 1000n : wh;
    if (top > below) sum += cents(top - below, micro(price));
    below = top > below ? top : below;
  }
  return sum;
}

const totalWh = (g: ReturnType<typeof load>) => BigInt(g.wattHours.reduce((a, b) => a + b, 0));

describe('real tariffs against generated load', () => {
  it('Modern Electric Water Schedule 35: three tiers', () => {
    for (const [seed, scale] of [
      [1, 100],
      [2, 250],
      [3, 20],
    ] as const) {
      const g = load(seed, '2026-10', scale);
      const energy = tiered(totalWh(g), [
        [750, '0.05419'],
        [1500, '0.05887'],
        [null, '0.06962'],
      ]);
      const expected = Math.max(1270 + energy, 1270);
      expect(engineTotal('modern-electric-water-schedule-35', g), `seed ${seed}`).toBe(expected);
    }
  });

  it('City of Anderson Residential Service: two tiers, six-decimal prices', () => {
    const g = load(7, '2026-11', 60);
    const expected =
      986 +
      tiered(totalWh(g), [
        [500, '0.102243'],
        [null, '0.083090'],
      ]);
    expect(engineTotal('city-of-anderson-residential', g)).toBe(expected);
  });

  it('WIEC Large Power Rate 4: energy plus demand at the peak 15 minutes', () => {
    const g = load(11, '2026-10', 900);
    const peakWh = BigInt(Math.max(...g.wattHours));
    // kW = Wh x 4 / 1000; $12 per kW: cents = Wh x 4 x 1200 / 1000.
    const demandCents = Number((peakWh * 4n * 1200n + 500n) / 1000n);
    const expected = 11_500 + cents(totalWh(g), micro('0.1025')) + demandCents;
    expect(engineTotal('wiec-large-power-rate-4', g)).toBe(expected);
  });

  it('Elberton Residential: summer and non-summer tiers by local month', () => {
    const summer = load(5, '2026-10', 150);
    const winter = load(5, '2027-01', 150);
    const summerEnergy = tiered(totalWh(summer), [
      [500, '0.1125'],
      [1000, '0.1175'],
      [null, '0.1250'],
    ]);
    const winterEnergy = tiered(totalWh(winter), [
      [500, '0.1125'],
      [1000, '0.1025'],
      [null, '0.0950'],
    ]);
    expect(engineTotal('elberton-residential-seasonal', summer)).toBe(
      Math.max(1600 + summerEnergy, 1800),
    );
    expect(engineTotal('elberton-residential-seasonal', winter)).toBe(
      Math.max(1600 + winterEnergy, 1800),
    );
    expect(summerEnergy).not.toBe(winterEnergy);
  });
});
