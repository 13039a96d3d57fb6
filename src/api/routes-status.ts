/**
 * Read routes of the service's state: status and conservation (overall and per source, with each
 * source's lag, pause and breaker), and the circuit breakers.
 */
import type { FastifyInstance } from 'fastify';
import { pausesOf, type Pause } from '../core/pause.js';
import type { BatchCounts } from '../core/store.js';
import { emptyCounts, isConserved } from '../pipeline/commit.js';
import type { ApiContext } from './api-context.js';
import { addRoute, objectSchema } from './api-routes.js';
import { breakerReports, type BreakerReport, statusReport } from '../cli/views.js';

/** One source as the overview shows it. */
export interface SourceOverview {
  readonly sourceId: string;
  readonly counts: BatchCounts;
  readonly conserved: boolean;
  readonly deliveries: number;
  readonly lastDeliveryAt: string | null;
  /** Seconds since the source's last delivery finished; null before the first. */
  readonly lagSeconds: number | null;
  /** The pause that holds it (its own, else the global one); null when it reads. */
  readonly pause: Pause | null;
  readonly breaker: BreakerReport['state'];
}

/** Every source that delivered or is paused, with its counts, lag, pause and breaker. */
export async function sourcesOverview(context: ApiContext): Promise<SourceOverview[]> {
  // Only the per-source summaries: the whole status report (ledger totals over every stream)
  // is not needed here, and the overview is read often.
  const summaries = await context.store.listSourceSummaries();
  const pauses = pausesOf(await context.store.listControls());
  const globalPause = pauses.find((pause) => pause.sourceId === null) ?? null;
  const breakers = new Map((await breakerReports(context.store)).map((b) => [b.endpoint, b]));
  const nowMs = context.clock.nowMs();
  const ids = new Set(summaries.map((source) => source.sourceId));
  for (const pause of pauses) if (pause.sourceId !== null) ids.add(pause.sourceId);
  return [...ids].sort().map((sourceId) => {
    const source = summaries.find((s) => s.sourceId === sourceId);
    const lastMs = source?.lastFinishedAtMs ?? null;
    return {
      sourceId,
      counts: source?.counts ?? emptyCounts(),
      conserved: source === undefined ? true : isConserved(source.counts),
      deliveries: source?.complete ?? 0,
      lastDeliveryAt: lastMs === null ? null : new Date(lastMs).toISOString(),
      lagSeconds: lastMs === null ? null : Math.max(0, Math.round((nowMs - lastMs) / 1000)),
      pause: pauses.find((pause) => pause.sourceId === sourceId) ?? globalPause,
      breaker: breakers.get(sourceId)?.state ?? 'closed',
    };
  });
}

export function addStatusRoutes(app: FastifyInstance, context: ApiContext): void {
  addRoute(app, {
    method: 'GET',
    url: '/api/status',
    permission: 'read',
    summary: 'conservation totals, ledger, quarantine, anomalies, dead letters, pauses, breakers',
    tags: ['status'],
    schema: { response: { 200: objectSchema('what `amisync status --json` prints') } },
    handle: async () => (await statusReport(context.store)).report,
  });
  addRoute(app, {
    method: 'GET',
    url: '/api/sources',
    permission: 'read',
    summary: 'per source: conservation counts, lag since the last delivery, pause and breaker',
    tags: ['status'],
    schema: {
      response: {
        200: {
          type: 'object',
          properties: { sources: { type: 'array', items: { type: 'object' } } },
        },
      },
    },
    handle: async () => ({ sources: await sourcesOverview(context) }),
  });
  addRoute(app, {
    method: 'GET',
    url: '/api/breakers',
    permission: 'read',
    summary: 'each circuit breaker: state, since when, the figures that moved it',
    tags: ['resilience'],
    schema: {
      response: {
        200: {
          type: 'object',
          properties: { breakers: { type: 'array', items: { type: 'object' } } },
        },
      },
    },
    handle: async () => ({ breakers: await breakerReports(context.store) }),
  });
}
