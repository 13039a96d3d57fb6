// Goal: invoices for flat, tiered, TOU and demand schedules are exact to the cent, including months
// with a DST change (743 and 721 hours), a meter exchange mid-period, a minimum charge and tax.
// Method: generated 15-minute readings billed through determinantsOf and servicePointLines; each
// expected total is worked out by hand in the comment above it, from the kWh and the tariff sheet.
import { describe, expect, it } from 'vitest';
import { parsePeriod, periodSpan, localMidnightMs } from './billing-period.js';
import { determinantsOf, type BillingReading, type MeterSpan } from './determinants.js';
import { servicePointLines, taxLine, totalCents } from './invoice.js';
import { parseUrdbRate, type Tariff } from './tariff.js';

const SLOT_MS = 900_000;
const flat = (period: number) => Array.from({ length: 12 }, () => Array<number>(24).fill(period));
/** Weekdays 16:00-21:00 are period 1; everything else period 0. */
const peakWeekday = Array.from({ length: 12 }, () =>
  Array.from({ length: 24 }, (_, hour) => (hour >= 16 && hour < 21 ? 1 : 0)),
);

function tariffOf(rate: Record<string, unknown>): Tariff {
  const result = parseUrdbRate({ label: 'T', name: 'T', ...rate });
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.tariff;
}

function series(
  meterId: string,
  fromMs: number,
  toMs: number,
  valueMicro: (startMs: number) => number,
): BillingReading[] {
  const readings: BillingReading[] = [];
  for (let startMs = fromMs; startMs < toMs; startMs += SLOT_MS) {
    readings.push({
      meterId,
      channel: '1',
      intervalStartMs: startMs,
      intervalSeconds: 900,
      valueMicro: valueMicro(startMs),
      quality: 'actual',
      idempotencyKey: `${meterId}-${startMs}`,
      version: 1,
    });
  }
  return readings;
}

function bill(
  tariff: Tariff,
  timeZone: string,
  periodText: string,
  readings: BillingReading[],
  spans?: MeterSpan[],
) {
  const period = parsePeriod(periodText)!;
  const span = periodSpan(period, timeZone);
  const meterSpans = spans ?? [{ meterId: 'M1', fromMs: span.startMs, toMs: span.endMs }];
  const d = determinantsOf(tariff, timeZone, meterSpans, readings, {
    days: span.days,
    month: period.month - 1,
  });
  const lines = servicePointLines('SP', tariff, d);
  return { d, lines, span, total: totalCents(lines) };
}

function whole(timeZone: string, periodText: string, valueMicro: (ms: number) => number) {
  const span = periodSpan(parsePeriod(periodText)!, timeZone);
  return series('M1', span.startMs, span.endMs, valueMicro);
}

describe('flat', () => {
  const tariff = tariffOf({
    fixedchargefirstmeter: 10,
    energyratestructure: [[{ rate: 0.11 }]],
    energyweekdayschedule: flat(0),
    energyweekendschedule: flat(0),
  });

  it('bills October (744 hours) exactly', () => {
    // 2976 intervals x 0.25 kWh = 744 kWh x $0.11 = $81.84, plus $10.00 = $91.84.
    const result = bill(
      tariff,
      'America/Chicago',
      '2026-10',
      whole('America/Chicago', '2026-10', () => 250_000),
    );
    expect(result.d.expectedIntervals).toBe(2976);
    expect(result.d.energyMicro).toBe(744_000_000);
    expect(result.total).toBe(9184);
  });

  it('bills March with its 23-hour day (743 hours) exactly', () => {
    // Chicago springs forward on 2026-03-08: 743 h x 4 = 2972 intervals x 0.25 = 743 kWh
    // x $0.11 = $81.73, plus $10.00 = $91.73.
    const result = bill(
      tariff,
      'America/Chicago',
      '2026-03',
      whole('America/Chicago', '2026-03', () => 250_000),
    );
    expect(result.span.endMs - result.span.startMs).toBe(743 * 3_600_000);
    expect(result.d.actualIntervals).toBe(2972);
    expect(result.total).toBe(9173);
  });
});

describe('leap year', () => {
  it('bills February 2028 as 29 days, daily charges and daily tier bounds included', () => {
    const tariff = tariffOf({
      fixedchargefirstmeter: 0.5,
      fixedchargeunits: '$/day',
      energyratestructure: [[{ max: 10, rate: 0.1, unit: 'kWh daily' }, { rate: 0.2 }]],
      energyweekdayschedule: flat(0),
      energyweekendschedule: flat(0),
    });
    // 29 days x 96 = 2784 intervals x 0.25 = 696 kWh; tier bound 10 x 29 = 290 kWh: 290 x $0.10
    // = $29.00, 406 x $0.20 = $81.20; fixed 29 x $0.50 = $14.50; total $124.70.
    const result = bill(
      tariff,
      'Australia/Sydney',
      '2028-02',
      whole('Australia/Sydney', '2028-02', () => 250_000),
    );
    expect(result.d.days).toBe(29);
    expect(result.d.expectedIntervals).toBe(2784);
    expect(result.total).toBe(12470);
  });
});

describe('tiered', () => {
  it('splits a month over three tiers (Schedule 35 prices)', () => {
    const tariff = tariffOf({
      fixedchargefirstmeter: 12.7,
      mincharge: 12.7,
      energyratestructure: [
        [{ max: 750, rate: 0.05419 }, { max: 1500, rate: 0.05887 }, { rate: 0.06962 }],
      ],
      energyweekdayschedule: flat(0),
      energyweekendschedule: flat(0),
    });
    // 2976 x 0.5 = 1488 kWh: 750 x 0.05419 = 40.6425 -> $40.64 (4064 c; .25 of a cent rounds
    // down); 738 x 0.05887 = 43.44606 -> $43.45; plus $12.70 = $96.79.
    const result = bill(
      tariff,
      'America/Los_Angeles',
      '2026-10',
      whole('America/Los_Angeles', '2026-10', () => 500_000),
    );
    expect(result.lines.map((l) => [l.kind, l.tier, l.quantity, l.amountCents])).toEqual([
      ['fixed', null, '1', 1270],
      ['energy', 0, '750', 4064],
      ['energy', 1, '738', 4345],
    ]);
    expect(result.total).toBe(9679);
  });

  it('adds the difference up to a minimum charge', () => {
    const tariff = tariffOf({
      fixedchargefirstmeter: 16,
      mincharge: 18,
      energyratestructure: [[{ max: 500, rate: 0.1125 }, { rate: 0.1 }]],
      energyweekdayschedule: flat(0),
      energyweekendschedule: flat(0),
    });
    // 10 kWh in one interval: 10 x 0.1125 = 1.125 -> $1.13 (half a cent rounds up); $16.00 + $1.13
    // = $17.13 < $18.00, so a minimum line of $0.87 makes $18.00.
    const span = periodSpan(parsePeriod('2026-01')!, 'UTC');
    const readings = series('M1', span.startMs, span.startMs + SLOT_MS, () => 10_000_000);
    const result = bill(tariff, 'UTC', '2026-01', readings);
    expect(result.lines.at(-1)).toMatchObject({ kind: 'minimum', amountCents: 87 });
    expect(result.total).toBe(1800);
  });
});

describe('time of use', () => {
  const tariff = tariffOf({
    energyratestructure: [[{ rate: 0.1 }], [{ rate: 0.3 }]],
    energyweekdayschedule: peakWeekday,
    energyweekendschedule: flat(0),
  });

  it('bills November with its 25-hour day in local time', () => {
    // New York falls back on Sunday 2026-11-01: 721 hours at 1 kWh an hour. Weekdays: 30 days less
    // 5 Sundays and 4 Saturdays = 21; peak 21 x 5 h = 105 kWh x $0.30 = $31.50; off-peak 616 kWh
    // x $0.10 = $61.60; total $93.10.
    const result = bill(
      tariff,
      'America/New_York',
      '2026-11',
      whole('America/New_York', '2026-11', () => 250_000),
    );
    expect(result.d.expectedIntervals).toBe(2884);
    expect(result.d.energyMicroByPeriod).toEqual([616_000_000, 105_000_000]);
    expect(result.total).toBe(9310);
  });

  it('puts a reading in the period of its local hour, not its UTC hour', () => {
    // 16:00 local in New York on Wednesday 2026-11-04 is 21:00 UTC: peak, though 21:00 is off-peak.
    const startMs = localMidnightMs(2026, 11, 4, 'America/New_York') + 16 * 3_600_000;
    const readings = series('M1', startMs, startMs + SLOT_MS, () => 1_000_000);
    const result = bill(tariff, 'America/New_York', '2026-11', readings);
    expect(result.d.energyMicroByPeriod).toEqual([0, 1_000_000]);
    expect(result.total).toBe(30);
  });
});

describe('demand', () => {
  it('bills flat demand from the peak interval (Rate 4 prices)', () => {
    const tariff = tariffOf({
      fixedchargefirstmeter: 115,
      energyratestructure: [[{ rate: 0.1025 }]],
      energyweekdayschedule: flat(0),
      energyweekendschedule: flat(0),
      flatdemandstructure: [[{ rate: 12 }]],
      flatdemandmonths: Array<number>(12).fill(0),
    });
    const span = periodSpan(parsePeriod('2026-10')!, 'America/Chicago');
    const spikeMs = span.startMs + 1000 * SLOT_MS;
    // 2975 x 0.25 + 2.5 = 746.25 kWh x $0.1025 = $76.490625 -> $76.49; peak 2.5 kWh in 15 min =
    // 10 kW x $12 = $120.00; plus $115.00 = $311.49.
    const readings = whole('America/Chicago', '2026-10', (ms) =>
      ms === spikeMs ? 2_500_000 : 250_000,
    );
    const result = bill(tariff, 'America/Chicago', '2026-10', readings);
    expect(result.d.peakDemandMicroKw).toBe(10_000_000);
    expect(result.total).toBe(31149);
  });

  it('bills demand per TOU period from the peak in each', () => {
    const tariff = tariffOf({
      energyratestructure: [[{ rate: 0 }]],
      energyweekdayschedule: flat(0),
      energyweekendschedule: flat(0),
      demandratestructure: [[{ rate: 2 }], [{ rate: 8 }]],
      demandweekdayschedule: peakWeekday,
      demandweekendschedule: flat(0),
    });
    // Wednesday 2026-10-14 17:00 Chicago: 2.5 kWh -> 10 kW in the peak period ($80.00); off-peak
    // peaks at 0.25 kWh -> 1 kW ($2.00); total $82.00.
    const spikeMs = localMidnightMs(2026, 10, 14, 'America/Chicago') + 17 * 3_600_000;
    const readings = whole('America/Chicago', '2026-10', (ms) =>
      ms === spikeMs ? 2_500_000 : 250_000,
    );
    const result = bill(tariff, 'America/Chicago', '2026-10', readings);
    expect(result.d.demandMicroKwByPeriod).toEqual([1_000_000, 10_000_000]);
    expect(result.total).toBe(8200);
  });
});

describe('meter exchange mid-period', () => {
  it('bills the old meter until the exchange and the new one from it', () => {
    const tariff = tariffOf({
      fixedchargefirstmeter: 9.86,
      energyratestructure: [[{ max: 500, rate: 0.102243 }, { rate: 0.08309 }]],
      energyweekdayschedule: flat(0),
      energyweekendschedule: flat(0),
    });
    const zone = 'America/Denver';
    const span = periodSpan(parsePeriod('2026-10')!, zone);
    const exchangeMs = localMidnightMs(2026, 10, 15, zone);
    const spans = [
      { meterId: 'OLD', fromMs: span.startMs, toMs: exchangeMs },
      { meterId: 'NEW', fromMs: exchangeMs, toMs: span.endMs },
    ];
    // Both meters report the whole month; only each one's own span counts. Old: 14 days x 96 x
    // 0.25 = 336 kWh; new: 17 x 96 x 0.5 = 816 kWh; 1152 kWh: 500 x 0.102243 = 51.1215 -> $51.12;
    // 652 x 0.08309 = 54.17468 -> $54.17; plus $9.86 = $115.15; 5% tax of $115.15 = 5.7575 ->
    // $5.76; total $120.91.
    const readings = [
      ...series('OLD', span.startMs, span.endMs, () => 250_000),
      ...series('NEW', span.startMs, span.endMs, () => 500_000),
    ];
    const result = bill(tariff, zone, '2026-10', readings, spans);
    expect(result.d.energyMicro).toBe(1_152_000_000);
    expect(result.d.expectedIntervals).toBe(2976);
    expect(result.d.actualIntervals).toBe(2976);
    expect(result.total).toBe(11515);
    const tax = taxLine('SP', result.lines, '5');
    expect(tax?.amountCents).toBe(576);
    expect(result.total + (tax?.amountCents ?? 0)).toBe(12091);
  });
});
