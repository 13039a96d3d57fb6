// Goal: every command of the CLI, however deep, has a usage line and an example under --help, and
// the built CLI answers --help with exit 0 and an unknown option with a usage error (exit 64), so
// no command ships undocumented.
// Method: build the command tree as the CLI does (importing the entry module does not run it), walk
// every command and capture its help text as --help prints it; run the built CLI in a child
// process for the exit codes.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { CLI_MAIN } from '../test-support/crash-runs.js';
import { buildProgram } from './main.js';

const run = promisify(execFile);

/** The text --help prints for a command, the text added after it included. */
function helpText(command: Command): string {
  let text = '';
  command.configureOutput({
    writeOut: (part) => (text += part),
    writeErr: (part) => (text += part),
  });
  command.outputHelp();
  return text;
}

function leaves(command: Command, path: string[] = []): { path: string; text: string }[] {
  const subs = command.commands.filter((sub) => sub.name() !== 'help');
  if (subs.length === 0) return [{ path: path.join(' '), text: helpText(command) }];
  return subs.flatMap((sub) => leaves(sub, [...path, sub.name()]));
}

describe('amisync --help', () => {
  it('gives every command a usage line and an example', () => {
    const all = leaves(buildProgram());
    expect(all.length).toBeGreaterThan(30);
    const undocumented = all
      .filter((one) => !/^Usage: amisync /m.test(one.text) || !/^Example:$/m.test(one.text))
      .map((one) => one.path);
    expect(undocumented).toEqual([]);
  });

  it('shows an example of run --workers and of simulate publish --partitions', () => {
    const all = new Map(leaves(buildProgram()).map((one) => [one.path, one.text]));
    const example = (path: string) => /^Example:$[\s\S]*/m.exec(all.get(path) ?? '')?.[0] ?? '';
    expect(example('run')).toMatch(/^ {2}amisync run --config \S+ --workers \d+/m);
    expect(example('simulate publish')).toMatch(/^ {2}amisync simulate publish .*nats:\/\//m);
    expect(example('simulate publish')).toMatch(/--partitions \d+/);
  });

  it('answers --help with exit 0 and an unknown option with a usage error, exit 64', async () => {
    const shown = await run(process.execPath, [CLI_MAIN, 'dead-letters', 'list', '--help']);
    expect(shown.stdout).toMatch(/^Example:$/m);
    const failed = await run(process.execPath, [CLI_MAIN, 'breakers', '--no-such-flag']).then(
      () => null,
      (error: { code?: number; stderr?: string }) => error,
    );
    expect(failed?.code).toBe(64);
    expect(failed?.stderr).toMatch(/no-such-flag/);
  });
});
