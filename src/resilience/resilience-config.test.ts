// Goal: a source's `resilience:` keys win over the top level's, which win over the defaults; the
// configuration loader takes `resilience:` on a source (which no transport's schema knows) and
// reports a mistake in it by its key path.
// Method: settingsFor on chosen inputs; loadServiceConfig on a small file with the real kinds.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { SOURCE_KINDS } from '../cli/config/kinds.js';
import { loadServiceConfig } from '../cli/config/service-config.js';
import { runConfigCheck } from '../cli/commands/run.js';
import { EventEmitter } from 'node:events';
import { vi } from 'vitest';
import { openSqliteStore, type SqliteStore } from '../store/sqlite/sqlite-store.js';
import { testSourceContext } from '../test-support/source-context.js';
import { removeTempDirs, tempDir } from '../test-support/temp.js';
import { BREAKER_DEFAULTS } from './breaker.js';
import { settingsFor } from './resilience-config.js';
import { RETRY_BUDGET_DEFAULTS } from './retry-budget.js';
import { RETRY_DEFAULTS } from './retry.js';

const stores: SqliteStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
});
afterAll(removeTempDirs);

function configFile(
  resilience: string,
  top = '{ retry: { attempts: 4 }, breaker: { failureRateMax: 0.2 } }',
) {
  const folder = tempDir('amisync-resilience-config-');
  const path = join(folder, 'amisync.yaml');
  writeFileSync(
    path,
    [
      `resilience: ${top}`,
      'sources:',
      '  - kind: directory',
      '    id: drop',
      '    path: ./inbox',
      `    resilience: ${resilience}`,
    ].join('\n'),
  );
  return { folder, path };
}

function load(resilience: string) {
  const { folder, path } = configFile(resilience);
  const store = openSqliteStore(join(folder, 'store.db'), { nowMs: () => 0 });
  stores.push(store);
  return () => loadServiceConfig(path, SOURCE_KINDS, testSourceContext(store));
}

describe('resilience settings', () => {
  it('merges a source over the top level over the defaults', () => {
    expect(settingsFor(undefined, undefined)).toEqual({
      retry: RETRY_DEFAULTS,
      retryBudget: RETRY_BUDGET_DEFAULTS,
      breaker: BREAKER_DEFAULTS,
    });
    const merged = settingsFor(
      { retry: { attempts: 4, baseDelayMs: 100 }, breaker: { failureRateMax: 0.2 } },
      { retry: { attempts: 3 }, breaker: { slowCallMs: 2_000 } },
    );
    expect(merged.retry).toEqual({ ...RETRY_DEFAULTS, attempts: 3, baseDelayMs: 100 });
    expect(merged.breaker).toEqual({ ...BREAKER_DEFAULTS, failureRateMax: 0.2, slowCallMs: 2_000 });
  });

  it('takes a source resilience block from the configuration file', () => {
    const config = load('{ retry: { attempts: 3 } }')();
    const [source] = config.sources;
    expect(source?.resilience).toEqual({ retry: { attempts: 3 } });
    expect(settingsFor(config.settings.resilience, source?.resilience).retry.attempts).toBe(3);
    expect(settingsFor(config.settings.resilience, source?.resilience).breaker.failureRateMax).toBe(
      0.2,
    );
  });

  it('reports a mistake in a source resilience block by its key path', () => {
    expect(load('{ retry: { attempts: 9 } }')).toThrow(/sources\[0\]\.resilience\.retry\.attempts/);
    expect(load('{ breaker: { opensAt: 3 } }')).toThrow(/sources\[0\]\.resilience\.breaker/);
  });

  it('config check refuses a webhook whose authorization variable is not set, naming it', () => {
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const webhook =
      '{ alerts: { webhook: { url: "https://ops.example/hook", authorizationEnv: OPS_AUTH } } }';
    const { path } = configFile('{}', webhook);
    const environment = (env: Record<string, string>) => ({
      kinds: SOURCE_KINDS,
      env,
      signals: new EventEmitter(),
    });
    expect(() => runConfigCheck({ config: path }, environment({}))).toThrow(
      /resilience\.alerts\.webhook\.authorizationEnv: the environment variable OPS_AUTH is not set/,
    );
    expect(
      runConfigCheck({ config: path }, environment({ OPS_AUTH: 'Bearer x' })).sources,
    ).toHaveLength(1);
    vi.restoreAllMocks();
  });
});
