/**
 * The operations views of the ledger, a meter, deliveries and the audit checkpoints: what the CLI
 * prints under --json (`ledger show|versions`, `deliveries list|show`, `audit checkpoints`) and
 * what the HTTP API answers (`/api/ledger`, `/api/meters/:id`, `/api/deliveries`, ...). One shape
 * for both, read from the store in one place below either.
 */
import type { KeyObject } from 'node:crypto';
import { proveReading } from '../audit/prove.js';
import { formatValueMicro } from '../core/decimal.js';
import { AmisyncError } from '../core/errors.js';
import { API_SERIES_POINTS_MAX, LIST_PAGE_ROWS_MAX } from '../core/limits.js';
import { QUALITIES, type Quality } from '../core/reading.js';
import type {
  CheckpointRow,
  DeliveryRow,
  IntervalRef,
  LedgerCursor,
  LedgerRangeRow,
  MeterStreamRow,
  SeriesPoint,
  StreamSeriesQuery,
  Store,
} from '../core/store.js';
import { isConserved } from '../pipeline/commit.js';
import { anomalyJson } from './views.js';

/** A meter page's default window: a week of the stream's latest readings (at most the points). */
export const METER_WINDOW_MS = 7 * 86_400_000;
/** Open holds and quarantine items a meter view lists, newest first. */
export const METER_ITEMS_MAX = 50;

function isoOf(ms: number): string {
  return new Date(ms).toISOString();
}

function isoOrNull(ms: number | null | undefined): string | null {
  return ms == null ? null : isoOf(ms);
}

/** A UTC date (`2026-10-01`) or instant (`2026-10-01T06:00:00.000Z`) as epoch milliseconds. */
export function parseUtcInstant(field: string, text: string): number {
  const ms = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?Z)?$/.test(text)
    ? Date.parse(text)
    : Number.NaN;
  if (Number.isNaN(ms)) {
    throw new AmisyncError(
      'USAGE',
      `${field} must be a UTC date or instant, e.g. 2026-10-01 or 2026-10-01T06:00:00Z`,
      { field, rule: 'format', value: text },
    );
  }
  return ms;
}

/** An idempotency key as typed: 64 hexadecimal characters, read in lowercase. */
export function parseIdempotencyKey(text: string): string {
  if (!/^[0-9a-fA-F]{64}$/.test(text)) {
    throw new AmisyncError('USAGE', 'an idempotency key is 64 hexadecimal characters', {
      value: text.slice(0, 80),
    });
  }
  return text.toLowerCase();
}

/** A page cursor of a meter's ledger rows: opaque text (base64url of `start|channel`). */
export function encodeLedgerCursor(cursor: LedgerCursor): string {
  return Buffer.from(`${cursor.intervalStartMs}|${cursor.channel}`, 'utf8').toString('base64url');
}

export function decodeLedgerCursor(text: string): LedgerCursor {
  const decoded = /^[A-Za-z0-9_-]{1,400}$/.test(text)
    ? Buffer.from(text, 'base64url').toString('utf8')
    : '';
  const match = /^(-?\d{1,16})\|(.+)$/s.exec(decoded);
  if (match?.[1] === undefined || match[2] === undefined) {
    throw new AmisyncError('USAGE', 'cursor is not one this server gave (pass nextCursor as is)', {
      field: 'cursor',
      value: text.slice(0, 80),
    });
  }
  return { intervalStartMs: Number(match[1]), channel: match[2] };
}

/** A ledger row as the views give it: instants as ISO text, the value as an exact decimal. */
export function ledgerRowJson(row: LedgerRangeRow) {
  return {
    meterId: row.meterId,
    channel: row.channel,
    intervalStart: isoOf(row.intervalStartMs),
    intervalStartMs: row.intervalStartMs,
    intervalSeconds: row.intervalSeconds,
    value: formatValueMicro(row.valueMicro),
    unit: row.unit,
    commodity: row.commodity,
    quality: row.quality,
    qualityDetail: row.qualityDetail,
    statusCode: row.statusCode,
    seq: row.seq,
    version: row.version,
    supersedesKey: row.supersedesKey,
    idempotencyKey: row.idempotencyKey,
    deliveryId: row.deliveryId,
    sourceId: row.sourceId,
    batchId: row.batchId,
    committedAt: isoOrNull(row.committedAtMs),
  };
}

export interface LedgerPageQuery {
  meterId: string;
  channel?: string;
  /** Absent: from the meter's first interval, and to the end of its latest one. */
  fromMs?: number;
  toMs?: number;
  limit: number;
  cursor?: string;
}

/** The span of the meter's readings: its earliest interval start to its latest interval's end. */
async function meterSpan(store: Store, meterId: string, channel?: string) {
  const streams = (await store.listMeterStreams(meterId)).filter(
    (stream) => channel === undefined || stream.channel === channel,
  );
  const firsts = streams.map((s) => s.firstIntervalStartMs ?? Number.MAX_SAFE_INTEGER);
  // An end is exclusive: a register read (no interval length) ends a millisecond after it.
  const ends = streams.map(
    (s) => (s.lastIntervalStartMs ?? 0) + Math.max(1, (s.intervalSeconds ?? 0) * 1000),
  );
  return { fromMs: Math.min(...firsts, Number.MAX_SAFE_INTEGER), toMs: Math.max(...ends, 0) };
}

function checkLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1 || limit > LIST_PAGE_ROWS_MAX) {
    throw new AmisyncError('USAGE', `limit must be 1..${LIST_PAGE_ROWS_MAX}`);
  }
}

/** One page of a meter's current ledger rows in [from, to), and the cursor of the next page. */
export async function ledgerPage(store: Store, query: LedgerPageQuery) {
  checkLimit(query.limit);
  const span =
    query.fromMs === undefined || query.toMs === undefined
      ? await meterSpan(store, query.meterId, query.channel)
      : null;
  const fromMs = query.fromMs ?? span?.fromMs ?? 0;
  const toMs = query.toMs ?? span?.toMs ?? 0;
  if (query.fromMs !== undefined && query.toMs !== undefined && fromMs >= toMs) {
    throw new AmisyncError('USAGE', 'from must be before to');
  }
  const after = query.cursor === undefined ? undefined : decodeLedgerCursor(query.cursor);
  const fetched = await store.listLedgerRange({
    meterId: query.meterId,
    fromMs,
    toMs,
    limit: query.limit + 1,
    ...(query.channel === undefined ? {} : { channel: query.channel }),
    ...(after === undefined ? {} : { after }),
  });
  const items = fetched.slice(0, query.limit);
  const last = items.at(-1);
  const nextCursor =
    fetched.length > query.limit && last !== undefined
      ? encodeLedgerCursor({ intervalStartMs: last.intervalStartMs, channel: last.channel })
      : null;
  return {
    meterId: query.meterId,
    channel: query.channel ?? null,
    from: fromMs < toMs ? isoOf(fromMs) : null,
    to: fromMs < toMs ? isoOf(toMs) : null,
    items: items.map(ledgerRowJson),
    nextCursor,
  };
}

/** Every version of one interval, newest first; NOT_FOUND when the ledger holds none. */
export async function intervalVersions(store: Store, interval: IntervalRef) {
  const rows = await store.listIntervalVersions(interval);
  if (rows.length === 0) {
    throw new AmisyncError(
      'NOT_FOUND',
      `the ledger holds no reading of ${interval.meterId} channel ${interval.channel} at ` +
        isoOf(interval.intervalStartMs),
    );
  }
  return {
    meterId: interval.meterId,
    channel: interval.channel,
    intervalStart: isoOf(interval.intervalStartMs),
    versions: rows.map(ledgerRowJson),
  };
}

/**
 * The window a stream's series is read over: [fromMs, toMs) on the stream's own grid (aligned to
 * its latest interval start), at most API_SERIES_POINTS_MAX intervals; by default the week that
 * ends with its latest reading. Null for a stream without a regular interval (register reads).
 */
export function seriesWindow(
  stream: MeterStreamRow,
  asked: { fromMs?: number; toMs?: number },
): { fromMs: number; toMs: number; intervalMs: number } | null {
  const last = stream.lastIntervalStartMs;
  if (stream.intervalSeconds === null || stream.intervalSeconds <= 0 || last === null) return null;
  const intervalMs = stream.intervalSeconds * 1000;
  const spanMs = Math.min(METER_WINDOW_MS, API_SERIES_POINTS_MAX * intervalMs);
  const toMs = asked.toMs ?? last + intervalMs;
  const wantedFrom = asked.fromMs ?? Math.max(stream.firstIntervalStartMs ?? last, toMs - spanMs);
  // On the grid: the first interval start at or after the asked one.
  const fromMs = wantedFrom + ((((last - wantedFrom) % intervalMs) + intervalMs) % intervalMs);
  const cappedTo = Math.min(toMs, fromMs + API_SERIES_POINTS_MAX * intervalMs);
  return { fromMs, toMs: Math.max(fromMs, cappedTo), intervalMs };
}

/** Current readings of the points by quality; every quality is present, zero or not. */
export function qualityCounts(points: readonly SeriesPoint[]): Record<Quality, number> {
  const counts = Object.fromEntries(QUALITIES.map((quality) => [quality, 0])) as Record<
    Quality,
    number
  >;
  for (const point of points) counts[point.quality] += 1;
  return counts;
}

function streamOf(streams: readonly MeterStreamRow[], meterId: string, channel?: string) {
  const stream = channel === undefined ? streams[0] : streams.find((s) => s.channel === channel);
  if (stream === undefined) {
    throw new AmisyncError(
      'NOT_FOUND',
      channel === undefined
        ? `the ledger holds no reading of meter ${meterId}`
        : `meter ${meterId} has no channel ${channel}`,
    );
  }
  return stream;
}

/** How a view reads a stream's series: store.streamSeries, or a page's memo of it. */
export type SeriesReader = (query: StreamSeriesQuery) => Promise<SeriesPoint[]>;

/**
 * A series reader that reads each distinct query once: a page that shows a meter's streams and
 * the chosen stream's chart asks for the same window twice.
 */
export function memoSeriesReader(store: Store): SeriesReader {
  const read = new Map<string, Promise<SeriesPoint[]>>();
  return (query) => {
    const key = JSON.stringify(query);
    let points = read.get(key);
    if (points === undefined) {
      points = store.streamSeries(query);
      read.set(key, points);
    }
    return points;
  };
}

/**
 * A stream's window and its current points (through `readSeries`), unformatted: what a chart
 * draws. Null window and no points for a stream without a regular interval.
 */
export async function streamPoints(
  stream: MeterStreamRow,
  asked: { fromMs?: number; toMs?: number },
  readSeries: SeriesReader,
) {
  const window = seriesWindow(stream, asked);
  const points =
    window === null
      ? []
      : await readSeries({
          meterId: stream.meterId,
          channel: stream.channel,
          ...window,
          limit: API_SERIES_POINTS_MAX,
        });
  return {
    meterId: stream.meterId,
    channel: stream.channel,
    unit: stream.unit,
    intervalSeconds: stream.intervalSeconds,
    from: window === null ? null : isoOf(window.fromMs),
    to: window === null ? null : isoOf(window.toMs),
    points,
  };
}

/** A stream's current values over its window (store.streamSeries), for a chart. */
export async function meterSeries(
  store: Store,
  meterId: string,
  asked: { channel?: string; fromMs?: number; toMs?: number },
  readSeries: SeriesReader = (query) => store.streamSeries(query),
) {
  const stream = streamOf(await store.listMeterStreams(meterId), meterId, asked.channel);
  const { points, ...series } = await streamPoints(stream, asked, readSeries);
  return {
    ...series,
    qualityCounts: qualityCounts(points),
    points: points.map((point) => ({
      intervalStart: isoOf(point.intervalStartMs),
      intervalStartMs: point.intervalStartMs,
      value: formatValueMicro(point.valueMicro),
      valueMicro: point.valueMicro,
      quality: point.quality,
    })),
  };
}

async function streamJson(readSeries: SeriesReader, stream: MeterStreamRow) {
  const window = seriesWindow(stream, {});
  const points =
    window === null
      ? null
      : await readSeries({
          meterId: stream.meterId,
          channel: stream.channel,
          ...window,
          limit: API_SERIES_POINTS_MAX,
        });
  return {
    channel: stream.channel,
    commodity: stream.commodity,
    unit: stream.unit,
    intervalSeconds: stream.intervalSeconds,
    firstIntervalStart: isoOrNull(stream.firstIntervalStartMs),
    lastIntervalStart: isoOrNull(stream.lastIntervalStartMs),
    currentReadings: stream.currentReadings,
    currentValue: formatValueMicro(stream.currentValueMicro),
    lastSeq: stream.lastSeq,
    seqGaps: stream.seqGaps,
    seqRegressions: stream.seqRegressions,
    /** Quality of the current readings in the window (the week up to the latest reading). */
    window:
      window === null || points === null
        ? null
        : {
            from: isoOf(window.fromMs),
            to: isoOf(window.toMs),
            readings: points.length,
            qualityCounts: qualityCounts(points),
          },
  };
}

/**
 * One meter: its streams, the quality of each stream's latest week, its open holds and the
 * quarantine items that name it. NOT_FOUND when the store knows nothing of the meter.
 */
export async function meterView(
  store: Store,
  meterId: string,
  readSeries: SeriesReader = (query) => store.streamSeries(query),
) {
  return meterViewOf(store, meterId, await store.listMeterStreams(meterId), readSeries);
}

/** The meter view over streams already read (a page that also charts one of them). */
export async function meterViewOf(
  store: Store,
  meterId: string,
  streams: readonly MeterStreamRow[],
  readSeries: SeriesReader,
) {
  const held = await store.listAnomalies({ meterId, status: 'held', limit: METER_ITEMS_MAX });
  const quarantine = await store.listQuarantineOfMeter(meterId, METER_ITEMS_MAX);
  if (streams.length === 0 && held.length === 0 && quarantine.length === 0) {
    throw new AmisyncError('NOT_FOUND', `no reading, hold or quarantine item names ${meterId}`);
  }
  return {
    meterId,
    streams: await Promise.all(streams.map((stream) => streamJson(readSeries, stream))),
    openAnomalies: held.map(anomalyJson),
    quarantine: quarantine.map((row) => ({
      id: row.id,
      status: row.status,
      deliveryId: row.deliveryId,
      line: row.location.line,
      createdAt: isoOf(row.createdAtMs),
      idempotencyKey: row.idempotencyKey,
      reasons: row.currentViolations.map((v) => `${v.field} ${v.code}: ${v.message}`),
    })),
  };
}

/** A delivery as the views give it: its source, when it came, its content hash and its counts. */
export function deliveryJson(row: DeliveryRow) {
  return {
    id: row.id,
    sourceId: row.sourceId,
    name: row.name,
    format: row.format,
    status: row.status,
    receivedAt: isoOf(row.startedAtMs),
    finishedAt: isoOrNull(row.finishedAtMs),
    sha256: row.sha256,
    sizeBytes: row.sizeBytes,
    transportId: row.transportId,
    attempt: row.attempt,
    counts: row.counts,
    conserved: isConserved(row.counts),
    firstDeliveryId: row.firstDeliveryId,
    redelivers: row.redelivers,
    redeliveredBy: row.redeliveredBy,
    interruptedAt: isoOrNull(row.interruptedAtMs),
  };
}

/** A page of deliveries, newest first, and the cursor of the next (older) page. */
export async function deliveriesPage(
  store: Store,
  query: { sourceId?: string; limit: number; cursor?: string },
) {
  checkLimit(query.limit);
  let before: number | undefined;
  if (query.cursor !== undefined) {
    if (!/^[1-9][0-9]{0,15}$/.test(query.cursor)) {
      throw new AmisyncError('USAGE', 'cursor is not one this server gave (pass nextCursor as is)');
    }
    before = Number(query.cursor);
  }
  const fetched = await store.listDeliveryPage({
    limit: query.limit + 1,
    ...(query.sourceId === undefined ? {} : { sourceId: query.sourceId }),
    ...(before === undefined ? {} : { before }),
  });
  const items = fetched.slice(0, query.limit);
  const last = items.at(-1);
  return {
    items: items.map((row) => deliveryJson(row.delivery)),
    nextCursor: fetched.length > query.limit && last !== undefined ? String(last.position) : null,
  };
}

/** One delivery with what its transport said; NOT_FOUND when there is none of that id. */
export async function deliveryView(store: Store, id: string) {
  const row = await store.getDelivery(id);
  if (row === null) throw new AmisyncError('NOT_FOUND', `delivery ${id} does not exist`);
  return {
    ...deliveryJson(row),
    metadata: row.metadata,
    formatContext: row.formatContext,
    partitionKey: row.partitionKey,
  };
}

export function checkpointJson(row: CheckpointRow) {
  return { ...row, at: isoOf(row.atMs) };
}

/** The signed checkpoints, newest first, at most `limit`, and how many there are. */
export async function checkpointsView(store: Store, limit: number) {
  checkLimit(limit);
  const all = await store.listCheckpoints();
  return { total: all.length, checkpoints: all.slice(-limit).reverse().map(checkpointJson) };
}

/** A reading's inclusion proof as `audit prove --json` gives it; NOT_FOUND for an unknown key. */
export async function readingProof(store: Store, key: string, publicKey: KeyObject | null) {
  const idempotencyKey = parseIdempotencyKey(key);
  const report = await proveReading(store, idempotencyKey, publicKey);
  if (report.proofs.length === 0) {
    throw new AmisyncError('NOT_FOUND', `no ledger reading has idempotency key ${idempotencyKey}`);
  }
  return report;
}
