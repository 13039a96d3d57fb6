// Goal: /metrics gives, per source, counters equal to the store's conservation counts after a
// known ingest, the queue depths and audit chain length the store holds, pause and verify state
// as they change, and a commit latency histogram that counts the transactions it timed.
// Method: the operations fixture (a real store after known deliveries) served with inject();
// the Prometheus text is parsed line by line and compared with the store's own figures.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildOperationsFixture,
  type OperationsFixture,
} from '../test-support/operations-fixture.js';
import { removeTempDirs } from '../test-support/temp.js';
import { createApiServer } from './api-server.js';
import type { ApiContext } from './api-context.js';
import { metricsPart, OperationsMetrics } from './metrics.js';

let fixture: OperationsFixture;
let app: FastifyInstance;
let context: ApiContext;

beforeAll(async () => {
  fixture = await buildOperationsFixture();
  const metrics = new OperationsMetrics();
  context = { ...fixture.context, store: metrics.timed(fixture.context.store), metrics };
  app = createApiServer(context, [metricsPart]);
  await app.ready();
});

afterAll(async () => {
  await app.close();
  await fixture.close();
  removeTempDirs();
});

/** `name{labels} value` lines of the exposition text, as a map from the series to its value. */
async function scrape(role: 'viewer' | null = 'viewer'): Promise<Map<string, number>> {
  const response = await app.inject({
    url: '/metrics',
    headers: role === null ? {} : { authorization: `Bearer ${fixture.tokens[role].token}` },
  });
  expect(response.statusCode).toBe(200);
  expect(response.headers['content-type']).toContain('text/plain');
  const series = new Map<string, number>();
  for (const line of response.body.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    series.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return series;
}

describe('/metrics', () => {
  it('needs a token', async () => {
    const response = await app.inject({ url: '/metrics' });
    expect(response.statusCode).toBe(401);
  });

  it('counts per source equal the conservation counts after a known ingest', async () => {
    const series = await scrape();
    const summaries = await fixture.harness.store.listSourceSummaries();
    expect(summaries.map((s) => s.sourceId).sort()).toEqual(['test', 'vendor-a']);
    for (const { sourceId, counts } of summaries) {
      const of = (name: string) =>
        series.get(`amisync_readings_${name}_total{source="${sourceId}"}`);
      expect(of('received')).toBe(counts.received);
      expect(of('accepted')).toBe(counts.accepted);
      expect(of('duplicate')).toBe(counts.duplicates);
      expect(of('quarantined')).toBe(counts.quarantined);
      expect(of('held')).toBe(counts.anomalyHeld);
      expect(of('dead_lettered')).toBe(counts.deadLettered);
    }
    // The known deliveries: 8 + 3 readings, 3 held, 2 quarantined, one dead letter.
    expect(series.get('amisync_readings_received_total{source="test"}')).toBe(11);
    expect(series.get('amisync_readings_held_total{source="test"}')).toBe(3);
    expect(series.get('amisync_readings_quarantined_total{source="test"}')).toBe(2);
    expect(series.get('amisync_readings_dead_lettered_total{source="vendor-a"}')).toBe(1);
    const status = await fixture.harness.store.status();
    expect(series.get('amisync_quarantine_open')).toBe(status.quarantine.open);
    expect(series.get('amisync_anomalies_held')).toBe(3);
    expect(series.get('amisync_audit_chain_entries')).toBe(status.auditEntries);
    expect(series.get('amisync_paused_global')).toBe(0);
    expect(series.get('amisync_source_last_delivery_timestamp_seconds{source="test"}')).toBe(
      summaries.find((s) => s.sourceId === 'test')!.lastFinishedAtMs! / 1000,
    );
  });

  it('follows a pause, a replay and a verify made through the API', async () => {
    const operator = { authorization: `Bearer ${fixture.tokens.operator.token}` };
    await app.inject({
      method: 'POST',
      url: '/api/pause',
      headers: operator,
      payload: { sources: ['test'], reason: 'vendor sends doubled values' },
    });
    const open = await fixture.harness.store.listQuarantine({ status: 'open', limit: 10 });
    const before = await scrape();
    const commitsBefore = before.get('amisync_batch_commit_seconds_count') ?? 0;
    await app.inject({
      method: 'POST',
      url: `/api/quarantine/${open[0]!.id}/replay`,
      headers: operator,
    });
    await app.inject({
      method: 'POST',
      url: '/api/audit/verify',
      headers: { authorization: `Bearer ${fixture.tokens.auditor.token}` },
    });
    const after = await scrape();
    expect(after.get('amisync_source_paused{source="test"}')).toBe(1);
    expect(after.get('amisync_source_paused{source="vendor-a"}')).toBe(0);
    expect(after.get('amisync_batch_commit_seconds_count')).toBeGreaterThan(commitsBefore);
    expect(after.get('amisync_audit_last_verify_ok')).toBe(1);
    const status = await fixture.harness.store.status();
    expect(after.get('amisync_quarantine_open')).toBe(status.quarantine.open);
    expect(after.get('amisync_audit_chain_entries')).toBe(status.auditEntries);
  });
});
