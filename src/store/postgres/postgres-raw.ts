/**
 * The raw store and deliveries in PostgreSQL: raw bytes content-addressed by sha256 (written once,
 * idempotently), mapped into deliveries by byte offset; deliveries with their owner, interruption
 * and redelivery links. The same role as the raw store and delivery parts of the SQLite store.
 */
import { hash } from 'node:crypto';
import { AmisyncError } from '../../core/errors.js';
import type { DeliveryInsert, DeliveryOwner, DeliveryRow } from '../../core/store.js';
import { isOwnerAlive } from '../process-owner.js';
import {
  bytes,
  countsFrom,
  int,
  intOrNull,
  json,
  ownerFrom,
  text,
  textOrNull,
  type PgRow,
} from './postgres-codecs.js';
import type { Queryable } from './postgres-query.js';

/** Deliveries with their interruption and the deliveries that redeliver them. */
export const DELIVERY_SELECT = `SELECT d.*, i.at_ms AS interrupted_at_ms,
  (SELECT string_agg(n.id, ' ' ORDER BY n.id) FROM deliveries n WHERE n.redelivers = d.id)
    AS redelivered_by
  FROM deliveries d LEFT JOIN delivery_interruptions i ON i.delivery_id = d.id`;

/** A delivery row as stored, with its status judged against `self` (the reading process). */
export function deliveryFrom(row: PgRow, self: DeliveryOwner): DeliveryRow {
  const owner = ownerFrom(row);
  const interruptedAtMs = intOrNull(row.interrupted_at_ms, 'interrupted_at_ms');
  const status =
    row.status === 'complete'
      ? 'complete'
      : interruptedAtMs === null && isOwnerAlive(owner, self)
        ? 'running'
        : 'interrupted';
  const redeliveredBy = textOrNull(row.redelivered_by, 'redelivered_by');
  return {
    id: text(row.id, 'id'),
    sourceId: text(row.source_id, 'source_id'),
    name: text(row.name, 'name'),
    format: text(row.format, 'format'),
    formatContext: json<Record<string, unknown>>(row.format_context, 'format_context'),
    startedAtMs: int(row.started_at_ms, 'started_at_ms'),
    status,
    owner,
    interruptedAtMs,
    redelivers: textOrNull(row.redelivers, 'redelivers'),
    redeliveredBy: redeliveredBy === null ? [] : redeliveredBy.split(' ').sort(),
    sha256: textOrNull(row.sha256, 'sha256'),
    sizeBytes: intOrNull(row.size_bytes, 'size_bytes'),
    finishedAtMs: intOrNull(row.finished_at_ms, 'finished_at_ms'),
    transportId: textOrNull(row.transport_id, 'transport_id'),
    attempt: int(row.attempt ?? 1, 'attempt'),
    metadata: json<Record<string, string>>(row.metadata ?? '{}', 'metadata'),
    partitionKey: textOrNull(row.partition_key, 'partition_key'),
    position: textOrNull(row.position, 'position'),
    firstDeliveryId: textOrNull(row.first_delivery_id, 'first_delivery_id'),
    counts: countsFrom(row),
  };
}

export async function putRawChunk(
  db: Queryable,
  deliveryId: string,
  byteOffset: number,
  chunk: Uint8Array,
): Promise<string> {
  const sha256 = hash('sha256', chunk, 'hex');
  await db.query(
    'INSERT INTO raw_chunks (sha256, bytes) VALUES ($1, $2) ON CONFLICT (sha256) DO NOTHING',
    [sha256, Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)],
  );
  await db.query(
    `INSERT INTO delivery_chunks (delivery_id, byte_offset, byte_length, chunk_sha256)
     VALUES ($1, $2, $3, $4) ON CONFLICT (delivery_id, byte_offset) DO NOTHING`,
    [deliveryId, byteOffset, chunk.byteLength, sha256],
  );
  return sha256;
}

/** Bytes [byteOffset, byteOffset + byteLength) of a delivery, cut from its chunks in the server. */
export async function readDeliveryBytes(
  db: Queryable,
  deliveryId: string,
  byteOffset: number,
  byteLength: number,
): Promise<Uint8Array> {
  const end = byteOffset + byteLength;
  const { rows } = await db.query(
    `SELECT c.byte_offset, c.byte_length,
       substring(r.bytes FROM (greatest($2, c.byte_offset) - c.byte_offset + 1)::int
         FOR (least($3, c.byte_offset + c.byte_length) - greatest($2, c.byte_offset))::int)
         AS piece
     FROM delivery_chunks c JOIN raw_chunks r ON r.sha256 = c.chunk_sha256
     WHERE c.delivery_id = $1 AND c.byte_offset < $3 AND c.byte_offset + c.byte_length > $2
     ORDER BY c.byte_offset`,
    [deliveryId, byteOffset, end],
  );
  const out = Buffer.alloc(byteLength);
  let filled = 0;
  for (const row of rows) {
    const piece = bytes(row.piece, 'piece');
    const from = Math.max(byteOffset, int(row.byte_offset, 'byte_offset'));
    piece.copy(out, from - byteOffset);
    filled += piece.byteLength;
  }
  if (filled !== byteLength) {
    throw new AmisyncError(
      'NOT_FOUND',
      `raw bytes ${byteOffset}..${end} of delivery ${deliveryId} are not in the raw store`,
    );
  }
  return out;
}

export async function storedDeliveryBytes(db: Queryable, deliveryId: string): Promise<number> {
  const { rows } = await db.query(
    `SELECT coalesce(max(byte_offset + byte_length), 0) AS stored
     FROM delivery_chunks WHERE delivery_id = $1`,
    [deliveryId],
  );
  return int(rows[0]?.stored, 'stored');
}

export async function insertDelivery(
  db: Queryable,
  delivery: DeliveryInsert,
  owner: DeliveryOwner,
): Promise<void> {
  const { rows } = await db.query(
    `SELECT d.id FROM deliveries d JOIN delivery_interruptions i ON i.delivery_id = d.id
     WHERE d.source_id = $1 AND d.name = $2
       AND NOT EXISTS (SELECT 1 FROM deliveries n WHERE n.redelivers = d.id)
     ORDER BY d.started_at_ms DESC, d.id DESC LIMIT 1`,
    [delivery.sourceId, delivery.name],
  );
  const interrupted = rows[0] === undefined ? null : text(rows[0].id, 'id');
  await db.query(
    `INSERT INTO deliveries (id, source_id, name, format, format_context, started_at_ms, status,
       owner_host, owner_pid, owner_started_at_ms, redelivers, transport_id, attempt, metadata,
       partition_key)
     VALUES ($1, $2, $3, $4, $5, $6, 'in-progress', $7, $8, $9, $10, $11, $12, $13, $14)`,
    [
      delivery.id,
      delivery.sourceId,
      delivery.name,
      delivery.format,
      JSON.stringify(delivery.formatContext),
      delivery.startedAtMs,
      owner.host,
      owner.pid,
      owner.processStartedAtMs,
      interrupted,
      delivery.transportId ?? null,
      delivery.attempt ?? 1,
      JSON.stringify(delivery.metadata ?? {}),
      delivery.partitionKey ?? null,
    ],
  );
}

export async function completeDelivery(
  db: Queryable,
  deliveryId: string,
  sha256: string,
  sizeBytes: number,
  atMs: number,
): Promise<{ firstDeliveryId: string | null }> {
  const { rows } = await db.query(
    `SELECT f.id FROM deliveries s JOIN deliveries f ON f.source_id = s.source_id
     WHERE s.id = $1 AND f.status = 'complete' AND f.id <> $1
       AND ((s.transport_id IS NOT NULL AND f.transport_id = s.transport_id) OR f.sha256 = $2)
     ORDER BY f.finished_at_ms, f.id LIMIT 1`,
    [deliveryId, sha256],
  );
  const firstDeliveryId = rows[0] === undefined ? null : text(rows[0].id, 'id');
  await db.query(
    `UPDATE deliveries SET status = 'complete', sha256 = $1, size_bytes = $2, finished_at_ms = $3,
       first_delivery_id = $4 WHERE id = $5`,
    [sha256, sizeBytes, atMs, firstDeliveryId, deliveryId],
  );
  return { firstDeliveryId };
}
