/**
 * A message broker as a Source (MQTT, AMQP, NATS JetStream). The transport's link pushes messages
 * into an inbox as the broker delivers them; `read` hands the oldest of them over as one batch, a
 * Delivery whose bytes are the messages' readings as NDJSON lines (message-lines.ts), once the
 * batch is full (`batch.messagesMax` messages or `batch.bytesMax` bytes) or its first message has
 * waited `batch.delayMs`. The runner commits it and only then calls `ack`, which acknowledges every
 * message of the batch to the broker together; `nack` hands them back (requeue, negative ack, or a
 * closed session, as the transport allows). A message that is not JSON, or not the declared
 * format, is one reject of the batch: quarantined with its bytes, and acknowledged with the rest.
 *
 * The broker never holds more than one batch or two unacknowledged for the source: the link
 * declares that bound to the broker (a prefetch, a receive maximum, a max ack pending), which is
 * the backpressure. `read` never waits: while a batch fills it answers idle until the batch is
 * due ('throttled', so a run with --once waits for it), and with nothing waiting it answers
 * idle after `pollIntervalMs`, 'caught-up' once no message has come for `quietMs`. Each idle
 * answer carries a `wake` that settles when the batch is full (or, from an empty inbox, when a
 * message comes), so the runner does not sleep out the delay or the poll interval meanwhile.
 *
 * A lost connection fails the next read with TRANSPORT_UNAVAILABLE, and the service connects
 * again; what was not acknowledged is delivered again by the broker, and idempotency absorbs it.
 */
import { appendFileSync } from 'node:fs';
import { hash } from 'node:crypto';
import { AmisyncError } from '../../core/errors.js';
import type { AlertFigures } from '../../core/alert.js';
import type { Logger } from '../../core/log.js';
import {
  AckOnce,
  idle,
  type Delivery,
  type DeliveryReceipt,
  type Idle,
  type SavedPosition,
  type Source,
  type SourceContext,
  type SourcePosition,
} from '../../core/source.js';
import type { BrokerSourceSettings } from './broker-config.js';
import { messageLines } from './message-lines.js';

/** The audit entry of a broker's loss (src/audit/README.md). */
export const LOSS_AUDIT_KIND = 'source.messages_lost';

/** One message as the transport delivered it. */
export interface BrokerMessage {
  /** The publisher's message id where the transport carries one, else the transport's own. */
  readonly id: string;
  readonly bytes: Uint8Array;
  /** 1 on the first delivery; more when the broker says it delivers the message again. */
  readonly attempt: number;
}

/**
 * What a link learned of messages the broker lost before they reached the source: it kept no
 * session for a source that had one (`session-lost`), its own count of messages it dropped rose
 * (`dropped`), or it stopped delivering a message the source never committed (`max-deliveries`).
 */
export interface BrokerLoss {
  readonly cause: 'session-lost' | 'dropped' | 'max-deliveries';
  readonly severity: 'warning' | 'critical';
  /** One sentence an operator can act on, naming the broker. */
  readonly message: string;
  readonly figures: AlertFigures;
}

/** Where a link puts what the broker delivers. */
export interface BrokerInbox<H> {
  take(message: BrokerMessage, handle: H): void;
  /** The connection is gone: the next read fails and the service connects again. */
  lost(error: Error): void;
  /** The broker lost messages meant for the source: alerted and audited, and reading goes on. */
  loss(report: BrokerLoss): void;
}

/**
 * One transport's connection, as the broker source uses it. `open` connects, declares what the
 * source consumes from (a queue, a subscription, a consumer) and starts delivering into the inbox;
 * `ack` and `nack` settle the messages of one batch, given in the order they were delivered.
 */
export interface BrokerLink<H> {
  /** The broker and what is consumed, for names and logs: `amqp://127.0.0.1:5672 queue q`. */
  readonly where: string;
  /** `saved`: what `position` gave for the source's last committed delivery, if anything. */
  open(inbox: BrokerInbox<H>, unackedMax: number, saved: SourcePosition | null): Promise<void>;
  /**
   * What the link must know again after a restart (MQTT: the session it had and the broker's
   * count of dropped messages it last saw), saved with each delivery; absent: nothing.
   */
  position?(): SourcePosition | null;
  ack(handles: readonly H[]): Promise<void>;
  nack(handles: readonly H[], error: Error): Promise<void>;
  close(): Promise<void>;
}

interface Held<H> {
  readonly message: BrokerMessage;
  readonly handle: H;
  readonly lines: Uint8Array;
  readonly receivedAtMs: number;
}

/** The messages delivered and not yet handed over, oldest first. */
class Inbox<H> implements BrokerInbox<H> {
  readonly held: Held<H>[] = [];
  bytes = 0;
  lostError: Error | null = null;
  lastArrivalMs: number;
  readonly #nowMs: () => number;
  readonly #onLoss: (report: BrokerLoss) => void;
  #waiter: { messages: number; bytes: number; resolve: () => void } | null = null;

  constructor(nowMs: () => number, onLoss: (report: BrokerLoss) => void) {
    this.#nowMs = nowMs;
    this.#onLoss = onLoss;
    this.lastArrivalMs = nowMs();
  }

  loss(report: BrokerLoss): void {
    this.#onLoss(report);
  }

  take(message: BrokerMessage, handle: H): void {
    const lines = messageLines(message.bytes);
    const receivedAtMs = this.#nowMs();
    this.held.push({ message, handle, lines, receivedAtMs });
    this.bytes += lines.length;
    this.lastArrivalMs = receivedAtMs;
    const waiter = this.#waiter;
    if (waiter !== null && (this.held.length >= waiter.messages || this.bytes >= waiter.bytes)) {
      this.#wakeWaiter();
    }
  }

  lost(error: Error): void {
    this.lostError ??= error;
    this.#wakeWaiter();
  }

  /**
   * Settles once the inbox holds `messages` messages or `bytes` bytes, or the connection is lost:
   * what a read answered idle waits for besides its clock. One waiter at a time (one reader).
   */
  wakeWhen(messages: number, bytes: number): Promise<void> {
    this.#wakeWaiter();
    return new Promise((resolve) => {
      this.#waiter = { messages, bytes, resolve };
    });
  }

  #wakeWaiter(): void {
    const waiter = this.#waiter;
    this.#waiter = null;
    waiter?.resolve();
  }

  /** The oldest messages up to the batch's limits (at least one). */
  splice(messagesMax: number, bytesMax: number): Held<H>[] {
    let count = 0;
    let bytes = 0;
    for (const held of this.held) {
      if (count >= messagesMax || (count > 0 && bytes + held.lines.length > bytesMax)) break;
      count += 1;
      bytes += held.lines.length;
    }
    this.bytes -= bytes;
    return this.held.splice(0, count);
  }
}

export class BrokerSource<H> implements Source {
  readonly id: string;
  readonly #settings: BrokerSourceSettings;
  readonly #link: BrokerLink<H>;
  readonly #context: SourceContext;
  readonly #log: Logger;
  #inbox: Inbox<H> | null = null;

  constructor(settings: BrokerSourceSettings, link: BrokerLink<H>, context: SourceContext) {
    this.id = settings.id;
    this.#settings = settings;
    this.#link = link;
    this.#context = context;
    this.#log = context.log.child({ source: settings.id });
  }

  async connect(_signal: AbortSignal, saved: SavedPosition | null): Promise<void> {
    const inbox = new Inbox<H>(
      () => this.#context.clock.nowMs(),
      (report) => this.#lostByBroker(report),
    );
    this.#inbox = inbox;
    await this.#link.open(inbox, 2 * this.#settings.batch.messagesMax, saved?.position ?? null);
    this.#log.info({ where: this.#link.where }, `connected to ${this.#link.where}`);
  }

  /**
   * Messages the broker lost never reach a batch, so nothing else would show them: an alert
   * (`broker.messages_lost`) and an audit entry (`source.messages_lost`) with the broker's figures.
   */
  #lostByBroker(report: BrokerLoss): void {
    const { cause, severity, message, figures } = report;
    this.#context.alert({
      rule: 'broker.messages_lost',
      source: this.id,
      severity,
      message,
      figures,
    });
    const payload = { source: this.id, broker: this.#link.where, cause, message, ...figures };
    this.#context.audit(LOSS_AUDIT_KIND, payload).catch((error: unknown) => {
      this.#log.error(
        { cause, error: (error as Error).message },
        `the audit entry of a broker's loss could not be written: ${(error as Error).message}`,
      );
    });
  }

  async read(): Promise<Delivery | Idle> {
    const inbox = this.#inbox;
    if (inbox === null) {
      throw new AmisyncError('TRANSPORT_UNAVAILABLE', `${this.#link.where}: not connected`);
    }
    if (inbox.lostError !== null) {
      throw new AmisyncError(
        'TRANSPORT_UNAVAILABLE',
        `${this.#link.where}: connection lost: ${inbox.lostError.message}`,
      );
    }
    const nowMs = this.#context.clock.nowMs();
    const waitMs = this.#dueInMs(inbox, nowMs);
    if (waitMs === 0) return this.#delivery(inbox);
    const { messagesMax, bytesMax } = this.#settings.batch;
    // A batch filling wakes the runner once it is full; an empty inbox, at the next message.
    if (waitMs !== null) return idle(waitMs, 'throttled', inbox.wakeWhen(messagesMax, bytesMax));
    const wake = inbox.wakeWhen(1, 1);
    const quietForMs = nowMs - inbox.lastArrivalMs;
    if (quietForMs < this.#settings.quietMs) {
      return idle(
        Math.min(this.#settings.pollIntervalMs, this.#settings.quietMs - quietForMs),
        'throttled',
        wake,
      );
    }
    return idle(this.#settings.pollIntervalMs, 'caught-up', wake);
  }

  /** 0 when a batch is due now, the wait until it is, or null with nothing waiting. */
  #dueInMs(inbox: Inbox<H>, nowMs: number): number | null {
    const first = inbox.held[0];
    if (first === undefined) return null;
    const { messagesMax, bytesMax, delayMs } = this.#settings.batch;
    if (inbox.held.length >= messagesMax || inbox.bytes >= bytesMax) return 0;
    return Math.max(0, first.receivedAtMs + delayMs - nowMs);
  }

  #delivery(inbox: Inbox<H>): Delivery {
    const { messagesMax, bytesMax } = this.#settings.batch;
    const batch = inbox.splice(messagesMax, bytesMax);
    const bytes = Buffer.concat(batch.map((held) => held.lines));
    const first = batch[0] as Held<H>;
    const last = batch[batch.length - 1] as Held<H>;
    const name =
      `${this.#link.where} messages ${first.message.id}` +
      (batch.length > 1 ? ` .. ${last.message.id} (${batch.length})` : '');
    const once = new AckOnce(name);
    const handles = batch.map((held) => held.handle);
    const ids = batch.map((held) => held.message.id);
    return {
      sourceDeliveryId: `${this.id}:${hash('sha256', bytes, 'hex')}`,
      name,
      format: 'ndjson',
      formatContext: null,
      attempt: Math.max(...batch.map((held) => held.message.attempt)),
      metadata: {
        broker: this.#link.where,
        messages: String(batch.length),
        firstMessageId: first.message.id,
        lastMessageId: last.message.id,
      },
      partitionKey: null,
      position: this.#link.position?.() ?? null,
      bytes: async function* () {
        yield bytes;
      },
      ack: async (receipt: DeliveryReceipt) => {
        once.take();
        this.#logAck(receipt, ids);
        await this.#link.ack(handles);
      },
      nack: async (error: Error) => {
        once.take();
        this.#log.warn(
          { messages: batch.length, error: error.message },
          `${batch.length} messages handed back to ${this.#link.where}: ${error.message}`,
        );
        await this.#link.nack(handles, error);
      },
    };
  }

  /**
   * Appends the acknowledgement to the ack log, before it is sent: a line exists for every message
   * the broker may have been told is done, with the delivery whose commit allowed it.
   */
  #logAck(receipt: DeliveryReceipt, ids: readonly string[]): void {
    if (this.#settings.ackLog === undefined) return;
    const line = {
      atMs: this.#context.clock.nowMs(),
      source: this.id,
      deliveryId: receipt.deliveryId,
      messages: ids,
    };
    appendFileSync(this.#settings.ackLog, `${JSON.stringify(line)}\n`);
  }

  /** Messages delivered and not handed over yet are not acknowledged: the broker keeps them. */
  async close(): Promise<void> {
    this.#inbox = null;
    await this.#link.close();
  }
}
