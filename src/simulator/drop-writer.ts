/**
 * Puts planned drop files (drop-plan.ts) where a vendor would: a local folder or an SFTP server,
 * the way the reader's completion mode expects them. `rename`: written under a temporary name,
 * then renamed; `marker`: written, then a `.done` marker beside it; `stable`: written in place.
 * A partial file is written in two steps with a pause between them, so a poll can catch it half
 * written.
 */
import { appendFile, rename, utimes, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { SFTPWrapper } from 'ssh2';
import type SftpClient from 'ssh2-sftp-client';
import type { TimerClock } from '../core/clock.js';
import type { PlannedFile } from './drop-plan.js';

export type DropCompletion = 'stable' | 'marker' | 'rename';

/** The few file operations the writer needs; one implementation per destination. */
export interface DropTarget {
  readonly where: string;
  write(name: string, bytes: Buffer): Promise<void>;
  append(name: string, bytes: Buffer): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  setMtime(name: string, mtimeMs: number): Promise<void>;
}

export interface DropWriteOptions {
  completion: DropCompletion;
  temporarySuffix: string;
  markerSuffix: string;
  /** The pause between the two halves of a partial file, and between files. */
  paceMs: number;
  clock: TimerClock;
  signal?: AbortSignal;
}

async function writeOne(target: DropTarget, file: PlannedFile, options: DropWriteOptions) {
  const name = options.completion === 'rename' ? file.name + options.temporarySuffix : file.name;
  if (file.partial) {
    const half = Math.floor(file.bytes.byteLength / 2);
    await target.write(name, file.bytes.subarray(0, half));
    await options.clock.sleep(options.paceMs, options.signal);
    await target.append(name, file.bytes.subarray(half));
  } else {
    await target.write(name, file.bytes);
  }
  await target.setMtime(name, file.mtimeMs);
  if (options.completion === 'rename') await target.rename(name, file.name);
  if (options.completion === 'marker') {
    await target.write(file.name + options.markerSuffix, Buffer.alloc(0));
  }
}

/** Writes every file in order; returns how many it wrote before the signal stopped it. */
export async function writeDrop(
  target: DropTarget,
  files: readonly PlannedFile[],
  options: DropWriteOptions,
): Promise<number> {
  let written = 0;
  for (const file of files) {
    if (options.signal?.aborted === true) break;
    await writeOne(target, file, options);
    written += 1;
    if (options.paceMs > 0 && written < files.length) {
      await options.clock.sleep(options.paceMs, options.signal);
    }
  }
  return written;
}

export function localDropTarget(dir: string): DropTarget {
  const path = (name: string): string => join(dir, name);
  return {
    where: dir,
    write: (name, bytes) => writeFile(path(name), bytes),
    append: (name, bytes) => appendFile(path(name), bytes),
    rename: (from, to) => rename(path(from), path(to)),
    setMtime: (name, mtimeMs) => utimes(path(name), mtimeMs / 1000, mtimeMs / 1000),
  };
}

/** A folder on a connected SFTP server. */
export function sftpDropTarget(client: SftpClient, remotePath: string): DropTarget {
  const path = (name: string): string => posix.join(remotePath, name);
  return {
    where: remotePath,
    write: async (name, bytes) => {
      await client.put(bytes, path(name));
    },
    append: async (name, bytes) => {
      await client.append(bytes, path(name));
    },
    rename: async (from, to) => {
      await client.rename(path(from), path(to));
    },
    setMtime: (name, mtimeMs) => sftpUtimes(client, path(name), mtimeMs),
  };
}

/** ssh2-sftp-client has no utimes; its SFTP channel (ssh2's SFTPWrapper) does. */
function sftpUtimes(client: SftpClient, path: string, mtimeMs: number): Promise<void> {
  const channel = (client as unknown as { sftp?: SFTPWrapper }).sftp;
  if (channel === undefined) return Promise.reject(new Error('the SFTP client is not connected'));
  const seconds = Math.floor(mtimeMs / 1000);
  return new Promise((resolve, reject) => {
    channel.utimes(path, seconds, seconds, (error) => (error ? reject(error) : resolve()));
  });
}
