/**
 * Emergency pause and resume (`amisync pause`, `amisync resume`): global or of named sources. Each
 * control is one transaction that reads the scope's state, appends the control row and its audit
 * entry (`control.pause` or `control.resume`, with the operator's identity and reason) together,
 * so two operators never both pause one scope and no control exists without its entry. A running
 * service finds the new state through its StorePauseGate (pause-gate.ts) and stops reading between
 * deliveries; nothing is ever acknowledged while a source is paused (docs/pause.md).
 */
import { nextEntry } from '../audit/hash-chain.js';
import type { Clock } from '../core/clock.js';
import { AmisyncError } from '../core/errors.js';
import { PAUSE_REASON_CHARS_MAX, PAUSE_REASON_CHARS_MIN } from '../core/limits.js';
import type { ControlRow, Store, StoreTransaction } from '../core/store.js';

/** A source id as configurations spell it (sources/common/config.ts). */
const SOURCE_ID = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export const CONTROL_KINDS = { pause: 'control.pause', resume: 'control.resume' } as const;

export interface ControlContext {
  store: Store;
  clock: Clock;
  actor: string;
}

export interface ControlRequest {
  /** The sources to act on; empty for the global scope (every source). */
  sourceIds: readonly string[];
  reason: string;
}

/** One scope acted on: the control row written and its audit entry. */
export interface ControlReport {
  controlId: number;
  sourceId: string | null;
  paused: boolean;
  reason: string;
  actor: string;
  atMs: number;
  auditSeq: number;
}

/** The audit payload of a control: what `audit verify` compares with the control row. */
export function controlPayload(control: Omit<ControlRow, 'id' | 'auditSeq'>) {
  return {
    source: control.sourceId,
    paused: control.paused,
    reason: control.reason,
    actor: control.actor,
  };
}

function scopeName(sourceId: string | null): string {
  return sourceId === null ? 'every source (global)' : `source ${sourceId}`;
}

/** The scopes a request names: each source once, or the global scope. */
function scopesOf(sourceIds: readonly string[]): (string | null)[] {
  for (const id of sourceIds) {
    if (!SOURCE_ID.test(id)) {
      throw new AmisyncError(
        'USAGE',
        `--source ${JSON.stringify(id)} is not a source id (lowercase letters, digits, - and _)`,
      );
    }
  }
  return sourceIds.length === 0 ? [null] : [...new Set(sourceIds)];
}

/** A reason trimmed and within its limits; `required` for a pause, optional for a resume. */
export function checkReason(text: string | undefined, required: boolean): string {
  const reason = (text ?? '').trim();
  if (required && reason.length < PAUSE_REASON_CHARS_MIN) {
    throw new AmisyncError(
      'USAGE',
      `a pause needs --reason of at least ${PAUSE_REASON_CHARS_MIN} characters ` +
        '(for example "vendor feed doubled every value")',
    );
  }
  if (reason.length > PAUSE_REASON_CHARS_MAX) {
    throw new AmisyncError('USAGE', `--reason is longer than ${PAUSE_REASON_CHARS_MAX} characters`);
  }
  return reason;
}

/** Appends a control and its audit entry, once the scope is found not in that state already. */
async function controlIn(
  tx: StoreTransaction,
  sourceId: string | null,
  paused: boolean,
  context: ControlContext,
  reason: string,
  atMs: number,
): Promise<ControlReport> {
  const current = await tx.getControl(sourceId);
  if ((current?.paused ?? false) === paused) {
    const since =
      current === null
        ? ''
        : ` since ${new Date(current.atMs).toISOString()} (by ${current.actor}: ${current.reason})`;
    throw new AmisyncError(
      'INVALID_STATE',
      `${scopeName(sourceId)} is ${paused ? 'paused already' : 'not paused'}${since}`,
      { source: sourceId, paused: current?.paused ?? false },
    );
  }
  const control = { sourceId, paused, reason, actor: context.actor, atMs };
  const kind = paused ? CONTROL_KINDS.pause : CONTROL_KINDS.resume;
  const entry = nextEntry(await tx.auditHead(), kind, controlPayload(control), atMs);
  await tx.appendAuditEntry(entry);
  const controlId = await tx.putControl({ ...control, auditSeq: entry.seq });
  return { controlId, ...control, auditSeq: entry.seq };
}

/**
 * Pauses or resumes every named scope in one transaction: all of them or, when one is already in
 * that state, none (INVALID_STATE naming it).
 */
async function control(
  context: ControlContext,
  request: ControlRequest,
  paused: boolean,
): Promise<ControlReport[]> {
  const scopes = scopesOf(request.sourceIds);
  const reason = checkReason(request.reason, paused);
  const atMs = context.clock.nowMs();
  return context.store.transaction(async (tx) => {
    const reports: ControlReport[] = [];
    for (const scope of scopes) {
      reports.push(await controlIn(tx, scope, paused, context, reason, atMs));
    }
    return reports;
  });
}

/** `amisync pause`: the named sources, or every source when none is named. */
export function pauseSources(
  context: ControlContext,
  request: ControlRequest,
): Promise<ControlReport[]> {
  return control(context, request, true);
}

/**
 * `amisync resume`: lifts the named sources' own pauses, or the global pause when none is named.
 * A source stays paused while the other scope (the global pause, or its own) still holds it.
 */
export function resumeSources(
  context: ControlContext,
  request: ControlRequest,
): Promise<ControlReport[]> {
  return control(context, request, false);
}
