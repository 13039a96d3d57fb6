/**
 * `audit prove` over leaves that hold blocks of rows: every row of a batch, wherever it falls in
 * its block, gets a proof an auditor can check with nothing but SHA-256 and RFC 9162's algorithm.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openHarness, type Harness } from '../test-support/ingest-harness.js';
import { removeTempDirs } from '../test-support/temp.js';
import { toNdjsonText, kwhText } from '../test-support/wire-text.js';
import { LEDGER_LINE_VERSION, LEDGER_ROWS_PER_LEAF, ledgerLine } from './leaves.js';
import { proveReading } from './prove.js';

afterAll(removeTempDirs);

const ROWS = 2 * LEDGER_ROWS_PER_LEAF + 13;
const START_MS = Date.UTC(2026, 2, 1);

function feed(): string {
  return toNdjsonText(
    Array.from({ length: ROWS }, (_, index) => ({
      meter_id: 'MTR-0A1B2C3D',
      timestamp_utc: new Date(START_MS + index * 900_000).toISOString(),
      consumption_kwh: kwhText(1_000 + index),
      status_code: 0,
      seq: index + 1,
    })),
  );
}

function sha256(...parts: Buffer[]): Buffer {
  const hasher = createHash('sha256');
  for (const part of parts) hasher.update(part);
  return hasher.digest();
}

/** RFC 9162 section 2.1.3.2, written out again here so the test does not trust merkle.ts. */
function rootFromPath(leaf: Buffer, index: number, size: number, path: string[]): string {
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const hex of path) {
    const p = Buffer.from(hex, 'hex');
    if (fn % 2 === 1 || fn === sn) {
      r = sha256(Buffer.of(1), p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      r = sha256(Buffer.of(1), r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return r.toString('hex');
}

describe('audit prove with blocks of rows per leaf', () => {
  let harness: Harness;
  const { publicKey } = generateKeyPairSync('ed25519');

  beforeEach(() => {
    harness = openHarness();
  });
  afterEach(async () => {
    await harness.close();
  });

  it('gives every row a proof that checks out by hand against the batch root', async () => {
    await harness.ingest(feed());
    const rows = await harness.store.ledgerRowsOfBatch(1);
    expect(rows).toHaveLength(ROWS);
    for (const row of rows) {
      const report = await proveReading(harness.store, row.idempotencyKey, publicKey);
      const proof = report.proofs[0];
      if (proof === undefined) throw new Error('no proof');
      expect(proof.rowsPerLeaf).toBe(LEDGER_ROWS_PER_LEAF);
      expect(proof.leafIndex).toBe(Math.floor(row.batchPosition / LEDGER_ROWS_PER_LEAF));
      expect(proof.rowInLeaf).toBe(row.batchPosition % LEDGER_ROWS_PER_LEAF);
      expect(proof.treeSize).toBe(Math.ceil(ROWS / LEDGER_ROWS_PER_LEAF));
      expect(proof.rowLine).toBe(ledgerLine(row, LEDGER_LINE_VERSION));
      expect(proof.leafData.split('\n')[proof.rowInLeaf]).toBe(proof.rowLine);
      const leaf = sha256(Buffer.of(0), Buffer.from(proof.leafData, 'utf8'));
      expect(leaf.toString('hex')).toBe(proof.leafHash);
      expect(rootFromPath(leaf, proof.leafIndex, proof.treeSize, proof.auditPath)).toBe(
        proof.ledgerRoot,
      );
      expect(proof.checks.inclusion).toBe(true);
      expect(proof.checks.rootMatchesEntry).toBe(true);
    }
  });

  it('fails the proofs of rows in the edited block and in other blocks of the batch', async () => {
    await harness.ingest(feed());
    const rows = await harness.store.ledgerRowsOfBatch(1);
    const target = rows[LEDGER_ROWS_PER_LEAF + 2];
    const otherBlock = rows[2];
    if (target === undefined || otherBlock === undefined) throw new Error('rows missing');
    const db = harness.store.db;
    db.exec('DROP TRIGGER ledger_no_update');
    db.prepare('UPDATE ledger SET value_micro = value_micro + 1 WHERE id = ?').run(
      // The first row of the target's block.
      (
        db
          .prepare('SELECT id FROM ledger WHERE batch_id = 1 AND batch_position = ?')
          .get(LEDGER_ROWS_PER_LEAF) as { id: number }
      ).id,
    );
    const broken = await proveReading(harness.store, target.idempotencyKey, publicKey);
    expect(broken.proofs[0]?.checks.inclusion).toBe(false);
    // A row in another block has its own leaf intact, but the path is recomputed from the ledger as
    // it now is, so it no longer leads to the root the audit entry recorded.
    const other = await proveReading(harness.store, otherBlock.idempotencyKey, publicKey);
    expect(other.proofs[0]?.checks.inclusion).toBe(false);
  });
});
