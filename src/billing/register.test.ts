// Goal: AMR consumption from register reads is exact: rollover at the meter's digits, multiplier,
// a meter exchange mid-period, an estimate replaced by a later actual, a backwards register held
// (never negative consumption), the sum check against intervals, and proration that never loses
// or doubles a millionth of a kWh however a read span is split.
// Method: register reads built in code billed through servicePointDeterminants and
// servicePointLines; each expected figure is worked out by hand in the comment above it.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { registerChannel } from '../core/register.js';
import { periodSpan, parsePeriod } from './billing-period.js';
import type { BillingReading, MeterSpan } from './determinants.js';
import { servicePointLines, totalCents } from './invoice.js';
import { servicePointDeterminants } from './register-determinants.js';
import { deriveRegisterUses, energyWithinMicro, type RegisterUse } from './register.js';
import { parseUrdbRate, type Tariff } from './tariff.js';

const ZONE = 'UTC';
const flat = Array.from({ length: 12 }, () => Array<number>(24).fill(0));
const tariff: Tariff = (() => {
  const parsed = parseUrdbRate({
    label: 'R',
    name: 'R',
    fixedchargefirstmeter: 5,
    energyratestructure: [[{ rate: 0.1 }]],
    energyweekdayschedule: flat,
    energyweekendschedule: flat,
  });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  return parsed.tariff;
})();

function read(meterId: string, at: string, kwh: number, quality = 'actual'): BillingReading {
  const channel = registerChannel('11');
  const intervalStartMs = Date.parse(at);
  return {
    meterId,
    channel,
    intervalStartMs,
    intervalSeconds: 0,
    valueMicro: Math.round(kwh * 1_000_000),
    quality,
    idempotencyKey: `${meterId}|${channel}|${intervalStartMs}|${quality}`,
    version: 1,
  };
}

function october(spans?: (startMs: number, endMs: number) => MeterSpan[]) {
  const period = parsePeriod('2026-10')!;
  const span = periodSpan(period, ZONE);
  const meterSpans = spans?.(span.startMs, span.endMs) ?? [
    { meterId: 'M1', fromMs: span.startMs, toMs: span.endMs },
  ];
  return { meterSpans, frame: { days: span.days, month: period.month - 1 } };
}

function billOctober(reads: BillingReading[], spans?: Parameters<typeof october>[0]) {
  const { meterSpans, frame } = october(spans);
  const result = servicePointDeterminants(tariff, ZONE, meterSpans, reads, frame);
  const lines = servicePointLines('SP', tariff, result.determinants);
  return { ...result, total: totalCents(lines) };
}

describe('register consumption', () => {
  it('bills the difference of reads on the period ends exactly', () => {
    // 12,345.6 to 12,845.6 = 500 kWh x $0.10 = $50.00, plus $5.00 fixed = $55.00.
    const result = billOctober([
      read('M1', '2026-10-01T00:00:00Z', 12_345.6),
      read('M1', '2026-11-01T00:00:00Z', 12_845.6),
    ]);
    expect(result.kind).toBe('register');
    expect(result.determinants.energyMicro).toBe(500_000_000);
    expect(result.determinants.expectedIntervals).toBe(744);
    expect(result.determinants.actualIntervals).toBe(744);
    expect(result.findings).toEqual([]);
    expect(result.total).toBe(5500);
  });

  it('rolls over at the configured digits and applies the multiplier', () => {
    // Five digits: 99,950 to 30 is 100,000 - 99,950 + 30 = 80 kWh on the dial, x 40 (CT ratio)
    // = 3,200 kWh x $0.10 = $320.00, plus $5.00 = $325.00.
    const result = billOctober(
      [read('M1', '2026-10-01T00:00:00Z', 99_950), read('M1', '2026-11-01T00:00:00Z', 30)],
      (fromMs, toMs) => [{ meterId: 'M1', fromMs, toMs, registerDigits: 5, multiplier: 40 }],
    );
    expect(result.determinants.energyMicro).toBe(3_200_000_000);
    expect(result.findings).toEqual([]);
    expect(result.total).toBe(32_500);
  });

  it('holds a register that goes backwards and bills no negative consumption', () => {
    // 5,000 to 4,900 on five digits is not a rollover (it would be 99,900 kWh): a finding, and
    // the span has no consumption, so only the fixed charge remains and completeness is 0.
    const result = billOctober(
      [read('M1', '2026-10-01T00:00:00Z', 5_000), read('M1', '2026-11-01T00:00:00Z', 4_900)],
      (fromMs, toMs) => [{ meterId: 'M1', fromMs, toMs, registerDigits: 5 }],
    );
    expect(result.findings).toHaveLength(1);
    expect(result.findings[0]).toMatchObject({ code: 'register_backwards', value: -100 });
    expect(result.determinants.energyMicro).toBe(0);
    expect(result.determinants.actualIntervals).toBe(0);
    // Without a digit count a fall is never taken as a rollover.
    const unconfigured = deriveRegisterUses(
      [read('M1', '2026-10-01T00:00:00Z', 99_950), read('M1', '2026-11-01T00:00:00Z', 30)],
      () => ({ registerDigits: null, multiplier: 1 }),
    );
    expect(unconfigured.uses).toEqual([]);
    expect(unconfigured.findings[0]?.code).toBe('register_backwards');
  });

  it('bills a meter exchange mid-period from the old final and the new initial read', () => {
    // Old meter M1 from 1,000 to its final 1,400 kWh at the exchange on 2026-10-16 00:00; new
    // meter M2 from its initial 0 to 250 kWh on 2026-11-01. 400 + 250 = 650 kWh x $0.10 = $65.00
    // plus $5.00 = $70.00. M2's low reading is its own register, not M1 going backwards.
    const exchangeMs = Date.parse('2026-10-16T00:00:00Z');
    const result = billOctober(
      [
        read('M1', '2026-10-01T00:00:00Z', 1_000),
        read('M1', '2026-10-16T00:00:00Z', 1_400),
        read('M2', '2026-10-16T00:00:00Z', 0),
        read('M2', '2026-11-01T00:00:00Z', 250),
      ],
      (fromMs, toMs) => [
        { meterId: 'M1', fromMs, toMs: exchangeMs },
        { meterId: 'M2', fromMs: exchangeMs, toMs },
      ],
    );
    expect(result.findings).toEqual([]);
    expect(result.determinants.energyMicro).toBe(650_000_000);
    expect(result.determinants.actualIntervals).toBe(744);
    expect(result.total).toBe(7000);
  });

  it('uses an estimate until a later actual replaces it', () => {
    // Actual 2,000 on 09-01, estimate 2,300 on 10-01, estimate 2,600 on 11-01. October alone:
    // 300 kWh, all estimated.
    const estimates = [
      read('M1', '2026-09-01T00:00:00Z', 2_000),
      read('M1', '2026-10-01T00:00:00Z', 2_300, 'estimated'),
      read('M1', '2026-11-01T00:00:00Z', 2_600, 'estimated'),
    ];
    const before = billOctober(estimates);
    expect(before.determinants.energyMicro).toBe(300_000_000);
    expect(before.determinants.estimatedEnergyMicro).toBe(300_000_000);
    expect(before.determinants.estimatedIntervals).toBe(744);
    // The actual 2,610 arrives on 11-01: both estimates are dropped and 2,000 to 2,610 over 61
    // days (Sep 30 + Oct 31) gives October 610 x 31/61 = 310 kWh exactly, actual.
    const after = billOctober([...estimates, read('M1', '2026-11-01T00:00:00Z', 2_610)]);
    expect(after.determinants.energyMicro).toBe(310_000_000);
    expect(after.determinants.estimatedEnergyMicro).toBe(0);
    expect(after.determinants.actualIntervals).toBe(744);
    expect(after.used.map((row) => row.valueMicro)).toEqual([2_000_000_000, 2_610_000_000]);
  });

  it('prorates reads that do not fall on period ends by time', () => {
    // Reads on 09-16 (1,000) and 10-16 (1,300): 300 kWh over 30 days, 15 of them in October;
    // then 10-16 to 11-15 (1,600): 300 kWh over 30 days, 16 of them in October.
    // October = 150 + 160 = 310 kWh x $0.10 = $31.00 + $5.00 = $36.00.
    const result = billOctober([
      read('M1', '2026-09-16T00:00:00Z', 1_000),
      read('M1', '2026-10-16T00:00:00Z', 1_300),
      read('M1', '2026-11-15T00:00:00Z', 1_600),
    ]);
    expect(result.determinants.energyMicro).toBe(310_000_000);
    expect(result.total).toBe(3600);
  });

  it('leaves what no read covers out, so the period is incomplete', () => {
    // Reads on 10-01 and 10-16 only: 15 days of 31 covered (360 of 744 hours).
    const result = billOctober([
      read('M1', '2026-10-01T00:00:00Z', 1_000),
      read('M1', '2026-10-16T00:00:00Z', 1_150),
    ]);
    expect(result.determinants.energyMicro).toBe(150_000_000);
    expect(result.determinants.actualIntervals).toBe(360);
    expect(result.determinants.expectedIntervals).toBe(744);
  });
});

describe('sum check', () => {
  function intervals(meterId: string, fromMs: number, count: number, valueMicro: number) {
    return Array.from({ length: count }, (_, index) => ({
      meterId,
      channel: 'E1',
      intervalStartMs: fromMs + index * 3_600_000,
      intervalSeconds: 3600,
      valueMicro,
      quality: 'actual',
      idempotencyKey: `${meterId}-${index}`,
      version: 1,
    }));
  }
  const startMs = Date.parse('2026-10-01T00:00:00Z');

  it('bills an interval meter from its intervals and checks them against its register', () => {
    // 744 hourly intervals of 1 kWh = 744 kWh; the register moved 744 kWh: no finding. The
    // register reads never add to the interval energy.
    const reads = [
      read('M1', '2026-10-01T00:00:00Z', 10_000),
      read('M1', '2026-11-01T00:00:00Z', 10_744),
    ];
    const clean = billOctober([...intervals('M1', startMs, 744, 1_000_000), ...reads]);
    expect(clean.kind).toBe('interval');
    expect(clean.determinants.energyMicro).toBe(744_000_000);
    expect(clean.findings).toEqual([]);
    // Within 2% (14.88 kWh): intervals of 0.99 kWh sum to 736.56 kWh, 7.44 short, no finding.
    expect(billOctober([...intervals('M1', startMs, 744, 990_000), ...reads]).findings).toEqual([]);
    // Intervals of 0.9 kWh sum to 669.6 kWh, 74.4 short of the register: a finding.
    const short = billOctober([...intervals('M1', startMs, 744, 900_000), ...reads]);
    expect(short.findings).toHaveLength(1);
    expect(short.findings[0]).toMatchObject({ code: 'sum_check', threshold: 14.88 });
    expect(short.findings[0]?.value).toBeCloseTo(-74.4, 6);
  });
});

describe('proration', () => {
  it('never loses or doubles energy however a read span is split', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10_000_000_000 }),
        fc.integer({ min: 1, max: 400 * 86_400_000 }),
        fc.array(fc.integer({ min: -86_400_000, max: 500 * 86_400_000 }), { maxLength: 8 }),
        (energyMicro, spanMs, cuts) => {
          const use: RegisterUse = {
            meterId: 'M',
            channel: 'reg:1',
            fromMs: 0,
            toMs: spanMs,
            energyMicro,
            estimated: false,
            rollover: false,
            reads: [read('M', '2026-01-01T00:00:00Z', 0), read('M', '2026-01-02T00:00:00Z', 0)],
          };
          const points = [-1, ...cuts.sort((a, b) => a - b), spanMs + 1];
          let sum = 0;
          for (let at = 1; at < points.length; at++) {
            const part = energyWithinMicro(use, points[at - 1]!, points[at]!);
            expect(part).toBeGreaterThanOrEqual(0);
            sum += part;
          }
          expect(sum).toBe(energyMicro);
        },
      ),
    );
  });
});

describe('register reads on a tariff with more than one energy period', () => {
  function tariffOf(weekday: number[][], weekend: number[][]): Tariff {
    const parsed = parseUrdbRate({
      label: 'P',
      name: 'P',
      energyratestructure: [[{ rate: 0.1 }], [{ rate: 0.3 }]],
      energyweekdayschedule: weekday,
      energyweekendschedule: weekend,
    });
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
    return parsed.tariff;
  }
  const reads = [
    read('M1', '2026-10-01T00:00:00Z', 1_000),
    read('M1', '2026-11-01T00:00:00Z', 1_500),
  ];

  it('bills a seasonal tariff in the month’s own period, with no hold', () => {
    // October (month index 9) is period 1 all day; every other month period 0.
    const seasonal = Array.from({ length: 12 }, (_, month) =>
      Array<number>(24).fill(month === 9 ? 1 : 0),
    );
    const { meterSpans, frame } = october();
    const result = servicePointDeterminants(
      tariffOf(seasonal, seasonal),
      ZONE,
      meterSpans,
      reads,
      frame,
    );
    expect(result.determinants.energyMicroByPeriod).toEqual([0, 500_000_000]);
    expect(result.findings).toEqual([]);
  });

  it('holds a time-of-use tariff and puts the kWh in the period with the most hours', () => {
    // Weekdays 08:00-20:00 are period 1: October 2026 has 22 weekdays, 264 hours of period 1
    // against 480 of period 0, so the fallback is period 0.
    const weekday = Array.from({ length: 12 }, () =>
      Array.from({ length: 24 }, (_, hour) => (hour >= 8 && hour < 20 ? 1 : 0)),
    );
    const { meterSpans, frame } = october();
    const result = servicePointDeterminants(
      tariffOf(weekday, flat),
      ZONE,
      meterSpans,
      reads,
      frame,
    );
    expect(result.determinants.energyMicroByPeriod).toEqual([500_000_000, 0]);
    expect(result.findings.map((f) => [f.code, f.value])).toEqual([['register_tou', 2]]);
    expect(result.findings[0]?.message).toContain('period 0: 480 h, period 1: 264 h');
  });
});
