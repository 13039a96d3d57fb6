/**
 * Ledger state: a hash over the current (billable) readings, independent of arrival order, and the
 * exact CSV export. Two stores that hold the same current readings have the same state hash,
 * however the readings got there (property-tested over permutations and retransmissions of a feed).
 */
import { createHash } from 'node:crypto';
import { formatUtcSeconds } from '../core/identity.js';
import type { LedgerRow, Store } from '../core/store.js';
import { formatMilliWhAsKwh } from '../core/decimal.js';

function stateLine(row: LedgerRow): string {
  return [
    row.meterId,
    row.channel,
    formatUtcSeconds(row.intervalStartMs),
    row.intervalSeconds,
    row.valueMicro,
    row.statusCode,
    row.quality,
    row.idempotencyKey,
    row.commodity,
    row.unit,
    row.qualityDetail ?? '',
  ].join('|');
}

export interface LedgerState {
  readings: number;
  /** Electricity in kWh, in milliwatt-hours: the energy that is billed. */
  energyMilliWh: bigint;
  sha256: string;
}

export async function ledgerState(store: Store): Promise<LedgerState> {
  const hasher = createHash('sha256');
  let readings = 0;
  let energy = 0n;
  for await (const page of store.iterateCurrentLedger()) {
    for (const row of page) {
      readings += 1;
      if (row.unit === 'kWh') energy += BigInt(row.valueMicro);
      hasher.update(`${stateLine(row)}\n`);
    }
  }
  return { readings, energyMilliWh: energy, sha256: hasher.digest('hex') };
}

export const LEDGER_CSV_COLUMNS = [
  'meter_id',
  'channel',
  'interval_start_utc',
  'interval_seconds',
  'consumption_kwh',
  'quality',
  'status_code',
  'seq',
  'version',
  'idempotency_key',
  'commodity',
  'unit',
  'value',
  'quality_detail',
] as const;

/** Quotes a CSV field, and neutralises text a spreadsheet would run as a formula. */
export function csvField(text: string): string {
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

export function ledgerCsvLine(row: LedgerRow): string {
  return [
    csvField(row.meterId),
    csvField(row.channel),
    formatUtcSeconds(row.intervalStartMs),
    String(row.intervalSeconds),
    // consumption_kwh is the energy billed; a reading in another unit leaves it empty.
    row.unit === 'kWh' ? formatMilliWhAsKwh(row.valueMicro) : '',
    row.quality,
    String(row.statusCode),
    String(row.seq),
    String(row.version),
    row.idempotencyKey,
    row.commodity,
    row.unit,
    formatMilliWhAsKwh(row.valueMicro),
    csvField(row.qualityDetail ?? ''),
  ].join(',');
}
