/**
 * How `amisync simulate publish` cuts a generated feed into broker messages, and what its
 * transport faults add to the feed's truth. Pure: the broker clients are in
 * cli/commands/simulate-publish.ts.
 *
 * Messages follow the feed's order and carry one to `readingsPerMessage` records each: one record
 * as a JSON object, several as NDJSON lines or as a pretty-printed JSON array, alternately, so
 * every shape a broker source reads is exercised. Each message has an id (`m-SEED-N`), carried
 * as the MQTT `message-id` user property, the AMQP message id, or NATS's `Nats-Msg-Id`.
 *
 * Faults: a poison message (not JSON, or a CSV line where JSON is declared) is one more invalid
 * record. A repeated message is published twice in a row with the same id, as a head-end that
 * lost its publish confirmation would: a NATS stream drops the second within its duplicate
 * window, while on MQTT and AMQP it arrives and its records repeat (duplicates, or invalid again
 * for a bad or conflicting record).
 */
import { partitionOfMeter } from '../core/partition.js';
import { Mulberry32, deriveSeed, toJsonArray, type FeedRecord } from './feed-generator.js';
import type { RepeatKind } from './rest/rest-feed.js';
import type { TruthExtra } from './truth.js';

export interface PublishMessage {
  readonly id: string;
  readonly text: string;
  /** Published a second time, with the same id, right after. */
  readonly repeat: boolean;
  /** What a repeat of this message adds to the truth, if the broker passes it. */
  readonly repeatAdds: { readonly duplicates: number; readonly invalid: number };
  /** The worker partition whose subject it goes to (planPartitionedMessages); 0 otherwise. */
  readonly partition: number;
}

export interface PublishPlanOptions {
  readonly seed: number;
  readonly readingsPerMessage: number;
  readonly poisonRate: number;
  readonly repeatRate: number;
  /** Message ids are `<idPrefix>-N`; default `m-<seed>`. */
  readonly idPrefix?: string;
  /** The partition every message is marked with; default 0. */
  readonly partition?: number;
}

export interface PublishPlan {
  readonly messages: readonly PublishMessage[];
  /** Poison messages: one invalid record each, whatever the broker. */
  readonly poison: number;
}

const SALT_PUBLISH_FAULTS = 0x5055424c;
const POISON_TEXTS = ['<html><body>502 Bad Gateway</body></html>', 'meter_id,timestamp_utc,kwh'];

function render(records: readonly FeedRecord[], shape: number): string {
  if (records.length === 1) return JSON.stringify(records[0]);
  if (shape % 2 === 0) return records.map((record) => JSON.stringify(record)).join('\n');
  return [...toJsonArray(records)].join('');
}

function repeatAddsOf(kinds: readonly RepeatKind[]): PublishMessage['repeatAdds'] {
  let duplicates = 0;
  for (const kind of kinds) if (kind === 'duplicates') duplicates += 1;
  return { duplicates, invalid: kinds.length - duplicates };
}

/**
 * The messages of a feed. `kinds[i]` says what delivering record i again adds (rest-feed.ts's
 * repeatKinds over the same records).
 */
export function planMessages(
  records: readonly FeedRecord[],
  kinds: readonly RepeatKind[],
  options: PublishPlanOptions,
): PublishPlan {
  const sizes = new Mulberry32(options.seed);
  const faults = new Mulberry32(deriveSeed(options.seed, [SALT_PUBLISH_FAULTS]));
  const messages: PublishMessage[] = [];
  let poison = 0;
  const prefix = options.idPrefix ?? `m-${options.seed}`;
  const partition = options.partition ?? 0;
  const id = () => `${prefix}-${messages.length + 1}`;
  for (let at = 0; at < records.length;) {
    const size = Math.min(sizes.nextInt(1, options.readingsPerMessage), records.length - at);
    const text = render(records.slice(at, at + size), messages.length);
    const repeat = faults.nextFloat() < options.repeatRate;
    const repeatAdds = repeatAddsOf(kinds.slice(at, at + size));
    messages.push({ id: id(), text, repeat, repeatAdds, partition });
    at += size;
    if (faults.nextFloat() < options.poisonRate) {
      const text = POISON_TEXTS[poison % POISON_TEXTS.length] as string;
      const adds = { duplicates: 0, invalid: 1 };
      messages.push({ id: id(), text, repeat: false, repeatAdds: adds, partition });
      poison += 1;
    }
  }
  return { messages, poison };
}

/**
 * The messages of a feed for P worker partitions (docs/workers.md): each partition's records (by
 * the meter id they carry) are cut into messages on their own, so no message mixes partitions and
 * each meter's records keep their order; the partitions' messages are then interleaved, one from
 * each in turn, as many head-ends publishing at once would. Ids are `m-SEED-pK-N`.
 */
export function planPartitionedMessages(
  records: readonly FeedRecord[],
  kinds: readonly RepeatKind[],
  options: PublishPlanOptions,
  partitions: number,
): PublishPlan {
  const groups = Array.from({ length: partitions }, () => ({
    records: [] as FeedRecord[],
    kinds: [] as RepeatKind[],
  }));
  records.forEach((record, index) => {
    const meterId = typeof record['meter_id'] === 'string' ? record['meter_id'] : '';
    const group = groups[partitionOfMeter(meterId, partitions)] as (typeof groups)[number];
    group.records.push(record);
    group.kinds.push(kinds[index] as RepeatKind);
  });
  const plans = groups.map((group, partition) =>
    planMessages(group.records, group.kinds, {
      ...options,
      seed: deriveSeed(options.seed, [partition]),
      idPrefix: `m-${options.seed}-p${partition}`,
      partition,
    }),
  );
  const messages: PublishMessage[] = [];
  const longest = Math.max(...plans.map((plan) => plan.messages.length));
  for (let at = 0; at < longest; at++) {
    for (const plan of plans) {
      const message = plan.messages[at];
      if (message !== undefined) messages.push(message);
    }
  }
  return { messages, poison: plans.reduce((sum, plan) => sum + plan.poison, 0) };
}

/** What the plan adds to the feed's truth, given which repeats the broker passed on. */
export function publishExtra(plan: PublishPlan, repeatsPassed: boolean): TruthExtra {
  let duplicates = 0;
  let invalid = plan.poison;
  if (repeatsPassed) {
    for (const message of plan.messages) {
      if (!message.repeat) continue;
      duplicates += message.repeatAdds.duplicates;
      invalid += message.repeatAdds.invalid;
    }
  }
  return { duplicates, invalid };
}
