// Goal: the discrepancy report gives exact figures (counts, kWh to 6 decimals, ageing buckets on
// an injected clock, top meters) for a month in the dictionary's zone, and its CSV is safe.
// Method: build a store through the real pipeline (held, released, rejected, estimated readings),
// collect the report, and compare every figure and the CSV and HTML text with stated values.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { HELD_METER } from '../test-support/held-readings.js';
import type { Harness } from '../test-support/ingest-harness.js';
import {
  buildDiscrepancyFixture,
  LATE_METER,
  permissiveDictionary,
  REPORT_NOW_MS,
} from '../test-support/discrepancy-fixture.js';
import { removeTempDirs } from '../test-support/temp.js';
import { REPORT_CHART_POINTS_MAX } from '../core/limits.js';
import type { AnomalyRow } from '../core/store.js';
import {
  ageingBuckets,
  chartWindow,
  collectDiscrepancyReport,
  type DiscrepancyReport,
} from './discrepancies.js';
import { csvTextCell, discrepancyCsv } from './discrepancy-csv.js';
import { discrepancyHtml, escapeHtml, scriptJson } from './discrepancy-html.js';
import { loadChartAssets } from './chart-assets.js';
import { monthPeriod } from './period.js';

afterAll(removeTempDirs);

let harness: Harness | undefined;

afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

const total = (items: number, energyMilliWh: bigint) => ({ items, energyMilliWh });

async function reportOf(
  timeZone: string,
  sourceIds: string[] = [],
  options: Parameters<typeof buildDiscrepancyFixture>[0] = {},
): Promise<DiscrepancyReport> {
  harness = await buildDiscrepancyFixture(options);
  const period = monthPeriod('2026-03', timeZone);
  if (period === null) throw new Error('bad month');
  return collectDiscrepancyReport(harness.store, harness.clock, {
    period,
    sourceIds,
    topMeters: 10,
  });
}

describe('the discrepancy report', () => {
  it('sums the month in UTC: held, released, rejected, estimated, detectors, ageing, top meters', async () => {
    const report = await reportOf('UTC');
    expect(report.period).toEqual({
      month: '2026-03',
      timeZone: 'UTC',
      fromMs: Date.UTC(2026, 2, 1),
      toMs: Date.UTC(2026, 3, 1),
    });
    expect(report.generatedAtMs).toBe(REPORT_NOW_MS);
    const { figures } = report;
    expect(figures.byStatus).toEqual({
      held: total(2, 40_000_000n),
      released: total(1, 25_000_000n),
      rejected: total(1, 12_500_000n),
    });
    // Four estimates of 1.25 kWh; an actual replaced the first, so three remain current.
    expect(figures.estimated).toEqual(total(3, 3_750_000n));
    expect(figures.byDetector).toEqual([
      {
        detector: 'test.spike',
        held: total(1, 40_000_000n),
        released: total(1, 25_000_000n),
        rejected: total(1, 12_500_000n),
      },
      { detector: 'test.zero', held: total(1, 0n), released: total(0, 0n), rejected: total(0, 0n) },
    ]);
    expect(figures.metersWithOpen).toBe(1);
    expect(report.ageing.map((b) => [b.label, b.items, b.energyMilliWh])).toEqual([
      ['0-7 days', 0, 0n],
      ['8-30 days', 0, 0n],
      ['31-90 days', 2, 40_000_000n],
      ['over 90 days', 0, 0n],
    ]);
    expect(figures.topMeters).toEqual([
      {
        meterId: HELD_METER,
        held: total(2, 40_000_000n),
        released: total(0, 0n),
        rejected: total(0, 0n),
        atStakeMilliWh: 40_000_000n,
      },
    ]);
  });

  it('takes the month in the dictionary zone: a UTC February evening is a Berlin March night', async () => {
    const report = await reportOf('Europe/Berlin');
    expect(report.period.fromMs).toBe(Date.UTC(2026, 1, 28, 23));
    expect(report.period.toMs).toBe(Date.UTC(2026, 2, 31, 22));
    const { figures } = report;
    expect(figures.byStatus.held).toEqual(total(3, 70_000_000n));
    expect(figures.metersWithOpen).toBe(2);
    expect(report.ageing.map((b) => [b.items, b.energyMilliWh])).toEqual([
      [0, 0n],
      [1, 30_000_000n],
      [2, 40_000_000n],
      [0, 0n],
    ]);
    expect(figures.topMeters.map((m) => [m.meterId, m.atStakeMilliWh, m.rejected])).toEqual([
      [HELD_METER, 40_000_000n, total(0, 0n)],
      [LATE_METER, 30_000_000n, total(1, 12_500_000n)],
    ]);
  });

  it('covers only the sources asked for', async () => {
    const none = await reportOf('UTC', ['another-source']);
    expect(none.figures.byStatus.held).toEqual(total(0, 0n));
    expect(none.figures.estimated).toEqual(total(0, 0n));
    expect(none.charts).toEqual([]);
    await harness?.close();
    const test = await reportOf('UTC', ['test']);
    expect(test.figures.byStatus.held).toEqual(total(2, 40_000_000n));
  });

  it('charts each top meter: its ledger series around the flags, the flags by status', async () => {
    const report = await reportOf('Europe/Berlin');
    expect(report.charts.map((c) => [c.meterId, c.channel, c.flags.length])).toEqual([
      [HELD_METER, '1', 2],
      [LATE_METER, '1', 2],
    ]);
    const held = report.charts[0]!;
    // Slots 0, 1, 3 and 5 are in the ledger; 2 (40 kWh) and 4 (0 kWh) are held.
    expect(held.series.map((p) => p.valueMicro)).toEqual([500_000, 500_000, 500_000, 500_000]);
    expect(held.flags.map((f) => [f.status, f.reading.valueMicro])).toEqual([
      ['held', 40_000_000],
      ['held', 0],
    ]);
    const late = report.charts[1]!;
    expect(late.flags.map((f) => [f.status, f.reading.valueMicro])).toEqual([
      ['held', 30_000_000],
      ['rejected', 12_500_000],
    ]);
  });

  it('charts a day either side of the flags on their interval grid, cut to the points bound', () => {
    const flag = (startMs: number, intervalSeconds = 900) =>
      ({ reading: { intervalStartMs: startMs, intervalSeconds } }) as AnomalyRow;
    const dayMs = 86_400_000;
    expect(chartWindow([flag(dayMs * 10), flag(dayMs * 11)])).toEqual({
      fromMs: dayMs * 9,
      toMs: dayMs * 12 + 900_000,
      intervalMs: 900_000,
      truncated: false,
    });
    // Five-minute intervals over a month need more points than one chart draws.
    expect(chartWindow([flag(0, 300), flag(dayMs * 30, 300)])).toEqual({
      fromMs: -dayMs,
      toMs: -dayMs + REPORT_CHART_POINTS_MAX * 300_000,
      intervalMs: 300_000,
      truncated: true,
    });
  });

  it('buckets ages at their edges: 7 and 8, 30 and 31, 90 and 91 days', () => {
    const one = (ageDays: number) => ({ ageDays, items: 1, energyMilliWh: 1n });
    const buckets = ageingBuckets([0, 7, 8, 30, 31, 90, 91, 400].map(one));
    expect(buckets.map((b) => b.items)).toEqual([2, 2, 2, 2]);
  });
});

describe('the CSV', () => {
  it('gives each figure a row with plain numbers', async () => {
    const csv = discrepancyCsv(await reportOf('UTC'));
    const lines = csv.split('\r\n');
    expect(lines[0]).toBe('section,name,status,count,kwh,detail');
    expect(lines).toContain('totals,anomalies held,held,2,40.000000,');
    expect(lines).toContain('totals,anomalies released,released,1,25.000000,');
    expect(lines).toContain('totals,anomalies rejected,rejected,1,12.500000,');
    expect(lines).toContain(
      'totals,readings estimated,estimated,3,3.750000,current ledger readings',
    );
    expect(lines).toContain('totals,meters with open anomalies,held,1,,');
    expect(lines).toContain('detector,test.spike,released,1,25.000000,');
    expect(lines).toContain('ageing,31-90 days,held,2,40.000000,');
    expect(lines).toContain(
      `top meter,${HELD_METER},held,2,40.000000,rank 1; 40.000000 kWh at stake; 0 released; 0 rejected`,
    );
    expect(csv.endsWith('\r\n')).toBe(true);
  });

  it('neutralises formula cells from hostile meter ids, notes and actors, numbers left alone', async () => {
    const meters = {
      held: '=HYPERLINK("http://x.test/","pay")',
      other: '@SUM(A1:A9)',
      late: '-2+3',
    };
    const report = await reportOf('Europe/Berlin', [], {
      meters,
      dictionary: permissiveDictionary(),
      releaseNote: '=1+1 field verified',
      rejectNote: '+cmd|calc meter replaced',
      actor: '@admin',
    });
    const csv = discrepancyCsv(report);
    const cells = parseCsv(csv);
    const texts = cells.flatMap((row) => [row[0], row[1], row[2], row[5]]);
    for (const cell of texts) expect(cell ?? '').not.toMatch(/^[=+\-@\t\r]/);
    expect(cells).toContainEqual([
      'top meter',
      `'${meters.held}`,
      'held',
      '2',
      '40.000000',
      expect.any(String),
    ]);
    expect(cells.some((row) => row[1] === `'${meters.late}`)).toBe(true);
    // Counts and kWh stay numbers, even the negative ones a spreadsheet must sum.
    for (const row of cells.slice(1)) {
      expect(row[3]).toMatch(/^(\d+)?$/);
      expect(row[4]).toMatch(/^(-?\d+\.\d{6})?$/);
    }
    expect(csvTextCell('-5')).toBe("'-5");
    expect(csvTextCell('\t=1')).toBe("'\t=1");
    expect(csvTextCell('a,"b"')).toBe('"a,""b"""');
    expect(csvTextCell('plain')).toBe('plain');
  });
});

describe('the HTML page', () => {
  it('escapes every text, inlines uPlot and forbids the network', async () => {
    const meters = { held: '<img src=x onerror=alert(1)>', other: 'O&P "q"', late: "</script>'" };
    const report = await reportOf('Europe/Berlin', [], {
      meters,
      dictionary: permissiveDictionary(),
      releaseNote: '<b>field verified</b>',
    });
    const html = discrepancyHtml(report, loadChartAssets());
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<b>field');
    expect(html).toContain(escapeHtml(meters.held));
    // The only closing script tags are the three blocks' own.
    expect(html.match(/<\/script>/g)).toHaveLength(3);
    expect(html).toMatch(
      /<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;;/,
    );
    expect(html).not.toMatch(/<(script|link|img|iframe)[^>]*\s(src|href)=/i);
    expect(html).not.toMatch(/@import|url\(\s*['"]?(https?:|\/\/)/i);
    expect(html).toContain('<caption>Totals for the period</caption>');
    expect(html).toContain('<th scope="col">');
    expect(scriptJson({ a: '</script><!--\u2028' })).toBe(
      '{"a":"\\u003c/script>\\u003c!--\\u2028"}',
    );
  });
});

/** A small RFC 4180 reader for the test: quoted cells with doubled quotes, CRLF rows. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let at = 0; at < text.length; at++) {
    const character = text[at]!;
    if (quoted) {
      if (character === '"' && text[at + 1] === '"') {
        cell += '"';
        at++;
      } else if (character === '"') quoted = false;
      else cell += character;
    } else if (character === '"') quoted = true;
    else if (character === ',') {
      row.push(cell);
      cell = '';
    } else if (character === '\r' && text[at + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      at++;
    } else cell += character;
  }
  return rows;
}
