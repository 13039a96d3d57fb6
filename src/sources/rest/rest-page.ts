/**
 * What a fetched page says, checked: a 2xx answer must be JSON (not an HTML error page), hold an
 * array at the records path, and say where the next page is. Each refusal is a TRANSPORT_PROTOCOL
 * error with a precise reason and the first bytes of the page; pages that pass go to the pipeline
 * whole, where the json-dialect format quarantines bad records with their bytes.
 */
import { AmisyncError } from '../../core/errors.js';
import { REST_CURSOR_REPEATS_MAX } from '../../core/limits.js';
import type { RestSourceConfig } from './rest-config.js';
import { preview, type HttpResponse } from './rest-http.js';
import { linkNext, valueAt, type NextPage, type RestPosition } from './rest-position.js';
import { headerValue } from './rest-throttle.js';

export interface CheckedPage {
  readonly recordCount: number;
  readonly next: NextPage;
}

/**
 * A body that says it is JSON but does not parse (cut short, corrupted) may have carried records:
 * the source keeps it in quarantine with its bytes before asking for the page again.
 */
export const NOT_JSON = 'not-json';

function refuse(
  url: string,
  reason: string,
  response: HttpResponse,
  kind: string | null = null,
): AmisyncError {
  return new AmisyncError(
    'TRANSPORT_PROTOCOL',
    `the page ${url} ${reason}; it begins ${preview(response.chunks)}`,
    { url, status: response.status, ...(kind === null ? {} : { kind }) },
  );
}

function parseJson(url: string, response: HttpResponse): unknown {
  const contentType = headerValue(response.headers, 'content-type') ?? '';
  if (/html/i.test(contentType)) {
    throw refuse(
      url,
      `answered ${response.status} with an HTML page (${contentType}), not JSON`,
      response,
    );
  }
  try {
    return JSON.parse(Buffer.concat(response.chunks, response.bytes).toString('utf8'));
  } catch (error) {
    const markup = /^\s*</.test(preview(response.chunks).slice(1));
    throw refuse(
      url,
      `is ${markup ? 'HTML or XML' : 'not JSON'} (${(error as Error).message})`,
      response,
      markup ? null : NOT_JSON,
    );
  }
}

function nextCursor(
  config: RestSourceConfig,
  position: RestPosition,
  document: unknown,
  url: string,
  response: HttpResponse,
): NextPage {
  if (config.pagination.style !== 'cursor') return { at: 'done' };
  const value = valueAt(document, config.pagination.nextCursorPath);
  if (value === undefined || value === null || value === '') return { at: 'done' };
  if (typeof value !== 'string' && typeof value !== 'number') {
    throw refuse(
      url,
      `has a ${typeof value} at ${config.pagination.nextCursorPath}, not a cursor`,
      response,
    );
  }
  const cursor = String(value);
  const sent = position.next.at === 'cursor' ? position.next.cursor : null;
  const repeats = cursor === sent && position.next.at === 'cursor' ? position.next.repeats + 1 : 0;
  if (repeats > REST_CURSOR_REPEATS_MAX) {
    throw refuse(
      url,
      `names its own cursor ${JSON.stringify(cursor)} as the next one, ${repeats} times in a ` +
        `row (REST_CURSOR_REPEATS_MAX ${REST_CURSOR_REPEATS_MAX}): the cursor never advances`,
      response,
    );
  }
  return { at: 'cursor', cursor, repeats };
}

function nextPageNumber(
  config: RestSourceConfig,
  position: RestPosition,
  document: unknown,
  recordCount: number,
): NextPage {
  if (config.pagination.style !== 'page' || position.next.at !== 'page') return { at: 'done' };
  if (recordCount === 0) return { at: 'done' };
  const { totalPath, firstPage } = config.pagination;
  if (totalPath !== undefined) {
    const total = Number(valueAt(document, totalPath));
    const seen = (position.next.page - firstPage + 1) * config.pageSize;
    if (Number.isFinite(total) && seen >= total) return { at: 'done' };
  }
  return { at: 'page', page: position.next.page + 1 };
}

function nextLink(config: RestSourceConfig, url: string, response: HttpResponse): NextPage {
  const next = linkNext(headerValue(response.headers, 'link'), url);
  if (next === null) return { at: 'done' };
  if (new URL(next).origin !== new URL(config.baseUrl).origin) {
    throw refuse(url, `links its next page to another origin (${next}); refused`, response);
  }
  return { at: 'link', url: next };
}

/** Checks a 2xx page and finds its successor. */
export function checkPage(
  config: RestSourceConfig,
  position: RestPosition,
  url: string,
  response: HttpResponse,
): CheckedPage {
  const document = parseJson(url, response);
  const records = valueAt(document, config.records.path);
  if (!Array.isArray(records)) {
    const found = records === undefined ? 'nothing' : records === null ? 'null' : typeof records;
    throw refuse(
      url,
      `has ${found} at the records path ${config.records.path}, not an array`,
      response,
    );
  }
  const recordCount = records.length;
  switch (config.pagination.style) {
    case 'cursor':
      return { recordCount, next: nextCursor(config, position, document, url, response) };
    case 'page':
      return { recordCount, next: nextPageNumber(config, position, document, recordCount) };
    case 'link':
      return { recordCount, next: nextLink(config, url, response) };
    default:
      return config.pagination satisfies never;
  }
}
