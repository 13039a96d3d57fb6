// Goal: long commands (ingest of a large file, quarantine replay --all, estimate) show a progress
// bar with its rate and time left to a person at a terminal, and write nothing at all to stderr
// when it is not a terminal (piped, as in scripts and CI) or when --json is given.
// Method: the built CLI on a generated feed of a few thousand readings. Piped: spawned with stderr
// captured, which must stay empty. At a terminal: run under a pseudo-terminal made by `script`
// (util-linux), whose transcript must hold the bar (percentage, rate per second, ETA); with
// --json under the same terminal, the transcript must hold the JSON and no bar. Skipped, with
// the reason printed, where `script` is absent.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateFeed, toNdjson } from '../simulator/feed-generator.js';
import { CLI_MAIN } from '../test-support/crash-runs.js';
import { FEED_START_MS } from '../test-support/ingest-harness.js';
import { removeTempDirs, tempDir } from '../test-support/temp.js';

afterAll(removeTempDirs);

const HAS_SCRIPT = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;
if (!HAS_SCRIPT) console.log('progress at a terminal: skipped, `script` (util-linux) is absent');

const BAR = /\[[=-]{10,}\] \d+% \| [\d.kMG?]+\/[\d.kMG?]+ \w+ \| [\d.kMG-]+ \w+\/s \| ETA /;

const FROM = new Date(FEED_START_MS).toISOString().slice(0, 10);
const TO = new Date(FEED_START_MS + 7 * 86_400_000).toISOString().slice(0, 10);

function quote(word: string): string {
  return `'${word.replaceAll("'", "'\\''")}'`;
}

/** Runs the CLI at a pseudo-terminal: stdin, stdout and stderr are all the terminal. */
function atTerminal(args: string[]): { status: number | null; transcript: string } {
  const command = [process.execPath, CLI_MAIN, ...args].map(quote).join(' ');
  const run = spawnSync('script', ['-qec', command, '/dev/null'], {
    encoding: 'utf8',
    env: { ...process.env, COLUMNS: '160', LINES: '40' },
    timeout: 120_000,
  });
  return { status: run.status, transcript: run.stdout };
}

function piped(args: string[]) {
  return spawnSync(process.execPath, [CLI_MAIN, ...args], { encoding: 'utf8', timeout: 120_000 });
}

/** A feed with every 7th reading left out (gaps to estimate) and some bad records. */
function feedFile(dir: string): string {
  const feed = generateFeed({
    seed: 11,
    meters: 12,
    startMs: FEED_START_MS,
    intervals: 96 * 7,
    badRate: 0.02,
  });
  const file = join(dir, 'feed.ndjson');
  writeFileSync(file, [...toNdjson(feed.records.filter((_r, i) => i % 7 !== 3))].join(''));
  return file;
}

describe('progress bars of long commands', () => {
  it('write nothing to stderr when it is piped', () => {
    const dir = tempDir('amisync-progress-piped-');
    const db = join(dir, 'a.db');
    const file = feedFile(dir);
    const ingest = piped(['ingest', file, '--db', db]);
    expect(ingest.status, ingest.stderr).toBe(0);
    expect(ingest.stdout).toContain('conservation');
    expect(ingest.stderr).toBe('');
    const replay = piped(['quarantine', 'replay', '--all', '--db', db, '--actor', 'ops']);
    expect(replay.status, replay.stderr).toBe(0);
    expect(replay.stdout).toMatch(/^tried [1-9]\d* open items/);
    expect(replay.stderr).toBe('');
    const estimate = piped([
      ...['estimate', '--db', db, '--actor', 'ops'],
      ...['--from', FROM, '--to', TO],
    ]);
    expect(estimate.status, estimate.stderr).toBe(0);
    expect(estimate.stderr).toBe('');
  }, 120_000);

  it.skipIf(!HAS_SCRIPT)(
    'show a bar with rate and ETA at a terminal, and none with --json',
    () => {
      const dir = tempDir('amisync-progress-tty-');
      const db = join(dir, 'a.db');
      const file = feedFile(dir);
      const ingest = atTerminal(['ingest', file, '--db', db]);
      expect(ingest.status, ingest.transcript).toBe(0);
      expect(ingest.transcript).toMatch(BAR);
      expect(ingest.transcript).toContain('feed.ndjson [');
      expect(ingest.transcript).toMatch(/ bytes\/s \| ETA /);
      expect(ingest.transcript).toContain('100% |');
      expect(ingest.transcript).toContain('conservation');

      const replay = atTerminal(['quarantine', 'replay', '--all', '--db', db, '--actor', 'ops']);
      expect(replay.status, replay.transcript).toBe(0);
      expect(replay.transcript).toMatch(
        /replay \[[=-]+\] 100% \| \d+\/\d+ items \| [\d.kM]+ items\/s/,
      );

      const estimate = atTerminal([
        ...['estimate', '--db', db, '--actor', 'ops'],
        ...['--from', FROM, '--to', TO],
      ]);
      expect(estimate.status, estimate.transcript).toBe(0);
      expect(estimate.transcript).toMatch(/estimate \[[=-]+\] 100% \| [\d.k]+\/[\d.k]+ readings/);

      const json = atTerminal(['ingest', file, '--db', join(dir, 'b.db'), '--json']);
      expect(json.status, json.transcript).toBe(0);
      expect(json.transcript).toContain('"conserved": true');
      expect(json.transcript).not.toMatch(/ETA|\[[=-]{10,}\]/);
    },
    180_000,
  );
});
