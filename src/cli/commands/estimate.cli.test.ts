// Goal: the built `amisync gaps list` and `amisync estimate` find a period's gaps, fill them once
// with audited estimates, and refuse bad flags with USAGE; audit verify holds afterwards.
// Method: ingest a feed with holes into a temporary SQLite file, then run dist/cli/main.js on it
// in child processes and read what each command prints.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatUtcSeconds } from '../../core/identity.js';
import { openHarness } from '../../test-support/ingest-harness.js';
import { removeTempDirs } from '../../test-support/temp.js';
import { toNdjsonText, type WireRecord } from '../../test-support/wire-text.js';
import { cliSync } from '../../test-support/cli-sync.js';

afterAll(removeTempDirs);

const SLOT_MS = 900_000;
const DAY_MS = 86_400_000;
const MONDAY_MS = Date.UTC(2026, 2, 2);
const METER = 'MTR-CLIE0001';
/** Tuesday 10:00 for 45 minutes, and Wednesday 00:00-08:00. */
const SHORT_MS = MONDAY_MS + DAY_MS + 10 * 3_600_000;
const LONG_MS = MONDAY_MS + 2 * DAY_MS;

let db = '';

function missing(startMs: number): boolean {
  return (
    (startMs >= SHORT_MS && startMs < SHORT_MS + 3 * SLOT_MS) ||
    (startMs >= LONG_MS && startMs < LONG_MS + 8 * 3_600_000)
  );
}

beforeAll(async () => {
  const harness = openHarness();
  await harness.clock.advance(10 * DAY_MS);
  const records: WireRecord[] = [];
  for (let startMs = MONDAY_MS; startMs < MONDAY_MS + 5 * DAY_MS; startMs += SLOT_MS) {
    if (missing(startMs)) continue;
    const hour = new Date(startMs).getUTCHours();
    records.push({
      meter_id: METER,
      timestamp_utc: formatUtcSeconds(startMs),
      consumption_kwh: (0.2 + hour / 100).toFixed(2),
      status_code: 0,
    });
  }
  await harness.ingest(toNdjsonText(records));
  await harness.close();
  db = harness.path;
});

function cli(...args: string[]) {
  return cliSync([...args, '--db', db]);
}

function json<T>(...args: string[]): T {
  const run = cli(...args, '--json');
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  return JSON.parse(run.stdout) as T;
}

const PERIOD = ['--from', '2026-03-02', '--to', '2026-03-07'];

interface Gaps {
  intervals: { missing: number; rejected: number };
  streams: {
    meterId: string;
    runs: { from: string; to: string; intervals: number; why: string }[];
  }[];
}

describe('amisync gaps list and estimate', () => {
  it('lists the gaps as runs, in text and JSON', () => {
    const gaps = json<Gaps>('gaps', 'list', ...PERIOD);
    expect(gaps.intervals).toEqual({ missing: 35, rejected: 0 });
    expect(gaps.streams[0]?.runs).toEqual([
      { from: '2026-03-03T10:00:00Z', to: '2026-03-03T10:45:00Z', intervals: 3, why: 'missing' },
      { from: '2026-03-04T00:00:00Z', to: '2026-03-04T08:00:00Z', intervals: 32, why: 'missing' },
    ]);
    const text = cli('gaps', 'list', ...PERIOD);
    expect(text.status).toBe(0);
    expect(text.stdout).toContain(`${METER}/1`);
    expect(text.stdout).toContain('35 missing and 0 rejected intervals');
    expect(json<Gaps>('gaps', 'list', ...PERIOD, '--meter', 'MTR-OTHER001').streams).toEqual([]);
  });

  it('refuses a missing actor, a bad period, a bad zone and a bad short-gap length', () => {
    expect(cli('estimate', ...PERIOD).status).toBe(64);
    const backwards = cli('estimate', '--from', '2026-03-07', '--to', '2026-03-02', '--actor', 'a');
    expect(backwards.status).toBe(64);
    expect(backwards.stderr).toContain('--from must be before --to');
    const zone = cli('estimate', ...PERIOD, '--actor', 'a', '--time-zone', 'Mars/Olympus');
    expect(zone.status).toBe(64);
    const short = cli('estimate', ...PERIOD, '--actor', 'a', '--short-gap-minutes', '5000');
    expect(short.status).toBe(64);
    expect(json<Gaps>('gaps', 'list', ...PERIOD).intervals.missing).toBe(35);
  });

  it('estimates once, then finds no gaps, and audit verify holds', () => {
    const report = json<{
      estimated: number;
      interpolated: number;
      likeDay: number;
      batches: unknown[];
      estimatedKwh: string;
    }>('estimate', ...PERIOD, '--actor', 'billing-analyst', '--note', 'March close');
    expect(report).toMatchObject({ estimated: 35, interpolated: 3, likeDay: 32 });
    expect(report.batches).toHaveLength(1);
    // 10:00-10:45 on the line from 0.29 (09:45) to 0.30 (10:45): 0.2925 + 0.295 + 0.2975; the
    // 32 slots of 00:00-08:00 take like days at 0.20 + hour / 100: 4 x (1.6 + 0.28).
    expect(report.estimatedKwh).toBe('8.405000');
    const again = json<{ estimated: number }>('estimate', ...PERIOD, '--actor', 'billing-analyst');
    expect(again.estimated).toBe(0);
    expect(json<Gaps>('gaps', 'list', ...PERIOD).intervals).toEqual({ missing: 0, rejected: 0 });
    const verify = cli('audit', 'verify');
    expect(verify.status).toBe(0);
  });
});
