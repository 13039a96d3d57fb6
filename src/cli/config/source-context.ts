/**
 * Builds the SourceContext every source is created with: the injected clock, randomness and
 * logger, secrets from the environment or files, the store for look-ups, and audit entries for
 * events that commit no delivery.
 */
import type { Random, TimerClock } from '../../core/clock.js';
import type { Logger } from '../../core/log.js';
import type { SourceContext } from '../../core/source.js';
import type { Store } from '../../core/store.js';
import { appendAuditEntry } from '../../audit/record.js';
import { readSecret } from '../../sources/common/config.js';

export interface SourceContextOptions {
  store: Store;
  clock: TimerClock;
  random: Random;
  log: Logger;
  /** Where `*Env` secrets are looked up; process.env in the service. */
  env: Readonly<Record<string, string | undefined>>;
}

export function createSourceContext(options: SourceContextOptions): SourceContext {
  const { store, clock, random, log, env } = options;
  return {
    clock,
    random,
    log,
    store,
    secret: (ref, keyPath) => readSecret(ref, keyPath, env),
    audit: (kind, payload) => appendAuditEntry(store, kind, payload, clock.nowMs()),
  };
}
