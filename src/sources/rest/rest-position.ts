/**
 * Where a REST source stands, and the pure rules that move it: the time window being paged, the
 * next page within it (a cursor, a page number, a Link URL, or done) and the high-water mark (the
 * end of the last window paged to the end). The position saved with a page is the one after it,
 * so a restart asks for exactly the page that follows the last committed one.
 */
import { AmisyncError } from '../../core/errors.js';
import type { SourcePosition } from '../../core/source.js';
import type { RestPaginationConfig, RestSourceConfig, RestWindowConfig } from './rest-config.js';

export interface RestWindow {
  readonly fromMs: number;
  readonly toMs: number;
  /** The window ends at the clock's now when it was opened: paging it to the end is caught up. */
  readonly reachesNow: boolean;
}

export type NextPage =
  | { readonly at: 'first' }
  | { readonly at: 'cursor'; readonly cursor: string; readonly repeats: number }
  | { readonly at: 'page'; readonly page: number }
  | { readonly at: 'link'; readonly url: string }
  | { readonly at: 'done' };

export interface RestPosition {
  readonly window: RestWindow;
  readonly next: NextPage;
  /** The end of the last window paged to the end; null before the first one. */
  readonly highWaterMs: number | null;
}

const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;

/**
 * The window after the high-water mark (or from the backfill start): it starts `overlapMinutes`
 * before the mark, for late data, and is at most `maxWindowHours` long, ending at now at the
 * latest.
 */
export function openWindow(
  config: RestWindowConfig,
  highWaterMs: number | null,
  nowMs: number,
): RestWindow {
  const fromMs =
    highWaterMs === null
      ? Date.parse(config.backfillStart)
      : highWaterMs - config.overlapMinutes * MINUTE_MS;
  const endMs = fromMs + config.maxWindowHours * HOUR_MS;
  return endMs < nowMs
    ? { fromMs, toMs: endMs, reachesNow: false }
    : { fromMs, toMs: Math.max(fromMs, nowMs), reachesNow: true };
}

export function formatTime(ms: number, format: RestWindowConfig['format']): string {
  switch (format) {
    case 'iso8601':
      return new Date(ms).toISOString().replace('.000Z', 'Z');
    case 'epoch-seconds':
      return String(Math.floor(ms / 1000));
    case 'epoch-ms':
      return String(ms);
    default:
      return format satisfies never;
  }
}

function firstPage(pagination: RestPaginationConfig): NextPage {
  return pagination.style === 'page' ? { at: 'page', page: pagination.firstPage } : { at: 'first' };
}

/** The position at the start of a window. */
export function startOfWindow(
  config: RestSourceConfig,
  highWaterMs: number | null,
  nowMs: number,
): RestPosition {
  return {
    window: openWindow(config.window, highWaterMs, nowMs),
    next: firstPage(config.pagination),
    highWaterMs,
  };
}

/** The URL of the page a position asks for (no secrets: those travel in headers). */
export function pageUrl(config: RestSourceConfig, position: RestPosition): string {
  const { next, window } = position;
  if (next.at === 'link') return next.url;
  const url = new URL(config.readingsPath, config.baseUrl);
  const params = url.searchParams;
  params.set(config.window.fromParam, formatTime(window.fromMs, config.window.format));
  params.set(config.window.toParam, formatTime(window.toMs, config.window.format));
  params.set(config.pagination.sizeParam, String(config.pageSize));
  if (next.at === 'cursor' && config.pagination.style === 'cursor') {
    params.set(config.pagination.cursorParam, next.cursor);
  }
  if (next.at === 'page' && config.pagination.style === 'page') {
    params.set(config.pagination.pageParam, String(next.page));
  }
  return url.toString();
}

/** The value at a dotted path (`data.readings`, `$` for the whole document). */
export function valueAt(document: unknown, path: string): unknown {
  if (path === '$') return document;
  let value: unknown = document;
  for (const key of path.split('.')) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = Object.hasOwn(value, key) ? (value as Record<string, unknown>)[key] : undefined;
  }
  return value;
}

/** The `rel="next"` target of an RFC 8288 Link header, resolved against the request's URL. */
export function linkNext(header: string | undefined, requestUrl: string): string | null {
  if (header === undefined) return null;
  for (const match of header.matchAll(/<([^>]*)>((?:\s*;\s*[^;,]+)*)/g)) {
    const rel = /;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))/i.exec(match[2] ?? '');
    const relations = (rel?.[1] ?? rel?.[2] ?? '').toLowerCase().split(/\s+/);
    if (relations.includes('next')) return new URL(match[1] ?? '', requestUrl).toString();
  }
  return null;
}

export function toSourcePosition(position: RestPosition): SourcePosition {
  return { v: 1, window: position.window, next: position.next, highWaterMs: position.highWaterMs };
}

function invalidSaved(sourceId: string, what: string): AmisyncError {
  return new AmisyncError(
    'CONFIG_INVALID',
    `source ${sourceId}: the saved position ${what}; it was saved by another kind of source or ` +
      'another version',
    { sourceId },
  );
}

/** A position as saved by toSourcePosition, checked: a foreign shape is refused, not guessed. */
export function fromSourcePosition(sourceId: string, saved: SourcePosition): RestPosition {
  const { v, window, next, highWaterMs } = saved as Record<string, unknown>;
  if (v !== 1) throw invalidSaved(sourceId, 'has no version 1');
  const w = window as Partial<RestWindow> | undefined;
  if (typeof w?.fromMs !== 'number' || typeof w.toMs !== 'number') {
    throw invalidSaved(sourceId, 'has no window');
  }
  const n = next as { at?: unknown } | undefined;
  if (!['first', 'cursor', 'page', 'link', 'done'].includes(String(n?.at))) {
    throw invalidSaved(sourceId, 'has no next page');
  }
  if (highWaterMs !== null && typeof highWaterMs !== 'number') {
    throw invalidSaved(sourceId, 'has a high-water mark that is not a time');
  }
  return {
    window: { fromMs: w.fromMs, toMs: w.toMs, reachesNow: w.reachesNow === true },
    next: next as NextPage,
    highWaterMs,
  };
}
