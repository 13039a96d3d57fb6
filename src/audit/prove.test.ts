/**
 * `audit prove` over leaves that hold blocks of rows: every row of a batch, wherever it falls in
 * its block, gets a proof an auditor can check with nothing but SHA-256 and RFC 9162's algorithm.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openHarness, type Harness } from '../test-support/ingest-harness.js';
import { removeTempDirs } from '../test-support/temp.js';
import { toNdjsonText, kwhText } from '../test-support/wire-text.js';
import { tempDir } from '../test-support/temp.js';
import { canonicalJson } from './canonical-json.js';
import { loadOrCreateSigningKey } from './checkpoint.js';
import { computeEntryHash } from './hash-chain.js';
import { LEDGER_LINE_VERSION, LEDGER_ROWS_PER_LEAF, ledgerLeafData, ledgerLine } from './leaves.js';
import { merkleRootOfLeafData } from './merkle.js';
import { writeCheckpoint } from './record.js';
import { verifyAudit } from './verify.js';
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

describe('batch entries written before leaves held blocks of rows', () => {
  /**
   * Rewrites every batch entry as the earlier format wrote it (one row per leaf, v1 lines, no
   * ledgerRowsPerLeaf or ledgerLineVersion), rehashes the chain and signs its head anew: a
   * database as the earlier version left it, so verify and prove must read it as it was written.
   */
  function asEarlierFormat(harness: Harness): void {
    const db = harness.store.db;
    for (const trigger of ['audit_log_no_update', 'checkpoints_no_delete', 'batches_no_update']) {
      db.exec(`DROP TRIGGER IF EXISTS ${trigger}`);
    }
    db.exec('DELETE FROM checkpoints');
    const entries = db.prepare('SELECT * FROM audit_log ORDER BY seq').all() as Record<
      string,
      unknown
    >[];
    const write = db.prepare(
      'UPDATE audit_log SET payload = ?, prev_hash = ?, hash = ? WHERE seq = ?',
    );
    let prevHash = '0'.repeat(64);
    for (const entry of entries) {
      let payload = entry['payload'] as string;
      if (entry['kind'] === 'batch') {
        const parsed = JSON.parse(payload) as Record<string, unknown>;
        const rows = db
          .prepare('SELECT * FROM ledger WHERE batch_id = ? ORDER BY batch_position')
          .all(parsed['batch']) as Record<string, unknown>[];
        const lines = rows.map((row) =>
          ledgerLeafData({
            meterId: row['meter_id'] as string,
            channel: row['channel'] as string,
            intervalStartMs: row['interval_start_ms'] as number,
            intervalSeconds: row['interval_seconds'] as number,
            commodity: 'electricity',
            unit: 'kWh',
            valueMicro: row['value_micro'] as number,
            statusCode: row['status_code'] as number,
            seq: row['seq'] as number,
            quality: 'actual',
            qualityDetail: null,
            checksumSha256: (row['checksum_sha256'] as string | null) ?? null,
            idempotencyKey: row['idempotency_key'] as string,
            version: row['version'] as number,
            supersedesKey: (row['supersedes_key'] as string | null) ?? null,
            batchId: row['batch_id'] as number,
            batchPosition: row['batch_position'] as number,
          }),
        );
        const { ledgerRowsPerLeaf, ledgerLineVersion, ...earlier } = parsed;
        expect([ledgerRowsPerLeaf, ledgerLineVersion]).toEqual([LEDGER_ROWS_PER_LEAF, 2]);
        const ledgerRoot = merkleRootOfLeafData(lines);
        db.prepare('UPDATE batches SET ledger_root = ? WHERE id = ?').run(
          ledgerRoot,
          parsed['batch'],
        );
        payload = canonicalJson({ ...earlier, ledgerRoot });
      }
      const seq = entry['seq'] as number;
      const hash = computeEntryHash(
        prevHash,
        seq,
        entry['at_ms'] as number,
        entry['kind'] as string,
        payload,
      );
      write.run(payload, prevHash, hash, seq);
      prevHash = hash;
    }
  }

  it('verifies and proves them as they were written, and still finds an edited row', async () => {
    const harness = openHarness();
    try {
      await harness.ingest(feed());
      asEarlierFormat(harness);
      const { key } = loadOrCreateSigningKey(join(tempDir(), 'signing-key.pem'));
      await writeCheckpoint(harness.store, key, harness.clock.nowMs());
      const report = await verifyAudit(harness.store, key.publicKey);
      expect(report.firstProblem).toBeNull();
      const [row] = await harness.store.ledgerRowsOfBatch(1);
      const proof = await proveReading(harness.store, row?.idempotencyKey ?? '', key.publicKey);
      expect(proof.verified).toBe(true);
      expect(proof.proofs[0]).toMatchObject({ rowsPerLeaf: 1, treeSize: ROWS });
      expect(proof.proofs[0]?.rowLine.startsWith('ledger-v1|')).toBe(true);
      harness.store.db.exec('DROP TRIGGER IF EXISTS ledger_no_update');
      harness.store.db.exec('UPDATE ledger SET value_micro = value_micro + 1 WHERE id = 3');
      const edited = await verifyAudit(harness.store, key.publicKey);
      expect(edited.firstProblem?.reason).toMatch(/Merkle root/);
    } finally {
      await harness.close();
    }
  });
});
