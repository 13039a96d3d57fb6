/**
 * What the REST fault runs share: the head-end simulator with the feed every run uses (6 meters x
 * 1 day, cursor pages of 20, 3% retransmissions, 2% bad records), a service configuration for
 * `amisync run` against it with a test's resilience policy, and the check that the ledger equals
 * the simulator's truth. The service may run in this process (runRun) or in a child process.
 */
import { writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { FaultRates } from '../simulator/rest/rest-faults.js';
import {
  startRestSimulator,
  type RestSimulator,
  type RestSimulatorOptions,
} from '../simulator/rest/rest-simulator.js';
import { VENDOR_DIALECT } from '../simulator/rest/vendor-shape.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import { FEED_START_MS } from './ingest-harness.js';
import { ledgerStreams } from './truth-check.js';

export const FAULT_SOURCE_ID = 'sim-vendor';
/** The environment variable the configuration reads the client secret from. */
export const FAULT_SECRET_ENV = 'SIM_SECRET';

export function startFaultSimulator(
  rates: FaultRates,
  options: Partial<RestSimulatorOptions> = {},
): Promise<RestSimulator> {
  return startRestSimulator({
    now: () => Date.now(),
    seed: 41,
    meters: 6,
    days: 1,
    startMs: FEED_START_MS,
    publish: 'all',
    auth: 'oauth',
    pagination: 'cursor',
    pageSize: 20,
    retransmitRate: 0.03,
    badRate: 0.02,
    ...options,
    ...rates,
  });
}

/** The REST source of the fault runs, reading the simulator from its first interval. */
export function faultSourceConfig(simulator: RestSimulator): Record<string, unknown> {
  return {
    kind: 'rest',
    id: FAULT_SOURCE_ID,
    baseUrl: simulator.url,
    readingsPath: '/v1/readings',
    auth: {
      type: 'oauth',
      tokenUrl: `${simulator.url}/oauth/token`,
      clientId: simulator.clientId,
      clientSecretEnv: FAULT_SECRET_ENV,
    },
    window: {
      backfillStart: new Date(FEED_START_MS).toISOString(),
      overlapMinutes: 0,
      maxWindowHours: 8784,
    },
    pagination: { style: 'cursor', cursorParam: 'cursor', nextCursorPath: 'next' },
    records: { path: 'data.readings', dialect: VENDOR_DIALECT },
    pageSize: 20,
    pollIntervalMs: 200,
  };
}

/**
 * Writes `amisync.yaml` (JSON, which is YAML) into `folder`: the database and log beside it, the
 * given sources and top-level resilience policy. Returns the file's path.
 */
export function writeServiceConfig(
  folder: string,
  sources: readonly Record<string, unknown>[],
  resilience: Record<string, unknown>,
): string {
  const config = {
    database: './amisync.db',
    log: { level: 'warn', file: './amisync.log' },
    reconnectDelayMs: 50,
    resilience,
    sources,
  };
  const path = join(folder, 'amisync.yaml');
  writeFileSync(path, JSON.stringify(config, null, 2));
  return path;
}

/** Whether the database's current ledger equals the simulator's truth, stream by stream. */
export async function ledgerMatches(dbPath: string, simulator: RestSimulator): Promise<boolean> {
  const store = openSqliteStore(dbPath, { nowMs: Date.now });
  try {
    return JSON.stringify(await ledgerStreams(store)) === JSON.stringify(simulator.truth.streams);
  } catch {
    return false;
  } finally {
    await store.close();
  }
}

/** Resolves once `test` holds, looking every `everyMs`; rejects after `withinMs`. */
export async function until(
  test: () => boolean | Promise<boolean>,
  withinMs: number,
  what: string,
  everyMs = 100,
): Promise<void> {
  const endMs = Date.now() + withinMs;
  while (!(await test())) {
    if (Date.now() > endMs) throw new Error(`timed out after ${withinMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/**
 * A TCP relay on a loopback port to another local port: a peer that can go down (its port refuses
 * connections and open ones are cut) and come back on the same port, as a token endpoint or any
 * HTTP peer does in an outage.
 */
export interface TcpRelay {
  /** `http://127.0.0.1:PORT`, the relay's own address. */
  readonly url: string;
  down(): Promise<void>;
  up(): Promise<void>;
}

function listenOn(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : port);
    });
  });
}

export async function startTcpRelay(targetPort: number, upNow: boolean): Promise<TcpRelay> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    const cut = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    for (const socket of [client, upstream]) socket.on('error', cut).on('close', cut);
  });
  const port = await listenOn(server, 0);
  let listening = true;
  const relay: TcpRelay = {
    url: `http://127.0.0.1:${port}`,
    down: async () => {
      if (!listening) return;
      listening = false;
      const closed = new Promise((resolve) => server.close(resolve));
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      await closed;
    },
    up: async () => {
      if (listening) return;
      await listenOn(server, port);
      listening = true;
    },
  };
  if (!upNow) await relay.down();
  return relay;
}
