/**
 * Pagination of the simulated head-end in the three styles real APIs use, over a window of
 * records fixed by its first request.
 *
 * - `cursor`: the response's `next` holds an opaque cursor; the client sends it back as `cursor`.
 * - `link`: the response carries `Link: <url>; rel="next"` (RFC 8288) to the next page.
 * - `page`: the client asks for `page` 1, 2, ... with the same `from`/`to`; the response says
 *   `total`; the page after the last is empty.
 *
 * A cursor holds the record range it walks and the window it came from, so later pages of a window
 * never move, whatever the clock does meanwhile.
 */
export const PAGINATION_STYLES = ['cursor', 'link', 'page'] as const;
export type PaginationStyle = (typeof PAGINATION_STYLES)[number];

/** A window's records [offset, end), and the window as the client asked for it. */
export interface CursorState {
  offset: number;
  end: number;
  fromMs: number;
  toMs: number;
}

const CURSOR_PATTERN = /^(\d{1,15})\.(\d{1,15})\.(-?\d{1,16})\.(-?\d{1,16})$/;

export function encodeCursor(state: CursorState): string {
  const text = `${state.offset}.${state.end}.${state.fromMs}.${state.toMs}`;
  return Buffer.from(text, 'utf8').toString('base64url');
}

/** The cursor's state, or null when it is not one this head-end issued for this feed. */
export function decodeCursor(cursor: string, recordCount: number): CursorState | null {
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(cursor)) return null;
  const match = CURSOR_PATTERN.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (match === null) return null;
  const [offset, end, fromMs, toMs] = match.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
  ];
  if (offset > end || end > recordCount) return null;
  return { offset, end, fromMs, toMs };
}

/** The record range of a page-style page (1-based) within the window [start, end). */
export function pageRange(start: number, end: number, page: number, pageSize: number) {
  const from = Math.min(end, start + (page - 1) * pageSize);
  return { from, to: Math.min(end, from + pageSize) };
}
