// Goal: a paused REST source asks the vendor API for nothing and its saved position stays where
// the last committed page left it; after a resume it reads on from there into a ledger equal to
// the feed's ground truth, and `audit verify` holds over the pauses.
// Method: the real service command (`run --once`) against the loopback test server, pauses and
// resumes written by pauseSources/resumeSources on the same database file.
import { EventEmitter } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { loadOrCreateSigningKey } from '../../audit/checkpoint.js';
import { verifyAudit } from '../../audit/verify.js';
import { SOURCE_KINDS } from '../../cli/config/kinds.js';
import { runRun } from '../../cli/commands/run.js';
import { pauseSources, resumeSources } from '../../pipeline/controls.js';
import { generateFeed } from '../../simulator/feed-generator.js';
import { feedTruth } from '../../simulator/truth.js';
import { openSqliteStore } from '../../store/sqlite/sqlite-store.js';
import { toVendorRecord, VENDOR_DIALECT } from '../../test-support/dialects.js';
import { RestTestServer } from '../../test-support/rest-test-server.js';
import { removeTempDirs, tempDir } from '../../test-support/temp.js';
import { ledgerStreams } from '../../test-support/truth-check.js';

const SECRET = 'sim-secret-2b7e-pause';
const FEED = generateFeed({ seed: 29, meters: 4, startMs: Date.UTC(2026, 2, 1), intervals: 96 });

afterAll(removeTempDirs);
afterEach(() => {
  vi.restoreAllMocks();
});

function writeConfig(folder: string, server: RestTestServer): string {
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
    records: { path: 'data.readings', dialect: VENDOR_DIALECT },
    pageSize: 100,
    pollIntervalMs: 1000,
  };
  const config = {
    database: './amisync.db',
    log: { level: 'info', file: './amisync.log' },
    reconnectDelayMs: 0,
    sources: [source],
  };
  writeFileSync(path, JSON.stringify(config, null, 2));
  return path;
}

async function runOnce(config: string) {
  vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  const environment = {
    kinds: SOURCE_KINDS,
    env: { SIM_SECRET: SECRET },
    signals: new EventEmitter(),
  };
  try {
    return await runRun({ config, once: true, json: true }, environment);
  } finally {
    vi.restoreAllMocks();
  }
}

describe('a paused REST source', () => {
  it('requests nothing and keeps its position; after a resume it reads on to the truth', async () => {
    const server = await RestTestServer.start({
      records: FEED.records.map(toVendorRecord),
      timeField: 'intervalStart',
      style: 'cursor',
      clock: { nowMs: () => Date.now() },
      auth: { type: 'oauth', clientId: 'amisync', clientSecret: SECRET, lifetimeSeconds: 3600 },
    });
    const folder = tempDir('amisync-rest-pause-');
    const config = writeConfig(folder, server);
    const database = join(folder, 'amisync.db');
    const store = openSqliteStore(database, { nowMs: () => Date.now() });
    const operator = { store, clock: { nowMs: () => Date.now() }, actor: 'ops-alice' };
    try {
      await pauseSources(operator, { sourceIds: ['sim-vendor'], reason: 'vendor API migrating' });
      const paused = await runOnce(config);
      expect(paused.sources[0]).toMatchObject({ outcome: 'paused', deliveries: 0 });
      expect(server.requests).toEqual([]);
      expect(await store.loadSourcePosition('sim-vendor')).toBeNull();

      await resumeSources(operator, { sourceIds: ['sim-vendor'], reason: 'migration done' });
      const first = await runOnce(config);
      expect(first.sources[0]?.outcome).toBe('caught-up');
      const position = await store.loadSourcePosition('sim-vendor');
      expect(position).not.toBeNull();
      const served = server.requests.length;

      await pauseSources(operator, { sourceIds: [], reason: 'billing run needs a still ledger' });
      expect((await runOnce(config)).sources[0]?.outcome).toBe('paused');
      expect(server.requests).toHaveLength(served);
      expect(await store.loadSourcePosition('sim-vendor')).toEqual(position);

      await resumeSources(operator, { sourceIds: [], reason: '' });
      expect((await runOnce(config)).sources[0]?.outcome).toBe('caught-up');
      expect(server.requests.length).toBeGreaterThan(served);
      expect(await ledgerStreams(store)).toEqual(feedTruth(FEED).streams);
      const { publicKey } = loadOrCreateSigningKey(`${database}.signing-key.pem`).key;
      expect((await verifyAudit(store, publicKey)).problems).toEqual([]);
    } finally {
      await store.close();
      await server.close();
    }
  });
});
