// Goal: the publish plan keeps every feed record exactly once in feed order, shapes messages as the
// broker sources read them, and says exactly what its poison messages and repeats add to the truth.
// Method: plan a generated feed with faults, read the messages back through messageLines and
// JSON.parse, and recount poison and repeats independently of the plan's own tally.
import { describe, expect, it } from 'vitest';
import { messageLines } from '../sources/broker/message-lines.js';
import { generateFeed, generateMeterIds } from './feed-generator.js';
import { partitionOfMeter } from '../core/partition.js';
import { planMessages, planPartitionedMessages, publishExtra } from './publish-plan.js';
import { repeatKinds } from './rest/rest-feed.js';

const FEED_OPTIONS = {
  seed: 3,
  meters: 5,
  startMs: Date.UTC(2026, 0, 1),
  intervals: 96,
  badRate: 0.02,
  conflictRate: 0.02,
  retransmitRate: 0.02,
};

function plan(poisonRate: number, repeatRate: number) {
  const feed = generateFeed(FEED_OPTIONS);
  const kinds = repeatKinds(feed.records, new Set(generateMeterIds(3, 5)));
  const planned = planMessages(feed.records, kinds, {
    seed: 3,
    readingsPerMessage: 5,
    poisonRate,
    repeatRate,
  });
  return { feed, kinds, planned };
}

function linesOf(text: string): string[] {
  return Buffer.from(messageLines(Buffer.from(text)))
    .toString('utf8')
    .split('\n')
    .filter((line) => line !== '');
}

describe('planMessages', () => {
  it('carries every record once, in feed order, 1 to N per message, each read back exactly', () => {
    const { feed, planned } = plan(0, 0);
    const read = planned.messages.flatMap((message) => linesOf(message.text));
    expect(read.map((line) => JSON.parse(line) as unknown)).toEqual(feed.records);
    const sizes = planned.messages.map((message) => linesOf(message.text).length);
    expect(Math.min(...sizes)).toBe(1);
    expect(Math.max(...sizes)).toBe(5);
    expect(planned.messages.some((message) => message.text.startsWith('[\n'))).toBe(true);
    expect(new Set(planned.messages.map((message) => message.id)).size).toBe(
      planned.messages.length,
    );
  });

  it('adds one invalid record per poison message, and a repeat only where the broker passes it', () => {
    const { kinds, planned } = plan(0.1, 0.2);
    const poison = planned.messages.filter((message) => {
      try {
        JSON.parse(message.text);
        return false;
      } catch {
        return !message.text.includes('\n');
      }
    });
    expect(poison.length).toBeGreaterThan(0);
    expect(planned.poison).toBe(poison.length);
    expect(publishExtra(planned, false)).toEqual({ duplicates: 0, invalid: poison.length });
    let at = 0;
    let duplicates = 0;
    let invalid = poison.length;
    for (const message of planned.messages) {
      if (poison.includes(message)) continue;
      const count = linesOf(message.text).length;
      if (message.repeat) {
        for (const kind of kinds.slice(at, at + count)) {
          if (kind === 'duplicates') duplicates += 1;
          else invalid += 1;
        }
      }
      at += count;
    }
    expect(duplicates).toBeGreaterThan(0);
    expect(publishExtra(planned, true)).toEqual({ duplicates, invalid });
  });
});

describe('planPartitionedMessages', () => {
  it('keeps each message in one partition, every record once, and each meter in its order', () => {
    const feed = generateFeed({ ...FEED_OPTIONS, meters: 12 });
    const kinds = repeatKinds(feed.records, new Set(generateMeterIds(3, 12)));
    const options = { seed: 3, readingsPerMessage: 5, poisonRate: 0.05, repeatRate: 0 };
    const planned = planPartitionedMessages(feed.records, kinds, options, 4);
    const meterOf = (record: unknown) => String((record as { meter_id?: unknown }).meter_id ?? '');
    const read: unknown[] = [];
    let poison = 0;
    for (const message of planned.messages) {
      let records: unknown[];
      try {
        records = linesOf(message.text).map((line) => JSON.parse(line) as unknown);
      } catch {
        poison += 1;
        continue;
      }
      for (const record of records) {
        expect(partitionOfMeter(meterOf(record), 4)).toBe(message.partition);
      }
      read.push(...records);
    }
    expect(poison).toBe(planned.poison);
    expect(new Set(planned.messages.map((m) => m.partition))).toEqual(new Set([0, 1, 2, 3]));
    expect(new Set(planned.messages.map((m) => m.id)).size).toBe(planned.messages.length);
    for (const meterId of new Set(feed.records.map(meterOf))) {
      const mine = (records: readonly unknown[]) => records.filter((r) => meterOf(r) === meterId);
      expect(mine(read)).toEqual(mine(feed.records));
    }
    expect(read.length).toBe(feed.records.length);
  });
});
