// Goal: URDB rate objects (and API responses with `items`) read into an exact model, and every
// problem is named by field path, rule and value; prices are exact decimals, never floats.
// Method: parse small hand-written rate objects and the real fixtures; check the model and errors.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatCents, formatNanodollars, parseDollars, roundToCents } from './money.js';
import { parseUrdbRate, rateObjectsOf } from './tariff.js';

const flat = (period: number) => Array.from({ length: 12 }, () => Array<number>(24).fill(period));

function rate(extra: Record<string, unknown> = {}) {
  return {
    label: 'L1',
    name: 'Test',
    energyratestructure: [
      [
        { max: 500, rate: 0.102243 },
        { rate: 0.08309, adj: 0.001 },
      ],
    ],
    energyweekdayschedule: flat(0),
    energyweekendschedule: flat(0),
    ...extra,
  };
}

describe('money', () => {
  it('reads prices exactly from their decimal text', () => {
    expect(parseDollars(0.1)).toEqual({ ok: true, scaled: 100_000_000n });
    expect(parseDollars(1e-7)).toEqual({ ok: true, scaled: 100n });
    expect(parseDollars('12.70')).toEqual({ ok: true, scaled: 12_700_000_000n });
    expect(parseDollars(0.0000000001).ok).toBe(false);
    expect(formatNanodollars(83_090_000n)).toBe('0.08309');
  });

  it('rounds half away from zero to whole cents', () => {
    const cent = 10_000_000_000_000n;
    expect(roundToCents(cent / 2n)).toBe(1);
    expect(roundToCents(cent / 2n - 1n)).toBe(0);
    expect(roundToCents(-cent / 2n)).toBe(-1);
    expect(formatCents(-5)).toBe('-0.05');
    expect(formatCents(8467)).toBe('84.67');
  });
});

describe('parseUrdbRate', () => {
  it('reads tiers, schedules and charges', () => {
    const result = parseUrdbRate(
      rate({ fixedchargefirstmeter: 9.86, mincharge: 0.5, minchargeunits: '$/day' }),
    );
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.tariff.energyPeriods[0]).toEqual([
      { maxMicro: 500_000_000n, rateNano: 102_243_000n, adjNano: 0n, unit: 'kWh' },
      { maxMicro: null, rateNano: 83_090_000n, adjNano: 1_000_000n, unit: 'kWh' },
    ]);
    expect(result.tariff.fixedNano).toBe(9_860_000_000n);
    expect(result.tariff.minUnit).toBe('$/day');
    expect(result.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('names the same JSON with the same sha256 whatever its key order', () => {
    const a = parseUrdbRate(rate());
    const reordered = Object.fromEntries(Object.entries(rate()).reverse());
    const b = parseUrdbRate(reordered);
    expect(a.ok && b.ok && a.sha256 === b.sha256).toBe(true);
    const c = parseUrdbRate(rate({ name: 'Other' }));
    expect(a.ok && c.ok && a.sha256 !== c.sha256).toBe(true);
  });

  it('reports each problem with its path, rule and value', () => {
    const schedule = flat(0);
    schedule[6]![17] = 3;
    const result = parseUrdbRate(
      rate({
        energyweekdayschedule: schedule,
        fixedchargeunits: '$/year',
        demandratestructure: [[{ rate: 'ten' }]],
      }),
      'items[1]',
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          path: 'items[1].energyweekdayschedule[6][17]',
          rule: 'schedule.period',
          value: 3,
        }),
        expect.objectContaining({
          path: 'items[1].fixedchargeunits',
          rule: 'unit.supported',
          value: '$/year',
        }),
        expect.objectContaining({ path: 'items[1].demandratestructure[0][0].rate', value: 'ten' }),
        expect.objectContaining({
          path: 'items[1].demandweekdayschedule',
          rule: 'schedule.required',
        }),
      ]),
    );
  });

  it('refuses a schedule of the wrong shape and tiers out of order', () => {
    const short = parseUrdbRate(rate({ energyweekendschedule: flat(0).slice(0, 11) }));
    expect(short.ok === false && short.problems[0]?.path).toBe('energyweekendschedule');
    const disorder = parseUrdbRate(
      rate({
        energyratestructure: [[{ max: 500, rate: 0.1 }, { max: 400, rate: 0.2 }, { rate: 1 }]],
      }),
    );
    expect(disorder.ok === false && disorder.problems[0]?.rule).toBe('tier.order');
  });

  it('takes a URDB API response with items', () => {
    expect(rateObjectsOf({ items: [rate(), rate({ label: 'L2' })] })).toHaveLength(2);
    expect(rateObjectsOf(rate())).toHaveLength(1);
  });

  it('reads every real tariff fixture', () => {
    for (const file of [
      'modern-electric-water-schedule-35',
      'city-of-anderson-residential',
      'wiec-large-power-rate-4',
      'elberton-residential-seasonal',
    ]) {
      const json = readFileSync(new URL(`../../test/fixtures/urdb/${file}.json`, import.meta.url));
      expect(parseUrdbRate(JSON.parse(json.toString('utf8')) as unknown).ok, file).toBe(true);
    }
  });
});
