// Goal: the whole-setup example in docs/config.md is a valid configuration for the kinds amisync
// has, every kind has a row there, and an operator's mistakes in it are reported by key path.
// Method: copy the example into a temp folder with the files it names, and load it with the kinds
// registry, as `config check` does.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openSqliteStore, type SqliteStore } from '../../store/sqlite/sqlite-store.js';
import { testSourceContext } from '../../test-support/source-context.js';
import { removeTempDirs, tempDir } from '../../test-support/temp.js';
import { SOURCE_KINDS } from './kinds.js';
import { loadServiceConfig } from './service-config.js';

const DOC = readFileSync(new URL('../../../docs/config.md', import.meta.url), 'utf8');
const EXAMPLE = /## A whole setup[\s\S]*?```yaml\n([\s\S]*?)```/.exec(DOC)?.[1] ?? '';
const SECRET = 'northgrid-client-secret-value';

const stores: SqliteStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
});
afterAll(removeTempDirs);

const BROKER_SECRETS = {
  MQTT_PASSWORD: 'mqtt-password-value',
  AMQP_PASSWORD: 'amqp-password-value',
};

function load(
  text: string,
  env: Record<string, string> = { NORTHGRID_CLIENT_SECRET: SECRET, ...BROKER_SECRETS },
) {
  const folder = tempDir('amisync-config-doc-');
  mkdirSync(join(folder, 'keys'));
  writeFileSync(join(folder, 'keys', 'eastmeter_ed25519'), 'a key file\n');
  writeFileSync(join(folder, 'dictionary.json'), '{}\n');
  const path = join(folder, 'amisync.yaml');
  writeFileSync(path, text);
  const store = openSqliteStore(join(folder, 'store.db'), { nowMs: () => 0 });
  stores.push(store);
  const context = testSourceContext(store, { env });
  return { folder, loaded: () => loadServiceConfig(path, SOURCE_KINDS, context) };
}

describe('docs/config.md', () => {
  it('holds a whole setup that loads, one source of each kind', async () => {
    expect(EXAMPLE).not.toBe('');
    const { folder, loaded } = load(EXAMPLE);
    const config = loaded();
    expect(config.sources.map((s) => s.kind).sort()).toEqual(
      SOURCE_KINDS.map((k) => k.kind).sort(),
    );
    expect(config.settings.database).toBe(join(folder, 'data', 'amisync.db'));
    expect(JSON.stringify(config.sources.map((s) => s.config))).not.toContain(SECRET);
    const drop = config.sources.find((s) => s.id === 'southfield-drop');
    expect(drop?.sla?.map((t) => [t.withinMs, t.shareMilliPercent])).toEqual([
      [14_400_000, 99_500],
      [259_200_000, 99_900],
    ]);
    await Promise.all(config.sources.map((s) => s.source.close()));
  });

  it('has a row for every source kind', () => {
    for (const kind of SOURCE_KINDS) expect(DOC).toContain(`| \`${kind.kind}\` |`);
  });

  it('reports a mistake in the example by its key path and line', () => {
    const broken = EXAMPLE.replace('nextCursorPath: next', 'nextCursor: next').replace(
      '          value: measurement.value\n',
      '',
    );
    const { loaded } = load(broken);
    expect(loaded).toThrow(/sources\[0\]\.pagination \(line \d+\)/);
    expect(loaded).toThrow(/sources\[0\]\.records\.dialect\.fields\.value \(line \d+\)/);
  });

  it('reports a mistaken SLA target by its key path and line', () => {
    const { loaded } = load(EXAMPLE.replace('share: 99.5%', 'share: 99.5'));
    expect(loaded).toThrow(
      /sources\[\d\]\.sla\.targets\[0\]\.share \(line \d+\): a share such as 99.5%/,
    );
  });

  it('names a secret that is not set by its key path in the file', () => {
    const { loaded } = load(EXAMPLE, {});
    expect(loaded).toThrow(
      /sources\[0\]\.auth\.clientSecretEnv \(line \d+\): the environment variable NORTHGRID_CLIENT_SECRET is not set/,
    );
  });
});
