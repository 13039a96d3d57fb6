/**
 * `amisync simulate`: a vendor head-end for tests, demos, benchmarks and rollout rehearsals. Each
 * transport adds its own subcommand (rest, push, drop, sftp).
 */
import type { Command } from 'commander';
import { addSimulateDrop, addSimulateSftp } from './simulate-drop.js';

export function addSimulateCommands(program: Command): Command {
  const simulate = program
    .command('simulate')
    .description('run a fake vendor head-end: a REST API, a pushing vendor, a file drop');
  // One line per transport: addSimulate<Kind>(simulate);
  addSimulateDrop(simulate);
  addSimulateSftp(simulate);
  return simulate;
}
