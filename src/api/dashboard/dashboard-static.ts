/**
 * The dashboard's own stylesheet and script. Colours are chosen for at least 4.5:1 contrast on
 * the white page (WCAG AA), focus is always visible, and sizes are in rem so a projector's zoom
 * scales everything. The script only draws the anomaly chart: every action is a plain form that
 * works without it, and htmx (hx-boost) makes those forms swap the page in place.
 */
import { FLAG_COLOURS, LEDGER_COLOUR } from '../../report/discrepancy-html.js';
import { SLA_CSS } from '../../report/sla-html.js';

export const DASHBOARD_CSS = `${SLA_CSS}
:root { color-scheme: light; --ink: #1a1a1a; --muted: #4a4a4a; --line: #8a8a8a;
  --accent: #0b57d0; --bad: #b3261e; --good: #1b6e2f; --warn-bg: #fff4ce; }
* { box-sizing: border-box; }
body { margin: 0; font: 1rem/1.5 system-ui, sans-serif; color: var(--ink); background: #fff; }
a { color: var(--accent); }
a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible,
textarea:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
.skip { position: absolute; left: -999rem; }
.skip:focus { left: 1rem; top: 1rem; background: #fff; padding: 0.5rem; z-index: 10; }
header { display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; padding: 0.75rem 1.5rem;
  border-bottom: 2px solid var(--line); }
header .brand { font-weight: 700; font-size: 1.2rem; margin-right: 1rem; }
nav ul { display: flex; flex-wrap: wrap; gap: 1rem; list-style: none; margin: 0; padding: 0; }
nav a[aria-current="page"] { font-weight: 700; text-decoration-thickness: 3px; }
header .who { margin-left: auto; color: var(--muted); }
main { padding: 1rem 1.5rem 3rem; max-width: 90rem; }
h1 { font-size: 1.6rem; margin: 0.5rem 0 1rem; }
h2 { font-size: 1.25rem; margin: 1.5rem 0 0.5rem; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; }
caption { text-align: left; font-weight: 600; padding: 0.25rem 0; }
th, td { border: 1px solid var(--line); padding: 0.3rem 0.6rem; text-align: left;
  vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.notice { padding: 0.6rem 1rem; border: 2px solid var(--good); margin: 0.5rem 0; }
.error { padding: 0.6rem 1rem; border: 2px solid var(--bad); color: var(--bad); margin: 0.5rem 0; }
.alert { padding: 0.4rem 0.8rem; background: var(--warn-bg); border-left: 4px solid var(--bad);
  margin: 0.25rem 0; list-style: none; }
ul.alerts { padding: 0; }
.state-bad { color: var(--bad); font-weight: 700; }
.state-good { color: var(--good); font-weight: 700; }
form.inline { display: flex; flex-wrap: wrap; gap: 0.5rem; align-items: end; margin: 0.25rem 0; }
form.stack { display: grid; gap: 0.4rem; max-width: 40rem; margin: 0.5rem 0 1rem; }
label { font-weight: 600; }
input, select, textarea, button { font: inherit; }
input, select, textarea { border: 1px solid var(--muted); padding: 0.3rem 0.4rem;
  border-radius: 3px; }
button { background: var(--accent); color: #fff; border: 0; padding: 0.4rem 0.9rem;
  border-radius: 4px; cursor: pointer; }
button.danger { background: var(--bad); }
pre { white-space: pre-wrap; word-break: break-all; background: #f3f3f3; padding: 0.6rem;
  border: 1px solid var(--line); max-height: 20rem; overflow: auto; }
.chart { margin: 1rem 0; min-height: 320px; }
.legend-held { color: ${FLAG_COLOURS.held}; font-weight: 700; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 1rem; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; }
`;

/**
 * Draws the anomaly page's chart from its JSON block: the meter channel's ledger series as a line
 * and the flagged readings as points. Marks the chart rendered for tests.
 */
export const DASHBOARD_JS = `
(function () {
  function draw() {
    var data = document.getElementById('chart-data');
    var target = document.getElementById('chart');
    if (!data || !target || target.getAttribute('data-rendered') === 'true') return;
    var chart = JSON.parse(data.textContent);
    var width = Math.max(320, Math.min(1100, target.clientWidth || 900));
    new uPlot({
      width: width,
      height: 300,
      scales: { x: { time: true } },
      axes: [{}, { label: chart.unit }],
      series: [
        {},
        { label: 'ledger (' + chart.unit + ')', stroke: '${LEDGER_COLOUR}', width: 2 },
        { label: 'flagged', stroke: '${FLAG_COLOURS.held}', width: 0, paths: function () { return null; },
          points: { show: true, size: 10, fill: '${FLAG_COLOURS.held}' } }
      ]
    }, [chart.x, chart.ledger, chart.flags], target);
    target.setAttribute('data-rendered', 'true');
  }
  document.addEventListener('DOMContentLoaded', draw);
  document.addEventListener('htmx:afterSettle', draw);
  if (document.readyState !== 'loading') draw();
})();
`;
