/**
 * What the REST source's tests share: a config for the test server, a source built the way the
 * service builds it (secrets through the source context), and a driver that reads like the runner
 * does, moving a manual clock over throttled idles instead of sleeping.
 */
import { ManualClock } from '../core/clock.js';
import { isIdle, type Delivery, type Idle } from '../core/source.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import { testSourceContext, type TestSourceContext } from './source-context.js';
import type { RestTestServer } from './rest-test-server.js';
import { tempDir } from './temp.js';
import { restSourceConfigSchema, type RestSourceConfig } from '../sources/rest/rest-config.js';
import { RestSource, restSourceKind } from '../sources/rest/rest-source.js';

/** 2026-03-01T12:00Z: the test feed's ten hours and two more. */
export const NOW_MS = Date.UTC(2026, 2, 1, 12);
export const SECRET = 'client-secret-7f3a9c';

export function restConfig(
  server: RestTestServer,
  overrides: Record<string, unknown> = {},
): RestSourceConfig {
  const style = (overrides.style as string | undefined) ?? 'cursor';
  const pagination = { style, ...(overrides.pagination as object | undefined) };
  const rest = { ...overrides };
  delete rest.style;
  delete rest.pagination;
  return restSourceConfigSchema.parse({
    kind: 'rest',
    id: 'sim-vendor',
    baseUrl: server.url,
    readingsPath: '/v1/readings',
    auth: { type: 'none' },
    window: {
      fromParam: 'from',
      toParam: 'to',
      format: 'iso8601',
      backfillStart: '2026-03-01T00:00:00Z',
      overlapMinutes: 60,
      maxWindowHours: 4,
    },
    pagination,
    records: { path: 'data.readings', dialect: {} },
    pageSize: 25,
    pagesPerPollMax: 100,
    requestTimeoutMs: 5_000,
    pollIntervalMs: 60_000,
    ...rest,
  });
}

export interface Built {
  source: RestSource;
  clock: ManualClock;
  context: TestSourceContext;
}

export function buildSource(
  config: RestSourceConfig,
  options: { clock?: ManualClock; env?: Record<string, string> } = {},
): Built {
  const clock = options.clock ?? new ManualClock(NOW_MS);
  const store = openSqliteStore(`${tempDir()}/context.db`, { nowMs: () => 0 });
  const context = testSourceContext(store, { clock, env: options.env ?? { SIM_SECRET: SECRET } });
  return { source: restSourceKind.create(config, context) as RestSource, clock, context };
}

export interface ReadPage {
  readonly url: string;
  readonly records: Record<string, unknown>[];
  readonly position: Record<string, unknown> | null;
  readonly delivery: Delivery;
}

export async function pageOf(delivery: Delivery): Promise<ReadPage> {
  const parts: Buffer[] = [];
  for await (const chunk of delivery.bytes()) parts.push(Buffer.from(chunk));
  const body = JSON.parse(Buffer.concat(parts).toString('utf8')) as {
    data: { readings: Record<string, unknown>[] };
  };
  return {
    url: delivery.sourceDeliveryId,
    records: body.data.readings,
    position: delivery.position,
    delivery,
  };
}

export interface Drained {
  pages: ReadPage[];
  idles: Idle[];
  /** The caught-up idle that ended the drain, or null when `pagesMax` stopped it. */
  end: Idle | null;
}

/** Reads and acknowledges pages, moving the clock over throttled idles, until caught up. */
export async function drain(
  built: Pick<Built, 'source' | 'clock'>,
  pagesMax = 1_000,
): Promise<Drained> {
  const signal = new AbortController().signal;
  const drained: Drained = { pages: [], idles: [], end: null };
  for (let reads = 0; reads < pagesMax * 10 && drained.pages.length < pagesMax; reads++) {
    const result = await built.source.read(signal);
    if (isIdle(result)) {
      drained.idles.push(result);
      if (result.reason === 'caught-up') {
        drained.end = result;
        return drained;
      }
      built.clock.advanceMs(result.afterMs);
      continue;
    }
    drained.pages.push(await pageOf(result));
    await result.ack({
      deliveryId: 'dlv_test',
      counts: {
        received: 0,
        accepted: 0,
        duplicates: 0,
        quarantined: 0,
        conflicts: 0,
        anomalyHeld: 0,
        deadLettered: 0,
        revisions: 0,
      },
      firstDeliveryId: null,
    });
  }
  return drained;
}

/** A record's identity in the test feed. */
export function recordKey(record: Record<string, unknown>): string {
  return `${String(record.meter_id)}|${String(record.timestamp_utc)}|${String(record.seq ?? '')}`;
}
