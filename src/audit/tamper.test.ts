// Goal: verifyAudit catches every edit, deletion, insertion or reordering and names its entry.
// Method: per attack, copy a pipeline-built SQLite ledger, drop its triggers, tamper and verify.
import { sign } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CountingRandom, ManualClock } from '../core/clock.js';
import { idempotencyKey } from '../core/identity.js';
import { DEFAULT_DICTIONARY, dictionaryFingerprint } from '../dictionary/dictionary.js';
import { ingestDelivery } from '../pipeline/ingest.js';
import { acceptQuarantined, rejectQuarantined } from '../pipeline/quarantine.js';
import { generateFeed, toNdjson } from '../simulator/feed-generator.js';
import { ledgerFrom, openSqliteStore } from '../store/sqlite/sqlite-store.js';
import { APPEND_ONLY_TRIGGERS, dropAllTriggers, tamperCopy } from '../test-support/attacker.js';
import { removeTempDirs, tempDir } from '../test-support/temp.js';
import {
  checkpointMessage,
  loadOrCreateSigningKey,
  type Checkpoint,
  type SigningKey,
} from './checkpoint.js';
import { canonicalJson } from './canonical-json.js';
import { computeEntryHash } from './hash-chain.js';
import { LEDGER_LINE_VERSION, LEDGER_ROWS_PER_LEAF, ledgerRootOf } from './leaves.js';
import { proveReading } from './prove.js';
import { recordConfig, writeCheckpoint } from './record.js';
import { verifyAudit, type VerifyReport } from './verify.js';

type Row = Record<string, unknown>;
type Db = Database.Database;

interface BatchFact {
  id: number;
  kind: string;
  auditSeq: number;
  accepted: number;
  quarantined: number;
}

interface LedgerFact {
  id: number;
  batchId: number;
  batchPosition: number;
  row: Row;
}

interface QuarantineFact {
  id: number;
  batchId: number;
  deliveryId: string;
  byteOffset: number;
  byteLength: number;
  firstCode: string;
}

/** What the untampered ledger holds, read once, so every attack knows its target and answer. */
interface Facts {
  batches: BatchFact[];
  ledger: LedgerFact[];
  quarantine: QuarantineFact[];
  auditKinds: Map<number, string>;
  checkpoint: Checkpoint;
}

const START_MS = Date.UTC(2026, 1, 2);
const clock = new ManualClock(Date.UTC(2026, 2, 1));
const LEDGER_COLUMNS_TAMPERED = [
  'value_micro',
  'meter_id',
  'interval_start_ms',
  'quality',
  'status_code',
  'version',
  'batch_position',
] as const;

let basePath = '';
let key: SigningKey;
let facts: Facts;

async function* chunksOf(bytes: Buffer, size: number): AsyncIterable<Uint8Array> {
  for (let at = 0; at < bytes.byteLength; at += size) yield bytes.subarray(at, at + size);
}

async function buildLedger(path: string): Promise<void> {
  const store = openSqliteStore(path, { nowMs: () => clock.nowMs() });
  try {
    const dictionary = DEFAULT_DICTIONARY;
    await recordConfig(store, dictionaryFingerprint(dictionary), dictionary, clock.nowMs());
    const feed = generateFeed({
      seed: 41,
      meters: 4,
      startMs: START_MS,
      intervals: 60,
      estimateRate: 0.1,
      retransmitRate: 0.06,
      conflictRate: 0.06,
      badRate: 0.06,
      checksumRate: 0.3,
    });
    const bytes = Buffer.from([...toNdjson(feed.records)].join(''), 'utf8');
    const report = await ingestDelivery(chunksOf(bytes, 4096), {
      store,
      dictionary,
      clock,
      random: new CountingRandom(),
      format: 'ndjson',
      name: 'feed.ndjson',
      sourceId: 'tamper-test',
      batchReadingsMax: 50,
    });
    expect(report.batches).toBeGreaterThanOrEqual(5);
    expect(report.counts.conflicts).toBeGreaterThan(0);
    expect(report.counts.revisions).toBeGreaterThan(0);
    await operatorActions(store);
    clock.advanceMs(1000);
    const checkpoint = await writeCheckpoint(store, key, clock.nowMs());
    expect(checkpoint).not.toBeNull();
  } finally {
    await store.close();
  }
}

/** An override batch, then two rejections: the chain ends in entries that cover no rows. */
async function operatorActions(store: ReturnType<typeof openSqliteStore>): Promise<void> {
  const context = { store, dictionary: DEFAULT_DICTIONARY, clock, actor: 'tamper-test' };
  const open = await store.listQuarantine({ status: 'open', limit: 1000 });
  const conflict = open.find((row) => row.violations[0]?.code === 'identity.conflict');
  const invalid = open.filter((row) => !row.violations[0]?.code.startsWith('identity.'));
  expect(conflict).toBeDefined();
  expect(invalid.length).toBeGreaterThanOrEqual(3);
  clock.advanceMs(1000);
  await acceptQuarantined(context, conflict?.id ?? 0, 'vendor confirmed the second value');
  for (const row of invalid.slice(-2)) {
    clock.advanceMs(1000);
    await rejectQuarantined(context, row.id, 'vendor cannot resend this record');
  }
}

function readFacts(path: string): Facts {
  const db = new Database(path, { readonly: true });
  try {
    const batches = (db.prepare('SELECT * FROM batches ORDER BY id').all() as Row[]).map((row) => ({
      id: row.id as number,
      kind: row.kind as string,
      auditSeq: row.audit_seq as number,
      accepted: row.accepted as number,
      quarantined: row.quarantined as number,
    }));
    const ledger = (db.prepare('SELECT * FROM ledger ORDER BY id').all() as Row[]).map((row) => ({
      id: row.id as number,
      batchId: row.batch_id as number,
      batchPosition: row.batch_position as number,
      row,
    }));
    const quarantine = (db.prepare('SELECT * FROM quarantine ORDER BY id').all() as Row[]).map(
      (row) => ({
        id: row.id as number,
        batchId: row.batch_id as number,
        deliveryId: row.delivery_id as string,
        byteOffset: row.byte_offset as number,
        byteLength: row.byte_length as number,
        firstCode: row.first_code as string,
      }),
    );
    const auditKinds = new Map(
      (db.prepare('SELECT seq, kind FROM audit_log').all() as Row[]).map((row) => [
        row.seq as number,
        row.kind as string,
      ]),
    );
    const checkpointRow = db.prepare('SELECT * FROM checkpoints ORDER BY id DESC').get() as Row;
    const checkpoint: Checkpoint = {
      auditSeq: checkpointRow.audit_seq as number,
      headHash: checkpointRow.head_hash as string,
      atMs: checkpointRow.at_ms as number,
      keyFingerprint: checkpointRow.key_fingerprint as string,
      signature: checkpointRow.signature as string,
    };
    return { batches, ledger, quarantine, auditKinds, checkpoint };
  } finally {
    db.close();
  }
}

function batchSeq(batchId: number): number {
  const batch = facts.batches.find((b) => b.id === batchId);
  if (batch === undefined) throw new Error(`no batch ${batchId}`);
  return batch.auditSeq;
}

/** Ingest batches with at least four ledger rows: [0] is B, [1] is C in the attacks below. */
function richBatches(): BatchFact[] {
  return facts.batches.filter((b) => b.kind === 'ingest' && b.accepted >= 4).slice(1);
}

function rowsOf(batchId: number): LedgerFact[] {
  return facts.ledger.filter((row) => row.batchId === batchId);
}

function at<T>(items: readonly T[], index: number): T {
  const item = items[index];
  if (item === undefined) throw new Error(`no item at ${index}`);
  return item;
}

/** A quarantined record that failed validation, in an ingest batch other than the first. */
function invalidRecord(): QuarantineFact {
  const firstIngest = facts.batches.find((b) => b.kind === 'ingest')?.id;
  const found = facts.quarantine.find(
    (q) => q.batchId !== firstIngest && !q.firstCode.startsWith('identity.'),
  );
  if (found === undefined) throw new Error('no quarantined invalid record past the first batch');
  return found;
}

async function verifyFile(path: string): Promise<VerifyReport> {
  const store = openSqliteStore(path, { nowMs: () => clock.nowMs() });
  try {
    return await verifyAudit(store, key.publicKey);
  } finally {
    await store.close();
  }
}

async function attack(tamper: (db: Db) => void): Promise<VerifyReport> {
  const path = join(tempDir('amisync-tamper-'), 'attacked.db');
  tamperCopy(basePath, path, tamper);
  return verifyFile(path);
}

function insertRow(db: Db, table: string, row: Row): void {
  const columns = Object.keys(row);
  const placeholders = columns.map(() => '?').join(', ');
  db.prepare(`INSERT INTO ${table} (${columns.join(', ')}) VALUES (${placeholders})`).run(
    ...columns.map((column) => row[column]),
  );
}

/** Exchanges everything but the row ids of two ledger rows: the rows trade places. */
function swapLedgerRows(db: Db, a: LedgerFact, b: LedgerFact): void {
  db.prepare('DELETE FROM ledger WHERE id IN (?, ?)').run(a.id, b.id);
  insertRow(db, 'ledger', { ...b.row, id: a.id });
  insertRow(db, 'ledger', { ...a.row, id: b.id });
}

function swapAuditEntries(db: Db, seqA: number, seqB: number): void {
  const read = db.prepare('SELECT * FROM audit_log WHERE seq = ?');
  const a = read.get(seqA) as Row;
  const b = read.get(seqB) as Row;
  const write = db.prepare(
    'UPDATE audit_log SET at_ms = ?, kind = ?, payload = ?, prev_hash = ?, hash = ? WHERE seq = ?',
  );
  write.run(b.at_ms, b.kind, b.payload, b.prev_hash, b.hash, seqA);
  write.run(a.at_ms, a.kind, a.payload, a.prev_hash, a.hash, seqB);
}

/** The raw chunk of a delivery that holds `offset`, and where `offset` falls inside it. */
function chunkHolding(db: Db, deliveryId: string, offset: number) {
  const chunk = db
    .prepare(
      `SELECT c.byte_offset AS offset, r.sha256 AS sha256, r.bytes AS bytes FROM delivery_chunks c
       JOIN raw_chunks r ON r.sha256 = c.chunk_sha256
       WHERE c.delivery_id = ? AND c.byte_offset <= ? AND c.byte_offset + c.byte_length > ?`,
    )
    .get(deliveryId, offset, offset) as { offset: number; sha256: string; bytes: Buffer };
  return { ...chunk, inside: offset - chunk.offset };
}

interface Attack {
  name: string;
  tamper: (db: Db) => void;
  /** The audit entry verify must name first; null when no entry covers the tampered row. */
  expectedSeq: () => number | null;
}

const ATTACKS: Attack[] = [
  {
    name: "edits one ledger row's energy",
    tamper: (db) => {
      const target = at(rowsOf(at(richBatches(), 0).id), 2);
      db.prepare('UPDATE ledger SET value_micro = value_micro + 1 WHERE id = ?').run(target.id);
    },
    expectedSeq: () => at(richBatches(), 0).auditSeq,
  },
  {
    name: 'deletes one ledger row',
    tamper: (db) => {
      const target = at(rowsOf(at(richBatches(), 0).id), 1);
      db.prepare('DELETE FROM ledger WHERE id = ?').run(target.id);
    },
    expectedSeq: () => at(richBatches(), 0).auditSeq,
  },
  {
    name: 'swaps two ledger rows within a batch',
    tamper: (db) => {
      const rows = rowsOf(at(richBatches(), 0).id);
      swapLedgerRows(db, at(rows, 1), at(rows, 3));
    },
    expectedSeq: () => at(richBatches(), 0).auditSeq,
  },
  {
    name: 'swaps two ledger rows across batches (the earlier batch is named)',
    tamper: (db) => {
      const [b, c] = [at(richBatches(), 0), at(richBatches(), 1)];
      swapLedgerRows(db, at(rowsOf(b.id), 2), at(rowsOf(c.id), 1));
    },
    expectedSeq: () => at(richBatches(), 0).auditSeq,
  },
  {
    name: 'inserts a ledger row claiming a batch no entry covers (no entry: null)',
    tamper: (db) => {
      const template = at(facts.ledger, 0).row;
      const startMs = START_MS + 400 * 900_000;
      const meterId = template.meter_id as string;
      insertRow(db, 'ledger', {
        ...template,
        id: null,
        interval_start_ms: startMs,
        seq: 9_999,
        idempotency_key: idempotencyKey(meterId, template.channel as string, startMs, 9_999),
        batch_id: 9_999,
        batch_position: 0,
      });
    },
    expectedSeq: () => null,
  },
  {
    name: 'appends a ledger row to the last batch that wrote rows (kept contiguous)',
    tamper: (db) => {
      const last = at(facts.ledger, facts.ledger.length - 1);
      const startMs = START_MS + 401 * 900_000;
      const meterId = last.row.meter_id as string;
      insertRow(db, 'ledger', {
        ...last.row,
        id: null,
        interval_start_ms: startMs,
        seq: 9_998,
        version: 1,
        supersedes_key: null,
        idempotency_key: idempotencyKey(meterId, last.row.channel as string, startMs, 9_998),
        batch_position: last.batchPosition + 1,
      });
    },
    expectedSeq: () => batchSeq(at(facts.ledger, facts.ledger.length - 1).batchId),
  },
  {
    name: 'appends a ledger row to an earlier batch (not contiguous)',
    tamper: (db) => {
      const b = at(richBatches(), 0);
      const template = at(rowsOf(b.id), 0).row;
      const startMs = START_MS + 402 * 900_000;
      const meterId = template.meter_id as string;
      insertRow(db, 'ledger', {
        ...template,
        id: null,
        interval_start_ms: startMs,
        seq: 9_997,
        idempotency_key: idempotencyKey(meterId, template.channel as string, startMs, 9_997),
        batch_position: b.accepted,
      });
    },
    expectedSeq: () => at(richBatches(), 0).auditSeq,
  },
  {
    name: "edits an audit entry's payload (still valid JSON)",
    tamper: (db) => {
      const b = at(richBatches(), 0);
      const read = db.prepare('SELECT payload FROM audit_log WHERE seq = ?');
      const before = (read.get(b.auditSeq) as Row).payload as string;
      const after = before.replace(`"accepted":${b.accepted},`, `"accepted":${b.accepted + 1},`);
      expect(after).not.toBe(before);
      db.prepare('UPDATE audit_log SET payload = ? WHERE seq = ?').run(after, b.auditSeq);
    },
    expectedSeq: () => at(richBatches(), 0).auditSeq,
  },
  {
    name: 'deletes an audit entry in the middle',
    tamper: (db) => {
      db.prepare('DELETE FROM audit_log WHERE seq = ?').run(at(richBatches(), 0).auditSeq);
    },
    expectedSeq: () => at(richBatches(), 0).auditSeq,
  },
  {
    name: 'deletes the last audit entries (only the signed checkpoint can tell)',
    tamper: (db) => {
      const lastBatchSeq = Math.max(...facts.batches.map((b) => b.auditSeq));
      const deleted = db.prepare('DELETE FROM audit_log WHERE seq > ?').run(lastBatchSeq);
      expect(deleted.changes).toBe(2);
    },
    expectedSeq: () => facts.checkpoint.auditSeq,
  },
  {
    name: 'swaps two audit entries',
    tamper: (db) => {
      const seq = at(richBatches(), 0).auditSeq;
      swapAuditEntries(db, seq, seq + 1);
    },
    expectedSeq: () => at(richBatches(), 0).auditSeq,
  },
  {
    name: "edits a batch row's counts (still balanced)",
    tamper: (db) => {
      db.prepare(
        'UPDATE batches SET received = received + 1, accepted = accepted + 1 WHERE id = ?',
      ).run(at(richBatches(), 1).id);
    },
    expectedSeq: () => at(richBatches(), 1).auditSeq,
  },
  {
    name: "edits a quarantine row's violations",
    tamper: (db) => {
      db.prepare(
        `UPDATE quarantine SET violations = '[]', current_violations = '[]' WHERE id = ?`,
      ).run(invalidRecord().id);
    },
    expectedSeq: () => batchSeq(invalidRecord().batchId),
  },
  {
    name: 'deletes a quarantine row',
    tamper: (db) => {
      db.prepare('DELETE FROM quarantine WHERE id = ?').run(invalidRecord().id);
    },
    expectedSeq: () => batchSeq(invalidRecord().batchId),
  },
  {
    name: 'alters the raw bytes of a chunk holding a quarantined record',
    tamper: (db) => {
      const record = invalidRecord();
      const chunk = chunkHolding(db, record.deliveryId, record.byteOffset);
      const bytes = Buffer.from(chunk.bytes);
      // The record's last byte is its closing brace; the byte before it is a value's last char.
      const position = chunk.inside + record.byteLength - 2;
      bytes[position] = bytes[position] === 0x30 ? 0x31 : 0x30;
      expect(bytes.byteLength).toBe(chunk.bytes.byteLength);
      db.prepare('UPDATE raw_chunks SET bytes = ? WHERE sha256 = ?').run(bytes, chunk.sha256);
    },
    expectedSeq: () => batchSeq(invalidRecord().batchId),
  },
  {
    name: 'forges the signature of the checkpoint',
    tamper: (db) => {
      const { privateKey } = loadOrCreateSigningKey(join(tempDir(), 'attacker.pem')).key;
      const { auditSeq, headHash, atMs } = facts.checkpoint;
      const message = Buffer.from(checkpointMessage(auditSeq, headHash, atMs), 'utf8');
      const forged = sign(null, message, privateKey).toString('base64');
      db.prepare('UPDATE checkpoints SET signature = ?').run(forged);
    },
    expectedSeq: () => facts.checkpoint.auditSeq,
  },
  {
    name: 'inserts a quarantine row no entry covers (no entry: null)',
    tamper: (db) => {
      const read = db.prepare('SELECT * FROM quarantine WHERE id = ?');
      const row = read.get(invalidRecord().id) as Row;
      insertRow(db, 'quarantine', { ...row, id: null, batch_id: 9_999, batch_position: 0 });
    },
    expectedSeq: () => null,
  },
];

afterAll(removeTempDirs);

beforeAll(async () => {
  const dir = tempDir('amisync-tamper-base-');
  basePath = join(dir, 'ledger.db');
  key = loadOrCreateSigningKey(join(dir, 'signing-key.pem')).key;
  await buildLedger(basePath);
  facts = readFacts(basePath);
  expect(richBatches().length).toBeGreaterThanOrEqual(2);
  expect(facts.batches.some((b) => b.kind === 'override')).toBe(true);
  const head = Math.max(...facts.auditKinds.keys());
  expect(facts.checkpoint.auditSeq).toBe(head);
  expect(facts.auditKinds.get(head)).toBe('quarantine.reject');
});

describe('verifyAudit on a real SQLite ledger', () => {
  it('verifies the untampered ledger, its checkpoint included', async () => {
    const report = await verifyFile(basePath);
    expect(report.firstProblem).toBeNull();
    expect(report.ok).toBe(true);
    expect(report.ledgerRows).toBe(facts.ledger.length);
    expect(report.quarantineRows).toBe(facts.quarantine.length);
    expect(report.checkpointsVerified).toBe(1);
    expect(report.headSeq).toBe(facts.checkpoint.auditSeq);
  });

  it('holds the append-only triggers an attacker has to drop first', () => {
    const path = join(tempDir(), 'schema.db');
    tamperCopy(basePath, path, () => undefined);
    const db = new Database(path);
    try {
      expect(dropAllTriggers(db)).toEqual([]);
    } finally {
      db.close();
    }
    const base = new Database(basePath, { readonly: true });
    try {
      const names = (
        base.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'").all() as Row[]
      ).map((row) => row.name);
      expect(names).toEqual(expect.arrayContaining([...APPEND_ONLY_TRIGGERS]));
    } finally {
      base.close();
    }
  });

  for (const { name, tamper, expectedSeq } of ATTACKS) {
    it(`fails and names the covering entry when an attacker ${name}`, async () => {
      const expected = expectedSeq();
      const report = await attack(tamper);
      expect(report.ok).toBe(false);
      expect(report.problems.length).toBeGreaterThan(0);
      expect(report.firstProblem?.auditSeq, report.firstProblem?.reason).toBe(expected);
    });
  }

  it('reports a truncated chain through the checkpoint and the decisions it held', async () => {
    const lastBatchSeq = Math.max(...facts.batches.map((b) => b.auditSeq));
    const truncated = await attack((db) => {
      db.prepare('DELETE FROM audit_log WHERE seq > ?').run(lastBatchSeq);
    });
    expect(truncated.firstProblem?.reason).toMatch(/checkpoint/);
    // An attacker who also deletes the stored checkpoint still leaves the quarantine decisions the
    // cut entries recorded without their entries. (Had the tail held only batches, their rows
    // would be uncovered; deleting those rows too leaves only a checkpoint kept outside the
    // database, as audit export hands out, to show the cut.)
    const alsoCheckpoint = await attack((db) => {
      db.prepare('DELETE FROM audit_log WHERE seq > ?').run(lastBatchSeq);
      db.prepare('DELETE FROM checkpoints').run();
    });
    expect(alsoCheckpoint.ok).toBe(false);
    expect(alsoCheckpoint.firstProblem?.reason).toMatch(/no audit entry records that decision/);
    expect(alsoCheckpoint.headSeq).toBeLessThan(facts.checkpoint.auditSeq);
  });

  it('fails at the batch entry of any ledger row whose audited column is changed', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: facts.ledger.length - 1 }),
        fc.constantFrom(...LEDGER_COLUMNS_TAMPERED),
        async (index, column) => {
          const target = at(facts.ledger, index);
          const report = await attack((db) => {
            const changed = changedValue(column, target.row[column]);
            db.prepare(`UPDATE ledger SET ${column} = ? WHERE id = ?`).run(changed, target.id);
          });
          expect(report.ok).toBe(false);
          expect(report.firstProblem?.auditSeq).toBe(batchSeq(target.batchId));
        },
      ),
      { numRuns: 20 },
    );
  });
});

/** A different value of the same type that collides with no other row's unique interval. */
function changedValue(column: (typeof LEDGER_COLUMNS_TAMPERED)[number], value: unknown): unknown {
  switch (column) {
    case 'value_micro':
      return (value as number) + 1;
    case 'meter_id':
      return 'MTR-TAMPERED';
    case 'interval_start_ms':
      // A whole second: no aligned interval collides. Sub-second edits: see the skipped test.
      return (value as number) + 1_000;
    case 'quality':
      return value === 'actual' ? 'substituted' : 'actual';
    case 'status_code':
      return (value as number) ^ 16;
    case 'version':
    case 'batch_position':
      return (value as number) + 1_000;
    default: {
      const unreachable: never = column;
      throw new Error(`unknown column ${String(unreachable)}`);
    }
  }
}

describe('verifyAudit against attacks it does not yet report', () => {
  it('names the batch entry when a ledger row start moves by less than a second', async () => {
    const target = at(rowsOf(at(richBatches(), 0).id), 2);
    const report = await attack((db) => {
      db.prepare('UPDATE ledger SET interval_start_ms = interval_start_ms + 1 WHERE id = ?').run(
        target.id,
      );
    });
    expect(report.ok).toBe(false);
    expect(report.firstProblem?.auditSeq).toBe(batchSeq(target.batchId));
  });

  it('reports, not throws, when a quarantined record loses its raw chunk', async () => {
    const record = invalidRecord();
    const report = await attack((db) => {
      const chunk = chunkHolding(db, record.deliveryId, record.byteOffset);
      db.prepare('DELETE FROM raw_chunks WHERE sha256 = ?').run(chunk.sha256);
    });
    expect(report.ok).toBe(false);
    expect(report.firstProblem?.auditSeq).toBe(batchSeq(record.batchId));
  });

  it('reports, not throws, when a batch payload is replaced by other valid JSON', async () => {
    const b = at(richBatches(), 0);
    const report = await attack((db) => {
      db.prepare('UPDATE audit_log SET payload = ? WHERE seq = ?').run(
        `{"batch":${b.id}}`,
        b.auditSeq,
      );
    });
    expect(report.ok).toBe(false);
    expect(report.firstProblem?.auditSeq).toBe(b.auditSeq);
  });
});

describe('verifyAudit against quarantine decisions taken outside amisync', () => {
  it('reports an open quarantine row closed with no audited decision', async () => {
    const record = invalidRecord();
    const report = await attack((db) => {
      db.prepare(
        "UPDATE quarantine SET status = 'rejected', current_violations = '[]' WHERE id = ?",
      ).run(record.id);
    });
    expect(report.ok).toBe(false);
    expect(report.firstProblem?.reason).toMatch(
      new RegExp(`quarantine row ${record.id} is rejected but no audit entry records`),
    );
  });
});

/**
 * What an attacker who can rewrite the whole database does: edit a ledger row, recompute its
 * batch's root, and rehash every entry from that batch's on, so the chain is consistent in itself
 * again.
 */
function rewriteHistory(db: Db, target: LedgerFact): void {
  db.prepare('UPDATE ledger SET value_micro = value_micro + 5 WHERE id = ?').run(target.id);
  const rows = (
    db
      .prepare('SELECT * FROM ledger WHERE batch_id = ? ORDER BY batch_position')
      .all(target.batchId) as Row[]
  ).map(ledgerFrom);
  const root = ledgerRootOf(rows, LEDGER_ROWS_PER_LEAF, LEDGER_LINE_VERSION);
  db.prepare('UPDATE batches SET ledger_root = ? WHERE id = ?').run(root, target.batchId);
  const entries = db.prepare('SELECT * FROM audit_log ORDER BY seq').all() as Row[];
  let prevHash = '0'.repeat(64);
  const write = db.prepare(
    'UPDATE audit_log SET payload = ?, prev_hash = ?, hash = ? WHERE seq = ?',
  );
  for (const entry of entries) {
    let payload = entry.payload as string;
    const parsed = JSON.parse(payload) as Record<string, unknown>;
    if (entry.kind === 'batch' && parsed.batch === target.batchId) {
      payload = canonicalJson({ ...parsed, ledgerRoot: root });
    }
    const seq = entry.seq as number;
    const hash = computeEntryHash(
      prevHash,
      seq,
      entry.at_ms as number,
      entry.kind as string,
      payload,
    );
    write.run(payload, prevHash, hash, seq);
    prevHash = hash;
  }
}

describe('a history rewritten after it was signed', () => {
  it('fails verify and proof through the signed checkpoint alone', async () => {
    const target = at(rowsOf(at(richBatches(), 0).id), 0);
    const path = join(tempDir(), 'rewritten.db');
    tamperCopy(basePath, path, (db) => rewriteHistory(db, target));
    const store = openSqliteStore(path, { nowMs: () => clock.nowMs() });
    try {
      const report = await verifyAudit(store, key.publicKey);
      expect(report.ok).toBe(false);
      expect(report.firstProblem?.reason).toMatch(/signed head hash differs/);
      const proof = await proveReading(store, target.row.idempotency_key as string, key.publicKey);
      expect(proof.proofs[0]?.checks.inclusion).toBe(true);
      expect(proof.proofs[0]?.checks.chainValid).toBe(true);
      expect(proof.proofs[0]?.checks.checkpointCovers).toBe(false);
      expect(proof.verified).toBe(false);
    } finally {
      await store.close();
    }
  });
});

describe('proveReading on a real SQLite ledger', () => {
  it('proves an untampered reading, and fails once a row of its batch is edited', async () => {
    const b = at(richBatches(), 0);
    const target = at(rowsOf(b.id), 0);
    const sibling = at(rowsOf(b.id), 3);
    const keyOf = target.row.idempotency_key as string;

    const intact = openSqliteStore(basePath, { nowMs: () => clock.nowMs() });
    try {
      const proof = await proveReading(intact, keyOf, key.publicKey);
      expect(proof.verified).toBe(true);
      expect(proof.proofs[0]?.auditEntry.seq).toBe(b.auditSeq);
    } finally {
      await intact.close();
    }

    const path = join(tempDir(), 'proved.db');
    tamperCopy(basePath, path, (db) => {
      db.prepare('UPDATE ledger SET value_micro = value_micro + 5 WHERE id = ?').run(sibling.id);
    });
    const tampered = openSqliteStore(path, { nowMs: () => clock.nowMs() });
    try {
      const proof = await proveReading(tampered, keyOf, key.publicKey);
      expect(proof.verified).toBe(false);
      expect(proof.proofs[0]?.checks.inclusion).toBe(false);
    } finally {
      await tampered.close();
    }
  });
});
