// Goal: two workers ingesting overlapping deliveries into one store lose and double nothing.
// Method: run the real CLI twice concurrently on one SQLite file; compare with a single clean run.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateSigningKey } from '../audit/checkpoint.js';
import { verifyAudit } from '../audit/verify.js';
import type { IngestSummary } from '../cli/commands/ingest.js';
import { generateFeed, toNdjson } from '../simulator/feed-generator.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import { removeTempDirs, tempDir } from '../test-support/temp.js';
import { ledgerState } from './ledger-state.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'dist', 'cli', 'main.js');
const RUN_MS_MAX = 120_000;

function ingest(file: string, db: string): Promise<IngestSummary> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'ingest', file, '--db', db, '--json']);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_MS_MAX);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(JSON.parse(stdout) as IngestSummary);
      else reject(new Error(`ingest exited ${code}: ${stderr}`));
    });
  });
}

let dir = '';
let files: string[] = [];

beforeAll(() => {
  if (!existsSync(CLI)) spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  dir = tempDir();
  const feed = generateFeed({
    seed: 77,
    meters: 120,
    intervals: 200,
    startMs: Date.UTC(2025, 2, 3),
    estimateRate: 0.05,
    retransmitRate: 0.05,
    badRate: 0.01,
  });
  // Two deliveries that overlap by half: the same readings arrive through both workers.
  const half = Math.floor(feed.records.length / 2);
  const parts = [feed.records.slice(0, half + half / 2), feed.records.slice(half / 2)];
  files = parts.map((records, index) => {
    const file = join(dir, `part-${index}.ndjson`);
    writeFileSync(file, [...toNdjson(records)].join(''));
    return file;
  });
});

afterAll(removeTempDirs);

describe('concurrent ingestion into one store', () => {
  it('ends with the ledger of one sequential run, every batch balanced', async () => {
    const sequentialDb = join(dir, 'sequential.db');
    for (const file of files) await ingest(file, sequentialDb);
    const concurrentDb = join(dir, 'concurrent.db');
    const summaries = await Promise.all(files.map((file) => ingest(file, concurrentDb)));
    for (const summary of summaries) expect(summary.conserved).toBe(true);

    const sequential = openSqliteStore(sequentialDb, { nowMs: () => 0 });
    const concurrent = openSqliteStore(concurrentDb, { nowMs: () => 0 });
    try {
      const expected = await ledgerState(sequential);
      const actual = await ledgerState(concurrent);
      expect(actual).toEqual(expected);
      const status = await concurrent.status();
      expect(status.ledger.readings).toBe(expected.readings);
      expect(status.ledger.energyMilliWh).toBe(expected.energyMilliWh);
      const accepted = summaries.reduce((sum, s) => sum + s.accepted, 0);
      expect(accepted).toBe(status.totals.accepted);
      const key = loadOrCreateSigningKey(`${concurrentDb}.signing-key.pem`).key;
      const report = await verifyAudit(concurrent, key.publicKey);
      expect(report.firstProblem).toBeNull();
    } finally {
      await sequential.close();
      await concurrent.close();
    }
  });
});
