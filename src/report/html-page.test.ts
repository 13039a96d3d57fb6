// Goal: the shared report page shell allows exactly its stylesheet and scripts by their sha256,
// names no script source when it has no script, escapes its title and runs scripts after the body.
// Method: pages built from small parts, their policy read back and each hash recomputed here.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { cspHash, escapeHtml, htmlPage } from './html-page.js';

function sha256(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

function policyOf(html: string): string[] {
  const match = /<meta http-equiv="Content-Security-Policy" content="([^"]*)">/.exec(html);
  return (match?.[1] ?? '').replaceAll('&#39;', "'").split('; ');
}

describe('the report page shell', () => {
  it('allows only its stylesheet and scripts, by hash, and runs the scripts after the body', () => {
    const css = 'body { color: #111; }';
    const scripts = ['var a = 1;', 'var b = "<b>";'];
    const html = htmlPage({ title: 'T', css, body: '<main>m</main>', scripts });
    expect(policyOf(html)).toEqual([
      "default-src 'none'",
      `script-src ${sha256(scripts[0]!)} ${sha256(scripts[1]!)}`,
      `style-src ${sha256(css)}`,
      "base-uri 'none'",
      "form-action 'none'",
    ]);
    expect(cspHash(css)).toBe(sha256(css));
    expect(html).toContain(`<style>${css}</style>`);
    expect(html).toContain(
      '<body>\n<main>m</main>\n<script>var a = 1;</script>\n' +
        '<script>var b = "<b>";</script>\n</body>',
    );
    expect(
      html.startsWith('<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">'),
    ).toBe(true);
  });

  it('names no script source without scripts, and escapes the title', () => {
    const html = htmlPage({ title: 'A <b> & "c"', css: 'p {}', body: '<p>x</p>', scripts: [] });
    expect(policyOf(html)).toEqual([
      "default-src 'none'",
      `style-src ${sha256('p {}')}`,
      "base-uri 'none'",
      "form-action 'none'",
    ]);
    expect(html).not.toContain('<script');
    expect(html).toContain(`<title>${escapeHtml('A <b> & "c"')}</title>`);
    expect(html).toContain('<title>A &lt;b&gt; &amp; &quot;c&quot;</title>');
    expect(html).toContain('<body>\n<p>x</p>\n</body>\n</html>\n');
  });
});
