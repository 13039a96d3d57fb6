/**
 * Files named on the command line as a Source. Acknowledging a file changes nothing on disk (the
 * operator asked for these files and keeps them); it is recorded, so callers and tests can see that
 * it happened only after commit. A watched drop directory that archives acknowledged files belongs
 * to the transports work.
 */
import { createReadStream } from 'node:fs';
import { basename, resolve } from 'node:path';
import { READ_CHUNK_BYTES } from '../../core/limits.js';
import type { InputFormat } from '../../core/parser.js';
import { AckOnce, END, type Delivery, type Source } from '../../core/source.js';

export interface FileEntry {
  path: string;
  format: InputFormat;
}

export type FileOutcome =
  { path: string; acked: true } | { path: string; acked: false; error: Error };

export class FileSource implements Source {
  readonly id: string;
  readonly outcomes: FileOutcome[] = [];
  readonly #files: readonly FileEntry[];
  #next = 0;

  constructor(id: string, files: readonly FileEntry[]) {
    this.id = id;
    this.#files = files;
  }

  async connect(): Promise<void> {}

  async read(): Promise<Delivery | typeof END> {
    const entry = this.#files[this.#next];
    if (entry === undefined) return END;
    this.#next += 1;
    const path = resolve(entry.path);
    const once = new AckOnce(path);
    return {
      sourceDeliveryId: path,
      name: basename(path),
      format: entry.format,
      formatContext: null,
      attempt: 1,
      metadata: {},
      partitionKey: null,
      position: null,
      bytes: () => createReadStream(path, { highWaterMark: READ_CHUNK_BYTES }),
      ack: async () => {
        once.take();
        this.outcomes.push({ path, acked: true });
      },
      nack: async (error) => {
        once.take();
        this.outcomes.push({ path, acked: false, error });
      },
    };
  }

  async close(): Promise<void> {}
}
