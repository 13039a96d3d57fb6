/**
 * Debian's Chromium for the browser tests, never a downloaded one, launched with everything that
 * would reach the network off.
 */
import { existsSync } from 'node:fs';
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
