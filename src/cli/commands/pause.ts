/**
 * `amisync pause [--source NAME ...] --reason "..." [--actor NAME]` and
 * `amisync resume [--source NAME ...] [--reason "..."] [--actor NAME]`: the emergency pause,
 * written to the database where a running `amisync run` finds it within PAUSE_POLL_INTERVAL_MS (no
 * restart). Without --source the pause is global. Each control is audited with the operator's
 * identity and reason.
 */
import type { Command } from 'commander';
import type { Pause } from '../../core/pause.js';
import { pausesOf } from '../../core/pause.js';
import type { Store } from '../../core/store.js';
import {
  pauseSources,
  resumeSources,
  type ControlReport,
  type ControlRequest,
} from '../../pipeline/controls.js';
import { actorFor, openExistingStore, runtime, type GlobalOptions } from '../context.js';
import { printJson, printLines } from '../output.js';
import { action } from '../command-kit.js';

interface ControlOptions extends GlobalOptions {
  json?: boolean;
  source?: string[];
  reason?: string;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function withControlOptions(command: Command): Command {
  return command
    .option('--source <name>', 'only this source (repeatable); without it: every source', collect)
    .option('--actor <name>', 'who is acting (default: $AMISYNC_ACTOR or the login name)')
    .option('--db <path>', 'SQLite file or postgres:// URL (default: $AMISYNC_DB or ./amisync.db)')
    .option('--json', 'print one JSON document');
}

/** A pause or resume as `status` and these commands print it. */
export function pauseLine(pause: Pause): string {
  const scope = pause.sourceId === null ? 'every source (global)' : `source ${pause.sourceId}`;
  return (
    `${scope}: paused since ${new Date(pause.sinceMs).toISOString()} by ${pause.actor}: ` +
    pause.reason
  );
}

/** The pauses in force, for `status`: read from the store's controls. */
export async function pausesInForce(store: Pick<Store, 'listControls'>): Promise<Pause[]> {
  return pausesOf(await store.listControls());
}

async function runControl(paused: boolean, options: ControlOptions): Promise<void> {
  const store = await openExistingStore(options, runtime.clock);
  try {
    const context = { store, clock: runtime.clock, actor: actorFor(options) };
    const request: ControlRequest = {
      sourceIds: options.source ?? [],
      reason: options.reason ?? '',
    };
    const reports = paused
      ? await pauseSources(context, request)
      : await resumeSources(context, request);
    const pauses = pausesOf(await store.listControls());
    const known = new Set((await store.listSourceSummaries()).map((s) => s.sourceId));
    const unknown = reports
      .map((report) => report.sourceId)
      .filter((id): id is string => id !== null && !hasDelivered(id, known));
    printControl(reports, pauses, unknown, options.json === true);
  } finally {
    await store.close();
  }
}

/**
 * Whether deliveries of source `id` reached this database: under its own id, or under a
 * partition's (`<id>-p<k>`) when it is a partitioned source read by workers (docs/workers.md).
 */
function hasDelivered(id: string, known: ReadonlySet<string>): boolean {
  if (known.has(id)) return true;
  const prefix = `${id}-p`;
  for (const other of known) {
    if (other.startsWith(prefix) && /^\d+$/.test(other.slice(prefix.length))) return true;
  }
  return false;
}

/**
 * A source that never delivered to this database may be a typo: the control is written anyway (a
 * source may be paused before its first run), and the output says so.
 */
function printControl(
  reports: ControlReport[],
  pauses: Pause[],
  unknownSources: string[],
  json: boolean,
): void {
  if (json) {
    printJson({
      controls: reports.map((report) => ({ ...report, at: new Date(report.atMs).toISOString() })),
      pausesInForce: pauses,
      unknownSources,
    });
    return;
  }
  const lines = reports.map(
    (report) =>
      `${report.paused ? 'paused' : 'resumed'} ` +
      `${report.sourceId === null ? 'every source (global)' : `source ${report.sourceId}`} ` +
      `as ${report.actor} (audit entry ${report.auditSeq})`,
  );
  if (pauses.length === 0) lines.push('no pause in force: every source reads');
  else lines.push('pauses in force:', ...pauses.map((pause) => `  ${pauseLine(pause)}`));
  for (const id of unknownSources) {
    lines.push(`note: source ${id} has never delivered to this database; check its name`);
  }
  printLines(lines);
}

export function addPauseCommands(program: Command): void {
  withControlOptions(program.command('pause'))
    .description(
      'emergency pause: running services stop reading (and acknowledging) within a second',
    )
    .option('--reason <text>', 'why (at least 10 characters); kept in the audit trail')
    .addHelpText(
      'after',
      '\nExample:\n  amisync pause --source vendor-a --reason "vendor sends doubled values" ' +
        '--db ./amisync.db\nSee docs/pause.md.',
    )
    .action(action(async (options: ControlOptions) => runControl(true, options)));
  withControlOptions(program.command('resume'))
    .description('lift a pause: the named sources, or the global pause without --source')
    .option('--reason <text>', 'why, optional; kept in the audit trail')
    .action(action(async (options: ControlOptions) => runControl(false, options)));
}
