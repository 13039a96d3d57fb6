// Goal: `amisync ingest --threads N` reports and stores what `--threads 1` does; a bad N is USAGE.
// Method: dist/cli/main.js in child processes on one generated NDJSON feed with faults.
import { spawnSync } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PARALLEL_FROM_BYTES } from '../../pipeline/ingest.js';
import { generateFeed } from '../../simulator/feed-generator.js';
import { removeTempDirs, tempDir } from '../../test-support/temp.js';

const ROOT = join(import.meta.dirname, '../../..');
const MAIN = join(ROOT, 'dist/cli/main.js');

beforeAll(() => {
  const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8' });
  expect(build.status, build.stderr).toBe(0);
}, 120_000);
afterAll(removeTempDirs);

function ingest(feed: string, db: string, threads: string) {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.AMISYNC_DB;
  delete env.AMISYNC_DICTIONARY;
  delete env.AMISYNC_SIGNING_KEY;
  const args = [MAIN, 'ingest', feed, '--db', db, '--threads', threads, '--json'];
  return spawnSync(process.execPath, args, { cwd: ROOT, env, encoding: 'utf8' });
}

/** What a delivery's id and the clock do not change: counts, batches, sizes. */
function comparable(stdout: string): unknown {
  const summary = JSON.parse(stdout) as { files: Record<string, unknown>[]; checkpoint: unknown };
  return {
    ...summary,
    checkpoint: null,
    files: summary.files.map((file) => ({ ...file, deliveryId: null })),
  };
}

function ledgerOf(db: string): unknown[] {
  const sqlite = new Database(db, { readonly: true });
  const rows = sqlite
    .prepare(
      'SELECT meter_id, channel, interval_start_ms, value_micro, seq, idempotency_key, version, ' +
        'batch_position FROM ledger ORDER BY rowid',
    )
    .all();
  sqlite.close();
  return rows;
}

describe('amisync ingest --threads', () => {
  const dir = tempDir('amisync-threads-cli-');
  const feed = join(dir, 'feed.ndjson');
  const records = generateFeed({
    seed: 3,
    meters: 20,
    startMs: Date.UTC(2026, 0, 1),
    intervals: 500,
    badRate: 0.05,
    retransmitRate: 0.05,
    conflictRate: 0.02,
  }).records;
  writeFileSync(feed, `${records.map((r) => JSON.stringify(r)).join('\n')}\nnot json\n`);

  it('reports and stores the same with 3 threads as with 1', () => {
    // Large enough for the parse threads (a smaller delivery stays on the committing thread).
    expect(statSync(feed).size).toBeGreaterThan(PARALLEL_FROM_BYTES);
    const one = ingest(feed, join(dir, 'one.db'), '1');
    const three = ingest(feed, join(dir, 'three.db'), '3');
    expect(one.status, one.stderr).toBe(0);
    expect(three.status, three.stderr).toBe(0);
    const summary = comparable(one.stdout) as { quarantined: number; received: number };
    expect(summary.quarantined).toBeGreaterThan(0);
    expect(summary.received).toBe(records.length + 1);
    expect(comparable(three.stdout)).toEqual(summary);
    expect(ledgerOf(join(dir, 'three.db'))).toEqual(ledgerOf(join(dir, 'one.db')));
  }, 120_000);

  it('refuses a thread count that is not 1 to 64 with USAGE (exit 64)', () => {
    for (const threads of ['0', '65', 'two', '1.5']) {
      const run = ingest(feed, join(dir, `bad-${threads}.db`), threads);
      expect(run.status).toBe(64);
      expect(JSON.parse(run.stdout)).toMatchObject({ error: 'USAGE' });
    }
    // The flag is checked before the files: a missing file does not hide it.
    const missing = ingest(join(dir, 'missing.ndjson'), join(dir, 'bad-missing.db'), '0');
    expect(missing.status).toBe(64);
    expect(JSON.parse(missing.stdout)).toMatchObject({ error: 'USAGE' });
  });
});
