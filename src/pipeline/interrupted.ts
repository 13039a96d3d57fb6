/**
 * Interrupted deliveries: a delivery whose process died before it finished keeps the batches it
 * committed (each balanced on its own) and is marked interrupted, with those counts, by the next
 * process that writes. The marking is audited, because what a delivery brought is audit-relevant.
 */
import { nextEntry } from '../audit/hash-chain.js';
import type { Store } from '../core/store.js';

/** The audit entry kind that records an interruption. */
export const INTERRUPTED_AUDIT_KIND = 'delivery.interrupted';

/**
 * Marks every unfinished delivery whose owning process is gone, in one transaction that reads the
 * deliveries it marks. A delivery whose owner is alive (another ingest running now) is left alone.
 * Returns the ids marked.
 */
export async function markInterruptedDeliveries(store: Store, atMs: number): Promise<string[]> {
  return store.transaction(async (tx) => {
    const marked: string[] = [];
    for (const delivery of await tx.findAbandonedDeliveries()) {
      const entry = nextEntry(
        await tx.auditHead(),
        INTERRUPTED_AUDIT_KIND,
        {
          delivery: delivery.id,
          source: delivery.sourceId,
          name: delivery.name,
          startedAtMs: delivery.startedAtMs,
          owner: delivery.owner,
          counts: delivery.counts,
        },
        atMs,
      );
      await tx.appendAuditEntry(entry);
      await tx.markDeliveryInterrupted(delivery.id, atMs, entry.seq);
      marked.push(delivery.id);
    }
    return marked;
  });
}
