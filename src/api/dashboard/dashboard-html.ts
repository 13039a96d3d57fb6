/**
 * The dashboard's page frame and small HTML pieces. Every value from a feed or an operator passes
 * through escapeHtml; data for the chart goes in a JSON block that cannot end its script element.
 */
import { escapeHtml } from '../../report/discrepancy-html.js';
import type { Caller } from '../api-auth.js';

export { escapeHtml };

/** Pages in the navigation, in order. */
const NAV: readonly { path: string; label: string }[] = [
  { path: '/', label: 'Overview' },
  { path: '/quarantine', label: 'Quarantine' },
  { path: '/anomalies', label: 'Anomalies' },
  { path: '/audit', label: 'Audit' },
  { path: '/sla', label: 'Vendor SLAs' },
];

/** What a page shows besides its body: who is logged in, and the outcome of the last action. */
export interface Frame {
  readonly title: string;
  readonly path: string;
  readonly caller: Caller | null;
  readonly notice?: string | undefined;
  readonly error?: string | undefined;
}

function navigation(current: string): string {
  const items = NAV.map(({ path, label }) => {
    const here = path === '/' ? current === '/' : current.startsWith(path);
    return `<li><a href="${path}"${here ? ' aria-current="page"' : ''}>${label}</a></li>`;
  });
  return `<nav aria-label="Main"><ul>${items.join('')}</ul></nav>`;
}

function messages(frame: Frame): string {
  return (
    (frame.notice === undefined
      ? ''
      : `<p class="notice" role="status">${escapeHtml(frame.notice)}</p>`) +
    (frame.error === undefined
      ? ''
      : `<p class="error" role="alert">${escapeHtml(frame.error)}</p>`)
  );
}

export function page(frame: Frame, body: string): string {
  const who =
    frame.caller === null
      ? ''
      : `<span class="who">${escapeHtml(frame.caller.name)} (${frame.caller.role})</span>` +
        '<form method="post" action="/logout" class="inline"><button type="submit">Log out' +
        '</button></form>';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<meta name="htmx-config" content='{"includeIndicatorStyles":false}'>
<title>${escapeHtml(frame.title)} · amisync</title>
<link rel="stylesheet" href="/assets/uPlot.min.css">
<link rel="stylesheet" href="/assets/dashboard.css">
<script src="/assets/htmx.min.js" defer></script>
<script src="/assets/uPlot.iife.min.js" defer></script>
<script src="/assets/dashboard.js" defer></script>
</head>
<body hx-boost="true">
<a class="skip" href="#main">Skip to content</a>
<header><span class="brand">amisync</span>${frame.caller === null ? '' : navigation(frame.path)}${who}</header>
<main id="main" tabindex="-1">
<h1>${escapeHtml(frame.title)}</h1>
${messages(frame)}
${body}
</main>
</body>
</html>`;
}

/** A table with a caption, header cells with scope, and rows of already escaped cells. */
export function table(caption: string, head: readonly string[], rows: readonly string[][]): string {
  if (rows.length === 0) return `<p>${escapeHtml(caption)}: none.</p>`;
  const header = head.map((cell) => `<th scope="col">${escapeHtml(cell)}</th>`).join('');
  const body = rows.map((row) => `<tr>${row.join('')}</tr>`).join('\n');
  return (
    `<table><caption>${escapeHtml(caption)}</caption>` +
    `<thead><tr>${header}</tr></thead><tbody>\n${body}\n</tbody></table>`
  );
}

/** A cell of text; `attributes` are written as given (the caller escapes their values). */
export function cell(text: string | number, attributes = ''): string {
  const numeric = typeof text === 'number';
  const classes = numeric ? ' class="num"' : '';
  return `<td${classes}${attributes === '' ? '' : ` ${attributes}`}>${escapeHtml(String(text))}</td>`;
}

/** A form that posts to `action` with a labelled text field (when `field` is given). */
export function actionForm(options: {
  action: string;
  button: string;
  field?: { name: string; label: string; required: boolean; multiline?: boolean };
  danger?: boolean;
  hidden?: Readonly<Record<string, string>>;
}): string {
  const id = `f-${options.action.replace(/[^a-z0-9]+/gi, '-')}`;
  const field = options.field;
  const hidden = Object.entries(options.hidden ?? {})
    .map(([name, value]) => `<input type="hidden" name="${name}" value="${escapeHtml(value)}">`)
    .join('');
  const input =
    field === undefined
      ? ''
      : `<label for="${id}">${escapeHtml(field.label)}</label>` +
        (field.multiline === true
          ? `<textarea id="${id}" name="${field.name}" rows="2" cols="50"` +
            `${field.required ? ' required minlength="10"' : ''}></textarea>`
          : `<input id="${id}" name="${field.name}" type="text" size="40"` +
            `${field.required ? ' required minlength="10"' : ''}>`);
  const danger = options.danger === true ? ' class="danger"' : '';
  return (
    `<form method="post" action="${escapeHtml(options.action)}" class="${field?.multiline === true ? 'stack' : 'inline'}">` +
    `${hidden}${input}<button type="submit"${danger}>${escapeHtml(options.button)}</button></form>`
  );
}

export function isoOrDash(ms: number | null | undefined): string {
  return ms == null ? '-' : new Date(ms).toISOString().replace('.000Z', 'Z');
}
