/**
 * The discrepancy report as one self-contained HTML page: the figures as tables, and for each top
 * meter a uPlot chart of its ledger series around its flagged readings, the flags marked by status
 * (held, released, rejected) and listed in a table under the chart as its text alternative.
 *
 * Nothing is fetched: uPlot's script and stylesheet are inlined (read from the installed package by
 * the caller), the chart data is a JSON block, and a Content-Security-Policy allows only those
 * inline blocks (by their sha256) and no network at all. Every text from the store is escaped.
 */
import { formatMilliWhAsKwh, formatValueMicro } from '../core/decimal.js';
import type { AnomalyRow, AnomalyStatus, HoldTotal } from '../core/store.js';
import type { DiscrepancyReport, MeterChart } from './discrepancies.js';
import { escapeHtml, htmlPage } from './html-page.js';
import { localIso } from './period.js';

// Kept importable from here, where the report pages and the dashboard have always taken it.
export { escapeHtml };

/** uPlot's browser build and stylesheet, as text. */
export interface ChartAssets {
  uplotJs: string;
  uplotCss: string;
}

/** Marker colours, each at least 4.5:1 against the white page; status is also told in text. */
export const FLAG_COLOURS: Readonly<Record<AnomalyStatus, string>> = {
  held: '#b3261e',
  released: '#1b6e2f',
  rejected: '#6a3d9a',
};
export const LEDGER_COLOUR = '#1f4e79';

/**
 * JSON inside a script block: `<` escaped so that no `</script>` or `<!--` in a meter id or note
 * can end the block, and the two line separators JavaScript once refused in strings.
 */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replaceAll('<', '\\u003c')
    .replaceAll('\u2028', '\\u2028')
    .replaceAll('\u2029', '\\u2029');
}

const STATUSES: readonly AnomalyStatus[] = ['held', 'released', 'rejected'];

const PAGE_CSS = `
:root { color-scheme: light; }
body { font: 18px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #111;
  background: #fff; margin: 0; }
main { max-width: 72rem; margin: 0 auto; padding: 1.5rem; }
h1 { font-size: 1.8rem; margin: 0 0 .5rem; }
h2 { font-size: 1.4rem; margin: 2rem 0 .5rem; border-bottom: 2px solid #1f4e79; }
p.note { color: #333; max-width: 60rem; }
table { border-collapse: collapse; margin: .5rem 0 1.5rem; min-width: 24rem; }
caption { text-align: left; font-weight: 600; padding: .25rem 0; }
th, td { border: 1px solid #767676; padding: .3rem .6rem; text-align: left; vertical-align: top; }
thead th { background: #e8eef5; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
figure { margin: 1rem 0 2.5rem; }
figcaption { font-weight: 600; margin-bottom: .5rem; }
.chart { width: 100%; min-height: 340px; }
.key span { display: inline-block; margin-right: 1.2rem; }
.key b { display: inline-block; width: .9rem; height: .9rem; border-radius: 50%;
  vertical-align: -.1rem; margin-right: .3rem; }
.key .ledger b { border-radius: 0; height: .25rem; vertical-align: .25rem; background: ${LEDGER_COLOUR}; }
${STATUSES.map((status) => `.key .${status} b { background: ${FLAG_COLOURS[status]}; }`).join('\n')}
a { color: #1f4e79; }
@media print { .chart { break-inside: avoid; } }
`;

/** The chart script: draws each chart from the JSON block and marks it rendered. */
const CHART_SCRIPT = `(function () {
  'use strict';
  var block = document.getElementById('chart-data');
  var charts = JSON.parse(block.textContent);
  var colours = ${JSON.stringify(FLAG_COLOURS)};
  var drawn = [];
  function marker(label, colour) {
    return { label: label, stroke: colour, width: 0, paths: function () { return null; },
      points: { show: true, size: 12, width: 2, stroke: colour, fill: colour } };
  }
  charts.forEach(function (chart) {
    var element = document.getElementById(chart.id);
    var options = {
      width: Math.max(320, element.clientWidth),
      height: 320,
      tzDate: function (seconds) { return uPlot.tzDate(new Date(seconds * 1e3), chart.timeZone); },
      // Room above the highest and below the lowest value, so that no marker is cut in half.
      scales: { x: { time: true }, y: { range: function (plot, min, max) {
        var low = Math.min(0, min === null ? 0 : min);
        var high = Math.max(0, max === null ? 0 : max);
        var pad = (high - low) * 0.08 || 1;
        return [low - pad, high + pad];
      } } },
      // The page's own key and the table under each chart say what each mark is.
      legend: { show: false },
      axes: [
        { stroke: '#111', grid: { stroke: '#d0d0d0' }, ticks: { stroke: '#767676' } },
        { stroke: '#111', label: 'kWh', grid: { stroke: '#d0d0d0' }, ticks: { stroke: '#767676' } }
      ],
      series: [
        { label: 'interval start (' + chart.timeZone + ')' },
        { label: 'ledger kWh', stroke: '${LEDGER_COLOUR}', width: 2, spanGaps: false,
          points: { size: 5, width: 1, stroke: '${LEDGER_COLOUR}', fill: '${LEDGER_COLOUR}' } },
        marker('held (open)', colours.held),
        marker('released', colours.released),
        marker('rejected', colours.rejected)
      ]
    };
    var data = [chart.x, chart.ledger, chart.held, chart.released, chart.rejected];
    drawn.push(new uPlot(options, data, element));
    element.setAttribute('data-rendered', 'true');
  });
  // Kept for inspection (and the browser test): each chart's uPlot instance, in page order.
  window.amisyncCharts = drawn;
  window.addEventListener('resize', function () {
    drawn.forEach(function (plot) {
      plot.setSize({ width: Math.max(320, plot.root.parentNode.clientWidth), height: 320 });
    });
  });
})();`;

function kwh(total: HoldTotal): string {
  return formatMilliWhAsKwh(total.energyMilliWh);
}

function numberCells(...values: (string | number)[]): string {
  return values.map((value) => `<td class="num">${escapeHtml(String(value))}</td>`).join('');
}

function tableHtml(caption: string, headers: readonly string[], rows: readonly string[]): string {
  const head = headers.map((header) => `<th scope="col">${escapeHtml(header)}</th>`).join('');
  const body =
    rows.length === 0
      ? `<tr><td colspan="${headers.length}">none in this period</td></tr>`
      : rows.join('\n');
  return (
    `<table><caption>${escapeHtml(caption)}</caption>\n<thead><tr>${head}</tr></thead>\n` +
    `<tbody>\n${body}\n</tbody></table>`
  );
}

function rowHtml(header: string, cells: string): string {
  return `<tr><th scope="row">${escapeHtml(header)}</th>${cells}</tr>`;
}

function totalsTable(report: DiscrepancyReport): string {
  const { figures } = report;
  return tableHtml(
    'Totals for the period',
    ['figure', 'readings', 'kWh'],
    [
      rowHtml(
        'held (open anomalies)',
        numberCells(figures.byStatus.held.items, kwh(figures.byStatus.held)),
      ),
      rowHtml(
        'released into the ledger',
        numberCells(figures.byStatus.released.items, kwh(figures.byStatus.released)),
      ),
      rowHtml(
        'rejected',
        numberCells(figures.byStatus.rejected.items, kwh(figures.byStatus.rejected)),
      ),
      rowHtml(
        'estimated (current ledger readings)',
        numberCells(figures.estimated.items, kwh(figures.estimated)),
      ),
      rowHtml('meters with open anomalies', numberCells(figures.metersWithOpen, '')),
    ],
  );
}

function detectorTable(report: DiscrepancyReport): string {
  return tableHtml(
    'Anomalies by detector (a reading flagged by two detectors counts under each)',
    ['detector', 'held', 'held kWh', 'released', 'released kWh', 'rejected', 'rejected kWh'],
    report.figures.byDetector.map((detector) =>
      rowHtml(
        detector.detector,
        numberCells(
          ...STATUSES.flatMap((status) => [detector[status].items, kwh(detector[status])]),
        ),
      ),
    ),
  );
}

function ageingTable(report: DiscrepancyReport): string {
  return tableHtml(
    `Ageing of open anomalies (whole days since held, at ${new Date(report.generatedAtMs).toISOString()})`,
    ['age', 'open anomalies', 'kWh held'],
    report.ageing.map((bucket) => rowHtml(bucket.label, numberCells(bucket.items, kwh(bucket)))),
  );
}

function topMetersTable(report: DiscrepancyReport): string {
  return tableHtml(
    'Top meters by kWh at stake (the absolute kWh of their open anomalies)',
    ['rank', 'meter', 'kWh at stake', 'held', 'held kWh', 'released', 'rejected', 'chart'],
    report.figures.topMeters.map((meter, index) => {
      const chartIndex = report.charts.findIndex((chart) => chart.meterId === meter.meterId);
      const link = chartIndex < 0 ? '' : `<a href="#chart-${chartIndex + 1}">chart</a>`;
      return (
        `<tr><td class="num">${index + 1}</td><th scope="row">${escapeHtml(meter.meterId)}</th>` +
        numberCells(
          formatMilliWhAsKwh(meter.atStakeMilliWh),
          meter.held.items,
          kwh(meter.held),
          meter.released.items,
          meter.rejected.items,
        ) +
        `<td>${link}</td></tr>`
      );
    }),
  );
}

function decisionText(flag: AnomalyRow): string {
  const decision = flag.decision;
  if (decision === null) return `held since ${new Date(flag.heldAtMs).toISOString()}`;
  return `${decision.status} by ${decision.actor} at ${new Date(decision.atMs).toISOString()}: ${decision.note}`;
}

function flagsTable(chart: MeterChart, timeZone: string): string {
  return tableHtml(
    `Flagged readings of meter ${chart.meterId}` +
      (chart.flagsTruncated ? ` (the first ${chart.flags.length})` : ''),
    ['interval start', 'channel', 'value', 'status', 'detectors', 'decision'],
    chart.flags.map(
      (flag) =>
        `<tr><th scope="row">${escapeHtml(localIso(flag.reading.intervalStartMs, timeZone))}</th>` +
        `<td>${escapeHtml(flag.reading.channel)}</td>` +
        numberCells(`${formatValueMicro(flag.reading.valueMicro)} ${flag.reading.unit}`) +
        `<td>${escapeHtml(flag.status)}</td>` +
        `<td>${escapeHtml([...new Set(flag.findings.map((f) => (f.message === '' ? f.detector : `${f.detector}: ${f.message}`)))].join('; '))}</td>` +
        `<td>${escapeHtml(decisionText(flag))}</td></tr>`,
    ),
  );
}

function chartSummary(chart: MeterChart, timeZone: string): string {
  const charted = chart.flags.filter((flag) => flag.reading.channel === chart.channel);
  const counts = STATUSES.map(
    (status) => `${charted.filter((flag) => flag.status === status).length} ${status}`,
  ).join(', ');
  return (
    `Line chart of meter ${chart.meterId} channel ${chart.channel}, ` +
    `${localIso(chart.fromMs, timeZone)} to ${localIso(chart.toMs, timeZone)}: ` +
    `${chart.series.length} ledger readings as a line` +
    (chart.seriesTruncated ? ' (the first ones only)' : '') +
    `; flagged readings marked as dots: ${counts}. The table below lists them.`
  );
}

/** The chart's data as uPlot takes it: one x array (seconds) and aligned value arrays. */
export function chartData(chart: MeterChart, index: number, timeZone: string) {
  const charted = chart.flags.filter((flag) => flag.reading.channel === chart.channel);
  const times = new Set<number>(chart.series.map((point) => point.intervalStartMs));
  for (const flag of charted) times.add(flag.reading.intervalStartMs);
  const x = [...times].sort((a, b) => a - b);
  const ledger = new Map(chart.series.map((point) => [point.intervalStartMs, point.valueMicro]));
  const column = (status: AnomalyStatus) => {
    const values = new Map(
      charted
        .filter((flag) => flag.status === status)
        .map((flag) => [flag.reading.intervalStartMs, flag.reading.valueMicro]),
    );
    return x.map((ms) => (values.has(ms) ? values.get(ms)! / 1e6 : null));
  };
  return {
    id: `chart-canvas-${index + 1}`,
    timeZone,
    x: x.map((ms) => ms / 1000),
    ledger: x.map((ms) => (ledger.has(ms) ? ledger.get(ms)! / 1e6 : null)),
    held: column('held'),
    released: column('released'),
    rejected: column('rejected'),
  };
}

function chartFigure(chart: MeterChart, index: number, timeZone: string): string {
  const summary = chartSummary(chart, timeZone);
  const key = [
    '<span class="ledger"><b></b>ledger kWh (a gap: no billed value)</span>',
    ...STATUSES.map((status) => `<span class="${status}"><b></b>${status}</span>`),
  ].join('');
  return (
    `<figure id="chart-${index + 1}" aria-labelledby="chart-title-${index + 1}">\n` +
    `<figcaption id="chart-title-${index + 1}">${index + 1}. Meter ${escapeHtml(chart.meterId)}, ` +
    `channel ${escapeHtml(chart.channel)}</figcaption>\n` +
    `<div class="chart" id="chart-canvas-${index + 1}" role="img" ` +
    `aria-label="${escapeHtml(summary)}"></div>\n` +
    `<p class="key" aria-hidden="true">${key}</p>\n` +
    `<p class="note">${escapeHtml(summary)}</p>\n` +
    `${flagsTable(chart, timeZone)}\n</figure>`
  );
}

/** The whole page, with uPlot inlined and a policy that forbids every fetch. */
export function discrepancyHtml(report: DiscrepancyReport, assets: ChartAssets): string {
  const { period } = report;
  const zone = period.timeZone;
  const sources =
    report.sourceIds.length === 0 ? 'every source' : `sources ${report.sourceIds.join(', ')}`;
  const charts = report.charts.map((chart, index) => chartFigure(chart, index, zone));
  const data = report.charts.map((chart, index) => chartData(chart, index, zone));
  const body = `<main>
<h1>Discrepancy report ${escapeHtml(period.month)}</h1>
<p class="note">Readings whose interval starts in ${escapeHtml(period.month)} in the time zone
${escapeHtml(zone)} (from ${escapeHtml(localIso(period.fromMs, zone))} to before
${escapeHtml(localIso(period.toMs, zone))}), of ${escapeHtml(sources)}. Generated at
${escapeHtml(new Date(report.generatedAtMs).toISOString())}. kWh are exact to six decimals and sum
electricity in kWh only; docs/reports.md says what each figure means.</p>
<h2>Figures</h2>
${totalsTable(report)}
${detectorTable(report)}
${ageingTable(report)}
${topMetersTable(report)}
<h2>Top meters around their flagged readings</h2>
${charts.length === 0 ? '<p>No meter has open anomalies in this period.</p>' : charts.join('\n')}
</main>
<script type="application/json" id="chart-data">${scriptJson(data)}</script>`;
  return htmlPage({
    title: `Discrepancy report ${period.month}`,
    css: `${assets.uplotCss}\n${PAGE_CSS}`,
    body,
    scripts: [assets.uplotJs, CHART_SCRIPT],
  });
}
