/**
 * Who is calling the API or the dashboard: a bearer token (made by `amisync tokens add`, stored as
 * a sha256 only) in the Authorization header or in the dashboard's session cookie, and what its
 * role allows.
 *
 * Tokens are kept as sha256, not a slow hash, for the reason push keys are
 * (sources/http-push/push-auth.ts): 256 random bits cannot be searched for from their hash.
 */
import { hash, timingSafeEqual } from 'node:crypto';
import type { Random } from '../core/clock.js';
import { AmisyncError } from '../core/errors.js';
import type { ApiRole, ApiTokenStore } from '../core/store.js';

/** What a role may do. Reading is every role's; the rest is granted per role. */
export const PERMISSIONS = ['read', 'operate', 'audit'] as const;
export type Permission = (typeof PERMISSIONS)[number];

export const ROLE_PERMISSIONS: Readonly<Record<ApiRole, readonly Permission[]>> = {
  viewer: ['read'],
  operator: ['read', 'operate'],
  auditor: ['read', 'audit'],
  admin: ['read', 'operate', 'audit'],
};

/** The caller a request proved: its token's name (the audit trail's actor) and role. */
export interface Caller {
  readonly name: string;
  readonly role: ApiRole;
}

/** The caller of a service started with --open: no token, every permission. */
export const OPEN_CALLER: Caller = { name: 'open-access', role: 'admin' };

/** The cookie the dashboard keeps its token in (HttpOnly, SameSite=Strict). */
export const SESSION_COOKIE = 'amisync_session';

const TOKEN = /^amt_([0-9a-f]{16})_([0-9a-f]{64})$/;

/** A new token: `amt_<token id>_<secret>`. The token id is public; the whole token is secret. */
export function newApiToken(random: Random): {
  token: string;
  tokenId: string;
  tokenSha256: string;
} {
  const tokenId = random.hex(8);
  const token = `amt_${tokenId}_${random.hex(32)}`;
  return { token, tokenId, tokenSha256: hash('sha256', token, 'hex') };
}

/** The actor the audit trail records for a caller's actions. */
export function actorOf(caller: Caller): string {
  return `api:${caller.name}`;
}

/** The token a request carries: its bearer token, else its session cookie; null when none. */
export function presentedToken(
  authorization: string | undefined,
  cookieHeader: string | undefined,
): string | null {
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
  if (bearer !== undefined) return bearer;
  for (const part of (cookieHeader ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === SESSION_COOKIE) return decodeURIComponent(value.join('='));
  }
  return null;
}

/** Checks a token against the store; throws UNAUTHENTICATED (never saying which part failed). */
export async function authenticate(store: ApiTokenStore, token: string | null): Promise<Caller> {
  if (token === null) {
    throw new AmisyncError(
      'UNAUTHENTICATED',
      'an API token is required: send "Authorization: Bearer <token>" (amisync tokens add)',
    );
  }
  const match = TOKEN.exec(token);
  const row = match?.[1] === undefined ? null : await store.findApiTokenById(match[1]);
  const given = Buffer.from(hash('sha256', token, 'hex'), 'hex');
  const kept = Buffer.from(row?.tokenSha256 ?? '0'.repeat(64), 'hex');
  if (row === null || row.revokedAtMs !== null || !timingSafeEqual(given, kept)) {
    throw new AmisyncError('UNAUTHENTICATED', 'the API token is not valid or was revoked');
  }
  return { name: row.name, role: row.role };
}

/** Throws FORBIDDEN when the caller's role does not grant the permission. */
export function authorize(caller: Caller, permission: Permission): void {
  if (ROLE_PERMISSIONS[caller.role].includes(permission)) return;
  throw new AmisyncError(
    'FORBIDDEN',
    `the ${caller.role} role may not ${permission}; ask for a token with a role that may ` +
      `(${rolesWith(permission).join(', ')})`,
    { role: caller.role, permission },
  );
}

function rolesWith(permission: Permission): ApiRole[] {
  return (Object.keys(ROLE_PERMISSIONS) as ApiRole[]).filter((role) =>
    ROLE_PERMISSIONS[role].includes(permission),
  );
}
