/**
 * What a batch's Merkle leaves commit to. Each ledger row and each quarantine row becomes one leaf
 * whose bytes are a versioned, `|`-separated line of every field that matters to billing or to the
 * evidence, so that changing any of them changes the batch root recorded in the audit chain.
 */
import type {
  AnomalyInsert,
  LedgerRow,
  QuarantineInsert,
  QuarantineRepeatInsert,
} from '../core/store.js';
import { merkleRootOfBlocks } from './merkle.js';

/**
 * Ledger rows per Merkle leaf in the batches this version writes (recorded in each batch entry as
 * `ledgerRowsPerLeaf`; an entry without it has one row per leaf). A leaf is the lines of up to this
 * many consecutive rows joined by a newline. Sixteen rows make a leaf of about 2.4 KB and a proof
 * that carries 15 neighbouring rows, and take the tree's hashing from about 2 SHA-256 calls per
 * row to 1/8.
 */
export const LEDGER_ROWS_PER_LEAF = 16;

/** The ledger line version this version writes (`ledgerLineVersion` in each batch entry). */
export const LEDGER_LINE_VERSION = 2;
export type LedgerLineVersion = 1 | 2;

/**
 * A ledger row's line. Version 2 adds the commodity, unit and quality detail to version 1's
 * fields; an entry without `ledgerLineVersion` was written with version 1, when every reading was
 * electricity in kWh with no quality detail.
 */
export function ledgerLine(row: LedgerRow, version: LedgerLineVersion): string {
  if (version === 1) return ledgerLeafData(row);
  return (
    `ledger-v2|${row.idempotencyKey}|${row.meterId}|${row.channel}|` +
    `${row.intervalStartMs}|${row.seq}|${row.intervalSeconds}|` +
    `${row.valueMicro}|${row.statusCode}|${row.quality}|${row.checksumSha256 ?? ''}|` +
    `${row.version}|${row.supersedesKey ?? ''}|${row.batchId}|${row.batchPosition}|` +
    `${row.commodity}|${row.unit}|${row.qualityDetail ?? ''}`
  );
}

/** A ledger row's version 1 line. */
export function ledgerLeafData(row: LedgerRow): string {
  return (
    `ledger-v1|${row.idempotencyKey}|${row.meterId}|${row.channel}|` +
    `${row.intervalStartMs}|${row.seq}|${row.intervalSeconds}|` +
    `${row.valueMicro}|${row.statusCode}|${row.quality}|${row.checksumSha256 ?? ''}|` +
    `${row.version}|${row.supersedesKey ?? ''}|${row.batchId}|${row.batchPosition}`
  );
}

/** The Merkle root of a batch's ledger rows (in batch-position order), `rowsPerLeaf` per leaf. */
export function ledgerRootOf(
  rows: readonly LedgerRow[],
  rowsPerLeaf: number,
  lineVersion: LedgerLineVersion,
): string {
  const toLine = lineVersion === 1 ? ledgerLeafData : ledgerLineV2;
  return merkleRootOfBlocks(rows, toLine, rowsPerLeaf);
}

function ledgerLineV2(row: LedgerRow): string {
  return ledgerLine(row, 2);
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

/** A repeat's leaf: the item it repeats, where the record arrived again, and its raw hash. */
export function repeatLeafData(row: QuarantineRepeatInsert): string {
  return [
    'quarantine-repeat-v1',
    row.quarantineId,
    row.deliveryId,
    row.batchId,
    row.batchPosition,
    row.location.recordIndex,
    row.location.line,
    row.location.byteOffset,
    row.location.byteLength,
    row.rawSha256,
    row.atMs,
  ].join('|');
}
