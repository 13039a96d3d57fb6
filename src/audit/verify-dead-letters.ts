/**
 * `audit verify` for the dead-letter queue: every dead-letter row has the `deadletter.recorded`
 * entry it names, and agrees with it (source, delivery, transport id, bytes' sha256 and size,
 * cause, attempts); its kept bytes still hash to that sha256; and a decided row has the
 * `deadletter.replayed` or `deadletter.discarded` entry it names, while no such entry names a row
 * that is not so decided. A row inserted, edited or decided outside amisync is named.
 */
import { hash } from 'node:crypto';
import { RAW_CHUNK_BYTES_MAX } from '../core/limits.js';
import type { DeadLetterRow, Store } from '../core/store.js';

/** Paging size when reading dead-letter rows. */
const DEAD_LETTER_PAGE_ROWS = 1_000;

export type ReportProblem = (auditSeq: number | null, reason: string) => void;

interface EntryClaim {
  seq: number;
  kind: string;
  payload: Record<string, unknown>;
}

/** The dead-letter entries of the chain, by the dead letter they name. */
export class DeadLetterClaims {
  readonly recorded = new Map<number, EntryClaim>();
  readonly decided = new Map<number, EntryClaim>();

  read(seq: number, kind: string, payload: string): void {
    if (!kind.startsWith('deadletter.')) return;
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(payload) as Record<string, unknown>;
    } catch {
      return;
    }
    const id = parsed.deadLetter;
    if (!Number.isSafeInteger(id)) return;
    const claim = { seq, kind, payload: parsed };
    if (kind === 'deadletter.recorded') this.recorded.set(id as number, claim);
    else this.decided.set(id as number, claim);
  }
}

function recordedMatches(row: DeadLetterRow, claim: EntryClaim): boolean {
  const p = claim.payload;
  return (
    claim.seq === row.auditSeq &&
    p.source === row.sourceId &&
    p.delivery === row.deliveryId &&
    p.transportId === row.transportId &&
    p.rawSha256 === row.rawSha256 &&
    p.sizeBytes === row.sizeBytes &&
    p.bytesComplete === row.bytesComplete &&
    p.cause === row.cause &&
    p.attempts === row.attempts.length
  );
}

function decisionMatches(row: DeadLetterRow, claim: EntryClaim | undefined): boolean {
  const decision = row.decision;
  if (decision === null) return claim === undefined;
  if (claim === undefined) return false;
  const p = claim.payload;
  return (
    claim.kind === `deadletter.${decision.status}` &&
    claim.seq === decision.auditSeq &&
    p.actor === decision.actor &&
    p.justification === decision.justification &&
    (p.delivery ?? null) === decision.resolvedDeliveryId
  );
}

async function keptBytesHash(store: Store, row: DeadLetterRow): Promise<string | null> {
  if (row.sizeBytes === null) return null;
  const parts: Uint8Array[] = [];
  for (let at = 0; at < row.sizeBytes; at += RAW_CHUNK_BYTES_MAX) {
    const length = Math.min(RAW_CHUNK_BYTES_MAX, row.sizeBytes - at);
    parts.push(await store.readDeliveryBytes(row.deliveryId, at, length));
  }
  return hash('sha256', Buffer.concat(parts), 'hex');
}

async function verifyRow(
  store: Store,
  row: DeadLetterRow,
  claims: DeadLetterClaims,
  problem: ReportProblem,
): Promise<void> {
  const recorded = claims.recorded.get(row.id);
  if (recorded === undefined || !recordedMatches(row, recorded)) {
    problem(
      recorded?.seq ?? null,
      `dead letter ${row.id} differs from the entry that records it, or none does ` +
        '(inserted or edited outside amisync)',
    );
  }
  let kept: string | null = null;
  try {
    kept = await keptBytesHash(store, row);
  } catch {
    kept = 'unreadable';
  }
  if (kept !== row.rawSha256) {
    problem(
      row.auditSeq,
      `dead letter ${row.id}: its kept bytes differ from their recorded sha256`,
    );
  }
  if (!decisionMatches(row, claims.decided.get(row.id))) {
    problem(
      row.decision?.auditSeq ?? claims.decided.get(row.id)?.seq ?? null,
      `dead letter ${row.id} is ${row.status} but the audit trail records another decision ` +
        '(changed outside amisync)',
    );
  }
}

/** Checks every dead-letter row against the chain; returns how many rows there are. */
export async function verifyDeadLetters(
  store: Store,
  claims: DeadLetterClaims,
  problem: ReportProblem,
): Promise<number> {
  const seen = new Set<number>();
  let afterId = 0;
  for (;;) {
    const rows = await store.listDeadLetters({ afterId, limit: DEAD_LETTER_PAGE_ROWS });
    for (const row of rows) {
      seen.add(row.id);
      await verifyRow(store, row, claims, problem);
    }
    const last = rows[rows.length - 1];
    if (last === undefined || rows.length < DEAD_LETTER_PAGE_ROWS) break;
    afterId = last.id;
  }
  for (const [id, claim] of [...claims.recorded, ...claims.decided]) {
    if (!seen.has(id)) {
      problem(claim.seq, `entry ${claim.seq}: dead letter ${id} is missing (deleted)`);
    }
  }
  return seen.size;
}
