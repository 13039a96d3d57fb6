// Goal: the HTML discrepancy report opens in a real browser with no error and no network request,
// every chart draws, and every flagged reading is marked on its chart in its status colour.
// Method: render the report of a pipeline-built store, open it in Debian's headless Chromium under
// playwright-core, and read the page's canvases pixel by pixel at each flag's position.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, launchChromium, watchedPage } from '../test-support/chromium.js';
import { buildDiscrepancyFixture } from '../test-support/discrepancy-fixture.js';
import { removeTempDirs, tempDir } from '../test-support/temp.js';
import { loadChartAssets } from './chart-assets.js';
import { collectDiscrepancyReport, type DiscrepancyReport } from './discrepancies.js';
import { discrepancyHtml, FLAG_COLOURS } from './discrepancy-html.js';
import { monthPeriod } from './period.js';

const available = chromiumAvailable();

let report: DiscrepancyReport;
let pageUrl = '';
let context: BrowserContext | undefined;

beforeAll(async () => {
  if (!available) return;
  const harness = await buildDiscrepancyFixture();
  try {
    const period = monthPeriod('2026-03', 'Europe/Berlin');
    if (period === null) throw new Error('bad month');
    report = await collectDiscrepancyReport(harness.store, harness.clock, {
      period,
      sourceIds: [],
      topMeters: 10,
    });
  } finally {
    await harness.close();
  }
  const file = join(tempDir('amisync-report-'), 'report.html');
  writeFileSync(file, discrepancyHtml(report, loadChartAssets()));
  pageUrl = pathToFileURL(file).href;
  context = await launchChromium();
});

afterAll(async () => {
  await context?.close();
  removeTempDirs();
});

interface Mark {
  status: string;
  expected: string;
  found: string;
}

// What the page-side functions use of the browser, declared here because the project compiles
// for Node without the DOM library.
interface PageContext2d {
  getImageData(x: number, y: number, width: number, height: number): { data: Uint8ClampedArray };
}
interface PageCanvas {
  width: number;
  height: number;
  getContext(kind: '2d'): PageContext2d | null;
}
interface PagePlot {
  data: (number | null)[][];
  ctx: PageContext2d;
  valToPos(value: number, scale: string, canvasPixels: boolean): number;
}
interface PageGlobals {
  document: { querySelectorAll(selector: string): Iterable<unknown> & { length: number } };
  amisyncCharts: PagePlot[];
}

describe.skipIf(!available)('the HTML report in Chromium', () => {
  it('opens with no console error, page error or request beyond the file itself', async () => {
    const { page, problems, requests } = await watchedPage(context!);
    await page.goto(pageUrl, { waitUntil: 'load' });
    await page.waitForFunction(
      (count) =>
        (globalThis as unknown as PageGlobals).document.querySelectorAll('[data-rendered="true"]')
          .length === count,
      report.charts.length,
      { timeout: 10_000 },
    );
    expect(problems).toEqual([]);
    expect(requests).toEqual([pageUrl]);
    await page.close();
  });

  it('draws every chart on a canvas of non-zero size with non-blank pixels', async () => {
    expect(report.charts.length).toBe(2);
    const page = await context!.newPage();
    await page.goto(pageUrl, { waitUntil: 'load' });
    const canvases = await page.evaluate(() =>
      [...(globalThis as unknown as PageGlobals).document.querySelectorAll('.chart canvas')].map(
        (element) => {
          const canvas = element as PageCanvas;
          const pixels = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
          let inked = 0;
          for (let at = 0; at < pixels.data.length; at += 4) {
            const [r, g, b, a] = [0, 1, 2, 3].map((k) => pixels.data[at + k]!);
            if (a! > 0 && (r! < 200 || g! < 200 || b! < 200)) inked++;
          }
          return { width: canvas.width, height: canvas.height, inked };
        },
      ),
    );
    expect(canvases).toHaveLength(report.charts.length);
    for (const canvas of canvases) {
      expect(canvas.width).toBeGreaterThan(300);
      expect(canvas.height).toBeGreaterThan(200);
      expect(canvas.inked).toBeGreaterThan(500);
    }
    const labels = await page
      .locator('.chart[role="img"]')
      .evaluateAll((elements) => elements.map((e) => e.getAttribute('aria-label') ?? ''));
    expect(labels).toHaveLength(report.charts.length);
    for (const label of labels) expect(label).toMatch(/^Line chart of meter MTR-/);
    await page.close();
  });

  it('marks each flagged reading at its place in its status colour', async () => {
    const page = await context!.newPage();
    await page.goto(pageUrl, { waitUntil: 'load' });
    const marks = await page.evaluate((colours: Record<string, string>) => {
      const statuses = ['held', 'released', 'rejected'];
      const found: Mark[][] = [];
      const plots = (globalThis as unknown as PageGlobals).amisyncCharts;
      for (const plot of plots) {
        const chartMarks: Mark[] = [];
        statuses.forEach((status, offset) => {
          const values = plot.data[2 + offset]!;
          values.forEach((value, index) => {
            if (value === null) return;
            const x = Math.round(plot.valToPos(plot.data[0]![index]!, 'x', true));
            const y = Math.round(plot.valToPos(value, 'y', true));
            const [r, g, b] = plot.ctx.getImageData(x, y, 1, 1).data;
            const hex = (n: number) => n.toString(16).padStart(2, '0');
            chartMarks.push({
              status,
              expected: colours[status]!,
              found: `#${hex(r!)}${hex(g!)}${hex(b!)}`,
            });
          });
        });
        found.push(chartMarks);
      }
      return found;
    }, FLAG_COLOURS);
    const expected = report.charts.map((chart) =>
      chart.flags.map((flag) => ({
        status: flag.status,
        expected: FLAG_COLOURS[flag.status],
        found: FLAG_COLOURS[flag.status],
      })),
    );
    const byStatus = (list: Mark[][]) =>
      list.map((chart) => [...chart].sort((a, b) => a.status.localeCompare(b.status)));
    expect(byStatus(marks)).toEqual(byStatus(expected));
    await page.close();
  });
});
