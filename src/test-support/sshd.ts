/**
 * A real OpenSSH server for SFTP tests: sshd runs as the current user on a free loopback port with
 * a temporary host key, one temporary authorized client key and its own sshd_config (no PAM, no
 * strict modes, the internal-sftp subsystem), and stops with the test.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { tempDir } from './temp.js';
import { freePort } from '../sources/common/loopback-port.js';

export const SSHD_PATH = '/usr/sbin/sshd';
const SSH_KEYGEN_PATH = '/usr/bin/ssh-keygen';
/** sshd needs this folder when it runs as root (privilege separation); Debian's unit makes it. */
const PRIVILEGE_SEPARATION_DIR = '/run/sshd';
const START_TIMEOUT_MS = 10_000;
const START_ATTEMPTS_MAX = 3;

export interface SshdServer {
  readonly host: string;
  readonly port: number;
  readonly username: string;
  /** The authorized client key (OpenSSH format, no passphrase). */
  readonly privateKeyFile: string;
  /** The host key's fingerprint as `ssh-keygen -lf` prints it: `SHA256:...`. */
  readonly hostKeySha256: string;
  /** A fresh folder on the server's file system, for the test's inbox and archive. */
  readonly dataDir: string;
  stop(): Promise<void>;
  /**
   * The server goes down as a machine's would: the listener and every open session (sshd's own
   * children, found by their parent process id) are killed; its port refuses connections.
   */
  crash(): Promise<void>;
  /** Starts the server again after `crash`, on the same port with the same keys. */
  restart(): Promise<void>;
}

export function sshdAvailable(): boolean {
  return existsSync(SSHD_PATH) && existsSync(SSH_KEYGEN_PATH);
}

function keygen(path: string, comment: string): void {
  run(SSH_KEYGEN_PATH, ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path]);
}

function run(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr || result.error}`);
  }
  return result.stdout;
}

/** The SHA-256 fingerprint of a public key file, from ssh-keygen itself. */
export function fingerprintOf(publicKeyFile: string): string {
  const match = /SHA256:[A-Za-z0-9+/]+/.exec(
    run(SSH_KEYGEN_PATH, ['-l', '-E', 'sha256', '-f', publicKeyFile]),
  );
  if (match === null) throw new Error(`no SHA256 fingerprint for ${publicKeyFile}`);
  return match[0];
}

function sshdConfig(dir: string, port: number, username: string): string {
  return [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${join(dir, 'host_key')}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    `AllowUsers ${username}`,
    'StrictModes no',
    'UsePAM no',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes',
    'PermitRootLogin prohibit-password',
    'Subsystem sftp internal-sftp',
    'LogLevel INFO',
    '',
  ].join('\n');
}

/** Resolves once sshd says it listens; rejects with its output when it exits first. */
function listening(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = '';
    let started = false;
    const timer = setTimeout(
      () => reject(new Error(`sshd did not start: ${output}`)),
      START_TIMEOUT_MS,
    );
    // The log is read until sshd listens, then only drained, so a long test cannot fill the pipe.
    const onData = (data: Buffer): void => {
      if (started) return;
      output += data.toString('utf8');
      if (/Server listening on/.test(output)) {
        started = true;
        clearTimeout(timer);
        resolve();
      }
    };
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`sshd exited with ${code}: ${output}`));
    });
  });
}

async function launch(
  dir: string,
  username: string,
  fixedPort?: number,
): Promise<{ child: ChildProcess; port: number }> {
  let lastError: unknown;
  for (let attempt = 0; attempt < START_ATTEMPTS_MAX; attempt++) {
    // The port is free now; another process may take it before sshd binds, hence the attempts.
    const port = fixedPort ?? (await freePort());
    const config = join(dir, 'sshd_config');
    writeFileSync(config, sshdConfig(dir, port, username));
    const child = spawn(SSHD_PATH, ['-D', '-e', '-f', config], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    try {
      await listening(child);
      return { child, port };
    } catch (error) {
      lastError = error;
      child.kill('SIGTERM');
    }
  }
  throw lastError;
}

/** Every process whose parent chain leads to `pid` (from /proc), deepest last. */
function descendantsOf(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
    } catch {
      // The process ended while the list was read.
    }
  }
  const found: number[] = [];
  for (let queue = [pid]; queue.length > 0;) {
    const next = queue.flatMap((parent) => children.get(parent) ?? []);
    found.push(...next);
    queue = next;
  }
  return found;
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

export async function startSshd(): Promise<SshdServer> {
  const dir = tempDir('amisync-sshd-');
  const username = userInfo().username;
  if (process.getuid?.() === 0 && !existsSync(PRIVILEGE_SEPARATION_DIR)) {
    mkdirSync(PRIVILEGE_SEPARATION_DIR, { mode: 0o755 });
  }
  keygen(join(dir, 'host_key'), 'amisync-test-host');
  keygen(join(dir, 'client_key'), 'amisync-test-client');
  copyFileSync(join(dir, 'client_key.pub'), join(dir, 'authorized_keys'));
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir);
  const launched = await launch(dir, username);
  const { port } = launched;
  let child = launched.child;
  return {
    host: '127.0.0.1',
    port,
    username,
    privateKeyFile: join(dir, 'client_key'),
    hostKeySha256: fingerprintOf(join(dir, 'host_key.pub')),
    dataDir,
    stop: () => stopChild(child),
    crash: async () => {
      const sessions = child.pid === undefined ? [] : descendantsOf(child.pid);
      await stopChild(child);
      for (const pid of sessions) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // It ended with the listener.
        }
      }
    },
    restart: async () => {
      child = (await launch(dir, username, port)).child;
    },
  };
}
