/**
 * Test records written as the three wire formats, byte for byte under the test's control: a value
 * may be a JSON literal written verbatim (`{ literal: '1e309' }`), which JSON.stringify could never
 * produce. CSV cells hold the literal's text; an absent value is an empty cell.
 */
import type { RecordFormat } from '../core/parser.js';

export type WireValue = string | number | { literal: string };
export type WireRecord = Readonly<Record<string, WireValue | undefined>>;

/** The CSV header of test deliveries: the reference feed's names, quality included. */
export const WIRE_CSV_COLUMNS = [
  'meter_id',
  'channel',
  'timestamp_utc',
  'interval_seconds',
  'consumption_kwh',
  'status_code',
  'seq',
  'quality',
] as const;

function jsonValue(value: WireValue): string {
  return typeof value === 'object' ? value.literal : JSON.stringify(value);
}

export function recordJson(record: WireRecord): string {
  const members: string[] = [];
  for (const [name, value] of Object.entries(record)) {
    if (value !== undefined) members.push(`${JSON.stringify(name)}:${jsonValue(value)}`);
  }
  return `{${members.join(',')}}`;
}

export function toNdjsonText(records: readonly WireRecord[]): string {
  return records.map((record) => `${recordJson(record)}\n`).join('');
}

export function toJsonArrayText(records: readonly WireRecord[]): string {
  return `[\n${records.map(recordJson).join(',\n')}\n]\n`;
}

function csvCell(value: WireValue | undefined): string {
  if (value === undefined) return '';
  const text = typeof value === 'object' ? value.literal : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function csvRow(record: WireRecord, columns: readonly string[] = WIRE_CSV_COLUMNS): string {
  return columns.map((column) => csvCell(record[column])).join(',');
}

export function toCsvText(
  records: readonly WireRecord[],
  columns: readonly string[] = WIRE_CSV_COLUMNS,
): string {
  const lines = [columns.join(','), ...records.map((record) => csvRow(record, columns))];
  return `${lines.join('\n')}\n`;
}

export function toWireText(format: RecordFormat, records: readonly WireRecord[]): string {
  switch (format) {
    case 'ndjson':
      return toNdjsonText(records);
    case 'json':
      return toJsonArrayText(records);
    case 'csv':
      return toCsvText(records);
    default: {
      const unreachable: never = format;
      throw new Error(`unknown format ${String(unreachable)}`);
    }
  }
}

/** kWh text with exactly six decimals for a non-negative milliWh integer: 1500 -> "0.001500". */
export function kwhText(milliWh: number): string {
  const whole = Math.floor(milliWh / 1_000_000);
  const fraction = milliWh - whole * 1_000_000;
  return `${whole}.${String(fraction).padStart(6, '0')}`;
}
