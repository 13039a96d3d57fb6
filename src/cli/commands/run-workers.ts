/**
 * `amisync run --config F --workers N`: the partitioned source of the file (a nats source with
 * `partitions: P`, docs/workers.md) read by N worker processes on this host, supervised: a worker
 * that dies is started again, and SIGINT or SIGTERM stops them all cleanly. Workers on other hosts
 * run the same command with the same file against the same PostgreSQL store; all of them share
 * the P partitions through leases, whichever host they run on. Which worker holds which partition
 * is logged whenever it changes. When the workers have stopped, the supervisor signs the audit
 * chain's head, as `amisync run` does when it ends.
 */
import { fileURLToPath } from 'node:url';
import { hostname } from 'node:os';
import type { SigningKey } from '../../audit/checkpoint.js';
import { writeCheckpoint } from '../../audit/record.js';
import { signPeriodically } from '../../audit/checkpoint-watch.js';
import type { TimerClock } from '../../core/clock.js';
import { AmisyncError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { timersOf } from '../../pipeline/run-source.js';
import { fixPartitionCount, heldPartitions } from '../../store/postgres/postgres-partitions.js';
import {
  isPostgresUrl,
  openPostgresStore,
  type PostgresStore,
} from '../../store/postgres/postgres-store.js';
import {
  Supervisor,
  WORKERS_PER_HOST_MAX,
  type SupervisorReport,
} from '../../workers/supervisor.js';
import { createServiceLogger, RoutedLogger } from '../config/logger.js';
import {
  WORKERS_SETTINGS_DEFAULT,
  workerConfigOf,
  type PartitionedSourceConfig,
} from '../config/partitioned-source.js';
import type { BuiltSource, LoadedConfig } from '../config/service-config.js';
import { maskUrl, runtime, signingKeyFor } from '../context.js';
import { printJson, printLines } from '../output.js';
import { loadOperations } from '../../api/operations-modules.js';
import type { OperationsServer } from '../../api/api-server.js';
import { DEFAULT_DICTIONARY } from '../../dictionary/dictionary.js';
import {
  apiWanted,
  load,
  PROCESS_ENVIRONMENT,
  serveOperations,
  storeNotOpen,
  storeOptions,
  type RunCommandOptions,
  type RunEnvironment,
} from './run.js';

const WORKER_ENTRY = fileURLToPath(new URL('../../workers/worker-main.js', import.meta.url));

export interface RunWorkersOptions extends RunCommandOptions {
  workers?: string;
}

export interface RunWorkersSummary {
  readonly source: string;
  readonly database: string;
  readonly partitions: number;
  readonly workers: SupervisorReport['workers'];
  /** Who held which partition when the workers were last looked at, before they stopped. */
  readonly held: Readonly<Record<string, readonly number[]>>;
  /** The chain head signed once the workers had stopped; null while the chain is empty. */
  readonly checkpoint: { auditSeq: number; headHash: string } | null;
  readonly interrupted: boolean;
}

function usage(message: string, flag: string): AmisyncError {
  return new AmisyncError('USAGE', message, { flag });
}

/** --workers: 1 to WORKERS_PER_HOST_MAX. */
export function workersOf(text: string | undefined): number {
  const count = Number(text);
  if (text === undefined || !/^[0-9]+$/.test(text) || count < 1 || count > WORKERS_PER_HOST_MAX) {
    throw usage(`--workers must be 1 to ${WORKERS_PER_HOST_MAX}, not ${String(text)}`, '--workers');
  }
  return count;
}

/** Flags that mean nothing to workers, refused rather than ignored. */
function refuseOtherFlags(options: RunWorkersOptions, env: RunEnvironment['env']): void {
  const refused: [unknown, string, string][] = [
    [options.once, '--once', 'workers run until SIGINT or SIGTERM'],
    [options.threads, '--threads', 'a worker commits on its own thread'],
    [options.dictionary, '--dictionary', 'workers use the built-in dictionary for now'],
    [env['AMISYNC_DICTIONARY'], '$AMISYNC_DICTIONARY', 'workers use the built-in dictionary'],
  ];
  for (const [value, flag, why] of refused) {
    if (value !== undefined) throw usage(`${flag} cannot be given with --workers: ${why}`, flag);
  }
}

/** The one partitioned source, which must be the file's only source. */
function partitionedSourceOf(loaded: LoadedConfig): BuiltSource & { partitions: number } {
  const partitioned = loaded.sources.find((source) => source.partitions !== undefined);
  if (partitioned?.partitions === undefined) {
    throw usage(
      `--workers needs a partitioned source in ${loaded.path}: a nats source with ` +
        'partitions: P (docs/workers.md)',
      '--workers',
    );
  }
  const others = loaded.sources.filter((source) => source !== partitioned);
  if (others.length > 0) {
    throw usage(
      `--workers runs only the partitioned source ${partitioned.id}; run ` +
        `${others.map((source) => source.id).join(', ')} from another file without --workers`,
      '--workers',
    );
  }
  return { ...partitioned, partitions: partitioned.partitions };
}

/** The PostgreSQL URL the workers share: --db, else the file's database:, else $AMISYNC_DB. */
function databaseOf(
  options: RunWorkersOptions,
  loaded: LoadedConfig,
  env: RunEnvironment['env'],
): string {
  const database = storeOptions(options, loaded).db ?? env['AMISYNC_DB'];
  if (database !== undefined && isPostgresUrl(database)) return database;
  const shown = database ?? './amisync.db (the default)';
  const message =
    `the workers of a partitioned source share one PostgreSQL store, not ${shown}: ` +
    'give database: postgres://... in the file, or --db';
  if (options.db !== undefined) throw usage(message, '--db');
  throw new AmisyncError('CONFIG_INVALID', `${loaded.path}: database: ${message}`, {
    problems: [{ path: 'database', message, line: null }],
  });
}

export async function runRunWorkers(
  options: RunWorkersOptions,
  environment: RunEnvironment = PROCESS_ENVIRONMENT,
): Promise<RunWorkersSummary> {
  const count = workersOf(options.workers);
  refuseOtherFlags(options, environment.env);
  const clock = timersOf(runtime.clock);
  const initial = createServiceLogger({ level: 'info' });
  const log = new RoutedLogger(initial.log);
  const loaded = load(options, environment, log, storeNotOpen);
  const source = partitionedSourceOf(loaded);
  const database = databaseOf(options, loaded, environment.env);
  if (count > source.partitions) {
    throw usage(
      `--workers ${count} is more than the ${source.partitions} partitions of ${source.id}: ` +
        'the extra workers would hold nothing',
      '--workers',
    );
  }
  // The key that signs the chain head at the end, checked (and made on first use) before anything
  // connects: PostgreSQL has no file beside which to keep it, so --signing-key or its variable.
  const key = signingKeyFor({ ...options, db: database });
  const logging = createServiceLogger(loaded.settings.log);
  log.route(logging.log);
  const store = await openPostgresStore(database, { nowMs: () => runtime.clock.nowMs() });
  let server: OperationsServer | null = null;
  try {
    await fixPartitionCount(store.pool, source.partitions);
    // The API and dashboard on the shared store: the workers' pauses, ledger and audit are all
    // there. The supervisor commits nothing, so /metrics has no commit latencies of its own.
    if (apiWanted(options, loaded)) {
      const metrics = new (await loadOperations()).OperationsMetrics();
      const parts = { store, dictionary: DEFAULT_DICTIONARY, metrics };
      server = await serveOperations(options, loaded, parts, log);
    }
    return await superviseWorkers(
      { options, environment, loaded, source, database, count },
      {
        store,
        clock,
        log,
        key,
      },
    );
  } finally {
    await server?.close();
    await store.close();
    logging.flush();
    initial.flush();
  }
}

interface Plan {
  readonly options: RunWorkersOptions;
  readonly environment: RunEnvironment;
  readonly loaded: LoadedConfig;
  readonly source: BuiltSource & { partitions: number };
  readonly database: string;
  readonly count: number;
}

interface Parts {
  readonly store: PostgresStore;
  readonly clock: TimerClock;
  readonly log: Logger;
  readonly key: SigningKey;
}

async function superviseWorkers(plan: Plan, parts: Parts): Promise<RunWorkersSummary> {
  const { loaded, source, database, count, environment } = plan;
  const { clock, log } = parts;
  const settings = loaded.settings.workers ?? WORKERS_SETTINGS_DEFAULT;
  const config = workerConfigOf(
    source.config as unknown as PartitionedSourceConfig,
    source.partitions,
    settings,
    database,
  );
  const supervisor = new Supervisor({
    workers: count,
    entry: WORKER_ENTRY,
    message: { ...config, log: loaded.settings.log },
    clock,
    log,
    stopGraceMs: loaded.settings.shutdownGraceMs,
  });
  const controller = new AbortController();
  let interrupted = false;
  const stop = (signal: string): void => {
    if (controller.signal.aborted) return;
    interrupted = true;
    log.warn({ signal }, `received ${signal}: stopping the workers`);
    controller.abort();
  };
  const onInt = (): void => stop('SIGINT');
  const onTerm = (): void => stop('SIGTERM');
  environment.signals.on('SIGINT', onInt);
  environment.signals.on('SIGTERM', onTerm);
  log.info(
    {
      source: source.id,
      partitions: source.partitions,
      workers: count,
      database: maskUrl(database),
    },
    `amisync run: ${count} worker(s) for ${source.partitions} partitions of ${source.id}`,
  );
  try {
    const watched = watchLeases(parts, supervisor, settings.heartbeatMs, controller.signal);
    // The supervisor signs the chain head while the workers run, as `amisync run` does.
    const signing = signPeriodically({
      ...parts,
      intervalMs: loaded.settings.checkpointIntervalMs,
      signal: controller.signal,
    });
    const report = await supervisor.run(controller.signal);
    controller.abort();
    const [held] = await Promise.all([watched, signing]);
    // This host's workers have stopped: the chain head, every host's entries in it, is signed.
    const checkpoint = await writeCheckpoint(parts.store, parts.key, clock.nowMs());
    const summary: RunWorkersSummary = {
      source: source.id,
      database: maskUrl(database),
      partitions: source.partitions,
      workers: report.workers,
      held,
      checkpoint:
        checkpoint === null
          ? null
          : { auditSeq: checkpoint.auditSeq, headHash: checkpoint.headHash },
      interrupted,
    };
    printWorkers(summary, plan.options.json === true);
    if (report.refused) {
      throw new AmisyncError('CONFIG_INVALID', 'a worker refused its configuration (see the log)');
    }
    if (report.killedAfterGrace > 0) {
      throw new AmisyncError(
        'SHUTTING_DOWN',
        `${report.killedAfterGrace} worker(s) did not stop within ` +
          `${loaded.settings.shutdownGraceMs} ms and were killed; what they had not committed ` +
          'was not acknowledged',
      );
    }
    return summary;
  } finally {
    // Whatever ended the supervision, the lease watch and the checkpoint timer end with it.
    controller.abort();
    environment.signals.off('SIGINT', onInt);
    environment.signals.off('SIGTERM', onTerm);
  }
}

/** `host:pid` of a local worker as `worker N (pid P)`; another host's worker as it is named. */
function holderName(owner: string, pids: ReadonlyMap<number, number>): string {
  const [host, pidText] = [owner.slice(0, owner.lastIndexOf(':')), owner.split(':').pop()];
  const worker = host === hostname() ? pids.get(Number(pidText)) : undefined;
  return worker === undefined ? owner : `worker ${worker} (pid ${pidText})`;
}

/**
 * Every other heartbeat, reads who holds which partition and logs it when it changed. Resolves
 * with the last holdings seen once `signal` aborts.
 */
async function watchLeases(
  parts: Parts,
  supervisor: Supervisor,
  heartbeatMs: number,
  signal: AbortSignal,
): Promise<Record<string, number[]>> {
  const { store, clock, log } = parts;
  let shown = '';
  let held: Record<string, number[]> = {};
  while (!signal.aborted) {
    await clock.sleep(2 * heartbeatMs, signal).catch(() => undefined);
    if (signal.aborted) break;
    try {
      const pids = supervisor.pids();
      const now: Record<string, number[]> = {};
      for (const lease of await heldPartitions(store.pool)) {
        (now[holderName(lease.owner, pids)] ??= []).push(lease.partition);
      }
      const text = Object.entries(now)
        .map(([holder, partitions]) => `${holder}: ${partitions.join(' ')}`)
        .join('; ');
      if (text !== shown) {
        log.info({ held: now }, `partitions held: ${text === '' ? 'none' : text}`);
        shown = text;
      }
      held = now;
    } catch (error) {
      log.warn({ error: (error as Error).message }, 'cannot read the partition leases');
    }
  }
  return held;
}

function printWorkers(summary: RunWorkersSummary, json: boolean): void {
  if (json) {
    printJson(summary);
    return;
  }
  printLines([
    `${summary.source}: ${summary.partitions} partitions, ${summary.workers.length} worker(s) ` +
      `on ${summary.database}`,
    ...summary.workers.map(
      (worker) =>
        `worker ${worker.worker}: started ${worker.starts} time(s)` +
        (worker.starts > 1 ? `, restarted after ${worker.starts - 1} exit(s)` : ''),
    ),
    ...Object.entries(summary.held).map(
      ([holder, partitions]) => `${holder} held partitions ${partitions.join(' ')}`,
    ),
    summary.checkpoint === null
      ? 'checkpoint: none, the audit chain is empty'
      : `checkpoint at audit seq ${summary.checkpoint.auditSeq}`,
  ]);
}
