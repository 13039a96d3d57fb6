/**
 * Audit entries that are not batches: signed checkpoints of the chain head, and changes of the data
 * dictionary (so every decision can be traced to the rules in force when it was made).
 */
import type { Store } from '../core/store.js';
import { signCheckpoint, type Checkpoint, type SigningKey } from './checkpoint.js';
import { nextEntry } from './hash-chain.js';

/**
 * Signs the current chain head and stores the checkpoint. Returns null on an empty chain, or when
 * the head is still entry `unlessSeq` (one already signed).
 */
export async function writeCheckpoint(
  store: Store,
  key: SigningKey,
  atMs: number,
  unlessSeq: number | null = null,
): Promise<Checkpoint | null> {
  return store.transaction(async (tx) => {
    const head = await tx.auditHead();
    if (head === null || head.seq === unlessSeq) return null;
    const checkpoint = signCheckpoint(key, head, atMs);
    await tx.insertCheckpoint(checkpoint);
    return checkpoint;
  });
}

/**
 * Appends a `config` entry when the dictionary in force differs from the last one recorded. Returns
 * the entry's seq, or null when nothing changed.
 */
export async function recordConfig(
  store: Store,
  fingerprint: string,
  config: unknown,
  atMs: number,
): Promise<number | null> {
  const last = await store.latestAuditEntryOfKind('config');
  if (
    last !== null &&
    (JSON.parse(last.payload) as { fingerprint?: string }).fingerprint === fingerprint
  ) {
    return null;
  }
  return store.transaction(async (tx) => {
    const entry = nextEntry(
      await tx.auditHead(),
      'config',
      { fingerprint, dictionary: config },
      atMs,
    );
    await tx.appendAuditEntry(entry);
    return entry.seq;
  });
}

/**
 * Appends one entry of any kind in its own transaction (operator actions that write nothing else).
 */
export async function appendAuditEntry(
  store: Store,
  kind: string,
  payload: unknown,
  atMs: number,
): Promise<number> {
  return store.transaction(async (tx) => {
    const entry = nextEntry(await tx.auditHead(), kind, payload, atMs);
    await tx.appendAuditEntry(entry);
    return entry.seq;
  });
}
