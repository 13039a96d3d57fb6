/**
 * A local or mounted folder as a drop source (`kind: directory`): the shared drop semantics
 * (drop-source.ts) over node:fs. Acknowledged files move into `archiveDir` by rename, or by copy
 * and unlink when the archive sits on another file system.
 */
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, readdir, rename, stat, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { READ_CHUNK_BYTES } from '../../core/limits.js';
import { baseSourceFields, type SourceKind } from '../common/config.js';
import type { DropEntry, DropFileSystem } from '../common/drop-files.js';
import {
  DropSource,
  dropOptionsOf,
  dropSourceFields,
  transportError,
} from '../common/drop-source.js';

export const directorySourceSchema = z
  .object({
    kind: z.literal('directory'),
    ...baseSourceFields,
    path: z.string().min(1),
    /** Where acknowledged files go; default: a folder `archive` inside `path`. */
    archiveDir: z.string().min(1).optional(),
    ...dropSourceFields,
  })
  .strict();

export type DirectorySourceConfig = z.infer<typeof directorySourceSchema>;

/** The inbox and archive folders on the local file system. */
export class LocalDropFolder implements DropFileSystem {
  readonly where: string;
  readonly #archiveDir: string;

  constructor(path: string, archiveDir: string) {
    this.where = resolve(path);
    this.#archiveDir = resolve(archiveDir);
  }

  async open(): Promise<void> {
    try {
      await stat(this.where);
      await mkdir(this.#archiveDir, { recursive: true });
    } catch (error) {
      throw transportError(this.where, '', 'open the folder', error);
    }
  }

  async list(): Promise<DropEntry[]> {
    const entries = await readdir(this.where, { withFileTypes: true });
    const files: DropEntry[] = [];
    for (const entry of entries) {
      if (!entry.isFile()) continue;
      const found = await this.stat(entry.name);
      if (found !== null) files.push(found);
    }
    return files;
  }

  async stat(name: string): Promise<DropEntry | null> {
    try {
      const stats = await stat(join(this.where, name));
      if (!stats.isFile()) return null;
      return { name, sizeBytes: stats.size, mtimeMs: Math.floor(stats.mtimeMs) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  read(name: string): AsyncIterable<Uint8Array> {
    return createReadStream(join(this.where, name), { highWaterMark: READ_CHUNK_BYTES });
  }

  async archived(archivedName: string): Promise<boolean> {
    try {
      await stat(join(this.#archiveDir, archivedName));
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    }
  }

  async archive(name: string, archivedName: string): Promise<void> {
    const from = join(this.where, name);
    const to = join(this.#archiveDir, archivedName);
    try {
      await rename(from, to);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
      await copyFile(from, to);
      await unlink(from);
    }
  }

  async remove(name: string): Promise<void> {
    await unlink(join(this.where, name));
  }

  async close(): Promise<void> {}
}

export const directorySourceKind: SourceKind<DirectorySourceConfig> = {
  kind: 'directory',
  schema: directorySourceSchema,
  create(config, context) {
    const folder = new LocalDropFolder(
      config.path,
      config.archiveDir ?? join(config.path, 'archive'),
    );
    return new DropSource(folder, dropOptionsOf(config), context);
  },
};
