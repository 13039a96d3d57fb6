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
  waitIdle,
  type Delivery,
  type SavedPosition,
  type Source,
  type SourcePosition,
} from '../core/source.js';
import type { Store } from '../core/store.js';
import {
  attemptsOf,
  deadLetterCause,
  isDeliveryFetched,
  type DeadLetterCause,
} from '../core/dead-letter.js';
import { DEAD_LETTER_BYTES_MAX } from '../core/limits.js';
import { recordDeadLetter, type DeadLetterRecordReport } from './dead-letters.js';
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
 * The bytes of a delivery as it is read, held (up to DEAD_LETTER_BYTES_MAX) so that a delivery
 * whose attempts are exhausted can be kept as a dead letter: its source may be read only once.
 */
class HeldBytes {
  readonly chunks: Uint8Array[] = [];
  #bytes = 0;
  overflowed = false;
  complete = false;

  async *through(source: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
    for await (const chunk of source) {
      this.#hold(chunk);
      yield chunk;
    }
    this.complete = true;
  }

  #hold(chunk: Uint8Array): void {
    if (this.overflowed) return;
    this.#bytes += chunk.byteLength;
    if (this.#bytes > DEAD_LETTER_BYTES_MAX) {
      this.overflowed = true;
      this.chunks.length = 0;
    } else this.chunks.push(chunk);
  }

  get size(): number {
    return this.#bytes;
  }
}

/**
 * Keeps a delivery that failed past its attempts as a dead letter, then acknowledges it when every
 * byte is kept. When they are not (the read failed part-way, or the delivery is larger than what
 * is held) it is nacked, so that its source keeps it: a dead letter never stands for lost data.
 */
async function deadLetterOne(
  source: Source,
  delivery: Delivery,
  options: SourceRunOptions,
  failure: { error: unknown; cause: DeadLetterCause; held: HeldBytes; startedAtMs: number },
): Promise<DeliveryReport> {
  const { error, cause, held } = failure;
  const bytesKept = !held.overflowed;
  let recorded: DeadLetterRecordReport;
  try {
    recorded = await recordDeadLetter(options, {
      sourceId: source.id,
      name: delivery.name,
      format: delivery.format,
      formatContext: delivery.formatContext ?? options.formatContexts?.[delivery.format] ?? {},
      transportId: delivery.sourceDeliveryId,
      attempt: delivery.attempt,
      metadata: delivery.metadata,
      partitionKey: delivery.partitionKey,
      position: delivery.position,
      bytes: bytesKept ? held.chunks : null,
      bytesComplete: bytesKept && (held.complete || isDeliveryFetched(error)),
      request: bytesKept
        ? null
        : { transportId: delivery.sourceDeliveryId, name: delivery.name, bytesRead: held.size },
      attempts: attemptsOf(error, failure.startedAtMs, options.clock.nowMs()),
      cause,
    });
  } catch (recordError) {
    // The dead letter could not be kept (the store is down): the source must keep the delivery.
    await delivery.nack(recordError as Error);
    throw recordError;
  }
  if (!recorded.acknowledge) {
    await delivery.nack(error as Error);
    throw error;
  }
  await delivery.ack({
    deliveryId: recorded.deliveryId,
    counts: recorded.counts,
    firstDeliveryId: null,
  });
  const report: DeliveryReport = {
    deliveryId: recorded.deliveryId,
    name: delivery.name,
    format: delivery.format,
    sha256: '',
    sizeBytes: held.size,
    counts: recorded.counts,
    batches: 0,
    uncountedSpans: 0,
    firstDeliveryId: null,
    tolerated: {},
    empty: false,
    deadLetterId: recorded.deadLetterId,
  };
  options.onDelivery?.(report);
  return report;
}

/**
 * Ingests one delivery and acknowledges it after its last batch committed. When its attempts are
 * exhausted (or it failed in a way no attempt can mend) it is kept as a dead letter first, and only
 * then acknowledged; any other failure (a store outage above all) nacks it and is rethrown.
 */
export async function deliverOne(
  source: Source,
  delivery: Delivery,
  options: SourceRunOptions,
): Promise<DeliveryReport> {
  options.onDeliveryStart?.(delivery);
  const held = new HeldBytes();
  const startedAtMs = options.clock.nowMs();
  let report: DeliveryReport;
  try {
    report = await ingestDelivery(held.through(delivery.bytes()), {
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
    const cause = options.signal?.aborted === true ? null : deadLetterCause(error);
    if (cause !== null) {
      return deadLetterOne(source, delivery, options, { error, cause, held, startedAtMs });
    }
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
        await waitIdle(timersOf(options.clock), delivery, signal);
        continue;
      }
      reports.push(await deliverOne(source, delivery, options));
    }
  } finally {
    await source.close();
  }
  return reports;
}
