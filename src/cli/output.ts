/**
 * Output and errors for every command, in one place: `--json` prints one JSON document on stdout;
 * errors print a sentence on stderr (or a JSON error object with --json) and exit with the code of
 * their class. Text output escapes control characters, since much of it is vendor text.
 */
import { CommanderError } from 'commander';
import { AmisyncError } from '../core/errors.js';

export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${toJson(value)}\n`);
}

const NAMED_ESCAPES: Readonly<Record<string, string>> = {
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
};

/**
 * C0 and C1 controls and DEL (which retitle a terminal, move its cursor or split a table row),
 * lone surrogates (which a terminal shows as anything), and the bidirectional marks, embeddings,
 * overrides and isolates (which make a line read in another order than it is stored).
 */
// With the `u` flag a surrogate range matches only lone surrogates: a pair is one code point.
// Matching control characters is this expression's purpose.
/* eslint-disable no-control-regex */
const UNSAFE_CHARACTERS =
  /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]/gu;
/* eslint-enable no-control-regex */

function escapeCharacter(character: string): string {
  const named = NAMED_ESCAPES[character];
  if (named !== undefined) return named;
  const code = character.charCodeAt(0);
  return code <= 0xff
    ? `\\x${code.toString(16).padStart(2, '0')}`
    : `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * The one escape for text output: every string a feed could have supplied (meter ids, values,
 * reasons, delivery names, raw previews) passes through it before it reaches a terminal, shown
 * visibly as `\x1b`, `\n` or `\u202e`. A backslash is left as it is, so that the text of a
 * dictionary pattern stays readable; `--json` gives the exact text.
 */
export function escapeText(text: string): string {
  return text.replace(UNSAFE_CHARACTERS, escapeCharacter);
}

/** Prints lines of text, each escaped: no line can break into two or reach the terminal raw. */
export function printLines(lines: readonly string[]): void {
  process.stdout.write(`${lines.map(escapeText).join('\n')}\n`);
}

/** Aligned columns; cells are escaped first, so that widths are those of what is printed. */
export function table(rows: readonly (readonly string[])[]): string[] {
  const escaped = rows.map((row) => row.map(escapeText));
  const widths: number[] = [];
  for (const row of escaped) {
    row.forEach((cell, index) => {
      widths[index] = Math.max(widths[index] ?? 0, cell.length);
    });
  }
  return escaped.map((row) =>
    row
      .map((cell, index) => cell.padEnd(widths[index] ?? 0))
      .join('  ')
      .trimEnd(),
  );
}

/**
 * A reader that went away (`amisync ... | head -1`) ends the command quietly with exit 0, as
 * other command-line tools do: what it read was all it wanted.
 */
export function isClosedOutput(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | null)?.code === 'EPIPE';
}

export function exitOnClosedOutput(): void {
  process.stdout.on('error', (error) => {
    if (isClosedOutput(error)) process.exit(0);
    throw error;
  });
}

/** Commander's own errors (unknown option or command, missing argument...) are USAGE errors. */
function usageError(error: CommanderError): AmisyncError {
  // A command group given without a subcommand prints its help, then ends with this code.
  const sentence =
    error.code === 'commander.help'
      ? 'a subcommand is needed'
      : error.message.replace(/^error: /, '');
  return new AmisyncError('USAGE', `${sentence} (see amisync --help)`, {
    reason: error.code,
  });
}

export function handleError(error: unknown, json: boolean): never {
  if (isClosedOutput(error)) process.exit(0);
  const known =
    error instanceof AmisyncError
      ? error
      : error instanceof CommanderError
        ? usageError(error)
        : new AmisyncError('INTERNAL', error instanceof Error ? error.message : String(error));
  if (json) process.stdout.write(`${toJson(known.toJSON())}\n`);
  process.stderr.write(`amisync: ${known.code}: ${escapeText(known.message)}\n`);
  const unexpected = !(error instanceof AmisyncError) && !(error instanceof CommanderError);
  if (unexpected && error instanceof Error && error.stack !== undefined) {
    process.stderr.write(`${error.stack}\n`);
  }
  process.exit(known.exitCode);
}
