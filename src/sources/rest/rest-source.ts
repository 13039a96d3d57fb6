/**
 * A vendor head-end's REST API as a Source (`kind: rest`). Each read asks for one page of one time
 * window and returns it as one delivery in the json-dialect format; the delivery's position is the
 * one after the page (window, next cursor / page / link, high-water mark), which the runner saves
 * in the page's own commit, so a restart resumes exactly after the last committed page.
 * Acknowledging changes nothing at the peer: a REST cursor advances by being saved.
 *
 * The source never sleeps or retries a page: a spent rate-limit budget, a 429 or a 503 with
 * Retry-After is returned as `idle(ms, 'throttled')`; a caught-up window as `idle(pollIntervalMs)`;
 * every other failure is a TRANSPORT_* error for the runner to reconnect on. The one exception the
 * protocol asks for is a 401 with OAuth: the token is refreshed once and the page asked again.
 */
import type { TimerClock } from '../../core/clock.js';
import { AmisyncError } from '../../core/errors.js';
import { REST_PAGE_BYTES_MAX, REST_UNREADABLE_PAGES_MAX } from '../../core/limits.js';
import type { Logger } from '../../core/log.js';
import type { InputFormat } from '../../core/parser.js';
import {
  AckOnce,
  idle,
  type Delivery,
  type Idle,
  type Refetched,
  type SavedPosition,
  type Source,
  type SourceContext,
  type SourcePosition,
} from '../../core/source.js';
import type { SourceKind } from '../common/config.js';
import { restSourceConfigSchema, type RestSourceConfig } from './rest-config.js';
import { preview, RestHttp, type HttpResponse } from './rest-http.js';
import { checkPage, NOT_JSON, type CheckedPage } from './rest-page.js';
import {
  fromSourcePosition,
  pageUrl,
  startOfWindow,
  toSourcePosition,
  type RestPosition,
} from './rest-position.js';
import { RestThrottle, type ResponseHeaders } from './rest-throttle.js';
import { TokenManager } from './token-manager.js';

/** The format every page is delivered in; the format itself lives in src/formats/json-dialect. */
const PAGE_FORMAT = 'json-dialect' as InputFormat;

/** Response headers kept as a delivery's metadata: never credentials or cookies. */
const KEPT_HEADERS = [
  'content-type',
  'content-length',
  'date',
  'etag',
  'last-modified',
  'link',
  'request-id',
  'x-request-id',
  'x-correlation-id',
  'ratelimit',
  'ratelimit-policy',
  'ratelimit-remaining',
  'ratelimit-reset',
  'x-ratelimit-limit',
  'x-ratelimit-remaining',
  'x-ratelimit-reset',
];

/** How requests are authenticated, with secrets already read. */
export type RestCredentials =
  | { readonly type: 'none' }
  | { readonly type: 'apiKey'; readonly header: string; readonly key: string }
  | { readonly type: 'oauth'; readonly tokens: TokenManager };

export interface RestSourceOptions {
  readonly config: RestSourceConfig;
  readonly clock: TimerClock;
  readonly log: Logger;
  /** Built from the config with `restCredentials`; tests may pass their own. */
  readonly credentials: (http: RestHttp) => RestCredentials;
}

function keptMetadata(status: number, headers: ResponseHeaders): Record<string, string> {
  const metadata: Record<string, string> = { 'http.status': String(status) };
  for (const name of KEPT_HEADERS) {
    const value = headers[name];
    if (value !== undefined)
      metadata[`http.${name}`] = Array.isArray(value) ? value.join(', ') : value;
  }
  return metadata;
}

export class RestSource implements Source {
  readonly id: string;
  readonly #config: RestSourceConfig;
  readonly #clock: TimerClock;
  readonly #log: Logger;
  readonly #throttle = new RestThrottle();
  readonly #credentialsFor: (http: RestHttp) => RestCredentials;
  /** The pool and credentials of the current connection; null before connect and after close. */
  #connection: { http: RestHttp; credentials: RestCredentials } | null = null;
  /** Where the next read starts; null before the first window. */
  #position: RestPosition | null = null;
  /**
   * A page of this run completed a window that reached now: the next read says caught-up. A
   * completed window loaded on connect is followed by the next window at once.
   */
  #caughtUpPending = false;
  #pagesThisPoll = 0;
  /** The last answer was a 401 and the token was refreshed: another 401 fails. */
  #tokenRefused = false;
  /** The last page that could not be committed, asked for again with the next attempt number. */
  #nacked: { url: string; attempt: number } | null = null;
  /** The page last answered with a body that could not be read, and how many times in a row. */
  #unreadableAt: { url: string; count: number } | null = null;

  constructor(options: RestSourceOptions) {
    this.id = options.config.id;
    this.#config = options.config;
    this.#clock = options.clock;
    this.#log = options.log.child({ source: options.config.id });
    this.#credentialsFor = options.credentials;
  }

  /** Opens a fresh pool (the runner connects again after close, on the same source). */
  async connect(_signal: AbortSignal, saved: SavedPosition | null): Promise<void> {
    await this.#connection?.http.close();
    const http = new RestHttp(this.#clock, this.#config.requestTimeoutMs);
    this.#connection = { http, credentials: this.#credentialsFor(http) };
    this.#position = saved === null ? null : fromSourcePosition(this.id, saved.position);
    this.#caughtUpPending = false;
    this.#pagesThisPoll = 0;
  }

  async read(signal: AbortSignal): Promise<Delivery | Idle> {
    const waitMs = this.#throttle.waitMs(this.#clock.nowMs());
    if (waitMs > 0) return idle(waitMs, 'throttled');
    if (this.#pagesThisPoll >= this.#config.pagesPerPollMax) {
      // Yield so other sources get their turn; there is more, so even a run with --once goes on.
      this.#pagesThisPoll = 0;
      return idle(0, 'throttled');
    }
    const position = this.#positionToRead();
    if (position === null) {
      this.#pagesThisPoll = 0;
      return idle(this.#config.pollIntervalMs, 'caught-up');
    }
    return this.#readPage(position, signal);
  }

  async close(): Promise<void> {
    const connection = this.#connection;
    this.#connection = null;
    await connection?.http.close();
  }

  #connected(): { http: RestHttp; credentials: RestCredentials } {
    if (this.#connection === null) throw new Error(`source ${this.id} is not connected`);
    return this.#connection;
  }

  /** The page to ask for next, or null when caught up (a window reaching now was paged). */
  #positionToRead(): RestPosition | null {
    const nowMs = this.#clock.nowMs();
    const current = this.#position;
    if (current !== null && current.next.at !== 'done') return current;
    if (this.#caughtUpPending) {
      this.#caughtUpPending = false;
      return null;
    }
    const next = startOfWindow(this.#config, current?.highWaterMs ?? null, nowMs);
    // A backfill start in the future, or a clock that went back: nothing to ask for yet.
    return next.window.toMs > next.window.fromMs ? next : null;
  }

  async #readPage(position: RestPosition, signal: AbortSignal): Promise<Delivery | Idle> {
    const url = pageUrl(this.#config, position);
    try {
      return await this.#fetchPage(url, position, signal);
    } catch (error) {
      throw signal.aborted ? error : withRequest(error, pageRequest(url));
    }
  }

  async #fetchPage(
    url: string,
    position: RestPosition,
    signal: AbortSignal,
  ): Promise<Delivery | Idle> {
    const { response, token } = await this.#get(url, signal);
    const nowMs = this.#clock.nowMs();
    this.#throttle.observe(response.headers, nowMs);
    if (response.status === 401 && token !== null && !this.#tokenRefused) {
      return this.#refreshAfter401(token, position, signal);
    }
    this.#tokenRefused = false;
    if (response.status === 429 || (response.status === 503 && 'retry-after' in response.headers)) {
      const afterMs = this.#throttle.refused(response.headers, nowMs);
      this.#log.warn({ url, status: response.status, afterMs }, 'the peer asked us to wait');
      return idle(afterMs, 'throttled');
    }
    this.#refuseStatus(url, response);
    let page: CheckedPage;
    try {
      page = checkPage(this.#config, position, url, response);
    } catch (error) {
      return this.#unreadable(url, response, position, error);
    }
    this.#unreadableAt = null;
    const after: RestPosition = {
      window: position.window,
      next: page.next,
      highWaterMs: page.next.at === 'done' ? position.window.toMs : position.highWaterMs,
    };
    this.#position = after;
    this.#caughtUpPending = after.next.at === 'done' && after.window.reachesNow;
    this.#pagesThisPoll += 1;
    return this.#delivery(url, response, position, after);
  }

  /**
   * A page that says it is JSON but does not parse may have carried records: it goes to the
   * pipeline whole, which quarantines it with its bytes (`parse.syntax` or
   * `parse.not_json`), and it commits no new
   * position, so the same page is asked for again next. After REST_UNREADABLE_PAGES_MAX such
   * answers in a row for one page the source fails instead (loudly, every reconnect), keeping the
   * evidence it has. Any other refusal (an HTML page, no records path) carries no records: it fails
   * at once, and the page is asked for again after the reconnect.
   */
  #unreadable(
    url: string,
    response: HttpResponse,
    position: RestPosition,
    error: unknown,
  ): Delivery {
    const kind = error instanceof AmisyncError ? error.details.kind : undefined;
    const count = this.#unreadableAt?.url === url ? this.#unreadableAt.count + 1 : 1;
    this.#unreadableAt = { url, count };
    if (kind !== NOT_JSON || count > REST_UNREADABLE_PAGES_MAX) throw error;
    this.#log.warn(
      { url, status: response.status, count, reason: (error as Error).message },
      'an unreadable page is quarantined with its bytes and asked for again',
    );
    return this.#delivery(url, response, position, position, null);
  }

  /**
   * Fetches a page a request dead letter names (`pageRequest`), with this source's credentials
   * (one forced token refresh on a 401, as for any page). Only a URL on the configured base URL's
   * origin is fetched, so an edited dead-letter row cannot send the credentials elsewhere.
   */
  async refetch(
    request: Readonly<Record<string, unknown>>,
    signal: AbortSignal,
  ): Promise<Refetched> {
    const url = request['url'];
    const origin = new URL(this.#config.baseUrl).origin;
    if (
      request['kind'] !== PAGE_REQUEST_KIND ||
      typeof url !== 'string' ||
      !sameOrigin(url, origin)
    ) {
      throw new AmisyncError(
        'INVALID_STATE',
        `source ${this.id} did not make this request (a ${PAGE_REQUEST_KIND} on ${origin}): ` +
          JSON.stringify(request).slice(0, 200),
      );
    }
    let { response, token } = await this.#get(url, signal);
    if (response.status === 401 && token !== null) {
      const { credentials } = this.#connected();
      if (credentials.type === 'oauth') credentials.tokens.invalidate(token);
      ({ response, token } = await this.#get(url, signal));
    }
    if (response.status === 429 || response.status === 503) {
      throw new AmisyncError(
        'TRANSPORT_RATE_LIMITED',
        `the page ${url} answered ${response.status}`,
        {
          url,
          status: response.status,
        },
      );
    }
    this.#refuseStatus(url, response);
    return {
      name: pageRequest(url).name,
      format: PAGE_FORMAT,
      formatContext: {
        recordsPath: this.#config.records.path,
        dialect: this.#config.records.dialect,
      },
      transportId: url,
      chunks: response.chunks,
    };
  }

  #refuseStatus(url: string, response: HttpResponse): void {
    const { status } = response;
    if (status >= 200 && status < 300) return;
    const details = { url, status };
    const said = preview(response.chunks);
    if (status === 401 || status === 403) {
      const oauth = this.#connected().credentials.type === 'oauth';
      const retried = oauth ? ' with a freshly fetched token' : '';
      throw new AmisyncError(
        'TRANSPORT_AUTH_FAILED',
        `the page ${url} was refused with ${status}${retried}: ${said}`,
        details,
      );
    }
    if (status >= 500) {
      throw new AmisyncError(
        'TRANSPORT_UNAVAILABLE',
        `the page ${url} answered ${status}: ${said}`,
        details,
      );
    }
    throw new AmisyncError(
      'TRANSPORT_PROTOCOL',
      `the page ${url} answered ${status}, not a page: ${said}`,
      details,
    );
  }

  /** GET with credentials; with OAuth, a 401 forces one token refresh and one more try. */
  /**
   * The API refused an OAuth token: exactly one forced refresh, then the page is asked again (a
   * second 401 fails), unless the rate-limit budget says to wait first.
   */
  async #refreshAfter401(
    token: string,
    position: RestPosition,
    signal: AbortSignal,
  ): Promise<Delivery | Idle> {
    const { credentials } = this.#connected();
    if (credentials.type === 'oauth') credentials.tokens.invalidate(token);
    this.#tokenRefused = true;
    this.#log.info({}, 'the API refused the token (401); fetching a new one once');
    const waitMs = this.#throttle.waitMs(this.#clock.nowMs());
    return waitMs > 0 ? idle(waitMs, 'throttled') : this.#readPage(position, signal);
  }

  /** One GET with the credentials; `token` is the OAuth token it carried. */
  async #get(
    url: string,
    signal: AbortSignal,
  ): Promise<{ response: HttpResponse; token: string | null }> {
    const { http, credentials } = this.#connected();
    const send = (authorization: Record<string, string>) =>
      http.send(
        {
          method: 'GET',
          url,
          headers: { accept: 'application/json', ...this.#config.headers, ...authorization },
          bodyBytesMax: REST_PAGE_BYTES_MAX,
          limitName: 'REST_PAGE_BYTES_MAX',
          what: `the page ${url}`,
        },
        signal,
      );
    if (credentials.type === 'none') return { response: await send({}), token: null };
    if (credentials.type === 'apiKey') {
      return { response: await send({ [credentials.header]: credentials.key }), token: null };
    }
    const token = await credentials.tokens.token(signal);
    return { response: await send({ authorization: `Bearer ${token}` }), token };
  }

  /** A page as a delivery; `saved` is the position its commit saves (null: none, page again). */
  #delivery(
    url: string,
    response: HttpResponse,
    before: RestPosition,
    after: RestPosition,
    saved: SourcePosition | null = toSourcePosition(after),
  ): Delivery {
    const once = new AckOnce(url);
    const { chunks } = response;
    const request = new URL(url);
    const attempt = this.#nacked?.url === url ? this.#nacked.attempt + 1 : 1;
    return {
      sourceDeliveryId: url,
      name: `GET ${request.pathname}${request.search}`,
      format: PAGE_FORMAT,
      formatContext: {
        recordsPath: this.#config.records.path,
        dialect: this.#config.records.dialect,
      },
      attempt,
      metadata: keptMetadata(response.status, response.headers),
      partitionKey: null,
      position: saved,
      async *bytes() {
        yield* chunks;
      },
      ack: async () => {
        once.take();
      },
      nack: async (error) => {
        once.take();
        // The page was not committed: ask for it again, unless a later read moved on already.
        if (this.#position === after) this.#position = before;
        this.#nacked = { url, attempt };
        this.#log.warn({ url, error: error.message }, 'a page could not be committed');
      },
    };
  }
}

/** What a request dead letter keeps of a page that could not be fetched. */
const PAGE_REQUEST_KIND = 'rest.page';

function pageRequest(url: string): {
  kind: string;
  id: string;
  url: string;
  name: string;
  format: string;
} {
  const request = new URL(url);
  const name = `GET ${request.pathname}${request.search}`;
  return { kind: PAGE_REQUEST_KIND, id: url, url, name, format: PAGE_FORMAT };
}

function sameOrigin(url: string, origin: string): boolean {
  try {
    return new URL(url).origin === origin;
  } catch {
    return false;
  }
}

/**
 * The transport error with the page it struck (`details.request`): when the retries of that read
 * are exhausted, the service keeps the request as a dead letter. Other errors pass unchanged.
 */
function withRequest(error: unknown, request: Record<string, unknown>): unknown {
  if (!(error instanceof AmisyncError)) return error;
  const wrapped = new AmisyncError(error.code, error.message, { ...error.details, request });
  wrapped.cause = error;
  return wrapped;
}

/** Reads the configured secrets (never logging them) into credentials. */
export function restCredentials(
  config: RestSourceConfig,
  context: SourceContext,
  clock: TimerClock,
): (http: RestHttp) => RestCredentials {
  const { auth } = config;
  const keyPath = 'auth';
  switch (auth.type) {
    case 'none':
      return () => ({ type: 'none' });
    case 'apiKey': {
      const key = context.secret({ env: auth.keyEnv, file: auth.keyFile }, `${keyPath}.key`);
      return () => ({ type: 'apiKey', header: auth.header, key });
    }
    case 'oauth': {
      const clientSecret = context.secret(
        { env: auth.clientSecretEnv, file: auth.clientSecretFile },
        `${keyPath}.clientSecret`,
      );
      const options = { ...auth, clientSecret };
      return (http) => ({ type: 'oauth', tokens: new TokenManager(options, http, clock) });
    }
    default:
      return auth satisfies never;
  }
}

export const restSourceKind: SourceKind<RestSourceConfig> = {
  kind: 'rest',
  schema: restSourceConfigSchema,
  create(config, context) {
    return new RestSource({
      config,
      clock: context.clock,
      log: context.log,
      credentials: restCredentials(config, context, context.clock),
    });
  },
};
