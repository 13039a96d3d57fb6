// Goal: `npm run bench` keeps working as the ledger changes (its ceiling mirrors the ledger's
// columns). Method: both bench tools run on tiny inputs; no figure is judged, only that they print.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { removeTempDirs, tempDir } from '../test-support/temp.js';

afterAll(removeTempDirs);

const DIST = fileURLToPath(new URL('../../dist/bench/', import.meta.url));

function run(script: string, args: string[]) {
  const result = spawnSync(process.execPath, [join(DIST, script), ...args], { encoding: 'utf8' });
  expect(result.status, result.stderr).toBe(0);
  return result.stdout;
}

describe('the benchmark tools', () => {
  it('print every stage beside the ceiling, and the ratio', () => {
    const out = run('bench.js', ['--readings', '3000', '--dir', tempDir('amisync-bench-')]);
    for (const stage of ['parse', 'validate', 'identify', 'commit', 'END TO END', 'ceiling']) {
      expect(out).toContain(stage);
    }
    expect(out).toMatch(/end to end \/ ceiling = \d\.\d\d/);
    expect(out).toMatch(/would reach at most \d\.\d\d .*commit stage alone reaches \d\.\d\d/s);
    expect(out).toMatch(/JSON\.parse of its line \d+ ns, idempotency key \d+ ns, Merkle .* \d+ ns/);
    expect(out).toMatch(/detectors: .*\(they cost -?\d+\.\d% of the rate/);
    expect(out).toMatch(/CPU time per reading .* [\d.]+ us off, [\d.]+ us on/);
    expect(out).toMatch(
      /committing thread's CPU per reading, detectors off .*: ([\d.]+ us|unknown) on one thread, ([\d.]+ us|unknown) on \d+/,
    );
  });

  it('measure only end to end, off and on alternated, when asked', () => {
    const args = ['--readings', '2000', '--rounds', '2', '--e2e-only'];
    const out = run('bench.js', [...args, '--dir', tempDir('amisync-bench-')]);
    expect(out).toContain('detectors on (best of 2)');
    expect(out).toMatch(/every run, alternated: off [\d,]+\/s, [\d,]+\/s; on [\d,]+\/s, [\d,]+\/s/);
    expect(out).not.toContain('ceiling');
  });

  it('print a row per typed format with reads/s and peak memory', () => {
    const out = run('formats-bench.js', [
      '--readings',
      '2000',
      '--dir',
      tempDir('amisync-fbench-'),
    ]);
    for (const format of ['nem12', 'green-button', 'cmep', 'csv-dialect']) {
      expect(out).toMatch(new RegExp(`^${format} +\\d+ +[\\d,]+ +[\\d.]+ +\\d+$`, 'm'));
    }
  });
});
