/**
 * How `amisync simulate push` cuts a generated feed into request bodies, and what its transport
 * faults add to the feed's truth. Pure: the HTTP client is in cli/commands/simulate-push.ts.
 *
 * Records are partitioned by meter, one partition per concurrent client, and each client sends its
 * bodies in order, waiting for each answer: a meter's records then commit in feed order, which the
 * feed's oracle assumes (an actual after its estimate), however the clients interleave.
 *
 * Faults: a truncated body (NDJSON only) ends inside a record, as if the vendor's connection was
 * cut after a record boundary was passed; its complete records commit, the fragment is quarantined
 * (one more invalid record), and the client then sends the rest from that record on. A resent
 * body is sent again with the same Idempotency-Key after its 202, as a vendor that lost the answer
 * would; the endpoint answers from the stored delivery, so the truth is unchanged.
 */
import { Mulberry32, toCsv, toJsonArray, toNdjson, type FeedRecord } from './feed-generator.js';

export const PUSH_FORMATS = ['ndjson', 'json', 'csv'] as const;
export type PushFormat = (typeof PUSH_FORMATS)[number];

export const CONTENT_TYPES: Readonly<Record<PushFormat, string>> = {
  ndjson: 'application/x-ndjson',
  json: 'application/json',
  csv: 'text/csv',
};

export interface PushBody {
  readonly idempotencyKey: string;
  readonly text: string;
  /** Records whose bytes the body carries whole, plus one for a truncated record's fragment. */
  readonly records: number;
  readonly truncated: boolean;
  /** Sent a second time, with the same Idempotency-Key, after its answer. */
  readonly resend: boolean;
}

export interface PushPlanOptions {
  seed: number;
  format: PushFormat;
  /** Clients, each with its own partition of meters. */
  concurrency: number;
  bodyReadings: number;
  truncateRate: number;
  resendRate: number;
}

export interface PushPlan {
  /** One list of bodies per client, to be sent in order. */
  readonly partitions: PushBody[][];
  /** What the faults add to the feed's truth (feedTruth's `extra`). */
  readonly extra: { duplicates: number; invalid: number };
}

const SALT_PUSH_FAULTS = 0x50555348;

function serialise(format: PushFormat, records: readonly FeedRecord[]): string {
  const parts =
    format === 'ndjson'
      ? toNdjson(records)
      : format === 'json'
        ? toJsonArray(records)
        : toCsv(records);
  return [...parts].join('');
}

/** Each record's partition: its meter's, by the order in which meters first appear. */
function partitionRecords(records: readonly FeedRecord[], count: number): FeedRecord[][] {
  const partitions: FeedRecord[][] = Array.from({ length: count }, () => []);
  const byMeter = new Map<string, number>();
  records.forEach((record, index) => {
    const meter = typeof record.meter_id === 'string' ? record.meter_id : null;
    let partition = meter === null ? index % count : byMeter.get(meter);
    if (partition === undefined) {
      partition = byMeter.size % count;
      byMeter.set(meter as string, partition);
    }
    partitions[partition]?.push(record);
  });
  return partitions;
}

export function planPushBodies(records: readonly FeedRecord[], options: PushPlanOptions): PushPlan {
  const random = new Mulberry32(options.seed ^ SALT_PUSH_FAULTS);
  const extra = { duplicates: 0, invalid: 0 };
  const partitions = partitionRecords(records, options.concurrency).map((partition, client) => {
    const bodies: PushBody[] = [];
    const key = (): string => `sim-${options.seed}-${client}-${bodies.length}`;
    // The body sent after a truncated one, from its cut record on, is never truncated itself.
    let resuming = false;
    for (let at = 0; at < partition.length;) {
      const slice = partition.slice(at, at + options.bodyReadings);
      const resend = random.nextFloat() < options.resendRate;
      const truncate: boolean =
        !resuming && options.format === 'ndjson' && random.nextFloat() < options.truncateRate;
      resuming = truncate;
      if (truncate) {
        const cut = random.nextInt(0, slice.length - 1);
        const line = JSON.stringify(slice[cut]);
        // Inside the record, before its closing brace: the fragment is never valid JSON.
        const fragment = line.slice(0, random.nextInt(1, line.length - 2));
        const text = serialise('ndjson', slice.slice(0, cut)) + fragment;
        bodies.push({ idempotencyKey: key(), text, records: cut + 1, truncated: true, resend });
        extra.invalid += 1;
        at += cut;
        continue;
      }
      const text = serialise(options.format, slice);
      bodies.push({
        idempotencyKey: key(),
        text,
        records: slice.length,
        truncated: false,
        resend,
      });
      at += slice.length;
    }
    return bodies;
  });
  return { partitions, extra };
}
