/**
 * `amisync simulate drop --dir D` and `amisync simulate sftp --host H ...`: a vendor dropping feed
 * files into a folder or onto an SFTP server, the way the reader's completion mode expects
 * (temporary name then rename, a `.done` marker, or in place), with drop faults chosen by flags,
 * and the ground truth of what must end in the ledger with `--truth FILE`.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import type SftpClient from 'ssh2-sftp-client';
import { stringify } from 'yaml';
import { AmisyncError } from '../../core/errors.js';
import { hostKeyFingerprint } from '../../sources/sftp/sftp-source.js';
import {
  DROP_FORMATS,
  planDrop,
  type DropFormat,
  type PlannedFile,
} from '../../simulator/drop-plan.js';
import {
  localDropTarget,
  sftpDropTarget,
  writeDrop,
  type DropCompletion,
  type DropTarget,
} from '../../simulator/drop-writer.js';
import { writeTruth, type Truth } from '../../simulator/truth.js';
import { timersOf } from '../../pipeline/run-source.js';
import { runtime } from '../context.js';
import { handleError, printJson, printLines } from '../output.js';

interface DropFlags {
  meters: string;
  days: string;
  seed: string;
  start: string;
  format: DropFormat;
  files: string;
  retransmitRate: string;
  badRate: string;
  truncateRate: string;
  partialRate: string;
  completion: DropCompletion;
  paceMs: string;
  truth?: string;
  configOut?: string;
  db?: string;
  json?: boolean;
}

interface DirFlags extends DropFlags {
  dir: string;
}

interface SftpFlags extends DropFlags {
  host: string;
  port: string;
  user: string;
  key: string;
  hostKeySha256: string;
  remoteDir: string;
}

const MS_PER_INTERVAL = 900_000;
const DAYS_MAX = 3_660;

export function integer(flag: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new AmisyncError('USAGE', `${flag} must be a whole number within ${min}..${max}`, {
      flag,
    });
  }
  return value;
}

export function rate(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0 || value > 1) {
    throw new AmisyncError('USAGE', `${flag} must be a fraction within 0..1`, { flag });
  }
  return value;
}

export function startOf(text: string): number {
  const startMs = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00Z` : text);
  if (!Number.isFinite(startMs) || startMs % MS_PER_INTERVAL !== 0) {
    throw new AmisyncError(
      'USAGE',
      '--start must be a UTC date or a time on a 15-minute boundary',
      {
        flag: '--start',
      },
    );
  }
  return startMs;
}

function plan(flags: DropFlags): { files: readonly PlannedFile[]; truth: Truth } {
  return planDrop({
    seed: integer('--seed', flags.seed, 0, Number.MAX_SAFE_INTEGER),
    meters: integer('--meters', flags.meters, 1, 1_000_000),
    days: integer('--days', flags.days, 1, DAYS_MAX),
    startMs: startOf(flags.start),
    format: flags.format,
    files: integer('--files', flags.files, 1, 1_000_000),
    retransmitRate: rate('--retransmit-rate', flags.retransmitRate),
    badRate: rate('--bad-rate', flags.badRate),
    truncateRate: rate('--truncate-rate', flags.truncateRate),
    partialRate: rate('--partial-rate', flags.partialRate),
    firstMtimeMs: Math.floor(runtime.clock.nowMs() / 1000) * 1000,
  });
}

/**
 * Writes the configuration that reads this drop (`amisync run --config FILE`), so a rehearsal is
 * two commands; the database is `--db` when given.
 */
function writeConfig(flags: DropFlags, source: Record<string, unknown>): string {
  const path = resolve(flags.configOut as string);
  const config = {
    ...(flags.db === undefined ? {} : { database: resolve(flags.db) }),
    sources: [{ ...source, completion: flags.completion, pollIntervalMs: 1000 }],
  };
  writeFileSync(path, stringify(config));
  return path;
}

async function write(
  target: DropTarget,
  flags: DropFlags,
  source: Record<string, unknown>,
): Promise<void> {
  const { files, truth } = plan(flags);
  const written = await writeDrop(target, files, {
    completion: flags.completion,
    temporarySuffix: '.part',
    markerSuffix: '.done',
    paceMs: integer('--pace-ms', flags.paceMs, 0, 3_600_000),
    clock: timersOf(runtime.clock),
  });
  if (flags.truth !== undefined) writeTruth(resolve(flags.truth), truth);
  const configOut = flags.configOut === undefined ? null : writeConfig(flags, source);
  const summary = {
    where: target.where,
    files: written,
    completion: flags.completion,
    received: truth.received,
    valid: truth.valid,
    duplicates: truth.duplicates,
    invalid: truth.invalid,
    truth: flags.truth === undefined ? null : resolve(flags.truth),
    config: configOut,
  };
  if (flags.json === true) printJson(summary);
  else {
    printLines([
      `wrote ${written} files to ${target.where} (${flags.completion} mode)`,
      `records: ${truth.received} received, ${truth.valid} valid, ` +
        `${truth.duplicates} duplicates, ${truth.invalid} invalid`,
      ...(summary.truth === null ? [] : [`truth: ${summary.truth}`]),
      ...(configOut === null ? [] : [`config: ${configOut} (amisync run --config ${configOut})`]),
    ]);
  }
}

function withDropOptions(command: Command): Command {
  return command
    .option('--meters <n>', 'meters in the feed', '10')
    .option('--days <n>', 'days of 15-minute intervals', '1')
    .option('--seed <n>', 'seed of the feed and its faults', '1')
    .option('--start <date>', 'first interval start (UTC)', '2026-01-01')
    .addOption(
      new Option('--format <format>', 'file format').choices(DROP_FORMATS).default('ndjson'),
    )
    .option('--files <n>', 'files the feed is cut into, before faults add more', '4')
    .option('--retransmit-rate <r>', 'share of files sent again under a new name', '0')
    .option('--bad-rate <r>', 'share of readings followed by an invalid record', '0')
    .option('--truncate-rate <r>', 'share of files cut off mid-record, then sent again whole', '0')
    .option('--partial-rate <r>', 'share of files written in two steps (--pace-ms apart)', '0')
    .addOption(
      new Option('--completion <mode>', 'how the reader tells complete files')
        .choices(['rename', 'marker', 'stable'])
        .default('rename'),
    )
    .option('--pace-ms <ms>', 'pause between files and inside a partial file', '0')
    .option('--truth <file>', 'write the ground truth as JSON')
    .option('--config-out <file>', 'write the source configuration that reads this drop (YAML)')
    .option('--db <path>', 'the database path to put in --config-out')
    .option('--json', 'print one JSON document');
}

function action<F extends { json?: boolean }>(fn: (flags: F) => Promise<void>) {
  return async (flags: F): Promise<void> => {
    try {
      await fn(flags);
    } catch (error) {
      handleError(error, flags.json === true);
    }
  };
}

export function addSimulateDrop(simulate: Command): void {
  withDropOptions(simulate.command('drop'))
    .description('drop feed files into a folder as a vendor does, with faults')
    .requiredOption('--dir <path>', 'the drop folder (made if missing)')
    .action(
      action(async (flags: DirFlags) => {
        mkdirSync(flags.dir, { recursive: true });
        const path = resolve(flags.dir);
        await write(localDropTarget(path), flags, {
          kind: 'directory',
          id: 'simulated-drop',
          path,
        });
      }),
    );
}

async function connectSftp(flags: SftpFlags): Promise<SftpClient> {
  // Loaded when a drop over SFTP starts: the CLI starts without it.
  const { default: Client } = await import('ssh2-sftp-client');
  const client = new Client('amisync-simulate');
  let shown: string | null = null;
  try {
    await client.connect({
      host: flags.host,
      port: integer('--port', flags.port, 1, 65_535),
      username: flags.user,
      privateKey: readFileSync(flags.key),
      retries: 0,
      hostVerifier: (key: Buffer) => {
        shown = hostKeyFingerprint(key);
        return shown === flags.hostKeySha256;
      },
    });
  } catch (error) {
    if (shown !== null && shown !== flags.hostKeySha256) {
      throw new AmisyncError(
        'TRANSPORT_HOST_KEY',
        `${flags.host}:${flags.port} showed host key ${shown}, not ${flags.hostKeySha256}: refused`,
      );
    }
    throw new AmisyncError(
      'TRANSPORT_UNAVAILABLE',
      `${flags.host}:${flags.port}: ${(error as Error).message}`,
    );
  }
  return client;
}

export function addSimulateSftp(simulate: Command): void {
  withDropOptions(simulate.command('sftp'))
    .description('drop feed files onto an SFTP server as a vendor does, with faults')
    .option('--host <host>', 'SFTP server', '127.0.0.1')
    .option('--port <port>', 'SFTP port', '22')
    .requiredOption('--user <name>', 'user to log in as')
    .requiredOption('--key <file>', 'private key file of that user')
    .requiredOption(
      '--host-key-sha256 <fingerprint>',
      "the server's SHA256:... host key fingerprint",
    )
    .requiredOption('--remote-dir <path>', 'the drop folder on the server')
    .action(
      action(async (flags: SftpFlags) => {
        const client = await connectSftp(flags);
        try {
          await write(sftpDropTarget(client, flags.remoteDir), flags, {
            kind: 'sftp',
            id: 'simulated-sftp',
            host: flags.host,
            port: Number(flags.port),
            username: flags.user,
            privateKeyFile: resolve(flags.key),
            hostKeySha256: flags.hostKeySha256,
            remotePath: flags.remoteDir,
          });
        } finally {
          await client.end();
        }
      }),
    );
}
