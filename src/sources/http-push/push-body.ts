/**
 * A request's body as the delivery reads it: streamed from the socket in order, counted against
 * the body limit as it comes (a body larger than its Content-Length claimed is cut too), with its
 * head readable in advance for format sniffing and its sha256 computable for Idempotency-Key
 * checks, without holding more than the head.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { AmisyncError } from '../../core/errors.js';

export class RequestBody {
  readonly #iterator: AsyncIterator<Buffer>;
  readonly #bytesMax: number;
  #head: Buffer[] = [];
  #headBytes = 0;
  #bytesRead = 0;
  #done = false;
  #taken = false;

  constructor(request: IncomingMessage, bytesMax: number) {
    this.#iterator = (request as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
    this.#bytesMax = bytesMax;
  }

  /** Bytes read from the socket so far. */
  get bytesRead(): number {
    return this.#bytesRead;
  }

  /** At least `byteCount` bytes of the head (fewer when the body is shorter), kept for chunks(). */
  async head(byteCount: number): Promise<Buffer> {
    while (this.#headBytes < byteCount) {
      const chunk = await this.#next();
      if (chunk === null) break;
      this.#head.push(chunk);
      this.#headBytes += chunk.byteLength;
    }
    return Buffer.concat(this.#head);
  }

  /** The whole body in order, once. Throws PAYLOAD_TOO_LARGE once past the limit. */
  async *chunks(): AsyncGenerator<Buffer> {
    if (this.#taken) throw new Error('a request body is read once');
    this.#taken = true;
    const head = this.#head;
    this.#head = [];
    yield* head;
    for (;;) {
      const chunk = await this.#next();
      if (chunk === null) return;
      yield chunk;
    }
  }

  /** Reads the whole body for its sha256 (lowercase hex), keeping none of it. */
  async sha256(): Promise<string> {
    const hasher = createHash('sha256');
    for await (const chunk of this.chunks()) hasher.update(chunk);
    return hasher.digest('hex');
  }

  async #next(): Promise<Buffer | null> {
    if (this.#done) return null;
    let step: IteratorResult<Buffer>;
    try {
      step = await this.#iterator.next();
    } catch (error) {
      this.#done = true;
      throw new AmisyncError(
        'INPUT_UNREADABLE',
        `the request body was cut after ${this.#bytesRead} bytes: ${(error as Error).message}`,
      );
    }
    if (step.done === true) {
      this.#done = true;
      return null;
    }
    const chunk = step.value;
    this.#bytesRead += chunk.byteLength;
    if (this.#bytesRead > this.#bytesMax) {
      this.#done = true;
      throw new AmisyncError(
        'PAYLOAD_TOO_LARGE',
        `the body is larger than ${this.#bytesMax} bytes (bodyBytesMax)`,
        { bodyBytesMax: this.#bytesMax },
      );
    }
    return chunk;
  }
}
