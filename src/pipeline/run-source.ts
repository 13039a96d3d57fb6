/**
 * Drains a Source: each delivery is ingested (one transaction per batch) and only then
 * acknowledged. A delivery whose batches could not all commit is nacked and the error is rethrown
 * after the source is closed, so nothing is acknowledged that the store does not hold.
 *
 * The source is connected with the position its last committed delivery saved, and each delivery's
 * new position is saved by the transaction of its last batch (ingest.ts).
 */
import { systemClock, type Clock, type TimerClock } from '../core/clock.js';
import type { FormatContext, InputFormat } from '../core/parser.js';
import {
  END,
  isIdle,
  type Delivery,
  type SavedPosition,
  type Source,
  type SourcePosition,
} from '../core/source.js';
import type { Store } from '../core/store.js';
import { ingestDelivery, type DeliveryReport, type IngestOptions } from './ingest.js';

export type SourceRunOptions = Omit<
  IngestOptions,
  | 'format'
  | 'formatContext'
  | 'name'
  | 'sourceId'
  | 'transportId'
  | 'attempt'
  | 'metadata'
  | 'partitionKey'
  | 'position'
  | 'meterScope'
> & {
  /** What each format needs besides bytes (a CMEP time zone, a CSV dialect), by format. */
  formatContexts?: Partial<Record<InputFormat, FormatContext>>;
  /** Called before a delivery is read, e.g. to start a progress display. */
  onDeliveryStart?: (delivery: Delivery) => void;
  /** Called after a delivery was committed and acknowledged. */
  onDelivery?: (report: DeliveryReport) => void;
};

/** The clock's timers when it has them (a TimerClock), else the system's. */
export function timersOf(clock: Clock): TimerClock {
  return 'sleep' in clock && 'monotonicMs' in clock ? (clock as TimerClock) : systemClock;
}

/** Deliveries drained in one run at most, so a source that never ends cannot loop forever. */
export const DELIVERIES_PER_RUN_MAX = 1_000_000;

/** The position the source's last committed delivery saved, as the source gave it. */
export async function loadSavedPosition(
  store: Store,
  sourceId: string,
): Promise<SavedPosition | null> {
  const row = await store.loadSourcePosition(sourceId);
  if (row === null) return null;
  return {
    position: JSON.parse(row.position) as SourcePosition,
    deliveryId: row.deliveryId,
    savedAtMs: row.savedAtMs,
  };
}

/**
 * Ingests one delivery and acknowledges it after its last batch committed; nacks it and rethrows
 * when it could not be committed whole.
 */
export async function deliverOne(
  source: Source,
  delivery: Delivery,
  options: SourceRunOptions,
): Promise<DeliveryReport> {
  options.onDeliveryStart?.(delivery);
  let report: DeliveryReport;
  try {
    report = await ingestDelivery(delivery.bytes(), {
      ...options,
      format: delivery.format,
      formatContext: delivery.formatContext ?? options.formatContexts?.[delivery.format] ?? {},
      name: delivery.name,
      sourceId: source.id,
      transportId: delivery.sourceDeliveryId,
      attempt: delivery.attempt,
      metadata: delivery.metadata,
      partitionKey: delivery.partitionKey,
      position: delivery.position,
      meterScope: delivery.meterScope ?? null,
    });
  } catch (error) {
    await delivery.nack(error as Error);
    throw error;
  }
  await delivery.ack({
    deliveryId: report.deliveryId,
    counts: report.counts,
    firstDeliveryId: report.firstDeliveryId,
  });
  options.onDelivery?.(report);
  return report;
}

/**
 * Drains the source until END or until it has nothing now (idle): the form for files named on a
 * command line and for tests. The long-running form is service.ts.
 */
export async function runSource(
  source: Source,
  options: SourceRunOptions,
  signal: AbortSignal = new AbortController().signal,
): Promise<DeliveryReport[]> {
  const reports: DeliveryReport[] = [];
  await source.connect(signal, await loadSavedPosition(options.store, source.id));
  try {
    for (let count = 0; count < DELIVERIES_PER_RUN_MAX && !signal.aborted; count++) {
      const delivery = await source.read(signal);
      if (delivery === END) break;
      if (isIdle(delivery)) {
        if (delivery.reason === 'caught-up') break;
        await timersOf(options.clock).sleep(delivery.afterMs, signal);
        continue;
      }
      reports.push(await deliverOne(source, delivery, options));
    }
  } finally {
    await source.close();
  }
  return reports;
}
