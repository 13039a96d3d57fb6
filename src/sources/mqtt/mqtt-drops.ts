/**
 * How an MQTT source reads Mosquitto's count of dropped messages (docs/config-brokers.md,
 * "Messages the broker lost"). The count is broker-wide and counts from the broker's start; it is
 * retained, but Mosquitto 2 publishes it only when it changes and lets it expire about a minute
 * later (`SYS_EXPIRY_MS`), so a subscriber may find no value at all: never above 0, or unchanged
 * for a minute. The broker's uptime (published every `sys_interval`, so always there) tells when
 * it started, and so whether it restarted since the value was seen. A pure function of what was
 * seen before and what is seen now, so that every case is tested without waiting on a broker.
 */

/** How long a `$SYS` value stays retained after Mosquitto published it (Mosquitto 2.0). */
export const SYS_EXPIRY_MS = 60_000;

/** Two estimates of the broker's start further apart than this are two starts (a restart). */
export const RESTART_TOLERANCE_MS = 30_000;

/** What the source knows of the count, kept in each delivery's saved position. */
export interface DropsSeen {
  /** The count as last seen; null when never seen (or unknown since a restart). */
  readonly droppedSeen: number | null;
  /** When the broker started, as its uptime gave it; null when never seen. */
  readonly brokerStartedAtMs: number | null;
}

/** What the watch read: at a connection, the retained values; later, a new value of the count. */
export interface DropsObserved {
  /** The count's value, or null when the broker gave none (see above). */
  readonly count: number | null;
  /** The broker's uptime when the values were read, or null when it gave none (a new count). */
  readonly uptimeMs: number | null;
  readonly nowMs: number;
}

export interface DropsJudged {
  readonly seen: DropsSeen;
  /**
   * Messages dropped since the count was last seen; `unknown` when the count changed since a look
   * that found no value on a broker over a minute old (at least one, at most the count); null
   * when there is nothing to report.
   */
  readonly dropped: number | 'unknown' | null;
  /** Whether the count began again (the broker restarted) since it was last seen. */
  readonly restarted: boolean;
  /** The count the drops are counted from (0 after a restart). */
  readonly countedFrom: number | null;
}

export function judgeDrops(before: DropsSeen, observed: DropsObserved): DropsJudged {
  const startedAtMs = observed.uptimeMs === null ? null : observed.nowMs - observed.uptimeMs;
  const startMoved =
    startedAtMs !== null &&
    before.brokerStartedAtMs !== null &&
    Math.abs(startedAtMs - before.brokerStartedAtMs) > RESTART_TOLERANCE_MS;
  const brokerStartedAtMs = startedAtMs ?? before.brokerStartedAtMs;
  const { count } = observed;
  if (count === null) {
    // No value: unchanged for a minute, or never above 0. After a restart every drop counted is
    // later than the value seen, so counting starts at 0; a broker that started less than a
    // minute ago would still show any value, so it has dropped nothing; otherwise the value seen
    // stands, and the next change tells what was dropped meanwhile.
    const justStarted = observed.uptimeMs !== null && observed.uptimeMs < SYS_EXPIRY_MS;
    const droppedSeen =
      startMoved || (justStarted && before.droppedSeen === null) ? 0 : before.droppedSeen;
    return {
      seen: { droppedSeen, brokerStartedAtMs },
      dropped: null,
      restarted: startMoved,
      countedFrom: null,
    };
  }
  const seen = { droppedSeen: count, brokerStartedAtMs };
  if (before.droppedSeen === null && !startMoved) {
    // A value after a look that found none on this broker run: the value is published when it
    // changes and seen for a minute, so it changed since that look, by how much is not known.
    // The first look of all is where counting starts: what came before it is not this source's.
    const lookedBefore = before.brokerStartedAtMs !== null;
    return { seen, dropped: lookedBefore ? 'unknown' : null, restarted: false, countedFrom: null };
  }
  // A count below the one seen began again, whether or not the uptime showed the restart.
  const restarted = startMoved || count < (before.droppedSeen ?? 0);
  const countedFrom = restarted ? 0 : (before.droppedSeen ?? 0);
  const dropped = count - countedFrom;
  return { seen, dropped: dropped > 0 ? dropped : null, restarted, countedFrom };
}

/** Mosquitto's uptime text, `4213 seconds`, in milliseconds; null when it is not that. */
export function uptimeMsOf(text: string): number | null {
  const match = /^(\d{1,12}) seconds$/.exec(text.trim());
  return match === null ? null : Number(match[1]) * 1000;
}

/** The count's text, a whole number; null when it is not one. */
export function countOf(text: string): number | null {
  const trimmed = text.trim();
  return /^\d{1,15}$/.test(trimmed) ? Number(trimmed) : null;
}
