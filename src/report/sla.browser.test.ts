// Goal: the HTML SLA report opens from a file in a real browser with no console error and no
// request beyond the file, and shows the hand-worked figures; the dashboard's SLA page is usable
// with the keyboard alone (choose a month and a source, submit) and axe-core finds no violation.
// Method: render the SLA fixture's report to a file and open it in Debian's headless Chromium under
// playwright-core; serve the fixture on a loopback port, log in with a viewer token and drive the
// page's form by key presses; screenshots go to the test's temp dir (or the CI artifacts folder).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listenOperations, type OperationsServer } from '../api/api-server.js';
import { OPERATIONS_PARTS } from '../api/parts.js';
import type { AddedToken } from '../cli/commands/tokens.js';
import {
  chromiumAvailable,
  launchChromium,
  submitLogin,
  watchedPage,
} from '../test-support/chromium.js';
import {
  buildSlaFixture,
  fixtureSlas,
  METER_A,
  SLA_ZONE,
  slaApiContext,
  type SlaFixture,
} from '../test-support/sla-fixture.js';
import { removeTempDirs, tempDir } from '../test-support/temp.js';
import { monthWindow } from './sla-days.js';
import { slaHtml } from './sla-html.js';
import { collectSlaReport } from './sla.js';

const AXE_SOURCE = readFileSync(
  createRequire(import.meta.url).resolve('axe-core/axe.min.js'),
  'utf8',
);

const available = chromiumAvailable();

let fixture: SlaFixture;
let server: OperationsServer;
let viewer: AddedToken;
let browser: BrowserContext | undefined;
let reportUrl = '';
let shots = '';

beforeAll(async () => {
  if (!available) return;
  fixture = await buildSlaFixture();
  const report = await collectSlaReport(fixture.store, fixture.clock, {
    window: monthWindow('2026-10', SLA_ZONE),
    slas: fixtureSlas(),
  });
  const file = join(tempDir('amisync-sla-report-'), 'sla.html');
  writeFileSync(file, slaHtml(report));
  reportUrl = pathToFileURL(file).href;
  const built = await slaApiContext(fixture);
  viewer = built.viewer;
  server = await listenOperations(built.context, {
    host: '127.0.0.1',
    port: 0,
    parts: OPERATIONS_PARTS,
  });
  const artifacts = process.env['AMISYNC_ARTIFACTS_DIR'];
  shots = artifacts === undefined ? tempDir('amisync-sla-shots-') : join(artifacts, 'sla');
  mkdirSync(shots, { recursive: true });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await fixture?.close();
  removeTempDirs();
});

/** What the page-side function reads; the project compiles without the DOM library. */
interface FocusedDocument {
  document: { activeElement: { id: string } | null };
}

interface AxeResult {
  violations: { id: string; impact: string; nodes: { target: string[] }[] }[];
}

async function expectAccessible(page: Page, name: string): Promise<void> {
  // Through the debugging protocol, which the page's CSP does not govern.
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

/** The cells of the row headed by `day` in the table whose caption starts with `caption`. */
async function dayRow(page: Page, caption: string, day: string): Promise<string[]> {
  const table = page.locator('table', { has: page.locator('caption', { hasText: caption }) });
  const row = table.locator('tr', { has: page.locator(`th:text-is("${day}")`) });
  return (await row.locator('td').allTextContents()).map((text) => text.trim());
}

describe.skipIf(!available)('the SLA report and page in Chromium', () => {
  it('opens the HTML file with no console error and no request beyond the file', async () => {
    const { page, problems, requests } = await watchedPage(browser!);
    await page.goto(reportUrl, { waitUntil: 'load' });
    expect(await dayRow(page, 'vendor-a: intervals per local day', '2026-10-25')).toEqual([
      '25',
      '248',
      '247',
      '245',
      '98.790%',
      'breach',
      '247',
      '99.596%',
      'breach',
    ]);
    expect(await page.locator('li', { hasText: METER_A }).first().textContent()).toBe(
      `${METER_A}: 1 missing, 2 late of 100`,
    );
    await expectAccessible(page, 'sla-report');
    expect(problems).toEqual([]);
    expect(requests).toEqual([reportUrl]);
    await page.close();
  });

  it('shows the dashboard page to a viewer and answers its form from the keyboard', async () => {
    const { page, problems, requests } = await watchedPage(browser!);
    await page.goto(`${server.url}/sla`);
    expect(new URL(page.url()).pathname).toBe('/login');
    await submitLogin(page, viewer.token, `${server.url}/sla`);
    await page.getByRole('link', { name: 'Vendor SLAs' }).waitFor();
    // From the month field, by keys alone: type the month, Tab to the source, choose, submit.
    await page.getByLabel(/^Month/).focus();
    await page.keyboard.press('Control+A');
    await page.keyboard.type('2026-10');
    await page.keyboard.press('Tab');
    expect(
      await page.evaluate(
        () => (globalThis as unknown as FocusedDocument).document.activeElement?.id,
      ),
    ).toBe('sla-source');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.waitForURL(/period=2026-10/);
    expect(new URL(page.url()).searchParams.get('source')).toBe('vendor-a');
    await page.locator('h2#sla-vendor-a').waitFor();
    expect(await page.locator('h2#sla-vendor-b').count()).toBe(0);
    expect(await dayRow(page, 'vendor-a: intervals per local day', '2026-10-24')).toEqual([
      '24',
      '192',
      '192',
      '191',
      '99.479%',
      'breach',
      '192',
      '100.000%',
      'pass',
    ]);
    await expectAccessible(page, 'sla-dashboard');
    expect(problems).toEqual([]);
    expect(requests.filter((url) => !url.startsWith(server.url))).toEqual([]);
    await page.close();
  });
});
