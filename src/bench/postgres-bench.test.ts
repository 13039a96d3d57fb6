// Goal: `npm run bench:postgres` keeps working as the PostgreSQL store changes. Method: the built
// tool runs on a tiny feed against the test server; no figure is judged, only that each row prints.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { postgresServerUrl, probePostgres } from '../test-support/postgres.js';
import { requireOrSkip } from '../test-support/services.js';
import { removeTempDirs, tempDir } from '../test-support/temp.js';

afterAll(removeTempDirs);

const DIST = fileURLToPath(new URL('../../dist/bench/', import.meta.url));
const postgres = await probePostgres();
const runs = requireOrSkip('PostgreSQL', postgres.available, postgres.reason);

function run(args: string[], url: string) {
  return spawnSync(process.execPath, [join(DIST, 'postgres-bench.js'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, AMISYNC_BENCH_POSTGRES_URL: url },
  });
}

describe('the PostgreSQL benchmark', () => {
  it.runIf(runs)('prints end to end beside the raw COPY + INSERT ceiling, and the ratio', () => {
    const result = run(
      ['--readings', '2000', '--threads', '2', '--dir', tempDir('amisync-pgbench-')],
      postgresServerUrl(),
    );
    expect(result.status, result.stderr).toBe(0);
    const out = result.stdout;
    expect(out).toMatch(/^amisync PostgreSQL bench: 2,000 readings/m);
    const stages = [
      'END TO END, 2 threads',
      'END TO END, 1 thread ',
      'ceiling: raw COPY \\+ INSERT',
      "reference: the store's",
    ];
    for (const stage of stages) {
      // reads/s, seconds, x ceiling, client CPU and server CPU per reading ('-' if not local).
      expect(out).toMatch(
        new RegExp(`^${stage}.* +[\\d,]+ +[\\d.]+ +[\\d.]+ +[\\d.]+ +([\\d.]+|-)$`, 'm'),
      );
    }
    expect(out).toMatch(/end to end \/ ceiling = \d\.\d\d \(target >= 0\.50\)/);
    expect(out).toMatch(/^on 1 thread: end to end \/ ceiling = \d\.\d\d; .* \d+\.\d\dx /m);
    // A server on this machine: its processes' CPU is read from /proc too.
    if (/@(127\.0\.0\.1|localhost)[:/]/.test(postgresServerUrl())) {
      expect(out).toMatch(/^by CPU per reading \(client \+ server\): .* ratio \d\.\d\d$/m);
    }
  });

  it('skips with the reason, and succeeds, when the server is absent', () => {
    // Port 1 on loopback: nothing listens there.
    const result = run(['--readings', '1000'], 'postgres://postgres@127.0.0.1:1/postgres');
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^skipping the PostgreSQL bench: PostgreSQL not reachable/);
  });
});
