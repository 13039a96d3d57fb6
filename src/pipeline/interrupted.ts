/**
 * Interrupted deliveries: a delivery whose process died before it finished keeps the batches it
 * committed (each balanced on its own) and is marked interrupted, with those counts, by the next
 * process that writes; one whose read stopped in a live process is marked by that process. The
 * marking is audited, because what a delivery brought is audit-relevant.
 */
import { nextEntry } from '../audit/hash-chain.js';
import type { DeliveryRow, Store, StoreTransaction } from '../core/store.js';

/** The audit entry kind that records an interruption. */
export const INTERRUPTED_AUDIT_KIND = 'delivery.interrupted';

/** The audit entry of one interruption, and the mark, in the caller's transaction. */
async function markIn(tx: StoreTransaction, delivery: DeliveryRow, atMs: number): Promise<void> {
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
}

/**
 * Marks a delivery of this process interrupted at once, when its read stopped before its end (its
 * source failed, a batch failed, the service is shutting down): status then shows it as such, and
 * the same file delivered again links to it, as after a process that died. Only while it is still
 * running: a delivery that ended, or was marked, is left alone.
 */
export async function markStoppedDelivery(
  store: Store,
  deliveryId: string,
  atMs: number,
): Promise<void> {
  const delivery = await store.getDelivery(deliveryId);
  if (delivery?.status !== 'running') return;
  await store.transaction((tx) => markIn(tx, delivery, atMs));
}

/** Marks the deliveries `find` gives, in one transaction that reads them. Returns their ids. */
async function markFound(
  store: Store,
  find: (tx: StoreTransaction) => Promise<DeliveryRow[]>,
  atMs: number,
): Promise<string[]> {
  return store.transaction(async (tx) => {
    const marked: string[] = [];
    for (const delivery of await find(tx)) {
      await markIn(tx, delivery, atMs);
      marked.push(delivery.id);
    }
    return marked;
  });
}

/**
 * Marks every unfinished delivery whose owning process is gone, in one transaction that reads the
 * deliveries it marks. A delivery whose owner is alive (another ingest running now) is left alone.
 * Returns the ids marked.
 */
export async function markInterruptedDeliveries(store: Store, atMs: number): Promise<string[]> {
  return markFound(store, (tx) => tx.findAbandonedDeliveries(), atMs);
}

/**
 * Marks every unfinished delivery of one source interrupted, whoever owns it, in one transaction:
 * for the holder of that source's only writer, a partition's lease, before it reads the partition
 * (`store` is fenced by that lease). An earlier holder's delivery can never commit again, and its
 * process may be alive (it lost the lease while reading) or on another host, where no process
 * check can tell it is gone. Returns the ids marked.
 */
export async function markDeliveriesOfTakenSource(
  store: Store,
  sourceId: string,
  atMs: number,
): Promise<string[]> {
  return markFound(store, (tx) => tx.findUnfinishedDeliveriesOf(sourceId), atMs);
}
