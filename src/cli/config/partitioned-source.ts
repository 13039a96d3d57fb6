/**
 * A partitioned NATS deployment in the service configuration (docs/workers.md): a `kind: nats`
 * source with `partitions: P` is read by several worker processes (`amisync run --workers N`), each
 * holding some of the P partitions, against one PostgreSQL store. Partition k is read from
 * `<subject>.p<k>` by the durable consumer `<durable>_p<k>`. The top-level `workers:` mapping sets
 * the lease timings. This file checks what such a source may say and turns it into the worker's
 * own configuration; the run config stays the one file an operator writes.
 */
import { z } from 'zod';
import { isPostgresUrl } from '../../store/postgres/postgres-store.js';
import { PARTITIONS_MAX } from '../../store/postgres/postgres-partitions.js';
import type { WorkerConfig } from '../../workers/worker.js';

export const partitionsSchema = z
  .number('a whole number of partitions, 1 to 4096')
  .int('a whole number of partitions')
  .min(1)
  .max(PARTITIONS_MAX);

/** The top-level `workers:` mapping: how often a worker renews its leases, and for how long. */
export const workersSettingsSchema = z
  .object({
    heartbeatMs: z.number().int().min(50).max(60_000).default(1000),
    leaseMs: z.number().int().min(200).max(600_000).default(5000),
  })
  .strict()
  .refine((settings) => settings.leaseMs >= 2 * settings.heartbeatMs, {
    message: 'leaseMs must be at least two heartbeats, or a live worker loses its leases',
    path: ['leaseMs'],
  });

export type WorkersSettings = z.infer<typeof workersSettingsSchema>;

export const WORKERS_SETTINGS_DEFAULT: WorkersSettings = { heartbeatMs: 1000, leaseMs: 5000 };

/**
 * The keys a partitioned source may give. Every worker builds its consumers from these alone, so
 * another key (credentials, maxDeliver, a resilience override) would be silently ignored: it is
 * refused instead, until the worker takes it.
 */
const PARTITIONED_KEYS = new Set([
  'kind',
  'id',
  'url',
  'stream',
  'subject',
  'durable',
  'ackWaitMs',
  'batch',
  'ackLog',
  'format',
  'partitions',
]);

/** Room for `_p4095` after the durable prefix in a 64-character consumer name. */
const DURABLE_PREFIX_LENGTH_MAX = 56;

export interface PartitionProblem {
  readonly path: readonly PropertyKey[];
  readonly message: string;
}

/** What is wrong with a partitioned source as written (`raw`, the mapping in the file). */
export function partitionedSourceProblems(
  raw: Readonly<Record<string, unknown>>,
): PartitionProblem[] {
  if (raw['kind'] !== 'nats') {
    return [
      {
        path: ['partitions'],
        message: 'only a nats source can be partitioned (see docs/workers.md)',
      },
    ];
  }
  const problems: PartitionProblem[] = [];
  for (const key of Object.keys(raw)) {
    if (!PARTITIONED_KEYS.has(key)) {
      problems.push({
        path: [key],
        message: 'not taken by a partitioned source yet: its workers would ignore it',
      });
    }
  }
  const batch = raw['batch'];
  if (typeof batch === 'object' && batch !== null) {
    for (const key of Object.keys(batch).filter((key) => key !== 'messagesMax')) {
      problems.push({
        path: ['batch', key],
        message: 'a partitioned source takes batch.messagesMax only',
      });
    }
  }
  const url = raw['url'];
  if (typeof url === 'string' && !url.startsWith('nats://')) {
    problems.push({ path: ['url'], message: 'a partitioned source takes a nats:// URL' });
  }
  const subject = raw['subject'];
  if (typeof subject === 'string' && (/[*>]/.test(subject) || subject.length > 200)) {
    problems.push({
      path: ['subject'],
      message: 'the prefix of the partition subjects (<subject>.p<k>): no wildcards, at most 200',
    });
  }
  const durable = raw['durable'];
  if (typeof durable === 'string' && durable.length > DURABLE_PREFIX_LENGTH_MAX) {
    problems.push({
      path: ['durable'],
      message: `at most ${DURABLE_PREFIX_LENGTH_MAX} characters: partition k's consumer is <durable>_p<k>`,
    });
  }
  return problems;
}

/** What is wrong with the file's top level when a source is partitioned. */
export function partitionedTopLevelProblems(
  raw: Readonly<Record<string, unknown>>,
  partitionedAt: readonly number[],
): PartitionProblem[] {
  const problems: PartitionProblem[] = [];
  for (const index of partitionedAt.slice(1)) {
    problems.push({
      path: ['sources', index, 'partitions'],
      message: `one partitioned source per file: sources[${partitionedAt[0]}] is partitioned already`,
    });
  }
  const database = raw['database'];
  if (typeof database === 'string' && !isPostgresUrl(database)) {
    problems.push({
      path: ['database'],
      message:
        `sources[${partitionedAt[0]}] is partitioned: its workers share one PostgreSQL store, ` +
        'give a postgres:// URL',
    });
  }
  if (raw['dictionary'] !== undefined) {
    problems.push({
      path: ['dictionary'],
      message: 'the workers of a partitioned source use the built-in dictionary for now',
    });
  }
  return problems;
}

/** The validated partitioned source, as the service configuration keeps it. */
export interface PartitionedSourceConfig {
  readonly id: string;
  readonly url: string;
  readonly stream: string;
  readonly subject: string;
  readonly durable: string;
  readonly ackWaitMs: number;
  readonly batch: { readonly messagesMax: number };
  readonly ackLog?: string | undefined;
}

/** One worker's configuration (all but its owner name, which is its host and pid). */
export function workerConfigOf(
  source: PartitionedSourceConfig,
  partitions: number,
  settings: WorkersSettings,
  database: string,
): Omit<WorkerConfig, 'owner'> {
  return {
    store: database,
    natsUrl: source.url,
    stream: source.stream,
    subjectPrefix: source.subject,
    durablePrefix: source.durable,
    partitions,
    heartbeatMs: settings.heartbeatMs,
    leaseMs: settings.leaseMs,
    ackWaitMs: source.ackWaitMs,
    messagesPerBatchMax: source.batch.messagesMax,
    ...(source.ackLog === undefined ? {} : { ackLog: source.ackLog }),
    sourceId: source.id,
  };
}
