/**
 * `amisync bill prove INVOICE --out DIR`: a self-contained bundle from which anyone can check an
 * invoice without amisync (scripts/check-bill-proof.mjs does, with node:crypto only): the
 * invoice's lines and determinants, each tariff's stored JSON, every ledger reading used (its
 * audited line) with a Merkle root over them, each reading's Merkle leaf and RFC 6962 path to
 * its batch's ledger root, the audit chain from the first batch to a signed checkpoint that covers
 * the invoice's own entry, the public key, and the raw bytes of each batch's delivery range. An
 * AMR service point (billed from register reads) also carries its register part: each pair of
 * reads used, with rollover, multiplier, estimates and the share prorated into the period.
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
import {
  recomputeServicePoints,
  type BillBasis,
  type ServicePointBill,
} from '../../billing/billing.js';
import type { BillingReading, MeterSpan } from '../../billing/determinants.js';
import { energyWithinMicro, type RegisterUse } from '../../billing/register.js';
import type { InvoiceLine } from '../../billing/invoice.js';
import type { BillingStore } from '../../core/billing-store.js';
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

/** One register read a use names: the ledger row and the figures billing took from it. */
interface RegisterReadProof {
  key: string;
  version: number;
  atMs: number;
  valueMicro: number;
  quality: string;
}

/**
 * One span between two consecutive register reads that the invoice billed, with every figure
 * between the reads and the bill (docs/billing.md, "The register part of a bundle").
 */
interface RegisterUseProof {
  meterId: string;
  channel: string;
  start: RegisterReadProof;
  end: RegisterReadProof;
  registerDigits: number | null;
  multiplier: number;
  rollover: boolean;
  estimated: boolean;
  /** end - start, or across the rollover, millionths of a kWh (before the multiplier). */
  differenceMicro: number;
  /** differenceMicro x multiplier: the energy of the whole read span. */
  energyMicro: number;
  /** The part of energyMicro prorated into the meter's spans of the invoice's period. */
  billedMicro: number;
}

interface RegisterProof {
  /** Merkle root (RFC 6962) over the ledger lines of the reads the uses name, in that order. */
  readsRoot: string;
  reads: number;
  uses: RegisterUseProof[];
}

function readProof(read: BillingReading): RegisterReadProof {
  return {
    key: read.idempotencyKey,
    version: read.version,
    atMs: read.intervalStartMs,
    valueMicro: read.valueMicro,
    quality: read.quality,
  };
}

function useProof(use: RegisterUse, spans: readonly MeterSpan[]): RegisterUseProof {
  const span = spans.find((s) => s.meterId === use.meterId);
  const multiplier = span?.multiplier ?? 1;
  const billedMicro = spans
    .filter((s) => s.meterId === use.meterId)
    .reduce(
      (sum, s) =>
        sum + energyWithinMicro(use, Math.max(s.fromMs, use.fromMs), Math.min(s.toMs, use.toMs)),
      0,
    );
  return {
    meterId: use.meterId,
    channel: use.channel,
    start: readProof(use.reads[0]),
    end: readProof(use.reads[1]),
    registerDigits: span?.registerDigits ?? null,
    multiplier,
    rollover: use.rollover,
    estimated: use.estimated,
    differenceMicro: use.energyMicro / multiplier,
    energyMicro: use.energyMicro,
    billedMicro,
  };
}

/** The register part of an AMR service point's bundle entry; null for an interval one. */
function registerProof(
  bill: ServicePointBill,
  lineOf: (key: string, version: number) => string,
): RegisterProof | null {
  if (bill.kind !== 'register') return null;
  const uses = bill.registerUses.map((use) => useProof(use, bill.basis.spans));
  const named = new Map<string, string>();
  for (const use of uses) {
    for (const read of [use.start, use.end]) {
      named.set(`${read.key}:${read.version}`, lineOf(read.key, read.version));
    }
  }
  const lines = [...named.values()];
  return { readsRoot: merkleRootOfLeafData(lines), reads: lines.length, uses };
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
  const bills = await recomputeServicePoints(billing, invoice);
  const used = bills.flatMap((bill) => bill.rows);
  const batchOf = await billing.batchIdsOfLedgerRows(used);
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
  const lineById = new Map(used.map((row) => [`${row.idempotencyKey}:${row.version}`, row.id]));
  const lineOf = (key: string, version: number): string =>
    readingLines.get(lineById.get(`${key}:${version}`) ?? -1) ?? '';
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
    servicePoints: basis.servicePoints.map((sp, index) => {
      const bill = bills[index];
      const register = bill === undefined ? null : registerProof(bill, lineOf);
      return {
        ...sp,
        tariffFile: tariffFiles[sp.tariffSha256],
        ...(register === null ? {} : { register }),
      };
    }),
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
