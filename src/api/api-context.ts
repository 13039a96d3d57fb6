/**
 * What the API's routes act on: one store and what the pipeline's operator actions need beside it
 * (the dictionary a replay judges by, the clock and randomness, the checkpoint public key).
 */
import type { KeyObject } from 'node:crypto';
import type { VerifyReport } from '../audit/verify.js';
import type { Clock, Random } from '../core/clock.js';
import type { Store } from '../core/store.js';
import type { DataDictionary } from '../dictionary/dictionary.js';
import type { SourceSla } from '../report/sla-config.js';
import type { OperationsMetrics } from './metrics.js';

/** The last `audit verify` run through the API: its report, when and by whom. */
export interface VerifyRecord {
  readonly report: VerifyReport;
  readonly atMs: number;
  readonly by: string;
}

export interface ApiContext {
  readonly store: Store;
  readonly clock: Clock;
  readonly random: Random;
  readonly dictionary: DataDictionary;
  readonly publicKey: KeyObject | null;
  /**
   * No token is asked for: every request acts as the open caller with every permission. Only
   * for a local demo (`amisync serve --open`).
   */
  readonly open: boolean;
  /** The metrics whose commit histogram times this store; /metrics makes its own without. */
  readonly metrics?: OperationsMetrics;
  /** The vendors' SLA targets from the service's configuration; absent or empty: none. */
  readonly slas?: readonly SourceSla[];
  /** The last verification this process ran; null before the first. */
  lastVerify: VerifyRecord | null;
}
