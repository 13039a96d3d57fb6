/**
 * The vendor SLA report as one CSV table (RFC 4180, CRLF line ends): one `day` row per source,
 * local day and target, then one `breach meter` row per meter that caused a breach. Numbers are
 * plain numbers (a share as a percentage with three decimals, no sign); every text cell is
 * neutralised against spreadsheet formula injection first, as in the discrepancy report.
 */
import assert from 'node:assert/strict';
import { csvTextCell } from './discrepancy-csv.js';
import { localIso } from './period.js';
import { targetLabel } from './sla-config.js';
import type { SlaReport, SourceSlaReport } from './sla.js';

export const SLA_CSV_COLUMNS = [
  'section',
  'source',
  'day',
  'target',
  'expected',
  'received',
  'received_within',
  'share_percent',
  'verdict',
  'meter',
  'missing',
  'late',
  'detail',
];

type Cell = { text: string } | { number: number | string } | null;

function numberCell(value: number | string): string {
  const text = String(value);
  assert.match(text, /^-?\d+(\.\d+)?$/, 'a number cell holds a number');
  return text;
}

function line(cells: readonly Cell[]): string {
  return cells
    .map((cell) => {
      if (cell === null) return '';
      return 'text' in cell ? csvTextCell(cell.text) : numberCell(cell.number);
    })
    .join(',');
}

const text = (value: string): Cell => ({ text: value });
const num = (value: number | string): Cell => ({ number: value });

/** Thousandths of a percent as a plain number: 99479 is `99.479`. */
function percentNumber(value: number | null): Cell {
  if (value === null) return null;
  return num(`${Math.floor(value / 1000)}.${String(value % 1000).padStart(3, '0')}`);
}

function sourceRows(source: SourceSlaReport, timeZone: string): Cell[][] {
  const rows: Cell[][] = [];
  for (const day of source.days) {
    day.results.forEach((result) => {
      rows.push([
        text('day'),
        text(source.sourceId),
        text(day.day),
        text(targetLabel(result)),
        num(day.expected),
        num(day.received),
        num(result.receivedWithin),
        percentNumber(result.actualMilliPercent),
        text(result.verdict),
        null,
        num(day.expected - day.received),
        num(day.received - result.receivedWithin),
        text(`${localIso(day.fromMs, timeZone)} to ${localIso(day.toMs, timeZone)}`),
      ]);
    });
  }
  for (const breach of source.breaches) {
    for (const meter of breach.meters) {
      rows.push([
        text('breach meter'),
        text(source.sourceId),
        text(breach.day),
        text(targetLabel(breach)),
        num(meter.expected),
        num(meter.expected - meter.missing),
        num(meter.expected - meter.missing - meter.late),
        null,
        text('breach'),
        text(meter.meterId),
        num(meter.missing),
        num(meter.late),
        text(
          breach.metersTotal > breach.meters.length
            ? `${breach.metersTotal} meters short; the ${breach.meters.length} shortest listed`
            : '',
        ),
      ]);
    }
  }
  return rows;
}

/** The whole report as CSV text, header first. */
export function slaCsv(report: SlaReport): string {
  const header: Cell[] = [
    text('period'),
    null,
    text(report.label),
    null,
    null,
    null,
    null,
    null,
    null,
    null,
    null,
    null,
    text(
      `${report.timeZone}; generated ${new Date(report.generatedAtMs).toISOString()}; ` +
        `meters known from the ledger and the ${report.lookbackDays} days before`,
    ),
  ];
  const rows = [
    SLA_CSV_COLUMNS.map(text),
    header,
    ...report.sources.flatMap((source) => sourceRows(source, report.timeZone)),
  ];
  return `${rows.map(line).join('\r\n')}\r\n`;
}
