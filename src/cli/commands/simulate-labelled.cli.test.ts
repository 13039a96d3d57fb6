// Goal: `amisync simulate labelled` writes the same feed and labels for the same seed, and a
// labelled feed ingested by `amisync ingest` is scored by `amisync simulate score` with the
// figures the scorer computes from the same database; wrong input exits with its documented code.
// Method: run the built CLI in child processes on temp folders, then recompute the score in this
// process from the labels file and the SQLite database the CLI wrote.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../store/sqlite/sqlite-store.js';
import {
  parseLabelsDocument,
  readFlaggedReadings,
  scoreLabelled,
  type LabelledScore,
} from '../../simulator/labelled-score.js';
import { removeTempDirs, tempDir } from '../../test-support/temp.js';
import { cliSync } from '../../test-support/cli-sync.js';

afterAll(removeTempDirs);

const FEED = ['--seed', '3', '--meters', '6', '--days', '30', '--warm-up-days', '10'];

function cli(...args: string[]) {
  return cliSync(args);
}

function ok(...args: string[]): string {
  const result = cli(...args);
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  return result.stdout;
}

function filesOf(dir: string): string[] {
  return ['feed.ndjson', 'labels.json', 'dictionary.json'].map((name) =>
    readFileSync(join(dir, name), 'utf8'),
  );
}

describe('amisync simulate labelled', () => {
  it('writes the same files for the same seed, and a clean feed without labels', () => {
    const [first, second, clean] = [tempDir(), tempDir(), tempDir()];
    const summary = JSON.parse(ok('simulate', 'labelled', ...FEED, '--out', first, '--json')) as {
      readings: number;
      labelled: number;
      timeZone: string;
    };
    ok('simulate', 'labelled', ...FEED, '--out', second, '--json');
    expect(filesOf(second)).toEqual(filesOf(first));
    expect(summary.timeZone).toBe('America/Chicago');
    expect(summary.labelled).toBeGreaterThan(20);
    const [feed, labels, dictionary] = filesOf(first);
    expect(feed?.split('\n').length).toBe(summary.readings + 1);
    expect(JSON.parse(dictionary ?? '')).toEqual({ timeZone: 'America/Chicago' });
    expect(parseLabelsDocument(labels ?? '', 'labels').labels.length).toBe(summary.labelled);

    ok('simulate', 'labelled', ...FEED, '--out', clean, '--clean');
    const cleanLabels = parseLabelsDocument(filesOf(clean)[1] ?? '', 'labels');
    expect(cleanLabels.labels).toEqual([]);
    expect(cleanLabels.clean).toBe(true);
  });

  it('refuses a feed over the readings limit and a malformed flag (USAGE, exit 64)', () => {
    const dir = tempDir();
    for (const flags of [
      ['--meters', '100000', '--days', '366'],
      ['--start', '2026-13-01'],
    ]) {
      const result = cli('simulate', 'labelled', '--out', dir, ...flags, '--json');
      expect(result.status, flags.join(' ')).toBe(64);
      expect(JSON.parse(result.stdout)).toMatchObject({ error: 'USAGE' });
    }
  });
});

describe('amisync simulate score', () => {
  it('scores an ingested labelled feed as the scorer does, with the detectors on by default', async () => {
    const dir = tempDir();
    const db = join(dir, 'amisync.db');
    ok('simulate', 'labelled', ...FEED, '--out', dir);
    const dictionary = join(dir, 'dictionary.json');
    ok('ingest', join(dir, 'feed.ndjson'), '--dictionary', dictionary, '--db', db, '--json');
    const labelsPath = join(dir, 'labels.json');
    const printed = JSON.parse(
      ok('simulate', 'score', '--labels', labelsPath, '--db', db, '--json'),
    );

    const labels = parseLabelsDocument(readFileSync(labelsPath, 'utf8'), labelsPath);
    const store = openSqliteStore(db, { nowMs: () => 0, readonly: true });
    let expected: LabelledScore;
    try {
      expected = scoreLabelled(labels, await readFlaggedReadings(store));
    } finally {
      await store.close();
    }
    expect(printed).toEqual(JSON.parse(JSON.stringify(expected)));
    // The status-bit detectors catch every label of their kind; clean readings are rarely flagged.
    const recall = Object.fromEntries(expected.detectors.map((one) => [one.detector, one.recall]));
    expect(recall).toMatchObject({ tamper: 1, clock: 1, reverse_flow: 1, spike: 1 });
    expect(expected.cleanFlagRate).toBeLessThan(0.001);

    const text = ok('simulate', 'score', '--labels', labelsPath, '--db', db);
    expect(text).toMatch(/^detector +flagged +on labels +precision +labels +caught +recall$/m);
    expect(text).toMatch(/^tamper +\d+ +\d+ +100\.0% +\d+ +\d+ +100\.0%$/m);
    expect(text).toContain('clean-data flag rate: ');
  });

  it('exits 66 without the labels file and 64 for a file that is not a labels file', () => {
    const dir = tempDir();
    const db = join(dir, 'amisync.db');
    const missing = cli('simulate', 'score', '--labels', join(dir, 'none.json'), '--db', db);
    expect(missing.status).toBe(66);
    const wrong = join(dir, 'wrong.json');
    writeFileSync(wrong, '{"labels": []}');
    const result = cli('simulate', 'score', '--labels', wrong, '--db', db, '--json');
    expect(result.status).toBe(64);
    expect(JSON.parse(result.stdout).message).toContain('is not a labels file');
  });
});
