/**
 * Builds the SourceContext every source is created with: the injected clock, randomness and
 * logger, secrets from the environment or files, the store for look-ups, audit entries for
 * events that commit no delivery, and alerts for what a source learns outside a delivery.
 */
import type { AlertRaiser } from '../../core/alert.js';
import type { Random, TimerClock } from '../../core/clock.js';
import type { Logger } from '../../core/log.js';
import type { PauseGate } from '../../core/pause.js';
import type { SourceContext } from '../../core/source.js';
import type { Store } from '../../core/store.js';
import { appendAuditEntry } from '../../audit/record.js';
import { AlertDispatcher } from '../../resilience/alerts.js';
import { readSecret } from '../../sources/common/config.js';

export interface SourceContextOptions {
  /**
   * The store, or a function giving it: the service builds its sources from the configuration
   * before it opens the database the configuration names, so sources may look the store up only
   * once they run.
   */
  store: Store | (() => Store);
  clock: TimerClock;
  random: Random;
  log: Logger;
  /** Where `*Env` secrets are looked up; process.env in the service. */
  env: Readonly<Record<string, string | undefined>>;
  /** Whether a source is paused now; without it no source is ever paused. */
  pauseGate?: PauseGate;
  /**
   * The service's alert dispatcher, or a function giving it: it is wired after the sources are
   * built, so sources look it up when they raise. Without it (or while it gives null) a source's
   * alert is logged only.
   */
  alerts?: AlertRaiser | (() => AlertRaiser | null);
}

export function createSourceContext(options: SourceContextOptions): SourceContext {
  const { clock, random, log, env } = options;
  const logOnly = new AlertDispatcher(log, clock, []);
  const storeOf =
    typeof options.store === 'function' ? options.store : () => options.store as Store;
  return {
    clock,
    random,
    log,
    get store() {
      return storeOf();
    },
    secret: (ref, keyPath) => readSecret(ref, keyPath, env),
    audit: (kind, payload) => appendAuditEntry(storeOf(), kind, payload, clock.nowMs()),
    ...(options.pauseGate === undefined ? {} : { pauseGate: options.pauseGate }),
    alert(alert) {
      const alerts = options.alerts;
      const raiser = typeof alerts === 'function' ? alerts() : (alerts ?? null);
      (raiser ?? logOnly).raise(alert);
    },
  };
}
