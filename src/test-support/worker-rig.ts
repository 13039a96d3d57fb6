/**
 * What the tests of several workers share: the two services they need (NATS JetStream and
 * PostgreSQL), the streams and schemas they leave to clean up, and waiting on conditions and on
 * worker processes.
 */
import type { ChildProcess } from 'node:child_process';
import { afterAll } from 'vitest';
import { brokerOrSkip, deleteNatsStream, uniqueSuffix } from './broker-rig.js';
import { dropPostgresSchemas, probePostgres } from './postgres.js';
import { requireOrSkip } from './services.js';
import { removeTempDirs, tempDir } from './temp.js';

export interface WorkerServices {
  /** Both NATS JetStream and PostgreSQL answer (in CI, an absent one has already failed). */
  readonly up: boolean;
  /** Streams the test made: deleted after the file's tests, with its schemas and temp folders. */
  readonly streams: string[];
}

/** Probes both services (printing why the tests skip) and registers the file's cleanup. */
export async function workerServices(): Promise<WorkerServices> {
  const natsUp = await brokerOrSkip('NATS JetStream', 4222);
  const probe = await probePostgres();
  const postgresUp = requireOrSkip('PostgreSQL', probe.available, probe.reason);
  const streams: string[] = [];
  afterAll(async () => {
    if (natsUp) await Promise.all(streams.map((stream) => deleteNatsStream(stream)));
    await dropPostgresSchemas();
    removeTempDirs();
  });
  return { up: natsUp && postgresUp, streams };
}

/** Polls `condition` until it holds; throws naming `what` after `timeoutMs`. */
export async function waitFor(
  condition: () => Promise<boolean> | boolean,
  what: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The child's exit code once it has exited (null when a signal ended it). */
export function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/** Names one test uses alone: its stream (deleted after the file), subject, durable, folder. */
export interface WorkerTestNames {
  readonly stream: string;
  /** The subject (or partition subjects' prefix) published to. */
  readonly subject: string;
  /** The durable consumer's name (or partition consumers' prefix). */
  readonly durable: string;
  readonly folder: string;
}

/** Fresh names tagged `tag` (letters and hyphens) whose stream `services` deletes afterwards. */
export function workerTestNames(services: WorkerServices, tag: string): WorkerTestNames {
  const suffix = uniqueSuffix().replace(/[^A-Za-z0-9]/g, '_');
  const stream = `AMISYNC_${tag.toUpperCase().replace(/-/g, '_')}_${suffix}`;
  services.streams.push(stream);
  const initials = tag
    .split('-')
    .map((word) => word[0])
    .join('');
  return {
    stream,
    subject: `amisync-${tag}.${suffix}`,
    durable: `${initials}_${suffix}`,
    folder: tempDir(`amisync-${tag}-`),
  };
}
