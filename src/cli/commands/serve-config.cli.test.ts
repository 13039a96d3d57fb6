// Goal: `amisync serve --config F` takes the database the file names and its sources' `sla:`
// targets, so that GET /api/sla (and the SLA page) measure the contracted vendors without running
// a source; without --config no vendor is measured.
// Method: the built CLI in a child process on a database made by `amisync tokens add`; a config
// with two directory sources, one with an SLA; the URL read from `serve --json`; SIGTERM, exit 0.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI_MAIN } from '../../test-support/crash-runs.js';
import { removeTempDirs, tempDir } from '../../test-support/temp.js';

afterAll(removeTempDirs);

interface SlaBody {
  sources: { sourceId: string; targets: { within: string; share: string }[] }[];
}

/** Serves with these arguments, fetches GET /api/sla for October 2026, then stops the server. */
async function slaServed(args: readonly string[], cwd: string): Promise<SlaBody> {
  const child = spawn(process.execPath, [CLI_MAIN, 'serve', ...args, '--port', '0', '--json'], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  try {
    const lines = createInterface({ input: child.stdout });
    const first = await new Promise<string>((resolve, reject) => {
      lines.once('line', resolve);
      child.once('exit', () => reject(new Error(`serve exited: ${stderr}`)));
    });
    const { url } = JSON.parse(first) as { url: string };
    const response = await fetch(`${url}/api/sla?period=2026-10`);
    expect(response.status).toBe(200);
    return (await response.json()) as SlaBody;
  } finally {
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }
}

describe('amisync serve --config', () => {
  it("measures the configured sources' SLAs in the database the file names", async () => {
    const folder = tempDir('amisync-serve-config-');
    mkdirSync(join(folder, 'a'));
    mkdirSync(join(folder, 'b'));
    const made = spawnSync(
      process.execPath,
      [CLI_MAIN, 'tokens', 'add', '--role', 'viewer', '--name', 'v', '--db', 'served.db'],
      { cwd: folder, encoding: 'utf8' },
    );
    expect(made.status, made.stderr).toBe(0);
    const config = join(folder, 'amisync.yaml');
    writeFileSync(
      config,
      [
        'database: ./served.db',
        'sources:',
        '  - kind: directory',
        '    id: vendor-a',
        '    path: ./a',
        '    sla: { targets: [ { within: 4h, share: 99.5% } ] }',
        '  - { kind: directory, id: vendor-b, path: ./b }',
      ].join('\n'),
    );

    const configured = await slaServed(['--config', config, '--open'], folder);
    expect(configured.sources.map((s) => [s.sourceId, s.targets])).toEqual([
      ['vendor-a', [{ within: '4h', share: '99.5%' }]],
    ]);

    const bare = await slaServed(['--db', 'served.db', '--open'], folder);
    expect(bare.sources).toEqual([]);
  }, 60_000);
});
