/**
 * A drop folder as a Source, over any DropFileSystem (a local folder, an SFTP server). Each poll
 * lists the inbox and takes up to `filesPerPollMax` complete files, oldest first; each file is one
 * Delivery, identified by its name and sha256. Acknowledging a file moves it to the archive (or
 * deletes it), only then: a file whose delivery did not commit stays where it is and is delivered
 * again at the next poll, and a crash before the ack does the same, which idempotency absorbs.
 *
 * A file is read twice: once to hash it (its id must be known before the pipeline reads it) and
 * once for the pipeline. When the second read shows other bytes than the first (the vendor
 * rewrote or truncated the file meanwhile) the read fails with DROP_FILE_CHANGED, the file is not
 * archived, and the next poll reads it afresh.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { AmisyncError } from '../../core/errors.js';
import { DROP_FILES_PER_POLL_DEFAULT, DROP_FILES_PER_POLL_MAX } from '../../core/limits.js';
import type { Logger } from '../../core/log.js';
import { INPUT_FORMATS, type InputFormat } from '../../core/parser.js';
import {
  AckOnce,
  idle,
  type Delivery,
  type Idle,
  type SavedPosition,
  type Source,
  type SourceContext,
} from '../../core/source.js';
import {
  archiveNameOf,
  dropDeliveryId,
  formatOfName,
  planPoll,
  type DropEntry,
  type DropFileSystem,
  type DropRules,
  type Observation,
} from './drop-files.js';

/**
 * Formats a drop file may be declared in: those that need nothing besides their bytes (a vendor
 * CSV dialect needs its dialect, which a drop source does not carry).
 */
export const DROP_FILE_FORMATS = INPUT_FORMATS.filter((format) => format !== 'csv-dialect');

/** The configuration keys every drop source has (docs/config-drop.md). */
export const dropSourceFields = {
  pattern: z.string().min(1).default('*'),
  format: z.enum(DROP_FILE_FORMATS).optional(),
  completion: z.enum(['stable', 'marker', 'rename']).default('rename'),
  markerSuffix: z.string().min(1).default('.done'),
  temporarySuffix: z.string().min(1).default('.part'),
  afterCommit: z.enum(['archive', 'delete']).default('archive'),
  filesPerPollMax: z
    .number()
    .int()
    .min(1)
    .max(DROP_FILES_PER_POLL_MAX)
    .default(DROP_FILES_PER_POLL_DEFAULT),
};

export interface DropSourceOptions {
  readonly id: string;
  readonly pollIntervalMs: number;
  readonly rules: DropRules;
  /** The format of every file; null: from each file's extension. */
  readonly format: InputFormat | null;
  readonly afterCommit: 'archive' | 'delete';
  readonly filesPerPollMax: number;
}

/** What the first read of a file found. */
interface HashedFile {
  readonly entry: DropEntry;
  readonly sha256: string;
  readonly format: InputFormat;
}

/** The drop options from a parsed configuration (the fields above plus id and pollIntervalMs). */
export function dropOptionsOf(config: {
  id: string;
  pollIntervalMs: number;
  pattern: string;
  format?: InputFormat | undefined;
  completion: DropRules['completion'];
  markerSuffix: string;
  temporarySuffix: string;
  afterCommit: 'archive' | 'delete';
  filesPerPollMax: number;
}): DropSourceOptions {
  return {
    id: config.id,
    pollIntervalMs: config.pollIntervalMs,
    rules: {
      pattern: config.pattern,
      completion: config.completion,
      markerSuffix: config.markerSuffix,
      temporarySuffix: config.temporarySuffix,
    },
    format: config.format ?? null,
    afterCommit: config.afterCommit,
    filesPerPollMax: config.filesPerPollMax,
  };
}

export class DropSource implements Source {
  readonly id: string;
  readonly #files: DropFileSystem;
  readonly #options: DropSourceOptions;
  readonly #context: SourceContext;
  readonly #log: Logger;
  #queue: DropEntry[] = [];
  #observed: ReadonlyMap<string, Observation> = new Map();
  /** Deliveries of a name and sha256 that were not acknowledged: the next attempt is one more. */
  readonly #attempts = new Map<string, number>();
  /** Files delivered and not yet acknowledged: not delivered again until they are. */
  readonly #inFlight = new Set<string>();
  /** Files whose format is unknown, warned about once each. */
  readonly #unknownFormat = new Set<string>();
  #connected = false;

  constructor(files: DropFileSystem, options: DropSourceOptions, context: SourceContext) {
    this.id = options.id;
    this.#files = files;
    this.#options = options;
    this.#context = context;
    this.#log = context.log.child({ source: options.id });
  }

  async connect(_signal: AbortSignal, _saved: SavedPosition | null): Promise<void> {
    await this.#files.open();
    this.#connected = true;
  }

  async read(signal: AbortSignal): Promise<Delivery | Idle> {
    if (!this.#connected) {
      throw new AmisyncError('INVALID_STATE', `source ${this.id} read before connect`);
    }
    for (let polls = 0; polls < 2 && !signal.aborted; polls++) {
      if (this.#queue.length === 0) {
        const waiting = await this.#poll();
        if (this.#queue.length === 0) return this.#idle(waiting);
      }
      while (this.#queue.length > 0 && !signal.aborted) {
        const entry = this.#queue.shift() as DropEntry;
        const hashed = await this.#hash(entry);
        if (hashed !== null) return this.#delivery(hashed);
      }
    }
    return idle(this.#options.pollIntervalMs, 'caught-up');
  }

  async close(): Promise<void> {
    this.#connected = false;
    this.#queue = [];
    this.#inFlight.clear();
    await this.#files.close();
  }

  /**
   * Nothing to take now. In stable mode, files seen but not yet confirmed will be complete at a
   * later poll, so even a run that stops when caught up waits for them.
   */
  #idle(waiting: number): Idle {
    const confirming = waiting > 0 && this.#options.rules.completion === 'stable';
    return idle(this.#options.pollIntervalMs, confirming ? 'throttled' : 'caught-up');
  }

  /** Lists the inbox and queues the complete files; returns how many are not complete yet. */
  async #poll(): Promise<number> {
    let listing: DropEntry[];
    try {
      listing = await this.#files.list();
    } catch (error) {
      throw transportError(this.#files.where, '', 'list the folder', error);
    }
    const plan = planPoll(listing, this.#options.rules, this.#observed, {
      nowMs: this.#context.clock.monotonicMs(),
      stableMs: this.#options.pollIntervalMs,
    });
    this.#observed = plan.observed;
    this.#queue = plan.ready
      .filter((entry) => !this.#inFlight.has(entry.name) && this.#formatOf(entry.name) !== null)
      .slice(0, this.#options.filesPerPollMax);
    return plan.waiting;
  }

  #formatOf(name: string): InputFormat | null {
    const format = this.#options.format ?? formatOfName(name);
    if (format === null && !this.#unknownFormat.has(name)) {
      this.#unknownFormat.add(name);
      this.#log.warn(
        { file: name, error: 'FORMAT_UNKNOWN' },
        'file left in place: its extension names no format; set the source format or its pattern',
      );
    }
    return format;
  }

  /** Reads the file once for its sha256; null (and a warning) when it changed or vanished. */
  async #hash(entry: DropEntry): Promise<HashedFile | null> {
    const format = this.#formatOf(entry.name) as InputFormat;
    try {
      const digest = createHash('sha256');
      let sizeBytes = 0;
      for await (const chunk of this.#files.read(entry.name)) {
        digest.update(chunk);
        sizeBytes += chunk.byteLength;
      }
      const after = await this.#files.stat(entry.name);
      if (after === null) return null;
      const problem = changeOf(entry, sizeBytes, after);
      if (problem !== null) throw changedError(this.#files.where, entry.name, problem);
      return { entry, sha256: digest.digest('hex'), format };
    } catch (error) {
      return this.#skip(entry, error);
    }
  }

  #skip(entry: DropEntry, error: unknown): null {
    if (error instanceof AmisyncError && error.code === 'DROP_FILE_CHANGED') {
      this.#forget(entry.name);
      this.#log.warn({ file: entry.name, error: error.code }, error.message);
      return null;
    }
    if (isNotFound(error)) return null;
    throw transportError(this.#files.where, entry.name, 'read', error);
  }

  /** Stable mode must see a changed file unchanged again before taking it. */
  #forget(name: string): void {
    const observed = new Map(this.#observed);
    observed.delete(name);
    this.#observed = observed;
  }

  #delivery(file: HashedFile): Delivery {
    const { entry, sha256 } = file;
    const sourceDeliveryId = dropDeliveryId(entry.name, sha256);
    const attempt = (this.#attempts.get(sourceDeliveryId) ?? 0) + 1;
    const once = new AckOnce(`${this.id}/${entry.name}`);
    this.#inFlight.add(entry.name);
    return {
      sourceDeliveryId,
      name: entry.name,
      format: file.format,
      formatContext: null,
      attempt,
      metadata: {
        fileName: entry.name,
        sizeBytes: String(entry.sizeBytes),
        mtime: new Date(entry.mtimeMs).toISOString(),
        sha256,
      },
      partitionKey: null,
      position: { file: entry.name, sha256 },
      bytes: () => this.#verifiedBytes(file),
      ack: async () => {
        once.take();
        this.#attempts.delete(sourceDeliveryId);
        try {
          await this.#afterCommit(file);
        } finally {
          this.#inFlight.delete(entry.name);
        }
      },
      nack: async (error) => {
        once.take();
        this.#attempts.set(sourceDeliveryId, attempt);
        this.#inFlight.delete(entry.name);
        this.#log.warn(
          { file: entry.name, attempt, error: (error as { code?: string }).code ?? error.name },
          `file left in place, to be read again at the next poll: ${error.message}`,
        );
      },
    };
  }

  /** The file's bytes again, failing with DROP_FILE_CHANGED if they are not the hashed ones. */
  async *#verifiedBytes(file: HashedFile): AsyncGenerator<Uint8Array> {
    const { entry } = file;
    const digest = createHash('sha256');
    let sizeBytes = 0;
    for await (const chunk of this.#files.read(entry.name)) {
      sizeBytes += chunk.byteLength;
      if (sizeBytes > entry.sizeBytes) {
        throw changedError(this.#files.where, entry.name, `it grew past ${entry.sizeBytes} bytes`);
      }
      digest.update(chunk);
      yield chunk;
    }
    if (sizeBytes < entry.sizeBytes) {
      const problem = `it shrank from ${entry.sizeBytes} to ${sizeBytes} bytes`;
      throw changedError(this.#files.where, entry.name, problem);
    }
    if (digest.digest('hex') !== file.sha256) {
      throw changedError(this.#files.where, entry.name, 'its bytes changed, at the same size');
    }
  }

  /** Archives or deletes a committed file, unless it was replaced since it was read. */
  async #afterCommit(file: HashedFile): Promise<void> {
    const { entry, sha256 } = file;
    try {
      const now = await this.#files.stat(entry.name);
      if (now === null) return;
      if (changeOf(entry, entry.sizeBytes, now) !== null) {
        this.#log.warn(
          { file: entry.name },
          'committed file left in place: it was replaced since it was read, and is read again',
        );
        return;
      }
      if (this.#options.afterCommit === 'delete') await this.#files.remove(entry.name);
      else await this.#archive(entry.name, sha256);
      await this.#removeMarker(entry.name);
    } catch (error) {
      throw transportError(this.#files.where, entry.name, this.#options.afterCommit, error);
    }
  }

  async #archive(name: string, sha256: string): Promise<void> {
    const plain = archiveNameOf(name, sha256, false);
    const prefixed = archiveNameOf(name, sha256, true);
    if (!(await this.#files.archived(plain))) return this.#files.archive(name, plain);
    // The prefixed name holds exactly these bytes when taken: the archive keeps them already.
    if (!(await this.#files.archived(prefixed))) return this.#files.archive(name, prefixed);
    await this.#files.remove(name);
  }

  async #removeMarker(name: string): Promise<void> {
    if (this.#options.rules.completion !== 'marker') return;
    const marker = name + this.#options.rules.markerSuffix;
    if ((await this.#files.stat(marker)) !== null) await this.#files.remove(marker);
  }
}

/** How the file differs from its listing after it was read, or null when it does not. */
function changeOf(listed: DropEntry, sizeBytesRead: number, after: DropEntry): string | null {
  if (sizeBytesRead !== listed.sizeBytes) {
    return `${sizeBytesRead} bytes were read where the listing showed ${listed.sizeBytes}`;
  }
  if (after.sizeBytes !== listed.sizeBytes) {
    return `its size went from ${listed.sizeBytes} to ${after.sizeBytes} bytes`;
  }
  if (after.mtimeMs !== listed.mtimeMs) return 'it was modified';
  return null;
}

function changedError(where: string, name: string, problem: string): AmisyncError {
  return new AmisyncError(
    'DROP_FILE_CHANGED',
    `${where}/${name} changed while it was read (${problem}); not archived, read again at the next poll`,
    { file: name },
  );
}

function isNotFound(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ENOENT' || code === 2;
}

/** An error of the file system as a transport error; AmisyncErrors pass through. */
export function transportError(
  where: string,
  name: string,
  action: string,
  error: unknown,
): AmisyncError {
  if (error instanceof AmisyncError) return error;
  const message = (error as Error).message;
  return new AmisyncError(
    'TRANSPORT_UNAVAILABLE',
    `${where}: cannot ${action} ${name}: ${message}`,
    { file: name, cause: message },
  );
}
