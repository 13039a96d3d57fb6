/**
 * The simulated head-end's store of readings: a generated feed whose records are published over
 * time, found by publication window, and counted as they are served.
 *
 * A record is published at the end of the interval in which the head-end received it: an
 * interval's originals and the follow-ups the generator emits after them (actuals replacing
 * estimates, retransmissions, conflicts, bad records) share that interval's end; follow-ups the
 * generator flushes after the last interval are published at the feed's end. Publication times
 * never decrease in feed order, so a window is a contiguous range of records.
 *
 * Every time a record is served again (a repeated page, an overlapping window, a client asking
 * twice) the repeat is counted by what a correct ingestion makes of it: a repeat of a bad or a
 * conflicting record is quarantined again, any other repeat is a duplicate.
 */
import { formatUtcSeconds } from '../../core/identity.js';
import {
  DEFAULT_INTERVAL_SECONDS,
  generateFeed,
  generateMeterIds,
  type FeedOptions,
  type FeedRecord,
  type GeneratedFeed,
} from '../feed-generator.js';

/** What ingesting a record again adds to a correct ingestion's counts. */
export type RepeatKind = 'duplicates' | 'invalid';

export interface ServedRepeats {
  duplicates: number;
  invalid: number;
}

export class PublishedFeed {
  readonly feed: GeneratedFeed;
  readonly startMs: number;
  /** End of the last interval: every record is published by then. */
  readonly endMs: number;
  readonly #publishedAtMs: Float64Array;
  readonly #repeatKinds: RepeatKind[];
  readonly #servedCounts: Uint32Array;
  readonly #repeats: ServedRepeats = { duplicates: 0, invalid: 0 };
  #recordsServed = 0;

  constructor(options: FeedOptions) {
    this.feed = generateFeed(options);
    const intervalMs = (options.intervalSeconds ?? DEFAULT_INTERVAL_SECONDS) * 1000;
    this.startMs = options.startMs;
    this.endMs = options.startMs + options.intervals * intervalMs;
    const records = this.feed.records;
    this.#publishedAtMs = publicationTimes(records, options.startMs, intervalMs, this.endMs);
    this.#repeatKinds = repeatKinds(
      records,
      new Set(generateMeterIds(options.seed, options.meters)),
    );
    this.#servedCounts = new Uint32Array(records.length);
  }

  get size(): number {
    return this.feed.records.length;
  }

  publishedAtMs(index: number): number {
    return this.#publishedAtMs[index] ?? this.endMs;
  }

  /** The first record published at or after `ms` (size when none). */
  firstAtOrAfter(ms: number): number {
    let low = 0;
    let high = this.#publishedAtMs.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((this.#publishedAtMs[middle] as number) < ms) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  /** The first record published after `ms`: records before it are visible at `ms`. */
  firstAfter(ms: number): number {
    return this.firstAtOrAfter(ms + 1);
  }

  /** Records [from, to) as served: each one counted, and each repeat counted by its kind. */
  serve(from: number, to: number): FeedRecord[] {
    const page = this.feed.records.slice(from, to);
    for (let index = from; index < to; index += 1) {
      const count = this.#servedCounts[index] as number;
      if (count > 0) this.#repeats[this.#repeatKinds[index] as RepeatKind] += 1;
      this.#servedCounts[index] = count + 1;
    }
    this.#recordsServed += to - from;
    return page;
  }

  get repeats(): Readonly<ServedRepeats> {
    return { ...this.#repeats };
  }

  get recordsServed(): number {
    return this.#recordsServed;
  }

  /** Records served at least once. */
  distinctServed(): number {
    let served = 0;
    for (const count of this.#servedCounts) if (count > 0) served += 1;
    return served;
  }
}

/**
 * The generator emits each interval's originals first, and a follow-up always concerns an
 * earlier interval, so a record stamped with the next interval's start opens that interval.
 */
function publicationTimes(
  records: readonly FeedRecord[],
  startMs: number,
  intervalMs: number,
  endMs: number,
): Float64Array {
  const times = new Float64Array(records.length);
  let slotStartMs = startMs - intervalMs;
  let nextStart = formatUtcSeconds(startMs);
  records.forEach((record, index) => {
    if (record['timestamp_utc'] === nextStart) {
      slotStartMs += intervalMs;
      nextStart = formatUtcSeconds(slotStartMs + intervalMs);
    }
    times[index] = Math.min(slotStartMs + intervalMs, endMs);
  });
  return times;
}

/**
 * A bad record never carries a meter of the feed; a conflict carries the key (meter, interval,
 * seq) of an earlier record with another consumption. Anything else repeats as a duplicate.
 */
export function repeatKinds(records: readonly FeedRecord[], meterIds: Set<string>): RepeatKind[] {
  const firstConsumption = new Map<string, unknown>();
  return records.map((record) => {
    const meterId = record['meter_id'];
    if (typeof meterId !== 'string' || !meterIds.has(meterId)) return 'invalid';
    const key = `${meterId}|${String(record['timestamp_utc'])}|${String(record['seq'])}`;
    const consumption = firstConsumption.get(key);
    if (consumption === undefined) {
      firstConsumption.set(key, record['consumption_kwh']);
      return 'duplicates';
    }
    return consumption === record['consumption_kwh'] ? 'duplicates' : 'invalid';
  });
}
