/**
 * Runs a command of the built CLI (dist/cli/main.js) to its end, as a user's shell would, for the
 * CLI tests. The developer's own AMISYNC_DB, AMISYNC_DICTIONARY and AMISYNC_SIGNING_KEY never reach
 * the command unless the test passes them in `env`: each test says which database, dictionary and
 * key it means.
 */
import { spawnSync } from 'node:child_process';
import { CLI_MAIN } from './crash-runs.js';

export interface CliRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliOptions {
  /** Added to the environment (AMISYNC_ACTOR, AMISYNC_DB, ...). */
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
}

const UNLESS_GIVEN = ['AMISYNC_DB', 'AMISYNC_DICTIONARY', 'AMISYNC_SIGNING_KEY'] as const;

export function cliSync(args: readonly string[], options: CliOptions = {}): CliRun {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of UNLESS_GIVEN) delete env[name];
  Object.assign(env, options.env);
  const result = spawnSync(process.execPath, [CLI_MAIN, ...args], {
    env,
    encoding: 'utf8',
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The run's standard output as one JSON document; says what the command printed when it is not. */
export function jsonOf<T>(run: CliRun): T {
  try {
    return JSON.parse(run.stdout) as T;
  } catch {
    throw new Error(`not one JSON document (exit ${run.status}): ${run.stdout}\n${run.stderr}`);
  }
}
