// Goal: the ledger, meter, delivery and audit read routes answer what the store holds (current
// rows paged by cursor without loss or repeat, every version of a revised interval, conservation
// per delivery, checkpoints, a checked proof), refuse a missing token, and document themselves.
// Method: the operations fixture plus an estimate revised by an actual and two signed
// checkpoints, fastify's inject() with tokens of each role, answers compared with store reads.
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateSigningKey } from '../audit/checkpoint.js';
import { writeCheckpoint } from '../audit/record.js';
import { ERROR_CODES } from '../core/errors.js';
import type { LedgerRow } from '../core/store.js';
import { isConserved } from '../pipeline/commit.js';
import { heldRecord, HELD_METER } from '../test-support/held-readings.js';
import { currentLedgerRows } from '../test-support/ingest-harness.js';
import {
  BAD_METER,
  buildOperationsFixture,
  DEAD_LETTER_SOURCE,
  type OperationsFixture,
} from '../test-support/operations-fixture.js';
import { removeTempDirs, tempDir } from '../test-support/temp.js';
import { toNdjsonText } from '../test-support/wire-text.js';
import { createApiServer } from './api-server.js';

type Parsed = ReturnType<typeof JSON.parse>;
type Role = 'viewer' | 'operator' | 'auditor' | 'admin';

const REVISED_METER = 'MTR-DDDD0004';

let fixture: OperationsFixture;
let app: FastifyInstance;

beforeAll(async () => {
  fixture = await buildOperationsFixture();
  const estimates = [0, 1, 2, 3].map((slot) => ({
    ...heldRecord(slot, slot + 1, '1.25', REVISED_METER),
    quality: 'estimated',
  }));
  await fixture.harness.ingest(toNdjsonText(estimates), { name: 'estimates' });
  const actual = { ...heldRecord(0, 5, '1', REVISED_METER), quality: 'actual' };
  await fixture.harness.ingest(toNdjsonText([actual]), { name: 'actual' });
  const { key } = loadOrCreateSigningKey(`${tempDir('amisync-ledger-routes-')}/key.pem`);
  await writeCheckpoint(fixture.harness.store, key, fixture.harness.clock.nowMs());
  fixture.harness.clock.advanceMs(60_000);
  await writeCheckpoint(fixture.harness.store, key, fixture.harness.clock.nowMs());
  app = createApiServer({ ...fixture.context, publicKey: key.publicKey });
  await app.ready();
});

afterAll(async () => {
  await app.close();
  await fixture.close();
  removeTempDirs();
});

async function call(role: Role | null, url: string): Promise<LightMyRequestResponse> {
  return app.inject({
    url,
    headers: role === null ? {} : { authorization: `Bearer ${fixture.tokens[role].token}` },
  });
}

async function json(url: string, role: Role = 'viewer'): Promise<Record<string, Parsed>> {
  const response = await call(role, url);
  expect(response.statusCode, response.body).toBe(200);
  return response.json();
}

function expectProblem(response: LightMyRequestResponse, code: keyof typeof ERROR_CODES) {
  expect(response.headers['content-type']).toContain('application/problem+json');
  expect(response.statusCode).toBe(ERROR_CODES[code].httpStatus);
  expect(response.json()).toMatchObject({ code, type: `urn:amisync:error:${code}` });
}

async function currentRowsOf(meterId: string): Promise<LedgerRow[]> {
  return (await currentLedgerRows(fixture.harness))
    .filter((row) => row.meterId === meterId)
    .sort((a, b) => a.intervalStartMs - b.intervalStartMs || a.channel.localeCompare(b.channel));
}

async function someKey(): Promise<string> {
  return (await currentRowsOf(HELD_METER))[0]!.idempotencyKey;
}

describe('access', () => {
  it('answers 401 without a token and 200 to every role on each new route', async () => {
    const key = await someKey();
    const start = new Date(heldRecord(0, 1, '1').timestamp_utc as string).toISOString();
    const urls = [
      `/api/meters/${HELD_METER}`,
      `/api/meters/${HELD_METER}/series`,
      `/api/ledger?meter=${HELD_METER}`,
      `/api/ledger/versions?meter=${REVISED_METER}&channel=1&start=${start}`,
      '/api/deliveries',
      '/api/deliveries/dlv_00000000000000000001',
      '/api/audit/checkpoints',
      `/api/audit/proofs/${key}`,
    ];
    for (const url of urls) {
      expectProblem(await call(null, url), 'UNAUTHENTICATED');
      for (const role of ['viewer', 'operator', 'auditor', 'admin'] as const) {
        expect((await call(role, url)).statusCode, `${role} ${url}`).toBe(200);
      }
    }
  });

  it('documents each route in /openapi.json as a read', async () => {
    const paths = (await json('/openapi.json')).paths as Record<string, Record<string, Parsed>>;
    for (const path of [
      '/api/meters/{id}',
      '/api/meters/{id}/series',
      '/api/ledger',
      '/api/ledger/versions',
      '/api/deliveries',
      '/api/deliveries/{id}',
      '/api/audit/checkpoints',
      '/api/audit/proofs/{key}',
    ]) {
      expect(paths[path]?.get?.['x-amisync-permission'], path).toBe('read');
    }
    const names = paths['/api/ledger']!.get.parameters.map((p: Parsed) => p.name);
    expect(names).toEqual(['meter', 'channel', 'from', 'to', 'limit', 'cursor']);
  });
});

describe('meters', () => {
  it("gives the meter's streams as stored, and quality counts of its current readings", async () => {
    const body = await json(`/api/meters/${REVISED_METER}`);
    const rows = await currentRowsOf(REVISED_METER);
    const [stream] = body.streams;
    expect(body.streams).toHaveLength(1);
    expect(stream).toMatchObject({
      channel: rows[0]!.channel,
      unit: rows[0]!.unit,
      intervalSeconds: rows[0]!.intervalSeconds,
      firstIntervalStart: new Date(rows[0]!.intervalStartMs).toISOString(),
      lastIntervalStart: new Date(rows.at(-1)!.intervalStartMs).toISOString(),
      currentReadings: rows.length,
    });
    const byQuality = { actual: 0, estimated: 0, substituted: 0 };
    for (const row of rows) byQuality[row.quality] += 1;
    expect(stream.window.qualityCounts).toEqual(byQuality);
    expect(byQuality.actual).toBeGreaterThan(0);
    expect(byQuality.estimated).toBeGreaterThan(0);
  });

  it('lists its open holds and the quarantine items that name it', async () => {
    const held = await json(`/api/meters/${HELD_METER}`);
    const stored = await fixture.harness.store.listAnomalies({
      meterId: HELD_METER,
      status: 'held',
      limit: 100,
    });
    expect(held.openAnomalies.map((a: Parsed) => a.id)).toEqual(stored.map((a) => a.id));
    expect(stored.length).toBeGreaterThan(0);
    const bad = await json(`/api/meters/${BAD_METER}`);
    const items = (await fixture.harness.store.listQuarantine({ limit: 100 })).filter(
      (row) => row.meterId === BAD_METER,
    );
    expect(bad.quarantine.map((q: Parsed) => q.id).sort()).toEqual(items.map((q) => q.id).sort());
    expect(items.length).toBeGreaterThan(0);
  });

  it('answers 404 for a meter the store knows nothing of', async () => {
    expectProblem(await call('viewer', '/api/meters/MTR-00000000'), 'NOT_FOUND');
  });

  it("gives a channel's series with the ledger's current values", async () => {
    const body = await json(`/api/meters/${REVISED_METER}/series?channel=1`);
    const rows = await currentRowsOf(REVISED_METER);
    expect(body.points.map((p: Parsed) => [p.intervalStartMs, p.valueMicro, p.quality])).toEqual(
      rows.map((row) => [row.intervalStartMs, row.valueMicro, row.quality]),
    );
    expectProblem(
      await call('viewer', `/api/meters/${REVISED_METER}/series?channel=9`),
      'NOT_FOUND',
    );
  });
});

describe('ledger', () => {
  it('pages through the current rows by cursor, none lost or repeated', async () => {
    const expected = await currentRowsOf(HELD_METER);
    expect(expected.length).toBeGreaterThan(2);
    const seen: Parsed[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 20; pages++) {
      const query: string = cursor === null ? '' : `&cursor=${cursor}`;
      const page = await json(`/api/ledger?meter=${HELD_METER}&limit=2${query}`);
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items);
      cursor = page.nextCursor;
      if (cursor === null) break;
    }
    expect(seen.map((row) => row.idempotencyKey)).toEqual(expected.map((r) => r.idempotencyKey));
    const batches = new Map<number, string>();
    for (const row of expected) {
      batches.set(row.batchId, (await fixture.harness.store.getBatch(row.batchId))!.deliveryId);
    }
    for (const row of seen) expect(row.deliveryId).toBe(batches.get(row.batchId));
  });

  it('keeps to [from, to) and shows the current version of a revised interval', async () => {
    const rows = await currentRowsOf(REVISED_METER);
    const from = new Date(rows[1]!.intervalStartMs).toISOString();
    const to = new Date(rows[3]!.intervalStartMs).toISOString();
    const page = await json(`/api/ledger?meter=${REVISED_METER}&from=${from}&to=${to}`);
    expect(page.items.map((r: Parsed) => r.intervalStartMs)).toEqual(
      rows.slice(1, 3).map((r) => r.intervalStartMs),
    );
    const all = await json(`/api/ledger?meter=${REVISED_METER}`);
    expect(all.items[0]).toMatchObject({ version: 2, quality: 'actual', value: '1.000000' });
  });

  it('refuses a meter-less query, a bad instant and a forged cursor as usage errors', async () => {
    expectProblem(await call('viewer', '/api/ledger'), 'USAGE');
    expectProblem(await call('viewer', `/api/ledger?meter=${HELD_METER}&from=yesterday`), 'USAGE');
    expectProblem(await call('viewer', `/api/ledger?meter=${HELD_METER}&cursor=bm9wZQ`), 'USAGE');
  });

  it('gives every version of a revised interval, newest first', async () => {
    const start = new Date(heldRecord(0, 1, '1').timestamp_utc as string).toISOString();
    const body = await json(`/api/ledger/versions?meter=${REVISED_METER}&channel=1&start=${start}`);
    const stored = await fixture.harness.store.listIntervalVersions({
      meterId: REVISED_METER,
      channel: '1',
      intervalStartMs: Date.parse(start),
    });
    expect(body.versions.map((v: Parsed) => v.version)).toEqual([2, 1]);
    expect(body.versions.map((v: Parsed) => v.idempotencyKey)).toEqual(
      stored.map((v) => v.idempotencyKey),
    );
    expect(body.versions[0].supersedesKey).toBe(body.versions[1].idempotencyKey);
    expect(body.versions[1].quality).toBe('estimated');
    const empty = `/api/ledger/versions?meter=${REVISED_METER}&channel=1&start=2020-01-01`;
    expectProblem(await call('viewer', empty), 'NOT_FOUND');
  });
});

describe('deliveries', () => {
  it('pages through every delivery newest first, each conserved', async () => {
    const stored = await fixture.harness.store.listDeliveries(1_000);
    const seen: Parsed[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 50; pages++) {
      const query: string = cursor === null ? '' : `&cursor=${cursor}`;
      const page = await json(`/api/deliveries?limit=1${query}`);
      seen.push(...page.items);
      cursor = page.nextCursor;
      if (cursor === null) break;
    }
    expect(seen.map((d) => d.id).sort()).toEqual(stored.map((d) => d.id).sort());
    expect(seen.map((d) => d.id)).toEqual(
      [...seen.map((d) => d.id)].sort((a: string, b: string) => b.localeCompare(a)),
    );
    for (const delivery of seen) {
      const c = delivery.counts;
      expect(c.received).toBe(
        c.accepted + c.duplicates + c.quarantined + c.anomalyHeld + c.deadLettered,
      );
      expect(delivery.conserved).toBe(isConserved(c));
    }
  });

  it('filters by source and shows one delivery with its hash and counts', async () => {
    const page = await json(`/api/deliveries?source=${DEAD_LETTER_SOURCE}`);
    expect(page.items.length).toBeGreaterThan(0);
    for (const item of page.items) expect(item.sourceId).toBe(DEAD_LETTER_SOURCE);
    const id = page.items[0].id as string;
    const stored = (await fixture.harness.store.getDelivery(id))!;
    const body = await json(`/api/deliveries/${id}`);
    expect(body).toMatchObject({
      id,
      sourceId: stored.sourceId,
      sha256: stored.sha256,
      counts: stored.counts,
      receivedAt: new Date(stored.startedAtMs).toISOString(),
    });
    expectProblem(await call('viewer', '/api/deliveries/dlv_nope'), 'NOT_FOUND');
  });
});

describe('audit', () => {
  it('lists the signed checkpoints newest first', async () => {
    const stored = await fixture.harness.store.listCheckpoints();
    const body = await json('/api/audit/checkpoints');
    expect(body.total).toBe(stored.length);
    expect(body.checkpoints.map((c: Parsed) => c.atMs)).toEqual(
      stored.map((c) => c.atMs).reverse(),
    );
    const one = await json('/api/audit/checkpoints?limit=1');
    expect(one.checkpoints).toHaveLength(1);
    expect(one.checkpoints[0].signature).toBe(stored.at(-1)!.signature);
  });

  it('gives the newest checkpoints, oldest first, in the audit summary', async () => {
    const stored = await fixture.harness.store.listCheckpoints();
    expect(stored.length).toBeGreaterThan(1);
    const body = await json('/api/audit');
    expect(body.checkpoints.map((c: Parsed) => c.signature)).toEqual(
      stored.slice(-20).map((c) => c.signature),
    );
  });

  it('proves a reading by its key, as `audit prove` does, and refuses what is not a key', async () => {
    const key = await someKey();
    const body = await json(`/api/audit/proofs/${key}`);
    expect(body.verified).toBe(true);
    expect(body.proofs[0].row.idempotencyKey).toBe(key);
    expect(body.proofs[0].checks.checkpointCovers).toBe(true);
    expectProblem(await call('viewer', '/api/audit/proofs/xyz'), 'USAGE');
    expectProblem(await call('viewer', `/api/audit/proofs/${'0'.repeat(64)}`), 'NOT_FOUND');
  });
});
