/**
 * The ground truth a simulator writes with `--truth FILE`: what a correct ingestion of everything
 * it served must end with. Checks outside the project read this shape, so its first keys are fixed:
 * `{"valid", "duplicates", "invalid", "streams": [{"meterId", "channel", "readings", "kwh"}]}`
 * with kWh as an exact decimal string with six places; the keys after them may grow.
 *
 * The truth comes from the feed generator's own oracle (FeedExpectation), plus what a transport's
 * faults add on top of the feed (a page served twice repeats its readings exactly: duplicates).
 */
import { writeFileSync } from 'node:fs';
import { formatMilliWhAsKwh } from '../core/decimal.js';
import type { GeneratedFeed } from './feed-generator.js';

export interface TruthStream {
  readonly meterId: string;
  readonly channel: string;
  /** Current readings that must be in the ledger for this meter and channel. */
  readonly readings: number;
  /** Their exact energy, kWh with six decimals. */
  readonly kwh: string;
}

export interface Truth {
  /** Records that end accepted: received - duplicates - invalid - conflicts. */
  readonly valid: number;
  readonly duplicates: number;
  readonly invalid: number;
  readonly streams: readonly TruthStream[];
  /** Records with an accepted reading's key but another value (quarantined as conflicts). */
  readonly conflicts: number;
  /** Actuals that replaced an estimate (accepted, counted in valid). */
  readonly revisions: number;
  readonly received: number;
  /** Readings in the ledger in all: the sum of the streams' readings. */
  readonly currentReadings: number;
  /** Their exact energy, kWh with six decimals. */
  readonly kwh: string;
}

/** What a transport's faults add to the feed's own truth. */
export interface TruthExtra {
  /** Readings delivered again verbatim (a repeated page, an overlapping window). */
  readonly duplicates?: number;
  /** Records the transport broke (a truncated file's torn record, a malformed page). */
  readonly invalid?: number;
}

/** Exact kWh with six decimals from milli-watt-hours: 12345678n -> "12.345678". */
export const formatKwh = formatMilliWhAsKwh;

/** The truth of a generated feed, with what the transport's faults add. */
export function feedTruth(feed: GeneratedFeed, extra: TruthExtra = {}): Truth {
  const expected = feed.expected;
  const duplicates = expected.duplicates + (extra.duplicates ?? 0);
  const invalid = expected.invalid + (extra.invalid ?? 0);
  const received = expected.received + (extra.duplicates ?? 0) + (extra.invalid ?? 0);
  const streams = [...expected.streams]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([meterId, stream]) => ({
      meterId,
      channel: expected.channel,
      readings: stream.readings,
      kwh: formatKwh(stream.energyMilliWh),
    }));
  return {
    valid: received - duplicates - invalid - expected.conflicts,
    duplicates,
    invalid,
    streams,
    conflicts: expected.conflicts,
    revisions: expected.revisions,
    received,
    currentReadings: expected.currentReadings,
    kwh: formatKwh(expected.energyMilliWh),
  };
}

/** Writes the truth as pretty JSON, the documented keys first. */
export function writeTruth(path: string, truth: Truth): void {
  writeFileSync(path, `${JSON.stringify(truth, null, 2)}\n`);
}
