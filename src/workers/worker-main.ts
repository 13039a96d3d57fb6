/**
 * A worker process: `node dist/workers/worker-main.js CONFIG.json` runs one Worker (worker.ts)
 * until SIGTERM or SIGINT, then stops its consumers and gives its leases back. The configuration
 * is workerConfigSchema as JSON; `owner` defaults to host and pid. Logs are JSON lines on stderr.
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

function configFrom(path: string | undefined) {
  if (path === undefined) throw new AmisyncError('USAGE', 'usage: worker-main CONFIG.json');
  const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
  const withOwner = { owner: `${hostname()}:${process.pid}`, ...(parsed as object) };
  return workerConfigSchema.parse(withOwner);
}

async function main(): Promise<number> {
  const { log, flush } = createServiceLogger({ level: 'info' });
  let config;
  try {
    config = configFrom(process.argv[2]);
  } catch (error) {
    process.stderr.write(`worker: ${(error as Error).message}\n`);
    return EXIT_USAGE;
  }
  const stop = new AbortController();
  process.once('SIGTERM', () => stop.abort());
  process.once('SIGINT', () => stop.abort());
  try {
    const worker = await Worker.open(config, log.child({ worker: config.owner }));
    await worker.run(stop.signal);
    return 0;
  } catch (error) {
    log.error({ error: (error as Error).message }, 'worker stopped');
    return EXIT_UNAVAILABLE;
  } finally {
    flush();
  }
}

process.exitCode = await main();
