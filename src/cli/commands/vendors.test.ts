// Goal: `amisync vendors` prints a key once and stores only its sha256, lists vendors without
// keys, revokes, audits both, and a revoked key is refused; usage mistakes exit 64.
// Method: the built CLI (dist/cli/main.js) in child processes on a temporary database.
import { spawnSync } from 'node:child_process';
import { hash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
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

describe('amisync vendors', () => {
  it('adds with a key shown once, lists without it, revokes, and audits', () => {
    const db = join(tempDir(), 'v.db');
    const added = amisync(
      'vendors',
      'add',
      'acme',
      '--meters',
      'MTR-AAAAAAAA,MTR-BBBBBBBB',
      '--db',
      db,
      '--json',
    );
    expect(added.status, added.stderr).toBe(0);
    const { apiKey, keyId } = JSON.parse(added.stdout) as { apiKey: string; keyId: string };
    expect(apiKey).toMatch(/^amk_[0-9a-f]{16}_[0-9a-f]{64}$/);

    const text = amisync('vendors', 'add', 'bolt', '--any-meter', '--db', db);
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/amk_[0-9a-f]{16}_[0-9a-f]{64}/);

    const listed = amisync('vendors', 'list', '--db', db, '--json');
    expect(listed.stdout).not.toContain(apiKey);
    const { vendors } = JSON.parse(listed.stdout) as { vendors: Record<string, unknown>[] };
    expect(vendors.map((vendor) => [vendor.name, vendor.anyMeter, vendor.meters])).toEqual([
      ['acme', false, ['MTR-AAAAAAAA', 'MTR-BBBBBBBB']],
      ['bolt', true, null],
    ]);

    expect(amisync('vendors', 'revoke', 'acme', '--db', db).status).toBe(0);
    expect(amisync('vendors', 'revoke', 'acme', '--db', db).status).toBe(3);

    const sqlite = new Database(db, { readonly: true });
    const row = sqlite.prepare("SELECT * FROM vendors WHERE name = 'acme'").get() as Record<
      string,
      unknown
    >;
    expect(row.key_id).toBe(keyId);
    expect(row.key_sha256).toBe(hash('sha256', apiKey, 'hex'));
    expect(row.revoked_at_ms).not.toBeNull();
    const audit = sqlite.prepare('SELECT kind, payload FROM audit_log ORDER BY seq').all() as {
      kind: string;
      payload: string;
    }[];
    sqlite.close();
    expect(audit.map((entry) => entry.kind)).toEqual(['vendor.add', 'vendor.add', 'vendor.revoke']);
    expect(audit.map((entry) => entry.payload).join('')).not.toContain(apiKey.slice(21));
    expect(readFileSync(db).includes(Buffer.from(apiKey.slice(21)))).toBe(false);
  });

  it('refuses a vendor without meters, or with two kinds of them, as USAGE', () => {
    const db = join(tempDir(), 'v.db');
    expect(amisync('vendors', 'add', 'x', '--db', db).status).toBe(64);
    expect(amisync('vendors', 'add', 'x', '--any-meter', '--meters', 'A', '--db', db).status).toBe(
      64,
    );
    const again = amisync('vendors', 'add', 'y', '--any-meter', '--db', db);
    expect(again.status).toBe(0);
    expect(amisync('vendors', 'add', 'y', '--any-meter', '--db', db).status).toBe(4);
  });
});
