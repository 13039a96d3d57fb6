// Goal: the NEM12 parser turns any document it is given into exactly the readings written, and
// never invents one from a damaged file. Method: fast-check documents from a small writer below.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ParseItem } from '../../core/parser.js';
import type { CandidateReading } from '../../core/reading.js';
import { createNem12Parser } from './nem12-parser.js';
import { candidatesOf, pushSplit } from '../../test-support/split.js';

interface Day {
  nmi: string;
  suffix: string;
  unit: 'kWh' | 'Wh' | 'MWh' | 'kVArh';
  minutes: 5 | 15 | 30;
  date: { year: number; month: number; day: number };
  values: string[];
  flag: 'A' | 'E52' | 'S14';
  updated: string;
}

const NMI_CHARS = 'ABCDEFGHJKLMNPQRSTUVWXYZ0123456789';

const dayArbitrary: fc.Arbitrary<Day> = fc
  .record({
    nmi: fc.string({ unit: fc.constantFrom(...NMI_CHARS), minLength: 10, maxLength: 10 }),
    suffix: fc.constantFrom('E1', 'B1', 'Q1', 'E2'),
    unit: fc.constantFrom('kWh', 'Wh', 'MWh', 'kVArh'),
    minutes: fc.constantFrom(5, 15, 30),
    date: fc.record({
      year: fc.integer({ min: 2001, max: 2029 }),
      month: fc.integer({ min: 1, max: 12 }),
      day: fc.integer({ min: 1, max: 28 }),
    }),
    flag: fc.constantFrom('A', 'E52', 'S14'),
    updated: fc.constantFrom('20240102030405', '20250607080910'),
    seed: fc.nat(),
  })
  .map(({ seed, ...day }) => ({
    ...(day as Omit<Day, 'values'>),
    values: Array.from({ length: 1440 / day.minutes }, (_, i) =>
      (((seed + i * 7919) % 100_000) / 1000).toFixed(3),
    ),
  }));

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** A NEM12 document: the 100 header, a 200 and a 300 per day, the 900 end. */
function writeNem12(days: readonly Day[]): string {
  const lines = ['100,NEM12,202401010000,MDP,RET'];
  for (const d of days) {
    const date = `${d.date.year}${pad(d.date.month)}${pad(d.date.day)}`;
    lines.push(`200,${d.nmi},${d.suffix},1,${d.suffix},N1,M1,${d.unit},${d.minutes},`);
    lines.push(`300,${date},${d.values.join(',')},${d.flag},,,${d.updated},`);
  }
  lines.push('900');
  return `${lines.join('\r\n')}\r\n`;
}

/** What the parser must yield for a written day, computed here without the reader. */
function expectedOf(d: Day): string[] {
  const dayStartMs = Date.UTC(d.date.year, d.date.month - 1, d.date.day) - 10 * 3_600_000;
  const scale = { kWh: 0, kVArh: 0, Wh: -3, MWh: 3 }[d.unit];
  return d.values.map((value, i) => {
    const micro = (BigInt(value.replace('.', '')) * 10n ** BigInt(3 + scale + 3)) / 1000n;
    const unit = d.unit === 'kVArh' ? 'kVArh' : 'kWh';
    const start = dayStartMs + i * d.minutes * 60_000;
    return `${d.nmi}|${d.suffix}|${start}|${d.minutes * 60}|${unit}|${micro}|${d.updated}`;
  });
}

function keyOf(c: CandidateReading): string {
  const [whole = '', fraction = ''] = c.value.split('.');
  const micro = BigInt(whole + fraction.padEnd(6, '0').slice(0, 6));
  return `${c.meterId}|${c.channel}|${c.intervalStartMs}|${c.intervalSeconds}|${c.unit}|${micro}|${c.seq}`;
}

/**
 * A NEM12 decimal ("7.", ".651", "84.1620220") in canonical form, its point moved `shift` places
 * (negative: left), or null when it is not a decimal. Exact, with no limit on digits.
 */
function exactDecimal(text: string, shift: number): string | null {
  const match = /^(\d*)(?:\.(\d*))?$/.exec(text.trim());
  if (match === null || text.trim().replace('.', '') === '') return null;
  const whole = match[1] ?? '';
  let digits = whole + (match[2] ?? '');
  let point = whole.length + shift;
  if (point < 0) {
    digits = '0'.repeat(-point) + digits;
    point = 0;
  }
  digits = digits.padEnd(point, '0');
  const integer = digits.slice(0, point).replace(/^0+/, '') || '0';
  const fraction = digits.slice(point).replace(/0+$/, '');
  return fraction === '' ? integer : `${integer}.${fraction}`;
}

function parse(bytes: Uint8Array, cuts: readonly number[] = []): ParseItem[] {
  return pushSplit(createNem12Parser(), bytes, cuts);
}

const candidates = candidatesOf;

describe('NEM12 parser properties', () => {
  it('round-trips any written document, split anywhere, to exactly its readings', () => {
    fc.assert(
      fc.property(
        fc.array(dayArbitrary, { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (days, rawCuts) => {
          const bytes = Buffer.from(writeNem12(days), 'latin1');
          const cuts = rawCuts.map((cut) => cut % (bytes.length + 1));
          const items = parse(bytes, cuts);
          expect(items.filter((item) => item.kind !== 'candidate')).toEqual([]);
          expect(candidates(items).map(keyOf)).toEqual(days.flatMap(expectedOf));
          const quality = { A: 'actual', E52: 'estimated', S14: 'substituted' } as const;
          const detail = candidates(items).map((c) => `${c.quality} ${c.qualityDetail}`);
          expect(detail).toEqual(
            days.flatMap((d) => d.values.map(() => `${quality[d.flag]} ${d.flag}`)),
          );
        },
      ),
      { numRuns: 200 },
    );
  });

  it('compares decimals exactly in the damage property below', () => {
    expect(exactDecimal('84.1620220', 0)).toBe('84.162022');
    expect(exactDecimal('.651', 0)).toBe('0.651');
    expect(exactDecimal('7.', 0)).toBe('7');
    expect(exactDecimal('37.807', -3)).toBe('0.037807');
    expect(exactDecimal('1.5', 3)).toBe('1500');
    expect(exactDecimal('0.000', 0)).toBe('0');
    expect(exactDecimal('1,2', 0)).toBeNull();
    expect(exactDecimal('.', 0)).toBeNull();
  });

  it('never throws on a damaged document, and each reading is held by the line it names', () => {
    // A damaged value that is still a decimal ("79.190" cut to "79.1") cannot be told from a
    // sent one; what the parser must never do is yield a value its own cited line does not hold
    // (in the unit its 200 record declares, which a damage may change too).
    const damage = fc.record({
      at: fc.nat(),
      length: fc.nat({ max: 30 }),
      insert: fc.string({
        unit: fc.constantFrom(',', '\n', '3', '0', '.', 'A', '2', ' '),
        maxLength: 12,
      }),
    });
    const kwhDays = fc.array(
      dayArbitrary.map((day) => ({ ...day, unit: 'kWh' as const })),
      { minLength: 1, maxLength: 3 },
    );
    fc.assert(
      fc.property(kwhDays, fc.array(damage, { minLength: 1, maxLength: 6 }), (days, edits) => {
        let text = writeNem12(days);
        for (const edit of edits) {
          const at = edit.at % (text.length + 1);
          text = text.slice(0, at) + edit.insert + text.slice(at + edit.length);
        }
        const bytes = Buffer.from(text, 'latin1');
        const items = parse(bytes);
        for (const candidate of candidates(items)) {
          const { byteOffset, byteLength } = candidate.location;
          const line = bytes.toString('latin1', byteOffset, byteOffset + byteLength);
          expect(line.startsWith('300,')).toBe(true);
          // The line's fields as exact decimals, also moved three places either way: a damage may
          // turn the 200 record's kWh into Wh or MWh, which are read as declared.
          const held = line
            .split(',')
            .flatMap((field) => [
              exactDecimal(field, 0),
              exactDecimal(field, -3),
              exactDecimal(field, 3),
            ]);
          expect(held).toContain(exactDecimal(candidate.value, 0));
        }
        for (const item of items) {
          if (item.kind === 'reject') expect(item.reject.violations[0]?.code).toBe('parse.format');
        }
      }),
      { numRuns: 300 },
    );
  });
});
