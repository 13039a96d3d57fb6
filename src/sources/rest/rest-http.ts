/**
 * HTTP for the REST source and its token manager: one undici Agent (keep-alive pools per origin),
 * a per-request deadline on the injected clock that covers headers and body, undici's own
 * headers/body timeouts as a backstop, and a body reader with a byte limit. Failures become
 * transport errors: a deadline is TRANSPORT_TIMEOUT, a refused or reset connection
 * TRANSPORT_UNAVAILABLE. The caller's own abort is rethrown as it is.
 */
import type { Agent } from 'undici';
import type { TimerClock } from '../../core/clock.js';
import { AmisyncError } from '../../core/errors.js';
import { REST_ERROR_PREVIEW_BYTES } from '../../core/limits.js';
import type { ResponseHeaders } from './rest-throttle.js';

export interface HttpResponse {
  readonly status: number;
  readonly headers: ResponseHeaders;
  /** The body, read to the end: the chunks as received. */
  readonly chunks: readonly Buffer[];
  readonly bytes: number;
}

export interface HttpRequest {
  readonly method: 'GET' | 'POST';
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  /** A body longer than this fails with TRANSPORT_PROTOCOL, naming `what` and `limitName`. */
  readonly bodyBytesMax: number;
  readonly limitName: string;
  /** What is asked for, in errors: `the page GET /v1/readings?...`, `the token endpoint`. */
  readonly what: string;
}

const KEEP_ALIVE_MS = 30_000;

/** The first bytes of a body as one line of text, for an error message. */
export function preview(chunks: readonly Buffer[]): string {
  const head = Buffer.concat(chunks.slice(0, 4)).subarray(0, REST_ERROR_PREVIEW_BYTES);
  return JSON.stringify(head.toString('utf8').replace(/\s+/g, ' ').trim());
}

export class RestHttp {
  /** Made on the first request: undici loads only then (most commands never make one). */
  #agent: Agent | null = null;
  readonly #clock: TimerClock;
  readonly #timeoutMs: number;

  constructor(clock: TimerClock, timeoutMs: number) {
    this.#clock = clock;
    this.#timeoutMs = timeoutMs;
  }

  async send(message: HttpRequest, signal: AbortSignal): Promise<HttpResponse> {
    const deadline = new AbortController();
    const timer = new AbortController();
    void this.#clock.sleep(this.#timeoutMs, timer.signal).then(() => {
      if (!timer.signal.aborted) deadline.abort();
    });
    try {
      return await this.#exchange(message, AbortSignal.any([signal, deadline.signal]));
    } catch (error) {
      if (signal.aborted) throw error;
      throw classify(error, message, deadline.signal.aborted, this.#timeoutMs);
    } finally {
      timer.abort();
    }
  }

  async close(): Promise<void> {
    await this.#agent?.close();
  }

  async #exchange(message: HttpRequest, signal: AbortSignal): Promise<HttpResponse> {
    const { Agent, request } = await import('undici');
    this.#agent ??= new Agent({
      keepAliveTimeout: KEEP_ALIVE_MS,
      headersTimeout: this.#timeoutMs,
      bodyTimeout: this.#timeoutMs,
      connections: 4,
    });
    const response = await request(message.url, {
      method: message.method,
      headers: message.headers,
      body: message.body ?? null,
      signal,
      dispatcher: this.#agent,
    });
    const chunks: Buffer[] = [];
    let bytes = 0;
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      if (bytes > message.bodyBytesMax) {
        response.body.destroy();
        throw new AmisyncError(
          'TRANSPORT_PROTOCOL',
          `${message.what} is larger than ${message.bodyBytesMax} bytes (${message.limitName}); ` +
            `refused before parsing; it begins ${preview([...chunks, chunk])}`,
          { url: message.url, bytesMax: message.bodyBytesMax },
        );
      }
      chunks.push(chunk);
    }
    return { status: response.statusCode, headers: response.headers, chunks, bytes };
  }
}

const TIMEOUT_CODES = new Set([
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT',
]);

function classify(error: unknown, message: HttpRequest, deadline: boolean, timeoutMs: number) {
  if (error instanceof AmisyncError) return error;
  const code = (error as { code?: string }).code ?? '';
  if (deadline || TIMEOUT_CODES.has(code)) {
    return new AmisyncError(
      'TRANSPORT_TIMEOUT',
      `${message.what} did not answer within ${timeoutMs} ms (requestTimeoutMs)`,
      { url: message.url },
    );
  }
  const reason = [code, (error as Error).message].filter((part) => part !== '').join(': ');
  return new AmisyncError('TRANSPORT_UNAVAILABLE', `${message.what} failed: ${reason}`, {
    url: message.url,
    cause: code,
  });
}
