/**
 * Prometheus metrics at /metrics (prom-client, on a registry of its own, never the global one).
 *
 * The reading counters are the store's conservation counts per source, read when scraped, so they
 * equal what `status` shows and survive restarts (a counter that restarts at zero would make a
 * restart look like a reset). The commit latency is observed as it happens: every store
 * transaction (a batch, or an operator's action) of the process that serves it is timed.
 */
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { pausesOf } from '../core/pause.js';
import type { BatchCounts, Store } from '../core/store.js';
import type { ApiContext } from './api-context.js';
import { breakerReports } from '../cli/views.js';

/** The counters per source, each named by the conservation outcome it counts. */
const READING_COUNTERS: readonly { name: string; help: string; count: keyof BatchCounts }[] = [
  { name: 'received', help: 'readings received', count: 'received' },
  { name: 'accepted', help: 'readings accepted into the ledger', count: 'accepted' },
  { name: 'duplicate', help: 'readings the ledger held already', count: 'duplicates' },
  { name: 'quarantined', help: 'records quarantined', count: 'quarantined' },
  { name: 'held', help: 'readings held in the anomaly ledger', count: 'anomalyHeld' },
  { name: 'dead_lettered', help: 'deliveries dead-lettered', count: 'deadLettered' },
];

const BREAKER_STATES = ['closed', 'open', 'half-open'] as const;

/** Seconds; commits of one batch run from a millisecond to a few seconds on a busy disk. */
const COMMIT_BUCKETS_SECONDS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class OperationsMetrics {
  readonly registry = new Registry();
  readonly commitSeconds: Histogram;
  readonly #readings: Map<keyof BatchCounts, Counter<'source'>>;
  readonly #gauges;
  #scraping: Promise<unknown> = Promise.resolve();

  constructor() {
    const registers = [this.registry];
    this.commitSeconds = new Histogram({
      name: 'amisync_batch_commit_seconds',
      help: 'time to run and commit one store transaction (a batch, or an operator action)',
      buckets: COMMIT_BUCKETS_SECONDS,
      registers,
    });
    this.#readings = new Map(
      READING_COUNTERS.map(({ name, help, count }) => [
        count,
        new Counter({
          name: `amisync_readings_${name}_total`,
          help: `${help}, per source (conservation counts)`,
          labelNames: ['source'],
          registers,
        }),
      ]),
    );
    const gauge = <L extends string>(name: string, help: string, labelNames: L[] = []) =>
      new Gauge<L>({ name: `amisync_${name}`, help, labelNames, registers });
    this.#gauges = {
      lastDelivery: gauge(
        'source_last_delivery_timestamp_seconds',
        'when the last delivery of the source finished (its last successful poll)',
        ['source'],
      ),
      sourcePaused: gauge('source_paused', '1 while the source is paused (its own or global)', [
        'source',
      ]),
      globalPaused: gauge('paused_global', '1 while every source is paused'),
      breaker: gauge('breaker_state', '1 for the state each circuit breaker is in', [
        'endpoint',
        'state',
      ]),
      quarantine: gauge('quarantine_open', 'open quarantine items (distinct problems)'),
      anomalies: gauge('anomalies_held', 'readings held in the anomaly ledger awaiting review'),
      audit: gauge('audit_chain_entries', 'entries in the audit hash chain'),
      verifyOk: gauge('audit_last_verify_ok', '1 when the last audit verify passed, 0 if not'),
      verifyAt: gauge('audit_last_verify_timestamp_seconds', 'when the last audit verify ran'),
    };
  }

  /** The store with every transaction timed into the commit histogram. */
  timed(store: Store): Store {
    const histogram = this.commitSeconds;
    return new Proxy(store, {
      get(target, property) {
        const value = Reflect.get(target, property, target) as unknown;
        if (typeof value !== 'function') return value;
        const method = (value as (...args: unknown[]) => unknown).bind(target);
        if (property !== 'transaction') return method;
        return async (fn: Parameters<Store['transaction']>[0]) => {
          const stop = histogram.startTimer();
          try {
            return await target.transaction(fn);
          } finally {
            stop();
          }
        };
      },
    });
  }

  /**
   * The exposition text with the store's figures read now. Scrapes run one at a time, so that
   * one scrape's reset never shows in another's answer.
   */
  scrape(context: Pick<ApiContext, 'store' | 'lastVerify'>): Promise<string> {
    const next = this.#scraping.then(async () => {
      await this.refresh(context);
      return this.registry.metrics();
    });
    this.#scraping = next.catch(() => undefined);
    return next;
  }

  /** Reads the store's figures into the registry; then `registry.metrics()` gives them. */
  async refresh(context: Pick<ApiContext, 'store' | 'lastVerify'>): Promise<void> {
    const store = context.store;
    const summaries = await store.listSourceSummaries();
    for (const [count, counter] of this.#readings) {
      counter.reset();
      for (const source of summaries)
        counter.inc({ source: source.sourceId }, source.counts[count]);
    }
    const g = this.#gauges;
    g.lastDelivery.reset();
    for (const source of summaries) {
      if (source.lastFinishedAtMs !== null) {
        g.lastDelivery.set({ source: source.sourceId }, source.lastFinishedAtMs / 1000);
      }
    }
    const pauses = pausesOf(await store.listControls());
    const global = pauses.some((pause) => pause.sourceId === null);
    g.globalPaused.set(global ? 1 : 0);
    g.sourcePaused.reset();
    const ids = new Set(summaries.map((source) => source.sourceId));
    for (const pause of pauses) if (pause.sourceId !== null) ids.add(pause.sourceId);
    for (const id of ids) {
      const own = pauses.some((pause) => pause.sourceId === id);
      g.sourcePaused.set({ source: id }, own || global ? 1 : 0);
    }
    g.breaker.reset();
    for (const breaker of await breakerReports(store)) {
      for (const state of BREAKER_STATES) {
        g.breaker.set({ endpoint: breaker.endpoint, state }, breaker.state === state ? 1 : 0);
      }
    }
    const status = await store.status();
    g.quarantine.set(status.quarantine.open);
    g.anomalies.set((await store.anomalyBacklog()).held);
    g.audit.set(status.auditEntries);
    g.verifyOk.reset();
    g.verifyAt.reset();
    if (context.lastVerify !== null) {
      g.verifyOk.set(context.lastVerify.report.ok ? 1 : 0);
      g.verifyAt.set(context.lastVerify.atMs / 1000);
    }
  }
}

/** The /metrics route: text exposition format, read permission (a scraper sends a token). */
export function metricsPart(app: FastifyInstance, context: ApiContext): void {
  const metrics = context.metrics ?? new OperationsMetrics();
  app.get(
    '/metrics',
    {
      config: {
        permission: 'read',
        summary: 'Prometheus metrics (text exposition format)',
        tags: ['metrics'],
      },
    },
    async (_request, reply) =>
      reply.type(metrics.registry.contentType).send(await metrics.scrape(context)),
  );
}
