// Goal: every API route answers with what the store holds, acts through the pipeline with the
// caller's token name in the audit trail, refuses a missing token (401) and a role that may not
// (403), and answers every error as RFC 9457 problem details with the CLI's codes.
// Method: a real store with something in every worklist, tokens made as `amisync tokens add` makes
// them, and fastify's inject() against the server `amisync serve` runs.
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../core/errors.js';
import { isConserved } from '../pipeline/commit.js';
import {
  buildOperationsFixture,
  type OperationsFixture,
} from '../test-support/operations-fixture.js';
import { removeTempDirs } from '../test-support/temp.js';
import { createApiServer } from './api-server.js';
import { openApiPath } from './openapi.js';

/** An answer's JSON as JSON.parse gives it: read field by field by the assertions. */
type Parsed = ReturnType<typeof JSON.parse>;

let fixture: OperationsFixture;
let app: FastifyInstance;

beforeAll(async () => {
  fixture = await buildOperationsFixture();
  app = createApiServer(fixture.context);
  await app.ready();
});

afterAll(async () => {
  await app.close();
  await fixture.close();
  removeTempDirs();
});

type Role = 'viewer' | 'operator' | 'auditor' | 'admin';

async function call(
  role: Role | null,
  method: 'GET' | 'POST',
  url: string,
  body?: unknown,
): Promise<LightMyRequestResponse> {
  return app.inject({
    method,
    url,
    headers: role === null ? {} : { authorization: `Bearer ${fixture.tokens[role].token}` },
    ...(body === undefined ? {} : { payload: body as Record<string, unknown> }),
  });
}

async function json(role: Role | null, method: 'GET' | 'POST', url: string, body?: unknown) {
  const response = await call(role, method, url, body);
  return { status: response.statusCode, body: response.json() as Record<string, Parsed> };
}

function expectProblem(response: LightMyRequestResponse, code: keyof typeof ERROR_CODES) {
  expect(response.headers['content-type']).toContain('application/problem+json');
  const problem = response.json() as Record<string, unknown>;
  expect(response.statusCode).toBe(ERROR_CODES[code].httpStatus);
  expect(problem).toMatchObject({
    type: `urn:amisync:error:${code}`,
    title: ERROR_CODES[code].summary,
    status: ERROR_CODES[code].httpStatus,
    code,
  });
  expect(String(problem.detail).length).toBeGreaterThan(10);
  return problem;
}

async function lastAuditEntry() {
  const entries = [];
  for await (const page of fixture.harness.store.iterateAuditEntries()) entries.push(...page);
  return entries.at(-1)!;
}

describe('authentication and roles', () => {
  it('answers 401 without a token, with a wrong one and with a revoked one', async () => {
    expectProblem(await call(null, 'GET', '/api/status'), 'UNAUTHENTICATED');
    const forged = fixture.tokens.viewer.token.slice(0, -4) + '0000';
    expectProblem(
      await app.inject({ url: '/api/status', headers: { authorization: `Bearer ${forged}` } }),
      'UNAUTHENTICATED',
    );
    expectProblem(await call(null, 'GET', '/openapi.json'), 'UNAUTHENTICATED');
    expectProblem(await call(null, 'POST', '/api/quarantine/1/replay'), 'UNAUTHENTICATED');
  });

  it('answers 403 when a viewer replays, pauses, decides or verifies', async () => {
    for (const [url, body] of [
      ['/api/quarantine/1/replay', undefined],
      ['/api/quarantine/1/reject', { justification: 'not billable, test meter' }],
      ['/api/anomalies/1/release', { note: 'field verified: meter healthy' }],
      ['/api/dead-letters/1/replay', {}],
      ['/api/pause', { reason: 'vendor sends doubled values' }],
      ['/api/audit/verify', undefined],
    ] as const) {
      const problem = expectProblem(await call('viewer', 'POST', url, body), 'FORBIDDEN');
      expect(problem.role).toBe('viewer');
    }
    // An auditor verifies but does not operate; an operator operates but does not verify.
    expectProblem(await call('auditor', 'POST', '/api/quarantine/1/replay'), 'FORBIDDEN');
    expectProblem(await call('operator', 'POST', '/api/audit/verify'), 'FORBIDDEN');
    expect((await fixture.harness.store.getQuarantine(1))?.status).toBe('open');
  });

  it('takes the token from the dashboard session cookie too', async () => {
    const response = await app.inject({
      url: '/api/status',
      headers: { cookie: `other=1; amisync_session=${fixture.tokens.viewer.token}` },
    });
    expect(response.statusCode).toBe(200);
  });
});

describe('read routes', () => {
  it('status and per-source conservation equal the store', async () => {
    const { status, body } = await json('viewer', 'GET', '/api/status');
    expect(status).toBe(200);
    const stored = await fixture.harness.store.status();
    expect(body.totals).toEqual(stored.totals);
    expect(body.quarantine).toEqual(stored.quarantine);
    expect(body.ledger.energyMilliWh).toBe(stored.ledger.energyMilliWh.toString());
    const sources = (await json('viewer', 'GET', '/api/sources')).body.sources as Parsed[];
    const summaries = await fixture.harness.store.listSourceSummaries();
    expect(sources.map((s) => s.sourceId).sort()).toEqual(summaries.map((s) => s.sourceId).sort());
    for (const summary of summaries) {
      const source = sources.find((s) => s.sourceId === summary.sourceId);
      expect(source.counts).toEqual(summary.counts);
      expect(source.conserved).toBe(isConserved(summary.counts));
      expect(source.pause).toBeNull();
      expect(source.breaker).toBe('closed');
    }
  });

  it('lists and shows quarantine items with their raw bytes in base64', async () => {
    const list = (await json('viewer', 'GET', '/api/quarantine?status=open&limit=1')).body;
    expect(list.items).toHaveLength(1);
    expect(list.nextAfter).toBe(list.items[0].id);
    const page2 = (await json('viewer', 'GET', `/api/quarantine?after=${list.nextAfter}`)).body;
    expect(page2.items.map((item: Parsed) => item.id)).not.toContain(list.items[0].id);
    const item = (await json('viewer', 'GET', `/api/quarantine/${list.items[0].id}`)).body;
    const raw = Buffer.from(item.raw.base64, 'base64');
    expect(raw.byteLength).toBe(item.location.byteLength);
    expect(raw.toString('utf8')).toContain('1500');
    expect(item.raw.truncated).toBe(false);
    expect(item.currentViolations[0].code).toBe('consumption.range');
  });

  it('lists and shows anomalies, and charts the held meter with its flags', async () => {
    const list = (await json('viewer', 'GET', '/api/anomalies?status=held')).body;
    expect(list.items).toHaveLength(3);
    const spike = list.items.find((item: Parsed) => item.reading.valueMicro === 40_000_000);
    expect(spike).toBeDefined();
    const shown = (await json('viewer', 'GET', `/api/anomalies/${spike.id}`)).body;
    expect(shown.findings[0].detector).toBe('test.spike');
    const series = (await json('viewer', 'GET', `/api/anomalies/${spike.id}/series`)).body;
    expect(series.series.map((p: Parsed) => p.valueMicro)).toEqual([
      500_000, 500_000, 500_000, 500_000,
    ]);
    expect(series.flags.map((f: Parsed) => f.valueMicro).sort()).toEqual([0, 40_000_000]);
    const filtered = (await json('viewer', 'GET', '/api/anomalies?detector=test.zero')).body;
    expect(filtered.items).toHaveLength(1);
  });

  it('lists and shows dead letters, and the breakers', async () => {
    const list = (await json('viewer', 'GET', '/api/dead-letters')).body;
    expect(list.items).toHaveLength(1);
    const shown = (await json('viewer', 'GET', `/api/dead-letters/${list.items[0].id}`)).body;
    expect(shown.attempts).toHaveLength(3);
    expect((await json('viewer', 'GET', '/api/breakers')).body).toEqual({ breakers: [] });
  });

  it('answers NOT_FOUND and USAGE as problems naming the field and rule', async () => {
    expectProblem(await call('viewer', 'GET', '/api/quarantine/999'), 'NOT_FOUND');
    expectProblem(await call('viewer', 'GET', '/api/nothing-here'), 'NOT_FOUND');
    const usage = expectProblem(await call('viewer', 'GET', '/api/quarantine?limit=0'), 'USAGE');
    expect(usage.field).toBe('querystring.limit');
    expect(usage.rule).toBe('minimum');
    const status = expectProblem(await call('viewer', 'GET', '/api/anomalies?status=x'), 'USAGE');
    expect(status.field).toBe('querystring.status');
  });
});

describe('actions, audited with the caller', () => {
  it('replays a quarantined reading the served dictionary now accepts', async () => {
    const open = (await json('viewer', 'GET', '/api/quarantine?status=open')).body
      .items as Parsed[];
    const over = open.find((item) => item.currentViolations[0].code === 'consumption.range');
    const before = (await fixture.harness.store.status()).ledger.readings;
    const replay = await json('operator', 'POST', `/api/quarantine/${over.id}/replay`);
    expect(replay.status).toBe(200);
    expect(replay.body.accepted).toBe(1);
    expect((await fixture.harness.store.getQuarantine(over.id))?.status).toBe('replayed');
    expect((await fixture.harness.store.status()).ledger.readings).toBe(before + 1);
    const actions = await fixture.harness.store.listQuarantineActions(over.id);
    expect(actions.at(-1)?.actor).toBe('api:operator-one');
  });

  it('rejects a quarantined item only with a justification', async () => {
    const open = (await json('viewer', 'GET', '/api/quarantine?status=open')).body
      .items as Parsed[];
    const unreadable = open[0];
    const short = expectProblem(
      await call('operator', 'POST', `/api/quarantine/${unreadable.id}/reject`, {
        justification: 'no',
      }),
      'USAGE',
    );
    expect(short.field).toBe('body.justification');
    const done = await json('admin', 'POST', `/api/quarantine/${unreadable.id}/reject`, {
      justification: 'unreadable value, vendor confirmed',
    });
    expect(done.status).toBe(200);
    expect((await fixture.harness.store.getQuarantine(unreadable.id))?.status).toBe('rejected');
    const again = await call('admin', 'POST', `/api/quarantine/${unreadable.id}/accept`, {
      justification: 'changed my mind about it',
    });
    expectProblem(again, 'INVALID_STATE');
  });

  it('releases and rejects anomalies with a note, audited with the token name', async () => {
    const held = (await json('viewer', 'GET', '/api/anomalies?status=held')).body.items as Parsed[];
    const released = await json('operator', 'POST', `/api/anomalies/${held[0].id}/release`, {
      note: 'field verified: meter healthy',
    });
    expect(released.body.outcome).toBe('released');
    const entry = await lastAuditEntry();
    expect(entry.payload).toContain('api:operator-one');
    const rejected = await json('operator', 'POST', `/api/anomalies/${held[1].id}/reject`, {
      note: 'meter replaced after the fault',
    });
    expect(rejected.status).toBe(200);
    const after = await fixture.harness.store.anomalyBacklog();
    expect([after.held, after.released, after.rejected]).toEqual([1, 1, 1]);
    expectProblem(
      await call('operator', 'POST', `/api/anomalies/${held[2].id}/release`, {}),
      'USAGE',
    );
  });

  it('replays a dead letter through the pipeline and discards none twice', async () => {
    const id = (await json('viewer', 'GET', '/api/dead-letters')).body.items[0].id;
    const replay = await json('operator', 'POST', `/api/dead-letters/${id}/replay`, {
      justification: 'vendor fixed the page',
    });
    expect(replay.status).toBe(200);
    expect(replay.body.delivery.counts.accepted).toBe(1);
    const row = await fixture.harness.store.getDeadLetter(id);
    expect(row?.decision?.actor).toBe('api:operator-one');
    expectProblem(
      await call('operator', 'POST', `/api/dead-letters/${id}/discard`, {
        justification: 'too late, it was replayed',
      }),
      'INVALID_STATE',
    );
  });

  it('pauses and resumes a source and every source, audited', async () => {
    const paused = await json('operator', 'POST', '/api/pause', {
      sources: ['test'],
      reason: 'vendor sends doubled values',
    });
    expect(paused.status).toBe(200);
    expect(paused.body.pausesInForce).toMatchObject([
      { sourceId: 'test', actor: 'api:operator-one' },
    ]);
    const sources = (await json('viewer', 'GET', '/api/sources')).body.sources as Parsed[];
    expect(sources.find((s) => s.sourceId === 'test').pause.reason).toBe(
      'vendor sends doubled values',
    );
    expectProblem(
      await call('operator', 'POST', '/api/pause', {
        sources: ['test'],
        reason: 'vendor sends doubled values',
      }),
      'INVALID_STATE',
    );
    expectProblem(await call('operator', 'POST', '/api/pause', {}), 'USAGE');
    const resumed = await json('operator', 'POST', '/api/resume', { sources: ['test'] });
    expect(resumed.body.pausesInForce).toEqual([]);
    await json('admin', 'POST', '/api/pause', { reason: 'emergency stop for the night' });
    expect((await json('viewer', 'GET', '/api/status')).body.pauses).toHaveLength(1);
    await json('admin', 'POST', '/api/resume', {});
    expect((await lastAuditEntry()).kind).toBe('control.resume');
  });

  it('verifies the audit trail for an auditor and shows the last verification', async () => {
    const verified = await json('auditor', 'POST', '/api/audit/verify');
    expect(verified.status).toBe(200);
    expect(verified.body.ok).toBe(true);
    expect(verified.body.entries).toBe((await fixture.harness.store.status()).auditEntries);
    const audit = (await json('viewer', 'GET', '/api/audit')).body;
    expect(audit.lastVerify.by).toBe('api:auditor-one');
    expect(audit.lastVerify.report.ok).toBe(true);
  });
});

describe('/openapi.json', () => {
  it('documents every API route with its parameters, body and permission', async () => {
    const document = (await json('viewer', 'GET', '/openapi.json')).body;
    expect(document.openapi).toBe('3.1.0');
    const replay = document.paths[openApiPath('/api/quarantine/:id/replay')].post;
    expect(replay['x-amisync-permission']).toBe('operate');
    expect(replay.parameters[0]).toMatchObject({ name: 'id', in: 'path', required: true });
    const reject = document.paths['/api/anomalies/{id}/reject'].post;
    expect(reject.requestBody.content['application/json'].schema.required).toEqual(['note']);
    const list = document.paths['/api/quarantine'].get;
    expect(list.parameters.map((p: Parsed) => p.name)).toEqual([
      'status',
      'code',
      'delivery',
      'limit',
      'after',
    ]);
    for (const path of [
      '/api/status',
      '/api/sources',
      '/api/breakers',
      '/api/anomalies/{id}/series',
      '/api/dead-letters/{id}/discard',
      '/api/pause',
      '/api/resume',
      '/api/audit/verify',
    ]) {
      expect(document.paths[path], path).toBeDefined();
    }
    expect(document.paths['/openapi.json']).toBeUndefined();
  });
});

describe('a server started open (--open)', () => {
  it('asks for no token and audits its actions as open-access', async () => {
    const open = createApiServer({ ...fixture.context, open: true });
    try {
      const status = await open.inject({ url: '/api/status' });
      expect(status.statusCode).toBe(200);
      const paused = await open.inject({
        method: 'POST',
        url: '/api/pause',
        payload: { sources: ['open-demo'], reason: 'trying the open demo mode' },
      });
      expect(paused.statusCode).toBe(200);
      expect((await lastAuditEntry()).payload).toContain('api:open-access');
    } finally {
      await open.close();
    }
  });
});
