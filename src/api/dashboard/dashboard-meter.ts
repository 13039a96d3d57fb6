/**
 * The dashboard's meter page (its series with the open holds marked, quality counts, the readings
 * with a proof link each, the versions of a chosen interval) and the audit page's "prove a reading
 * by its key" section. Figures come from the views the API answers (src/cli/ledger-views.ts).
 */
import { API_SERIES_POINTS_MAX } from '../../core/limits.js';
import { QUALITIES } from '../../core/reading.js';
import type { MeterStreamRow } from '../../core/store.js';
import { scriptJson } from '../../report/discrepancy-html.js';
import type { ApiContext } from '../api-context.js';
import { asAmisyncError } from '../problem.js';
import {
  intervalVersions,
  ledgerPage,
  memoSeriesReader,
  meterViewOf,
  streamPoints,
  parseUtcInstant,
  readingProof,
} from '../../cli/ledger-views.js';
import { cell, escapeHtml, table } from './dashboard-html.js';

type MeterView = Awaited<ReturnType<typeof meterViewOf>>;
type SeriesView = Awaited<ReturnType<typeof streamPoints>>;
type LedgerView = Awaited<ReturnType<typeof ledgerPage>>;
type VersionsView = Awaited<ReturnType<typeof intervalVersions>>;

/**
 * Readings of the window the page lists with a proof link (half a day of 15-minute reads); the
 * series shows them all, and the ledger API and `amisync ledger show` page through every one. Each
 * listed reading is a table row read from disk: the page stays under 100 ms at 20 M readings.
 */
const READINGS_LISTED_MAX = 48;

/** How far back a register stream's chart reaches from its latest read: a year and a day. */
const REGISTER_WINDOW_MS = 366 * 86_400_000;

function chartJson(series: SeriesView, meter: MeterView) {
  const held = meter.openAnomalies.filter((a) => a.reading.channel === series.channel);
  const times = [
    ...new Set([
      ...series.points.map((p) => p.intervalStartMs),
      ...held.map((a) => a.reading.intervalStartMs),
    ]),
  ].sort((a, b) => a - b);
  const ledger = new Map(series.points.map((p) => [p.intervalStartMs, p.valueMicro / 1e6]));
  const flags = new Map(held.map((a) => [a.reading.intervalStartMs, a.reading.valueMicro / 1e6]));
  return {
    unit: series.unit,
    x: times.map((ms) => ms / 1000),
    ledger: times.map((ms) => ledger.get(ms) ?? null),
    flags: times.map((ms) => flags.get(ms) ?? null),
  };
}

function streamsTable(meter: MeterView): string {
  return table(
    'Streams, with the quality of their current readings in the latest week',
    [
      'channel',
      'unit',
      'interval (s)',
      'first interval',
      'last interval',
      'readings',
      ...QUALITIES,
    ],
    meter.streams.map((s) => [
      `<th scope="row">${escapeHtml(s.channel)}</th>`,
      cell(s.unit),
      cell(s.intervalSeconds ?? '-'),
      cell(s.firstIntervalStart ?? '-'),
      cell(s.lastIntervalStart ?? '-'),
      cell(s.currentReadings, `data-figure="readings-${escapeHtml(s.channel)}"`),
      ...QUALITIES.map((q) =>
        cell(
          s.window?.qualityCounts[q] ?? 0,
          `data-figure="quality-${escapeHtml(s.channel)}-${q}"`,
        ),
      ),
    ]),
  );
}

function versionsForm(meter: MeterView, channel: string, start: string): string {
  return (
    `<form method="get" action="/meters/${encodeURIComponent(meter.meterId)}" class="inline" ` +
    'aria-label="Versions of one interval">' +
    `<input type="hidden" name="channel" value="${escapeHtml(channel)}">` +
    '<label for="v-start">Interval start (UTC)</label>' +
    `<input id="v-start" name="start" type="text" size="24" value="${escapeHtml(start)}" ` +
    'placeholder="2026-10-01T06:00:00Z" required>' +
    '<button type="submit">Show its versions</button></form>'
  );
}

function readingsTable(page: LedgerView, meterId: string): string {
  const more =
    page.nextCursor === null
      ? ''
      : `<p>The first ${page.items.length} readings of the window; <code>amisync ledger show ` +
        `--meter ${escapeHtml(meterId)}</code> or <code>GET /api/ledger</code> pages through the rest.</p>`;
  return (
    more +
    table(
      'Readings in the window, each with its inclusion proof',
      ['interval start', 'value', 'quality', 'version', 'delivery', 'proof', 'versions'],
      page.items.map((row) => [
        cell(row.intervalStart),
        cell(`${row.value} ${row.unit}`),
        cell(row.quality),
        cell(row.version),
        cell(row.deliveryId ?? '-'),
        `<td><a href="/audit?key=${row.idempotencyKey}">Prove ${escapeHtml(row.intervalStart)}</a></td>`,
        `<td><a href="/meters/${encodeURIComponent(meterId)}?channel=${encodeURIComponent(row.channel)}&amp;start=${encodeURIComponent(row.intervalStart)}">Versions of ${escapeHtml(row.intervalStart)}</a></td>`,
      ]),
    )
  );
}

function versionsTable(versions: VersionsView): string {
  return table(
    `Versions of ${versions.meterId} channel ${versions.channel} at ${versions.intervalStart}, newest first`,
    ['version', 'value', 'quality', 'committed', 'delivery', 'idempotency key'],
    versions.versions.map((v) => [
      cell(v.version),
      cell(`${v.value} ${v.unit}`),
      cell(v.quality),
      cell(v.committedAt ?? '-'),
      cell(v.deliveryId ?? '-'),
      `<td><a href="/audit?key=${v.idempotencyKey}">${v.idempotencyKey}</a></td>`,
    ]),
  );
}

export function meterBody(view: {
  meter: MeterView;
  series: SeriesView | null;
  readings: LedgerView | null;
  versions: VersionsView | null;
  versionsError: string | null;
  start: string;
}): string {
  const { meter, series } = view;
  const held = meter.openAnomalies;
  return [
    streamsTable(meter),
    series === null
      ? ''
      : [
          `<h2>Series of channel ${escapeHtml(series.channel)}</h2>`,
          `<p>Current ledger values from ${escapeHtml(series.from ?? '-')} to ${escapeHtml(series.to ?? '-')}, ` +
            '<span class="legend-held">open holds marked as points</span>.</p>',
          `<div id="chart" class="chart" role="img" aria-label="${escapeHtml(`Ledger series of ${meter.meterId} channel ${series.channel}: ${series.points.length} readings, ${held.length} open holds`)}"></div>`,
          `<script type="application/json" id="chart-data">${scriptJson(chartJson(series, meter))}</script>`,
        ].join('\n'),
    '<h2>Versions of an interval</h2>',
    versionsForm(meter, series?.channel ?? meter.streams[0]?.channel ?? '', view.start),
    view.versionsError === null
      ? ''
      : `<p class="error" role="alert">${escapeHtml(view.versionsError)}</p>`,
    view.versions === null ? '' : versionsTable(view.versions),
    '<h2>Readings</h2>',
    view.readings === null ? '<p>No readings.</p>' : readingsTable(view.readings, meter.meterId),
    '<h2>Open holds</h2>',
    table(
      'Open holds of this meter',
      ['hold', 'channel', 'interval start', 'value'],
      held.map((a) => [
        `<td><a href="/anomalies/${a.id}">Hold ${a.id}</a></td>`,
        cell(a.reading.channel),
        cell(a.intervalStart),
        cell(a.value),
      ]),
    ),
    '<h2>Quarantine items naming this meter</h2>',
    table(
      'Quarantine items',
      ['item', 'status', 'reasons'],
      meter.quarantine.map((q) => [
        `<td><a href="/quarantine/${q.id}">Item ${q.id}</a></td>`,
        cell(q.status),
        cell(q.reasons.join('; ')),
      ]),
    ),
  ].join('\n');
}

type Query = Record<string, string | undefined>;

async function versionsOf(context: ApiContext, meterId: string, query: Query) {
  if (query.start === undefined || query.start === '' || query.channel === undefined) {
    return { versions: null, versionsError: null };
  }
  try {
    const intervalStartMs = parseUtcInstant('start', query.start.trim());
    const versions = await intervalVersions(context.store, {
      meterId,
      channel: query.channel,
      intervalStartMs,
    });
    return { versions, versionsError: null };
  } catch (error) {
    const known = asAmisyncError(error);
    if (known.code === 'INTERNAL') throw error;
    return { versions: null, versionsError: `${known.code}: ${known.message}` };
  }
}

/**
 * A register stream's reads (no interval length, so no grid to read a series on) as the chart's
 * points: its current reads of the latest year, oldest first, at most API_SERIES_POINTS_MAX. The
 * window ends just after the latest read shown, so the readings table lists the same reads.
 */
async function registerPoints(context: ApiContext, stream: MeterStreamRow): Promise<SeriesView> {
  const last = stream.lastIntervalStartMs;
  const fromMs = Math.max(stream.firstIntervalStartMs ?? 0, (last ?? 0) - REGISTER_WINDOW_MS);
  const rows =
    last === null
      ? []
      : await context.store.listLedgerRange({
          meterId: stream.meterId,
          channel: stream.channel,
          fromMs,
          toMs: last + 1,
          limit: API_SERIES_POINTS_MAX,
        });
  const shownLast = rows.at(-1)?.intervalStartMs;
  return {
    meterId: stream.meterId,
    channel: stream.channel,
    unit: stream.unit,
    intervalSeconds: stream.intervalSeconds,
    from: shownLast === undefined ? null : new Date(fromMs).toISOString(),
    to: shownLast === undefined ? null : new Date(shownLast + 1).toISOString(),
    points: rows.map((row) => ({
      intervalStartMs: row.intervalStartMs,
      valueMicro: row.valueMicro,
      quality: row.quality,
    })),
  };
}

/** The meter page's data: the view, the chosen channel's series and readings, any versions. */
export async function meterPageView(context: ApiContext, meterId: string, query: Query) {
  const readSeries = memoSeriesReader(context.store);
  // The streams are read once, for the view and the chart; the chart's points stay unformatted
  // (the page shows no per-point text, and formatting a week of them cost a tenth of the page).
  const streams = await context.store.listMeterStreams(meterId);
  const meter = await meterViewOf(context.store, meterId, streams, readSeries);
  const channel = query.channel ?? streams[0]?.channel;
  const stream = streams.find((s) => s.channel === channel);
  const series =
    stream === undefined
      ? null
      : stream.intervalSeconds !== null && stream.intervalSeconds > 0
        ? await streamPoints(stream, {}, readSeries)
        : await registerPoints(context, stream);
  const readings =
    series?.from == null || series.to == null
      ? null
      : await ledgerPage(context.store, {
          meterId,
          channel: series.channel,
          fromMs: Date.parse(series.from),
          toMs: Date.parse(series.to),
          limit: READINGS_LISTED_MAX,
        });
  return {
    meter,
    series,
    readings,
    start: query.start ?? '',
    ...(await versionsOf(context, meterId, query)),
  };
}

/** The audit page's form to prove a reading, and the proof when a key was given. */
export async function proveSection(context: ApiContext, key: string | undefined): Promise<string> {
  const form =
    '<h2>Prove a reading</h2>' +
    '<form method="get" action="/audit" class="inline" aria-label="Prove a reading by its key">' +
    '<label for="prove-key">Idempotency key</label>' +
    `<input id="prove-key" name="key" type="text" size="66" value="${escapeHtml(key ?? '')}" ` +
    'pattern="[0-9a-fA-F]{64}" required>' +
    '<button type="submit">Prove</button></form>';
  if (key === undefined || key === '') return form;
  try {
    const report = await readingProof(context.store, key.trim(), context.publicKey);
    const rows = report.proofs.map((proof) => [
      cell(proof.row.meterId),
      cell(proof.row.channel),
      cell(new Date(proof.row.intervalStartMs).toISOString()),
      cell(proof.row.version),
      cell(proof.row.batchId),
      cell(proof.auditEntry.seq),
      cell(
        Object.entries(proof.checks)
          .map(([name, ok]) => `${name} ${ok ? 'ok' : 'FAILED'}`)
          .join(', '),
      ),
    ]);
    return (
      form +
      `<p data-figure="proof" class="${report.verified ? 'notice' : 'error'}" role="status">` +
      `${report.verified ? 'Proof verified' : 'Proof FAILED'} for ${escapeHtml(report.idempotencyKey)}</p>` +
      table(
        'Inclusion proof',
        ['meter', 'channel', 'interval start', 'version', 'batch', 'audit entry', 'checks'],
        rows,
      )
    );
  } catch (error) {
    const known = asAmisyncError(error);
    if (known.code === 'INTERNAL') throw error;
    return `${form}<p class="error" role="alert">${escapeHtml(`${known.code}: ${known.message}`)}</p>`;
  }
}
