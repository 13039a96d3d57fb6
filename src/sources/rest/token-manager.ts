/**
 * OAuth 2.0 client credentials (RFC 6749 section 4.4) for a REST source. The token is cached and
 * refreshed REST_TOKEN_REFRESH_SKEW_MS before it expires (at half its lifetime when that is
 * shorter); concurrent callers share one request to the token endpoint (single flight); a 401 on a
 * resource calls `invalidate(token)`, after which the next `token()` fetches a new one, once for
 * any number of callers that saw the same rejected token.
 *
 * The token endpoint is called with undici directly rather than oauth4webapi: its answers must map
 * onto our transport codes with precise reasons (a 5xx is TRANSPORT_UNAVAILABLE; a refusal, HTML or
 * a body without `access_token` is TRANSPORT_AUTH_FAILED quoting the endpoint's words), on the same
 * pool, deadline and clock as every other request. The client secret is never logged or put in an
 * error.
 */
import type { TimerClock } from '../../core/clock.js';
import { AmisyncError } from '../../core/errors.js';
import { REST_TOKEN_REFRESH_SKEW_MS, REST_TOKEN_RESPONSE_BYTES_MAX } from '../../core/limits.js';
import { preview, type HttpResponse, type RestHttp } from './rest-http.js';

export interface TokenManagerOptions {
  readonly tokenUrl: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly scope?: string | undefined;
  /** `basic`: HTTP Basic (RFC 6749 2.3.1, the default); `body`: id and secret in the form. */
  readonly clientAuth: 'basic' | 'body';
}

interface CachedToken {
  readonly accessToken: string;
  /** When to fetch a new one (clock ms): before it expires; Infinity without `expires_in`. */
  readonly refreshAtMs: number;
}

/** RFC 6749 2.3.1: Basic credentials are form-urlencoded first. */
function formEncode(value: string): string {
  return encodeURIComponent(value).replace(/%20/g, '+');
}

export class TokenManager {
  readonly #options: TokenManagerOptions;
  readonly #http: RestHttp;
  readonly #clock: TimerClock;
  #cached: CachedToken | null = null;
  #inFlight: Promise<CachedToken> | null = null;
  /** Requests made to the token endpoint, for tests and status. */
  requests = 0;

  constructor(options: TokenManagerOptions, http: RestHttp, clock: TimerClock) {
    this.#options = options;
    this.#http = http;
    this.#clock = clock;
  }

  /** A token valid for a while yet; fetches one (shared by concurrent callers) when needed. */
  async token(signal: AbortSignal): Promise<string> {
    const cached = this.#cached;
    if (cached !== null && this.#clock.nowMs() < cached.refreshAtMs) return cached.accessToken;
    this.#inFlight ??= this.#fetch(signal).finally(() => {
      this.#inFlight = null;
    });
    return (await this.#inFlight).accessToken;
  }

  /** The resource refused `accessToken` (401): forget it, unless a newer one replaced it. */
  invalidate(accessToken: string): void {
    if (this.#cached?.accessToken === accessToken) this.#cached = null;
  }

  async #fetch(signal: AbortSignal): Promise<CachedToken> {
    const { tokenUrl, clientId, clientSecret, scope, clientAuth } = this.#options;
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (scope !== undefined) form.set('scope', scope);
    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    };
    if (clientAuth === 'basic') {
      const pair = `${formEncode(clientId)}:${formEncode(clientSecret)}`;
      headers.authorization = `Basic ${Buffer.from(pair).toString('base64')}`;
    } else {
      form.set('client_id', clientId);
      form.set('client_secret', clientSecret);
    }
    this.requests += 1;
    const startedMs = this.#clock.nowMs();
    const response = await this.#http.send(
      {
        method: 'POST',
        url: tokenUrl,
        headers,
        body: form.toString(),
        bodyBytesMax: REST_TOKEN_RESPONSE_BYTES_MAX,
        limitName: 'REST_TOKEN_RESPONSE_BYTES_MAX',
        what: `the token endpoint ${tokenUrl}`,
      },
      signal,
    );
    const token = readTokenResponse(response, tokenUrl, startedMs);
    this.#cached = token;
    return token;
  }
}

function authFailed(tokenUrl: string, reason: string, status: number): AmisyncError {
  return new AmisyncError('TRANSPORT_AUTH_FAILED', `the token endpoint ${tokenUrl} ${reason}`, {
    url: tokenUrl,
    status,
  });
}

/** The token in a 200 answer, or a precise error for anything else. */
export function readTokenResponse(
  response: HttpResponse,
  tokenUrl: string,
  startedMs: number,
): CachedToken {
  const { status } = response;
  if (status >= 500) {
    throw new AmisyncError(
      'TRANSPORT_UNAVAILABLE',
      `the token endpoint ${tokenUrl} answered ${status}: ${preview(response.chunks)}`,
      { url: tokenUrl, status },
    );
  }
  const text = Buffer.concat(response.chunks).toString('utf8');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw authFailed(
      tokenUrl,
      `answered ${status} with a body that is not JSON: ${preview(response.chunks)}`,
      status,
    );
  }
  const fields = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  if (status !== 200) {
    const said = [fields.error, fields.error_description].filter((v) => typeof v === 'string');
    const words = said.length > 0 ? said.join(': ') : preview(response.chunks);
    throw authFailed(tokenUrl, `refused the client credentials (${status}): ${words}`, status);
  }
  const accessToken = fields.access_token;
  if (typeof accessToken !== 'string' || accessToken === '') {
    throw authFailed(
      tokenUrl,
      `answered 200 without an access_token: ${preview(response.chunks)}`,
      status,
    );
  }
  if (typeof fields.token_type === 'string' && fields.token_type.toLowerCase() !== 'bearer') {
    throw authFailed(tokenUrl, `gave a token of type ${fields.token_type}, not Bearer`, status);
  }
  return { accessToken, refreshAtMs: refreshAt(fields.expires_in, startedMs) };
}

function refreshAt(expiresIn: unknown, startedMs: number): number {
  const seconds = typeof expiresIn === 'string' ? Number(expiresIn) : expiresIn;
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0) return Infinity;
  const lifetimeMs = seconds * 1000;
  return startedMs + lifetimeMs - Math.min(REST_TOKEN_REFRESH_SKEW_MS, lifetimeMs / 2);
}
