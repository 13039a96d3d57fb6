/**
 * The pieces every worklist command (anomalies, dead letters, quarantine, vendors, pause, estimate)
 * shares: the store options, the error handling of an action, and the parsing of ids and page
 * limits, so each command file holds only what is its own.
 */
import type { Command } from 'commander';
import { AmisyncError } from '../core/errors.js';
import { LIST_PAGE_ROWS_MAX } from '../core/limits.js';
import { handleError } from './output.js';

/** The rows a list prints when --limit is not given. */
export const LIST_PAGE_ROWS_DEFAULT = 100;

/** `--db` and `--json`, as every command that reads or writes the store takes them. */
export function withStore(command: Command): Command {
  return command
    .option('--db <path>', 'SQLite file or postgres:// URL (default: $AMISYNC_DB or ./amisync.db)')
    .option('--json', 'print one JSON document');
}

/**
 * A commander action whose failure is reported as the CLI reports every error (one line, or one
 * JSON document with --json) with the error's exit code.
 */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void>) {
  return async (...args: A): Promise<void> => {
    const command = args[args.length - 1] as Command;
    try {
      await fn(...args);
    } catch (error) {
      handleError(error, command.opts<{ json?: boolean }>().json === true);
    }
  };
}

/** A row id as typed by an operator: a positive whole number; `what` names it in the error. */
export function parseRowId(text: string, what: string): number {
  if (!/^[1-9][0-9]{0,15}$/.test(text)) throw new AmisyncError('USAGE', `not ${what}: ${text}`);
  return Number(text);
}

/** A list's --limit: 1..LIST_PAGE_ROWS_MAX, LIST_PAGE_ROWS_DEFAULT when absent. */
export function parseListLimit(text: string | undefined): number {
  if (text === undefined) return LIST_PAGE_ROWS_DEFAULT;
  const limit = Number(text);
  if (!Number.isInteger(limit) || limit < 1 || limit > LIST_PAGE_ROWS_MAX) {
    throw new AmisyncError('USAGE', `--limit must be 1..${LIST_PAGE_ROWS_MAX}`);
  }
  return limit;
}
