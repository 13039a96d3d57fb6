/**
 * What every command needs: the store, the dictionary, the signing key, the clock. Paths come from
 * flags, then environment variables, then defaults next to the database.
 */
import { existsSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import { loadOrCreateSigningKey, loadPublicKey, type SigningKey } from '../audit/checkpoint.js';
import { systemClock, systemRandom, type Clock, type Random } from '../core/clock.js';
import { AmisyncError } from '../core/errors.js';
import type { Store } from '../core/store.js';
import {
  DEFAULT_DICTIONARY,
  loadDictionary,
  type DataDictionary,
} from '../dictionary/dictionary.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import type { KeyObject } from 'node:crypto';

export interface GlobalOptions {
  db?: string;
  dictionary?: string;
  signingKey?: string;
  actor?: string;
}

/** `postgres://...`, `file://...`: any `scheme://` names a database server or a URL, not a file. */
const URL_SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//;

/**
 * The SQLite file the command uses. A URL is refused rather than taken as a relative path (which
 * would create a file under a folder named after the scheme): no engine but SQLite exists yet.
 */
export function databasePath(options: GlobalOptions): string {
  const given = options.db ?? process.env.AMISYNC_DB ?? './amisync.db';
  const scheme = URL_SCHEME.exec(given)?.[1];
  if (scheme !== undefined) {
    const origin = options.db === undefined ? '$AMISYNC_DB' : '--db';
    throw new AmisyncError(
      'USAGE',
      `${origin} names a ${scheme}:// URL, but amisync has no store engine for ${scheme} yet; ` +
        'give the path of a SQLite database file',
      { scheme },
    );
  }
  return resolve(given);
}

/** The private key lives beside the database by default, never inside it. */
export function signingKeyPath(options: GlobalOptions): string {
  return resolve(
    options.signingKey ??
      process.env.AMISYNC_SIGNING_KEY ??
      `${databasePath(options)}.signing-key.pem`,
  );
}

export function openStore(options: GlobalOptions, clock: Clock = systemClock): Store {
  return openSqliteStore(databasePath(options), { nowMs: () => clock.nowMs() });
}

export function openExistingStore(options: GlobalOptions, clock: Clock = systemClock): Store {
  const path = databasePath(options);
  if (!existsSync(path)) {
    throw new AmisyncError('NOT_FOUND', `no database at ${path} (pass --db or set AMISYNC_DB)`);
  }
  return openStore(options, clock);
}

/**
 * A read-only connection of its own, for commands that only report (status, ledger export): it
 * sees committed transactions only, never one a running service has not committed yet, and can
 * never write.
 */
export function openReadView(options: GlobalOptions, clock: Clock = systemClock): Store {
  const path = databasePath(options);
  if (!existsSync(path)) {
    throw new AmisyncError('NOT_FOUND', `no database at ${path} (pass --db or set AMISYNC_DB)`);
  }
  return openSqliteStore(path, { nowMs: () => clock.nowMs(), readonly: true });
}

export function dictionaryFor(options: GlobalOptions): DataDictionary {
  const path = options.dictionary ?? process.env.AMISYNC_DICTIONARY;
  if (path === undefined) return DEFAULT_DICTIONARY;
  if (!existsSync(path))
    throw new AmisyncError('CONFIG_INVALID', `data dictionary ${path} does not exist`);
  try {
    return loadDictionary(path);
  } catch (error) {
    throw new AmisyncError('CONFIG_INVALID', (error as Error).message);
  }
}

export function signingKeyFor(options: GlobalOptions): SigningKey {
  const path = signingKeyPath(options);
  try {
    return loadOrCreateSigningKey(path).key;
  } catch (error) {
    throw new AmisyncError('SIGNING_KEY_INVALID', (error as Error).message);
  }
}

/**
 * The public key to verify with: an explicit PEM file, else the one derived from the signing key.
 */
export function publicKeyFor(options: GlobalOptions & { publicKey?: string }): KeyObject | null {
  try {
    if (options.publicKey !== undefined) {
      return loadPublicKey(readFileSync(options.publicKey, 'utf8')).publicKey;
    }
    const keyPath = signingKeyPath(options);
    if (!existsSync(keyPath)) return null;
    return loadOrCreateSigningKey(keyPath).key.publicKey;
  } catch (error) {
    throw new AmisyncError('SIGNING_KEY_INVALID', (error as Error).message);
  }
}

export function actorFor(options: GlobalOptions): string {
  if (options.actor !== undefined && options.actor.trim() !== '') return options.actor.trim();
  if (process.env.AMISYNC_ACTOR !== undefined) return process.env.AMISYNC_ACTOR;
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

export const runtime: { clock: Clock; random: Random } = {
  clock: systemClock,
  random: systemRandom,
};
