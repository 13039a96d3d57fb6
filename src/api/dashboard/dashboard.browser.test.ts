// Goal: in a real browser, an operator logs in with a token, replays a quarantined record, pauses
// and resumes a source and releases an anomaly by clicking, and each action lands in the store;
// the figures on the overview equal the API's and the store's; the anomaly chart draws; no page
// logs a console error or fetches from the network; axe-core finds no accessibility violation.
// Method: the operations server (`amisync serve`'s) on a loopback port over the operations
// fixture, driven by playwright-core in Debian's Chromium; screenshots go to the test's temp dir.
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  chromiumAvailable,
  launchChromium,
  submitLogin,
  watchedPage,
} from '../../test-support/chromium.js';
import {
  buildOperationsFixture,
  type OperationsFixture,
} from '../../test-support/operations-fixture.js';
import { removeTempDirs, tempDir } from '../../test-support/temp.js';
import { listenOperations, type OperationsServer } from '../api-server.js';
import { OPERATIONS_PARTS } from '../parts.js';

const AXE_SOURCE = readFileSync(
  createRequire(import.meta.url).resolve('axe-core/axe.min.js'),
  'utf8',
);

const available = chromiumAvailable();

let fixture: OperationsFixture;
let server: OperationsServer;
let browser: BrowserContext | undefined;
let page: Page;
let shots = '';
let problems: string[] = [];
let requests: string[] = [];

beforeAll(async () => {
  if (!available) return;
  fixture = await buildOperationsFixture();
  server = await listenOperations(fixture.context, {
    host: '127.0.0.1',
    port: 0,
    parts: OPERATIONS_PARTS,
  });
  // CI keeps them as artifacts when it names a folder; otherwise they go with the temp dirs.
  const artifacts = process.env['AMISYNC_ARTIFACTS_DIR'];
  shots =
    artifacts === undefined ? tempDir('amisync-dashboard-shots-') : join(artifacts, 'dashboard');
  mkdirSync(shots, { recursive: true });
  browser = await launchChromium();
  ({ page, problems, requests } = await watchedPage(browser));
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await fixture?.close();
  removeTempDirs();
});

/** What the API answers, with the operator's token. */
async function api(path: string): Promise<Record<string, unknown>> {
  const response = await fetch(`${server.url}${path}`, {
    headers: { authorization: `Bearer ${fixture.tokens.operator.token}` },
  });
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, unknown>;
}

interface AxeResult {
  violations: { id: string; impact: string; nodes: { target: string[] }[] }[];
}

async function expectAccessible(name: string): Promise<void> {
  // Evaluated through the browser's debugging protocol, which the page's CSP does not govern: an
  // injected script tag would be (rightly) refused by it.
  await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate(
    async () =>
      (
        globalThis as unknown as { axe: { run: () => Promise<AxeResult> } }
      ).axe.run() as Promise<AxeResult>,
  );
  const found = result.violations.map(
    (v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`,
  );
  expect(found, name).toEqual([]);
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

async function figure(selector: string): Promise<string> {
  return ((await page.locator(selector).first().textContent()) ?? '').trim();
}

describe.skipIf(!available)('the dashboard in Chromium', () => {
  it('sends a visitor without a token to the login page, and logs in with a token', async () => {
    await page.goto(`${server.url}/quarantine`);
    expect(new URL(page.url()).pathname).toBe('/login');
    await expectAccessible('login');
    await page.getByLabel('API token').fill('amt_0000000000000000_' + '0'.repeat(64));
    await page.getByRole('button', { name: 'Log in' }).click();
    await expect.poll(() => page.locator('[role="alert"]').count()).toBe(1);
    await submitLogin(page, fixture.tokens.operator.token, `${server.url}/quarantine`);
    const cookies = await browser!.cookies(server.url);
    const session = cookies.find((cookie) => cookie.name === 'amisync_session');
    expect(session?.httpOnly).toBe(true);
    expect(session?.sameSite).toBe('Strict');
  });

  it('shows on the overview the figures the API and the store give', async () => {
    await page.goto(`${server.url}/`);
    await expectAccessible('overview');
    const { sources } = (await api('/api/sources')) as {
      sources: { sourceId: string; counts: Record<string, number> }[];
    };
    const stored = await fixture.harness.store.listSourceSummaries();
    expect(sources.length).toBe(stored.length);
    for (const source of sources) {
      const kept = stored.find((s) => s.sourceId === source.sourceId)!;
      for (const key of ['received', 'accepted', 'duplicates', 'quarantined', 'anomalyHeld']) {
        const shown = await figure(`td[data-source="${source.sourceId}"][data-count="${key}"]`);
        expect(Number(shown), `${source.sourceId} ${key}`).toBe(source.counts[key]);
        expect(Number(shown)).toBe(kept.counts[key as keyof typeof kept.counts]);
      }
    }
    const status = (await api('/api/status')) as {
      quarantine: { open: number };
      auditEntries: number;
      anomalies: { held: number };
    };
    expect(Number(await figure('[data-figure="quarantine-open"]'))).toBe(status.quarantine.open);
    expect(Number(await figure('[data-figure="anomalies-held"]'))).toBe(status.anomalies.held);
    expect(Number(await figure('[data-figure="audit-entries"]'))).toBe(status.auditEntries);
  });

  it('pauses and resumes a source by clicking', async () => {
    await page.goto(`${server.url}/`);
    await page.getByLabel('Reason to pause test').fill('vendor sends doubled values');
    await page.getByRole('button', { name: 'Pause test' }).click();
    await expect
      .poll(() => page.locator('td[data-source="test"][data-paused="true"]').count())
      .toBe(1);
    let sources = (await api('/api/sources')).sources as { sourceId: string; pause: unknown }[];
    expect(sources.find((s) => s.sourceId === 'test')?.pause).toMatchObject({
      actor: 'api:operator-one',
      reason: 'vendor sends doubled values',
    });
    await expectAccessible('overview-paused');
    await page.getByRole('button', { name: 'Resume test' }).click();
    await expect
      .poll(() => page.locator('td[data-source="test"][data-paused="false"]').count())
      .toBe(1);
    sources = (await api('/api/sources')).sources as { sourceId: string; pause: unknown }[];
    expect(sources.find((s) => s.sourceId === 'test')?.pause).toBeNull();
  });

  it('replays a quarantined record by clicking', async () => {
    await page.goto(`${server.url}/quarantine?status=open&code=consumption.range`);
    await expectAccessible('quarantine');
    const link = page.getByRole('link', { name: /^Item \d+$/ }).first();
    const id = Number(((await link.textContent()) ?? '').replace('Item ', ''));
    await link.click();
    await page.waitForURL(`${server.url}/quarantine/${id}`);
    await expect.poll(() => figure('pre')).toContain('1500');
    await expectAccessible('quarantine-item');
    await page.getByRole('button', { name: 'Replay with the current dictionary' }).click();
    await expect.poll(() => page.locator('[role="status"]').count()).toBe(1);
    expect(await figure('[role="status"]')).toContain(`item ${id} replayed: accepted`);
    expect(await figure('[data-figure="status"]')).toBe('replayed');
    const item = await api(`/api/quarantine/${id}`);
    expect(item.status).toBe('replayed');
    expect((await fixture.harness.store.getQuarantine(id))?.status).toBe('replayed');
  });

  it('charts an anomaly and releases it with a note by clicking', async () => {
    await page.goto(`${server.url}/anomalies`);
    await expectAccessible('anomalies');
    const link = page.getByRole('link', { name: /^Hold \d+$/ }).first();
    const id = Number(((await link.textContent()) ?? '').replace('Hold ', ''));
    await link.click();
    await page.waitForURL(`${server.url}/anomalies/${id}`);
    await page.waitForSelector('#chart[data-rendered="true"] canvas', { timeout: 10_000 });
    await expectAccessible('anomaly');
    // Without a note the browser itself refuses the form: nothing is posted.
    await page.getByRole('button', { name: 'Release into the ledger' }).click();
    const missing = await page
      .getByLabel('Note for the release')
      .evaluate(
        (field) =>
          (field as unknown as { validity: { valueMissing: boolean } }).validity.valueMissing,
      );
    expect(missing).toBe(true);
    expect((await fixture.harness.store.getAnomaly(id))?.status).toBe('held');
    await page.getByLabel('Note for the release').fill('field verified: meter healthy');
    await page.getByRole('button', { name: 'Release into the ledger' }).click();
    await expect.poll(() => figure('[data-figure="status"]')).toBe('released');
    const hold = await api(`/api/anomalies/${id}`);
    expect(hold.status).toBe('released');
    expect((hold.decision as { actor: string }).actor).toBe('api:operator-one');
  });

  it('shows the audit page, which an operator may not verify from', async () => {
    await page.goto(`${server.url}/audit`);
    await expectAccessible('audit');
    expect(await page.getByRole('button', { name: 'Verify the audit trail now' }).count()).toBe(0);
    expect(Number(await figure('[data-figure="audit-entries"]'))).toBe(
      (await fixture.harness.store.status()).auditEntries,
    );
  });

  it('logged no console error and fetched nothing from another origin', () => {
    expect(problems).toEqual([]);
    expect(requests.filter((url) => !url.startsWith(server.url))).toEqual([]);
  });
});
