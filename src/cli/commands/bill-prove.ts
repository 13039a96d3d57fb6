/**
 * `amisync bill prove INVOICE --out DIR`: a self-contained bundle from which anyone can check an
 * invoice without amisync (scripts/check-bill-proof.mjs does, with node:crypto only): the
 * invoice's lines and determinants, each tariff's stored JSON, every ledger reading used (its
 * audited line) with a Merkle root over them, each reading's Merkle leaf and RFC 6962 path to
 * its batch's ledger root, the audit chain from the first batch to a signed checkpoint that covers
 * the invoice's own entry, the public key, and the raw bytes of each batch's delivery range.
 * docs/billing.md ("Proof bundles") describes the files and what the checker checks.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hash } from 'node:crypto';
import type { SigningKey } from '../../audit/checkpoint.js';
import { ledgerLine, type LedgerLineVersion } from '../../audit/leaves.js';
import {
  inclusionProof,
  leafBlockData,
  leafHash,
  merkleRootOfLeafData,
} from '../../audit/merkle.js';
import { writeCheckpoint } from '../../audit/record.js';
import type { BillBasis } from '../../billing/billing.js';
import type { InvoiceLine } from '../../billing/invoice.js';
import type { BillingLedgerRow, BillingStore, InvoiceRow } from '../../core/billing-store.js';
import { AmisyncError } from '../../core/errors.js';
import type { AuditEntryRow, CheckpointRow, LedgerRow, Store } from '../../core/store.js';

export const BILL_PROOF_FORMAT = 'amisync-bill-proof-v1';
/** Raw bytes above this many per bundle are given by their sha256 only. */
const RAW_BYTES_MAX = 64 * 1024 * 1024;

interface ProvenLeaf {
  leafIndex: number;
  leafData: string;
  auditPath: string[];
}

interface BatchProof {
  batchId: number;
  auditSeq: number;
  leaves: ProvenLeaf[];
  raw: { file: string | null; sha256: string; byteLength: number; deliveryId: string };
}

export interface BillProofSummary {
  invoiceId: number;
  out: string;
  readings: number;
  readingsRoot: string;
  batches: number;
  chainEntries: number;
  checkpoint: { auditSeq: number; headHash: string };
}

/** Each service point's current rows within its meter spans, in the ledger's billing order. */
async function usedRows(
  billing: BillingStore,
  invoice: InvoiceRow,
  basis: BillBasis,
): Promise<BillingLedgerRow[]> {
  const used: BillingLedgerRow[] = [];
  for (const sp of basis.servicePoints) {
    const rows = await billing.billingLedger({
      meterIds: [...new Set(sp.spans.map((s) => s.meterId))],
      fromMs: sp.startMs,
      toMs: sp.endMs,
      rowIdMax: invoice.ledgerRowIdMax,
    });
    used.push(
      ...rows.filter((row) =>
        sp.spans.some(
          (s) =>
            s.meterId === row.meterId &&
            row.intervalStartMs >= s.fromMs &&
            row.intervalStartMs < s.toMs,
        ),
      ),
    );
  }
  return used;
}

function lineVersionOf(payload: { ledgerLineVersion?: number }): LedgerLineVersion {
  return payload.ledgerLineVersion === 2 ? 2 : 1;
}

/** The leaves holding the wanted rows of one batch, each with its path to the batch root. */
async function proveBatch(
  store: Store,
  batchId: number,
  /** The rows wanted, by `idempotencyKey:version`, to their ledger row id. */
  wanted: ReadonlyMap<string, number>,
  readingLines: Map<number, string>,
): Promise<{
  auditSeq: number;
  leaves: ProvenLeaf[];
  deliveryId: string;
  range: [number, number];
}> {
  const batch = await store.getBatch(batchId);
  if (batch === null) throw new AmisyncError('NOT_FOUND', `batch ${batchId} is gone`);
  const entry = await store.getAuditEntry(batch.auditSeq);
  if (entry === null) throw new AmisyncError('NOT_FOUND', `audit entry ${batch.auditSeq} is gone`);
  const payload = JSON.parse(entry.payload) as {
    ledgerRowsPerLeaf?: number;
    ledgerLineVersion?: number;
  };
  const rowsPerLeaf = payload.ledgerRowsPerLeaf ?? 1;
  const version = lineVersionOf(payload);
  const rows: LedgerRow[] = await store.ledgerRowsOfBatch(batchId);
  const lines = rows.map((row) => ledgerLine(row, version));
  const treeSize = Math.ceil(lines.length / rowsPerLeaf);
  const hashes = Array.from({ length: treeSize }, (_, index) =>
    leafHash(leafBlockData(lines, index, rowsPerLeaf)),
  );
  const leafIndexes = new Set<number>();
  rows.forEach((row, position) => {
    const id = wanted.get(`${row.idempotencyKey}:${row.version}`);
    if (id === undefined) return;
    readingLines.set(id, lines[position] ?? '');
    leafIndexes.add(Math.floor(position / rowsPerLeaf));
  });
  const leaves = [...leafIndexes]
    .sort((a, b) => a - b)
    .map((leafIndex) => ({
      leafIndex,
      leafData: leafBlockData(lines, leafIndex, rowsPerLeaf),
      auditPath: inclusionProof(hashes, leafIndex),
    }));
  return {
    auditSeq: batch.auditSeq,
    leaves,
    deliveryId: batch.deliveryId,
    range: [batch.byteOffset, batch.byteLength],
  };
}

async function chainSegment(store: Store, fromSeq: number, toSeq: number) {
  const entries: AuditEntryRow[] = [];
  for (let seq = fromSeq; seq <= toSeq; seq += 1) {
    const entry = await store.getAuditEntry(seq);
    if (entry === null) throw new AmisyncError('NOT_FOUND', `audit entry ${seq} is gone`);
    entries.push(entry);
  }
  return entries;
}

async function coveringCheckpoint(
  store: Store,
  auditSeq: number,
  key: SigningKey,
  nowMs: number,
): Promise<CheckpointRow> {
  const signed = (await store.listCheckpoints())
    .filter((c) => c.auditSeq >= auditSeq && c.keyFingerprint === key.fingerprint)
    .sort((a, b) => a.auditSeq - b.auditSeq)[0];
  if (signed !== undefined) return signed;
  const written = await writeCheckpoint(store, key, nowMs);
  if (written === null) throw new AmisyncError('NOT_FOUND', 'the audit chain is empty');
  return written;
}

export interface BillProveInput {
  store: Store;
  billing: BillingStore;
  invoiceId: number;
  out: string;
  key: SigningKey;
  nowMs: number;
}

export async function writeBillProof(input: BillProveInput): Promise<BillProofSummary> {
  const { store, billing, invoiceId, out } = input;
  const invoice = await billing.getInvoice(invoiceId);
  if (invoice === null)
    throw new AmisyncError('NOT_FOUND', `no invoice ${invoiceId} (amisync bill list)`);
  const basis = JSON.parse(invoice.basisJson) as BillBasis;
  const used = await usedRows(billing, invoice, basis);
  const batchOf = await billing.batchIdsOfLedgerRows(used.map((row) => row.id));
  const byBatch = new Map<number, Map<string, number>>();
  for (const row of used) {
    const batchId = batchOf.get(row.id);
    if (batchId === undefined) throw new AmisyncError('NOT_FOUND', `ledger row ${row.id} is gone`);
    const wanted = byBatch.get(batchId) ?? new Map<string, number>();
    byBatch.set(batchId, wanted.set(`${row.idempotencyKey}:${row.version}`, row.id));
  }
  mkdirSync(join(out, 'tariffs'), { recursive: true });
  mkdirSync(join(out, 'raw'), { recursive: true });
  const readingLines = new Map<number, string>();
  const batches: BatchProof[] = [];
  let rawBytes = 0;
  for (const [batchId, ids] of [...byBatch].sort((a, b) => a[0] - b[0])) {
    const proven = await proveBatch(store, batchId, ids, readingLines);
    const [byteOffset, byteLength] = proven.range;
    const bytes = await store.readDeliveryBytes(proven.deliveryId, byteOffset, byteLength);
    const file = rawBytes + bytes.length <= RAW_BYTES_MAX ? `raw/batch-${batchId}.bin` : null;
    if (file !== null) {
      writeFileSync(join(out, file), bytes);
      rawBytes += bytes.length;
    }
    batches.push({
      batchId,
      auditSeq: proven.auditSeq,
      leaves: proven.leaves,
      raw: {
        file,
        sha256: hash('sha256', bytes, 'hex'),
        byteLength: bytes.length,
        deliveryId: proven.deliveryId,
      },
    });
  }
  const lines = used.map((row) => readingLines.get(row.id) ?? '');
  const earlier = (
    await billing.listInvoices({ accountId: invoice.accountId, period: invoice.period })
  )
    .filter((row) => row.id < invoice.id)
    .map((row) => ({
      invoiceId: row.id,
      auditSeq: row.auditSeq,
      lines: JSON.parse(row.linesJson) as InvoiceLine[],
    }));
  const checkpoint = await coveringCheckpoint(store, invoice.auditSeq, input.key, input.nowMs);
  const firstSeq = Math.min(
    invoice.auditSeq,
    ...batches.map((b) => b.auditSeq),
    ...earlier.map((e) => e.auditSeq),
  );
  const chain = await chainSegment(store, firstSeq, checkpoint.auditSeq);
  const tariffFiles: Record<string, string> = {};
  for (const sp of basis.servicePoints) {
    const tariff = await billing.findTariffBySha256(sp.tariffSha256);
    if (tariff === null) throw new AmisyncError('NOT_FOUND', `tariff ${sp.tariffSha256} is gone`);
    tariffFiles[sp.tariffSha256] = `tariffs/${sp.tariffSha256}.json`;
    writeFileSync(join(out, `tariffs/${sp.tariffSha256}.json`), tariff.json);
  }
  const readingsRoot = merkleRootOfLeafData(lines);
  const bundle = {
    format: BILL_PROOF_FORMAT,
    invoice: {
      invoiceId: invoice.id,
      accountId: invoice.accountId,
      period: invoice.period,
      kind: invoice.kind,
      totalCents: invoice.totalCents,
      lines: JSON.parse(invoice.linesJson) as InvoiceLine[],
      taxPercent: basis.taxPercent,
      ledgerRowIdMax: invoice.ledgerRowIdMax,
      ledgerDigest: invoice.ledgerDigest,
      ledgerRows: invoice.ledgerRows,
      auditSeq: invoice.auditSeq,
    },
    servicePoints: basis.servicePoints.map((sp) => ({
      ...sp,
      tariffFile: tariffFiles[sp.tariffSha256],
    })),
    earlier,
    readings: { root: readingsRoot, count: lines.length, lines },
    batches,
    chain,
    checkpoint,
    publicKeyFile: 'public-key.pem',
  };
  writeFileSync(join(out, 'public-key.pem'), input.key.publicKeyPem);
  writeFileSync(join(out, 'bundle.json'), `${JSON.stringify(bundle, null, 1)}\n`);
  return {
    invoiceId,
    out,
    readings: lines.length,
    readingsRoot,
    batches: batches.length,
    chainEntries: chain.length,
    checkpoint: { auditSeq: checkpoint.auditSeq, headHash: checkpoint.headHash },
  };
}
