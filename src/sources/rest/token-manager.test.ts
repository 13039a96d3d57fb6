// Goal: OAuth client credentials are cached, refreshed before expiry, fetched once for concurrent
// callers, refreshed once on a 401 and then refused; a broken token endpoint is a precise error;
// the secret appears in no log line and no error. Method: the REST source and its token manager
// against the loopback test server, whose tokens expire on the same manual clock.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../core/clock.js';
import { AmisyncError } from '../../core/errors.js';
import { generateFeed } from '../../simulator/feed-generator.js';
import {
  buildSource,
  drain,
  NOW_MS,
  restConfig,
  SECRET,
} from '../../test-support/rest-source-kit.js';
import { RestTestServer } from '../../test-support/rest-test-server.js';
import { removeTempDirs } from '../../test-support/temp.js';
import { RestHttp } from './rest-http.js';
import { TokenManager } from './token-manager.js';

const FEED = generateFeed({ seed: 3, meters: 2, intervals: 40, startMs: Date.UTC(2026, 2, 1) });

const servers: RestTestServer[] = [];
async function serve(clock: ManualClock, lifetimeSeconds = 3_600) {
  const server = await RestTestServer.start({
    records: FEED.records,
    style: 'cursor',
    clock,
    auth: { type: 'oauth', clientId: 'amisync', clientSecret: SECRET, lifetimeSeconds },
  });
  servers.push(server);
  return server;
}

function oauthConfig(
  server: RestTestServer,
  auth: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
) {
  return restConfig(server, {
    ...extra,
    auth: {
      type: 'oauth',
      tokenUrl: `${server.url}/oauth/token`,
      clientId: 'amisync',
      clientSecretEnv: 'SIM_SECRET',
      ...auth,
    },
  });
}

async function failure(promise: Promise<unknown>): Promise<AmisyncError> {
  const error = await promise.then(
    () => null,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(AmisyncError);
  return error as AmisyncError;
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});
afterAll(removeTempDirs);

describe('OAuth client credentials', () => {
  it('fetches one token for a whole run, with Basic or form client authentication', async () => {
    for (const clientAuth of ['basic', 'body'] as const) {
      const clock = new ManualClock(NOW_MS);
      const server = await serve(clock);
      const built = buildSource(oauthConfig(server, { clientAuth }), { clock });
      await built.source.connect(new AbortController().signal, null);
      const { pages, end } = await drain(built);
      expect(end?.reason).toBe('caught-up');
      expect(pages.length).toBeGreaterThan(4);
      expect(server.tokenRequests).toBe(1);
      expect(server.requests.every((request) => request.authorization === 'Bearer tok-1')).toBe(
        true,
      );
      await built.source.close();
    }
  });

  it('refreshes before the token expires mid-run, so no request carries an expired token', async () => {
    const clock = new ManualClock(NOW_MS);
    const server = await serve(clock, 300);
    const built = buildSource(oauthConfig(server, {}, { pageSize: 5 }), { clock });
    const signal = new AbortController().signal;
    await built.source.connect(signal, null);
    for (let page = 0; page < 8; page++) {
      const result = await built.source.read(signal);
      if ('idle' in result) throw new Error('expected a page');
      await result.ack({} as never);
      clock.advanceMs(100_000);
    }
    expect(server.requests.map((request) => request.status)).toEqual(Array(8).fill(200));
    // 300 s tokens, refreshed 60 s early, 100 s between pages: a new token every third page.
    expect(server.requests.map((request) => request.authorization)).toEqual([
      'Bearer tok-1',
      'Bearer tok-1',
      'Bearer tok-1',
      'Bearer tok-2',
      'Bearer tok-2',
      'Bearer tok-2',
      'Bearer tok-3',
      'Bearer tok-3',
    ]);
    await built.source.close();
  });

  it('refreshes once on a 401 with a valid-looking token, and then goes on', async () => {
    const clock = new ManualClock(NOW_MS);
    const server = await serve(clock);
    const built = buildSource(oauthConfig(server), { clock });
    const signal = new AbortController().signal;
    await built.source.connect(signal, null);
    await drain(built, 1);
    server.revokeTokens();
    const { pages } = await drain(built, 1);
    expect(pages).toHaveLength(1);
    expect(server.requests.map((r) => [r.status, r.authorization])).toEqual([
      [200, 'Bearer tok-1'],
      [401, 'Bearer tok-1'],
      [200, 'Bearer tok-2'],
    ]);
    await built.source.close();
  });

  it('fails with TRANSPORT_AUTH_FAILED after one forced refresh is refused too', async () => {
    const clock = new ManualClock(NOW_MS);
    const server = await serve(clock);
    server.faults.push({ status: 401 }, { status: 401 });
    const built = buildSource(oauthConfig(server), { clock });
    const signal = new AbortController().signal;
    await built.source.connect(signal, null);
    const error = await failure(built.source.read(signal));
    expect(error.code).toBe('TRANSPORT_AUTH_FAILED');
    expect(error.message).toMatch(/refused with 401 with a freshly fetched token/);
    expect(server.tokenRequests).toBe(2);
    expect(server.requests).toHaveLength(2);
    await built.source.close();
  });

  it('names what a broken token endpoint did', async () => {
    const clock = new ManualClock(NOW_MS);
    const server = await serve(clock);
    const cases: [Parameters<typeof server.tokenFaults.push>[0], string, RegExp][] = [
      [
        { status: 503, body: 'maintenance' },
        'TRANSPORT_UNAVAILABLE',
        /answered 503: "maintenance"/,
      ],
      [{ status: 200, body: '<html>login</html>' }, 'TRANSPORT_AUTH_FAILED', /not JSON: "<html>/],
      [{ status: 200, body: '{"token":"x"}' }, 'TRANSPORT_AUTH_FAILED', /without an access_token/],
      [
        { status: 200, body: '{"access_token":"x","token_type":"mac"}' },
        'TRANSPORT_AUTH_FAILED',
        /of type mac, not Bearer/,
      ],
    ];
    for (const [fault, code, message] of cases) {
      server.tokenFaults.push(fault);
      const built = buildSource(oauthConfig(server), { clock });
      const signal = new AbortController().signal;
      await built.source.connect(signal, null);
      const error = await failure(built.source.read(signal));
      expect([error.code, error.message]).toEqual([code, expect.stringMatching(message)]);
      await built.source.close();
    }
    expect(server.requests).toHaveLength(0);
  });

  it('reports a wrong secret and an unreachable token endpoint, never printing the secret', async () => {
    const clock = new ManualClock(NOW_MS);
    const server = await serve(clock);
    const wrong = buildSource(oauthConfig(server), { clock, env: { SIM_SECRET: 'not-it' } });
    await wrong.source.connect(new AbortController().signal, null);
    const refused = await failure(wrong.source.read(new AbortController().signal));
    expect(refused.code).toBe('TRANSPORT_AUTH_FAILED');
    expect(refused.message).toMatch(/refused the client credentials \(401\): invalid_client/);
    const down = buildSource(oauthConfig(server, { tokenUrl: 'http://127.0.0.1:9/oauth/token' }), {
      clock,
    });
    await down.source.connect(new AbortController().signal, null);
    const unreachable = await failure(down.source.read(new AbortController().signal));
    expect(unreachable.code).toBe('TRANSPORT_UNAVAILABLE');
    expect(unreachable.message).toMatch(
      /token endpoint http:\/\/127.0.0.1:9\/oauth\/token.*ECONNREFUSED/,
    );
    const said = [refused, unreachable].map((error) => JSON.stringify(error.toJSON()));
    said.push(wrong.context.log.text(), down.context.log.text());
    for (const text of said) expect(text).not.toContain(SECRET);
    await wrong.source.close();
    await down.source.close();
  });

  it('fails at build time, naming the key, when the secret is not set', async () => {
    const clock = new ManualClock(NOW_MS);
    const server = await serve(clock);
    expect(() => buildSource(oauthConfig(server), { clock, env: {} })).toThrow(
      /^auth\.clientSecretEnv: the environment variable SIM_SECRET/,
    );
  });

  it('fetches a single token for many concurrent callers', async () => {
    const clock = new ManualClock(NOW_MS);
    const server = await serve(clock);
    server.tokenDelayMs = 100;
    const http = new RestHttp(clock, 5_000);
    const tokens = new TokenManager(
      {
        tokenUrl: `${server.url}/oauth/token`,
        clientId: 'amisync',
        clientSecret: SECRET,
        clientAuth: 'basic',
      },
      http,
      clock,
    );
    const signal = new AbortController().signal;
    const first = await Promise.all(Array.from({ length: 8 }, () => tokens.token(signal)));
    expect(new Set(first)).toEqual(new Set(['tok-1']));
    // Eight callers that all saw the same token refused share one refresh.
    for (const token of first) tokens.invalidate(token);
    const second = await Promise.all(Array.from({ length: 8 }, () => tokens.token(signal)));
    expect(new Set(second)).toEqual(new Set(['tok-2']));
    tokens.invalidate('tok-1');
    expect(await tokens.token(signal)).toBe('tok-2');
    expect([server.tokenRequests, server.tokenConcurrentMax]).toEqual([2, 1]);
    await http.close();
  });
});
