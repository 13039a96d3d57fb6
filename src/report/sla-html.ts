/**
 * The vendor SLA report as one self-contained HTML page: per source a table of its days (expected
 * intervals, received within each target window, the share, pass, breach or pending) and a table
 * of its breaches with the meters that caused them. No script and no fetch: a
 * Content-Security-Policy allows only the page's own stylesheet (by its sha256). Every text from
 * the store or the configuration is escaped. `slaSectionsHtml` is also what the dashboard shows.
 */
import { escapeHtml, htmlPage } from './html-page.js';
import { localIso } from './period.js';
import { targetLabel } from './sla-config.js';
import {
  formatMilliPercent,
  type SlaBreach,
  type SlaReport,
  type SlaVerdict,
  type SourceSlaReport,
} from './sla.js';

/** Verdict colours, each at least 4.5:1 on white; the verdict is also written as a word. */
export const VERDICT_COLOURS: Readonly<Record<SlaVerdict, string>> = {
  pass: '#1b6e2f',
  breach: '#b3261e',
  pending: '#5a5a5a',
};

export const SLA_CSS = `
table.sla { border-collapse: collapse; margin: .5rem 0 1.5rem; }
table.sla caption { text-align: left; font-weight: 600; padding: .25rem 0; }
table.sla th, table.sla td { border: 1px solid #767676; padding: .3rem .6rem; text-align: left;
  vertical-align: top; }
table.sla thead th { background: #e8eef5; }
table.sla td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
${Object.entries(VERDICT_COLOURS)
  .map(([verdict, colour]) => `table.sla .${verdict} { color: ${colour}; font-weight: 600; }`)
  .join('\n')}
`;

const PAGE_CSS = `
:root { color-scheme: light; }
body { font: 18px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #111;
  background: #fff; margin: 0; }
main { max-width: 80rem; margin: 0 auto; padding: 1.5rem; }
h1 { font-size: 1.8rem; margin: 0 0 .5rem; }
h2 { font-size: 1.4rem; margin: 2rem 0 .5rem; border-bottom: 2px solid #1f4e79; }
p.note { color: #333; max-width: 60rem; }
${SLA_CSS}
`;

function num(value: number | string): string {
  return `<td class="num">${escapeHtml(String(value))}</td>`;
}

function verdictCell(verdict: SlaVerdict): string {
  return `<td class="${verdict}">${verdict}</td>`;
}

function table(caption: string, headers: readonly string[], rows: readonly string[]): string {
  const head = headers.map((header) => `<th scope="col">${escapeHtml(header)}</th>`).join('');
  const body =
    rows.length === 0 ? `<tr><td colspan="${headers.length}">none</td></tr>` : rows.join('\n');
  return (
    `<table class="sla"><caption>${escapeHtml(caption)}</caption>\n<thead><tr>${head}</tr>` +
    `</thead>\n<tbody>\n${body}\n</tbody></table>`
  );
}

function daysTable(source: SourceSlaReport, timeZone: string): string {
  const headers = ['day', 'hours', 'expected', 'received'];
  for (const target of source.targets) {
    headers.push(`within ${target.within}`, `share (target ${target.share})`, 'verdict');
  }
  return table(
    `${source.sourceId}: intervals per local day (${timeZone})`,
    headers,
    source.days.map((day) => {
      const hours = Math.round((day.toMs - day.fromMs) / 3_600_000);
      const results = day.results
        .map(
          (result) =>
            num(result.receivedWithin) +
            num(formatMilliPercent(result.actualMilliPercent)) +
            verdictCell(result.verdict),
        )
        .join('');
      return (
        `<tr><th scope="row" title="${escapeHtml(`${localIso(day.fromMs, timeZone)} to ${localIso(day.toMs, timeZone)}`)}">` +
        `${escapeHtml(day.day)}</th>${num(hours)}${num(day.expected)}${num(day.received)}` +
        `${results}</tr>`
      );
    }),
  );
}

function meterList(breach: SlaBreach): string {
  const items = breach.meters.map(
    (meter) =>
      `<li>${escapeHtml(meter.meterId)}: ${meter.missing} missing, ${meter.late} late ` +
      `of ${meter.expected}</li>`,
  );
  const more =
    breach.metersTotal > breach.meters.length
      ? `<li>and ${breach.metersTotal - breach.meters.length} more meters</li>`
      : '';
  return `<ul>${items.join('')}${more}</ul>`;
}

function breachesTable(source: SourceSlaReport): string {
  return table(
    `${source.sourceId}: breaches, with the meters that caused them (most missing and late first)`,
    ['day', 'target', 'expected', 'received within', 'share', 'meters short'],
    source.breaches.map(
      (breach) =>
        `<tr><th scope="row">${escapeHtml(breach.day)}</th>` +
        `<td>${escapeHtml(targetLabel(breach))}</td>${num(breach.expected)}` +
        `${num(breach.receivedWithin)}${num(formatMilliPercent(breach.actualMilliPercent))}` +
        `<td>${meterList(breach)}</td></tr>`,
    ),
  );
}

function sourceSummary(source: SourceSlaReport): string {
  const targets = source.targets.map(targetLabel).join('; ');
  const pending = source.days.some((day) => day.results.some((r) => r.verdict === 'pending'));
  return (
    `<p class="note">Targets: ${escapeHtml(targets)}. ${source.meters} meters ` +
    `(${source.streams} meter channels) expected. ${source.breaches.length} breaches.` +
    (pending ? ' A pending verdict waits for its window to close.' : '') +
    '</p>'
  );
}

/** Each source's heading, summary, days and breaches: the page body, and the dashboard's. */
export function slaSectionsHtml(report: SlaReport, headingLevel: 2 | 3 = 2): string {
  if (report.sources.length === 0) {
    return '<p>No source has an SLA in the configuration (docs/config.md, "Vendor SLAs").</p>';
  }
  const h = `h${headingLevel}`;
  return report.sources
    .map(
      (source) =>
        `<section aria-labelledby="sla-${escapeHtml(source.sourceId)}">` +
        `<${h} id="sla-${escapeHtml(source.sourceId)}">${escapeHtml(source.sourceId)}</${h}>\n` +
        `${sourceSummary(source)}\n${daysTable(source, report.timeZone)}\n` +
        `${breachesTable(source)}</section>`,
    )
    .join('\n');
}

/** The whole page; nothing in it loads or runs anything. */
export function slaHtml(report: SlaReport): string {
  const body = `<main>
<h1>Vendor SLA report ${escapeHtml(report.label)}</h1>
<p class="note">Completeness and timeliness per source and local day in ${escapeHtml(report.timeZone)},
measured from the ledger's own arrival times (when the first batch that wrote each interval
committed) at ${escapeHtml(new Date(report.generatedAtMs).toISOString())}. Expected intervals are
those of the meters each source delivered in the ledger, in the period or the
${report.lookbackDays} days before. docs/reports.md says how each figure is counted.</p>
${slaSectionsHtml(report)}
</main>`;
  return htmlPage({
    title: `Vendor SLA report ${report.label}`,
    css: PAGE_CSS,
    body,
    scripts: [],
  });
}
