// Goal: the push benchmark keeps working as the endpoint changes. Method: it runs on a tiny input
// from the build; no figure is judged, only that it prints both rates and their ratio.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { removeTempDirs, tempDir } from '../test-support/temp.js';

afterAll(removeTempDirs);

const SCRIPT = fileURLToPath(new URL('../../dist/bench/push-bench.js', import.meta.url));

describe('the push benchmark', () => {
  it('prints the file-ingest rate, the push rate and their ratio', () => {
    const args = ['--readings', '4000', '--body-readings', '500', '--dir', tempDir()];
    const result = spawnSync(process.execPath, [SCRIPT, ...args], { encoding: 'utf8' });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/file ingest .* \d[\d,]* reads\/s/);
    expect(result.stdout).toMatch(/push endpoint .* \d[\d,]* reads\/s/);
    expect(result.stdout).toMatch(/push \/ file ingest = \d\.\d\d/);
  });
});
