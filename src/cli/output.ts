/**
 * Output and errors for every command, in one place: `--json` prints one JSON document on stdout;
 * errors print a sentence on stderr (or a JSON error object with --json) and exit with the code of
 * their class.
 */
import { AmisyncError } from '../core/errors.js';

export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${toJson(value)}\n`);
}

export function printLines(lines: readonly string[]): void {
  process.stdout.write(`${lines.join('\n')}\n`);
}

export function table(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, index) => {
      widths[index] = Math.max(widths[index] ?? 0, cell.length);
    });
  }
  return rows.map((row) =>
    row
      .map((cell, index) => cell.padEnd(widths[index] ?? 0))
      .join('  ')
      .trimEnd(),
  );
}

export function handleError(error: unknown, json: boolean): never {
  const known =
    error instanceof AmisyncError
      ? error
      : new AmisyncError('INTERNAL', error instanceof Error ? error.message : String(error));
  if (json) process.stdout.write(`${toJson(known.toJSON())}\n`);
  process.stderr.write(`amisync: ${known.code}: ${known.message}\n`);
  if (!(error instanceof AmisyncError) && error instanceof Error && error.stack !== undefined) {
    process.stderr.write(`${error.stack}\n`);
  }
  process.exit(known.exitCode);
}
