// Goal: the bill of a period depends only on its readings: reordering them, or splitting the period
// into parts whose determinants are merged, never changes the total; a late reading yields an
// adjustment of exactly the difference.
// Method: fast-check over random loads, TOU tariffs with tiers and demand, orders and cut points.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { InvoiceRow } from '../core/billing-store.js';
import { differenceLines } from './billing.js';
import { parsePeriod, periodSpan } from './billing-period.js';
import {
  determinantsOf,
  mergeDeterminants,
  type BillingReading,
  type MeterSpan,
} from './determinants.js';
import { servicePointLines, totalCents } from './invoice.js';
import { parseUrdbRate } from './tariff.js';

const ZONE = 'Europe/Berlin';
const PERIOD = parsePeriod('2026-10')!;
const SPAN = periodSpan(PERIOD, ZONE);
const SLOTS = (SPAN.endMs - SPAN.startMs) / 900_000;
const FRAME = { days: SPAN.days, month: PERIOD.month - 1 };
const SPANS: MeterSpan[] = [{ meterId: 'M1', fromMs: SPAN.startMs, toMs: SPAN.endMs }];

const schedule = Array.from({ length: 12 }, () =>
  Array.from({ length: 24 }, (_, hour) => (hour >= 7 && hour < 20 ? 1 : 0)),
);
const parsed = parseUrdbRate({
  label: 'P',
  name: 'P',
  fixedchargefirstmeter: 4.5,
  mincharge: 0.2,
  minchargeunits: '$/day',
  energyratestructure: [
    [{ max: 300, rate: 0.1234567 }, { rate: 0.0987 }],
    [
      { max: 10, rate: 0.3, unit: 'kWh daily' },
      { rate: 0.25, adj: 0.0111 },
    ],
  ],
  energyweekdayschedule: schedule,
  energyweekendschedule: schedule.map((hours) => hours.map(() => 0)),
  flatdemandstructure: [[{ max: 5, rate: 3.33 }, { rate: 7.77 }]],
  flatdemandmonths: Array<number>(12).fill(0),
});
if (!parsed.ok) throw new Error('test tariff does not read');
const TARIFF = parsed.tariff;

function reading(slot: number, valueMicro: number): BillingReading {
  return {
    meterId: 'M1',
    channel: '1',
    intervalStartMs: SPAN.startMs + slot * 900_000,
    intervalSeconds: 900,
    valueMicro,
    quality: 'actual',
    idempotencyKey: String(slot),
    version: 1,
  };
}

const readingsArbitrary = fc
  .uniqueArray(
    fc.record({
      slot: fc.integer({ min: 0, max: SLOTS - 1 }),
      valueMicro: fc.integer({ min: 0, max: 3_000_000 }),
    }),
    { selector: (r) => r.slot, maxLength: 400 },
  )
  .map((items) => items.map((item) => reading(item.slot, item.valueMicro)));

function total(readings: readonly BillingReading[]): number {
  return totalCents(
    servicePointLines('SP', TARIFF, determinantsOf(TARIFF, ZONE, SPANS, readings, FRAME)),
  );
}

describe('billing properties', () => {
  it('reordering readings never changes the total', () => {
    fc.assert(
      fc.property(readingsArbitrary, fc.integer(), (readings, seed) => {
        const shuffled = [...readings].sort(
          (a, b) => ((a.intervalStartMs * 31 + seed) % 97) - ((b.intervalStartMs * 31 + seed) % 97),
        );
        expect(total(shuffled)).toBe(total(readings));
      }),
      // Found by the long form: a reading at the October DST change asked first made the local
      // calendar read the rest of October an hour early (07:00 fell into the 06:00 period).
      { numRuns: 60, examples: [[[reading(2316, 0), reading(412, 125_000)], -326230258]] },
    );
  });

  it('splitting the period into parts and merging their determinants never changes the total', () => {
    fc.assert(
      fc.property(
        readingsArbitrary,
        fc.uniqueArray(fc.integer({ min: 1, max: SLOTS - 1 }), { maxLength: 6 }),
        (readings, cutSlots) => {
          const cuts = [0, ...cutSlots.sort((a, b) => a - b), SLOTS].map(
            (slot) => SPAN.startMs + slot * 900_000,
          );
          const parts = cuts.slice(1).map((toMs, index) => {
            const fromMs = cuts[index]!;
            const spans = [{ meterId: 'M1', fromMs, toMs }];
            return determinantsOf(TARIFF, ZONE, spans, readings, FRAME);
          });
          const merged = parts.reduce(mergeDeterminants);
          const whole = determinantsOf(TARIFF, ZONE, SPANS, readings, FRAME);
          expect(merged).toEqual(whole);
          expect(totalCents(servicePointLines('SP', TARIFF, merged))).toBe(total(readings));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('a late reading yields exactly the adjustment needed', () => {
    fc.assert(
      fc.property(
        readingsArbitrary.filter((r) => r.length > 0),
        fc.nat(),
        (readings, pick) => {
          const late = readings[pick % readings.length]!;
          const before = readings.filter((r) => r !== late);
          const first = servicePointLines(
            'SP',
            TARIFF,
            determinantsOf(TARIFF, ZONE, SPANS, before, FRAME),
          );
          const due = servicePointLines(
            'SP',
            TARIFF,
            determinantsOf(TARIFF, ZONE, SPANS, readings, FRAME),
          );
          const issued = { id: 1, linesJson: JSON.stringify(first) } as InvoiceRow;
          const adjustment = differenceLines(due, [issued]);
          expect(totalCents(first) + totalCents(adjustment)).toBe(totalCents(due));
          // Billing the same data again after the adjustment issues nothing more.
          const second = { id: 2, linesJson: JSON.stringify(adjustment) } as InvoiceRow;
          expect(differenceLines(due, [issued, second])).toEqual([]);
        },
      ),
      { numRuns: 60 },
    );
  });
});
