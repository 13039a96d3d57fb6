/**
 * Debian's Chromium for the browser tests, never a downloaded one, launched with everything that
 * would reach the network off.
 */
import { existsSync } from 'node:fs';
import type { BrowserContext, Page } from 'playwright-core';
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
 * A new page that records console errors and warnings, page errors and every request it makes,
 * so a test can require none of the first two and no request beyond its own file or server.
 */
export async function watchedPage(
  opener: Pick<BrowserContext, 'newPage'>,
): Promise<{ page: Page; problems: string[]; requests: string[] }> {
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
