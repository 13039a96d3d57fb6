/**
 * `amisync simulate rest`: runs the simulated vendor head-end REST API until SIGINT or SIGTERM.
 * It prints where it listens and where the client secret was written (never the secret), and can
 * write the ground truth and a config that `amisync run --config` reads it with, so a rehearsal
 * is two commands. docs/simulator.md documents every flag.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { stringify } from 'yaml';

import { AmisyncError } from '../../core/errors.js';
import {
  SIM_REST_DAYS_MAX,
  SIM_REST_METERS_MAX,
  SIM_REST_PAGE_SIZE_MAX,
  SIM_REST_READINGS_MAX,
  SIM_REST_SLOW_MS_MAX,
} from '../../core/limits.js';
import { PAGINATION_STYLES, type PaginationStyle } from '../../simulator/rest/rest-pagination.js';
import { RATE_LIMIT_HEADER_STYLES } from '../../simulator/rest/rest-rate-limit.js';
import {
  READINGS_PATH,
  TOKEN_PATH,
  startRestSimulator,
  type RestSimulator,
  type RestSimulatorOptions,
} from '../../simulator/rest/rest-simulator.js';
import { VENDOR_DIALECT } from '../../simulator/rest/vendor-shape.js';
import { writeTruth } from '../../simulator/truth.js';
import { runtime } from '../context.js';
import { handleError, printJson, printLines } from '../output.js';

const DAY_MS = 86_400_000;
const INTERVAL_MS = 900_000;
const PORT_MAX = 65_535;
const SEED_MAX = 2 ** 31 - 1;
const TOKEN_TTL_SECONDS_MAX = 86_400;
const RATE_LIMIT_WINDOW_SECONDS_MAX = 86_400;
const RATE_LIMIT_MAX = 1_000_000;
const OVERLAP_MINUTES_MAX = 10_080;
const POLL_INTERVAL_MS = 60_000;
const SOURCE_ID = 'sim-vendor';
const API_KEY_HEADER_NAME = 'X-API-Key';
const AUTH_FLAGS = { oauth: 'oauth', 'api-key': 'apiKey', none: 'none' } as const;

type Opts = Record<string, string | boolean | undefined>;

/** One line in simulate.ts registers this command. */
export function addSimulateRest(simulate: Command): Command {
  return simulate
    .command('rest')
    .description('serve a vendor head-end REST API (OAuth, pagination, rate limits, faults)')
    .requiredOption('--port <port>', 'port on 127.0.0.1 (0: any free port)')
    .option('--meters <n>', 'meters in the feed', '10')
    .option('--days <n>', 'days of 15-minute intervals', '1')
    .option('--seed <n>', 'seed of the feed and of the faults', '1')
    .option('--start <iso>', 'first interval start (default: --days before today 00:00 UTC)')
    .option('--backfill', 'publish the whole feed at once instead of as intervals end')
    .addOption(pick('--pagination <style>', 'pagination style', PAGINATION_STYLES, 'cursor'))
    .option('--page-size <n>', 'records per page unless the client asks for fewer', '1000')
    .addOption(pick('--auth <mode>', 'authentication', Object.keys(AUTH_FLAGS), 'oauth'))
    .option('--client-id <id>', 'OAuth client id', 'amisync')
    .option('--token-ttl <seconds>', 'access token lifetime', '3600')
    .option('--rate-limit <n/s>', 'at most N requests per S seconds, e.g. 100/60')
    .addOption(
      pick('--rate-limit-headers <style>', 'rate-limit headers', RATE_LIMIT_HEADER_STYLES, 'both'),
    )
    .option('--error-rate <r>', 'chance a request starts a burst of 500/502/503', '0')
    .option('--throttle-rate <r>', 'chance a request starts a burst of 429', '0')
    .option('--slow-rate <r>', 'chance a response is held back --slow-ms', '0')
    .option('--slow-ms <ms>', 'how long a slow response is held back', '2000')
    .option('--revoke-rate <r>', 'chance a page revokes the token that fetched it', '0')
    .option('--token-error-rate <r>', 'chance a token request fails or returns garbage', '0')
    .option('--html-rate <r>', 'chance of an HTML error page with status 200', '0')
    .option('--duplicate-page-rate <r>', 'chance a next cursor or link repeats the page', '0')
    .option('--overlap <minutes>', 're-send this many minutes before each window', '0')
    .option('--estimate-rate <r>', 'readings first sent as estimates, corrected later', '0')
    .option('--retransmit-rate <r>', 'readings sent again verbatim', '0')
    .option('--conflict-rate <r>', 'readings sent again with another value', '0')
    .option('--bad-rate <r>', 'malformed records, per reading', '0')
    .option('--checksum-rate <r>', 'records carrying a checksum', '0')
    .option('--truth <file>', 'write the ground truth (JSON), kept current as repeats are served')
    .option('--config-out <file>', 'write an amisync config (YAML) with a rest source reading this')
    .option('--db <path>', 'database path written into --config-out', './amisync.db')
    .option('--secret-file <file>', 'where the client secret goes (default: beside --config-out)')
    .option('--json', 'print the startup information as one JSON document')
    .action(async (opts: Opts) => {
      try {
        await runSimulateRest(opts);
      } catch (error) {
        handleError(error, opts.json === true);
      }
    });
}

function pick(flags: string, description: string, choices: readonly string[], fallback: string) {
  return new Option(flags, description).choices([...choices]).default(fallback);
}

function usage(message: string): AmisyncError {
  return new AmisyncError('USAGE', message);
}

function integer(opts: Opts, key: string, flag: string, min: number, max: number): number {
  const value = Number(opts[key]);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw usage(`--${flag} must be a whole number from ${min} to ${max}`);
  }
  return value;
}

function rate(opts: Opts, key: string, flag: string): number {
  const text = String(opts[key]);
  const value = Number(text);
  if (text.trim() === '' || !(value >= 0 && value <= 1)) {
    throw usage(`--${flag} must be a number from 0 to 1`);
  }
  return value;
}

function startMs(opts: Opts, days: number): number {
  if (opts.start === undefined) {
    return Math.floor(runtime.clock.nowMs() / DAY_MS) * DAY_MS - days * DAY_MS;
  }
  const text = String(opts.start);
  const ms = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?(Z|[+-]\d{2}:\d{2})$/.test(text)
    ? Date.parse(text)
    : Number.NaN;
  if (Number.isNaN(ms) || ms % INTERVAL_MS !== 0) {
    throw usage('--start must be an ISO 8601 time with an offset on a 15-minute boundary');
  }
  return ms;
}

function rateLimit(opts: Opts): RestSimulatorOptions['rateLimit'] {
  if (opts.rateLimit === undefined) return undefined;
  const match = /^(\d{1,7})\/(\d{1,5})$/.exec(String(opts.rateLimit));
  const limit = Number(match?.[1]);
  const windowSeconds = Number(match?.[2]);
  const valid =
    match !== null &&
    limit >= 1 &&
    limit <= RATE_LIMIT_MAX &&
    windowSeconds >= 1 &&
    windowSeconds <= RATE_LIMIT_WINDOW_SECONDS_MAX;
  if (!valid) throw usage('--rate-limit must be N/S: N requests (1 or more) per S seconds');
  const headers = opts.rateLimitHeaders as (typeof RATE_LIMIT_HEADER_STYLES)[number];
  return { limit, windowSeconds, headers };
}

/** The simulator's options from the flags; every mistake is a usage error before it starts. */
export function simulatorOptions(opts: Opts): RestSimulatorOptions {
  const meters = integer(opts, 'meters', 'meters', 1, SIM_REST_METERS_MAX);
  const days = integer(opts, 'days', 'days', 1, SIM_REST_DAYS_MAX);
  if (meters * days * (DAY_MS / INTERVAL_MS) > SIM_REST_READINGS_MAX) {
    throw usage(`--meters x --days x 96 must be at most ${SIM_REST_READINGS_MAX}`);
  }
  const options: RestSimulatorOptions = {
    now: () => runtime.clock.nowMs(),
    port: integer(opts, 'port', 'port', 0, PORT_MAX),
    seed: integer(opts, 'seed', 'seed', 0, SEED_MAX),
    meters,
    days,
    startMs: startMs(opts, days),
    publish: opts.backfill === true ? 'all' : 'interval-end',
    pagination: opts.pagination as PaginationStyle,
    pageSize: integer(opts, 'pageSize', 'page-size', 1, SIM_REST_PAGE_SIZE_MAX),
    auth: AUTH_FLAGS[opts.auth as keyof typeof AUTH_FLAGS],
    clientId: String(opts.clientId),
    tokenTtlSeconds: integer(opts, 'tokenTtl', 'token-ttl', 1, TOKEN_TTL_SECONDS_MAX),
    slowMs: integer(opts, 'slowMs', 'slow-ms', 0, SIM_REST_SLOW_MS_MAX),
    overlapMinutes: integer(opts, 'overlap', 'overlap', 0, OVERLAP_MINUTES_MAX),
    clientSecret: runtime.random.hex(24),
  };
  const limit = rateLimit(opts);
  if (limit !== undefined) options.rateLimit = limit;
  for (const [key, flag] of RATE_FLAGS) options[key] = rate(opts, key, flag);
  return options;
}

const RATE_FLAGS = [
  ['errorRate', 'error-rate'],
  ['throttleRate', 'throttle-rate'],
  ['slowRate', 'slow-rate'],
  ['revokeRate', 'revoke-rate'],
  ['tokenErrorRate', 'token-error-rate'],
  ['htmlRate', 'html-rate'],
  ['duplicatePageRate', 'duplicate-page-rate'],
  ['estimateRate', 'estimate-rate'],
  ['retransmitRate', 'retransmit-rate'],
  ['conflictRate', 'conflict-rate'],
  ['badRate', 'bad-rate'],
  ['checksumRate', 'checksum-rate'],
] as const satisfies readonly (readonly [keyof RestSimulatorOptions, string])[];

/** Writes a file readable by its owner only, whole or not at all. */
function writePrivateFile(path: string, text: string): void {
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, text, { mode: 0o600, flag: 'wx' });
  renameSync(temporary, path);
}

function writeTruthFile(path: string, simulator: RestSimulator): void {
  const temporary = `${path}.${process.pid}.tmp`;
  writeTruth(temporary, simulator.truth);
  renameSync(temporary, path);
}

function secretPath(opts: Opts): string | null {
  if (opts.auth === 'none') return null;
  if (opts.secretFile !== undefined) return resolve(String(opts.secretFile));
  if (opts.configOut === undefined) return resolve('sim-rest.secret');
  const config = resolve(String(opts.configOut));
  return join(dirname(config), `${basename(config, extname(config))}.secret`);
}

function authConfig(simulator: RestSimulator, mode: string, secretFile: string | null) {
  if (mode === 'oauth') {
    return {
      type: 'oauth',
      tokenUrl: `${simulator.url}${TOKEN_PATH}`,
      clientId: simulator.clientId,
      clientSecretFile: secretFile,
    };
  }
  if (mode === 'api-key')
    return { type: 'apiKey', header: API_KEY_HEADER_NAME, keyFile: secretFile };
  return { type: 'none' };
}

function paginationConfig(style: PaginationStyle) {
  switch (style) {
    case 'cursor':
      return { style, cursorParam: 'cursor', nextCursorPath: 'next' };
    case 'link':
      return { style };
    case 'page':
      return { style, pageParam: 'page', sizeParam: 'pageSize' };
  }
}

/** The config `amisync run --config` reads this head-end with. */
export function restSourceConfig(
  simulator: RestSimulator,
  opts: Opts,
  secretFile: string | null,
): unknown {
  const pageSize = Number(opts.pageSize);
  return {
    database: resolve(String(opts.db)),
    sources: [
      {
        kind: 'rest',
        id: SOURCE_ID,
        baseUrl: simulator.url,
        readingsPath: READINGS_PATH,
        auth: authConfig(simulator, String(opts.auth), secretFile),
        window: {
          fromParam: 'from',
          toParam: 'to',
          format: 'iso8601',
          backfillStart: new Date(simulator.feedStartMs).toISOString().replace('.000Z', 'Z'),
          overlapMinutes: 0,
        },
        pagination: paginationConfig(opts.pagination as PaginationStyle),
        records: { path: 'data.readings', dialect: VENDOR_DIALECT },
        pageSize,
        pollIntervalMs: POLL_INTERVAL_MS,
      },
    ],
  };
}

interface Started {
  simulator: RestSimulator;
  secretFile: string | null;
  configFile: string | null;
  truthFile: string | null;
}

async function start(opts: Opts): Promise<Started> {
  const options = simulatorOptions(opts);
  const truthFile = opts.truth === undefined ? null : resolve(String(opts.truth));
  let simulator: RestSimulator | null = null;
  if (truthFile !== null) {
    options.onTruthChange = () => {
      if (simulator !== null) writeTruthFile(truthFile, simulator);
    };
  }
  simulator = await startRestSimulator(options).catch((error: unknown) => {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EADDRINUSE' && code !== 'EACCES') throw error;
    throw usage(`--port ${String(opts.port)} cannot be listened on (${code}); try another or 0`);
  });
  const secretFile = secretPath(opts);
  if (secretFile !== null) writePrivateFile(secretFile, `${simulator.clientSecret}\n`);
  const configFile = opts.configOut === undefined ? null : resolve(String(opts.configOut));
  if (configFile !== null) {
    writeFileSync(configFile, stringify(restSourceConfig(simulator, opts, secretFile)));
  }
  if (truthFile !== null) writeTruthFile(truthFile, simulator);
  return { simulator, secretFile, configFile, truthFile };
}

function startupJson(started: Started, opts: Opts) {
  const { simulator } = started;
  return {
    url: simulator.url,
    port: simulator.port,
    readingsUrl: `${simulator.url}${READINGS_PATH}`,
    tokenUrl: opts.auth === 'oauth' ? `${simulator.url}${TOKEN_PATH}` : null,
    clientId: opts.auth === 'oauth' ? simulator.clientId : null,
    secretFile: started.secretFile,
    configFile: started.configFile,
    truthFile: started.truthFile,
    feedStart: new Date(simulator.feedStartMs).toISOString(),
    feedEnd: new Date(simulator.feedEndMs).toISOString(),
    records: simulator.feed.records.length,
  };
}

function startupLines(info: ReturnType<typeof startupJson>, opts: Opts): string[] {
  const lines = [
    `simulated head-end listening on ${info.url}`,
    `  readings: ${info.readingsUrl} (${String(opts.pagination)} pagination)`,
  ];
  if (info.tokenUrl !== null)
    lines.push(`  token:    ${info.tokenUrl} (client id ${info.clientId})`);
  if (info.secretFile !== null) {
    const what = opts.auth === 'oauth' ? 'client secret' : 'API key';
    lines.push(`  ${what} written to ${info.secretFile} (mode 0600)`);
  }
  lines.push(`  feed: ${info.records} records, intervals ${info.feedStart} to ${info.feedEnd}`);
  if (info.configFile !== null) lines.push(`  config: ${info.configFile}`);
  if (info.truthFile !== null) lines.push(`  truth: ${info.truthFile}`);
  lines.push('stop with SIGINT (Ctrl-C) or SIGTERM');
  return lines;
}

function stopped(): Promise<string> {
  return new Promise((resolveSignal) => {
    const stop = (signal: string): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolveSignal(signal);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

export async function runSimulateRest(opts: Opts): Promise<void> {
  const signal = stopped();
  const started = await start(opts);
  const info = startupJson(started, opts);
  if (opts.json === true) printJson(info);
  else printLines(startupLines(info, opts));
  const received = await signal;
  await started.simulator.close();
  if (started.truthFile !== null) writeTruthFile(started.truthFile, started.simulator);
  const stats = started.simulator.stats();
  if (opts.json !== true) {
    printLines([
      `stopped on ${received}: ${stats.requests} requests, ${stats.pagesServed} pages, ` +
        `${stats.recordsServed} records served, ${stats.tokensIssued} tokens issued`,
    ]);
  }
}
