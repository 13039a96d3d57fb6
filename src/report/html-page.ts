/**
 * The shell every self-contained report page shares: doctype, language, charset, viewport, title,
 * one inline stylesheet, and a Content-Security-Policy that allows that stylesheet and the page's
 * inline scripts by their sha256 and nothing else: no fetch, no base URL, no form target.
 */
import { createHash } from 'node:crypto';
import { escapeHtml } from '../core/text.js';

export { escapeHtml };

/** The CSP source that allows exactly this inline block. */
export function cspHash(content: string): string {
  return `'sha256-${createHash('sha256').update(content, 'utf8').digest('base64')}'`;
}

/** What a report page puts in the shell. */
export interface HtmlPageParts {
  /** Plain text: escaped here. */
  title: string;
  /** The page's only stylesheet, inlined. */
  css: string;
  /** Markup of the body (its main element and any data blocks), escaped by the caller. */
  body: string;
  /** Inline scripts, run in this order after the body; none makes a page with no script-src. */
  scripts: readonly string[];
}

/** The policy: only the given stylesheet and scripts, by hash. */
function contentSecurityPolicy(css: string, scripts: readonly string[]): string {
  return [
    "default-src 'none'",
    ...(scripts.length === 0 ? [] : [`script-src ${scripts.map(cspHash).join(' ')}`]),
    `style-src ${cspHash(css)}`,
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
}

/** The whole page around `parts.body`; nothing runs but `parts.scripts`. */
export function htmlPage(parts: HtmlPageParts): string {
  const csp = contentSecurityPolicy(parts.css, parts.scripts);
  const scripts = parts.scripts.map((script) => `<script>${script}</script>\n`).join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(parts.title)}</title>
<style>${parts.css}</style>
</head>
<body>
${parts.body}
${scripts}</body>
</html>
`;
}
