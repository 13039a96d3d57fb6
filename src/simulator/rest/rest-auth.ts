/**
 * Authentication of the simulated head-end: an OAuth 2.0 client credentials token endpoint
 * (RFC 6749 section 4.4; client authentication by HTTP Basic or in the form body, never both),
 * bearer tokens that expire on the simulator's clock and can be revoked, or a static API key.
 */
import { timingSafeEqual } from 'node:crypto';

import type { Random } from '../../core/clock.js';

export const REST_AUTH_MODES = ['oauth', 'apiKey', 'none'] as const;
export type RestAuthMode = (typeof REST_AUTH_MODES)[number];

/** The header an API key travels in. */
export const API_KEY_HEADER = 'x-api-key';
export const AUTH_REALM = 'sim-head-end';
const TOKEN_BYTES = 24;

export interface AuthReply {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

interface IssuedToken {
  expiresAtMs: number;
  revoked: boolean;
}

export type AccessCheck = { ok: true; token: string | null } | { ok: false; reply: AuthReply };

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

function oauthError(status: number, error: string, description: string): AuthReply {
  const headers: Record<string, string> = { 'cache-control': 'no-store' };
  if (status === 401) headers['www-authenticate'] = `Basic realm="${AUTH_REALM}"`;
  return { status, headers, body: { error, error_description: description } };
}

function bearerChallenge(error: string | null, description: string): AuthReply {
  const challenge =
    error === null
      ? `Bearer realm="${AUTH_REALM}"`
      : `Bearer realm="${AUTH_REALM}", error="${error}", error_description="${description}"`;
  return {
    status: 401,
    headers: { 'www-authenticate': challenge },
    body: { error: error ?? 'unauthorized', error_description: description },
  };
}

/** The client id and secret a token request presents, from its Basic header or its form body. */
function presentedClient(
  authorization: string | undefined,
  form: URLSearchParams,
): { id: string; secret: string } | 'none' | 'both' | 'malformed' {
  const inBody = form.has('client_id') || form.has('client_secret');
  if (authorization === undefined) {
    if (!inBody) return 'none';
    return { id: form.get('client_id') ?? '', secret: form.get('client_secret') ?? '' };
  }
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(authorization);
  if (basic === null) return 'malformed';
  if (inBody) return 'both';
  const decoded = Buffer.from(basic[1] as string, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return 'malformed';
  try {
    return {
      id: decodeURIComponent(decoded.slice(0, colon).replaceAll('+', ' ')),
      secret: decodeURIComponent(decoded.slice(colon + 1).replaceAll('+', ' ')),
    };
  } catch {
    return 'malformed';
  }
}

export class TokenIssuer {
  readonly #clientId: string;
  readonly #clientSecret: string;
  readonly #ttlSeconds: number;
  readonly #random: Random;
  readonly #tokens = new Map<string, IssuedToken>();
  #issued = 0;
  #revoked = 0;

  constructor(clientId: string, clientSecret: string, ttlSeconds: number, random: Random) {
    this.#clientId = clientId;
    this.#clientSecret = clientSecret;
    this.#ttlSeconds = ttlSeconds;
    this.#random = random;
  }

  /** Answers `POST /oauth/token` with a form-encoded body. */
  tokenRequest(
    contentType: string | undefined,
    authorization: string | undefined,
    body: string,
    nowMs: number,
  ): AuthReply {
    if (!(contentType ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded')) {
      return oauthError(
        400,
        'invalid_request',
        'The body must be application/x-www-form-urlencoded.',
      );
    }
    const form = new URLSearchParams(body);
    const client = presentedClient(authorization, form);
    if (client === 'both') {
      return oauthError(400, 'invalid_request', 'Client credentials were sent twice.');
    }
    if (typeof client === 'string') {
      return oauthError(401, 'invalid_client', 'Client authentication failed.');
    }
    if (!sameSecret(client.id, this.#clientId) || !sameSecret(client.secret, this.#clientSecret)) {
      return oauthError(401, 'invalid_client', 'Client authentication failed.');
    }
    if (form.get('grant_type') !== 'client_credentials') {
      return oauthError(400, 'unsupported_grant_type', 'Only client_credentials is supported.');
    }
    return this.#issue(nowMs);
  }

  #issue(nowMs: number): AuthReply {
    const token = this.#random.hex(TOKEN_BYTES);
    this.#tokens.set(token, { expiresAtMs: nowMs + this.#ttlSeconds * 1000, revoked: false });
    this.#issued += 1;
    return {
      status: 200,
      headers: { 'cache-control': 'no-store', pragma: 'no-cache' },
      body: { access_token: token, token_type: 'Bearer', expires_in: this.#ttlSeconds },
    };
  }

  /** Checks a request's `Authorization: Bearer` header at `nowMs`. */
  checkBearer(authorization: string | undefined, nowMs: number): AccessCheck {
    if (authorization === undefined)
      return { ok: false, reply: bearerChallenge(null, 'No token.') };
    const match = /^Bearer\s+(\S+)$/i.exec(authorization);
    const token = match?.[1];
    const issued = token === undefined ? undefined : this.#tokens.get(token);
    if (token === undefined || issued === undefined) {
      return {
        ok: false,
        reply: bearerChallenge('invalid_token', 'The access token is not known.'),
      };
    }
    if (issued.revoked) {
      return {
        ok: false,
        reply: bearerChallenge('invalid_token', 'The access token was revoked.'),
      };
    }
    if (nowMs >= issued.expiresAtMs) {
      return { ok: false, reply: bearerChallenge('invalid_token', 'The access token expired.') };
    }
    return { ok: true, token };
  }

  /** Revokes a token: every later request bearing it gets 401 invalid_token. */
  revoke(token: string): void {
    const issued = this.#tokens.get(token);
    if (issued === undefined || issued.revoked) return;
    issued.revoked = true;
    this.#revoked += 1;
  }

  get issued(): number {
    return this.#issued;
  }

  get revoked(): number {
    return this.#revoked;
  }
}

/** Checks a static API key header. */
export function checkApiKey(given: string | undefined, expected: string): AccessCheck {
  if (given !== undefined && sameSecret(given, expected)) return { ok: true, token: null };
  return {
    ok: false,
    reply: {
      status: 401,
      headers: {},
      body: { error: 'unauthorized', error_description: 'A valid X-API-Key header is required.' },
    },
  };
}
