// Goal: the REST pull benchmark keeps working as the source, the simulator and the pipeline change.
// Method: it runs from the build on a tiny feed (a few thousand readings, several pages); the run
// itself fails on a count that is not the simulator's truth, and no figure is judged, only that it
// prints the three rates and the ratio.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { removeTempDirs, tempDir } from '../test-support/temp.js';

afterAll(removeTempDirs);

const SCRIPT = fileURLToPath(new URL('../../dist/bench/rest-bench.js', import.meta.url));

describe('the REST pull benchmark', () => {
  it('pulls every reading the simulator holds and prints the rates and their ratio', () => {
    const args = ['--readings', '4000', '--page-size', '500', '--dir', tempDir()];
    const result = spawnSync(process.execPath, [SCRIPT, ...args], { encoding: 'utf8' });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^4,032 readings \(42 meters x 1 days x 96\), 500-reading pages/);
    expect(result.stdout).toMatch(/file ingest, same pages .* \d[\d,]* reads\/s/);
    expect(result.stdout).toMatch(/file ingest, one NDJSON file .* \d[\d,]* reads\/s/);
    expect(result.stdout).toMatch(/REST pull .* \d[\d,]* reads\/s/);
    expect(result.stdout).toMatch(/REST \/ file ingest \(same pages\) = \d+\.\d\d/);
    expect(result.stdout).toMatch(/each ledger holds the simulator's truth: 4,032 readings/);
  });
});
