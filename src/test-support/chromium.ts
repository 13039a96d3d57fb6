/**
 * Debian's Chromium for the browser tests, never a downloaded one, launched with everything that
 * would reach the network off.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { requireOrSkip } from './services.js';

export const CHROMIUM = '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** Whether the browser tests can run; skips them with the reason, or fails in CI. */
export function chromiumAvailable(): boolean {
  return requireOrSkip(
    'chromium',
    existsSync(CHROMIUM),
    `not installed at ${CHROMIUM} (Debian package chromium; .ci/run installs it)`,
  );
}

/**
 * Debian's Chromium with a new profile (a fresh temporary folder each call) and CHROMIUM_ARGS, as
 * a persistent context whose pages share one cookie jar. Close it when done.
 */
export function launchChromium(
  viewport: { width: number; height: number } = { width: 1280, height: 900 },
): Promise<BrowserContext> {
  return chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'amisync-chromium-')), {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport,
  });
}

/** A page with what it logged and requested, as watchedPage gives it. */
export interface WatchedPage {
  page: Page;
  /** Console errors and warnings, and page errors. */
  problems: string[];
  /** The URL of every request the page made, in order. */
  requests: string[];
}

/**
 * A new page that records console errors and warnings, page errors and every request it makes,
 * so a test can require none of the first two and no request beyond its own file or server.
 */
export async function watchedPage(opener: Pick<BrowserContext, 'newPage'>): Promise<WatchedPage> {
  const page = await opener.newPage();
  const problems: string[] = [];
  const requests: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') {
      problems.push(`${message.type()}: ${message.text()}`);
    }
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('request', (request) => requests.push(request.url()));
  return { page, problems, requests };
}

/**
 * Submits the dashboard's login form, which `page` must be showing, with `token`, as an operator
 * would (type it, press the button), and waits until the browser lands on `landingUrl`.
 */
export async function submitLogin(page: Page, token: string, landingUrl: string): Promise<void> {
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(landingUrl);
}

/**
 * A watched page (see watchedPage) logged into the operations server at `serverUrl` with `token`
 * through the login form, left on `path`. The session cookie lands in `opener`'s jar, so other
 * pages of the same context are logged in too.
 */
export async function loggedInPage(
  opener: Pick<BrowserContext, 'newPage'>,
  serverUrl: string,
  token: string,
  path = '/',
): Promise<WatchedPage> {
  const watched = await watchedPage(opener);
  await watched.page.goto(`${serverUrl}/login?next=${encodeURIComponent(path)}`);
  await submitLogin(watched.page, token, `${serverUrl}${path}`);
  return watched;
}
