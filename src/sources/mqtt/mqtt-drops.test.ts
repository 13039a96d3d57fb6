// Goal: the MQTT source reports exactly the messages Mosquitto dropped since it last looked, in
// every case the broker's `$SYS` count can present: a value, no value (never above 0, or expired
// a minute after it last changed), a restart seen by the uptime or only by a lower count, and the
// first look of a new installation; and it never reports what it saw before.
// Method: `judgeDrops` called with each case's saved state and observation, then chained as a
// source would see a day of them.
import { describe, expect, it } from 'vitest';
import {
  RESTART_TOLERANCE_MS,
  SYS_EXPIRY_MS,
  countOf,
  judgeDrops,
  uptimeMsOf,
  type DropsSeen,
} from './mqtt-drops.js';

const NOW = Date.UTC(2026, 11, 8, 12);
const HOUR = 3_600_000;
const STARTED = NOW - 10 * HOUR;
const known = (droppedSeen: number | null, brokerStartedAtMs: number | null = STARTED) => ({
  droppedSeen,
  brokerStartedAtMs,
});
const sinceStart = (startedAtMs: number) => NOW - startedAtMs;

describe('judgeDrops', () => {
  it('reports the rise of a value since the one seen, on the same broker run', () => {
    const judged = judgeDrops(known(200), {
      count: 1120,
      uptimeMs: sinceStart(STARTED),
      nowMs: NOW,
    });
    expect(judged).toEqual({
      seen: known(1120),
      dropped: 920,
      restarted: false,
      countedFrom: 200,
    });
  });

  it('reports nothing when the value did not move, or on the first value ever seen', () => {
    expect(judgeDrops(known(200), { count: 200, uptimeMs: null, nowMs: NOW }).dropped).toBeNull();
    const first = judgeDrops(known(null, null), { count: 5, uptimeMs: HOUR, nowMs: NOW });
    expect(first).toMatchObject({ seen: known(5, NOW - HOUR), dropped: null });
  });

  it('counts from 0 after a restart the uptime shows, whether or not a value is there', () => {
    const later = NOW - 2 * HOUR;
    expect(judgeDrops(known(200), { count: 30, uptimeMs: sinceStart(later), nowMs: NOW })).toEqual({
      seen: known(30, later),
      dropped: 30,
      restarted: true,
      countedFrom: 0,
    });
    // A restart with no value since: nothing to report, and counting starts at 0.
    const none = judgeDrops(known(200), { count: null, uptimeMs: sinceStart(later), nowMs: NOW });
    expect(none).toMatchObject({ seen: known(0, later), dropped: null, restarted: true });
    expect(judgeDrops(none.seen, { count: 4, uptimeMs: null, nowMs: NOW }).dropped).toBe(4);
    // Even when the source had never seen a value, every drop after a restart is after its look.
    const never = judgeDrops(known(null), { count: 9, uptimeMs: sinceStart(later), nowMs: NOW });
    expect(never).toMatchObject({ dropped: 9, restarted: true });
  });

  it('takes a count below the one seen as a restart the uptime did not show', () => {
    expect(judgeDrops(known(200), { count: 12, uptimeMs: null, nowMs: NOW })).toMatchObject({
      dropped: 12,
      restarted: true,
      countedFrom: 0,
    });
  });

  it('does not take an uptime within the tolerance for a restart', () => {
    const jitter = STARTED + RESTART_TOLERANCE_MS - 1;
    const judged = judgeDrops(known(200), { count: 250, uptimeMs: sinceStart(jitter), nowMs: NOW });
    expect(judged).toMatchObject({ dropped: 50, restarted: false });
  });

  it('keeps the value seen when the broker gives none (expired), and reports the next change', () => {
    const away = judgeDrops(known(200), { count: null, uptimeMs: sinceStart(STARTED), nowMs: NOW });
    expect(away).toMatchObject({ seen: known(200), dropped: null, restarted: false });
    // The drops made while away show once the count changes again: all of them since 200.
    expect(judgeDrops(away.seen, { count: 1500, uptimeMs: null, nowMs: NOW }).dropped).toBe(1300);
  });

  it('takes no value from a broker under a minute old as 0, and otherwise as unknown', () => {
    const young = judgeDrops(known(null, null), {
      count: null,
      uptimeMs: SYS_EXPIRY_MS - 1,
      nowMs: NOW,
    });
    expect(young.seen.droppedSeen).toBe(0);
    expect(judgeDrops(young.seen, { count: 3, uptimeMs: null, nowMs: NOW }).dropped).toBe(3);
    const old = judgeDrops(known(null, null), { count: null, uptimeMs: HOUR, nowMs: NOW });
    expect(old.seen).toEqual(known(null, NOW - HOUR));
    // It changed since that look (a value is seen only within a minute of a change): how much is
    // not known, but something was dropped.
    expect(judgeDrops(old.seen, { count: 5720, uptimeMs: null, nowMs: NOW })).toMatchObject({
      seen: known(5720, NOW - HOUR),
      dropped: 'unknown',
    });
  });

  it('adds up, over a chain of observations, to the drops made after the first look', () => {
    // Drops of the broker's run: 40 before the source's first look, then 7, 0, 13 and, after a
    // restart at 3.5 hours, 5; some looks find the value expired.
    const restartAt = NOW + 3.5 * HOUR;
    const steps: { atMs: number; count: number | null; startedAtMs: number | null }[] = [
      { atMs: NOW, count: 40, startedAtMs: STARTED },
      { atMs: NOW + HOUR, count: 47, startedAtMs: null },
      { atMs: NOW + 2 * HOUR, count: null, startedAtMs: STARTED },
      { atMs: NOW + 3 * HOUR, count: 60, startedAtMs: null },
      { atMs: NOW + 4 * HOUR, count: null, startedAtMs: restartAt },
      { atMs: NOW + 5 * HOUR, count: 5, startedAtMs: null },
    ];
    let seen: DropsSeen = known(null, null);
    let reported = 0;
    for (const { atMs, count, startedAtMs } of steps) {
      const uptimeMs = startedAtMs === null ? null : atMs - startedAtMs;
      const judged = judgeDrops(seen, { count, uptimeMs, nowMs: atMs });
      expect(judged.dropped).not.toBe('unknown');
      reported += typeof judged.dropped === 'number' ? judged.dropped : 0;
      seen = judged.seen;
    }
    expect(reported).toBe(7 + 13 + 5);
  });
});

describe('the texts of $SYS', () => {
  it('reads the uptime and the count, and nothing else', () => {
    expect(uptimeMsOf('4213 seconds')).toBe(4_213_000);
    expect(uptimeMsOf('4213')).toBeNull();
    expect(uptimeMsOf('-1 seconds')).toBeNull();
    expect(countOf(' 1120 ')).toBe(1120);
    expect(countOf('1e3')).toBeNull();
    expect(countOf('')).toBeNull();
  });
});
