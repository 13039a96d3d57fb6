/**
 * Drains a Source: each delivery is ingested (one transaction per batch) and only then
 * acknowledged. A delivery whose batches could not all commit is nacked and the error is rethrown
 * after the source is closed, so nothing is acknowledged that the store does not hold.
 */
import type { FormatContext, InputFormat } from '../core/parser.js';
import { END, isIdle, type Delivery, type Source } from '../core/source.js';
import { ingestDelivery, type DeliveryReport, type IngestOptions } from './ingest.js';

export type SourceRunOptions = Omit<
  IngestOptions,
  'format' | 'formatContext' | 'name' | 'sourceId'
> & {
  /** What each format needs besides bytes (a CMEP time zone, a CSV dialect), by format. */
  formatContexts?: Partial<Record<InputFormat, FormatContext>>;
  /** Called before a delivery is read, e.g. to start a progress display. */
  onDeliveryStart?: (delivery: Delivery) => void;
  /** Called after a delivery was committed and acknowledged. */
  onDelivery?: (report: DeliveryReport) => void;
};

/** Deliveries drained in one run at most, so a source that never ends cannot loop forever. */
export const DELIVERIES_PER_RUN_MAX = 1_000_000;

export async function runSource(
  source: Source,
  options: SourceRunOptions,
  signal: AbortSignal = new AbortController().signal,
): Promise<DeliveryReport[]> {
  const reports: DeliveryReport[] = [];
  await source.connect(signal, null);
  try {
    for (let count = 0; count < DELIVERIES_PER_RUN_MAX && !signal.aborted; count++) {
      const delivery = await source.read(signal);
      if (delivery === END || isIdle(delivery)) break;
      options.onDeliveryStart?.(delivery);
      let report: DeliveryReport;
      try {
        report = await ingestDelivery(delivery.bytes(), {
          ...options,
          format: delivery.format,
          formatContext: delivery.formatContext ?? options.formatContexts?.[delivery.format] ?? {},
          name: delivery.name,
          sourceId: source.id,
        });
      } catch (error) {
        await delivery.nack(error as Error);
        throw error;
      }
      await delivery.ack({
        deliveryId: report.deliveryId,
        counts: report.counts,
        firstDeliveryId: null,
      });
      reports.push(report);
      options.onDelivery?.(report);
    }
  } finally {
    await source.close();
  }
  return reports;
}
