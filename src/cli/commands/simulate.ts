/**
 * `amisync simulate`: a vendor head-end for tests, demos, benchmarks and rollout rehearsals. Each
 * transport adds its own subcommand (rest, push, drop, sftp).
 */
import type { Command } from 'commander';
import { addSimulateRest } from './simulate-rest.js';
import { addSimulatePush } from './simulate-push.js';
import { addSimulateDrop, addSimulateSftp } from './simulate-drop.js';
import { addSimulateLabelled, addSimulateScore } from './simulate-labelled.js';
import { addSimulatePublish } from './simulate-publish.js';

export function addSimulateCommands(program: Command): Command {
  const simulate = program
    .command('simulate')
    .description('run a fake vendor head-end: a REST API, a pushing vendor, a file drop');
  // One line per transport: addSimulate<Kind>(simulate);
  addSimulateRest(simulate);
  addSimulatePush(simulate);
  addSimulateDrop(simulate);
  addSimulateSftp(simulate);
  addSimulatePublish(simulate);
  addSimulateLabelled(simulate);
  addSimulateScore(simulate);
  return simulate;
}
