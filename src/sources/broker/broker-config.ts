/**
 * What the configuration of every message broker source shares: how messages are gathered into a
 * batch (one delivery, one commit, acknowledged together), what they hold, when the source counts
 * as caught up, and where acknowledgements are logged.
 */
import { z } from 'zod';
import {
  BROKER_BATCH_BYTES_MAX,
  BROKER_BATCH_DELAY_MS_MAX,
  BROKER_BATCH_MESSAGES_MAX,
} from '../../core/limits.js';
import { sourceIdSchema } from '../common/config.js';

/**
 * 5,000 messages a batch: a batch's fixed work (its transaction and fsync, audit entry, delivery
 * record, and each of its meters' stream state, which with one reading a message from many meters
 * is work per reading) spread over five times as many readings as the 1,000 it was. The broker
 * bench, idle machine, one reading a message: MQTT 22,195 -> 35,008/s, AMQP 23,001 -> 40,118/s,
 * NATS 22,680 -> 35,530/s. `delayMs` still bounds the wait when messages come slowly.
 */
export const BATCH_DEFAULTS = { messagesMax: 5000, bytesMax: 1024 * 1024, delayMs: 200 } as const;

export const brokerBatchSchema = z
  .object({
    /** A batch is delivered once it holds this many messages... */
    messagesMax: z
      .number()
      .int()
      .min(1)
      .max(BROKER_BATCH_MESSAGES_MAX)
      .default(BATCH_DEFAULTS.messagesMax),
    /** ...or this many bytes of messages... */
    bytesMax: z
      .number()
      .int()
      .min(1024)
      .max(BROKER_BATCH_BYTES_MAX)
      .default(BATCH_DEFAULTS.bytesMax),
    /** ...or once its first message has waited this long. */
    delayMs: z.number().int().min(0).max(BROKER_BATCH_DELAY_MS_MAX).default(BATCH_DEFAULTS.delayMs),
  })
  .strict();

export type BrokerBatchConfig = z.infer<typeof brokerBatchSchema>;

/** Fields every broker source has, besides its transport's own. */
export const brokerSourceFields = {
  id: sourceIdSchema,
  /** How long the service waits before it looks again at a source with no message waiting. */
  pollIntervalMs: z.number().int().min(10).max(86_400_000).default(100),
  /**
   * What a message holds: `json`, the reference JSON format (one object, NDJSON lines, or an
   * array of objects). Anything else in a message is quarantined with its bytes.
   */
  format: z.literal('json').default('json'),
  batch: brokerBatchSchema.default({ ...BATCH_DEFAULTS }),
  /**
   * With `--once`: the source has caught up once no message has arrived for this long (a broker
   * pushes what it holds right after the connection is made, but not in zero time).
   */
  quietMs: z.number().int().min(10).max(600_000).default(1000),
  /** A file each acknowledgement is appended to (one JSON line), for operators and audits. */
  ackLog: z.string().min(1).optional(),
};

export interface BrokerSourceSettings {
  readonly id: string;
  readonly pollIntervalMs: number;
  readonly batch: BrokerBatchConfig;
  readonly quietMs: number;
  readonly ackLog?: string | undefined;
}
