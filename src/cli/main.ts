#!/usr/bin/env node
/**
 * The `amisync` command line: parses flags and calls the parts. Every reporting command takes
 * --json; errors map to exit codes in one place (output.ts, core/errors.ts).
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { INPUT_FORMATS } from '../core/parser.js';
import { addAnomaliesCommands } from './commands/anomalies.js';
import { addDeadLettersCommands } from './commands/dead-letters.js';
import { addEstimateCommands } from './commands/estimate.js';
import { addReportCommands } from './commands/discrepancies.js';
import { addSlaReportCommand } from './commands/sla.js';
import { runDemo } from './commands/demo.js';
import { addSimulateCommands } from './commands/simulate.js';
import { addVendorsCommands } from './commands/vendors.js';
import { addPauseCommands } from './commands/pause.js';
import { addBreakersCommand } from './commands/breakers.js';
import { addTokensCommands } from './commands/tokens.js';
import { addServeCommand } from './commands/serve.js';
import { addBillingCommands } from './commands/billing.js';
import {
  addAuditCheckpointsCommand,
  addDeliveriesCommands,
  addLedgerViewCommands,
} from './commands/ledger-views.js';
import { printIngest, runIngest } from './commands/ingest.js';
import { runConfigCheck, runRun } from './commands/run.js';
import { runRunWorkers } from './commands/run-workers.js';
import { LOG_LEVELS } from './config/service-config.js';
import {
  runQuarantineDecision,
  runQuarantineList,
  runQuarantineReplay,
  runQuarantineShow,
} from './commands/quarantine.js';
import {
  readJustification,
  runAuditExport,
  runAuditProve,
  runAuditPublicKey,
  runAuditVerify,
  runLedgerExport,
  runStatus,
} from './commands/report.js';
import { exitOnClosedOutput, handleError } from './output.js';
import { addExamples } from './examples.js';

type Opts = Record<string, unknown>;

function withGlobals(command: Command): Command {
  return command
    .option('--db <path>', 'SQLite file or postgres:// URL (default: $AMISYNC_DB or ./amisync.db)')
    .option(
      '--dictionary <path>',
      'data dictionary JSON (default: $AMISYNC_DICTIONARY or built-in)',
    )
    .option(
      '--signing-key <path>',
      'Ed25519 checkpoint key (default: <db>.signing-key.pem; required with a URL)',
    )
    .option('--json', 'print one JSON document');
}

function action<A extends unknown[]>(fn: (...args: A) => Promise<void> | void) {
  return async (...args: A): Promise<void> => {
    const command = args[args.length - 1] as Command;
    const json = command.opts<Opts>().json === true;
    try {
      await fn(...args);
    } catch (error) {
      handleError(error, json);
    }
  };
}

export function buildProgram(): Command {
  const program = new Command('amisync')
    .description(
      'Smart-meter interval reads into a billing ledger: validated, idempotent, audited.',
    )
    .version('0.1.0')
    // Commander's own errors go through the one error handler (exit 64, USAGE, JSON with --json)
    // instead of printing and exiting by themselves; subcommands inherit both settings.
    .exitOverride()
    .configureOutput({ outputError: () => undefined });

  withGlobals(program.command('ingest <files...>'))
    .description(
      'ingest feed files (JSON, NDJSON, CSV, NEM12/NEM13, Green Button, CMEP, a vendor CSV or ' +
        'JSON dialect)',
    )
    .addOption(new Option('--format <format>', 'input format').choices([...INPUT_FORMATS]))
    .option(
      '--dialect <file>',
      'a vendor dialect: CSV (JSON) for --format csv-dialect, JSON (YAML) for --format json-dialect',
    )
    .option(
      '--records-path <path>',
      'where a json-dialect page holds its records, e.g. data.readings',
    )
    .option('--source <id>', 'source id recorded with each batch', 'file')
    .option(
      '--log-file <path>',
      'log every committed batch as a JSON line to this file (appended; - for standard error)',
    )
    .addOption(
      new Option('--log-level <level>', 'the least level logged with --log-file')
        .choices([...LOG_LEVELS])
        .default('info'),
    )
    .option(
      '--threads <n>',
      'threads per delivery: NDJSON is parsed and validated in n - 1 threads while one commits; ' +
        '1 runs everything on one thread (default: the core count, at most 8)',
    )
    .action(
      action(async (files: string[], opts: Opts) => {
        printIngest(await runIngest(files, opts), opts.json === true);
      }),
    );

  withGlobals(program.command('run'))
    .description('run every source of a configuration file until SIGINT or SIGTERM')
    .requiredOption('--config <file>', 'the service configuration, YAML or JSON (docs/config.md)')
    .option('--once', 'drain every source of what it has now, then exit (the cron form)')
    .option(
      '--api-port <port>',
      "serve the API, /metrics and the dashboard here (or the file's api:)",
    )
    .option(
      '--threads <n>',
      "threads per delivery (or the file's threads:; default the core count)",
    )
    .option(
      '--workers <n>',
      "run the file's partitioned nats source in n supervised worker processes (docs/workers.md)",
    )
    .addHelpText(
      'after',
      '\nThe configuration may name the database and the dictionary; --db and --dictionary win.',
    )
    .action(
      action(async (opts: Opts) => {
        if (opts.workers === undefined) await runRun(opts);
        else await runRunWorkers(opts);
      }),
    );

  const config = program.command('config').description('the service configuration file');
  withGlobals(config.command('check'))
    .description('validate a configuration and build its sources, connecting nothing')
    .requiredOption('--config <file>', 'the service configuration, YAML or JSON')
    .action(
      action((opts: Opts) => {
        runConfigCheck(opts);
      }),
    );

  withGlobals(program.command('status'))
    .description('conservation totals, ledger, quarantine, sequence gaps, audit head')
    .action(action(async (opts: Opts) => runStatus(opts)));

  const quarantine = program
    .command('quarantine')
    .description('inspect and resolve rejected input');
  withGlobals(quarantine.command('list'))
    .option('--status <status>', 'open, replayed, accepted or rejected')
    .option('--code <code>', 'first rule violated, e.g. consumption.range')
    .option('--delivery <id>', 'only this delivery')
    .option('--limit <n>', 'rows per page (max 1000)', '100')
    .option('--after <id>', 'page after this id')
    .action(action(async (opts: Opts) => runQuarantineList(opts)));
  withGlobals(quarantine.command('show <id>'))
    .description('one item: the start of its raw bytes, every reason and its history')
    .option('--raw-out <file>', "write the item's whole raw bytes to this file")
    .addHelpText(
      'after',
      '\nExample:\n  amisync quarantine show 12 --raw-out record.bin --db ./amisync.db',
    )
    .action(action(async (id: string, opts: Opts) => runQuarantineShow(id, opts)));
  withGlobals(quarantine.command('replay [id]'))
    .description('re-run kept bytes through the current dictionary')
    .option('--all', 'replay every item open when the run starts, oldest first')
    .option('--limit <n>', 'at most this many items with --all (default: every open item)')
    .option('--actor <name>', 'who is acting (default: $AMISYNC_ACTOR or the login name)')
    .action(action(async (id: string | undefined, opts: Opts) => runQuarantineReplay(id, opts)));
  for (const decision of ['accept', 'reject'] as const) {
    withGlobals(quarantine.command(`${decision} <id>`))
      .description(
        decision === 'accept'
          ? 'override: accept the item into the ledger (justification required)'
          : 'close the item for good (justification required)',
      )
      .option('--justification <text>', 'why (at least 10 characters)')
      .option('--justification-file <path>', 'read the justification from a file')
      .option('--actor <name>', 'who is acting (default: $AMISYNC_ACTOR or the login name)')
      .action(
        action(async (id: string, opts: Opts) =>
          runQuarantineDecision(decision, id, readJustification(opts), opts),
        ),
      );
  }

  const ledger = program.command('ledger').description('the billing ledger');
  withGlobals(ledger.command('export'))
    .description('current ledger readings, one row each, exact decimals')
    .addOption(
      new Option('--format <format>', 'output format').choices(['csv', 'ndjson']).default('csv'),
    )
    .option('--output <path>', 'write to a file instead of stdout')
    .action(action(async (opts: Opts) => runLedgerExport(opts)));
  addLedgerViewCommands(ledger);

  const audit = program.command('audit').description('the tamper-evident audit trail');
  withGlobals(audit.command('verify'))
    .description('recompute the chain, Merkle roots and signatures; name the first bad entry')
    .option('--public-key <path>', 'verify checkpoints with this PEM public key')
    .option('--config <file>', "a failure raises audit.verify_failed to this file's alert webhook")
    .addHelpText('after', '\nExample:\n  amisync audit verify --config ./amisync.yaml --json')
    .action(action(async (opts: Opts) => runAuditVerify(opts)));
  withGlobals(audit.command('prove <idempotencyKey>'))
    .description('inclusion proof of one ledger reading, checked')
    .option('--public-key <path>', 'verify checkpoints with this PEM public key')
    .action(action(async (key: string, opts: Opts) => runAuditProve(key, opts)));
  withGlobals(audit.command('export'))
    .description('write the chain, batches, checkpoints and public key for an auditor')
    .requiredOption('--out <dir>', 'output directory')
    .action(action(async (opts: Opts) => runAuditExport(opts as Opts & { out: string })));
  withGlobals(audit.command('public-key'))
    .description('print the checkpoint public key (PEM)')
    .action(action(async (opts: Opts) => runAuditPublicKey(opts)));
  addAuditCheckpointsCommand(audit);

  withGlobals(program.command('demo'))
    .description('generate a realistic feed, ingest it twice, show conservation and audit verify')
    .option('--dir <path>', 'working directory for the demo', './demo-output')
    .option('--meters <n>', 'meters', '200')
    .option('--days <n>', 'days of 15-minute data', '7')
    .option('--exit', 'exit after the summary, even at a terminal (always so without one)')
    .option('--port <port>', 'port of the dashboard it serves at a terminal (default 8787)')
    .option(
      '--serve-for <seconds>',
      'run the live service on simulated feeds this long, then exit (even without a terminal)',
    )
    .addHelpText(
      'after',
      '\nExample:\n  amisync demo            # at a terminal: summary, then the dashboard until Ctrl-C\n' +
        '  amisync demo --exit     # summary only, as in CI',
    )
    .action(action(async (opts: Opts) => runDemo(opts)));

  addSimulateCommands(program);
  addVendorsCommands(program);
  addAnomaliesCommands(program);
  addEstimateCommands(program);
  addSlaReportCommand(addReportCommands(program));
  addDeadLettersCommands(program);
  addPauseCommands(program);
  addBreakersCommand(program);
  addTokensCommands(program);
  addServeCommand(program);
  addBillingCommands(program);
  addDeliveriesCommands(program);

  addExamples(program);
  return program;
}

/** --json before a `--` asks for a JSON error, even when commander could not parse the rest. */
function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json');
}

/**
 * Whether this module is the program node was started with (directly, or through the npm bin
 * link), rather than imported by a test that reads the command tree.
 */
function isEntryPoint(): boolean {
  const started = process.argv[1];
  if (started === undefined) return true;
  try {
    return realpathSync(started) === fileURLToPath(import.meta.url);
  } catch {
    return true;
  }
}

if (isEntryPoint()) {
  exitOnClosedOutput();
  try {
    await buildProgram().parseAsync(process.argv);
  } catch (error) {
    // --help and --version end by a CommanderError with exit code 0: they are not usage errors.
    if (error instanceof CommanderError && error.exitCode === 0) process.exit(0);
    handleError(error, wantsJson(process.argv));
  }
}
