// Goal: `amisync tokens` prints a token once and stores only its sha256, lists tokens without
// them, revokes, audits both; usage mistakes exit 64; `amisync serve` answers the API with a
// token, 401 without one and after revocation, and stops on SIGTERM.
// Method: the built CLI (dist/cli/main.js) in child processes on a temporary database.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { hash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { removeTempDirs, tempDir } from '../../test-support/temp.js';

afterAll(removeTempDirs);

const MAIN = fileURLToPath(new URL('../../../dist/cli/main.js', import.meta.url));

function amisync(...args: string[]) {
  const result = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function addToken(db: string, role: string, name: string): string {
  const added = amisync('tokens', 'add', '--role', role, '--name', name, '--db', db, '--json');
  expect(added.status, added.stderr).toBe(0);
  return (JSON.parse(added.stdout) as { token: string }).token;
}

describe('amisync tokens', () => {
  it('adds with the token shown once, lists without it, revokes, and audits', () => {
    const db = join(tempDir(), 't.db');
    const token = addToken(db, 'operator', 'night-shift');
    expect(token).toMatch(/^amt_[0-9a-f]{16}_[0-9a-f]{64}$/);
    const text = amisync('tokens', 'add', '--role', 'viewer', '--db', db);
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/token viewer-[0-9a-f]{8} \(viewer\) added/);

    const listed = amisync('tokens', 'list', '--db', db, '--json');
    expect(listed.stdout).not.toContain(token);
    const { tokens } = JSON.parse(listed.stdout) as { tokens: Record<string, unknown>[] };
    expect(tokens.map((t) => [t.name, t.role, t.revokedAtMs])).toEqual([
      ['night-shift', 'operator', null],
      [expect.stringMatching(/^viewer-/), 'viewer', null],
    ]);

    expect(amisync('tokens', 'revoke', 'night-shift', '--db', db).status).toBe(0);
    expect(amisync('tokens', 'revoke', 'night-shift', '--db', db).status).toBe(3);

    const sqlite = new Database(db, { readonly: true });
    const row = sqlite
      .prepare("SELECT token_sha256, revoked_at_ms FROM api_tokens WHERE name = 'night-shift'")
      .get() as { token_sha256: string; revoked_at_ms: number | null };
    const audit = sqlite.prepare('SELECT kind, payload FROM audit_log ORDER BY seq').all() as {
      kind: string;
      payload: string;
    }[];
    sqlite.close();
    expect(row.token_sha256).toBe(hash('sha256', token, 'hex'));
    expect(row.revoked_at_ms).not.toBeNull();
    expect(audit.map((entry) => entry.kind)).toEqual([
      'api-token.add',
      'api-token.add',
      'api-token.revoke',
    ]);
    expect(audit[0]?.payload).toContain('"role":"operator"');
    const secret = token.slice(21);
    expect(audit.map((entry) => entry.payload).join('')).not.toContain(secret);
    expect(readFileSync(db).includes(Buffer.from(secret))).toBe(false);
  });

  it('refuses a missing or unknown role, a bad name and a taken name', () => {
    const db = join(tempDir(), 't.db');
    expect(amisync('tokens', 'add', '--db', db).status).toBe(64);
    const unknown = amisync('tokens', 'add', '--role', 'root', '--db', db, '--json');
    expect(unknown.status).toBe(64);
    expect(unknown.stderr).toContain('root');
    expect(amisync('tokens', 'add', '--role', 'viewer', '--name', 'a b', '--db', db).status).toBe(
      64,
    );
    addToken(db, 'viewer', 'same');
    expect(amisync('tokens', 'add', '--role', 'admin', '--name', 'same', '--db', db).status).toBe(
      4,
    );
    const help = amisync('tokens', 'add', '--help');
    expect(help.stdout).toContain('Example:');
  });
});

describe('amisync serve', () => {
  it('serves the API with a token, 401 without or once revoked, until SIGTERM', async () => {
    const db = join(tempDir(), 's.db');
    const token = addToken(db, 'viewer', 'wall-screen');
    expect(amisync('serve', '--db', db, '--port', 'x').status).toBe(64);
    const child = spawn(process.execPath, [MAIN, 'serve', '--db', db, '--port', '0', '--json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
      const { url } = JSON.parse(line) as { url: string };
      const status = await fetch(`${url}/api/status`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(status.status).toBe(200);
      expect(((await status.json()) as { auditEntries: number }).auditEntries).toBe(1);
      const anonymous = await fetch(`${url}/api/status`);
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get('content-type')).toContain('application/problem+json');
      expect(amisync('tokens', 'revoke', 'wall-screen', '--db', db).status).toBe(0);
      const revoked = await fetch(`${url}/api/status`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(revoked.status).toBe(401);
    } finally {
      child.kill('SIGTERM');
    }
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
  });
});
