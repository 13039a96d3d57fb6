/**
 * The ledger's write path in PostgreSQL: rows are streamed with COPY straight into the ledger in
 * the batch's transaction. COPY has no bind parameters (the 65,535 cap does not apply), costs one
 * round trip for the whole batch, and the server routes its rows to their month's partition in
 * multi-row inserts. The batch has already read every version of its intervals under the write
 * lock, so a row meeting the unique key means another writer got there first: the COPY fails with
 * a unique violation and the whole batch rolls back. The ledger is partitioned by month of
 * interval start; a month's partition is created in the transaction that first writes into it.
 */
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type { PoolClient } from 'pg';
import { AmisyncError } from '../../core/errors.js';
import type { LedgerRow } from '../../core/store.js';

export const LEDGER_COLUMNS = `interval_start_ms, meter_id, channel, version, seq, interval_seconds,
  value_micro, status_code, quality, checksum_sha256, idempotency_key, supersedes_key,
  batch_id, batch_position, commodity, unit, quality_detail`;

/** Bytes per COPY text chunk handed to the socket (a chunk grows only for one longer line). */
const COPY_CHUNK_BYTES = 512 * 1024;
/** An advisory lock key (any constant) taken while a month's partition is created. */
const PARTITION_LOCK_KEY = 7_201_101;

const COPY_SPECIAL = /[\\\t\n\r]/;
const COPY_SPECIALS = /[\\\t\n\r]/g;

/** The text COPY format's escapes: backslash, tab, newline and carriage return. */
function copyText(value: string): string {
  // Ids, units and keys almost never hold one: testing first skips building a copy.
  if (!COPY_SPECIAL.test(value)) return value;
  return value.replace(COPY_SPECIALS, (c) =>
    c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r',
  );
}

function copyTextOrNull(value: string | null): string {
  return value === null ? '\\N' : copyText(value);
}

/**
 * One ledger row as a line of COPY text, in LEDGER_COLUMNS order. One template, not an array
 * mapped and joined: this runs once per reading on the write path.
 */
export function ledgerCopyLine(row: LedgerRow): string {
  return (
    `${row.intervalStartMs}\t${copyText(row.meterId)}\t${copyText(row.channel)}\t` +
    `${row.version}\t${row.seq}\t${row.intervalSeconds}\t${row.valueMicro}\t${row.statusCode}\t` +
    `${copyText(row.quality)}\t${copyTextOrNull(row.checksumSha256)}\t` +
    `${copyText(row.idempotencyKey)}\t${copyTextOrNull(row.supersedesKey)}\t` +
    `${row.batchId}\t${row.batchPosition}\t${copyText(row.commodity)}\t${copyText(row.unit)}\t` +
    `${copyTextOrNull(row.qualityDetail)}`
  );
}

/**
 * The rows as COPY text, in chunks of about COPY_CHUNK_BYTES. Each line is written straight into
 * the chunk's buffer: joining the lines into one string and encoding that cost about twice the CPU.
 * A full chunk is handed over and a new one started, never reused while the socket may hold it.
 */
export function* ledgerCopyChunks(rows: readonly LedgerRow[]): Generator<Buffer> {
  let chunk = Buffer.allocUnsafe(COPY_CHUNK_BYTES);
  let used = 0;
  for (const row of rows) {
    const line = ledgerCopyLine(row);
    // UTF-8 takes at most 3 bytes per UTF-16 code unit; one more for the line feed.
    const bytesMax = line.length * 3 + 1;
    if (used + bytesMax > chunk.length) {
      if (used > 0) yield chunk.subarray(0, used);
      chunk = Buffer.allocUnsafe(Math.max(COPY_CHUNK_BYTES, bytesMax));
      used = 0;
    }
    used += chunk.write(line, used, 'utf8');
    chunk[used++] = 0x0a;
  }
  if (used > 0) yield chunk.subarray(0, used);
}

/** The UTC month [start, next start) holding an instant, in epoch milliseconds. */
export function monthOf(instantMs: number): { fromMs: number; toMs: number; name: string } {
  const at = new Date(instantMs);
  const year = at.getUTCFullYear();
  const month = at.getUTCMonth();
  const fromMs = Date.UTC(year, month, 1);
  const toMs = Date.UTC(year, month + 1, 1);
  const sign = year < 0 ? 'm' : '';
  const name = `ledger_y${sign}${Math.abs(year)}m${String(month + 1).padStart(2, '0')}`;
  return { fromMs, toMs, name };
}

/**
 * Makes sure a partition exists for every month the rows touch. `known` remembers partitions this
 * process has seen, so the catalog is asked once per month per process.
 */
export async function ensureLedgerPartitions(
  client: PoolClient,
  rows: readonly LedgerRow[],
  known: Set<string>,
): Promise<void> {
  const months = new Map<string, { fromMs: number; toMs: number }>();
  // A batch's rows mostly share a month: its bounds are computed again only when a row leaves it.
  let month = { fromMs: 0, toMs: 0, name: '' };
  for (const row of rows) {
    const startMs = row.intervalStartMs;
    if (startMs >= month.fromMs && startMs < month.toMs) continue;
    month = monthOf(startMs);
    if (!known.has(month.name)) months.set(month.name, month);
  }
  if (months.size === 0) return;
  // Two writers reaching a new month at once: the lock lets one create it, the other then sees it.
  await client.query('SELECT pg_advisory_xact_lock($1)', [PARTITION_LOCK_KEY]);
  for (const [name, month] of months) {
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${name} PARTITION OF ledger
       FOR VALUES FROM (${month.fromMs}) TO (${month.toMs})`,
    );
    known.add(name);
  }
}

/** SQLSTATE of a unique violation: the row's interval version is already stored. */
const UNIQUE_VIOLATION = '23505';

/** True when `rows` are in (batch id, batch position) order, as the pipeline routes them. */
function inBatchOrder(rows: readonly LedgerRow[]): boolean {
  for (let index = 1; index < rows.length; index++) {
    const before = rows[index - 1] as LedgerRow;
    const row = rows[index] as LedgerRow;
    if (
      row.batchId < before.batchId ||
      (row.batchId === before.batchId && row.batchPosition < before.batchPosition)
    ) {
      return false;
    }
  }
  return true;
}

/**
 * COPY into the ledger, in batch order so that ledger ids ascend with it. Returns how many rows
 * the ledger took (all of them). A row whose interval version is already stored fails the COPY
 * with STORE_UNAVAILABLE, after which the transaction can only roll back.
 */
export async function copyLedgerRows(
  client: PoolClient,
  rows: readonly LedgerRow[],
): Promise<number> {
  const ordered = inBatchOrder(rows)
    ? rows
    : [...rows].sort((a, b) => a.batchId - b.batchId || a.batchPosition - b.batchPosition);
  const { from: copyFrom } = await import('pg-copy-streams');
  const copy = client.query(copyFrom(`COPY ledger (${LEDGER_COLUMNS}) FROM STDIN`));
  try {
    await pipeline(Readable.from(ledgerCopyChunks(ordered)), copy);
  } catch (error) {
    if ((error as { code?: unknown }).code === UNIQUE_VIOLATION) {
      // Rolling back lets the source redeliver, and the batch decides again on what is stored.
      throw new AmisyncError(
        'STORE_UNAVAILABLE',
        `${rows.length} ledger rows not written: one was written by another transaction first ` +
          `(${(error as Error).message})`,
      );
    }
    throw error;
  }
  return copy.rowCount;
}
