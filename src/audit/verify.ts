/**
 * `audit verify`: recomputes everything the audit trail claims and names the first entry that does
 * not hold. It checks the hash chain, every batch's ledger and quarantine Merkle roots against the
 * rows now in the store, the batch rows against their entries, each ledger row's idempotency key
 * against its fields, each quarantine row's raw bytes against its recorded hash, and every signed
 * checkpoint. Emergency controls (pauses and resumes) are checked against their entries both ways,
 * and so are invoices, when the caller passes the store's invoices (verify-invoices.ts).
 */
import { hash, type KeyObject } from 'node:crypto';
import { idempotencyKey } from '../core/identity.js';
import type {
  AuditEntryRow,
  BatchCounts,
  ControlRow,
  LedgerRow,
  Store,
  UnitTotal,
} from '../core/store.js';
import { verifyCheckpoint } from './checkpoint.js';
import { ChainVerifier } from './hash-chain.js';
import {
  anomalyLeafData,
  ledgerRootOf,
  quarantineLeafData,
  repeatLeafData,
  type LedgerLineVersion,
} from './leaves.js';
import { merkleRootOfLeafData } from './merkle.js';
import { DeadLetterClaims, verifyDeadLetters } from './verify-dead-letters.js';
import { BreakerTransitions, verifyBreakerStates } from './verify-breakers.js';
import { InvoiceEntries, verifyInvoices, type InvoiceRows } from './verify-invoices.js';

/** Problems listed in a report at most; verification itself reads everything. */
const PROBLEMS_LISTED_MAX = 50;
/** The largest `ledgerRowsPerLeaf` an entry may claim; more would make a proof carry a batch. */
const LEDGER_ROWS_PER_LEAF_MAX = 1_024;

export interface AuditProblem {
  /**
   * The audit entry the problem belongs to; null when it belongs to none (a row no entry covers).
   */
  auditSeq: number | null;
  reason: string;
}

export interface VerifyReport {
  ok: boolean;
  entries: number;
  batches: number;
  ledgerRows: number;
  quarantineRows: number;
  checkpoints: number;
  checkpointsVerified: number;
  /** Invoice rows checked against their audit entries; null when no invoices were passed. */
  invoices: number | null;
  headSeq: number | null;
  headHash: string | null;
  firstProblem: AuditProblem | null;
  problems: AuditProblem[];
}

interface BatchClaim {
  auditSeq: number;
  batch: number;
  counts: BatchCounts;
  ledgerRoot: string;
  ledgerLeaves: number;
  /** Ledger rows per Merkle leaf; 1 for entries written before leaves held blocks of rows. */
  ledgerRowsPerLeaf: number;
  /** The ledger line version of its leaves; 1 for entries written before version 2. */
  ledgerLineVersion: LedgerLineVersion;
  quarantineRoot: string;
  quarantineLeaves: number;
  anomalyRoot: string;
  /** Root and count of the batch's quarantine repeats; null for entries written before them. */
  repeatRoot: string | null;
  repeatLeaves: number;
}

class Problems {
  readonly list: AuditProblem[] = [];
  first: AuditProblem | null = null;

  add(auditSeq: number | null, reason: string): void {
    const problem = { auditSeq, reason };
    const firstSeq = this.first?.auditSeq ?? Number.POSITIVE_INFINITY;
    if (this.first === null || (auditSeq ?? Number.POSITIVE_INFINITY) < firstSeq)
      this.first = problem;
    if (this.list.length < PROBLEMS_LISTED_MAX) this.list.push(problem);
  }
}

const HEX_64 = /^[0-9a-f]{64}$/;
const COUNT_NAMES = [
  'received',
  'accepted',
  'duplicates',
  'quarantined',
  'conflicts',
  'anomalyHeld',
  'deadLettered',
  'revisions',
] as const;

function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

/** The claim a batch entry makes, or null when its payload does not have the shape of one. */
function batchClaim(seq: number, payload: string): BatchClaim | null {
  const parsed = JSON.parse(payload) as Record<string, unknown>;
  const counts = parsed.counts as Record<string, unknown> | undefined;
  const wellFormed =
    isCount(parsed.batch) &&
    typeof counts === 'object' &&
    counts !== null &&
    COUNT_NAMES.every((name) => isCount(counts[name])) &&
    typeof parsed.ledgerRoot === 'string' &&
    HEX_64.test(parsed.ledgerRoot) &&
    typeof parsed.quarantineRoot === 'string' &&
    HEX_64.test(parsed.quarantineRoot) &&
    isCount(parsed.ledgerLeaves) &&
    (parsed.ledgerRowsPerLeaf === undefined ||
      (isCount(parsed.ledgerRowsPerLeaf) &&
        parsed.ledgerRowsPerLeaf >= 1 &&
        parsed.ledgerRowsPerLeaf <= LEDGER_ROWS_PER_LEAF_MAX)) &&
    (parsed.ledgerLineVersion === undefined ||
      parsed.ledgerLineVersion === 1 ||
      parsed.ledgerLineVersion === 2) &&
    isCount(parsed.quarantineLeaves) &&
    ((parsed.repeatRoot === undefined && parsed.repeatLeaves === undefined) ||
      (typeof parsed.repeatRoot === 'string' &&
        HEX_64.test(parsed.repeatRoot) &&
        isCount(parsed.repeatLeaves))) &&
    typeof parsed.anomalyRoot === 'string' &&
    HEX_64.test(parsed.anomalyRoot);
  if (!wellFormed) return null;
  return {
    ...(parsed as unknown as Omit<BatchClaim, 'auditSeq'>),
    ledgerRowsPerLeaf: (parsed.ledgerRowsPerLeaf as number | undefined) ?? 1,
    ledgerLineVersion: (parsed.ledgerLineVersion as LedgerLineVersion | undefined) ?? 1,
    repeatRoot: (parsed.repeatRoot as string | undefined) ?? null,
    repeatLeaves: (parsed.repeatLeaves as number | undefined) ?? 0,
    auditSeq: seq,
  };
}

async function verifyChain(store: Store, problems: Problems) {
  const verifier = new ChainVerifier();
  const claims = new Map<number, BatchClaim>();
  const hashes = new Map<number, string>();
  const decisions = new QuarantineDecisions();
  const deadLetters = new DeadLetterClaims();
  const controls = new ControlEntries();
  const breakers = new BreakerTransitions();
  const invoices = new InvoiceEntries();
  let entries = 0;
  let chainBroken = false;
  for await (const page of store.iterateAuditEntries()) {
    for (const entry of page) {
      entries += 1;
      const problem = verifier.push(entry);
      if (problem !== null && !chainBroken) {
        chainBroken = true;
        problems.add(problem.seq, problem.reason);
      }
      if (!chainBroken) hashes.set(entry.seq, entry.hash);
      decisions.read(entry.kind, entry.payload);
      deadLetters.read(entry.seq, entry.kind, entry.payload);
      controls.read(entry);
      breakers.read(entry.seq, entry.kind, entry.payload);
      invoices.read(entry.seq, entry.kind, entry.payload, entry.atMs);
      // Claims past a break are still read, so that the rows they cover are not all reported again.
      if (entry.kind !== 'batch') continue;
      let claim: BatchClaim | null = null;
      try {
        claim = batchClaim(entry.seq, entry.payload);
      } catch {
        claim = null;
      }
      if (claim === null) {
        problems.add(entry.seq, `entry ${entry.seq}: batch payload is malformed (edited)`);
      } else claims.set(claim.batch, claim);
    }
  }
  return {
    claims,
    hashes,
    entries,
    decisions,
    deadLetters,
    controls,
    breakers,
    invoices,
    head: verifier.head(),
  };
}

/** The `control.pause` and `control.resume` entries of the chain, by seq. */
class ControlEntries {
  readonly bySeq = new Map<number, AuditEntryRow>();

  read(entry: AuditEntryRow): void {
    if (entry.kind === 'control.pause' || entry.kind === 'control.resume') {
      this.bySeq.set(entry.seq, entry);
    }
  }
}

/** Whether a control row says what its entry recorded: scope, pause or resume, reason, actor. */
function controlMatches(row: ControlRow, entry: AuditEntryRow): boolean {
  let payload: Record<string, unknown>;
  try {
    payload = JSON.parse(entry.payload) as Record<string, unknown>;
  } catch {
    return false;
  }
  return (
    entry.kind === (row.paused ? 'control.pause' : 'control.resume') &&
    entry.atMs === row.atMs &&
    payload.source === row.sourceId &&
    payload.paused === row.paused &&
    payload.reason === row.reason &&
    payload.actor === row.actor
  );
}

/**
 * Every control row against the entry written with it, and every control entry against a row: a
 * pause lifted, added, edited or reordered in the table alone changes which control is in force,
 * so each of those is named here.
 */
async function verifyControls(store: Store, controls: ControlEntries, problems: Problems) {
  const covered = new Set<number>();
  let lastSeq = 0;
  for (const row of await store.listControlHistory()) {
    const entry = controls.bySeq.get(row.auditSeq);
    if (entry !== undefined) covered.add(row.auditSeq);
    if (entry === undefined || !controlMatches(row, entry)) {
      problems.add(
        entry === undefined ? null : row.auditSeq,
        `control ${row.id} (${row.paused ? 'pause' : 'resume'} of ` +
          `${row.sourceId ?? 'every source'}) does not match an audit entry (changed outside amisync)`,
      );
      continue;
    }
    if (row.auditSeq < lastSeq) {
      problems.add(row.auditSeq, `control ${row.id} is out of the audit order (reordered)`);
    }
    lastSeq = row.auditSeq;
  }
  for (const seq of controls.bySeq.keys()) {
    if (!covered.has(seq)) {
      problems.add(seq, `entry ${seq} records a pause or resume whose control row is missing`);
    }
  }
}

/**
 * The operator decisions the chain records: what each closed quarantine row and each decided
 * anomaly hold must match.
 */
class QuarantineDecisions {
  /** Quarantine id to the batch that replayed it or accepted it by override. */
  readonly replayed = new Map<number, number>();
  readonly accepted = new Map<number, number>();
  readonly rejected = new Set<number>();
  /** Anomaly id to the batch that released it, and the anomalies rejected. */
  readonly released = new Map<number, number>();
  readonly anomalyRejected = new Set<number>();

  read(kind: string, payload: string): void {
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(payload) as Record<string, unknown>;
    } catch {
      return;
    }
    const id = (key: string): number | null =>
      Number.isSafeInteger(parsed[key]) ? (parsed[key] as number) : null;
    const batch = id('batch');
    if (kind === 'batch' && batch !== null) {
      const replayOf = id('replayOf');
      const overrideOf = id('overrideOf');
      if (replayOf !== null) this.replayed.set(replayOf, batch);
      if (overrideOf !== null) this.accepted.set(overrideOf, batch);
      const releaseOf = id('releaseOf');
      if (releaseOf !== null) this.released.set(releaseOf, batch);
    }
    const anomaly = id('anomaly');
    if (kind === 'anomaly.reject' && anomaly !== null) this.anomalyRejected.add(anomaly);
    const rejected = id('quarantine');
    if (kind === 'quarantine.reject' && rejected !== null) this.rejected.add(rejected);
  }
}

/** Paging size when reading closed quarantine rows. */
const QUARANTINE_PAGE_ROWS = 1_000;

/**
 * A quarantine row may change only its status, and every change is an audited decision: a closed
 * row without the entry that closed it was changed outside amisync (dropped from the worklist).
 */
async function verifyQuarantineDecisions(
  store: Store,
  decisions: QuarantineDecisions,
  problems: Problems,
): Promise<void> {
  for (const status of ['replayed', 'accepted', 'rejected'] as const) {
    let afterId = 0;
    for (;;) {
      const rows = await store.listQuarantine({ status, afterId, limit: QUARANTINE_PAGE_ROWS });
      for (const row of rows) {
        const closedBy =
          status === 'replayed'
            ? decisions.replayed.get(row.id)
            : status === 'accepted'
              ? decisions.accepted.get(row.id)
              : decisions.rejected.has(row.id)
                ? null
                : undefined;
        const matches =
          closedBy !== undefined && (closedBy === null || closedBy === row.resolvedBatchId);
        if (!matches) {
          problems.add(
            null,
            `quarantine row ${row.id} is ${status} but no audit entry records that decision ` +
              '(changed outside amisync)',
          );
        }
      }
      const last = rows[rows.length - 1];
      if (last === undefined || rows.length < QUARANTINE_PAGE_ROWS) break;
      afterId = last.id;
    }
  }
}

/**
 * An anomaly hold may change only from held to a decision, and every decision is an audit entry:
 * a decided hold without its entry, or an entry whose hold is not so decided, was changed outside
 * amisync.
 */
async function verifyAnomalyDecisions(
  store: Store,
  decisions: QuarantineDecisions,
  problems: Problems,
): Promise<void> {
  const seen = new Set<number>();
  for (const status of ['released', 'rejected'] as const) {
    let afterId = 0;
    for (;;) {
      const rows = await store.listAnomalies({ status, afterId, limit: QUARANTINE_PAGE_ROWS });
      for (const row of rows) {
        seen.add(row.id);
        const matches =
          status === 'released'
            ? decisions.released.get(row.id) === row.decision?.resolvedBatchId
            : decisions.anomalyRejected.has(row.id);
        if (!matches) {
          problems.add(
            null,
            `anomaly ${row.id} is ${status} but no audit entry records that decision ` +
              '(changed outside amisync)',
          );
        }
      }
      const last = rows[rows.length - 1];
      if (last === undefined || rows.length < QUARANTINE_PAGE_ROWS) break;
      afterId = last.id;
    }
  }
  for (const id of [...decisions.released.keys(), ...decisions.anomalyRejected]) {
    if (!seen.has(id)) {
      problems.add(
        null,
        `the audit trail records a decision on anomaly ${id}, which is not so decided ` +
          '(changed outside amisync)',
      );
    }
  }
}

function sameCounts(a: BatchCounts, b: BatchCounts): boolean {
  return (
    a.received === b.received &&
    a.accepted === b.accepted &&
    a.duplicates === b.duplicates &&
    a.quarantined === b.quarantined &&
    a.conflicts === b.conflicts &&
    a.anomalyHeld === b.anomalyHeld &&
    a.deadLettered === b.deadLettered &&
    a.revisions === b.revisions
  );
}

async function verifyBatchRows(store: Store, claims: Map<number, BatchClaim>, problems: Problems) {
  const seen = new Set<number>();
  let batches = 0;
  for await (const page of store.iterateBatches()) {
    for (const batch of page) {
      batches += 1;
      seen.add(batch.id);
      const claim = claims.get(batch.id);
      if (claim === undefined) {
        problems.add(
          batch.auditSeq,
          `batch ${batch.id} has no audit entry (inserted or entry lost)`,
        );
        continue;
      }
      const matches =
        claim.auditSeq === batch.auditSeq &&
        claim.ledgerRoot === batch.ledgerRoot &&
        claim.quarantineRoot === batch.quarantineRoot &&
        sameCounts(claim.counts, batch.counts);
      if (!matches) {
        problems.add(
          claim.auditSeq,
          `entry ${claim.auditSeq}: batch ${batch.id} row differs from it`,
        );
      }
    }
  }
  for (const claim of claims.values()) {
    if (!seen.has(claim.batch)) {
      problems.add(claim.auditSeq, `entry ${claim.auditSeq}: batch ${claim.batch} row is missing`);
    }
  }
  return batches;
}

function checkLedgerGroup(
  batchId: number,
  rows: readonly LedgerRow[],
  claim: BatchClaim | undefined,
  problems: Problems,
): void {
  if (claim === undefined) {
    problems.add(null, `ledger rows of batch ${batchId} are covered by no audit entry (inserted)`);
    return;
  }
  const at = `entry ${claim.auditSeq} (batch ${batchId})`;
  for (const [index, row] of rows.entries()) {
    if (row.batchPosition !== index) {
      problems.add(
        claim.auditSeq,
        `${at}: ledger row at position ${index} is out of place (reordered)`,
      );
      return;
    }
    const key = idempotencyKey(row.meterId, row.channel, row.intervalStartMs, row.seq);
    if (key !== row.idempotencyKey) {
      problems.add(
        claim.auditSeq,
        `${at}: ledger row ${index} key does not match its fields (edited)`,
      );
      return;
    }
  }
  const root = ledgerRootOf(rows, claim.ledgerRowsPerLeaf, claim.ledgerLineVersion);
  if (rows.length !== claim.ledgerLeaves || root !== claim.ledgerRoot) {
    problems.add(
      claim.auditSeq,
      `${at}: ledger holds ${rows.length} rows with Merkle root ${root.slice(0, 12)}..., the entry ` +
        `recorded ${claim.ledgerLeaves} rows with root ${claim.ledgerRoot.slice(0, 12)}... ` +
        '(a ledger row was edited, deleted, inserted or reordered)',
    );
  }
}

async function verifyLedger(store: Store, claims: Map<number, BatchClaim>, problems: Problems) {
  const finished = new Set<number>();
  let group: LedgerRow[] = [];
  let groupBatch: number | null = null;
  let rowCount = 0;
  const close = (): void => {
    if (groupBatch === null) return;
    if (finished.has(groupBatch)) {
      const claim = claims.get(groupBatch);
      problems.add(
        claim?.auditSeq ?? null,
        `ledger rows of batch ${groupBatch} are not contiguous (reordered)`,
      );
    }
    checkLedgerGroup(groupBatch, group, claims.get(groupBatch), problems);
    finished.add(groupBatch);
  };
  for await (const page of store.iterateLedgerByBatch()) {
    for (const row of page) {
      rowCount += 1;
      if (row.batchId !== groupBatch) {
        close();
        group = [];
        groupBatch = row.batchId;
      }
      group.push(row);
    }
  }
  close();
  for (const claim of claims.values()) {
    if (claim.ledgerLeaves > 0 && !finished.has(claim.batch)) {
      checkLedgerGroup(claim.batch, [], claim, problems);
    }
  }
  return rowCount;
}

/** Anomaly holds against each batch's anomaly root and count. */
async function verifyAnomalies(store: Store, claims: Map<number, BatchClaim>, problems: Problems) {
  for (const claim of claims.values()) {
    const rows = await store.anomalyRowsOfBatch(claim.batch);
    const root = merkleRootOfLeafData(rows.map(anomalyLeafData));
    if (rows.length !== claim.counts.anomalyHeld || root !== claim.anomalyRoot) {
      problems.add(
        claim.auditSeq,
        `entry ${claim.auditSeq} (batch ${claim.batch}): anomaly holds do not match the recorded ` +
          'Merkle root (a held reading was edited, deleted or inserted)',
      );
    }
  }
}

async function verifyQuarantine(store: Store, claims: Map<number, BatchClaim>, problems: Problems) {
  let rowCount = 0;
  for (const claim of claims.values()) {
    const rows = await store.quarantineRowsOfBatch(claim.batch);
    rowCount += rows.length;
    const root = merkleRootOfLeafData(rows.map(quarantineLeafData));
    if (rows.length !== claim.quarantineLeaves || root !== claim.quarantineRoot) {
      problems.add(
        claim.auditSeq,
        `entry ${claim.auditSeq} (batch ${claim.batch}): quarantine rows do not match the recorded ` +
          'Merkle root (a quarantine row was edited, deleted or inserted)',
      );
      continue;
    }
    for (const row of rows) {
      if (row.location.byteLength === 0) continue;
      if (row.rawSha256 === '') {
        problems.add(
          claim.auditSeq,
          `entry ${claim.auditSeq}: quarantine row ${row.id} keeps no hash of its raw bytes`,
        );
        continue;
      }
      let bytes: Uint8Array;
      try {
        bytes = await store.readDeliveryBytes(
          row.deliveryId,
          row.location.byteOffset,
          row.location.byteLength,
        );
      } catch (error) {
        problems.add(
          claim.auditSeq,
          `entry ${claim.auditSeq}: raw bytes of quarantine row ${row.id} are missing ` +
            `(${(error as Error).message})`,
        );
        continue;
      }
      if (hash('sha256', bytes, 'hex') !== row.rawSha256) {
        problems.add(
          claim.auditSeq,
          `entry ${claim.auditSeq}: raw bytes of quarantine row ${row.id} changed since they were kept`,
        );
      }
    }
  }
  return rowCount;
}

/**
 * Quarantine repeats against each batch's repeat root and count (an entry written before repeats
 * existed covers none), and each repeat's raw bytes against its hash and its item's.
 */
async function verifyRepeats(store: Store, claims: Map<number, BatchClaim>, problems: Problems) {
  let rowCount = 0;
  for (const claim of claims.values()) {
    const rows = await store.quarantineRepeatsOfBatch(claim.batch);
    rowCount += rows.length;
    const root = claim.repeatRoot === null ? null : merkleRootOfLeafData(rows.map(repeatLeafData));
    if (rows.length !== claim.repeatLeaves || root !== claim.repeatRoot) {
      if (rows.length === 0 && claim.repeatRoot === null) continue;
      problems.add(
        claim.auditSeq,
        `entry ${claim.auditSeq} (batch ${claim.batch}): quarantine repeats do not match the ` +
          'recorded Merkle root (a repeat was edited, deleted or inserted)',
      );
      continue;
    }
    for (const row of rows) {
      const item = await store.getQuarantine(row.quarantineId);
      let bytes: Uint8Array | null = null;
      try {
        bytes = await store.readDeliveryBytes(
          row.deliveryId,
          row.location.byteOffset,
          row.location.byteLength,
        );
      } catch {
        bytes = null;
      }
      if (
        item === null ||
        item.rawSha256 !== row.rawSha256 ||
        bytes === null ||
        hash('sha256', bytes, 'hex') !== row.rawSha256
      ) {
        problems.add(
          claim.auditSeq,
          `entry ${claim.auditSeq}: repeat at position ${row.batchPosition} of batch ` +
            `${claim.batch} does not hold the raw bytes of quarantine item ${row.quarantineId}`,
        );
      }
    }
  }
  return rowCount;
}

async function verifyCheckpoints(
  store: Store,
  publicKey: KeyObject | null,
  hashes: Map<number, string>,
  problems: Problems,
) {
  const checkpoints = await store.listCheckpoints();
  let verified = 0;
  for (const checkpoint of checkpoints) {
    const at = `checkpoint at entry ${checkpoint.auditSeq}`;
    if (publicKey === null) {
      problems.add(
        checkpoint.auditSeq,
        `${at}: no public key to check its signature (pass --public-key or --signing-key)`,
      );
      continue;
    }
    if (!verifyCheckpoint(publicKey, checkpoint)) {
      problems.add(checkpoint.auditSeq, `${at}: signature does not verify with the public key`);
      continue;
    }
    const recorded = hashes.get(checkpoint.auditSeq);
    if (recorded === undefined) {
      problems.add(
        checkpoint.auditSeq,
        `${at}: the signed entry is missing (entries were deleted)`,
      );
    } else if (recorded !== checkpoint.headHash) {
      problems.add(
        checkpoint.auditSeq,
        `${at}: the signed head hash differs from entry ${checkpoint.auditSeq}`,
      );
    } else verified += 1;
  }
  return { count: checkpoints.length, verified };
}

/**
 * Verifies everything the audit trail claims about `store`. `invoices` is the store's invoices
 * table (BillingStore.listInvoices); with null, invoices are not checked (`invoices: null`).
 */
export async function verifyAudit(
  store: Store,
  publicKey: KeyObject | null,
  invoices: InvoiceRows | null = null,
): Promise<VerifyReport> {
  const problems = new Problems();
  const chain = await verifyChain(store, problems);
  const batches = await verifyBatchRows(store, chain.claims, problems);
  const ledgerRows = await verifyLedger(store, chain.claims, problems);
  const quarantineRows = await verifyQuarantine(store, chain.claims, problems);
  await verifyAnomalies(store, chain.claims, problems);
  const repeatRows = await verifyRepeats(store, chain.claims, problems);
  await verifyQuarantineDecisions(store, chain.decisions, problems);
  await verifyAnomalyDecisions(store, chain.decisions, problems);
  await verifyDeadLetters(store, chain.deadLetters, (seq, reason) => problems.add(seq, reason));
  await verifyControls(store, chain.controls, problems);
  await verifyBreakerStates(store, chain.breakers, (seq, reason) => problems.add(seq, reason));
  const invoiceRows =
    invoices === null
      ? null
      : await verifyInvoices(invoices, chain.invoices, chain.hashes, (seq, reason) =>
          problems.add(seq, reason),
        );
  const checkpoints = await verifyCheckpoints(store, publicKey, chain.hashes, problems);
  const status = await store.status();
  const recomputed = await store.recomputeLedgerTotals();
  const describe = (totals: readonly UnitTotal[]): string =>
    totals
      .map((t) => `${t.readings} ${t.commodity} readings, ${t.valueMicro} µ${t.unit}`)
      .join('; ');
  const running = describe(status.ledger.byUnit);
  const fromRows = describe(recomputed.byUnit);
  if (recomputed.readings !== status.ledger.readings || running !== fromRows) {
    problems.add(
      null,
      `the running totals (${running || 'none'}) differ from the ledger rows ` +
        `(${fromRows || 'none'}): stream state was edited`,
    );
  }
  const quarantineTotal = Object.values(status.quarantine).reduce((sum, n) => sum + n, 0);
  if (quarantineTotal !== quarantineRows) {
    problems.add(
      null,
      `${quarantineTotal - quarantineRows} quarantine rows are covered by no entry`,
    );
  }
  if (status.quarantineRepeats !== repeatRows) {
    problems.add(
      null,
      `${status.quarantineRepeats - repeatRows} quarantine repeats are covered by no entry`,
    );
  }
  return {
    ok: problems.first === null,
    entries: chain.entries,
    batches,
    ledgerRows,
    quarantineRows,
    checkpoints: checkpoints.count,
    checkpointsVerified: checkpoints.verified,
    invoices: invoiceRows,
    headSeq: chain.head?.seq ?? null,
    headHash: chain.head?.hash ?? null,
    firstProblem: problems.first,
    problems: problems.list,
  };
}
