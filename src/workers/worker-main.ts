/**
 * A worker process: `node dist/workers/worker-main.js CONFIG.json` runs one Worker (worker.ts)
 * until SIGTERM or SIGINT, then stops its consumers and gives its leases back. The configuration
 * is workerConfigSchema as JSON; `owner` defaults to host and pid. Logs are JSON lines on stderr,
 * or where an optional `log: { level, file }` beside the configuration says.
 *
 * Started by `amisync run --workers N` (supervisor.ts) it takes no file: it sends `ready` on its
 * IPC channel and the configuration comes back as the first message. It also stops cleanly when
 * that channel closes, so a supervisor that dies does not leave its workers behind.
 *
 * Exit codes: 0 after a clean stop, 64 for an unreadable or invalid configuration, 69 when the
 * store or the broker cannot be reached.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { createServiceLogger } from '../cli/config/logger.js';
import { AmisyncError } from '../core/errors.js';
import { Worker, workerConfigSchema } from './worker.js';

const EXIT_USAGE = 64;
const EXIT_UNAVAILABLE = 69;

/** The configuration as written: from the file named, else from the supervising process. */
async function configText(): Promise<unknown> {
  const path = process.argv[2];
  if (path !== undefined) return JSON.parse(readFileSync(path, 'utf8'));
  if (process.send === undefined) {
    throw new AmisyncError('USAGE', 'usage: worker-main CONFIG.json');
  }
  // Asked for only once listened for: a message sent before a listener exists would be lost.
  const sent = new Promise((resolve) => process.once('message', resolve));
  process.send('ready');
  return sent;
}

function configFrom(parsed: unknown) {
  const { log: _log, ...rest } = parsed as { log?: unknown };
  const withOwner = { owner: `${hostname()}:${process.pid}`, ...rest };
  return workerConfigSchema.parse(withOwner);
}

function logSettingsOf(parsed: unknown): {
  level: 'debug' | 'info' | 'warn' | 'error';
  file?: string;
} {
  const log = (parsed as { log?: { level?: unknown; file?: unknown } } | null)?.log;
  const level = log?.level;
  const known = level === 'debug' || level === 'warn' || level === 'error' ? level : 'info';
  return typeof log?.file === 'string' ? { level: known, file: log.file } : { level: known };
}

async function main(): Promise<number> {
  let parsed: unknown;
  let config;
  try {
    parsed = await configText();
    config = configFrom(parsed);
  } catch (error) {
    process.stderr.write(`worker: ${(error as Error).message}\n`);
    return EXIT_USAGE;
  }
  const { log, flush } = createServiceLogger(logSettingsOf(parsed));
  const stop = new AbortController();
  process.once('SIGTERM', () => stop.abort());
  process.once('SIGINT', () => stop.abort());
  process.once('disconnect', () => stop.abort());
  try {
    const worker = await Worker.open(config, log.child({ worker: config.owner }));
    await worker.run(stop.signal);
    return 0;
  } catch (error) {
    log.error({ error: (error as Error).message }, 'worker stopped');
    return EXIT_UNAVAILABLE;
  } finally {
    flush();
    if (process.connected) process.disconnect();
  }
}

process.exitCode = await main();
