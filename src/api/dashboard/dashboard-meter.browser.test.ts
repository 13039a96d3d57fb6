// Goal: in a real browser the meter page shows the API's figures (readings and quality counts per
// channel), draws its chart, reaches it from the anomaly page by keyboard, shows an interval's
// versions and proves a reading through the audit page; no console error, no foreign request,
// and axe-core finds no accessibility violation.
// Method: the operations server on a loopback port over the operations fixture plus an estimate
// revised by an actual, driven by playwright-core in Debian's Chromium via loggedInPage.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateSigningKey } from '../../audit/checkpoint.js';
import { writeCheckpoint } from '../../audit/record.js';
import { QUALITIES } from '../../core/reading.js';
import { chromiumAvailable, launchChromium, loggedInPage } from '../../test-support/chromium.js';
import { heldRecord, HELD_METER } from '../../test-support/held-readings.js';
import {
  buildOperationsFixture,
  type OperationsFixture,
} from '../../test-support/operations-fixture.js';
import { removeTempDirs, tempDir } from '../../test-support/temp.js';
import { toNdjsonText } from '../../test-support/wire-text.js';
import { listenOperations, type OperationsServer } from '../api-server.js';
import { OPERATIONS_PARTS } from '../parts.js';

const AXE_SOURCE = readFileSync(
  createRequire(import.meta.url).resolve('axe-core/axe.min.js'),
  'utf8',
);
const REVISED_METER = 'MTR-DDDD0004';
const available = chromiumAvailable();

let fixture: OperationsFixture;
let server: OperationsServer;
let browser: BrowserContext | undefined;
let page: Page;
let problems: string[] = [];
let requests: string[] = [];

interface AxeResult {
  violations: { id: string; impact: string; nodes: { target: string[] }[] }[];
}

beforeAll(async () => {
  if (!available) return;
  fixture = await buildOperationsFixture();
  const estimates = [0, 1, 2].map((slot) => ({
    ...heldRecord(slot, slot + 1, '1.25', REVISED_METER),
    quality: 'estimated',
  }));
  await fixture.harness.ingest(toNdjsonText(estimates), { name: 'estimates' });
  const actual = { ...heldRecord(0, 4, '1', REVISED_METER), quality: 'actual' };
  await fixture.harness.ingest(toNdjsonText([actual]), { name: 'actual' });
  // A signed checkpoint covers the readings, so that their proofs verify.
  const { key } = loadOrCreateSigningKey(join(tempDir('amisync-meter-page-'), 'key.pem'));
  await writeCheckpoint(fixture.harness.store, key, fixture.harness.clock.nowMs());
  server = await listenOperations(
    { ...fixture.context, publicKey: key.publicKey },
    {
      host: '127.0.0.1',
      port: 0,
      parts: OPERATIONS_PARTS,
    },
  );
  browser = await launchChromium();
  ({ page, problems, requests } = await loggedInPage(
    browser,
    server.url,
    fixture.tokens.viewer.token,
  ));
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await fixture?.close();
  removeTempDirs();
});

async function api(path: string): Promise<Record<string, ReturnType<typeof JSON.parse>>> {
  const response = await fetch(`${server.url}${path}`, {
    headers: { authorization: `Bearer ${fixture.tokens.viewer.token}` },
  });
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, ReturnType<typeof JSON.parse>>;
}

async function expectAccessible(name: string): Promise<void> {
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
}

async function figure(name: string): Promise<string> {
  return ((await page.locator(`[data-figure="${name}"]`).first().textContent()) ?? '').trim();
}

describe.skipIf(!available)('the meter page in Chromium', () => {
  it("shows the API's readings and quality counts and draws the series", async () => {
    await page.goto(`${server.url}/meters/${REVISED_METER}`);
    const meter = await api(`/api/meters/${REVISED_METER}`);
    for (const stream of meter.streams) {
      expect(await figure(`readings-${stream.channel}`)).toBe(String(stream.currentReadings));
      for (const quality of QUALITIES) {
        expect(await figure(`quality-${stream.channel}-${quality}`)).toBe(
          String(stream.window.qualityCounts[quality]),
        );
      }
    }
    expect(meter.streams[0].window.qualityCounts.estimated).toBeGreaterThan(0);
    await page.locator('#chart[data-rendered="true"]').waitFor();
    await expectAccessible('meter');
  });

  it('shows the versions of an interval and proves a reading through the audit page', async () => {
    const start = new Date(heldRecord(0, 1, '1').timestamp_utc as string).toISOString();
    await page.getByRole('link', { name: `Versions of ${start}` }).click();
    await page.waitForURL(/start=/);
    const versions = await api(
      `/api/ledger/versions?meter=${REVISED_METER}&channel=1&start=${start}`,
    );
    const table = page.locator('table', { hasText: 'newest first' });
    for (const version of versions.versions) {
      expect(await table.getByText(version.idempotencyKey).count()).toBe(1);
    }
    await expectAccessible('meter-versions');
    await page.getByRole('link', { name: versions.versions[0].idempotencyKey }).click();
    await page.waitForURL(/\/audit\?key=/);
    expect(await figure('proof')).toContain('Proof verified');
    await expectAccessible('audit-proof');
  });

  it('is reached from the anomaly ledger by keyboard', async () => {
    await page.goto(`${server.url}/anomalies`);
    const link = page.getByRole('link', { name: HELD_METER }).first();
    await link.focus();
    await page.keyboard.press('Enter');
    await page.waitForURL(`${server.url}/meters/${HELD_METER}`);
    const held = (await api(`/api/meters/${HELD_METER}`)).openAnomalies as { id: number }[];
    expect(held.length).toBeGreaterThan(0);
    for (const hold of held) {
      expect(await page.getByRole('link', { name: `Hold ${hold.id}` }).count()).toBe(1);
    }
  });

  it('logged no console error and fetched nothing from another origin', () => {
    expect(problems).toEqual([]);
    expect(requests.filter((url) => !url.startsWith(server.url))).toEqual([]);
  });
});
