/**
 * What a drop folder source decides about the files it sees, shared by the local directory and
 * SFTP: the small file-system interface both implement, which names a pattern takes, when a file
 * is complete (stable, marker or rename), the order files are taken in, a file's format from its
 * extension, and where an acknowledged file goes in the archive. Pure leaves, except the interface.
 */
import { DROP_LISTING_ENTRIES_MAX } from '../../core/limits.js';
import type { InputFormat } from '../../core/parser.js';

/** One file in a drop folder, as a listing or a stat shows it. */
export interface DropEntry {
  readonly name: string;
  readonly sizeBytes: number;
  /** Modification time in ms since the epoch (SFTP gives whole seconds). */
  readonly mtimeMs: number;
}

/**
 * The file operations a drop source needs; the local folder and SFTP implement them. Every name is
 * a bare file name inside the inbox (never a path). Errors are thrown as they come; the source
 * turns them into transport errors.
 */
export interface DropFileSystem {
  /** Says where the inbox is, for log lines and messages. */
  readonly where: string;
  /** Opens the connection (SFTP) and makes the archive folder when it is missing. */
  open(): Promise<void>;
  /** Regular files directly in the inbox (no folders, no links to folders). */
  list(): Promise<DropEntry[]>;
  /** The file now, or null when it is gone. */
  stat(name: string): Promise<DropEntry | null>;
  /** The file's bytes from the start, in order. */
  read(name: string): AsyncIterable<Uint8Array>;
  /** Whether a file of this name is in the archive. */
  archived(archivedName: string): Promise<boolean>;
  /** Moves the inbox file into the archive under `archivedName`. */
  archive(name: string, archivedName: string): Promise<void>;
  /** Removes the inbox file. */
  remove(name: string): Promise<void>;
  close(): Promise<void>;
}

/** How a source tells a complete file from one still being written. */
export type Completion = 'stable' | 'marker' | 'rename';

export interface DropRules {
  /** A glob over the file name: `*` any run of characters, `?` one, `{a,b}` either. */
  readonly pattern: string;
  readonly completion: Completion;
  /** Marker mode: `data.csv` is complete once `data.csv` + this suffix exists. */
  readonly markerSuffix: string;
  /** Rename mode: files ending in this are still being written. */
  readonly temporarySuffix: string;
}

/** A file as a poll saw it, and since when (monotonic ms) it has looked like that. */
export interface Observation {
  readonly entry: DropEntry;
  readonly sinceMs: number;
}

/** What one listing says, for one poll. */
export interface PollPlan {
  /** Complete files to take, oldest first. */
  readonly ready: DropEntry[];
  /** Files that match but are not complete yet (stable mode: seen once, or changed since). */
  readonly waiting: number;
  /** What stable mode compares the next listing with. */
  readonly observed: ReadonlyMap<string, Observation>;
}

/** When a poll happens, and how long stable mode wants a file unchanged (the poll interval). */
export interface PollTime {
  readonly nowMs: number;
  readonly stableMs: number;
}

/** A glob as an anchored regular expression. Only `*`, `?` and `{a,b}` are special. */
export function globToRegExp(glob: string): RegExp {
  let source = '';
  let inBraces = false;
  for (const char of glob) {
    if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else if (char === '{' && !inBraces) {
      source += '(?:';
      inBraces = true;
    } else if (char === '}' && inBraces) {
      source += ')';
      inBraces = false;
    } else if (char === ',' && inBraces) source += '|';
    else source += char.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}${inBraces ? ')' : ''}$`, 's');
}

/** Oldest first, by modification time, then by name so that equal times keep one order. */
export function oldestFirst(a: DropEntry, b: DropEntry): number {
  if (a.mtimeMs !== b.mtimeMs) return a.mtimeMs - b.mtimeMs;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function sameEntry(a: DropEntry | undefined, b: DropEntry): boolean {
  return a !== undefined && a.sizeBytes === b.sizeBytes && a.mtimeMs === b.mtimeMs;
}

/**
 * Decides which listed files are complete. `previous` is what the last poll observed: in stable
 * mode a file is complete once two polls at least `stableMs` apart saw the same size and mtime.
 * Marker and temporary files themselves are never data files, whatever the pattern says.
 */
export function planPoll(
  listing: readonly DropEntry[],
  rules: DropRules,
  previous: ReadonlyMap<string, Observation>,
  time: PollTime,
): PollPlan {
  const matcher = globToRegExp(rules.pattern);
  const names = new Set(listing.map((entry) => entry.name));
  const candidates = listing
    .filter(
      (entry) =>
        matcher.test(entry.name) &&
        !entry.name.endsWith(rules.markerSuffix) &&
        !entry.name.endsWith(rules.temporarySuffix),
    )
    .sort(oldestFirst)
    .slice(0, DROP_LISTING_ENTRIES_MAX);
  const observed = new Map<string, Observation>();
  const ready: DropEntry[] = [];
  let waiting = 0;
  for (const entry of candidates) {
    const before = previous.get(entry.name);
    const sinceMs = sameEntry(before?.entry, entry) ? (before?.sinceMs ?? time.nowMs) : time.nowMs;
    observed.set(entry.name, { entry, sinceMs });
    if (isComplete(entry, rules, names, time.nowMs - sinceMs >= time.stableMs)) ready.push(entry);
    else waiting += 1;
  }
  return { ready, waiting, observed };
}

function isComplete(
  entry: DropEntry,
  rules: DropRules,
  names: ReadonlySet<string>,
  unchangedLongEnough: boolean,
): boolean {
  switch (rules.completion) {
    case 'stable':
      return unchangedLongEnough;
    case 'marker':
      return names.has(entry.name + rules.markerSuffix);
    case 'rename':
      return true;
    default:
      throw new Error(`unknown completion ${String(rules.completion satisfies never)}`);
  }
}

const FORMAT_BY_EXTENSION: Readonly<Record<string, InputFormat>> = {
  '.json': 'json',
  '.ndjson': 'ndjson',
  '.jsonl': 'ndjson',
  '.csv': 'csv',
  '.nem12': 'nem12',
  '.nem13': 'nem12',
  '.cmep': 'cmep',
  '.xml': 'green-button',
};

/** The format a file name's extension names, or null when it names none. */
export function formatOfName(name: string): InputFormat | null {
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return null;
  return FORMAT_BY_EXTENSION[name.slice(dot).toLowerCase()] ?? null;
}

/**
 * The transport id of a file: its name and its content's sha256. The same bytes under another
 * name are linked to their first delivery by the store (same sha256); the same name with other
 * bytes is a new delivery.
 */
export function dropDeliveryId(name: string, sha256: string): string {
  return `${name}#sha256:${sha256}`;
}

/**
 * The name an acknowledged file takes in the archive: its own, or, when the archive already holds
 * that name (an earlier file of the same name with other bytes), prefixed with its sha256.
 */
export function archiveNameOf(name: string, sha256: string, nameTaken: boolean): string {
  return nameTaken ? `${sha256.slice(0, 16)}-${name}` : name;
}
