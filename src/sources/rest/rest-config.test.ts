// Goal: a REST source's configuration is checked strictly, every mistake reported with its key
// path, with documented defaults; the pure window and Link rules hold. Method: the zod schema on a
// complete example and on one mistake at a time; the position leaves on fixed inputs.
import { describe, expect, it } from 'vitest';
import { restSourceConfigSchema } from './rest-config.js';
import { fromSourcePosition, linkNext, openWindow, valueAt } from './rest-position.js';

const EXAMPLE = {
  kind: 'rest',
  id: 'sim-vendor',
  baseUrl: 'http://127.0.0.1:8080',
  readingsPath: '/v1/readings',
  auth: {
    type: 'oauth',
    tokenUrl: 'http://127.0.0.1:8080/oauth/token',
    clientId: 'amisync',
    clientSecretEnv: 'SIM_SECRET',
    scope: 'readings:read',
  },
  window: {
    fromParam: 'from',
    toParam: 'to',
    format: 'iso8601',
    backfillStart: '2026-03-01T00:00:00Z',
    overlapMinutes: 60,
  },
  pagination: { style: 'cursor', cursorParam: 'cursor', nextCursorPath: 'next' },
  records: { path: 'data.readings', dialect: { fields: {} } },
  pageSize: 1000,
  pagesPerPollMax: 100,
  requestTimeoutMs: 30000,
  pollIntervalMs: 60000,
};

function issues(config: unknown): string[] {
  const result = restSourceConfigSchema.safeParse(config);
  return result.success ? [] : result.error.issues.map((issue) => issue.path.join('.'));
}

describe('rest source configuration', () => {
  it('takes the simulator shape and fills the documented defaults', () => {
    const config = restSourceConfigSchema.parse(EXAMPLE);
    expect(config.auth).toMatchObject({ type: 'oauth', clientAuth: 'basic' });
    expect(config.window.maxWindowHours).toBe(24);
    expect(config.pagination).toEqual({
      style: 'cursor',
      cursorParam: 'cursor',
      nextCursorPath: 'next',
      sizeParam: 'pageSize',
    });
    const minimal = restSourceConfigSchema.parse({
      ...EXAMPLE,
      auth: { type: 'apiKey', keyFile: '/run/secrets/key' },
      pagination: { style: 'page' },
      pageSize: undefined,
      pagesPerPollMax: undefined,
      requestTimeoutMs: undefined,
      pollIntervalMs: undefined,
    });
    expect(minimal).toMatchObject({
      auth: { type: 'apiKey', header: 'X-Api-Key' },
      pagination: { style: 'page', pageParam: 'page', sizeParam: 'pageSize', firstPage: 1 },
      pageSize: 1000,
      pagesPerPollMax: 100,
      requestTimeoutMs: 30000,
      pollIntervalMs: 60000,
    });
  });

  it('reports each mistake with its key path', () => {
    expect(issues({ ...EXAMPLE, pageSise: 10 })).toEqual(['']);
    expect(issues({ ...EXAMPLE, auth: { ...EXAMPLE.auth, clientSecretFile: '/s' } })).toEqual([
      'auth',
    ]);
    expect(
      issues({ ...EXAMPLE, auth: { type: 'oauth', tokenUrl: 'ftp://x', clientId: 'a' } }),
    ).toEqual(['auth.tokenUrl', 'auth']);
    expect(
      issues({ ...EXAMPLE, window: { ...EXAMPLE.window, overlapMinutes: 120, maxWindowHours: 2 } }),
    ).toEqual(['window.maxWindowHours']);
    expect(
      issues({ ...EXAMPLE, window: { ...EXAMPLE.window, backfillStart: 'yesterday' } }),
    ).toEqual(['window.backfillStart']);
    expect(issues({ ...EXAMPLE, pagination: { style: 'offset' } })).toEqual(['pagination.style']);
    expect(issues({ ...EXAMPLE, readingsPath: 'v1/readings' })).toEqual(['readingsPath']);
    expect(issues({ ...EXAMPLE, headers: { 'Bad Header': 'x' } })).toEqual(['headers.Bad Header']);
    expect(issues({ ...EXAMPLE, pageSize: 0, requestTimeoutMs: 1e9 })).toEqual([
      'pageSize',
      'requestTimeoutMs',
    ]);
  });
});

describe('window and page rules', () => {
  const config = restSourceConfigSchema.parse(EXAMPLE).window;
  const start = Date.UTC(2026, 2, 1);
  it('opens windows from the backfill start, then from the mark minus the overlap', () => {
    const now = start + 50 * 3_600_000;
    expect(openWindow(config, null, now)).toEqual({
      fromMs: start,
      toMs: start + 24 * 3_600_000,
      reachesNow: false,
    });
    expect(openWindow(config, start + 48 * 3_600_000, now)).toEqual({
      fromMs: start + 47 * 3_600_000,
      toMs: now,
      reachesNow: true,
    });
    // A backfill start after now: an empty window, which the source answers with caught-up.
    expect(openWindow(config, null, start - 1)).toEqual({
      fromMs: start,
      toMs: start,
      reachesNow: true,
    });
  });

  it('finds the next link and values at dotted paths', () => {
    const at = 'https://api.example/v1/readings?page=1';
    expect(linkNext('<?page=2>; rel="next", <?page=9>; rel="last"', at)).toBe(
      'https://api.example/v1/readings?page=2',
    );
    expect(linkNext('<https://api.example/p3>; title="x"; rel="prev next"', at)).toBe(
      'https://api.example/p3',
    );
    expect(linkNext('<https://api.example/p1>; rel=prev', at)).toBeNull();
    expect(linkNext(undefined, at)).toBeNull();
    expect(valueAt({ data: { readings: [1] } }, 'data.readings')).toEqual([1]);
    expect(valueAt({ data: null }, 'data.readings')).toBeUndefined();
    expect(valueAt([1, 2], '$')).toEqual([1, 2]);
    expect(valueAt({ constructor: 1 }, 'toString')).toBeUndefined();
  });

  it('refuses a saved position of another shape instead of guessing', () => {
    expect(() => fromSourcePosition('sim', { file: 'x.csv' })).toThrow(/has no version 1/);
    expect(() => fromSourcePosition('sim', { v: 1, window: {}, next: { at: 'done' } })).toThrow(
      /has no window/,
    );
  });
});
