/**
 * Signed checkpoints while a long-running process runs: every `intervalMs`, the audit chain's head
 * is signed when it has moved since the last checkpoint, so that a service running for months
 * leaves a signed head at least that often, not only when it stops (whose checkpoint stays the
 * caller's). A head already signed is not signed again. A failure (the store unavailable) is
 * logged and tried again at the next interval: intake never waits for it.
 */
import type { TimerClock } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import type { Store } from '../core/store.js';
import type { SigningKey } from './checkpoint.js';
import { writeCheckpoint } from './record.js';

export interface CheckpointWatchOptions {
  store: Store;
  key: SigningKey;
  clock: TimerClock;
  intervalMs: number;
  signal: AbortSignal;
  log: Logger;
}

/** Runs until `signal` aborts; resolves then, never throws. */
export async function signPeriodically(options: CheckpointWatchOptions): Promise<void> {
  const { store, key, clock, log, signal } = options;
  let signedSeq: number | null = null;
  try {
    signedSeq = (await store.listCheckpoints(1)).at(-1)?.auditSeq ?? null;
  } catch {
    // Unknown: the first interval signs the head, at worst a second time.
  }
  for (;;) {
    await clock.sleep(options.intervalMs, signal);
    if (signal.aborted) return;
    try {
      const checkpoint = await writeCheckpoint(store, key, clock.nowMs(), signedSeq);
      if (checkpoint === null) continue;
      signedSeq = checkpoint.auditSeq;
      log.info(
        { auditSeq: checkpoint.auditSeq, headHash: checkpoint.headHash },
        `checkpoint: audit chain head ${checkpoint.auditSeq} signed`,
      );
    } catch (error) {
      log.warn(
        { error: (error as Error).message },
        'cannot sign a checkpoint of the audit chain; tried again at the next interval',
      );
    }
  }
}
