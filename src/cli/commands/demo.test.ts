// Goal: the demo at a terminal keeps serving the dashboard and API on its database after the
// summary, with a one-time token that logs in, until told to stop; with --exit, or without a
// terminal, it prints the same summary and returns, serving nothing.
// Method: runDemo in-process on a small feed with a stand-in terminal whose stop callback reaches
// the printed URL with the printed token; stdout is captured.
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
});
