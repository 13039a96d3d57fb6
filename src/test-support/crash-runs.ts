/**
 * Helpers for the crash tests: run the built CLI's `amisync run --config F --once --json` in a
 * child process and SIGKILL it at a moment the test picks (once something it watches holds, plus
 * a seeded delay), as a power cut or an OOM killer would; then check, from outside the process,
 * what a drop source acknowledged (archived) against what the database holds committed.
 */
import { spawn } from 'node:child_process';
import { hash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

export const CLI_MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
/** How often the kill's condition is looked at. */
const WATCH_INTERVAL_MS = 5;
/** A run still going after this long is killed (and the test then fails on its exit). */
const RUN_MS_MAX = 60_000;

/**
 * Kills per crash test: `fallback`, or AMISYNC_CRASH_KILLS when set (a longer hunt for a rare
 * interleaving, e.g. AMISYNC_CRASH_KILLS=60 npx vitest run src/sources/rest/rest-source.crash).
 */
export function crashKills(fallback: number): number {
  const text = process.env['AMISYNC_CRASH_KILLS'];
  if (text === undefined || text === '') return fallback;
  const kills = Number(text);
  if (!Number.isInteger(kills) || kills < 1) {
    throw new Error(`AMISYNC_CRASH_KILLS must be a whole number from 1, not ${text}`);
  }
  return kills;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** When to kill: once `when()` holds, `delayMs` later. */
export interface KillAt {
  when: () => boolean;
  delayMs: number;
}

/**
 * Runs `amisync run --config <config> --once --json` once; with `kill`, SIGKILLs it at that
 * moment (a run that ends first just ends).
 */
export function runOnce(config: string, kill: KillAt | null): Promise<Exit> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [CLI_MAIN, 'run', '--config', config, '--once', '--json'],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (data: Buffer) => {
      stderr += data.toString('utf8');
    });
    const limit = setTimeout(() => child.kill('SIGKILL'), RUN_MS_MAX);
    const watch = setInterval(() => {
      if (kill === null || !kill.when()) return;
      clearInterval(watch);
      setTimeout(() => child.kill('SIGKILL'), kill.delayMs);
    }, WATCH_INTERVAL_MS);
    child.once('exit', (code, signal) => {
      clearTimeout(limit);
      clearInterval(watch);
      resolve({ code, signal, stderr });
    });
  });
}

/** Runs a read-only query on the database the service writes (none yet: the fallback). */
export function readDatabase<T>(
  database: string,
  fallback: T,
  query: (db: Database.Database) => T,
): T {
  if (!existsSync(database)) return fallback;
  const db = new Database(database, { readonly: true, fileMustExist: true });
  try {
    return query(db);
  } finally {
    db.close();
  }
}

/** Files in a drop source's archive folder. */
export function archivedCount(archive: string): number {
  return existsSync(archive) ? readdirSync(archive).length : 0;
}

/** Archived files whose sha256 is not that of a completed delivery: each one acked too early. */
export function archivedButNotCommitted(archive: string, database: string): string[] {
  if (!existsSync(archive)) return [];
  const committed = readDatabase(database, new Set<string>(), (db) => {
    const rows = db.prepare("SELECT sha256 FROM deliveries WHERE status = 'complete'").all() as {
      sha256: string;
    }[];
    return new Set(rows.map((row) => row.sha256));
  });
  return readdirSync(archive).filter(
    (name) => !committed.has(hash('sha256', readFileSync(join(archive, name)), 'hex')),
  );
}

/** A long-running `amisync run --config F --json` in a child process. */
export interface ServiceProcess {
  /** What it has written to stderr so far. */
  stderr(): string;
  /** Sends the signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function startService(config: string, env: NodeJS.ProcessEnv): ServiceProcess {
  const child = spawn(process.execPath, [CLI_MAIN, 'run', '--config', config, '--json'], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return {
    stderr: () => stderr,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}

/**
 * Runs a command of the built CLI without blocking this process (a simulator or webhook in the
 * test answers it meanwhile); resolves with its exit code, stdout and stderr.
 */
export function runCli(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI_MAIN, ...args], { env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  return new Promise((resolve) => {
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
