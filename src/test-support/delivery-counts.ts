/**
 * The counts a command of the built CLI prints for a delivery, a run or a source (`ingest --json`,
 * `run --json`, `status --json`, a dead letter replay), as the tests that read them declare them.
 */
import type { BatchCounts } from '../core/store.js';

/** Invariant 1's terms, as the CLI's JSON names them. */
export type DeliveryCounts = Pick<
  BatchCounts,
  'received' | 'accepted' | 'duplicates' | 'quarantined' | 'anomalyHeld' | 'deadLettered'
>;

/** Invariant 1: received = accepted + duplicates + quarantined + anomaly-held + dead-lettered. */
export function balances(counts: DeliveryCounts): boolean {
  const { accepted, duplicates, quarantined, anomalyHeld, deadLettered } = counts;
  return counts.received === accepted + duplicates + quarantined + anomalyHeld + deadLettered;
}
