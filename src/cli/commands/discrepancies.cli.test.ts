// Goal: the built `amisync report discrepancies` writes the month's report as CSV or HTML, prints
// the same figures with --json, takes the month in the dictionary's zone and refuses bad input.
// Method: build a store through the real pipeline, run dist/cli/main.js on it in child processes,
// and read the files and what the command prints.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDiscrepancyFixture } from '../../test-support/discrepancy-fixture.js';
import { HELD_METER } from '../../test-support/held-readings.js';
import { removeTempDirs, tempDir } from '../../test-support/temp.js';
import { cliSync } from '../../test-support/cli-sync.js';

afterAll(removeTempDirs);

let db = '';
let dir = '';
let berlin = '';

beforeAll(async () => {
  const harness = await buildDiscrepancyFixture();
  await harness.close();
  db = harness.path;
  dir = tempDir('amisync-report-cli-');
  berlin = join(dir, 'berlin.json');
  writeFileSync(berlin, JSON.stringify({ timeZone: 'Europe/Berlin' }));
});

function cli(...args: string[]) {
  return cliSync(['report', 'discrepancies', ...args]);
}

interface ReportJson {
  format: string;
  period: { month: string; timeZone: string; from: string; to: string };
  held: { items: number; kwh: string };
  released: { items: number; kwh: string };
  rejected: { items: number; kwh: string };
  estimated: { items: number; kwh: string };
  metersWithOpen: number;
  ageing: { label: string; items: number; kwh: string }[];
  topMeters: { meterId: string; atStakeKwh: string }[];
  charts: { meterId: string; flags: number }[];
}

describe('amisync report discrepancies', () => {
  it('writes the CSV and prints the figures of the month in the dictionary zone', () => {
    const out = join(dir, 'march.csv');
    const run = cli(
      '--db',
      db,
      '--dictionary',
      berlin,
      '--period',
      '2026-03',
      '--out',
      out,
      '--json',
    );
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const report = JSON.parse(run.stdout) as ReportJson;
    expect(report).toMatchObject({
      format: 'csv',
      period: {
        month: '2026-03',
        timeZone: 'Europe/Berlin',
        from: '2026-03-01T00:00:00+01:00',
        to: '2026-04-01T00:00:00+02:00',
      },
      held: { items: 3, kwh: '70.000000' },
      released: { items: 1, kwh: '25.000000' },
      rejected: { items: 1, kwh: '12.500000' },
      estimated: { items: 3, kwh: '3.750000' },
      metersWithOpen: 2,
    });
    // The command ages holds on the system clock: months after these March holds.
    expect(report.ageing.at(-1)).toEqual({
      label: 'over 90 days',
      minDays: 91,
      maxDays: null,
      items: 3,
      kwh: '70.000000',
    });
    expect(report.topMeters[0]).toMatchObject({ meterId: HELD_METER, atStakeKwh: '40.000000' });
    const csv = readFileSync(out, 'utf8');
    expect(csv.startsWith('section,name,status,count,kwh,detail\r\n')).toBe(true);
    expect(csv).toContain('\r\ntotals,anomalies held,held,3,70.000000,\r\n');
  });

  it('writes one HTML page when the file name asks for it, and UTC by default', () => {
    const out = join(dir, 'march.html');
    const run = cli('--db', db, '--period', '2026-03', '--out', out, '--source', 'test');
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain(`wrote ${out} (html): 2026-03 in UTC`);
    expect(run.stdout).toContain('held 2 (40.000000 kWh)');
    const html = readFileSync(out, 'utf8');
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain('uPlot');
  });

  it('refuses a period that is not a month, an unknown format and a missing database', () => {
    const out = join(dir, 'never.csv');
    const badPeriod = cli('--db', db, '--period', '2026-13', '--out', out);
    expect(badPeriod.status).toBe(64);
    expect(badPeriod.stderr).toContain('--period must be a month: YYYY-MM');
    const badFormat = cli('--db', db, '--period', '2026-03', '--out', out, '--format', 'xlsx');
    expect(badFormat.status).toBe(64);
    const badTop = cli('--db', db, '--period', '2026-03', '--out', out, '--top', '51');
    expect(badTop.status).toBe(64);
    const noFolder = cli('--db', db, '--period', '2026-03', '--out', join(dir, 'absent', 'x.csv'));
    expect(noFolder.status).toBe(64);
    expect(noFolder.stderr).toContain('does not exist');
    const noDb = cli('--db', join(dir, 'absent.db'), '--period', '2026-03', '--out', out);
    expect(noDb.status).toBe(3);
    expect(existsSync(out)).toBe(false);
  });
});
