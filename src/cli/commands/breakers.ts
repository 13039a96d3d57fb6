/**
 * `amisync breakers [--json]`: each endpoint's circuit breaker as the running service last stored
 * it (closed, open or half-open), when it changed, the figures that moved it and, for an open one,
 * when it lets its probe through. `amisync status` shows the same list.
 */
import type { Command } from 'commander';
import { openReadView, runtime, type GlobalOptions } from '../context.js';
import { handleError, printJson, printLines, table } from '../output.js';
import { breakerReports, type BreakerReport } from '../views.js';

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
  const store = await openReadView(options, runtime.clock);
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
    .option('--db <path>', 'SQLite file or postgres:// URL (default: $AMISYNC_DB or ./amisync.db)')
    .option('--json', 'print one JSON document')
    .action(async (options: GlobalOptions & { json?: boolean }) => {
      try {
        await runBreakers(options);
      } catch (error) {
        handleError(error, options.json === true);
      }
    });
}
