/**
 * A printable invoice as one self-contained HTML page: the account, period and service points,
 * the line items and total, the determinants each service point was billed from, and where the
 * invoice came from (the ledger as it stood, the audit entry and the signed checkpoint covering
 * it), so a printed bill can be traced back and recomputed (`amisync bill verify`).
 *
 * Nothing is fetched and nothing runs: no script, one inline stylesheet allowed by its sha256 in
 * a Content-Security-Policy that forbids every other source. Every text from the store is escaped.
 */
import { createHash } from 'node:crypto';
import type { InvoiceRow } from '../core/billing-store.js';
import type { CheckpointRow } from '../core/store.js';
import { escapeHtml } from '../core/text.js';
import type { BillBasis, ServicePointBasis } from './billing.js';
import type { InvoiceLine } from './invoice.js';
import { formatCents } from './money.js';

/** Everything the page shows about one invoice. */
export interface InvoiceDocument {
  invoiceId: number;
  accountId: string;
  period: string;
  kind: 'invoice' | 'adjustment';
  totalCents: number;
  lines: InvoiceLine[];
  basis: BillBasis;
  ledgerRowIdMax: number;
  ledgerDigest: string;
  ledgerRows: number;
  auditSeq: number;
  auditHeadSeq: number;
  auditHeadHash: string;
  createdAtMs: number;
  override: { justification: string; actor: string } | null;
  /** The first signed checkpoint whose head is at or after the invoice's audit entry. */
  checkpoint: { auditSeq: number; headHash: string; atMs: number; keyFingerprint: string } | null;
}

/** The page's document from a stored invoice and the checkpoints signed so far. */
export function invoiceDocument(
  row: InvoiceRow,
  checkpoints: readonly CheckpointRow[],
): InvoiceDocument {
  const covering = checkpoints
    .filter((c) => c.auditSeq >= row.auditSeq)
    .sort((a, b) => a.auditSeq - b.auditSeq)[0];
  return {
    invoiceId: row.id,
    accountId: row.accountId,
    period: row.period,
    kind: row.kind,
    totalCents: row.totalCents,
    lines: JSON.parse(row.linesJson) as InvoiceLine[],
    basis: JSON.parse(row.basisJson) as BillBasis,
    ledgerRowIdMax: row.ledgerRowIdMax,
    ledgerDigest: row.ledgerDigest,
    ledgerRows: row.ledgerRows,
    auditSeq: row.auditSeq,
    auditHeadSeq: row.auditHeadSeq,
    auditHeadHash: row.auditHeadHash,
    createdAtMs: row.createdAtMs,
    override:
      row.overrideJson === null
        ? null
        : (JSON.parse(row.overrideJson) as { justification: string; actor: string }),
    checkpoint:
      covering === undefined
        ? null
        : {
            auditSeq: covering.auditSeq,
            headHash: covering.headHash,
            atMs: covering.atMs,
            keyFingerprint: covering.keyFingerprint,
          },
  };
}

const PAGE_CSS = `
body { font: 11pt/1.4 system-ui, sans-serif; color: #111; margin: 2rem auto; max-width: 52rem; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
h2 { font-size: 1.1rem; margin: 1.5rem 0 .5rem; border-bottom: 1px solid #888; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .2rem .4rem; border-bottom: 1px solid #ddd; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tfoot td { font-weight: bold; border-top: 2px solid #111; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .1rem 1rem; margin: 0; }
dt { font-weight: bold; }
code { font-size: .85em; word-break: break-all; }
.override { border: 2px solid #b3261e; padding: .5rem; }
@page { size: A4; margin: 15mm; }
@media print {
  body { margin: 0; max-width: none; font-size: 10pt; }
  h2 { break-after: avoid; }
  tr { break-inside: avoid; }
  .provenance { break-before: page; }
}
`;

function cspHash(content: string): string {
  return `'sha256-${createHash('sha256').update(content, 'utf8').digest('base64')}'`;
}

function isoUtc(epochMs: number): string {
  return new Date(epochMs).toISOString().replace('.000Z', 'Z');
}

function lineRow(line: InvoiceLine): string {
  const cells = [
    escapeHtml(line.servicePointId),
    escapeHtml(line.description),
    `<td class="num">${escapeHtml(line.quantity)} ${escapeHtml(line.unit)}</td>`,
    `<td class="num">${escapeHtml(line.price)}</td>`,
    `<td class="num" data-amount-cents="${line.amountCents}">${formatCents(line.amountCents)}</td>`,
  ];
  return `<tr>${cells.map((cell) => (cell.startsWith('<td') ? cell : `<td>${cell}</td>`)).join('')}</tr>`;
}

function micro(value: number): string {
  return (value / 1_000_000).toFixed(6).replace(/\.?0+$/, '');
}

function servicePointSection(sp: ServicePointBasis): string {
  const d = sp.determinants;
  const meters = sp.spans
    .map((s) => `${escapeHtml(s.meterId)} ${isoUtc(s.fromMs)} to ${isoUtc(s.toMs)}`)
    .join('<br>');
  const energy = d.energyMicroByPeriod
    .map((value, period) => `period ${period}: ${micro(value)} kWh`)
    .join('<br>');
  const demand = d.demandMicroKwByPeriod
    .map((value, period) => `period ${period}: ${micro(value)} kW`)
    .join('<br>');
  const rows: [string, string][] = [
    ['Tariff', `${escapeHtml(sp.tariffLabel)}<br><code>sha256 ${sp.tariffSha256}</code>`],
    ['Time zone', escapeHtml(sp.timeZone)],
    ['Billed from', `${isoUtc(sp.startMs)} to ${isoUtc(sp.endMs)} (${d.days} local days)`],
    ['Meters', meters],
    ['Energy', `${micro(d.energyMicro)} kWh (estimated ${micro(d.estimatedEnergyMicro)} kWh)`],
    ['Energy by TOU period', energy],
    ['Peak demand', `${micro(d.peakDemandMicroKw)} kW`],
    ...(demand === '' ? [] : [['Demand by period', demand] as [string, string]]),
    [
      'Intervals',
      `${d.actualIntervals} actual, ${d.estimatedIntervals} estimated, ${d.expectedIntervals} expected`,
    ],
  ];
  return (
    `<section class="service-point"><h2>Service point ${escapeHtml(sp.servicePointId)}</h2><dl>` +
    rows.map(([term, value]) => `<dt>${term}</dt><dd>${value}</dd>`).join('') +
    '</dl></section>'
  );
}

function provenance(doc: InvoiceDocument): string {
  const checkpoint =
    doc.checkpoint === null
      ? 'none yet covers this invoice (the next ingest or bill prove signs one)'
      : `head entry ${doc.checkpoint.auditSeq}, <code>${doc.checkpoint.headHash}</code>, signed ` +
        `${isoUtc(doc.checkpoint.atMs)} with key ${escapeHtml(doc.checkpoint.keyFingerprint)}`;
  const rows: [string, string][] = [
    ['Ledger', `every row up to id ${doc.ledgerRowIdMax}; ${doc.ledgerRows} rows used`],
    ['Ledger digest', `<code>${doc.ledgerDigest}</code>`],
    ['Audit entry', `seq ${doc.auditSeq} (billing.invoice)`],
    ['Chain head before', `seq ${doc.auditHeadSeq} <code>${doc.auditHeadHash}</code>`],
    ['Signed checkpoint', checkpoint],
    ['Tax', `${escapeHtml(doc.basis.taxPercent)}%`],
    ['Recompute', `<code>amisync bill verify ${doc.invoiceId}</code>`],
  ];
  return (
    '<section class="provenance"><h2>What this invoice was computed from</h2><dl>' +
    rows.map(([term, value]) => `<dt>${term}</dt><dd>${value}</dd>`).join('') +
    '</dl></section>'
  );
}

/** The invoice page; deterministic for a given document. */
export function invoiceHtml(doc: InvoiceDocument): string {
  const title = `${doc.kind === 'adjustment' ? 'Adjustment' : 'Invoice'} ${doc.invoiceId}`;
  const override =
    doc.override === null
      ? ''
      : `<p class="override">Billed although held, by ${escapeHtml(doc.override.actor)}: ` +
        `${escapeHtml(doc.override.justification)}</p>`;
  const policy = `default-src 'none'; style-src ${cspHash(PAGE_CSS)}; img-src 'none'`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${policy}">
<title>${escapeHtml(`${title}, ${doc.accountId}, ${doc.period}`)}</title>
<style>${PAGE_CSS}</style>
</head>
<body>
<header>
<h1>${title}</h1>
<dl>
<dt>Account</dt><dd id="account">${escapeHtml(doc.accountId)}</dd>
<dt>Period</dt><dd id="period">${escapeHtml(doc.period)}</dd>
<dt>Issued</dt><dd>${isoUtc(doc.createdAtMs)}</dd>
<dt>Service points</dt><dd>${doc.basis.servicePoints.map((sp) => escapeHtml(sp.servicePointId)).join(', ')}</dd>
</dl>
</header>
${override}
<h2>Charges</h2>
<table>
<thead><tr><th>Service point</th><th>Item</th><th class="num">Quantity</th>
<th class="num">Price ($)</th><th class="num">Amount ($)</th></tr></thead>
<tbody>
${doc.lines.map(lineRow).join('\n')}
</tbody>
<tfoot><tr><td colspan="4">Total</td>
<td class="num" id="total" data-total-cents="${doc.totalCents}">${formatCents(doc.totalCents)}</td></tr></tfoot>
</table>
${doc.basis.servicePoints.map(servicePointSection).join('\n')}
${provenance(doc)}
</body>
</html>
`;
}
