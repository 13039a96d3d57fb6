/**
 * What a batch's Merkle leaves commit to. Each ledger row and each quarantine row becomes one leaf
 * whose bytes are a versioned, `|`-separated line of every field that matters to billing or to the
 * evidence, so that changing any of them changes the batch root recorded in the audit chain.
 */
import type { AnomalyInsert, LedgerRow, QuarantineInsert } from '../core/store.js';

export function ledgerLeafData(row: LedgerRow): string {
  return (
    `ledger-v1|${row.idempotencyKey}|${row.meterId}|${row.channel}|` +
    `${row.intervalStartMs}|${row.seq}|${row.intervalSeconds}|` +
    `${row.energyMilliWh}|${row.statusCode}|${row.quality}|${row.checksumSha256 ?? ''}|` +
    `${row.version}|${row.supersedesKey ?? ''}|${row.batchId}|${row.batchPosition}`
  );
}

export function quarantineLeafData(row: QuarantineInsert): string {
  return [
    'quarantine-v1',
    row.deliveryId,
    row.batchId,
    row.batchPosition,
    row.location.recordIndex,
    row.location.line,
    row.location.byteOffset,
    row.location.byteLength,
    row.rawSha256,
    JSON.stringify(row.violations),
    row.meterId ?? '',
    row.idempotencyKey ?? '',
    row.relatedIdempotencyKey ?? '',
    row.uncountedSpan ? 1 : 0,
  ].join('|');
}

export function anomalyLeafData(row: AnomalyInsert): string {
  return [
    'anomaly-v1',
    row.batchId,
    row.batchPosition,
    JSON.stringify(row.reading),
    JSON.stringify(row.findings),
  ].join('|');
}
