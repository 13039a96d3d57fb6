/**
 * A small vendor head-end API on 127.0.0.1 for the REST source's tests: readings filtered by a time
 * window and paged in any of the three styles (cursor, Link header, page numbers), an OAuth client
 * credentials token endpoint whose tokens expire on the given clock, an API key check, rate-limit
 * headers with a per-window request count that records every request beyond the advertised limit,
 * and scripted faults (any status, headers and body) for the next requests.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../core/clock.js';

export type PageStyle = 'cursor' | 'link' | 'page';

export interface ScriptedAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export type TestServerAuth =
  | { type: 'none' }
  | { type: 'apiKey'; header: string; key: string }
  | { type: 'oauth'; clientId: string; clientSecret: string; lifetimeSeconds: number };

export interface RateLimitPlan {
  limit: number;
  windowMs: number;
  /** `x`: X-RateLimit-*; `ietf`: `"default";r=..;t=..`; `draft`: `limit=.., remaining=..`. */
  headers: 'x' | 'ietf' | 'draft';
}

export interface RestTestServerOptions {
  /** Records with a time at `timeField`, served in this order. */
  records: readonly Record<string, unknown>[];
  /** The record field that places a record in a window; `timestamp_utc` unless told. */
  timeField?: string;
  style: PageStyle;
  clock: Clock;
  auth?: TestServerAuth;
  rateLimit?: RateLimitPlan;
  /** Cursor style: answer every page with the cursor it was asked with (a peer that is stuck). */
  stuckCursor?: boolean;
  /** Page style: put the total record count at `total`. */
  withTotal?: boolean;
  /**
   * Serves these bodies as they are, one per page, linked by `Link: rel="next"` (an `offset`
   * parameter), whatever the window: for tests that compare a delivery's bytes with a page's.
   */
  rawPages?: readonly string[];
}

export interface ServedRequest {
  readonly url: string;
  readonly authorization: string | undefined;
  readonly status: number;
}

function parseTime(text: string | null): number {
  if (text === null) return NaN;
  if (/^\d+$/.test(text)) return Number(text) < 1e11 ? Number(text) * 1000 : Number(text);
  return Date.parse(text);
}

async function bodyOf(request: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of request) parts.push(chunk as Buffer);
  return Buffer.concat(parts).toString('utf8');
}

export class RestTestServer {
  readonly requests: ServedRequest[] = [];
  /** Answers for the next readings requests, used before anything else is checked. */
  readonly faults: ScriptedAnswer[] = [];
  /** Answers for the next token requests. */
  readonly tokenFaults: ScriptedAnswer[] = [];
  tokenRequests = 0;
  tokenConcurrentMax = 0;
  /** Real milliseconds the token endpoint waits before answering. */
  tokenDelayMs = 0;
  /** Readings requests served beyond the advertised limit within one window. */
  rateViolations = 0;
  readonly #options: RestTestServerOptions;
  readonly #server: Server;
  readonly #tokens = new Map<string, number>();
  #tokenConcurrent = 0;
  #windowIndex = -1;
  #windowCount = 0;
  url = '';

  private constructor(options: RestTestServerOptions) {
    this.#options = options;
    this.#server = createServer((request, response) => {
      this.#handle(request, response).catch((error: Error) => {
        response.statusCode = 500;
        response.end(`test server: ${error.message}`);
      });
    });
  }

  static async start(options: RestTestServerOptions): Promise<RestTestServer> {
    const server = new RestTestServer(options);
    await new Promise<void>((resolve) => server.#server.listen(0, '127.0.0.1', resolve));
    const { port } = server.#server.address() as AddressInfo;
    server.url = `http://127.0.0.1:${port}`;
    return server;
  }

  /** Makes every token issued so far invalid, though not expired (a revoked token). */
  revokeTokens(): void {
    this.#tokens.clear();
  }

  /** The readings requests served with a 200, in order. */
  get pagesServed(): string[] {
    return this.requests.filter((r) => r.status === 200).map((r) => r.url);
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', this.url);
    if (url.pathname === '/oauth/token') return this.#token(request, response);
    const answer = this.#readings(request, url);
    this.requests.push({
      url: url.pathname + url.search,
      authorization: request.headers.authorization,
      status: answer.status,
    });
    response.writeHead(answer.status, {
      'content-type': 'application/json',
      ...answer.headers,
    });
    response.end(answer.body ?? '');
  }

  #readings(request: IncomingMessage, url: URL): ScriptedAnswer {
    const rate = this.#countRate();
    const fault = this.faults.shift();
    if (fault !== undefined) return { ...fault, headers: { ...rate, ...fault.headers } };
    if (!this.#authorized(request)) {
      return {
        status: 401,
        headers: { ...rate, 'www-authenticate': 'Bearer error="invalid_token"' },
      };
    }
    const answer = this.#page(url);
    return { ...answer, headers: { ...rate, ...answer.headers } };
  }

  #authorized(request: IncomingMessage): boolean {
    const auth = this.#options.auth ?? { type: 'none' };
    if (auth.type === 'none') return true;
    if (auth.type === 'apiKey') return request.headers[auth.header.toLowerCase()] === auth.key;
    const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
    const expiresMs = token === undefined ? undefined : this.#tokens.get(token);
    return expiresMs !== undefined && this.#options.clock.nowMs() < expiresMs;
  }

  #countRate(): Record<string, string> {
    const plan = this.#options.rateLimit;
    if (plan === undefined) return {};
    const nowMs = this.#options.clock.nowMs();
    const index = Math.floor(nowMs / plan.windowMs);
    if (index !== this.#windowIndex) {
      this.#windowIndex = index;
      this.#windowCount = 0;
    }
    this.#windowCount += 1;
    if (this.#windowCount > plan.limit) this.rateViolations += 1;
    const remaining = Math.max(0, plan.limit - this.#windowCount);
    const resetSeconds = Math.ceil(((index + 1) * plan.windowMs - nowMs) / 1000);
    switch (plan.headers) {
      case 'x':
        return {
          'x-ratelimit-limit': String(plan.limit),
          'x-ratelimit-remaining': String(remaining),
          'x-ratelimit-reset': String(resetSeconds),
        };
      case 'ietf':
        return {
          ratelimit: `"default";r=${remaining};t=${resetSeconds}`,
          'ratelimit-policy': `"default";q=${plan.limit};w=${plan.windowMs / 1000}`,
        };
      case 'draft':
        return { ratelimit: `limit=${plan.limit}, remaining=${remaining}, reset=${resetSeconds}` };
    }
  }

  #page(url: URL): ScriptedAnswer {
    const params = url.searchParams;
    if (this.#options.rawPages !== undefined) return this.#rawPage(url, this.#options.rawPages);
    const fromMs = parseTime(params.get('from'));
    const toMs = parseTime(params.get('to'));
    if (Number.isNaN(fromMs) || Number.isNaN(toMs)) {
      return { status: 400, body: '{"error":"from and to are required"}' };
    }
    const timeField = this.#options.timeField ?? 'timestamp_utc';
    const inWindow = this.#options.records.filter((record) => {
      const atMs = Date.parse(String(record[timeField]));
      return atMs >= fromMs && atMs < toMs;
    });
    switch (this.#options.style) {
      case 'cursor':
        return this.#cursorPage(params, inWindow);
      case 'link':
        return this.#linkPage(url, inWindow);
      case 'page':
        return this.#numberedPage(params, inWindow);
    }
  }

  #cursorPage(params: URLSearchParams, records: readonly unknown[]): ScriptedAnswer {
    const size = Number(params.get('pageSize') ?? 100);
    const cursor = params.get('cursor');
    const offset = cursor === null ? 0 : Number(Buffer.from(cursor, 'base64url').toString());
    const slice = records.slice(offset, offset + size);
    const more = offset + size < records.length;
    const next = this.#options.stuckCursor
      ? (cursor ?? Buffer.from('0').toString('base64url'))
      : more
        ? Buffer.from(String(offset + size)).toString('base64url')
        : null;
    return { status: 200, body: JSON.stringify({ data: { readings: slice }, next }) };
  }

  #linkPage(url: URL, records: readonly unknown[]): ScriptedAnswer {
    const size = Number(url.searchParams.get('pageSize') ?? 100);
    const offset = Number(url.searchParams.get('offset') ?? 0);
    const slice = records.slice(offset, offset + size);
    const headers: Record<string, string> = {};
    if (offset + size < records.length) {
      const next = new URL(url);
      next.searchParams.set('offset', String(offset + size));
      headers.link = `<${next.pathname}${next.search}>; rel="next", </v1/meters>; rel="related"`;
    }
    return { status: 200, headers, body: JSON.stringify({ data: { readings: slice } }) };
  }

  #rawPage(url: URL, pages: readonly string[]): ScriptedAnswer {
    const offset = Number(url.searchParams.get('offset') ?? 0);
    const headers: Record<string, string> = {};
    if (offset + 1 < pages.length) {
      const next = new URL(url);
      next.searchParams.set('offset', String(offset + 1));
      headers.link = `<${next.pathname}${next.search}>; rel="next"`;
    }
    return { status: 200, headers, body: pages[offset] ?? '' };
  }

  #numberedPage(params: URLSearchParams, records: readonly unknown[]): ScriptedAnswer {
    const size = Number(params.get('pageSize') ?? 100);
    const page = Number(params.get('page') ?? 1);
    const slice = records.slice((page - 1) * size, page * size);
    const body: Record<string, unknown> = { data: { readings: slice } };
    if (this.#options.withTotal === true) body.total = records.length;
    return { status: 200, body: JSON.stringify(body) };
  }

  async #token(request: IncomingMessage, response: ServerResponse): Promise<void> {
    this.tokenRequests += 1;
    this.#tokenConcurrent += 1;
    this.tokenConcurrentMax = Math.max(this.tokenConcurrentMax, this.#tokenConcurrent);
    try {
      const form = new URLSearchParams(await bodyOf(request));
      if (this.tokenDelayMs > 0) await new Promise((r) => setTimeout(r, this.tokenDelayMs));
      const answer = this.tokenFaults.shift() ?? this.#issue(request, form);
      response.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
      response.end(answer.body ?? '');
    } finally {
      this.#tokenConcurrent -= 1;
    }
  }

  #issue(request: IncomingMessage, form: URLSearchParams): ScriptedAnswer {
    const auth = this.#options.auth;
    if (auth?.type !== 'oauth') return { status: 404 };
    const basic = /^Basic (.+)$/.exec(request.headers.authorization ?? '')?.[1];
    const [id, secret] =
      basic === undefined
        ? [form.get('client_id'), form.get('client_secret')]
        : Buffer.from(basic, 'base64').toString().split(':').map(decodeURIComponent);
    if (form.get('grant_type') !== 'client_credentials') {
      return { status: 400, body: '{"error":"unsupported_grant_type"}' };
    }
    if (id !== auth.clientId || secret !== auth.clientSecret) {
      return { status: 401, body: '{"error":"invalid_client","error_description":"bad secret"}' };
    }
    const token = `tok-${this.tokenRequests}`;
    this.#tokens.set(token, this.#options.clock.nowMs() + auth.lifetimeSeconds * 1000);
    return {
      status: 200,
      body: JSON.stringify({
        access_token: token,
        token_type: 'Bearer',
        expires_in: auth.lifetimeSeconds,
      }),
    };
  }
}
