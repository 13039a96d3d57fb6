/**
 * A SourceContext for tests: a manual clock, counting ids, a memory logger and the given
 * environment, on a real store.
 */
import type { AlertRaiser } from '../core/alert.js';
import { CountingRandom, ManualClock, type TimerClock } from '../core/clock.js';
import { MemoryLogger } from '../core/log.js';
import type { PauseGate } from '../core/pause.js';
import type { SourceContext } from '../core/source.js';
import type { Store } from '../core/store.js';
import { createSourceContext } from '../cli/config/source-context.js';

export interface TestSourceContext extends SourceContext {
  readonly log: MemoryLogger;
}

export function testSourceContext(
  store: Store,
  options: {
    clock?: TimerClock;
    env?: Record<string, string>;
    pauseGate?: PauseGate;
    alerts?: AlertRaiser;
  } = {},
): TestSourceContext {
  const log = new MemoryLogger();
  const context = createSourceContext({
    store,
    clock: options.clock ?? new ManualClock(Date.UTC(2026, 2, 2)),
    random: new CountingRandom(),
    log,
    env: options.env ?? {},
    ...(options.pauseGate === undefined ? {} : { pauseGate: options.pauseGate }),
    ...(options.alerts === undefined ? {} : { alerts: options.alerts }),
  });
  return { ...context, log };
}
