/**
 * Operator decisions on the anomaly ledger: release (the held reading enters the billing ledger
 * as a new version, through identity's rules, in its own batch with its own audit entry) and
 * reject (it stays out, leaving its interval a gap for estimation). Each needs a note, is one
 * audit entry with the actor and the note, and acts only when the hold is still held as read
 * inside the transaction that applies it, so two operators never both decide one hold.
 */
import { nextEntry } from '../audit/hash-chain.js';
import type { Clock } from '../core/clock.js';
import { AmisyncError } from '../core/errors.js';
import { DECISION_NOTE_CHARS_MIN } from '../core/limits.js';
import type { AnomalyDecision, AnomalyRow, Store, StoreTransaction } from '../core/store.js';
import { commitBatchIn, identifyIn, type BatchInput } from './commit.js';

export interface AnomalyActionContext {
  store: Store;
  clock: Clock;
  actor: string;
}

export interface ReleaseReport {
  anomalyId: number;
  batchId: number;
  idempotencyKey: string;
  /** `duplicate`: the ledger already held this very reading, so nothing was added. */
  outcome: 'released' | 'duplicate';
  /** The ledger version the reading became; null for a duplicate. */
  version: number | null;
  valueMicro: number;
  auditSeq: number;
}

export interface AnomalyRejectReport {
  anomalyId: number;
  valueMicro: number;
  auditSeq: number;
}

/** The note an operator gives for a decision, trimmed; a USAGE error when it is too short. */
export function requireNote(note: string): string {
  const trimmed = note.trim();
  if (trimmed.length < DECISION_NOTE_CHARS_MIN) {
    throw new AmisyncError(
      'USAGE',
      `a note of at least ${DECISION_NOTE_CHARS_MIN} characters is required ` +
        '(for example "field verified: meter healthy")',
    );
  }
  return trimmed;
}

function notHeld(id: number, status: string): AmisyncError {
  return new AmisyncError('INVALID_STATE', `anomaly ${id} is ${status}, not held`, { status });
}

/** The hold as the deciding transaction reads it: a decision acts only on a held reading. */
async function requireHeldIn(tx: StoreTransaction, id: number): Promise<AnomalyRow> {
  const row = await tx.getAnomalyRow(id);
  if (row === null) throw new AmisyncError('NOT_FOUND', `anomaly ${id} does not exist`);
  if (row.status !== 'held') throw notHeld(id, row.status);
  return row;
}

/** Writes the decision on a hold still held in this transaction, or fails the whole decision. */
async function decideHeld(tx: StoreTransaction, id: number, decision: AnomalyDecision) {
  if (!(await tx.decideAnomaly(id, decision))) {
    throw notHeld(id, (await tx.getAnomalyRow(id))?.status ?? 'missing');
  }
}

/** The batch that releases one held reading; it is never judged by the detectors again. */
function releaseInput(
  row: AnomalyRow,
  format: string,
  context: AnomalyActionContext,
  note: string,
  atMs: number,
): BatchInput {
  return {
    deliveryId: row.deliveryId,
    sourceId: row.sourceId,
    kind: 'override',
    format,
    readings: [
      { reading: row.reading, location: { recordIndex: 0, line: 0, byteOffset: 0, byteLength: 0 } },
    ],
    rejects: [],
    rawChunks: [],
    byteOffset: 0,
    byteLength: 0,
    atMs,
    detectors: [],
    // The feed's sequence was tracked when the reading arrived; a release, later and out of the
    // feed's order, would only record a regression that the feed never made.
    sequenced: false,
    auditExtra: { releaseOf: row.id, actor: context.actor, note },
  };
}

/**
 * Moves a held reading into the billing ledger. Identity decides as for any reading: a first
 * value of its interval, an actual replacing an estimate, or this very reading already there (a
 * duplicate: released, nothing added). When the ledger now holds another value that identity
 * would not replace, nothing is written and the hold stays held (INVALID_STATE): reject it.
 */
export async function releaseAnomaly(
  context: AnomalyActionContext,
  id: number,
  noteText: string,
): Promise<ReleaseReport> {
  const note = requireNote(noteText);
  const { store, clock } = context;
  const before = await store.getAnomaly(id);
  if (before === null) throw new AmisyncError('NOT_FOUND', `anomaly ${id} does not exist`);
  if (before.status !== 'held') throw notHeld(id, before.status);
  const format = (await store.getDelivery(before.deliveryId))?.format ?? 'unknown';
  const atMs = clock.nowMs();
  return store.transaction(async (tx) => {
    const row = await requireHeldIn(tx, id);
    const input = releaseInput(row, format, context, note, atMs);
    const decided = await identifyIn(tx, input);
    const [decision] = decided.decisions;
    if (decision?.kind === 'hold') {
      const reasons = decision.reject.violations.map((v) => v.message).join('; ');
      throw new AmisyncError(
        'INVALID_STATE',
        `anomaly ${id} cannot be released: ${reasons}; it stays held (reject it instead)`,
        { violations: decision.reject.violations },
      );
    }
    const result = await commitBatchIn(tx, input, () => '', decided);
    await decideHeld(tx, id, {
      status: 'released',
      actor: context.actor,
      note,
      atMs,
      resolvedBatchId: result.batchId,
    });
    return {
      anomalyId: id,
      batchId: result.batchId,
      idempotencyKey: row.reading.idempotencyKey,
      outcome: decision?.kind === 'accept' ? 'released' : 'duplicate',
      version: decision?.kind === 'accept' ? decision.version : null,
      valueMicro: row.reading.valueMicro,
      auditSeq: result.auditSeq,
    };
  });
}

/** Keeps a held reading out of the billing ledger for good; its interval is left a gap. */
export async function rejectAnomaly(
  context: AnomalyActionContext,
  id: number,
  noteText: string,
): Promise<AnomalyRejectReport> {
  const note = requireNote(noteText);
  const atMs = context.clock.nowMs();
  return context.store.transaction(async (tx) => {
    const row = await requireHeldIn(tx, id);
    const decision = { status: 'rejected', actor: context.actor, note, atMs } as const;
    await decideHeld(tx, id, { ...decision, resolvedBatchId: null });
    const entry = nextEntry(
      await tx.auditHead(),
      'anomaly.reject',
      { anomaly: id, actor: context.actor, note, key: row.reading.idempotencyKey },
      atMs,
    );
    await tx.appendAuditEntry(entry);
    return { anomalyId: id, valueMicro: row.reading.valueMicro, auditSeq: entry.seq };
  });
}
