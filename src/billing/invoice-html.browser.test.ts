// Goal: `amisync bill show INVOICE --format html --out F` writes a self-contained printable page
// that opens in a real browser with no console error and no request beyond the file, whose lines
// and total equal the invoice's JSON, and which names the ledger and checkpoint it came from.
// Method: a month billed by the built CLI (billing-fixture), each invoice's page opened in
// Debian's headless Chromium under playwright-core, and the page's amounts read back from the DOM.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBillingFixture, type BillingFixture } from '../test-support/billing-fixture.js';
import { chromiumAvailable, launchChromium, watchedPage } from '../test-support/chromium.js';
import { removeTempDirs } from '../test-support/temp.js';

const available = chromiumAvailable();

let fixture: BillingFixture;
let context: BrowserContext | undefined;

beforeAll(async () => {
  if (!available) return;
  fixture = buildBillingFixture();
  context = await launchChromium({ width: 1000, height: 1400 });
}, 120_000);

afterAll(async () => {
  await context?.close();
  removeTempDirs();
});

interface PageDocument {
  querySelector(
    selector: string,
  ): { textContent: string | null; getAttribute(name: string): string | null } | null;
  querySelectorAll(selector: string): Iterable<{ getAttribute(name: string): string | null }>;
  body: { textContent: string | null };
}

describe.skipIf(!available)('the HTML invoice in Chromium', () => {
  it('bills the fixture month with no account held', () => {
    expect(fixture.invoices.map((i) => i.accountId).sort()).toEqual(['ACC-D', 'ACC-R', 'ACC-T']);
  });

  it('opens each invoice with no error or request, and shows the JSON total and lines', async () => {
    for (const invoice of fixture.invoices) {
      const file = join(fixture.folder, `invoice-${invoice.invoiceId}.html`);
      const run = fixture.cli(
        'bill',
        'show',
        String(invoice.invoiceId),
        '--format',
        'html',
        '--out',
        file,
      );
      expect(run.status, run.stderr).toBe(0);
      const shown = JSON.parse(
        fixture.cli('bill', 'show', String(invoice.invoiceId), '--format', 'json').stdout,
      ) as { totalCents: number; ledgerDigest: string; checkpoint: { auditSeq: number } | null };
      expect(shown.totalCents).toBe(invoice.totalCents);
      const url = pathToFileURL(file).href;
      const { page, problems, requests } = await watchedPage(context!);
      await page.goto(url, { waitUntil: 'load' });
      const seen = await page.evaluate(() => {
        const document = (globalThis as unknown as { document: PageDocument }).document;
        const total = document.querySelector('#total');
        return {
          totalCents: Number(total?.getAttribute('data-total-cents')),
          totalText: total?.textContent ?? '',
          amounts: [...document.querySelectorAll('[data-amount-cents]')].map((cell) =>
            Number(cell.getAttribute('data-amount-cents')),
          ),
          account: document.querySelector('#account')?.textContent ?? '',
          text: document.body.textContent ?? '',
        };
      });
      expect(problems).toEqual([]);
      expect(requests).toEqual([url]);
      expect(seen.totalCents).toBe(invoice.totalCents);
      expect(seen.totalText).toBe((invoice.totalCents / 100).toFixed(2));
      expect(seen.amounts).toEqual(invoice.lines.map((line) => line.amountCents));
      expect(seen.amounts.reduce((sum, cents) => sum + cents, 0)).toBe(invoice.totalCents);
      expect(seen.account).toBe(invoice.accountId);
      expect(seen.text).toContain(shown.ledgerDigest);
      expect(shown.checkpoint).not.toBeNull();
      expect(seen.text).toContain(`head entry ${shown.checkpoint!.auditSeq}`);
      const pdf = await page.pdf({ format: 'A4' });
      expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
      await page.close();
    }
  }, 120_000);
});
