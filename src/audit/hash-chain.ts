/**
 * The audit log's hash chain: each audit entry carries the hash of the one before it, so editing,
 * deleting or reordering any entry breaks every link after it. `nextEntry` writes links;
 * `ChainVerifier` checks them one at a time, in constant memory, and names the first bad one.
 */
import assert from 'node:assert/strict';
import { hash } from 'node:crypto';
import type { AuditEntryRow } from '../core/store.js';
import { canonicalJson } from './canonical-json.js';

/**
 * One link of the audit chain, as stored.
 *
 * - `seq`: position in the chain, 1 for the first entry, each next entry exactly one more.
 * - `atMs`: when the entry was written, milliseconds since the Unix epoch (UTC), a non-negative
 *   integer. Informational and hashed, but not required to increase (clocks step backwards).
 * - `kind`: what happened, matching {@link AUDIT_KIND_PATTERN} (e.g. `batch`, `config.change`).
 * - `payload`: the details, as canonical JSON (see canonical-json.ts).
 * - `prevHash`: `hash` of the entry with `seq - 1`, or {@link GENESIS_HASH} for entry 1.
 * - `hash`: {@link computeEntryHash} over the other fields.
 */
export type AuditEntry = AuditEntryRow;

/** The `prevHash` of entry 1: 64 zero hex digits, standing for "nothing before". */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * The shape of `kind`: lowercase ASCII words joined by `.`, `_` or `-`, at most 64 characters. The
 * hashed text separates fields with newlines, so a kind must never contain one; keeping it to plain
 * ASCII also means no two different kinds can encode to the same bytes.
 */
export const AUDIT_KIND_PATTERN = /^[a-z][a-z0-9]*(?:[._-][a-z0-9]+)*$/;

/** Longest accepted `kind`, in UTF-16 code units (all ASCII, so also bytes). */
export const AUDIT_KIND_LENGTH_MAX = 64;

const HASH_HEX_PATTERN = /^[0-9a-f]{64}$/;

/**
 * Returns the entry hash: lowercase hex SHA-256 of the UTF-8 bytes of
 * `amisync-audit-v1\n${prevHash}\n${seq}\n${atMs}\n${kind}\n${payload}` (numbers in plain decimal).
 *
 * The text cannot be split two ways: `prevHash` is fixed-length hex, the numbers are integers,
 * `kind` has no newline, and canonical JSON escapes every newline inside `payload`.
 *
 * Arguments that break those rules are programmer errors (assertions); a verifier reading untrusted
 * entries checks their shape first (see {@link ChainVerifier}).
 */
export function computeEntryHash(
  prevHash: string,
  seq: number,
  atMs: number,
  kind: string,
  payload: string,
): string {
  assert.match(prevHash, HASH_HEX_PATTERN, 'prevHash must be 64 lowercase hex digits');
  assert.ok(isSeq(seq), `seq must be a positive safe integer, got ${seq}`);
  assert.ok(isTimeMs(atMs), `atMs must be a non-negative safe integer, got ${atMs}`);
  assert.ok(isKind(kind), `kind ${JSON.stringify(kind)} does not match AUDIT_KIND_PATTERN`);
  const text = `amisync-audit-v1\n${prevHash}\n${seq}\n${atMs}\n${kind}\n${payload}`;
  return hash('sha256', text, 'hex');
}

/** The newest entry of a chain: all a writer needs to append, and what a checkpoint signs. */
export interface ChainHead {
  seq: number;
  hash: string;
}

/**
 * Builds the entry that follows `head` (or the first entry when `head` is null), with `payload`
 * rendered by `canonicalJson`. Pure: the caller stores the entry and keeps it as the new head, in
 * the same transaction as whatever the entry records.
 *
 * Throws (assertion) when `kind` or `atMs` is malformed or `payload` has no canonical JSON form.
 */
export function nextEntry(
  head: ChainHead | null,
  kind: string,
  payload: unknown,
  atMs: number,
): AuditEntry {
  const seq = head === null ? 1 : head.seq + 1;
  const prevHash = head === null ? GENESIS_HASH : head.hash;
  const payloadJson = canonicalJson(payload);
  const entryHash = computeEntryHash(prevHash, seq, atMs, kind, payloadJson);
  return { seq, atMs, kind, payload: payloadJson, prevHash, hash: entryHash };
}

/**
 * Why verification stopped. `seq` is the chain position where it failed: every entry before it
 * verified, and the entry pushed at this position is bad (or missing). The reason is one sentence
 * naming the entry by the seq it claims (which differs from `seq` when entries were deleted or
 * reordered) and what is wrong, e.g. "entry 7: expected seq 6 (an entry was deleted or reordered,
 * or this seq was edited)".
 */
export type ChainProblem = { seq: number; reason: string };

/**
 * Checks a chain one entry at a time, in order, in constant memory.
 *
 * Protocol: call `push` with each stored entry in ascending seq order. It returns null when the
 * entry is a valid next link, or the problem found. Verification stops at the first problem,
 * because every later link would be checked against an entry that is already known to be
 * untrustworthy: from then on `push` returns that same first problem without examining its
 * argument, and `head` and `count` stay at the last verified entry.
 *
 * The chain alone cannot reveal entries removed from its end. Compare `head()` after the last push
 * with a signed checkpoint (checkpoint.ts) to catch that.
 *
 * For each entry, in this order: fields well-formed, seq is the previous seq + 1 (1 for the first),
 * prevHash equals the previous entry's hash (GENESIS_HASH for the first), hash recomputes from the
 * fields, payload is canonical JSON (`canonicalJson(JSON.parse(payload)) === payload`).
 */
export class ChainVerifier {
  #head: ChainHead | null;
  #verifiedCount = 0;
  #problem: ChainProblem | null = null;

  /**
   * @param trustedHead start after this entry instead of at genesis, e.g. the head of a checkpoint
   *   whose signature was verified, so that only the entries written since it are read.
   */
  constructor(trustedHead: ChainHead | null = null) {
    if (trustedHead !== null) {
      const { seq } = trustedHead;
      assert.ok(Number.isSafeInteger(seq) && seq >= 0, `trusted head seq ${seq} is invalid`);
      assert.match(trustedHead.hash, HASH_HEX_PATTERN, 'trusted head hash must be lowercase hex');
    }
    this.#head = trustedHead === null ? null : { seq: trustedHead.seq, hash: trustedHead.hash };
  }

  /** Checks `entry` as the next link; returns null if it is, else the (first) problem. */
  push(entry: AuditEntry): ChainProblem | null {
    if (this.#problem !== null) return this.#problem;
    const expectedSeq = this.#head === null ? 1 : this.#head.seq + 1;
    const reason = findProblem(entry, expectedSeq, this.#head?.hash ?? GENESIS_HASH);
    if (reason !== null) {
      this.#problem = { seq: expectedSeq, reason };
      return this.#problem;
    }
    this.#head = { seq: entry.seq, hash: entry.hash };
    this.#verifiedCount += 1;
    return null;
  }

  /** The last verified entry (or the trusted head given at construction), or null if none. */
  head(): ChainHead | null {
    return this.#head === null ? null : { seq: this.#head.seq, hash: this.#head.hash };
  }

  /** How many entries this verifier has verified (not counting a trusted head). */
  count(): number {
    return this.#verifiedCount;
  }
}

/** Returns why `entry` is not a valid link at `expectedSeq` after `expectedPrevHash`, or null. */
function findProblem(
  entry: AuditEntry,
  expectedSeq: number,
  expectedPrevHash: string,
): string | null {
  const malformed = findMalformedField(entry);
  if (malformed !== null) return `entry at seq ${expectedSeq}: ${malformed} (malformed)`;
  const name = `entry ${entry.seq}`;
  if (entry.seq !== expectedSeq) {
    const cause = 'an entry was deleted or reordered, or this seq was edited';
    return `${name}: expected seq ${expectedSeq} (${cause})`;
  }
  if (entry.prevHash !== expectedPrevHash) {
    const previous =
      expectedSeq === 1 ? 'the genesis hash' : `the hash of entry ${expectedSeq - 1}`;
    const cause = 'this prevHash was edited, or the entry before it was replaced';
    return `${name}: prevHash is not ${previous} (${cause})`;
  }
  const { prevHash, seq, atMs, kind, payload } = entry;
  const recomputed = computeEntryHash(prevHash, seq, atMs, kind, payload);
  if (entry.hash !== recomputed) return `${name}: hash does not match its contents (edited)`;
  return findPayloadProblem(entry.payload, name);
}

/** Checks every field's type and shape, so that tampered data is reported, not asserted on. */
function findMalformedField(entry: AuditEntry): string | null {
  if (typeof entry !== 'object' || entry === null) return 'not an object';
  if (!isSeq(entry.seq)) return `seq ${String(entry.seq)} is not a positive safe integer`;
  if (!isTimeMs(entry.atMs)) return `atMs ${String(entry.atMs)} is not a non-negative safe integer`;
  if (!isKind(entry.kind)) {
    return `kind ${describeText(entry.kind)} does not match AUDIT_KIND_PATTERN`;
  }
  if (typeof entry.payload !== 'string') return 'payload is not a string';
  if (!isHashHex(entry.prevHash)) return 'prevHash is not 64 lowercase hex digits';
  if (!isHashHex(entry.hash)) return 'hash is not 64 lowercase hex digits';
  return null;
}

function findPayloadProblem(payload: string, name: string): string | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload);
  } catch {
    return `${name}: payload is not valid JSON (written by something other than nextEntry)`;
  }
  if (renderCanonicalOrNull(parsed) !== payload) {
    return `${name}: payload is not canonical JSON (written by something other than nextEntry)`;
  }
  return null;
}

/** Renders parsed JSON canonically, or null for the few parsed values with no canonical form. */
function renderCanonicalOrNull(parsed: unknown): string | null {
  // JSON.parse can return -0, Infinity (from 1e999) or very deep nesting, which canonicalJson
  // refuses; in untrusted input that is a finding to report, not a programmer error.
  try {
    return canonicalJson(parsed);
  } catch {
    return null;
  }
}

function isSeq(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 1;
}

function isTimeMs(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

function isKind(value: unknown): value is string {
  return (
    typeof value === 'string' &&
    value.length <= AUDIT_KIND_LENGTH_MAX &&
    AUDIT_KIND_PATTERN.test(value)
  );
}

function isHashHex(value: unknown): value is string {
  return typeof value === 'string' && HASH_HEX_PATTERN.test(value);
}

function describeText(value: unknown): string {
  if (typeof value !== 'string') return typeof value;
  return JSON.stringify(value.slice(0, AUDIT_KIND_LENGTH_MAX));
}
