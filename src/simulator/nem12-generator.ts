/**
 * A distributor's NEM12 file for the demo and tests: a few NMIs, each with an E1 kWh channel and a
 * Q1 kVArh channel of 30-minute reads over some days, one estimated day per NMI later sent again
 * as actual (a new UpdateDateTime, so a new version), one day whose quality is given per interval
 * by 400 records, and one day of null data (quality N). It also returns what an exact ingestion
 * must hold, computed here without the reader: the independent oracle.
 */
const DAY_MS = 86_400_000;

/** The YYYYMMDD of day `day` after `firstDayMs` (a UTC midnight), as a NEM12 interval date. */
function nemDateOf(firstDayMs: number, day: number): string {
  return new Date(firstDayMs + day * DAY_MS).toISOString().slice(0, 10).replaceAll('-', '');
}

export interface Nem12Feed {
  text: string;
  expected: {
    /** Interval values sent, null-data intervals included. */
    intervals: number;
    /** Current readings in the ledger after ingestion, per unit. */
    currentKwhReadings: number;
    currentKvarhReadings: number;
    /** Exact current totals, in millionths of the unit. */
    kwhMicro: bigint;
    kvarhMicro: bigint;
    /** Intervals of null data, quarantined. */
    nullIntervals: number;
  };
}

const INTERVAL_MINUTES = 30;
const VALUES_PER_DAY = 1440 / INTERVAL_MINUTES;

/** Thousandths of a unit for NMI n, day d, interval i: a daytime hump, never negative. */
function valueMilli(nmi: number, day: number, interval: number, reactive: boolean): number {
  const hump = Math.round(400 * Math.sin((Math.PI * interval) / VALUES_PER_DAY));
  const base = 120 + ((nmi * 37 + day * 11 + interval * 7) % 90);
  return reactive ? Math.round((base + hump) / 3) : base + hump;
}

function decimal(milli: number): string {
  return (milli / 1000).toFixed(3);
}

export function generateNem12Feed(options: {
  nmis: number;
  days: number;
  firstDayMs: number;
}): Nem12Feed {
  const lines = ['100,NEM12,202601010000,DEMOMDP,DEMORET'];
  const expected: Nem12Feed['expected'] = {
    intervals: 0,
    currentKwhReadings: 0,
    currentKvarhReadings: 0,
    kwhMicro: 0n,
    kvarhMicro: 0n,
    nullIntervals: 0,
  };
  const corrections: string[] = [];
  for (let n = 0; n < options.nmis; n++) {
    const nmi = `61020${String(n).padStart(5, '0')}`;
    for (const [suffix, unit, reactive] of [
      ['E1', 'kWh', false],
      ['Q1', 'kVArh', true],
    ] as const) {
      lines.push(`200,${nmi},E1Q1,${suffix === 'E1' ? 1 : 2},${suffix},N1,MTR${n},${unit},30,`);
      for (let day = 0; day < options.days; day++) {
        const date = nemDateOf(options.firstDayMs, day);
        const milli = Array.from({ length: VALUES_PER_DAY }, (_, i) =>
          valueMilli(n, day, i, reactive),
        );
        const values = milli.map(decimal).join(',');
        expected.intervals += VALUES_PER_DAY;
        if (day === 0 && !reactive) {
          // Null data: the meter could not be read; nothing to bill until a value arrives.
          lines.push(`300,${date},${values},N,,,20260101010101,`);
          expected.nullIntervals += VALUES_PER_DAY;
          continue;
        }
        const sum = BigInt(milli.reduce((a, b) => a + b, 0)) * 1000n;
        if (reactive) {
          expected.currentKvarhReadings += VALUES_PER_DAY;
          expected.kvarhMicro += sum;
        } else {
          expected.currentKwhReadings += VALUES_PER_DAY;
          expected.kwhMicro += sum;
        }
        if (day === 1 && !reactive) {
          // Estimated first, corrected by an actual in a later file section.
          lines.push(`300,${date},${values},E52,,,20260101010101,`);
          corrections.push(`200,${nmi},E1Q1,1,E1,N1,MTR${n},kWh,30,`);
          corrections.push(`300,${date},${values},A,,,20260102020202,`);
          expected.intervals += VALUES_PER_DAY;
        } else if (day === 2 && !reactive) {
          // Quality by interval range: the first half actual, the rest substituted.
          lines.push(`300,${date},${values},V,,,20260101010101,`);
          lines.push(`400,1,${VALUES_PER_DAY / 2},A,,`);
          lines.push(`400,${VALUES_PER_DAY / 2 + 1},${VALUES_PER_DAY},S14,51,`);
        } else {
          lines.push(`300,${date},${values},A,,,20260101010101,`);
        }
      }
    }
  }
  lines.push(...corrections, '900');
  return { text: `${lines.join('\r\n')}\r\n`, expected };
}
