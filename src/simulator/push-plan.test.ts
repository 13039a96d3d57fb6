// Goal: the push simulator's plan keeps each meter's records in feed order within one client,
// sends every record whole exactly once, and counts one invalid record per truncation.
// Method: plan a generated feed with faults and read the bodies back line by line.
import { describe, expect, it } from 'vitest';
import { generateFeed } from './feed-generator.js';
import { planPushBodies } from './push-plan.js';

const FEED = generateFeed({ seed: 3, meters: 12, intervals: 40, startMs: Date.UTC(2026, 0, 1) });

describe('push plan', () => {
  it('partitions by meter, keeps order, and sends each record whole once', () => {
    const plan = planPushBodies(FEED.records, {
      seed: 3,
      format: 'ndjson',
      concurrency: 4,
      bodyReadings: 25,
      truncateRate: 0.5,
      resendRate: 0.2,
    });
    const whole: string[] = [];
    let fragments = 0;
    const clientOf = new Map<string, number>();
    plan.partitions.forEach((bodies, client) => {
      for (const body of bodies) {
        const lines = body.text.split('\n');
        const last = lines.pop() ?? '';
        if (body.truncated) {
          expect(() => JSON.parse(last) as unknown).toThrow();
          fragments += 1;
        } else expect(last).toBe('');
        for (const line of lines) {
          const meter = String((JSON.parse(line) as { meter_id: string }).meter_id);
          expect(clientOf.get(meter) ?? client).toBe(client);
          clientOf.set(meter, client);
          whole.push(line);
        }
      }
    });
    expect(fragments).toBeGreaterThan(0);
    expect(plan.extra).toEqual({ duplicates: 0, invalid: fragments });
    const expected = FEED.records.map((record) => JSON.stringify(record));
    expect([...whole].sort()).toEqual([...expected].sort());
    for (const bodies of plan.partitions) {
      const sent = bodies.flatMap((body) => body.text.split('\n').slice(0, -1));
      const own = new Set(sent);
      expect(sent).toEqual(expected.filter((line) => own.has(line)));
    }
  });
});
