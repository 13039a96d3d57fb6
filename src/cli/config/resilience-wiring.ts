/**
 * Puts the resilience policies around the configured sources (issue 10): each source is wrapped in
 * a ResilientSource with its settings (its own `resilience:` over the top level's), its breaker
 * state taken back from the store, and every breaker transition stored and audited
 * (`breaker.transition`) in one transaction. Alerts go to the log and, when configured, to the
 * webhook.
 */
import { nextEntry } from '../../audit/hash-chain.js';
import { BREAKER_TRANSITION_KIND } from '../../audit/verify-breakers.js';
import type { Random, TimerClock } from '../../core/clock.js';
import { AmisyncError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import type { Store } from '../../core/store.js';
import { AlertDispatcher, type AlertSink } from '../../resilience/alerts.js';
import {
  parseBreakerSnapshot,
  type BreakerSnapshot,
  type BreakerTransition,
} from '../../resilience/breaker.js';
import { settingsFor, type ResilienceConfig } from '../../resilience/resilience-config.js';
import { ResilientSource } from '../../resilience/resilient-source.js';
import { WebhookSink } from '../../resilience/webhook-sink.js';
import type { BuiltSource } from './service-config.js';

export interface ResilienceWiring {
  readonly alerts: AlertDispatcher;
  readonly webhook: WebhookSink | null;
  readonly sources: readonly ResilientSource[];
}

export interface WiringOptions {
  readonly store: Store;
  readonly clock: TimerClock;
  readonly random: Random;
  readonly log: Logger;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/**
 * The webhook's headers: its Authorization read from the environment variable the file names.
 * Throws CONFIG_INVALID naming the key (never a value) when the variable is unset or empty.
 */
export function webhookHeaders(
  config: ResilienceConfig | undefined,
  env: Readonly<Record<string, string | undefined>>,
): Record<string, string> {
  const name = config?.alerts?.webhook?.authorizationEnv;
  if (name === undefined) return {};
  const value = env[name];
  if (value === undefined || value === '') {
    throw new AmisyncError(
      'CONFIG_INVALID',
      `resilience.alerts.webhook.authorizationEnv: the environment variable ${name} is not set`,
    );
  }
  return { authorization: value };
}

/** The webhook sink the configuration names, its authorization read from the environment. */
export function webhookFor(
  config: ResilienceConfig | undefined,
  options: Omit<WiringOptions, 'store'>,
): WebhookSink | null {
  const webhook = config?.alerts?.webhook;
  if (webhook === undefined) return null;
  const headers = webhookHeaders(config, options.env);
  return new WebhookSink({
    url: webhook.url,
    headers,
    clock: options.clock,
    random: options.random,
    log: options.log.child({ sink: 'webhook' }),
    ...(webhook.timeoutMs === undefined ? {} : { timeoutMs: webhook.timeoutMs }),
  });
}

/** Every stored breaker state that still reads, by endpoint. */
export async function storedBreakers(store: Store): Promise<Map<string, BreakerSnapshot>> {
  const snapshots = new Map<string, BreakerSnapshot>();
  for (const row of await store.listBreakerStates()) {
    const snapshot = parseBreakerSnapshot(row.snapshot);
    if (snapshot !== null) snapshots.set(row.endpoint, snapshot);
  }
  return snapshots;
}

/** The audit payload of a transition: what an auditor needs to see why the breaker moved. */
export function transitionPayload(transition: BreakerTransition): Record<string, unknown> {
  return {
    endpoint: transition.endpoint,
    from: transition.from,
    to: transition.to,
    reason: transition.reason,
    figures: transition.figures,
    opensInARow: transition.opensInARow,
    cooldownMs: transition.cooldownMs,
    probeFromMs: transition.snapshot.probeFromMs,
  };
}

/** Stores a transition's new state and its audit entry in one transaction. */
export async function recordTransition(store: Store, transition: BreakerTransition): Promise<void> {
  await store.transaction(async (tx) => {
    const entry = nextEntry(
      await tx.auditHead(),
      BREAKER_TRANSITION_KIND,
      transitionPayload(transition),
      transition.atMs,
    );
    await tx.appendAuditEntry(entry);
    await tx.saveBreakerState({
      endpoint: transition.endpoint,
      state: transition.to,
      snapshot: JSON.stringify(transition.snapshot),
      changedAtMs: transition.atMs,
      auditSeq: entry.seq,
    });
  });
}

/** Wraps every source; call once the store is open. */
export async function wireResilience(
  config: ResilienceConfig | undefined,
  built: readonly BuiltSource[],
  options: WiringOptions,
): Promise<ResilienceWiring> {
  const webhook = webhookFor(config, options);
  const sinks: AlertSink[] = webhook === null ? [] : [webhook];
  const alerts = new AlertDispatcher(options.log, options.clock, sinks);
  const stored = await storedBreakers(options.store);
  const sources = built.map(
    (entry) =>
      new ResilientSource({
        source: entry.source,
        settings: settingsFor(config, entry.resilience),
        clock: options.clock,
        random: options.random,
        log: options.log,
        alerts,
        restored: stored.get(entry.id) ?? null,
        onTransition: (transition) => recordTransition(options.store, transition),
      }),
  );
  for (const source of sources) {
    if (source.breaker.state !== 'closed') {
      options.log.warn(
        { source: source.id, state: source.breaker.state },
        `${source.id}: its circuit breaker was ${source.breaker.state} when the service stopped; it stays open until its probe time`,
      );
    }
  }
  return { alerts, webhook, sources };
}
