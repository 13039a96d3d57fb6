// Goal: a newly installed amisync (built-in data dictionary, no options) holds a 40 kWh spike on a
// meter that has read 0.3..0.7 kWh for three weeks, bills the ordinary readings around it, and
// does not bill the spike when the vendor sends the same day again.
// Method: write the three weeks and then a day with the spike as NDJSON files, run the built
// `amisync ingest` on each in child processes, and read `amisync anomalies list --json`.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatUtcSeconds } from '../../core/identity.js';
import { tempDir, removeTempDirs } from '../../test-support/temp.js';
import { cliSync } from '../../test-support/cli-sync.js';

afterAll(removeTempDirs);

const METER = 'MTR-SPIKE001';
const INTERVAL_MS = 900_000;
const DAY_INTERVALS = 96;
const START_MS = Date.UTC(2026, 9, 5);

/** 0.3..0.7 kWh, varied by a fixed sequence (no randomness): a quiet household. */
function ordinaryKwh(index: number): string {
  return (0.3 + ((index * 37) % 41) / 100).toFixed(3);
}

function feed(first: number, count: number, spikeAt: number | null): string {
  const lines: string[] = [];
  for (let index = first; index < first + count; index++) {
    const kwh = index === spikeAt ? '40.000' : ordinaryKwh(index);
    const record = {
      meter_id: METER,
      timestamp_utc: formatUtcSeconds(START_MS + index * INTERVAL_MS),
      consumption_kwh: kwh,
      status_code: 0,
      seq: index + 1,
    };
    lines.push(JSON.stringify(record));
  }
  return `${lines.join('\n')}\n`;
}

function cli(db: string, ...args: string[]) {
  const result = cliSync([...args, '--db', db, '--json']);
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  return JSON.parse(result.stdout) as unknown;
}

interface Listed {
  items: { value: string; intervalStart: string; findings: { detector: string }[] }[];
}

describe('detectors on a newly installed amisync', () => {
  it('holds a 40 kWh spike after three weeks of 0.3..0.7 kWh, and nothing else', () => {
    const dir = tempDir();
    const db = join(dir, 'amisync.db');
    const weeks = join(dir, 'three-weeks.ndjson');
    const spikeDay = join(dir, 'spike-day.ndjson');
    const history = 21 * DAY_INTERVALS;
    const spikeAt = history + 40;
    writeFileSync(weeks, feed(0, history, null));
    writeFileSync(spikeDay, feed(history, DAY_INTERVALS, spikeAt));
    cli(db, 'ingest', weeks);
    expect((cli(db, 'anomalies', 'list') as Listed).items).toEqual([]);
    cli(db, 'ingest', spikeDay);
    const held = (cli(db, 'anomalies', 'list') as Listed).items;
    expect(held.map((item) => [item.value, item.intervalStart])).toEqual([
      ['40.000000', new Date(START_MS + spikeAt * INTERVAL_MS).toISOString()],
    ]);
    const detectors = held[0]?.findings.map((finding) => finding.detector) ?? [];
    expect(detectors).toEqual(expect.arrayContaining(['spike', 'zscore', 'mad', 'iqr']));

    // The vendor sends the spike's day again: the spike is no more billable the second time.
    const again = join(dir, 'spike-day-again.ndjson');
    writeFileSync(again, feed(history, DAY_INTERVALS, spikeAt));
    expect(cli(db, 'ingest', again)).toMatchObject({
      received: DAY_INTERVALS,
      accepted: 0,
      duplicates: DAY_INTERVALS,
      anomalyHeld: 0,
    });
    const status = cli(db, 'status') as { totals: Record<string, number> };
    expect(status.totals).toMatchObject({
      accepted: history + DAY_INTERVALS - 1,
      anomalyHeld: 1,
      duplicates: DAY_INTERVALS,
    });
  });
});
