/**
 * `amisync serve --db F [--config C] [--port P] [--host H] [--open]`: the HTTP API, /metrics and
 * the dashboard for one database, without reading any source, until SIGINT or SIGTERM. With
 * `--config`, the file names the database and dictionary (unless flags do) and its sources' `sla:`
 * targets feed `GET /api/sla` and the SLA page; no source is connected. `amisync run` serves the
 * same beside its sources when its configuration has an `api:` section or `--api-port` is given.
 */
import type { Command } from 'commander';
import type { ApiContext } from '../../api/api-context.js';
import type { OperationsServer } from '../../api/api-server.js';
import { loadOperations } from '../../api/operations-modules.js';
import { AmisyncError } from '../../core/errors.js';
import type { Store } from '../../core/store.js';
import {
  dictionaryFor,
  openExistingStore,
  publicKeyFor,
  runtime,
  type GlobalOptions,
} from '../context.js';
import { handleError, printLines } from '../output.js';
import { configuredSlas } from '../config/service-config.js';
import { configuredSources, storeNotOpen } from './run.js';

export interface ServeOptions extends GlobalOptions {
  config?: string;
  port?: string;
  host?: string;
  open?: boolean;
  json?: boolean;
}

export const SERVE_PORT_DEFAULT = 8787;
export const SERVE_HOST_DEFAULT = '127.0.0.1';

/** A TCP port from a flag: 0 (any free port) to 65535. */
export function parsePort(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const port = Number(text);
  if (!/^\d{1,5}$/.test(text) || port > 65_535) {
    throw new AmisyncError('USAGE', `${flag} must be a port number from 0 to 65535, not ${text}`, {
      field: flag,
      rule: 'port',
      value: text,
    });
  }
  return port;
}

/** The context the API acts in for a store opened by a command. */
export function operationsContext(
  store: Store,
  options: GlobalOptions & { publicKey?: string },
  open: boolean,
): ApiContext {
  return {
    store,
    clock: runtime.clock,
    random: runtime.random,
    dictionary: dictionaryFor(options),
    publicKey: publicKeyFor(options),
    open,
    lastVerify: null,
  };
}

/** Starts the operations server for a store; prints where it listens. */
export async function startOperations(
  context: ApiContext,
  options: { host: string; port: number; json: boolean },
): Promise<OperationsServer> {
  const { listenOperations, OPERATIONS_PARTS } = await loadOperations();
  const server = await listenOperations(context, { ...options, parts: OPERATIONS_PARTS });
  // One line, so that a supervisor or a test can read where it listens as soon as it does.
  if (options.json)
    process.stdout.write(`${JSON.stringify({ url: server.url, open: context.open })}\n`);
  else {
    printLines([
      `amisync: dashboard ${server.url}/ , API ${server.url}/api , OpenAPI ` +
        `${server.url}/openapi.json , metrics ${server.url}/metrics`,
      context.open
        ? 'OPEN: no token is asked for; anyone who can reach this port may act (a local demo only)'
        : 'every page and endpoint needs a token: amisync tokens add --role viewer|operator|auditor|admin',
    ]);
  }
  return server;
}

/** Resolves on the first SIGINT or SIGTERM. */
export function untilSignal(signals: NodeJS.EventEmitter = process): Promise<string> {
  return new Promise((resolve) => {
    const stop = (signal: string) => {
      signals.off('SIGINT', onInt);
      signals.off('SIGTERM', onTerm);
      resolve(signal);
    };
    const onInt = () => stop('SIGINT');
    const onTerm = () => stop('SIGTERM');
    signals.on('SIGINT', onInt);
    signals.on('SIGTERM', onTerm);
  });
}

export async function runServe(options: ServeOptions): Promise<void> {
  const port = parsePort('--port', options.port, SERVE_PORT_DEFAULT);
  const metrics = new (await loadOperations()).OperationsMetrics();
  // The configuration is read before the store opens: it may name the database.
  const configured = options.config === undefined ? null : configuredSources(options, storeNotOpen);
  configured?.flush();
  const globals: ServeOptions =
    configured === null ? options : { ...options, ...configured.globals };
  const store = metrics.timed(await openExistingStore(globals, runtime.clock));
  try {
    const context = {
      ...operationsContext(store, globals, options.open === true),
      metrics,
      ...(configured === null ? {} : { slas: configuredSlas(configured.sources) }),
    };
    const server = await startOperations(context, {
      host: options.host ?? SERVE_HOST_DEFAULT,
      port,
      json: options.json === true,
    });
    await untilSignal();
    await server.close();
  } finally {
    await store.close();
  }
}

export function addServeCommand(program: Command): Command {
  return program
    .command('serve')
    .description('serve the HTTP API, /metrics and the dashboard for a database')
    .option('--db <path>', 'SQLite file or postgres:// URL (default: $AMISYNC_DB or ./amisync.db)')
    .option(
      '--config <file>',
      "the service configuration: its database, dictionary and sources' sla: targets",
    )
    .option('--dictionary <path>', 'data dictionary that replays judge by (default: built-in)')
    .option(
      '--signing-key <path>',
      'Ed25519 checkpoint key (default: <db>.signing-key.pem; required with a URL)',
    )
    .option('--port <port>', `TCP port, 0 for any free one (default ${SERVE_PORT_DEFAULT})`)
    .option('--host <address>', `address to listen on (default ${SERVE_HOST_DEFAULT})`)
    .option('--open', 'ask for no token: anyone who can reach the port may act (local demo only)')
    .option('--json', 'print where it listens as one JSON document')
    .addHelpText(
      'after',
      '\nExample:\n  amisync tokens add --role operator --name me --db ./amisync.db\n' +
        '  amisync serve --db ./amisync.db --port 8787\n' +
        "  amisync serve --config ./amisync.yaml   # its database and its vendors' SLA targets\n" +
        'Then open http://127.0.0.1:8787/ and log in with the token. See docs/api.md.',
    )
    .action(async (options: ServeOptions) => {
      try {
        await runServe(options);
      } catch (error) {
        handleError(error, options.json === true);
      }
    });
}
