// Goal: GET /api/sla answers a viewer the vendor SLA report the CLI writes (the hand-worked figures
// of the DST day among them), refuses a request without a token (401), names a bad period or an
// unknown source as problems, is in the OpenAPI document, and the dashboard page shows its figures.
// Method: the SLA fixture (real pipeline, SQLite file), a viewer token made as `tokens add` makes
// it, and fastify's inject() against the server `amisync serve` and `amisync run` build.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../core/errors.js';
import type { AddedToken } from '../cli/commands/tokens.js';
import { slaReportJson } from '../cli/views.js';
import { monthWindow } from '../report/sla-days.js';
import { collectSlaReport } from '../report/sla.js';
import {
  buildSlaFixture,
  fixtureSlas,
  METER_A,
  SLA_ZONE,
  slaApiContext,
  VENDOR_A,
  type SlaFixture,
} from '../test-support/sla-fixture.js';
import { removeTempDirs } from '../test-support/temp.js';
import { createApiServer } from './api-server.js';
import { OPERATIONS_PARTS } from './parts.js';

let fixture: SlaFixture;
let app: FastifyInstance;
let viewer: AddedToken;

beforeAll(async () => {
  fixture = await buildSlaFixture();
  const built = await slaApiContext(fixture);
  viewer = built.viewer;
  app = createApiServer(built.context, OPERATIONS_PARTS);
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  await fixture?.close();
  removeTempDirs();
});

function get(url: string, token: string | null = viewer.token) {
  return app.inject({
    method: 'GET',
    url,
    headers: token === null ? {} : { authorization: `Bearer ${token}` },
  });
}

type Day = { day: string; expected: number; received: number; targets: Record<string, unknown>[] };
type Source = { sourceId: string; days: Day[]; breaches: Record<string, unknown>[] };

describe('GET /api/sla', () => {
  it('answers 401 without a token, with a problem document', async () => {
    const response = await get('/api/sla?period=2026-10', null);
    expect(response.statusCode).toBe(401);
    expect(response.headers['content-type']).toContain('application/problem+json');
    expect(response.json()).toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('gives a viewer the report the CLI writes, the 25-hour day as worked out by hand', async () => {
    const response = await get('/api/sla?period=2026-10');
    expect(response.statusCode).toBe(200);
    const body = response.json() as { period: string; timeZone: string; sources: Source[] };
    const expected = slaReportJson(
      await collectSlaReport(fixture.store, fixture.clock, {
        window: monthWindow('2026-10', SLA_ZONE),
        slas: fixtureSlas(),
      }),
    );
    expect(body).toEqual(JSON.parse(JSON.stringify(expected)));
    expect([body.period, body.timeZone]).toEqual(['2026-10', SLA_ZONE]);
    const a = body.sources.find((s) => s.sourceId === VENDOR_A);
    const day = a?.days.find((d) => d.day === '2026-10-25');
    expect(day).toMatchObject({
      expected: 248,
      received: 247,
      targets: [
        { within: '4h', receivedWithin: 245, late: 2, actual: '98.790%', verdict: 'breach' },
        { within: '3d', receivedWithin: 247, late: 0, actual: '99.596%', verdict: 'breach' },
      ],
    });
    // Before the meters' first interval nothing was expected: the day passes with no share.
    expect(a?.days[0]).toMatchObject({ day: '2026-10-01', expected: 0 });
    expect(a?.days[0]?.targets[0]).toMatchObject({ actual: '-', verdict: 'pass' });
  });

  it('filters by source, and names an unknown source and a bad period', async () => {
    const one = (await get(`/api/sla?period=2026-10&source=${VENDOR_A}`)).json() as {
      sources: Source[];
    };
    expect(one.sources.map((s) => s.sourceId)).toEqual([VENDOR_A]);
    const unknown = await get('/api/sla?period=2026-10&source=vendor-z');
    expect(unknown.statusCode).toBe(ERROR_CODES.NOT_FOUND.httpStatus);
    expect(unknown.json()).toMatchObject({ code: 'NOT_FOUND' });
    const bad = await get('/api/sla?period=2026-13');
    expect(bad.statusCode).toBe(ERROR_CODES.USAGE.httpStatus);
    expect(bad.json()).toMatchObject({ code: 'USAGE' });
    expect(String((bad.json() as { detail: string }).detail)).toContain('period');
  });

  it('is in the OpenAPI document with its permission and parameters', async () => {
    const document = (await get('/openapi.json')).json() as {
      paths: Record<string, { get: Record<string, unknown> }>;
    };
    const route = document.paths['/api/sla']?.get;
    expect(route?.['x-amisync-permission']).toBe('read');
    expect((route?.parameters as { name: string }[]).map((p) => p.name)).toEqual([
      'period',
      'source',
    ]);
  });

  it('shows the same figures on the dashboard page, with its breaches and their meters', async () => {
    const response = await get('/sla?period=2026-10');
    expect(response.statusCode).toBe(200);
    const html = response.body;
    expect(html).toContain('<h2 id="sla-vendor-a">vendor-a</h2>');
    expect(html).toMatch(
      /<th scope="row"[^>]*>2026-10-25<\/th><td class="num">25<\/td><td class="num">248<\/td>/,
    );
    expect(html).toContain('<td class="num">98.790%</td><td class="breach">breach</td>');
    expect(html).toContain(`${METER_A}: 1 missing, 2 late of 100`);
    expect(html).toContain('<label for="sla-period">');
    const unauthenticated = await get('/sla', null);
    expect(unauthenticated.statusCode).toBe(303);
  });
});
