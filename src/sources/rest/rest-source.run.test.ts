// Goal: `amisync run --config F --once` with a `kind: rest` source reads a vendor API end to end
// (OAuth, a rate limit, cursor pages in the vendor's own JSON shape read by its dialect) into a
// ledger equal to the feed's ground truth, never exceeding the limit or printing the secret, and a
// second run resumes from the committed position. Method: the loopback test server on the system
// clock, the real service command and registry, a real SQLite database in a temp folder.
import { readFileSync, writeFileSync } from 'node:fs';
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { SOURCE_KINDS } from '../../cli/config/kinds.js';
import { runConfigCheck, runRun } from '../../cli/commands/run.js';
import { AmisyncError } from '../../core/errors.js';
import { generateFeed } from '../../simulator/feed-generator.js';
import { feedTruth } from '../../simulator/truth.js';
import { openSqliteStore } from '../../store/sqlite/sqlite-store.js';
import { toVendorRecord, VENDOR_DIALECT } from '../../test-support/dialects.js';
import { RestTestServer } from '../../test-support/rest-test-server.js';
import { removeTempDirs, tempDir } from '../../test-support/temp.js';
import { ledgerStreams } from '../../test-support/truth-check.js';

const SECRET = 'sim-secret-5d1c-NEVER-PRINTED';
const FEED = generateFeed({
  seed: 17,
  meters: 5,
  startMs: Date.UTC(2026, 2, 1),
  intervals: 96,
  retransmitRate: 0.03,
  badRate: 0.02,
});

afterAll(removeTempDirs);
afterEach(() => {
  vi.restoreAllMocks();
});

function quietStdout(): () => string {
  const written: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: unknown) => {
    written.push(String(chunk));
    return true;
  });
  return () => written.join('');
}

function writeConfig(folder: string, server: RestTestServer, dialect: unknown): string {
  const path = join(folder, 'amisync.yaml');
  const source = {
    kind: 'rest',
    id: 'sim-vendor',
    baseUrl: server.url,
    readingsPath: '/v1/readings',
    auth: {
      type: 'oauth',
      tokenUrl: `${server.url}/oauth/token`,
      clientId: 'amisync',
      clientSecretEnv: 'SIM_SECRET',
    },
    window: { backfillStart: '2026-03-01T00:00:00Z', overlapMinutes: 60, maxWindowHours: 8784 },
    pagination: { style: 'cursor', cursorParam: 'cursor', nextCursorPath: 'next' },
    records: { path: 'data.readings', dialect },
    pageSize: 100,
    pollIntervalMs: 1000,
  };
  const config = {
    database: './ledger/amisync.db',
    log: { level: 'debug', file: './amisync.log' },
    reconnectDelayMs: 0,
    sources: [source],
  };
  // JSON is YAML: the file is what an operator would write, in its other spelling.
  writeFileSync(path, JSON.stringify(config, null, 2));
  return path;
}

function environment() {
  return { kinds: SOURCE_KINDS, env: { SIM_SECRET: SECRET }, signals: new EventEmitter() };
}

describe('amisync run with a REST source', () => {
  it('ingests the vendor API into the ledger the truth names, then resumes', async () => {
    const server = await RestTestServer.start({
      records: FEED.records.map(toVendorRecord),
      timeField: 'intervalStart',
      style: 'cursor',
      clock: { nowMs: () => Date.now() },
      auth: { type: 'oauth', clientId: 'amisync', clientSecret: SECRET, lifetimeSeconds: 3600 },
      rateLimit: { limit: 4, windowMs: 1000, headers: 'ietf' },
    });
    try {
      const folder = tempDir('amisync-rest-run-');
      const config = writeConfig(folder, server, VENDOR_DIALECT);
      const stdout = quietStdout();
      const summary = await runRun({ config, once: true, json: true }, environment());
      expect(summary.conserved).toBe(true);
      const pages = server.pagesServed.length;
      expect(pages).toBeGreaterThan(4);
      expect(server.rateViolations).toBe(0);
      expect(server.tokenRequests).toBe(1);
      const truth = feedTruth(FEED);
      const store = openSqliteStore(join(folder, 'ledger', 'amisync.db'), { nowMs: Date.now });
      try {
        expect(await ledgerStreams(store)).toEqual(truth.streams);
      } finally {
        await store.close();
      }
      // Again: one window from the overlap before the mark to now, nothing new in the ledger.
      await runRun({ config, once: true, json: true }, environment());
      expect(server.pagesServed.slice(pages)).toHaveLength(1);
      expect(server.pagesServed[pages]).toMatch(/from=2026-12|from=20\d\d-/);
      const again = openSqliteStore(join(folder, 'ledger', 'amisync.db'), { nowMs: Date.now });
      try {
        expect(await ledgerStreams(again)).toEqual(truth.streams);
      } finally {
        await again.close();
      }
      const log = readFileSync(join(folder, 'amisync.log'), 'utf8');
      expect(log).toContain('"source":"sim-vendor"');
      expect(log).not.toContain(SECRET);
      expect(stdout()).not.toContain(SECRET);
    } finally {
      await server.close();
    }
  });

  it('reports a mistake in the records dialect with its key path before connecting', async () => {
    const server = await RestTestServer.start({
      records: [],
      style: 'cursor',
      clock: { nowMs: () => Date.now() },
    });
    try {
      const folder = tempDir('amisync-rest-check-');
      const dialect = { ...VENDOR_DIALECT, fields: { ...VENDOR_DIALECT.fields, value: 7 } };
      const config = writeConfig(folder, server, dialect);
      quietStdout();
      const error = await Promise.resolve()
        .then(() => runConfigCheck({ config, json: true }, environment()))
        .then(
          () => null,
          (thrown: unknown) => thrown as AmisyncError,
        );
      expect(error?.code).toBe('CONFIG_INVALID');
      expect(error?.message).toContain('sources[0].records.dialect.fields.value (line ');
      expect(server.requests).toHaveLength(0);
    } finally {
      await server.close();
    }
  });
});
