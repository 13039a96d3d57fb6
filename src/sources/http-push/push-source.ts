/**
 * The HTTP push source: vendors POST deliveries to one path; each request becomes a Delivery whose
 * bytes stream from the socket into the runner, and the request waits. Its answer is sent only from
 * `ack` (202 with the delivery id and the conservation counts, after the commit) or `nack` (a
 * problem, nothing acknowledged). Requests refused before they reach the runner (credentials, rate,
 * media type, size, a reused Idempotency-Key) write nothing but their audit entry.
 *
 * While an operator has paused the source (`amisync pause`), an authenticated request is answered
 * 503 PAUSED with Retry-After (PAUSE_RETRY_AFTER_SECONDS) before its body is read, and requests
 * already waiting for the runner when the pause took hold are answered the same way: nothing of
 * theirs was taken.
 *
 * Every request to the port, refused ones too, gets one `push.request` audit entry naming the
 * vendor (when known), the status and the code, written before the answer is sent.
 *
 * A push source is never at its end: `read` returns the next waiting request or
 * `idle(pollIntervalMs, 'caught-up')`, so a run with --once takes the requests already waiting and
 * stops; the long-running service is how a push endpoint is meant to run.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AmisyncError } from '../../core/errors.js';
import {
  PAUSE_RETRY_AFTER_SECONDS,
  PUSH_IDEMPOTENCY_KEY_CHARS_MAX,
  PUSH_REQUEST_TIMEOUT_MS,
  PUSH_SNIFF_BYTES,
} from '../../core/limits.js';
import type { Logger } from '../../core/log.js';
import type { InputFormat } from '../../core/parser.js';
import type { Pause } from '../../core/pause.js';
import {
  AckOnce,
  idle,
  type Delivery,
  type DeliveryReceipt,
  type Idle,
  type Source,
  type SourceContext,
} from '../../core/source.js';
import { PushAuthenticator, type PushVendor } from './push-auth.js';
import { RequestBody } from './push-body.js';
import type { PushSourceConfig } from './push-config.js';
import { formatOfMediaType, formatOfPlainText } from './push-media.js';
import { VendorRateLimiter } from './push-rate-limit.js';
import { accepted, problem, type Reply } from './push-reply.js';

type Outcome = { kind: 'ack'; receipt: DeliveryReceipt } | { kind: 'nack'; error: Error };

interface QueuedRequest {
  readonly delivery: Delivery;
  settle(outcome: Outcome): void;
}

/** What the audit entry of one request says. */
interface RequestRecord {
  method: string;
  path: string;
  remoteAddress: string | null;
  contentType: string | null;
  contentLength: number | null;
  vendor: string | null;
  via: string | null;
  keyId: string | null;
  idempotencyKey: string | null;
  deliveryId: string | null;
  replayed: boolean;
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]+$/;

export class PushSource implements Source {
  readonly id: string;
  readonly #config: PushSourceConfig;
  readonly #context: SourceContext;
  readonly #log: Logger;
  readonly #auth: PushAuthenticator;
  readonly #limiter: VendorRateLimiter;
  readonly #queue: QueuedRequest[] = [];
  /**
   * One request per Idempotency-Key at a time: a second waits for the first's outcome. So the
   * look-up of a key's delivery never runs while a transaction writing that delivery is open on
   * the store's connection, and cannot answer from a delivery that then rolls back.
   */
  readonly #keys = new Map<string, Promise<unknown>>();
  readonly #handlers = new Set<Promise<void>>();
  #server: Server | null = null;
  #closing = false;

  constructor(config: PushSourceConfig, context: SourceContext) {
    this.id = config.id;
    this.#config = config;
    this.#context = context;
    this.#log = context.log.child({ source: config.id });
    const jwt = config.jwt;
    this.#auth = new PushAuthenticator({
      store: () => context.store,
      clock: context.clock,
      apiKeys: config.apiKeys,
      jwt,
      jwtSecret:
        jwt === undefined || jwt.jwksUrl !== undefined
          ? null
          : context.secret({ env: jwt.secretEnv, file: jwt.secretFile }, 'jwt.secret'),
      vendors: config.vendors,
    });
    const rate = config.rateLimit;
    this.#limiter = new VendorRateLimiter(
      context.clock,
      rate.requestsPerMinute,
      rate.burst ?? Math.max(1, Math.ceil(rate.requestsPerMinute / 10)),
    );
  }

  /** The endpoint's URL once connected (the bound port when the config says 0). */
  get url(): string {
    const address = this.#server?.address() as AddressInfo | null | undefined;
    if (address == null) throw new AmisyncError('INVALID_STATE', `${this.id} is not listening`);
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `http://${host}:${address.port}${this.#config.path}`;
  }

  /** Listens; again after close() too (the service reconnects a source that failed). */
  async connect(): Promise<void> {
    if (this.#server !== null) return;
    const server = createServer({ requestTimeout: PUSH_REQUEST_TIMEOUT_MS }, (request, response) =>
      this.#track(this.#handle(request, response)),
    );
    server.listen(this.#config.port, this.#config.host);
    try {
      await once(server, 'listening');
    } catch (error) {
      throw new AmisyncError(
        'TRANSPORT_UNAVAILABLE',
        `${this.id} cannot listen on ${this.#config.host}:${this.#config.port}: ` +
          (error as Error).message,
      );
    }
    this.#closing = false;
    this.#server = server;
    this.#log.info({ url: this.url }, 'push endpoint listening');
  }

  async read(): Promise<Delivery | Idle> {
    return this.#queue.shift()?.delivery ?? idle(this.#config.pollIntervalMs, 'caught-up');
  }

  /** Requests waiting for the runner to take them. */
  get waiting(): number {
    return this.#queue.length;
  }

  /** Answers the requests waiting for the runner 503 PAUSED: the runner takes none while paused. */
  async paused(pause: Pause): Promise<void> {
    const error = pausedError(this.id, pause);
    for (const queued of this.#queue.splice(0)) queued.settle({ kind: 'nack', error });
  }

  /** Answers waiting requests 503 SHUTTING_DOWN (nothing of them was taken) and stops listening. */
  async close(): Promise<void> {
    this.#closing = true;
    const shutting = new AmisyncError('SHUTTING_DOWN', 'the push endpoint is stopping; send again');
    for (const queued of this.#queue.splice(0)) queued.settle({ kind: 'nack', error: shutting });
    const server = this.#server;
    if (server === null) return;
    const closed = once(server, 'close');
    server.close();
    server.closeIdleConnections();
    await Promise.allSettled([...this.#handlers]);
    server.closeAllConnections();
    await closed;
    this.#server = null;
  }

  #track(handler: Promise<void>): void {
    this.#handlers.add(handler);
    void handler.finally(() => this.#handlers.delete(handler));
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const record = recordOf(request);
    let reply: Reply;
    try {
      reply = await this.#serve(request, record);
    } catch (error) {
      if (error instanceof AmisyncError) claimedIdentity(record, error);
      else this.#log.error({ error: (error as Error).message }, 'push request failed');
      reply = problem(error);
    }
    await this.#audit(record, reply);
    send(request, response, reply);
  }

  async #serve(request: IncomingMessage, record: RequestRecord): Promise<Reply> {
    if (record.path !== this.#config.path) {
      return problem(new AmisyncError('NOT_FOUND', `nothing at ${record.path}`));
    }
    if (request.method !== 'POST') {
      return problem(new AmisyncError('USAGE', 'only POST is taken here'), 405, { allow: 'POST' });
    }
    if (this.#closing) throw new AmisyncError('SHUTTING_DOWN', 'the push endpoint is stopping');
    const vendor = await this.#auth.authenticate(
      request.headers.authorization,
      headerOf(request, 'x-api-key'),
    );
    record.vendor = vendor.name;
    record.via = vendor.via;
    record.keyId = vendor.keyId;
    const pause = await this.#pauseNow();
    if (pause !== null) throw pausedError(this.id, pause);
    const waitMs = this.#limiter.take(vendor.name);
    if (waitMs > 0) {
      throw new AmisyncError('RATE_LIMITED', `${vendor.name} is over its rate limit`, {
        retryAfterSeconds: Math.ceil(waitMs / 1000),
      });
    }
    const format = formatOfMediaType(request.headers['content-type']);
    const encoding = headerOf(request, 'content-encoding');
    if (encoding !== undefined && encoding.toLowerCase() !== 'identity') {
      throw new AmisyncError('FORMAT_UNKNOWN', `Content-Encoding ${encoding} is not taken`);
    }
    this.#checkDeclaredLength(record);
    const key = idempotencyKeyOf(request);
    record.idempotencyKey = key;
    const body = new RequestBody(request, this.#config.bodyBytesMax);
    if (key === null) return this.#submit(vendor, format, body, null, record);
    return this.#withKey(`idempotency:${vendor.name}:${key}`, () =>
      this.#keyed(vendor, format, body, `idempotency:${vendor.name}:${key}`, record),
    );
  }

  /** The pause in force; while it cannot be known (the store unreadable) nothing is taken. */
  async #pauseNow(): Promise<Pause | null> {
    try {
      return (await this.#context.pauseGate?.pauseOf(this.id)) ?? null;
    } catch (error) {
      this.#log.warn({ error: (error as Error).message }, 'pauses could not be read');
      throw new AmisyncError(
        'STORE_UNAVAILABLE',
        'whether the endpoint is paused cannot be read now; send again',
        { retryAfterSeconds: 1 },
      );
    }
  }

  #checkDeclaredLength(record: RequestRecord): void {
    if (record.contentLength !== null && record.contentLength > this.#config.bodyBytesMax) {
      throw new AmisyncError(
        'PAYLOAD_TOO_LARGE',
        `the body is ${record.contentLength} bytes, more than ${this.#config.bodyBytesMax} ` +
          '(bodyBytesMax)',
        { bodyBytesMax: this.#config.bodyBytesMax },
      );
    }
  }

  async #withKey<T>(transportId: string, run: () => Promise<T>): Promise<T> {
    const earlier = this.#keys.get(transportId);
    const mine = (async () => {
      await earlier?.catch(() => undefined);
      return run();
    })();
    this.#keys.set(transportId, mine);
    try {
      return await mine;
    } finally {
      if (this.#keys.get(transportId) === mine) this.#keys.delete(transportId);
    }
  }

  /** A request with an Idempotency-Key: the original answer when its body was taken before. */
  async #keyed(
    vendor: PushVendor,
    format: InputFormat | 'sniff',
    body: RequestBody,
    transportId: string,
    record: RequestRecord,
  ): Promise<Reply> {
    const prior = await this.#context.store.findDeliveryByTransportId(this.id, transportId);
    if (prior === null) return this.#submit(vendor, format, body, transportId, record);
    if ((await body.sha256()) !== prior.sha256) {
      throw new AmisyncError(
        'IDEMPOTENCY_KEY_REUSED',
        `Idempotency-Key ${record.idempotencyKey} was sent before with another body ` +
          `(delivery ${prior.id})`,
        { deliveryId: prior.id },
      );
    }
    record.deliveryId = prior.id;
    record.replayed = true;
    return accepted({
      deliveryId: prior.id,
      firstDeliveryId: prior.firstDeliveryId,
      vendor: vendor.name,
      replayed: true,
      counts: prior.counts,
    });
  }

  /** Queues the request for the runner and waits for its ack or nack. */
  async #submit(
    vendor: PushVendor,
    declared: InputFormat | 'sniff',
    body: RequestBody,
    transportId: string | null,
    record: RequestRecord,
  ): Promise<Reply> {
    const format =
      declared === 'sniff' ? formatOfPlainText(await body.head(PUSH_SNIFF_BYTES)) : declared;
    if (this.#closing) throw new AmisyncError('SHUTTING_DOWN', 'the push endpoint is stopping');
    if (this.#queue.length >= this.#config.queueMax) {
      throw new AmisyncError(
        'PUSH_QUEUE_FULL',
        `${this.#config.queueMax} requests are waiting to commit; send again shortly`,
        { retryAfterSeconds: 1 },
      );
    }
    const requestId = this.#context.random.hex(8);
    let settle: (outcome: Outcome) => void = () => undefined;
    const outcome = new Promise<Outcome>((resolve) => (settle = resolve));
    const guard = new AckOnce(`push request ${requestId}`);
    this.#queue.push({
      settle,
      delivery: {
        sourceDeliveryId: transportId ?? `request:${requestId}`,
        name: `${vendor.name}/${record.idempotencyKey ?? requestId}`,
        format,
        formatContext: null,
        attempt: 1,
        metadata: metadataOf(vendor, record),
        partitionKey: null,
        position: null,
        // Always a scope, even for a vendor of any meter: a request then commits whole in one
        // transaction, so its answer says all of it committed or none of it did.
        meterScope: vendor.scope,
        bytes: () => body.chunks(),
        ack: async (receipt) => {
          guard.take();
          settle({ kind: 'ack', receipt });
        },
        nack: async (error) => {
          guard.take();
          settle({ kind: 'nack', error });
        },
      },
    });
    const result = await outcome;
    if (result.kind === 'nack') throw result.error;
    record.deliveryId = result.receipt.deliveryId;
    return accepted({
      deliveryId: result.receipt.deliveryId,
      firstDeliveryId: result.receipt.firstDeliveryId,
      vendor: vendor.name,
      replayed: false,
      counts: result.receipt.counts,
    });
  }

  async #audit(record: RequestRecord, reply: Reply): Promise<void> {
    const counts = reply.status === 202 ? reply.body.counts : null;
    try {
      await this.#context.audit('push.request', {
        source: this.id,
        ...record,
        status: reply.status,
        code: reply.code,
        counts: counts ?? null,
      });
    } catch (error) {
      this.#log.error(
        { error: (error as Error).message, status: reply.status, vendor: record.vendor },
        'the audit entry of a push request could not be written',
      );
    }
  }
}

/** The refusal of a request while the source is paused; who paused it stays in the audit trail. */
function pausedError(sourceId: string, pause: Pause): AmisyncError {
  return new AmisyncError(
    'PAUSED',
    `${sourceId} is paused by an operator; nothing was taken, send again later`,
    { retryAfterSeconds: PAUSE_RETRY_AFTER_SECONDS, pausedSinceMs: pause.sinceMs },
  );
}

/** Who a refused request's credentials named (a revoked key's vendor, a JWT's claim). */
function claimedIdentity(record: RequestRecord, error: AmisyncError): void {
  const { vendor, keyId } = error.details;
  if (record.vendor === null && typeof vendor === 'string') record.vendor = vendor;
  if (record.keyId === null && typeof keyId === 'string') record.keyId = keyId;
}

function headerOf(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function recordOf(request: IncomingMessage): RequestRecord {
  const length = headerOf(request, 'content-length');
  const path = (request.url ?? '/').split('?')[0] ?? '/';
  return {
    method: request.method ?? 'GET',
    path,
    remoteAddress: request.socket.remoteAddress ?? null,
    contentType: headerOf(request, 'content-type') ?? null,
    contentLength: length === undefined || !/^\d+$/.test(length) ? null : Number(length),
    vendor: null,
    via: null,
    keyId: null,
    idempotencyKey: null,
    deliveryId: null,
    replayed: false,
  };
}

function idempotencyKeyOf(request: IncomingMessage): string | null {
  const key = headerOf(request, 'idempotency-key');
  if (key === undefined) return null;
  if (key.length > PUSH_IDEMPOTENCY_KEY_CHARS_MAX || !IDEMPOTENCY_KEY.test(key)) {
    throw new AmisyncError(
      'USAGE',
      `Idempotency-Key must be 1 to ${PUSH_IDEMPOTENCY_KEY_CHARS_MAX} visible ASCII characters`,
    );
  }
  return key;
}

function metadataOf(vendor: PushVendor, record: RequestRecord): Record<string, string> {
  const metadata: Record<string, string> = { vendor: vendor.name, via: vendor.via };
  if (record.contentType !== null) metadata['content-type'] = record.contentType;
  if (record.idempotencyKey !== null) metadata['idempotency-key'] = record.idempotencyKey;
  if (vendor.keyId !== null) metadata['key-id'] = vendor.keyId;
  return metadata;
}

function send(request: IncomingMessage, response: ServerResponse, reply: Reply): void {
  if (response.headersSent || response.destroyed) return;
  const body = JSON.stringify(reply.body);
  const headers: Record<string, string | number> = {
    ...reply.headers,
    'content-length': Buffer.byteLength(body),
  };
  // A refusal sent before the body was read closes the connection rather than read the rest.
  if (!request.complete) headers.connection = 'close';
  response.writeHead(reply.status, headers);
  response.end(body);
}
