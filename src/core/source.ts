/**
 * The Source contract (ARCH 4): where deliveries come from. The call protocol, for every transport:
 *
 * - `connect(signal)` once before the first read. It may throw a transport error; resilience (a
 *   wrapper, never the adapter) decides whether to retry.
 * - `read(signal)` returns the next Delivery, or END when the source has no more for now. An
 * adapter   never sleeps, loops or retries inside read.
 * - Each Delivery is acknowledged exactly once: `ack()` after every batch of it has committed, or
 *   `nack(error)` when it could not be committed. Acknowledging is what lets the source forget the
 *   delivery (broker ack, file archived, HTTP 2xx, REST cursor advanced), so it must never happen
 *   before the commit: a crash before ack means redelivery, which idempotency absorbs.
 * - `close()` once; deliveries not yet acknowledged are redelivered by the transport later.
 */
import type { InputFormat } from './parser.js';

export const END = Symbol('end of deliveries');

export interface Delivery {
  /** Stable across redeliveries where the transport allows (a file path, a message id). */
  readonly sourceDeliveryId: string;
  /** A name an operator recognises. */
  readonly name: string;
  /** The format when the transport knows it; otherwise the runner detects it from the bytes. */
  readonly format: InputFormat;
  /** The payload, read once, in order. */
  bytes(): AsyncIterable<Uint8Array>;
  ack(): Promise<void>;
  nack(error: Error): Promise<void>;
}

export interface Source {
  readonly id: string;
  connect(signal: AbortSignal): Promise<void>;
  read(signal: AbortSignal): Promise<Delivery | typeof END>;
  close(): Promise<void>;
}
