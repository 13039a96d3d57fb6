/**
 * `amisync run --config F [--once]`: the long-running service, every configured source in one
 * process until SIGINT or SIGTERM (or, with --once, until each has drained what there is now), and
 * `amisync config check --config F`, which validates the file and builds every source without
 * connecting anything or opening the database.
 */
import { recordConfig, writeCheckpoint } from '../../audit/record.js';
import type { TimerClock } from '../../core/clock.js';
import { AmisyncError, isErrorCode } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import type { PauseGate } from '../../core/pause.js';
import type { Store } from '../../core/store.js';
import { dictionaryFingerprint, type DataDictionary } from '../../dictionary/dictionary.js';
import { isConserved } from '../../pipeline/commit.js';
import { StorePauseGate } from '../../pipeline/pause-gate.js';
import { timersOf } from '../../pipeline/run-source.js';
import { runService, type ServiceSummary } from '../../pipeline/service.js';
import { isPostgresUrl } from '../../store/postgres/postgres-store.js';
import { threadsOf } from './ingest.js';
import { SOURCE_KINDS, type AnySourceKind } from '../config/kinds.js';
import { createServiceLogger, RoutedLogger } from '../config/logger.js';
import {
  configuredSlas,
  loadServiceConfig,
  type BuiltSource,
  type LoadedConfig,
} from '../config/service-config.js';
import { createSourceContext } from '../config/source-context.js';
import {
  dictionaryFor,
  maskUrl,
  openStore,
  runtime,
  signingKeyFor,
  type GlobalOptions,
} from '../context.js';
import { printJson, printLines } from '../output.js';
import { countsTable } from './ingest.js';
import { webhookFor, webhookHeaders, wireResilience } from '../config/resilience-wiring.js';
import { AlertDispatcher, type AlertRaiser } from '../../resilience/alerts.js';
import { QuarantineSpikeRule } from '../../resilience/quarantine-spike.js';
import { quarantineSpikeFor } from '../../resilience/resilience-config.js';
import type { ResilienceFigures } from '../../resilience/resilient-source.js';
import type { WebhookSink } from '../../resilience/webhook-sink.js';
import { ALERT_WEBHOOK_TIMEOUT_MS } from '../../core/limits.js';
import type { OperationsServer } from '../../api/api-server.js';
import type { OperationsMetrics } from '../../api/metrics.js';
import { loadOperations } from '../../api/operations-modules.js';
import { watchSla } from '../../report/sla-watch.js';
import { signPeriodically } from '../../audit/checkpoint-watch.js';
import { operationsContext, parsePort, SERVE_HOST_DEFAULT, SERVE_PORT_DEFAULT } from './serve.js';

export interface RunCommandOptions extends GlobalOptions {
  config?: string;
  once?: boolean;
  json?: boolean;
  /** Serve the API, /metrics and the dashboard on this port (wins over the file's `api.port`). */
  apiPort?: string;
  /** Threads per delivery (wins over the file's `threads:`). */
  threads?: string;
}

/** What a command gives the service besides its flags; tests replace the kinds and the env. */
export interface RunEnvironment {
  readonly kinds: readonly AnySourceKind[];
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Where SIGINT and SIGTERM come from. */
  readonly signals: NodeJS.EventEmitter;
}

export const PROCESS_ENVIRONMENT: RunEnvironment = {
  kinds: SOURCE_KINDS,
  env: process.env,
  signals: process,
};

function configPathOf(options: RunCommandOptions): string {
  if (options.config === undefined || options.config === '') {
    throw new AmisyncError('USAGE', '--config FILE is required (see docs/config.md)');
  }
  return options.config;
}

/** The store lookup for sources built only to be checked or read for settings: never called. */
export function storeNotOpen(): never {
  throw new AmisyncError(
    'INVALID_STATE',
    'a source looked up the store while its configuration was being checked',
  );
}

export function load(
  options: RunCommandOptions,
  environment: RunEnvironment,
  log: Logger,
  store: () => Store,
  pauseGate?: PauseGate,
  alerts?: () => AlertRaiser | null,
): LoadedConfig {
  const clock = timersOf(runtime.clock);
  const context = createSourceContext({
    store,
    clock,
    random: runtime.random,
    log,
    env: environment.env,
    ...(pauseGate === undefined ? {} : { pauseGate }),
    ...(alerts === undefined ? {} : { alerts }),
  });
  return loadServiceConfig(configPathOf(options), environment.kinds, context);
}

export interface ConfigCheckSummary {
  readonly config: string;
  readonly database: string | null;
  readonly dictionary: string | null;
  readonly sources: readonly { id: string; kind: string }[];
}

/** The file's database as a summary shows it: a URL without its password. */
function shownDatabase(database: string | undefined): string | null {
  if (database === undefined) return null;
  return isPostgresUrl(database) ? maskUrl(database) : database;
}

/** Validates the file and builds every source; connects nothing, opens no database. */
export function runConfigCheck(
  options: RunCommandOptions,
  environment: RunEnvironment = PROCESS_ENVIRONMENT,
): ConfigCheckSummary {
  const { log } = createServiceLogger({ level: 'warn' });
  const loaded = load(options, environment, log, storeNotOpen);
  webhookHeaders(loaded.settings.resilience, environment.env);
  const summary: ConfigCheckSummary = {
    config: loaded.path,
    database: shownDatabase(loaded.settings.database),
    dictionary: loaded.settings.dictionary ?? null,
    sources: loaded.sources.map(({ id, kind }) => ({ id, kind })),
  };
  if (options.json === true) {
    printJson({ ok: true, ...summary });
  } else {
    printLines([
      `${loaded.path}: ok, ${summary.sources.length} source(s)`,
      ...summary.sources.map((s) => `  ${s.id} (${s.kind})`),
    ]);
  }
  return summary;
}

function dictionaryOf(options: RunCommandOptions, loaded: LoadedConfig): DataDictionary {
  return dictionaryFor({
    ...options,
    ...(options.dictionary === undefined && loaded.settings.dictionary !== undefined
      ? { dictionary: loaded.settings.dictionary }
      : {}),
  });
}

/** The database flag wins over the file's `database:`, which wins over $AMISYNC_DB. */
export function storeOptions(options: RunCommandOptions, loaded: LoadedConfig): GlobalOptions {
  return options.db === undefined && loaded.settings.database !== undefined
    ? { ...options, db: loaded.settings.database }
    : options;
}

export interface RunSummary extends ServiceSummary {
  readonly conserved: boolean;
  readonly checkpoint: { auditSeq: number; headHash: string } | null;
  /** The service stopped on a signal before every source had ended. */
  readonly interrupted: boolean;
  /** Per source: calls, retries, attempts at most, breaker transitions (docs/resilience.md). */
  readonly resilience?: Readonly<Record<string, ResilienceFigures & { breaker: string }>>;
}

/**
 * Runs the service. Resolves with the summary once every source loop has ended; throws when a
 * source failed (with --once) or the counts do not balance, after printing the summary.
 */
export async function runRun(
  options: RunCommandOptions,
  environment: RunEnvironment = PROCESS_ENVIRONMENT,
): Promise<RunSummary> {
  const clock: TimerClock = timersOf(runtime.clock);
  let store: Store | null = null;
  // Until the file says where the log goes, it goes to stderr; sources built from the file keep
  // the routed logger, so what they log later follows the file's choice.
  const initial = createServiceLogger({ level: 'info' });
  const log = new RoutedLogger(initial.log);
  // One gate for the source loops and the push endpoint: it reads the store's pauses at most once
  // a second, so `amisync pause` from another process holds here without a restart.
  const pauseGate = new StorePauseGate({ store: () => store ?? storeNotOpen(), clock, log });
  // Sources raise alerts through the dispatcher wired below, once the store is open.
  let alerts: AlertRaiser | null = null;
  const loaded = load(
    options,
    environment,
    log,
    () => store ?? storeNotOpen(),
    pauseGate,
    () => alerts,
  );
  const partitioned = loaded.sources.find((source) => source.partitions !== undefined);
  if (partitioned !== undefined) {
    throw new AmisyncError(
      'USAGE',
      `source ${partitioned.id} is partitioned (partitions: ${partitioned.partitions}): ` +
        'run it with --workers N (docs/workers.md)',
      { flag: '--workers' },
    );
  }
  const serviceLogging =
    loaded.settings.log.file === undefined && loaded.settings.log.level === 'info'
      ? initial
      : createServiceLogger(loaded.settings.log);
  log.route(serviceLogging.log);
  const dictionary = dictionaryOf(options, loaded);
  const globals = storeOptions(options, loaded);
  const key = signingKeyFor(globals);
  // With the API served, every transaction is timed for /metrics' commit latency histogram.
  const metrics = apiWanted(options, loaded)
    ? new (await loadOperations()).OperationsMetrics()
    : null;
  store =
    metrics === null
      ? await openStore(globals, runtime.clock)
      : metrics.timed(await openStore(globals, runtime.clock));
  const controller = new AbortController();
  let interrupted = false;
  const stop = (signal: string): void => {
    if (controller.signal.aborted) return;
    interrupted = true;
    log.warn(
      { signal },
      `received ${signal}: stopping; the delivery in flight is not acknowledged`,
    );
    controller.abort();
  };
  const onInt = (): void => stop('SIGINT');
  const onTerm = (): void => stop('SIGTERM');
  environment.signals.on('SIGINT', onInt);
  environment.signals.on('SIGTERM', onTerm);
  let operations: OperationsServer | null = null;
  try {
    await recordConfig(store, dictionaryFingerprint(dictionary), dictionary, clock.nowMs());
    log.info(
      {
        config: loaded.path,
        sources: loaded.sources.map((s) => s.id),
        once: options.once === true,
      },
      `amisync run: ${loaded.sources.length} source(s)`,
    );
    const resilience = await wireResilience(loaded.settings.resilience, loaded.sources, {
      store,
      clock,
      random: runtime.random,
      log,
      env: environment.env,
    });
    alerts = resilience.alerts;
    const spike = new QuarantineSpikeRule(
      quarantineSpikeFor(loaded.settings.resilience),
      clock,
      resilience.alerts,
    );
    operations =
      metrics === null
        ? null
        : await serveOperations(options, loaded, { store, dictionary, metrics }, log);
    const running = runService({
      store,
      dictionary,
      clock,
      random: runtime.random,
      sources: resilience.sources.map((source) => ({ source })),
      onSourceDelivery: (sourceId, report) =>
        spike.observe(sourceId, report.counts.received, report.counts.quarantined),
      formatContexts: { cmep: { timeZone: dictionary.formats.cmep.timeZone } },
      log,
      once: options.once === true,
      signal: controller.signal,
      reconnectDelayMs: loaded.settings.reconnectDelayMs,
      threads:
        options.threads === undefined && loaded.settings.threads !== undefined
          ? loaded.settings.threads
          : threadsOf(options.threads),
      pauseGate,
      alerts: resilience.alerts,
    });
    // Vendor SLAs are judged once a day beside the sources (docs/reports.md, "Vendor SLAs").
    // The watches beside the sources (SLAs, checkpoints) stop when the service does.
    const watchesStop = new AbortController();
    const slaWatch = watchSla({
      store,
      clock,
      alerts: resilience.alerts,
      slas: configuredSlas(loaded.sources),
      timeZone: dictionary.timeZone ?? 'UTC',
      log,
      signal: watchesStop.signal,
    });
    // The chain head is signed while the service runs too, not only when it stops.
    const signing = signPeriodically({
      store,
      key,
      clock,
      intervalMs: loaded.settings.checkpointIntervalMs,
      signal: watchesStop.signal,
      log,
    });
    const service = await withShutdownGrace(
      running,
      controller.signal,
      loaded.settings.shutdownGraceMs,
      log,
    ).finally(() => watchesStop.abort());
    await Promise.all([slaWatch, signing]);
    const checkpoint = await writeCheckpoint(store, key, clock.nowMs());
    await drainAlerts(resilience.webhook, clock);
    const summary: RunSummary = {
      ...service,
      resilience: Object.fromEntries(
        resilience.sources.map((s) => [s.id, { ...s.figures(), breaker: s.breaker.state }]),
      ),
      conserved: isConserved(service.counts),
      checkpoint:
        checkpoint === null
          ? null
          : { auditSeq: checkpoint.auditSeq, headHash: checkpoint.headHash },
      interrupted,
    };
    log.info({ counts: summary.counts, ok: summary.ok }, 'amisync run ended');
    printRun(summary, options.json === true);
    if (!summary.conserved) {
      throw new AmisyncError('CONSERVATION_BROKEN', 'run counts do not balance', { summary });
    }
    const failed = summary.sources.filter((s) => s.outcome === 'failed');
    if (failed.length > 0) {
      const code = failed[0]?.lastError?.code;
      throw new AmisyncError(
        isErrorCode(code) ? code : 'INTERNAL',
        `${failed.length} source(s) failed: ${failed
          .map((s) => `${s.id}: ${s.lastError?.message ?? 'unknown error'}`)
          .join('; ')}`,
        { failed: failed.map((s) => s.id) },
      );
    }
    return summary;
  } finally {
    environment.signals.off('SIGINT', onInt);
    environment.signals.off('SIGTERM', onTerm);
    await operations?.close();
    await store.close();
    serviceLogging.flush();
  }
}

/**
 * The API, /metrics and the dashboard on the service's own store (when the file has `api:` or
 * --api-port is given). Where it listens goes to the log: stdout is the summary's.
 */
export async function serveOperations(
  options: RunCommandOptions,
  loaded: LoadedConfig,
  parts: { store: Store; dictionary: DataDictionary; metrics: OperationsMetrics },
  log: Logger,
): Promise<OperationsServer> {
  const settings = loaded.settings.api;
  const port = parsePort('--api-port', options.apiPort, settings?.port ?? SERVE_PORT_DEFAULT);
  const context = {
    ...operationsContext(parts.store, storeOptions(options, loaded), false),
    dictionary: parts.dictionary,
    metrics: parts.metrics,
    slas: configuredSlas(loaded.sources),
  };
  const { listenOperations, OPERATIONS_PARTS } = await loadOperations();
  const server = await listenOperations(context, {
    host: settings?.host ?? SERVE_HOST_DEFAULT,
    port,
    parts: OPERATIONS_PARTS,
  });
  log.info({ url: server.url }, `amisync run: dashboard and API at ${server.url}/`);
  return server;
}

export function apiWanted(options: RunCommandOptions, loaded: LoadedConfig): boolean {
  return loaded.settings.api !== undefined || options.apiPort !== undefined;
}

/**
 * Waits for the service; once stopping, at most `graceMs` more. Past the grace the process is
 * ended: a transaction that has not committed rolls back, and it was not acknowledged.
 */
async function withShutdownGrace(
  running: Promise<ServiceSummary>,
  stopping: AbortSignal,
  graceMs: number,
  log: Logger,
): Promise<ServiceSummary> {
  let timer: NodeJS.Timeout | undefined;
  const grace = new Promise<never>((_, reject) => {
    const arm = (): void => {
      timer = setTimeout(() => {
        log.error({ graceMs }, 'the delivery in flight did not finish within the shutdown grace');
        reject(
          new AmisyncError(
            'SHUTTING_DOWN',
            `stopped after ${graceMs} ms of shutdown grace; what had not committed was not acknowledged`,
          ),
        );
      }, graceMs);
      timer.unref();
    };
    if (stopping.aborted) arm();
    else stopping.addEventListener('abort', arm, { once: true });
  });
  try {
    return await Promise.race([running, grace]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

/**
 * The sources a configuration builds, unconnected and without the resilience wrapper, and the
 * database it names: for `dead-letters replay --config`, which fetches a request again.
 */
export function configuredSources(
  options: RunCommandOptions,
  store: () => Store,
  environment: RunEnvironment = PROCESS_ENVIRONMENT,
): {
  sources: readonly BuiltSource[];
  globals: GlobalOptions;
  resilience: LoadedConfig['settings']['resilience'];
  flush: () => void;
} {
  const { log, flush } = createServiceLogger({ level: 'warn' });
  const loaded = load(options, environment, log, store);
  const dictionary = options.dictionary ?? loaded.settings.dictionary;
  const globals = {
    ...storeOptions(options, loaded),
    ...(dictionary === undefined ? {} : { dictionary }),
  };
  return { sources: loaded.sources, globals, resilience: loaded.settings.resilience, flush };
}

/** The alerts of a one-shot command given `--config`: the file's webhook, if any, and stderr. */
export interface CommandAlerts {
  readonly alerts: AlertDispatcher;
  /** The database (and dictionary) the file names when no --db (--dictionary) was given. */
  readonly globals: GlobalOptions;
  /** The file's sources, unconnected (their `sla:` targets, for `report sla`). */
  readonly sources: readonly BuiltSource[];
  /** Gives queued alerts a bounded time to go out, then stops the webhook. */
  close(): Promise<void>;
}

export function commandAlerts(
  options: RunCommandOptions,
  environment: RunEnvironment = PROCESS_ENVIRONMENT,
): CommandAlerts {
  const { log, flush } = createServiceLogger({ level: 'warn' });
  const loaded = load(options, environment, log, storeNotOpen);
  const clock = timersOf(runtime.clock);
  const webhook = webhookFor(loaded.settings.resilience, {
    clock,
    random: runtime.random,
    log,
    env: environment.env,
  });
  const dictionary = options.dictionary ?? loaded.settings.dictionary;
  return {
    alerts: new AlertDispatcher(log, clock, webhook === null ? [] : [webhook]),
    globals: {
      ...storeOptions(options, loaded),
      ...(dictionary === undefined ? {} : { dictionary }),
    },
    sources: loaded.sources,
    close: async () => {
      await drainAlerts(webhook, clock);
      flush();
    },
  };
}

/** Alerts still queued for the webhook get a bounded time to go out before the process ends. */
async function drainAlerts(webhook: WebhookSink | null, clock: TimerClock): Promise<void> {
  if (webhook === null) return;
  const waited = new AbortController();
  await Promise.race([webhook.drain(), clock.sleep(ALERT_WEBHOOK_TIMEOUT_MS, waited.signal)]);
  waited.abort();
  await webhook.close();
}

function printRun(summary: RunSummary, json: boolean): void {
  if (json) {
    printJson(summary);
    return;
  }
  printLines([
    ...countsTable(
      ...summary.sources.map((s): [string, ServiceSummary['counts']] => [s.id, s.counts]),
      ['total', summary.counts],
    ),
    '',
    ...summary.sources.map(
      (s) =>
        `${s.id}: ${s.outcome}, ${s.deliveries} deliveries` +
        (s.errors === 0 ? '' : `, ${s.errors} error(s), last: ${s.lastError?.message ?? ''}`) +
        (s.pause === null ? '' : `; paused by ${s.pause.actor}: ${s.pause.reason}`),
    ),
    ...Object.entries(summary.resilience ?? {}).map(
      ([id, r]) =>
        `${id}: breaker ${r.breaker}, ${r.calls} call(s), ${r.retries} retr${r.retries === 1 ? 'y' : 'ies'}` +
        (r.transitions.length === 0 ? '' : `, ${r.transitions.length} breaker transition(s)`),
    ),
    `conserved: ${summary.conserved ? 'yes' : 'NO'}` +
      (summary.checkpoint === null
        ? ''
        : `; checkpoint at audit seq ${summary.checkpoint.auditSeq}`),
  ]);
}
