// Goal: the demo at a terminal keeps serving the dashboard and API on its database after the
// summary, with a one-time token that logs in, until told to stop; with --exit, or without a
// terminal, it prints the same summary and returns, serving nothing. Live, within a minute, the
// API shows both simulated feeds flowing, records quarantined, an anomaly held and the REST
// head-end's breaker opening and closing again.
// Method: runDemo in-process on a small feed with a stand-in terminal whose stop callback reaches
// the printed URL with the printed token (and, for the live test, polls the API until it has seen
// every event, at most 60 s); stdout is captured.
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { removeTempDirs, tempDir } from '../../test-support/temp.js';
import { runDemo } from './demo.js';

afterAll(removeTempDirs);
afterEach(() => {
  vi.restoreAllMocks();
});

function captureStdout(): () => string {
  const written: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: unknown) => {
    written.push(String(chunk));
    return true;
  });
  return () => written.join('');
}

const SMALL = { meters: '4', days: '1', port: '0' };

describe('amisync demo', () => {
  it('at a terminal, serves the dashboard with a one-time token until stopped', async () => {
    const dir = join(tempDir('amisync-demo-'), 'out');
    const output = captureStdout();
    const reached: number[] = [];
    await runDemo(
      { ...SMALL, dir },
      {
        interactive: true,
        stopped: async () => {
          const text = output();
          const url = /open (http:\/\/[^\s]+)\/ and log in/.exec(text)?.[1];
          const token = /\n {2}(amt_[0-9a-f]{16}_[0-9a-f]{64})\n/.exec(text)?.[1];
          expect(url).toBeDefined();
          expect(token).toBeDefined();
          const status = await fetch(`${url}/api/status`, {
            headers: { authorization: `Bearer ${token}` },
          });
          reached.push(status.status);
          const anonymous = await fetch(`${url}/`, { redirect: 'manual' });
          reached.push(anonymous.status);
        },
      },
    );
    expect(reached).toEqual([200, 303]);
    expect(output()).toContain('audit verify: verified');
  });

  it.each([
    ['with --exit at a terminal', true, true],
    ['without a terminal', false, false],
  ])('%s, prints the summary and returns', async (_name, interactive, exit) => {
    const dir = join(tempDir('amisync-demo-'), 'out');
    const output = captureStdout();
    let stopped = false;
    await runDemo(
      { ...SMALL, dir, exit },
      {
        interactive,
        stopped: async () => {
          stopped = true;
        },
      },
    );
    expect(stopped).toBe(false);
    expect(output()).toContain('audit verify: verified');
    expect(output()).not.toContain('one-time token');
  });

  it('live, shows within a minute feeds flowing (REST, drop, push), quarantine, an anomaly, the breaker open and close', async () => {
    const dir = join(tempDir('amisync-demo-live-'), 'out');
    const output = captureStdout();
    const seen = {
      rest: 0,
      drop: 0,
      push: 0,
      pushDuplicates: 0,
      quarantined: 0,
      held: 0,
      states: [] as string[],
    };
    const reachedWithinMs = { value: Number.NaN };
    await runDemo(
      { ...SMALL, dir },
      {
        interactive: true,
        stopped: async () => {
          const text = output();
          const url = /open (http:\/\/[^\s]+)\/ and log in/.exec(text)?.[1] ?? '';
          const token = /\n {2}(amt_[0-9a-f]{16}_[0-9a-f]{64})\n/.exec(text)?.[1] ?? '';
          const headers = { authorization: `Bearer ${token}` };
          const api = async (path: string) =>
            (await (await fetch(`${url}${path}`, { headers })).json()) as Record<string, unknown>;
          const started = performance.now();
          const done = () =>
            seen.rest > 0 &&
            seen.drop > 0 &&
            seen.push > 0 &&
            seen.pushDuplicates > 0 &&
            seen.quarantined > 0 &&
            seen.held > 0 &&
            seen.states.includes('open') &&
            seen.states.lastIndexOf('closed') > seen.states.indexOf('open');
          while (!done() && performance.now() - started < 60_000) {
            const { sources } = (await api('/api/sources')) as {
              sources: {
                sourceId: string;
                counts: {
                  received: number;
                  duplicates: number;
                  quarantined: number;
                  anomalyHeld: number;
                };
              }[];
            };
            const live = sources.filter((s) => s.sourceId !== 'file');
            seen.rest = live.find((s) => s.sourceId === 'head-end-rest')?.counts.received ?? 0;
            seen.drop = live.find((s) => s.sourceId === 'vendor-drop')?.counts.received ?? 0;
            const push = live.find((s) => s.sourceId === 'vendor-push')?.counts;
            seen.push = push?.received ?? 0;
            seen.pushDuplicates = push?.duplicates ?? 0;
            seen.quarantined = live.reduce((n, s) => n + s.counts.quarantined, 0);
            seen.held = live.reduce((n, s) => n + s.counts.anomalyHeld, 0);
            const breakers = (await api('/api/breakers')) as {
              breakers: { endpoint: string; state: string }[];
            };
            const state = breakers.breakers.find((b) =>
              b.endpoint.includes('head-end-rest'),
            )?.state;
            if (state !== undefined && state !== seen.states.at(-1)) seen.states.push(state);
            await new Promise((resolve) => setTimeout(resolve, 150));
          }
          reachedWithinMs.value = performance.now() - started;
        },
      },
    );
    expect(seen.rest).toBeGreaterThan(0);
    expect(seen.drop).toBeGreaterThan(0);
    // The pushing vendor's bodies arrive, and a body sent again adds duplicates, not readings.
    expect(seen.push).toBeGreaterThan(0);
    expect(seen.pushDuplicates).toBeGreaterThan(0);
    expect(seen.quarantined).toBeGreaterThan(0);
    expect(seen.held).toBeGreaterThan(0);
    expect(seen.states).toContain('open');
    expect(seen.states.lastIndexOf('closed')).toBeGreaterThan(seen.states.indexOf('open'));
    expect(reachedWithinMs.value).toBeLessThan(60_000);
    const text = output();
    expect(text).toMatch(/live run: \d+ received, .*conservation holds/);
    expect(text).toMatch(/head-end-rest breaker: ([2-9]|\d\d+) transition\(s\)/);
    expect(text).toMatch(/files dropped, [1-9]\d* bodies pushed/);
  }, 180_000);
});
