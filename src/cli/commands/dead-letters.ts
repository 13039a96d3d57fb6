/**
 * `amisync dead-letters list|show|replay|discard`: the dead-letter queue's worklist. A delivery
 * whose attempts were exhausted waits here with the bytes that were fetched (or its request) and
 * each attempt's error, until an operator replays it through the normal pipeline or discards it
 * with a justification. Nothing is deleted.
 */
import type { Command } from 'commander';
import { AmisyncError } from '../../core/errors.js';
import { LIST_PAGE_ROWS_MAX, SHOW_PREVIEW_BYTES_MAX } from '../../core/limits.js';
import {
  DEAD_LETTER_STATUSES,
  type DeadLetterFilter,
  type DeadLetterRow,
  type DeadLetterStatus,
} from '../../core/store.js';
import type { Store } from '../../core/store.js';
import { discardDeadLetter, replayDeadLetter, type Refetch } from '../../pipeline/dead-letters.js';
import { timersOf } from '../../pipeline/run-source.js';
import { settingsFor } from '../../resilience/resilience-config.js';
import { callWithRetry } from '../../resilience/retry.js';
import { configuredSources } from './run.js';
import {
  actorFor,
  dictionaryFor,
  openExistingStore,
  openReadView,
  runtime,
  type GlobalOptions,
} from '../context.js';
import { printJson, printLines, table } from '../output.js';
import { action, parseListLimit, parseRowId, withStore } from '../command-kit.js';
import { countsTable } from './ingest.js';
import { deadLetterJson, pageOf } from '../views.js';

interface DeadLetterOptions extends GlobalOptions {
  json?: boolean;
  status?: string;
  source?: string;
  limit?: string;
  after?: string;
  justification?: string;
  config?: string;
}

function parseId(text: string): number {
  return parseRowId(text, 'a dead letter id');
}

function filterOf(options: DeadLetterOptions, limit: number): DeadLetterFilter {
  const status = options.status;
  if (status !== undefined && !(DEAD_LETTER_STATUSES as readonly string[]).includes(status)) {
    throw new AmisyncError('USAGE', `--status must be one of ${DEAD_LETTER_STATUSES.join(', ')}`);
  }
  return {
    limit,
    ...(status === undefined ? {} : { status: status as DeadLetterStatus }),
    ...(options.source === undefined ? {} : { sourceId: options.source }),
    ...(options.after === undefined ? {} : { afterId: parseId(options.after) }),
  };
}

function isoOf(ms: number): string {
  return new Date(ms).toISOString();
}

function lastError(row: DeadLetterRow): string {
  const last = row.attempts.at(-1);
  return last === undefined ? '' : `${last.code}: ${last.message}`;
}

export async function runDeadLettersList(options: DeadLetterOptions): Promise<void> {
  const limit = parseListLimit(options.limit);
  const store = await openReadView(options, runtime.clock);
  try {
    const fetched = await store.listDeadLetters(filterOf(options, limit + 1));
    const { items: rows, nextAfter } = pageOf(fetched, limit);
    if (options.json === true) {
      printJson({ items: rows.map(deadLetterJson), nextAfter });
      return;
    }
    printLines([
      ...table([
        ['id', 'status', 'source', 'name', 'bytes', 'attempts', 'recorded', 'last error'],
        ...rows.map((row) => [
          String(row.id),
          row.status,
          row.sourceId,
          row.name,
          row.sizeBytes === null ? 'request' : String(row.sizeBytes),
          String(row.attempts.length),
          isoOf(row.createdAtMs),
          lastError(row),
        ]),
      ]),
      ...(nextAfter === null ? [] : [`more: --after ${nextAfter}`]),
    ]);
  } finally {
    await store.close();
  }
}

function decisionLine(row: DeadLetterRow): string {
  const decision = row.decision;
  if (decision === null) {
    return row.bytesComplete
      ? 'open: amisync dead-letters replay|discard <id> --justification "..."'
      : 'open, not replayable (its bytes were not all fetched; its source keeps the delivery): ' +
          'amisync dead-letters discard <id> --justification "..."';
  }
  const into =
    decision.resolvedDeliveryId === null ? '' : ` into delivery ${decision.resolvedDeliveryId}`;
  return (
    `${decision.status} by ${decision.actor} at ${isoOf(decision.atMs)}${into}` +
    (decision.justification === '' ? '' : `: ${decision.justification}`)
  );
}

export async function runDeadLettersShow(id: string, options: DeadLetterOptions): Promise<void> {
  const store = await openReadView(options, runtime.clock);
  try {
    const row = await store.getDeadLetter(parseId(id));
    if (row === null) throw new AmisyncError('NOT_FOUND', `dead letter ${id} does not exist`);
    if (options.json === true) {
      printJson(deadLetterJson(row));
      return;
    }
    const previewBytes = Math.min(row.sizeBytes ?? 0, SHOW_PREVIEW_BYTES_MAX);
    const preview =
      previewBytes === 0
        ? ''
        : Buffer.from(await store.readDeliveryBytes(row.deliveryId, 0, previewBytes)).toString(
            'utf8',
          );
    printLines([
      `dead letter ${row.id} (${row.status}): ${row.name} from source ${row.sourceId}, ` +
        `transport id ${row.transportId ?? 'none'}, recorded ${isoOf(row.createdAtMs)} ` +
        `(${row.cause}), delivery ${row.deliveryId}`,
      row.sizeBytes === null
        ? `request: ${JSON.stringify(row.request)}`
        : `bytes: ${row.sizeBytes}${row.bytesComplete ? '' : ' (cut short)'}, ` +
          `sha256 ${row.rawSha256 ?? ''}, format ${row.format}`,
      ...row.attempts.map(
        (attempt, index) =>
          `  attempt ${index + 1} at ${isoOf(attempt.startedAtMs)} (${attempt.durationMs} ms): ` +
          `${attempt.code}: ${attempt.message}`,
      ),
      ...(preview === '' ? [] : [`first ${previewBytes} bytes:`, preview]),
      decisionLine(row),
    ]);
  } finally {
    await store.close();
  }
}

/**
 * Fetches a request again through the configured source it names, connected for the call, with
 * that source's retry policy (a peer just recovering may still fail a request or two).
 */
function refetchThrough(configured: ReturnType<typeof configuredSources>): Refetch {
  return async (sourceId, request) => {
    const entry = configured.sources.find((built) => built.id === sourceId);
    if (entry === undefined) {
      throw new AmisyncError('NOT_FOUND', `source ${sourceId} is not in the configuration file`);
    }
    const { source } = entry;
    const refetch = source.refetch?.bind(source);
    if (refetch === undefined) {
      throw new AmisyncError('INVALID_STATE', `source ${sourceId} cannot fetch a request again`);
    }
    const signal = new AbortController().signal;
    await source.connect(signal, null);
    try {
      return await callWithRetry(() => refetch(request, signal), {
        settings: settingsFor(configured.resilience, entry.resilience).retry,
        clock: timersOf(runtime.clock),
        random: runtime.random,
        what: `the request of ${sourceId}`,
      });
    } finally {
      await source.close();
    }
  };
}

export async function runDeadLetterReplay(id: string, options: DeadLetterOptions): Promise<void> {
  let store: Store | null = null;
  const configured =
    options.config === undefined
      ? null
      : configuredSources(options, () => {
          if (store === null) throw new AmisyncError('INVALID_STATE', 'the store is not open');
          return store;
        });
  const opened = await openExistingStore(configured?.globals ?? options, runtime.clock);
  store = opened;
  try {
    const report = await replayDeadLetter(
      {
        store: opened,
        clock: runtime.clock,
        random: runtime.random,
        dictionary: dictionaryFor(configured?.globals ?? options),
        actor: actorFor(options),
      },
      parseId(id),
      options.justification,
      configured === null ? undefined : refetchThrough(configured),
    );
    if (options.json === true) {
      printJson(report);
      return;
    }
    printLines([
      `dead letter ${id} replayed as delivery ${report.delivery.deliveryId}` +
        (report.refetched ? ' (its request fetched again)' : ''),
      ...countsTable(['replayed', report.delivery.counts]),
    ]);
  } finally {
    await opened.close();
    configured?.flush();
  }
}

export async function runDeadLetterDiscard(id: string, options: DeadLetterOptions): Promise<void> {
  const store = await openExistingStore(options, runtime.clock);
  try {
    const context = { store, clock: runtime.clock, actor: actorFor(options) };
    const report = await discardDeadLetter(context, parseId(id), options.justification);
    if (options.json === true) printJson(report);
    else printLines([`dead letter ${id} discarded; its row and bytes are kept`]);
  } finally {
    await store.close();
  }
}

/** The queue as `status` shows it. */
export function deadLetterLines(counts: Record<DeadLetterStatus, number>): string[] {
  return [
    `dead letters: ${counts.open} open, ${counts.replayed} replayed, ${counts.discarded} ` +
      'discarded (deliveries kept after their attempts were exhausted; each counts once as ' +
      'received and dead-lettered)',
  ];
}

export function addDeadLettersCommands(program: Command): void {
  const deadLetters = program
    .command('dead-letters')
    .description('deliveries kept after their attempts were exhausted: replay or discard them');
  withStore(deadLetters.command('list'))
    .description('dead letters, oldest first')
    .option('--status <status>', `one of ${DEAD_LETTER_STATUSES.join(', ')}`)
    .option('--source <id>', 'only this source')
    .option('--limit <n>', `rows per page (max ${LIST_PAGE_ROWS_MAX})`, '100')
    .option('--after <id>', 'page after this id')
    .action(action(async (opts: DeadLetterOptions) => runDeadLettersList(opts)));
  withStore(deadLetters.command('show <id>'))
    .description('one dead letter: every attempt, the start of its bytes, any decision')
    .action(action(async (id: string, opts: DeadLetterOptions) => runDeadLettersShow(id, opts)));
  withStore(deadLetters.command('replay <id>'))
    .description('ingest its bytes through the normal pipeline (identity absorbs repeats)')
    .option('--justification <text>', 'why, recorded with the replay')
    .option('--dictionary <path>', 'data dictionary file (default: $AMISYNC_DICTIONARY)')
    .option('--actor <name>', 'who is acting (default: $AMISYNC_ACTOR or the login name)')
    .option(
      '--config <file>',
      'service configuration: its source fetches a request dead letter (a page never fetched) again',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  amisync dead-letters replay 3 --justification "vendor fixed the export"\n' +
        '  amisync dead-letters replay 4 --config ./amisync.yaml --json',
    )
    .action(action(async (id: string, opts: DeadLetterOptions) => runDeadLetterReplay(id, opts)));
  withStore(deadLetters.command('discard <id>'))
    .description('mark it discarded; its row and bytes are kept (justification required)')
    .requiredOption('--justification <text>', 'why, at least 10 characters')
    .option('--actor <name>', 'who is acting (default: $AMISYNC_ACTOR or the login name)')
    .addHelpText(
      'after',
      '\nExample:\n  amisync dead-letters discard 3 --justification "vendor test upload"',
    )
    .action(action(async (id: string, opts: DeadLetterOptions) => runDeadLetterDiscard(id, opts)));
}
