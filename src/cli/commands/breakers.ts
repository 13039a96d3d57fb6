/**
 * `amisync breakers [--json]`: each endpoint's circuit breaker as the running service last stored
 * it (closed, open or half-open), when it changed, the figures that moved it and, for an open one,
 * when it lets its probe through. `amisync status` shows the same list.
 */
import type { Command } from 'commander';
import type { Store } from '../../core/store.js';
import { parseBreakerSnapshot } from '../../resilience/breaker.js';
import { openReadView, runtime, type GlobalOptions } from '../context.js';
import { handleError, printJson, printLines, table } from '../output.js';

export interface BreakerReport {
  readonly endpoint: string;
  readonly state: string;
  readonly changedAt: string;
  readonly opensInARow: number | null;
  readonly openedAt: string | null;
  /** When an open breaker admits its probe. */
  readonly probeFrom: string | null;
  readonly lastFigures: Readonly<Record<string, number>> | null;
  readonly auditSeq: number | null;
}

function iso(ms: number | null | undefined): string | null {
  return ms == null ? null : new Date(ms).toISOString();
}

/** The stored breakers as a report lists them. */
export async function breakerReports(store: Store): Promise<BreakerReport[]> {
  return (await store.listBreakerStates()).map((row) => {
    const snapshot = parseBreakerSnapshot(row.snapshot);
    return {
      endpoint: row.endpoint,
      state: row.state,
      changedAt: iso(row.changedAtMs) ?? '',
      opensInARow: snapshot?.opensInARow ?? null,
      openedAt: iso(snapshot?.openedAtMs),
      probeFrom: iso(snapshot?.probeFromMs),
      lastFigures: snapshot?.lastFigures == null ? null : { ...snapshot.lastFigures },
      auditSeq: row.auditSeq,
    };
  });
}

/** Lines for `status` and `breakers`. */
export function breakerLines(breakers: readonly BreakerReport[]): string[] {
  if (breakers.length === 0) return ['breakers: none has changed state yet (all closed)'];
  return [
    'breakers:',
    ...table([
      ['endpoint', 'state', 'since', 'probe from', 'last figures'],
      ...breakers.map((b) => [
        b.endpoint,
        b.state,
        b.changedAt,
        b.probeFrom ?? '',
        b.lastFigures === null
          ? ''
          : `${b.lastFigures.failures ?? 0} of ${b.lastFigures.calls ?? 0} calls failed`,
      ]),
    ]).map((line) => `  ${line}`),
  ];
}

export async function runBreakers(options: GlobalOptions & { json?: boolean }): Promise<void> {
  const store = openReadView(options, runtime.clock);
  try {
    const breakers = await breakerReports(store);
    if (options.json === true) printJson({ breakers });
    else printLines(breakerLines(breakers));
  } finally {
    await store.close();
  }
}

export function addBreakersCommand(program: Command): Command {
  return program
    .command('breakers')
    .description('circuit breakers per endpoint: state, since when, the figures that moved them')
    .option('--db <path>', 'SQLite database file (default: $AMISYNC_DB or ./amisync.db)')
    .option('--json', 'print one JSON document')
    .action(async (options: GlobalOptions & { json?: boolean }) => {
      try {
        await runBreakers(options);
      } catch (error) {
        handleError(error, options.json === true);
      }
    });
}
