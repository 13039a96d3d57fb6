/**
 * The discrepancy report as one CSV table (RFC 4180, CRLF line ends), one row per figure, so that
 * finance can filter and pivot it: `section,name,status,count,kwh,detail`. Numbers are written as
 * plain numbers; every text cell is neutralised against spreadsheet formula injection first.
 */
import assert from 'node:assert/strict';
import { formatMilliWhAsKwh, formatValueMicro } from '../core/decimal.js';
import type { AnomalyStatus, HoldTotal } from '../core/store.js';
import type { DiscrepancyReport, MeterChart } from './discrepancies.js';
import { localIso } from './period.js';

export const DISCREPANCY_CSV_COLUMNS = ['section', 'name', 'status', 'count', 'kwh', 'detail'];

/**
 * A spreadsheet reads a cell that starts with one of these as a formula (`=HYPERLINK(...)`,
 * `+cmd|...`, `@SUM(...)`), or, after a tab or carriage return it strips, as whatever follows.
 */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * A text cell a spreadsheet shows as text: one starting like a formula gets a leading apostrophe
 * (the OWASP rule: the spreadsheet shows the text, the apostrophe hidden), then RFC 4180 quoting.
 */
export function csvTextCell(text: string): string {
  const safe = FORMULA_START.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

/** A count or an exact kWh figure: digits, a sign and a point only, so never neutralised. */
function numberCell(value: number | bigint | string): string {
  const text = String(value);
  assert.match(text, /^-?\d+(\.\d+)?$/, 'a number cell holds a number');
  return text;
}

type Cell = { text: string } | { number: number | bigint | string } | null;

function text(value: string): Cell {
  return { text: value };
}

function row(
  section: string,
  name: string,
  status: string,
  total: HoldTotal | null,
  detail = '',
): Cell[] {
  return [
    text(section),
    text(name),
    text(status),
    total === null ? null : { number: total.items },
    total === null ? null : { number: formatMilliWhAsKwh(total.energyMilliWh) },
    text(detail),
  ];
}

function line(cells: readonly Cell[]): string {
  return cells
    .map((cell) => {
      if (cell === null) return '';
      return 'text' in cell ? csvTextCell(cell.text) : numberCell(cell.number);
    })
    .join(',');
}

const STATUSES: readonly AnomalyStatus[] = ['held', 'released', 'rejected'];

function headerRows(report: DiscrepancyReport): Cell[][] {
  const { period } = report;
  const sources = report.sourceIds.length === 0 ? 'every source' : report.sourceIds.join(' ');
  return [
    row(
      'period',
      period.month,
      '',
      null,
      `${period.timeZone}: interval starts from ${localIso(period.fromMs, period.timeZone)} ` +
        `to before ${localIso(period.toMs, period.timeZone)}`,
    ),
    row('sources', sources, '', null),
    row(
      'generated',
      new Date(report.generatedAtMs).toISOString(),
      '',
      null,
      'open holds are aged against this moment',
    ),
  ];
}

function figureRows(report: DiscrepancyReport): Cell[][] {
  const { figures } = report;
  const metersWithOpen: Cell[] = [
    text('totals'),
    text('meters with open anomalies'),
    text('held'),
    { number: figures.metersWithOpen },
    null,
    text(''),
  ];
  return [
    ...STATUSES.map((status) =>
      row('totals', `anomalies ${status}`, status, figures.byStatus[status]),
    ),
    row('totals', 'readings estimated', 'estimated', figures.estimated, 'current ledger readings'),
    metersWithOpen,
    ...figures.byDetector.flatMap((detector) =>
      STATUSES.map((status) => row('detector', detector.detector, status, detector[status])),
    ),
    ...report.ageing.map((bucket) => row('ageing', bucket.label, 'held', bucket)),
    ...figures.topMeters.map((meter, index) =>
      row(
        'top meter',
        meter.meterId,
        'held',
        meter.held,
        `rank ${index + 1}; ${formatMilliWhAsKwh(meter.atStakeMilliWh)} kWh at stake; ` +
          `${meter.released.items} released; ${meter.rejected.items} rejected`,
      ),
    ),
  ];
}

/** Every flagged reading of the top meters, with its detectors and any decision and note. */
function flagRows(chart: MeterChart, timeZone: string): Cell[][] {
  return chart.flags.map((flag) => {
    const decision = flag.decision;
    const decided =
      decision === null
        ? `held since ${new Date(flag.heldAtMs).toISOString()}`
        : `${decision.status} by ${decision.actor} at ${new Date(decision.atMs).toISOString()}: ` +
          decision.note;
    const reading = flag.reading;
    const cells = row(
      'flagged reading',
      chart.meterId,
      flag.status,
      { items: 1, energyMilliWh: BigInt(reading.valueMicro) },
      `anomaly ${flag.id}; channel ${reading.channel}; ` +
        `${formatValueMicro(reading.valueMicro)} ${reading.unit}; interval ` +
        `${localIso(flag.reading.intervalStartMs, timeZone)}; ` +
        `${[...new Set(flag.findings.map((f) => f.detector))].join(' ')}; ${decided}`,
    );
    // A reading in another unit is counted, never given as kWh.
    if (reading.unit !== 'kWh') cells[4] = null;
    return cells;
  });
}

/** The whole report as CSV text, header first. */
export function discrepancyCsv(report: DiscrepancyReport): string {
  const rows = [
    DISCREPANCY_CSV_COLUMNS.map(text),
    ...headerRows(report),
    ...figureRows(report),
    ...report.charts.flatMap((chart) => flagRows(chart, report.period.timeZone)),
  ];
  return `${rows.map(line).join('\r\n')}\r\n`;
}
