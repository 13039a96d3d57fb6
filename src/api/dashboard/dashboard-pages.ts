/**
 * The dashboard's pages as pure functions from the API's own answers to HTML bodies: the figures
 * shown are the ones the API gives, so a test can compare the two.
 */
import { formatValueMicro } from '../../core/decimal.js';
import type { Pause } from '../../core/pause.js';
import type { AnomalyRow, QuarantineRow } from '../../core/store.js';
import { scriptJson } from '../../report/discrepancy-html.js';
import type { VerifyRecord } from '../api-context.js';
import type { anomalySeries } from '../routes-anomalies.js';
import type { quarantineItem } from '../routes-quarantine.js';
import type { SourceOverview } from '../routes-status.js';
import { actionForm, cell, escapeHtml, isoOrDash, table } from './dashboard-html.js';
import { type BreakerReport } from '../../cli/views.js';
import type { SlaReport } from '../../report/sla.js';
import { slaSectionsHtml } from '../../report/sla-html.js';

const COUNTS = [
  ['received', 'received'],
  ['accepted', 'accepted'],
  ['duplicates', 'duplicates'],
  ['quarantined', 'quarantined'],
  ['anomalyHeld', 'held'],
  ['deadLettered', 'dead-lettered'],
] as const;

export interface OverviewView {
  readonly sources: readonly SourceOverview[];
  readonly globalPause: Pause | null;
  readonly breakers: readonly BreakerReport[];
  readonly quarantineOpen: number;
  readonly anomaliesHeld: number;
  readonly deadLettersOpen: number;
  readonly auditEntries: number;
  readonly canOperate: boolean;
}

function lagText(seconds: number | null): string {
  if (seconds === null) return 'no delivery yet';
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7_200) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds / 3_600)} h`;
}

function alerts(view: OverviewView): string[] {
  const found: string[] = [];
  if (view.globalPause !== null) {
    found.push(`Every source is paused by ${view.globalPause.actor}: ${view.globalPause.reason}`);
  }
  for (const source of view.sources) {
    if (!source.conserved) found.push(`Source ${source.sourceId}: conservation does not hold`);
    if (source.pause !== null && source.pause.sourceId !== null) {
      found.push(
        `Source ${source.sourceId} is paused by ${source.pause.actor}: ${source.pause.reason}`,
      );
    }
  }
  for (const breaker of view.breakers) {
    if (breaker.state !== 'closed') found.push(`Breaker ${breaker.endpoint} is ${breaker.state}`);
  }
  if (view.quarantineOpen > 0) found.push(`${view.quarantineOpen} quarantine items are open`);
  if (view.anomaliesHeld > 0) found.push(`${view.anomaliesHeld} readings are held for review`);
  if (view.deadLettersOpen > 0) found.push(`${view.deadLettersOpen} dead letters are open`);
  return found;
}

function sourceRow(source: SourceOverview, canOperate: boolean): string[] {
  const id = escapeHtml(source.sourceId);
  const paused = source.pause !== null;
  const control = !canOperate
    ? ''
    : paused && source.pause?.sourceId !== null
      ? actionForm({
          action: `/sources/${source.sourceId}/resume`,
          button: `Resume ${source.sourceId}`,
        })
      : paused
        ? 'held by the global pause'
        : actionForm({
            action: `/sources/${source.sourceId}/pause`,
            button: `Pause ${source.sourceId}`,
            danger: true,
            field: { name: 'reason', label: `Reason to pause ${source.sourceId}`, required: true },
          });
  return [
    `<th scope="row">${id}</th>`,
    ...COUNTS.map(([key]) => cell(source.counts[key], `data-source="${id}" data-count="${key}"`)),
    cell(source.conserved ? 'yes' : 'NO'),
    cell(`${isoOrDash(source.lastDeliveryAt === null ? null : Date.parse(source.lastDeliveryAt))}`),
    cell(lagText(source.lagSeconds)),
    cell(source.breaker),
    `<td data-source="${id}" data-paused="${paused}">${paused ? '<span class="state-bad">paused</span>' : '<span class="state-good">reading</span>'}</td>`,
    `<td>${control}</td>`,
  ];
}

export function overviewBody(view: OverviewView): string {
  const found = alerts(view);
  const global = !view.canOperate
    ? ''
    : view.globalPause === null
      ? actionForm({
          action: '/pause',
          button: 'Pause every source',
          danger: true,
          field: { name: 'reason', label: 'Reason to pause every source', required: true },
        })
      : actionForm({ action: '/resume', button: 'Resume every source' });
  return [
    '<h2>Alerts</h2>',
    found.length === 0
      ? '<p>No alerts.</p>'
      : `<ul class="alerts">${found.map((text) => `<li class="alert">${escapeHtml(text)}</li>`).join('')}</ul>`,
    '<h2>Sources</h2>',
    table(
      'Per source: conservation counts, lag since the last delivery, breaker and pause',
      [
        'source',
        ...COUNTS.map(([, label]) => label),
        'conserved',
        'last delivery',
        'lag',
        'breaker',
        'state',
        'action',
      ],
      view.sources.map((source) => sourceRow(source, view.canOperate)),
    ),
    global,
    '<h2>Worklists</h2>',
    '<dl class="facts">',
    `<dt><a href="/quarantine">Quarantine open</a></dt><dd data-figure="quarantine-open">${view.quarantineOpen}</dd>`,
    `<dt><a href="/anomalies">Anomalies held</a></dt><dd data-figure="anomalies-held">${view.anomaliesHeld}</dd>`,
    `<dt>Dead letters open</dt><dd data-figure="dead-letters-open">${view.deadLettersOpen}</dd>`,
    `<dt><a href="/audit">Audit chain entries</a></dt><dd data-figure="audit-entries">${view.auditEntries}</dd>`,
    '</dl>',
  ].join('\n');
}

export interface QuarantineFilterView {
  readonly status: string;
  readonly code: string;
  readonly meter: string;
}

function filterForm(filter: QuarantineFilterView): string {
  const options = ['open', 'replayed', 'accepted', 'rejected', 'any']
    .map((s) => `<option value="${s}"${s === filter.status ? ' selected' : ''}>${s}</option>`)
    .join('');
  return (
    '<form method="get" action="/quarantine" class="inline" role="search" aria-label="Filter">' +
    `<label for="q-status">Status</label><select id="q-status" name="status">${options}</select>` +
    `<label for="q-code">Rule</label><input id="q-code" name="code" value="${escapeHtml(filter.code)}" placeholder="consumption.range">` +
    `<label for="q-meter">Meter</label><input id="q-meter" name="meter" value="${escapeHtml(filter.meter)}">` +
    '<button type="submit">Filter</button></form>'
  );
}

export function quarantineListBody(
  filter: QuarantineFilterView,
  rows: readonly QuarantineRow[],
): string {
  return [
    filterForm(filter),
    table(
      'Quarantine items',
      ['item', 'status', 'meter', 'reasons', 'repeats', 'delivery'],
      rows.map((row) => [
        `<td><a href="/quarantine/${row.id}">Item ${row.id}</a></td>`,
        cell(row.status),
        meterCell(row.meterId),
        cell(row.currentViolations.map((v) => `${v.field} ${v.code}: ${v.message}`).join('; ')),
        cell(row.repeats),
        cell(row.deliveryId),
      ]),
    ),
  ].join('\n');
}

export function quarantineItemBody(
  item: Awaited<ReturnType<typeof quarantineItem>>,
  canOperate: boolean,
): string {
  const raw = Buffer.from(item.raw.base64, 'base64');
  const actions =
    !canOperate || item.status !== 'open'
      ? ''
      : [
          '<h2>Decide</h2>',
          actionForm({
            action: `/quarantine/${item.id}/replay`,
            button: 'Replay with the current dictionary',
          }),
          actionForm({
            action: `/quarantine/${item.id}/accept`,
            button: 'Accept into the ledger',
            field: {
              name: 'justification',
              label: 'Justification to accept',
              required: true,
              multiline: true,
            },
          }),
          actionForm({
            action: `/quarantine/${item.id}/reject`,
            button: 'Reject for good',
            danger: true,
            field: {
              name: 'justification',
              label: 'Justification to reject',
              required: true,
              multiline: true,
            },
          }),
        ].join('\n');
  return [
    '<dl class="facts">',
    `<dt>Status</dt><dd data-figure="status">${escapeHtml(item.status)}</dd>`,
    `<dt>Meter</dt><dd>${item.meterId === null ? '-' : meterLink(item.meterId)}</dd>`,
    `<dt>Delivery</dt><dd>${escapeHtml(item.delivery?.name ?? item.deliveryId)} (line ${item.location.line})</dd>`,
    `<dt>Raw bytes</dt><dd>${item.raw.bytes} bytes, sha256 ${escapeHtml(item.raw.sha256)}</dd>`,
    '</dl>',
    table(
      'Every reason',
      ['field', 'rule', 'value', 'reason'],
      item.currentViolations.map((v) => [
        cell(v.field),
        cell(v.code),
        cell(String(v.value)),
        cell(v.message),
      ]),
    ),
    '<h2>Raw bytes</h2>',
    `<pre aria-label="raw bytes as text">${escapeHtml(raw.toString('utf8'))}</pre>`,
    `<details><summary>Base64${item.raw.truncated ? ' (first part)' : ''}</summary><pre>${escapeHtml(item.raw.base64)}</pre></details>`,
    table(
      'History',
      ['action', 'outcome', 'by', 'justification'],
      item.actions.map((a) => [
        cell(a.action),
        cell(a.outcome),
        cell(a.actor),
        cell(a.justification),
      ]),
    ),
    actions,
  ].join('\n');
}

export function anomalyListBody(rows: readonly AnomalyRow[], status: string): string {
  const options = ['held', 'released', 'rejected', 'any']
    .map((s) => `<option value="${s}"${s === status ? ' selected' : ''}>${s}</option>`)
    .join('');
  return [
    '<form method="get" action="/anomalies" class="inline" role="search" aria-label="Filter">' +
      `<label for="a-status">Status</label><select id="a-status" name="status">${options}</select>` +
      '<button type="submit">Filter</button></form>',
    table(
      'Anomaly ledger',
      ['hold', 'status', 'meter', 'channel', 'interval start', 'value', 'detectors'],
      rows.map((row) => [
        `<td><a href="/anomalies/${row.id}">Hold ${row.id}</a></td>`,
        cell(row.status),
        meterCell(row.reading.meterId),
        cell(row.reading.channel),
        cell(isoOrDash(row.reading.intervalStartMs)),
        cell(`${formatValueMicro(row.reading.valueMicro)} ${row.reading.unit}`),
        cell([...new Set(row.findings.map((f) => f.detector))].join(', ')),
      ]),
    ),
  ].join('\n');
}

/** The chart's data for uPlot: seconds on x, the ledger line, and the flags as points. */
function chartJson(series: Awaited<ReturnType<typeof anomalySeries>>) {
  const times = [
    ...new Set([
      ...series.series.map((p) => p.intervalStartMs),
      ...series.flags.map((f) => f.intervalStartMs),
    ]),
  ].sort((a, b) => a - b);
  const ledger = new Map(series.series.map((p) => [p.intervalStartMs, p.valueMicro / 1e6]));
  const flags = new Map(series.flags.map((f) => [f.intervalStartMs, f.valueMicro / 1e6]));
  return {
    unit: series.unit,
    x: times.map((ms) => ms / 1000),
    ledger: times.map((ms) => ledger.get(ms) ?? null),
    flags: times.map((ms) => flags.get(ms) ?? null),
  };
}

export function anomalyBody(
  row: AnomalyRow,
  series: Awaited<ReturnType<typeof anomalySeries>>,
  canOperate: boolean,
): string {
  const reading = row.reading;
  const decide =
    !canOperate || row.status !== 'held'
      ? ''
      : [
          '<h2>Decide</h2>',
          actionForm({
            action: `/anomalies/${row.id}/release`,
            button: 'Release into the ledger',
            field: { name: 'note', label: 'Note for the release', required: true, multiline: true },
          }),
          actionForm({
            action: `/anomalies/${row.id}/reject`,
            button: 'Reject the reading',
            danger: true,
            field: {
              name: 'note',
              label: 'Note for the rejection',
              required: true,
              multiline: true,
            },
          }),
        ].join('\n');
  return [
    '<dl class="facts">',
    `<dt>Status</dt><dd data-figure="status">${escapeHtml(row.status)}</dd>`,
    `<dt>Meter</dt><dd>${meterLink(reading.meterId)} channel ${escapeHtml(reading.channel)}</dd>`,
    `<dt>Interval start</dt><dd>${isoOrDash(reading.intervalStartMs)}</dd>`,
    `<dt>Value</dt><dd>${escapeHtml(formatValueMicro(reading.valueMicro))} ${escapeHtml(reading.unit)}</dd>`,
    `<dt>Source</dt><dd>${escapeHtml(row.sourceId)}, delivery ${escapeHtml(row.deliveryId)}</dd>`,
    '</dl>',
    table(
      'Findings',
      ['detector', 'finding'],
      row.findings.map((f) => [cell(f.detector), cell(f.message)]),
    ),
    "<h2>The meter's series</h2>",
    `<p>The ledger's values of this meter channel around the hold, with <span class="legend-held">flagged readings marked as points</span>.</p>`,
    `<div id="chart" class="chart" role="img" aria-label="${escapeHtml(`Ledger series of ${reading.meterId} channel ${reading.channel} with ${series.flags.length} flagged readings`)}"></div>`,
    `<script type="application/json" id="chart-data">${scriptJson(chartJson(series))}</script>`,
    table(
      'Flagged readings of this meter channel',
      ['hold', 'interval start', 'value', 'status', 'detectors'],
      series.flags.map((f) => [
        cell(f.anomalyId),
        cell(isoOrDash(f.intervalStartMs)),
        cell(formatValueMicro(f.valueMicro)),
        cell(f.status),
        cell(f.detectors.join(', ')),
      ]),
    ),
    decide,
    row.decision === null
      ? ''
      : `<p>${escapeHtml(`${row.decision.status} by ${row.decision.actor}: ${row.decision.note}`)}</p>`,
  ].join('\n');
}

export function auditBody(view: {
  lastVerify: VerifyRecord | null;
  auditEntries: number;
  checkpoints: readonly { auditSeq: number; atMs: number; keyFingerprint: string }[];
  canVerify: boolean;
}): string {
  const last = view.lastVerify;
  return [
    '<dl class="facts">',
    `<dt>Chain entries</dt><dd data-figure="audit-entries">${view.auditEntries}</dd>`,
    `<dt>Last verification</dt><dd data-figure="last-verify">${
      last === null
        ? 'not run by this service yet'
        : escapeHtml(
            `${last.report.ok ? 'verified' : `FAILED: ${last.report.firstProblem?.reason ?? ''}`}` +
              ` at ${isoOrDash(last.atMs)} by ${last.by} (${last.report.entries} entries, ` +
              `${last.report.checkpointsVerified} of ${last.report.checkpoints} checkpoints)`,
          )
    }</dd>`,
    '</dl>',
    view.canVerify
      ? actionForm({ action: '/audit/verify', button: 'Verify the audit trail now' })
      : '',
    table(
      'Latest signed checkpoints',
      ['audit entry', 'at', 'key fingerprint'],
      view.checkpoints.map((c) => [
        cell(c.auditSeq),
        cell(isoOrDash(c.atMs)),
        cell(c.keyFingerprint),
      ]),
    ),
  ].join('\n');
}

export function loginBody(next: string): string {
  return (
    '<p>Paste an API token made with <code>amisync tokens add --role ...</code>.</p>' +
    '<form method="post" action="/login" class="stack" hx-boost="false">' +
    `<input type="hidden" name="next" value="${escapeHtml(next)}">` +
    '<label for="token">API token</label>' +
    '<input id="token" name="token" type="password" autocomplete="current-password" required>' +
    '<button type="submit">Log in</button></form>'
  );
}

/**
 * The vendor SLA page: a month and a source to choose (a plain GET form, so the address can be
 * bookmarked), then each source's days and breaches as the HTML report shows them.
 */
export function slaBody(report: SlaReport, sourceIds: readonly string[], source: string): string {
  const options = ['', ...sourceIds]
    .map(
      (id) =>
        `<option value="${escapeHtml(id)}"${id === source ? ' selected' : ''}>` +
        `${id === '' ? 'every source' : escapeHtml(id)}</option>`,
    )
    .join('');
  const form =
    '<form method="get" action="/sla" class="inline" aria-label="Choose the month and source">' +
    `<label for="sla-period">Month, YYYY-MM (${escapeHtml(report.timeZone)})</label>` +
    `<input id="sla-period" name="period" type="text" size="8" value="${escapeHtml(report.label)}" ` +
    'pattern="[0-9]{4}-(0[1-9]|1[0-2])" required>' +
    `<label for="sla-source">Source</label><select id="sla-source" name="source">${options}</select>` +
    '<button type="submit">Show</button></form>';
  const note =
    '<p>Expected intervals are those of the meters each source delivered (in the month or the ' +
    `${report.lookbackDays} days before); an interval counts at the commit of the first batch ` +
    'that wrote it. A pending verdict waits for its window to close.</p>';
  return `${form}\n${note}\n${slaSectionsHtml(report, 2)}`;
}

/** A link to a meter's page. */
export function meterLink(meterId: string): string {
  return `<a href="/meters/${encodeURIComponent(meterId)}">${escapeHtml(meterId)}</a>`;
}

/** A table cell with a link to the meter's page; a dash when the record names none. */
function meterCell(meterId: string | null): string {
  return meterId === null ? cell('-') : `<td>${meterLink(meterId)}</td>`;
}
