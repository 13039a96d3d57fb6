/**
 * Runs `amisync run --config F --once` in child processes and SIGKILLs each at a random moment
 * (seeded), as a power cut or an OOM killer would, then lets a last run finish. Crash tests then
 * compare what the database holds with the simulator's ground truth.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Mulberry32 } from '../simulator/feed-generator.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI_MAIN = join(ROOT, 'dist', 'cli', 'main.js');

export interface ChildRun {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** Runs the built CLI; SIGKILLs it after `killAfterMs` when given. */
export function runCli(
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; killAfterMs?: number; cwd?: string } = {},
): Promise<ChildRun> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_MAIN, ...args], {
      env: options.env ?? process.env,
      cwd: options.cwd ?? ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    const timer =
      options.killAfterMs === undefined
        ? undefined
        : setTimeout(() => child.kill('SIGKILL'), options.killAfterMs);
    child.on('error', reject);
    child.on('close', (status, signal) => {
      if (timer !== undefined) clearTimeout(timer);
      resolve({
        status,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        ms: performance.now() - started,
      });
    });
  });
}

export interface KillSeries {
  /** Runs that were killed before they finished. */
  readonly killed: number;
  /** Runs that finished before their kill came. */
  readonly finished: number;
  /** The last run, left to finish. */
  readonly last: ChildRun;
}

/**
 * `kills` runs of `args`, each SIGKILLed after a seeded random delay in [minMs, maxMs) (a run that
 * finishes first is counted as finished), then one run left to finish. `between` runs after each
 * killed or finished run (a test may check what was acknowledged so far).
 */
export async function runWithKills(
  args: readonly string[],
  options: {
    kills: number;
    seed: number;
    minMs: number;
    maxMs: number;
    env?: NodeJS.ProcessEnv;
    between?: (run: ChildRun, index: number) => Promise<void> | void;
  },
): Promise<KillSeries> {
  const random = new Mulberry32(options.seed);
  let killed = 0;
  let finished = 0;
  for (let index = 0; index < options.kills; index++) {
    const delay = options.minMs + random.nextFloat() * (options.maxMs - options.minMs);
    const run = await runCli(args, {
      killAfterMs: Math.floor(delay),
      ...(options.env === undefined ? {} : { env: options.env }),
    });
    if (run.signal === 'SIGKILL') killed++;
    else finished++;
    await options.between?.(run, index);
  }
  const last = await runCli(args, options.env === undefined ? {} : { env: options.env });
  return { killed, finished, last };
}
