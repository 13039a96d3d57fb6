// Goal: the dashboard's pages need a token (a visit without one goes to the login page), the login
// sets an HttpOnly SameSite=Strict cookie and never sends the browser to another site, a viewer
// sees no action and cannot act by posting a form, the assets come from the npm packages, the
// overview's worklist figures are the store's status figures, and a register stream is charted.
// Method: the operations server over the operations fixture, driven with fastify's inject().
import type { FastifyInstance } from 'fastify';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildOperationsFixture,
  type OperationsFixture,
} from '../../test-support/operations-fixture.js';
import { removeTempDirs } from '../../test-support/temp.js';
import { toNdjsonText } from '../../test-support/wire-text.js';
import { createApiServer } from '../api-server.js';
import { OPERATIONS_PARTS } from '../parts.js';

let fixture: OperationsFixture;
let app: FastifyInstance;

beforeAll(async () => {
  fixture = await buildOperationsFixture();
  app = createApiServer(fixture.context, OPERATIONS_PARTS);
  await app.ready();
});

afterAll(async () => {
  await app.close();
  await fixture.close();
  removeTempDirs();
});

function login(token: string, next: string) {
  return app.inject({
    method: 'POST',
    url: '/login',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ token, next }).toString(),
  });
}

function session(role: 'viewer' | 'operator') {
  return { cookie: `amisync_session=${fixture.tokens[role].token}` };
}

describe('dashboard sessions', () => {
  it('sends a visit without a token to the login page, keeping where it was going', async () => {
    for (const url of ['/', '/quarantine?status=open', '/anomalies/1', '/audit']) {
      const response = await app.inject({ url });
      expect(response.statusCode).toBe(303);
      expect(response.headers.location).toBe(`/login?next=${encodeURIComponent(url)}`);
    }
  });

  it('logs in with a token into an HttpOnly, SameSite=Strict cookie', async () => {
    const response = await login(fixture.tokens.viewer.token, '/quarantine');
    expect(response.statusCode).toBe(303);
    expect(response.headers.location).toBe('/quarantine');
    const cookie = String(response.headers['set-cookie']);
    expect(cookie).toContain(`amisync_session=${fixture.tokens.viewer.token}`);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Strict');
  });

  it('refuses a wrong token and never redirects to another site', async () => {
    const wrong = await login('amt_0000000000000000_' + '0'.repeat(64), '/');
    expect(wrong.headers.location).toMatch(/^\/login\?next=%2F&error=/);
    expect(wrong.headers['set-cookie']).toBeUndefined();
    for (const next of [
      '//evil.example/',
      '/\\evil.example',
      'https://evil.example/',
      '/a\r\nX: y',
    ]) {
      const response = await login(fixture.tokens.viewer.token, next);
      expect(response.headers.location, next).toBe('/');
    }
  });
});

describe('the overview', () => {
  it('shows the worklist counts that the store status and anomaly backlog give', async () => {
    const response = await app.inject({ url: '/', headers: session('viewer') });
    expect(response.statusCode).toBe(200);
    const figure = (name: string) =>
      Number(new RegExp(`data-figure="${name}">(\\d+)<`).exec(response.body)?.[1]);
    const status = await fixture.harness.store.status();
    const held = (await fixture.harness.store.anomalyBacklog()).held;
    const expected = {
      'quarantine-open': status.quarantine.open,
      'anomalies-held': held,
      'dead-letters-open': status.deadLetters.open,
      'audit-entries': status.auditEntries,
    };
    // The fixture has something in every worklist, so a zero shown would be a wrong figure.
    for (const count of Object.values(expected)) expect(count).toBeGreaterThan(0);
    for (const [name, count] of Object.entries(expected)) expect(figure(name), name).toBe(count);
  });
});

describe('roles on the pages', () => {
  it('shows a viewer no action, and refuses a viewer posting one', async () => {
    const overview = await app.inject({ url: '/', headers: session('viewer') });
    expect(overview.statusCode).toBe(200);
    expect(overview.body).not.toContain('Pause test');
    const item = await app.inject({ url: '/quarantine/1', headers: session('viewer') });
    expect(item.body).not.toContain('Replay with the current dictionary');
    const posted = await app.inject({
      method: 'POST',
      url: '/quarantine/1/replay',
      headers: session('viewer'),
    });
    expect(posted.statusCode).toBe(303);
    expect(decodeURIComponent(String(posted.headers.location))).toContain('error=FORBIDDEN');
    expect((await fixture.harness.store.getQuarantine(1))?.status).toBe('open');
    const operator = await app.inject({ url: '/', headers: session('operator') });
    expect(operator.body).toContain('Pause test');
  });

  it('escapes what feeds supplied and sends a strict content security policy', async () => {
    const page = await app.inject({ url: '/quarantine/2', headers: session('viewer') });
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.body).not.toMatch(/<script>(?!<\/script>)/);
    expect(page.body).toContain('12abc');
  });
});

describe('assets', () => {
  it('serves htmx and uPlot from the installed packages', async () => {
    const require = createRequire(import.meta.url);
    for (const [name, path] of [
      ['htmx.min.js', 'htmx.org/dist/htmx.min.js'],
      ['uPlot.iife.min.js', 'uplot/dist/uPlot.iife.min.js'],
    ] as const) {
      const response = await app.inject({ url: `/assets/${name}` });
      expect(response.statusCode).toBe(200);
      expect(response.body).toBe(readFileSync(require.resolve(path), 'utf8'));
    }
    expect((await app.inject({ url: '/assets/nothing.js' })).statusCode).toBe(404);
  });
});

describe('the meter page of a register stream', () => {
  it('charts its reads and lists them, as the ledger holds them', async () => {
    const meterId = 'MTR-REGREAD1';
    const nowMs = fixture.harness.clock.nowMs();
    const stamps = [40, 20, 5].map((days) => new Date(nowMs - days * 86_400_000).toISOString());
    const values = ['1200.5', '1310', '1402.25'];
    const reads = stamps.map((stamp, i) => ({
      meter_id: meterId,
      timestamp_utc: stamp.replace(/\.\d{3}Z$/, 'Z'),
      register_kwh: values[i],
    }));
    const report = await fixture.harness.ingest(toNdjsonText(reads as never), { name: 'walk-by' });
    expect(report.counts).toMatchObject({ received: 3, accepted: 3 });
    const [stream] = await fixture.harness.store.listMeterStreams(meterId);
    expect(stream?.intervalSeconds).toBe(0);
    const response = await app.inject({
      url: `/meters/${meterId}?channel=${encodeURIComponent(stream?.channel ?? '')}`,
      headers: session('viewer'),
    });
    expect(response.statusCode).toBe(200);
    const chart = JSON.parse(
      /<script type="application\/json" id="chart-data">([^<]*)<\/script>/.exec(
        response.body,
      )?.[1] ?? 'null',
    ) as { x: number[]; ledger: number[] };
    expect(chart.x).toEqual(stamps.map((stamp) => Date.parse(stamp) / 1000));
    expect(chart.ledger).toEqual(values.map(Number));
    for (const stamp of stamps) {
      expect(response.body).toContain(`Prove ${stamp.replace(/\.\d{3}Z$/, '.000Z')}`);
    }
  });
});
