/**
 * What a batch's Merkle leaves commit to. Each ledger row and each quarantine row becomes one leaf
 * whose bytes are a versioned, `|`-separated line of every field that matters to billing or to the
 * evidence, so that changing any of them changes the batch root recorded in the audit chain.
 */
import type { AnomalyInsert, LedgerRow, QuarantineInsert } from '../core/store.js';
import { merkleRootOfBlocks } from './merkle.js';

/**
 * Ledger rows per Merkle leaf in the batches this version writes (recorded in each batch entry as
 * `ledgerRowsPerLeaf`; an entry without it has one row per leaf). A leaf is the lines of up to this
 * many consecutive rows joined by a newline. Sixteen rows make a leaf of about 2.4 KB and a proof
 * that carries 15 neighbouring rows, and take the tree's hashing from about 2 SHA-256 calls per
 * row to 1/8 (README section 5).
 */
export const LEDGER_ROWS_PER_LEAF = 16;

export function ledgerLeafData(row: LedgerRow): string {
  return (
    `ledger-v1|${row.idempotencyKey}|${row.meterId}|${row.channel}|` +
    `${row.intervalStartMs}|${row.seq}|${row.intervalSeconds}|` +
    `${row.energyMilliWh}|${row.statusCode}|${row.quality}|${row.checksumSha256 ?? ''}|` +
    `${row.version}|${row.supersedesKey ?? ''}|${row.batchId}|${row.batchPosition}`
  );
}

/** The Merkle root of a batch's ledger rows (in batch-position order), `rowsPerLeaf` per leaf. */
export function ledgerRootOf(rows: readonly LedgerRow[], rowsPerLeaf: number): string {
  return merkleRootOfBlocks(rows, ledgerLeafData, rowsPerLeaf);
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
