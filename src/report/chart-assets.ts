/**
 * uPlot's browser build and stylesheet, read from the installed `uplot` package (wherever the
 * package manager put it) so that the HTML report can inline them and fetch nothing.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { ChartAssets } from './discrepancy-html.js';

const require = createRequire(import.meta.url);

/** Reads the assets; they are inlined into a page, so neither may close its own block early. */
export function loadChartAssets(): ChartAssets {
  const uplotJs = readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8');
  const uplotCss = readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8');
  assert.ok(!/<\/script|<!--/i.test(uplotJs), 'uPlot script must not contain a closing script tag');
  assert.ok(!/<\/style/i.test(uplotCss), 'uPlot stylesheet must not contain a closing style tag');
  return { uplotJs, uplotCss };
}
