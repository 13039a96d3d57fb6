/**
 * A fake vendor head-end REST API on node:http, for tests, demos, benchmarks and rollout
 * rehearsals: an OAuth 2.0 token endpoint, readings in the vendor's own JSON shape by publication
 * window, paginated in the chosen style, a fixed-window rate limit advertised in headers, and
 * faults injected at chosen rates. docs/simulator.md documents the API and every option.
 *
 * Time (windows, token expiry, rate-limit windows) is the `now` option, so a test drives it.
 * Readings come from the feed generator; the ground truth is its oracle plus the repeats this
 * head-end served (a page served twice, an overlapping window), counted as they are served.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { systemRandom, type Random } from '../../core/clock.js';
import {
  SIM_REST_DAYS_MAX,
  SIM_REST_METERS_MAX,
  SIM_REST_PAGE_SIZE_MAX,
  SIM_REST_READINGS_MAX,
  SIM_REST_SLOW_MS_MAX,
  SIM_REST_TOKEN_BODY_BYTES_MAX,
} from '../../core/limits.js';
import {
  DEFAULT_INTERVAL_SECONDS,
  type FeedRecord,
  type GeneratedFeed,
} from '../feed-generator.js';
import { feedTruth, type Truth } from '../truth.js';
import {
  API_KEY_HEADER,
  checkApiKey,
  TokenIssuer,
  type AccessCheck,
  type AuthReply,
  type RestAuthMode,
} from './rest-auth.js';
import { PublishedFeed } from './rest-feed.js';
import {
  FaultPlan,
  type FaultKind,
  type FaultRates,
  type RequestFault,
  type TokenErrorShape,
} from './rest-faults.js';
import {
  decodeCursor,
  encodeCursor,
  pageRange,
  type CursorState,
  type PaginationStyle,
} from './rest-pagination.js';
import { FixedWindowRateLimit, type RateLimitOptions } from './rest-rate-limit.js';
import { toVendorRecord } from './vendor-shape.js';

export const READINGS_PATH = '/v1/readings';
export const TOKEN_PATH = '/oauth/token';
export const DEFAULT_CLIENT_ID = 'amisync';
const DAY_MS = 86_400_000;
const INTERVALS_PER_DAY = DAY_MS / (DEFAULT_INTERVAL_SECONDS * 1000);
const SECRET_BYTES = 24;
const PAGE_NUMBER_MAX = 1_000_000_000;
/** The head-end's own overlap re-sends at most a week. */
const OVERLAP_MINUTES_MAX = 10_080;
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/;

export interface RestSimulatorOptions extends FaultRates {
  /** The simulator's clock (epoch ms): publication, token expiry and rate-limit windows. */
  now: () => number;
  /** 0 (the default): any free port. The server listens on 127.0.0.1 only. */
  port?: number;
  seed?: number;
  meters?: number;
  days?: number;
  /** First interval start (epoch ms, a multiple of 15 minutes); default: `days` before today. */
  startMs?: number;
  estimateRate?: number;
  retransmitRate?: number;
  conflictRate?: number;
  badRate?: number;
  checksumRate?: number;
  /** Default `cursor`. */
  pagination?: PaginationStyle;
  /** Records per page when the client does not say; default 1000. */
  pageSize?: number;
  /**
   * `interval-end` (default): a reading is visible once the interval it was received in has
   * ended on `now()`. `all`: the whole feed is visible at once (a backfill).
   */
  publish?: 'interval-end' | 'all';
  /** Default `oauth`. */
  auth?: RestAuthMode;
  clientId?: string;
  /** The OAuth client secret or the API key; default: random. */
  clientSecret?: string;
  /** Lifetime of an access token; default 3600. */
  tokenTtlSeconds?: number;
  /** Absent: no rate limit. */
  rateLimit?: RateLimitOptions;
  /** How long a slow response is held back; default 2000. */
  slowMs?: number;
  /** The head-end re-sends this many minutes before each window's `from`; default 0. */
  overlapMinutes?: number;
  /** Ids of access tokens; default: the system's random source. */
  random?: Random;
  /** Called after a page added repeats to the truth (a CLI rewrites its truth file then). */
  onTruthChange?: () => void;
}

export interface RestSimulatorStats {
  requests: number;
  /** Responses by HTTP status. */
  statuses: Record<string, number>;
  /** The most requests (refused ones included) one rate-limit window saw. */
  maxRequestsInWindow: number;
  /** Requests beyond the advertised limit in their window. */
  overLimit: number;
  tokensIssued: number;
  tokensRevoked: number;
  faults: Record<FaultKind, number>;
  /** 200 JSON pages served, and the records in them. */
  pagesServed: number;
  recordsServed: number;
  /** Records of the feed served at least once. */
  distinctRecordsServed: number;
}

export interface RestSimulator {
  readonly url: string;
  readonly port: number;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly feedStartMs: number;
  readonly feedEndMs: number;
  readonly feed: GeneratedFeed;
  /** The truth as of now: the feed's oracle plus the repeats served so far. */
  readonly truth: Truth;
  stats(): RestSimulatorStats;
  /** Replaces every fault rate from the next request on (rates not given become 0). */
  setFaultRates(rates: FaultRates): void;
  close(): Promise<void>;
}

interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

function jsonReply(status: number, body: unknown, headers: Record<string, string> = {}): Reply {
  return {
    status,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  };
}

function authReply(reply: AuthReply): Reply {
  return jsonReply(reply.status, reply.body, reply.headers);
}

function badRequest(description: string): Reply {
  return jsonReply(400, { error: 'invalid_request', error_description: description });
}

const HTML_ERROR_PAGE =
  '<!DOCTYPE html>\n<html><head><title>Service Unavailable</title></head>\n' +
  '<body><h1>Service temporarily unavailable</h1><p>Please try again later.</p></body></html>\n';

function integerOption(name: string, value: number, min: number, max: number): number {
  assert.ok(Number.isInteger(value) && value >= min && value <= max, `${name}: ${value}`);
  return value;
}

function parseInstant(text: string | null, name: string): number | null | Reply {
  if (text === null) return null;
  const ms = ISO_8601.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(ms)) return badRequest(`${name} must be an ISO 8601 time with an offset.`);
  return ms;
}

/** A readings request, parsed. */
interface ReadingsQuery {
  fromMs: number | null;
  toMs: number | null;
  pageSize: number;
  cursor: CursorState | null;
  page: number;
}

/** The simulated head-end: its state and request handling. */
class RestHeadEnd {
  readonly feed: PublishedFeed;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly #options: RestSimulatorOptions;
  readonly #style: PaginationStyle;
  readonly #pageSize: number;
  readonly #overlapMs: number;
  readonly #slowMs: number;
  readonly #tokens: TokenIssuer;
  readonly #faults: FaultPlan;
  readonly #rateLimit: FixedWindowRateLimit | null;
  readonly #statuses = new Map<number, number>();
  #requests = 0;
  #pagesServed = 0;
  /** The cursor a duplicated page pointed back to: served again once, never duplicated twice. */
  #repeatedCursor: string | null = null;
  baseUrl = '';

  constructor(options: RestSimulatorOptions) {
    this.#options = options;
    const seed = options.seed ?? 1;
    const meters = integerOption('meters', options.meters ?? 10, 0, SIM_REST_METERS_MAX);
    const days = integerOption('days', options.days ?? 1, 1, SIM_REST_DAYS_MAX);
    assert.ok(meters * days * INTERVALS_PER_DAY <= SIM_REST_READINGS_MAX, 'readings');
    const startMs = options.startMs ?? Math.floor(options.now() / DAY_MS) * DAY_MS - days * DAY_MS;
    this.feed = new PublishedFeed({
      seed,
      meters,
      startMs,
      intervals: days * INTERVALS_PER_DAY,
      estimateRate: options.estimateRate ?? 0,
      retransmitRate: options.retransmitRate ?? 0,
      conflictRate: options.conflictRate ?? 0,
      badRate: options.badRate ?? 0,
      checksumRate: options.checksumRate ?? 0,
    });
    this.#style = options.pagination ?? 'cursor';
    this.#pageSize = integerOption('pageSize', options.pageSize ?? 1000, 1, SIM_REST_PAGE_SIZE_MAX);
    this.#overlapMs =
      integerOption('overlapMinutes', options.overlapMinutes ?? 0, 0, OVERLAP_MINUTES_MAX) * 60_000;
    this.#slowMs = integerOption('slowMs', options.slowMs ?? 2000, 0, SIM_REST_SLOW_MS_MAX);
    const random = options.random ?? systemRandom;
    this.clientId = options.clientId ?? DEFAULT_CLIENT_ID;
    this.clientSecret = options.clientSecret ?? random.hex(SECRET_BYTES);
    const ttlSeconds = options.tokenTtlSeconds ?? 3600;
    this.#tokens = new TokenIssuer(this.clientId, this.clientSecret, ttlSeconds, random);
    this.#faults = new FaultPlan(seed, options);
    this.#rateLimit =
      options.rateLimit === undefined ? null : new FixedWindowRateLimit(options.rateLimit);
  }

  get truth(): Truth {
    return feedTruth(this.feed.feed, this.feed.repeats);
  }

  setFaultRates(rates: FaultRates): void {
    this.#faults.setRates(rates);
  }

  stats(): RestSimulatorStats {
    return {
      requests: this.#requests,
      statuses: Object.fromEntries([...this.#statuses].map(([s, n]) => [String(s), n])),
      maxRequestsInWindow: this.#rateLimit?.maxRequestsInWindow ?? 0,
      overLimit: this.#rateLimit?.overLimit ?? 0,
      tokensIssued: this.#tokens.issued,
      tokensRevoked: this.#tokens.revoked,
      faults: this.#faults.counts(),
      pagesServed: this.#pagesServed,
      recordsServed: this.feed.recordsServed,
      distinctRecordsServed: this.feed.distinctServed(),
    };
  }

  /** Answers one request; `body` is the request body (token requests only). */
  handle(request: IncomingMessage, body: string): Reply {
    this.#requests += 1;
    const url = new URL(request.url ?? '/', this.baseUrl);
    let reply: Reply;
    if (url.pathname === TOKEN_PATH) {
      reply = request.method === 'POST' ? this.#token(request, body) : this.#notAllowed('POST');
    } else if (url.pathname === READINGS_PATH) {
      reply = request.method === 'GET' ? this.#readings(request, url) : this.#notAllowed('GET');
    } else {
      reply = jsonReply(404, {
        error: 'not_found',
        error_description: `No route ${url.pathname}.`,
      });
    }
    this.#statuses.set(reply.status, (this.#statuses.get(reply.status) ?? 0) + 1);
    return reply;
  }

  /** Whether this response is held back `slowMs`, and for how long. */
  delayMs(): number {
    return this.#faults.slow() ? this.#slowMs : 0;
  }

  #notAllowed(method: string): Reply {
    return jsonReply(405, { error: 'method_not_allowed' }, { allow: method });
  }

  #token(request: IncomingMessage, body: string): Reply {
    if (this.#options.auth !== undefined && this.#options.auth !== 'oauth') {
      return jsonReply(404, { error: 'not_found', error_description: 'No token endpoint.' });
    }
    const failure = this.#faults.tokenError();
    if (failure !== null) return tokenFailure(failure);
    const reply = this.#tokens.tokenRequest(
      request.headers['content-type'],
      request.headers.authorization,
      body,
      this.#options.now(),
    );
    return authReply(reply);
  }

  /** Every readings response carries the rate-limit headers, a refusal included. */
  #readings(request: IncomingMessage, url: URL): Reply {
    const nowMs = this.#options.now();
    const limit = this.#rateLimit?.take(nowMs) ?? null;
    const reply =
      limit === null || limit.allowed
        ? this.#readingsAllowed(request, url, nowMs)
        : jsonReply(429, { error: 'rate_limited' }, { 'retry-after': String(limit.resetSeconds) });
    return { ...reply, headers: { ...limit?.headers, ...reply.headers } };
  }

  #readingsAllowed(request: IncomingMessage, url: URL, nowMs: number): Reply {
    const access = this.#access(request, nowMs);
    if (!access.ok) return authReply(access.reply);
    const query = this.#query(url);
    if ('status' in query) return query;
    const fault = this.#faults.nextRequest();
    if (fault !== null) return faultReply(fault);
    const reply = this.#page(query, nowMs);
    if (access.token !== null && this.#faults.revoke()) this.#tokens.revoke(access.token);
    return reply;
  }

  #access(request: IncomingMessage, nowMs: number): AccessCheck {
    const mode = this.#options.auth ?? 'oauth';
    if (mode === 'none') return { ok: true, token: null };
    if (mode === 'apiKey') {
      const key = request.headers[API_KEY_HEADER];
      return checkApiKey(typeof key === 'string' ? key : undefined, this.clientSecret);
    }
    return this.#tokens.checkBearer(request.headers.authorization, nowMs);
  }

  #query(url: URL): ReadingsQuery | Reply {
    const params = url.searchParams;
    const fromMs = parseInstant(params.get('from'), 'from');
    if (typeof fromMs === 'object' && fromMs !== null) return fromMs;
    const toMs = parseInstant(params.get('to'), 'to');
    if (typeof toMs === 'object' && toMs !== null) return toMs;
    const pageSize = positiveParam(params.get('pageSize'), this.#pageSize, SIM_REST_PAGE_SIZE_MAX);
    if (pageSize === null) {
      return badRequest(`pageSize must be a whole number from 1 to ${SIM_REST_PAGE_SIZE_MAX}.`);
    }
    const page = positiveParam(params.get('page'), 1, PAGE_NUMBER_MAX);
    if (page === null) return badRequest('page must be a whole number from 1.');
    const cursorText = params.get('cursor');
    const cursor = cursorText === null ? null : decodeCursor(cursorText, this.feed.size);
    if (cursorText !== null && cursor === null) return badRequest('The cursor is not valid.');
    return { fromMs, toMs, pageSize, cursor, page };
  }

  /**
   * The window of a first request: records published after `from` and at or before `to` (`to`
   * defaults to now, or to the feed's end when everything is published), never past what is
   * visible now; `from` moved back by the head-end's overlap.
   */
  #window(query: ReadingsQuery, nowMs: number, first: boolean): CursorState {
    const all = this.#options.publish === 'all';
    const fromMs = query.fromMs ?? this.feed.startMs;
    const toMs = query.toMs ?? (all ? this.feed.endMs : nowMs);
    const visibleEnd = all ? this.feed.size : this.feed.firstAfter(nowMs);
    const offset = this.feed.firstAfter(fromMs - this.#overlapMs);
    const end = Math.max(offset, Math.min(this.feed.firstAfter(toMs), visibleEnd));
    if (first && offset < Math.min(end, this.feed.firstAfter(fromMs)))
      this.#faults.count('overlap');
    return { offset, end, fromMs, toMs };
  }

  #page(query: ReadingsQuery, nowMs: number): Reply {
    if (this.#style === 'page') return this.#numberedPage(query, nowMs);
    const window = query.cursor ?? this.#window(query, nowMs, true);
    const to = Math.min(window.end, window.offset + query.pageSize);
    const records = this.#serve(window.offset, to);
    const here = encodeCursor(window);
    let next: string | null = to < window.end ? encodeCursor({ ...window, offset: to }) : null;
    if (this.#repeatedCursor === here) {
      this.#repeatedCursor = null;
    } else if (records.length > 0 && this.#faults.duplicatePage()) {
      next = here;
      this.#repeatedCursor = here;
    }
    const windowJson = { from: isoTime(window.fromMs), to: isoTime(window.toMs) };
    if (this.#style === 'cursor') {
      return jsonReply(200, { data: { readings: records }, next, window: windowJson });
    }
    const headers: Record<string, string> = {};
    if (next !== null) headers['link'] = `<${this.#nextLink(next, query.pageSize)}>; rel="next"`;
    return jsonReply(200, { data: { readings: records }, window: windowJson }, headers);
  }

  #nextLink(cursor: string, pageSize: number): string {
    const url = new URL(READINGS_PATH, this.baseUrl);
    url.searchParams.set('cursor', cursor);
    url.searchParams.set('pageSize', String(pageSize));
    return url.href;
  }

  #numberedPage(query: ReadingsQuery, nowMs: number): Reply {
    const window = this.#window(query, nowMs, query.page === 1);
    const range = pageRange(window.offset, window.end, query.page, query.pageSize);
    const records = this.#serve(range.from, range.to);
    return jsonReply(200, {
      data: { readings: records },
      page: query.page,
      pageSize: query.pageSize,
      total: window.end - window.offset,
      window: { from: isoTime(window.fromMs), to: isoTime(window.toMs) },
    });
  }

  #serve(from: number, to: number): FeedRecord[] {
    const before = this.feed.repeats;
    const records = this.feed.serve(from, to).map(toVendorRecord);
    this.#pagesServed += 1;
    const after = this.feed.repeats;
    const changed = after.duplicates !== before.duplicates || after.invalid !== before.invalid;
    if (changed) this.#options.onTruthChange?.();
    return records;
  }
}

function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

function faultReply(fault: NonNullable<RequestFault>): Reply {
  switch (fault.kind) {
    case 'html':
      return {
        status: 200,
        headers: { 'content-type': 'text/html; charset=utf-8' },
        body: HTML_ERROR_PAGE,
      };
    case 'throttle':
      return jsonReply(
        429,
        { error: 'rate_limited' },
        { 'retry-after': String(fault.retryAfterSeconds) },
      );
    case 'server_error': {
      const retryAfter = fault.retryAfterSeconds;
      const headers = retryAfter === null ? {} : { 'retry-after': String(retryAfter) };
      return jsonReply(fault.status, { error: 'server_error' }, headers);
    }
    default:
      assert.fail(`unknown fault ${String(fault satisfies never)}`);
  }
}

function positiveParam(text: string | null, fallback: number, max: number): number | null {
  if (text === null) return fallback;
  if (!/^\d{1,10}$/.test(text)) return null;
  const value = Number(text);
  return value >= 1 && value <= max ? value : null;
}

function tokenFailure(shape: TokenErrorShape): Reply {
  switch (shape) {
    case 'status_500':
      return jsonReply(500, { error: 'server_error' });
    case 'status_503':
      return jsonReply(503, { error: 'temporarily_unavailable' }, { 'retry-after': '1' });
    case 'html':
      return { status: 200, headers: { 'content-type': 'text/html' }, body: HTML_ERROR_PAGE };
    case 'not_json':
      return { status: 200, headers: { 'content-type': 'application/json' }, body: '{"access_tok' };
    case 'no_token':
      return jsonReply(200, { token_type: 'Bearer', expires_in: 3600 });
    default:
      assert.fail(`unknown token failure ${String(shape satisfies never)}`);
  }
}

async function readBody(request: IncomingMessage, bytesMax: number): Promise<string | null> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of request) {
    const buffer = chunk as Buffer;
    bytes += buffer.byteLength;
    if (bytes > bytesMax) return null;
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Starts the head-end on 127.0.0.1; resolves once it listens. */
export async function startRestSimulator(options: RestSimulatorOptions): Promise<RestSimulator> {
  const headEnd = new RestHeadEnd(options);
  const delays = new Set<NodeJS.Timeout>();
  const server = createServer((request, response) => {
    void respond(headEnd, request, response, delays);
  });
  server.keepAliveTimeout = 5_000;
  await listen(server, options.port ?? 0);
  const port = (server.address() as AddressInfo).port;
  headEnd.baseUrl = `http://127.0.0.1:${port}`;
  const feed = headEnd.feed;
  return {
    url: headEnd.baseUrl,
    port,
    clientId: headEnd.clientId,
    clientSecret: headEnd.clientSecret,
    feedStartMs: feed.startMs,
    feedEndMs: feed.endMs,
    feed: feed.feed,
    get truth() {
      return headEnd.truth;
    },
    stats: () => headEnd.stats(),
    setFaultRates: (rates) => headEnd.setFaultRates(rates),
    close: () => closeServer(server, delays),
  };
}

async function respond(
  headEnd: RestHeadEnd,
  request: IncomingMessage,
  response: ServerResponse,
  delays: Set<NodeJS.Timeout>,
): Promise<void> {
  const body = await readBody(request, SIM_REST_TOKEN_BODY_BYTES_MAX);
  const reply =
    body === null ? jsonReply(413, { error: 'payload_too_large' }) : headEnd.handle(request, body);
  const send = (): void => {
    if (response.destroyed) return;
    response.writeHead(reply.status, reply.headers);
    response.end(reply.body);
  };
  const delayMs = headEnd.delayMs();
  if (delayMs === 0) return send();
  const timer = setTimeout(() => {
    delays.delete(timer);
    send();
  }, delayMs);
  delays.add(timer);
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeServer(server: Server, delays: Set<NodeJS.Timeout>): Promise<void> {
  for (const timer of delays) clearTimeout(timer);
  delays.clear();
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
