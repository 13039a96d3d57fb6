/**
 * `audit prove <key>`: an inclusion proof that a ledger reading is part of a committed batch whose
 * root is in the hash chain, and that a signed checkpoint covers that entry. The proof is printed
 * so an auditor can check it with any RFC 6962 implementation; it is also checked here.
 */
import type { KeyObject } from 'node:crypto';
import type { LedgerRow, Store } from '../core/store.js';
import { verifyCheckpoint } from './checkpoint.js';
import { ChainVerifier } from './hash-chain.js';
import { ledgerLine, type LedgerLineVersion } from './leaves.js';
import { inclusionProof, leafBlockData, leafHash, verifyInclusion } from './merkle.js';

export interface ReadingProof {
  row: LedgerRow;
  /** The row's own line; it is line `rowInLeaf` (from 0) of `leafData`. */
  rowLine: string;
  rowInLeaf: number;
  rowsPerLeaf: number;
  /** The leaf's entry bytes as text: the lines of its rows joined by a newline. */
  leafData: string;
  leafHash: string;
  leafIndex: number;
  treeSize: number;
  auditPath: string[];
  ledgerRoot: string;
  auditEntry: { seq: number; hash: string; prevHash: string; atMs: number };
  checkpoint: { auditSeq: number; headHash: string; signatureValid: boolean } | null;
  checks: {
    inclusion: boolean;
    rootMatchesEntry: boolean;
    chainValid: boolean;
    checkpointCovers: boolean;
  };
  verified: boolean;
}

export interface ProveReport {
  idempotencyKey: string;
  proofs: ReadingProof[];
  verified: boolean;
}

async function chainIsValid(store: Store): Promise<boolean> {
  const verifier = new ChainVerifier();
  for await (const page of store.iterateAuditEntries()) {
    for (const entry of page) if (verifier.push(entry) !== null) return false;
  }
  return true;
}

async function proveRow(
  store: Store,
  row: LedgerRow,
  publicKey: KeyObject | null,
  chainValid: boolean,
): Promise<ReadingProof | null> {
  const batch = await store.getBatch(row.batchId);
  if (batch === null) return null;
  const entry = await store.getAuditEntry(batch.auditSeq);
  if (entry === null) return null;
  const rows = await store.ledgerRowsOfBatch(row.batchId);
  const claim = JSON.parse(entry.payload) as {
    ledgerRoot: string;
    ledgerRowsPerLeaf?: number;
    ledgerLineVersion?: number;
  };
  const lineVersion: LedgerLineVersion = claim.ledgerLineVersion === 2 ? 2 : 1;
  const claimedRoot = claim.ledgerRoot;
  // The claim is untrusted: a rows-per-leaf it cannot mean is read as 1, and the proof fails.
  const perLeaf = claim.ledgerRowsPerLeaf;
  const rowsPerLeaf =
    Number.isSafeInteger(perLeaf) && (perLeaf as number) >= 1 ? (perLeaf as number) : 1;
  const lines = rows.map((r) => ledgerLine(r, lineVersion));
  const treeSize = Math.ceil(lines.length / rowsPerLeaf);
  const leaves: Buffer[] = [];
  for (let index = 0; index < treeSize; index++) {
    leaves.push(leafHash(leafBlockData(lines, index, rowsPerLeaf)));
  }
  const leafIndex = Math.floor(row.batchPosition / rowsPerLeaf);
  const leafData = leafBlockData(lines, leafIndex, rowsPerLeaf);
  const rowLine = ledgerLine(row, lineVersion);
  const rowInLeaf = row.batchPosition - leafIndex * rowsPerLeaf;
  const leaf = leafHash(leafData);
  const path = inclusionProof(leaves, leafIndex);
  const inclusion =
    leafData.split('\n')[rowInLeaf] === rowLine &&
    verifyInclusion(leaf, leafIndex, treeSize, path, claimedRoot);
  const checkpoints = await store.listCheckpoints();
  const covering = checkpoints.find((c) => c.auditSeq >= entry.seq) ?? null;
  // The signed head must still be the stored entry at its seq; a chain rewritten after signing,
  // however consistent in itself, fails here.
  const signedEntry = covering === null ? null : await store.getAuditEntry(covering.auditSeq);
  const signatureValid =
    covering !== null &&
    publicKey !== null &&
    signedEntry?.hash === covering.headHash &&
    verifyCheckpoint(publicKey, covering);
  const checks = {
    inclusion,
    rootMatchesEntry: claimedRoot === batch.ledgerRoot,
    chainValid,
    checkpointCovers: signatureValid,
  };
  return {
    row,
    rowLine,
    rowInLeaf,
    rowsPerLeaf,
    leafData,
    leafHash: leaf.toString('hex'),
    leafIndex,
    treeSize,
    auditPath: path,
    ledgerRoot: claimedRoot,
    auditEntry: { seq: entry.seq, hash: entry.hash, prevHash: entry.prevHash, atMs: entry.atMs },
    checkpoint:
      covering === null
        ? null
        : { auditSeq: covering.auditSeq, headHash: covering.headHash, signatureValid },
    checks,
    verified: Object.values(checks).every(Boolean),
  };
}

export async function proveReading(
  store: Store,
  key: string,
  publicKey: KeyObject | null,
): Promise<ProveReport> {
  const rows = await store.findLedgerRowsByKey(key.toLowerCase());
  const chainValid = rows.length > 0 && (await chainIsValid(store));
  const proofs: ReadingProof[] = [];
  for (const row of rows) {
    const proof = await proveRow(store, row, publicKey, chainValid);
    if (proof !== null) proofs.push(proof);
  }
  return {
    idempotencyKey: key.toLowerCase(),
    proofs,
    verified: proofs.length > 0 && proofs.length === rows.length && proofs.every((p) => p.verified),
  };
}
