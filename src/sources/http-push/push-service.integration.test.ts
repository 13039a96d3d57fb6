// Goal: under the long-running service a refused push (403) answers its vendor and the endpoint
// goes on listening, and with --once a push source with no request waiting has caught up.
// Method: runService with a push source built from its kind, a real SQLite store, real HTTP.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CountingRandom, systemClock } from '../../core/clock.js';
import { MemoryLogger } from '../../core/log.js';
import { DEFAULT_DICTIONARY } from '../../dictionary/dictionary.js';
import { runService } from '../../pipeline/service.js';
import { openSqliteStore } from '../../store/sqlite/sqlite-store.js';
import { createSourceContext } from '../../cli/config/source-context.js';
import { SOURCE_KINDS } from '../../cli/config/kinds.js';
import { loadServiceConfig } from '../../cli/config/service-config.js';
import { removeTempDirs, tempDir } from '../../test-support/temp.js';
import { newApiKey } from './push-auth.js';
import { pushSourceKind, type PushSource } from './http-push.js';

afterAll(removeTempDirs);

const RECORD = (meter: string, seq: number): string =>
  `${JSON.stringify({
    meter_id: meter,
    timestamp_utc: `2026-03-01T00:${String(seq * 15).padStart(2, '0')}:00Z`,
    consumption_kwh: 0.5,
    status_code: 0,
    seq,
  })}\n`;

async function setUp() {
  const store = openSqliteStore(join(tempDir(), 'store.db'), { nowMs: () => systemClock.nowMs() });
  const log = new MemoryLogger();
  const random = new CountingRandom();
  const context = createSourceContext({ store, clock: systemClock, random, log, env: {} });
  const { key, keyId, keySha256 } = newApiKey(random);
  await store.addVendor({
    name: 'acme',
    keyId,
    keySha256,
    meters: ['MTR-AAAAAAAA'],
    meterPattern: null,
    anyMeter: false,
    createdAtMs: systemClock.nowMs(),
  });
  const config = pushSourceKind.schema.parse({ kind: 'push', id: 'push', port: 0 });
  const source = pushSourceKind.create(config, context) as PushSource;
  const base = { store, dictionary: DEFAULT_DICTIONARY, clock: systemClock, random, log };
  return { store, log, key, source, base };
}

describe('a push source under the service', () => {
  it('answers a refused request and goes on listening for the next', async () => {
    const { store, log, key, source, base } = await setUp();
    const controller = new AbortController();
    const running = runService({
      ...base,
      sources: [{ source }],
      once: false,
      signal: controller.signal,
    });
    const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/x-ndjson' };
    while (log.events.every((event) => event.message !== 'push endpoint listening')) {
      await systemClock.sleep(10);
    }
    const post = (body: string) => fetch(source.url, { method: 'POST', headers, body });
    expect((await post(RECORD('MTR-BBBBBBBB', 1))).status).toBe(403);
    expect((await post(RECORD('MTR-AAAAAAAA', 1))).status).toBe(202);
    controller.abort();
    const summary = await running;
    expect(summary.sources[0]).toMatchObject({ deliveries: 1, errors: 1 });
    const listening = log.events.filter((event) => event.message === 'push endpoint listening');
    expect(listening).toHaveLength(1);
    await store.close();
  });

  it('with --once, has caught up when no request is waiting', async () => {
    const { store, source, base } = await setUp();
    const summary = await runService({
      ...base,
      sources: [{ source }],
      once: true,
      signal: new AbortController().signal,
    });
    expect(summary.sources[0]).toMatchObject({ outcome: 'caught-up', deliveries: 0 });
    await store.close();
  });
});

describe('a push source in the configuration file', () => {
  it('names a missing JWT secret by its key path, and never shows the secret', () => {
    const folder = tempDir();
    const path = join(folder, 'amisync.yaml');
    writeFileSync(
      path,
      'sources:\n  - kind: push\n    id: vendor-push\n    port: 0\n    jwt: { secretEnv: PUSH_KEY }\n',
    );
    const log = new MemoryLogger();
    const contextWith = (env: Record<string, string>) =>
      createSourceContext({
        store: () => {
          throw new Error('no store while checking');
        },
        clock: systemClock,
        random: new CountingRandom(),
        log,
        env,
      });
    expect(() => loadServiceConfig(path, SOURCE_KINDS, contextWith({}))).toThrow(
      /sources\[0\]\.jwt\.secretEnv \(line 5\): the environment variable PUSH_KEY is not set/,
    );
    const loaded = loadServiceConfig(
      path,
      SOURCE_KINDS,
      contextWith({ PUSH_KEY: 'hush-hush-1234' }),
    );
    expect(loaded.sources.map((source) => source.kind)).toEqual(['push']);
    expect(JSON.stringify(loaded.sources.map((source) => source.config))).not.toContain(
      'hush-hush',
    );
    expect(log.text()).not.toContain('hush-hush');
  });
});
