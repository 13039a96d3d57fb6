/**
 * Tokens of the HTTP API and dashboard in the SQLite store: their names, roles, token ids and the
 * sha256 of each token. Kept apart from the engine file so that its role reads in one place.
 */
import type Database from 'better-sqlite3';
import { AmisyncError } from '../../core/errors.js';
import {
  API_ROLES,
  type ApiRole,
  type ApiTokenInsert,
  type ApiTokenRow,
} from '../../core/store.js';

type Row = Record<string, unknown>;
type Prepare = (sql: string) => Database.Statement;

const TOKEN_COLUMNS = 'name, role, token_id, token_sha256, created_at_ms, revoked_at_ms';

function tokenFrom(row: Row): ApiTokenRow {
  const role = row.role as ApiRole;
  if (!API_ROLES.includes(role)) throw new Error(`api token role ${String(row.role)} is unknown`);
  return {
    name: row.name as string,
    role,
    tokenId: row.token_id as string,
    tokenSha256: row.token_sha256 as string,
    createdAtMs: row.created_at_ms as number,
    revokedAtMs: (row.revoked_at_ms as number | null) ?? null,
  };
}

export function insertApiToken(prepare: Prepare, token: ApiTokenInsert): void {
  if (prepare('SELECT name FROM api_tokens WHERE name = ?').get(token.name) !== undefined) {
    throw new AmisyncError('INVALID_STATE', `a token named ${token.name} exists already`, {
      name: token.name,
    });
  }
  prepare(
    `INSERT INTO api_tokens (name, role, token_id, token_sha256, created_at_ms)
     VALUES (?, ?, ?, ?, ?)`,
  ).run(token.name, token.role, token.tokenId, token.tokenSha256, token.createdAtMs);
}

export function selectApiTokens(prepare: Prepare): ApiTokenRow[] {
  return (prepare(`SELECT ${TOKEN_COLUMNS} FROM api_tokens ORDER BY name`).all() as Row[]).map(
    tokenFrom,
  );
}

export function selectApiTokenById(prepare: Prepare, tokenId: string): ApiTokenRow | null {
  // A read-only view of a database from before migration 16 has no tokens yet.
  const table = prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'api_tokens'");
  if (table.get() === undefined) return null;
  const row = prepare(`SELECT ${TOKEN_COLUMNS} FROM api_tokens WHERE token_id = ?`).get(tokenId) as
    Row | undefined;
  return row === undefined ? null : tokenFrom(row);
}

export function markApiTokenRevoked(prepare: Prepare, name: string, atMs: number): boolean {
  const result = prepare(
    'UPDATE api_tokens SET revoked_at_ms = ? WHERE name = ? AND revoked_at_ms IS NULL',
  ).run(atMs, name);
  return result.changes === 1;
}
