/**
 * The files a vendor drops, planned from the feed generator: its records cut into files in
 * delivery order, with the faults of a drop folder injected by a seeded generator of their own.
 * A pure function of the options; drop-writer.ts puts the files on a folder or an SFTP server.
 *
 * - retransmission: a file sent again, byte for byte, under a new name (`-copy`);
 * - truncation: a file cut off inside a record (a broken transfer), then sent again whole under a
 *   new name (`-resent`): the torn record is one invalid record;
 * - partial: a file still being written when a poll may see it (the writer writes it in two
 *   steps); it ends complete, so it changes nothing in the truth.
 *
 * The truth is the generator's own (feedTruth) plus what these faults add: a record delivered
 * again ends as the same outcome's repeat, so a reading adds a duplicate and a bad record (the
 * generator gives each a meter outside the feed) adds an invalid record.
 */
import assert from 'node:assert/strict';
import {
  generateFeed,
  generateMeterIds,
  Mulberry32,
  toCsv,
  toNdjson,
  type FeedRecord,
} from './feed-generator.js';
import { feedTruth, type Truth } from './truth.js';

export const DROP_FORMATS = ['ndjson', 'csv'] as const;
export type DropFormat = (typeof DROP_FORMATS)[number];

export interface DropPlanOptions {
  seed: number;
  meters: number;
  days: number;
  /** The first interval's start, UTC ms, on a 15-minute boundary. */
  startMs: number;
  format: DropFormat;
  /** Files the feed is cut into (before faults add more). */
  files: number;
  retransmitRate: number;
  badRate: number;
  truncateRate: number;
  partialRate: number;
  /** The first file's modification time (ms, whole seconds); each next file is a second later. */
  firstMtimeMs: number;
}

export interface PlannedFile {
  readonly name: string;
  readonly bytes: Buffer;
  /** Modification time to give the file: the order a drop source takes them in. */
  readonly mtimeMs: number;
  /** Written in two steps, as a file still being written. */
  readonly partial: boolean;
}

export interface DropPlan {
  readonly files: readonly PlannedFile[];
  readonly truth: Truth;
}

const INTERVALS_PER_DAY = 96;
const SALT_DROP_FAULTS = 0x44524f50;
/** A torn record keeps 1..this many bytes of its line: inside the meter id in both formats. */
const TORN_BYTES_MAX = 4;

interface Chunk {
  readonly index: number;
  readonly records: readonly FeedRecord[];
}

function render(format: DropFormat, records: readonly FeedRecord[]): Buffer {
  const lines = format === 'csv' ? toCsv(records) : toNdjson(records);
  return Buffer.from([...lines].join(''), 'utf8');
}

function chunksOf(records: readonly FeedRecord[], files: number): Chunk[] {
  const size = Math.max(1, Math.ceil(records.length / files));
  const chunks: Chunk[] = [];
  for (let at = 0; at < records.length; at += size) {
    chunks.push({ index: chunks.length, records: records.slice(at, at + size) });
  }
  return chunks;
}

/** What delivering these records again adds to the truth. */
class RepeatTally {
  duplicates = 0;
  invalid = 0;
  readonly #meterIds: ReadonlySet<string>;

  constructor(meterIds: readonly string[]) {
    this.#meterIds = new Set(meterIds);
  }

  add(records: readonly FeedRecord[]): void {
    for (const record of records) {
      if (this.#meterIds.has(record['meter_id'] as string)) this.duplicates += 1;
      else this.invalid += 1;
    }
  }
}

/** The bytes of the first `recordCount` records and a few bytes of the next. */
function torn(
  format: DropFormat,
  records: readonly FeedRecord[],
  recordCount: number,
  cut: number,
) {
  const whole = render(format, records.slice(0, recordCount));
  const next = render(format, records.slice(recordCount, recordCount + 1));
  // In CSV the next record's text follows its header line.
  const line = format === 'csv' ? next.subarray(next.indexOf(0x0a) + 1) : next;
  return Buffer.concat([whole, line.subarray(0, Math.min(cut, line.byteLength - 1))]);
}

function fileName(index: number, suffix: string, format: DropFormat): string {
  return `readings-${String(index + 1).padStart(4, '0')}${suffix}.${format}`;
}

export function planDrop(options: DropPlanOptions): DropPlan {
  assert.ok(Number.isInteger(options.files) && options.files >= 1, 'files must be at least 1');
  assert.ok(options.firstMtimeMs % 1000 === 0, 'firstMtimeMs must be whole seconds');
  const feed = generateFeed({
    seed: options.seed,
    meters: options.meters,
    startMs: options.startMs,
    intervals: options.days * INTERVALS_PER_DAY,
    badRate: options.badRate,
  });
  const faults = new Mulberry32(options.seed ^ SALT_DROP_FAULTS);
  const repeats = new RepeatTally(generateMeterIds(options.seed, options.meters));
  const files: PlannedFile[] = [];
  let tornRecords = 0;
  const emit = (name: string, bytes: Buffer, partial: boolean): void => {
    files.push({ name, bytes, partial, mtimeMs: options.firstMtimeMs + files.length * 1000 });
  };
  for (const chunk of chunksOf(feed.records, options.files)) {
    const bytes = render(options.format, chunk.records);
    const partial = faults.nextFloat() < options.partialRate;
    if (faults.nextFloat() < options.truncateRate) {
      const kept = faults.nextInt(0, chunk.records.length - 1);
      const cut = faults.nextInt(1, TORN_BYTES_MAX);
      emit(
        fileName(chunk.index, '', options.format),
        torn(options.format, chunk.records, kept, cut),
        false,
      );
      emit(fileName(chunk.index, '-resent', options.format), bytes, partial);
      repeats.add(chunk.records.slice(0, kept));
      tornRecords += 1;
    } else {
      emit(fileName(chunk.index, '', options.format), bytes, partial);
    }
    if (faults.nextFloat() < options.retransmitRate) {
      emit(fileName(chunk.index, '-copy', options.format), bytes, false);
      repeats.add(chunk.records);
    }
  }
  const truth = feedTruth(feed, {
    duplicates: repeats.duplicates,
    invalid: repeats.invalid + tornRecords,
  });
  return { files, truth };
}
