/**
 * What every command needs: the store, the dictionary, the signing key, the clock. Paths come from
 * flags, then environment variables, then defaults next to the database. Opening a store is
 * asynchronous because PostgreSQL's is: connecting, then bringing the schema forward.
 */
import { existsSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import { loadOrCreateSigningKey, loadPublicKey, type SigningKey } from '../audit/checkpoint.js';
import type { InvoiceRows } from '../audit/verify-invoices.js';
import { systemClock, systemRandom, type Clock, type Random } from '../core/clock.js';
import { AmisyncError } from '../core/errors.js';
import type { Store } from '../core/store.js';
import {
  DEFAULT_DICTIONARY,
  loadDictionary,
  type DataDictionary,
} from '../dictionary/dictionary.js';
import type { BillingStore } from '../core/billing-store.js';
import { PostgresBillingStore } from '../store/postgres/postgres-billing.js';
import {
  isPostgresUrl,
  openPostgresStore,
  PostgresStore,
} from '../store/postgres/postgres-store.js';
import { SqliteBillingStore } from '../store/sqlite/sqlite-billing.js';
import { openSqliteStore, SqliteStore } from '../store/sqlite/sqlite-store.js';
import type { KeyObject } from 'node:crypto';

export interface GlobalOptions {
  db?: string;
  dictionary?: string;
  signingKey?: string;
  actor?: string;
}

/** `postgres://...`, `file://...`: any `scheme://` names a database server or a URL, not a file. */
const URL_SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//;

/** Where the command's store lives: a SQLite file, or a PostgreSQL database and schema. */
export type StoreLocation =
  | { readonly engine: 'sqlite'; readonly path: string }
  | { readonly engine: 'postgres'; readonly url: string; readonly shown: string };

/**
 * The store the command uses, from --db, then $AMISYNC_DB, then ./amisync.db. A `postgres://`
 * (or `postgresql://`) URL selects PostgreSQL; any other URL is refused rather than taken as a
 * relative path (which would create a file under a folder named after the scheme).
 */
export function storeLocation(options: GlobalOptions): StoreLocation {
  const given = options.db ?? process.env.AMISYNC_DB ?? './amisync.db';
  if (isPostgresUrl(given)) {
    if (!URL.canParse(given)) {
      throw new AmisyncError(
        'USAGE',
        `${originOf(options)} is not a valid URL (${maskUrl(given)}); ` +
          'write postgres://USER[:PASSWORD]@HOST:PORT/DATABASE?schema=NAME',
      );
    }
    return { engine: 'postgres', url: given, shown: maskUrl(given) };
  }
  const scheme = URL_SCHEME.exec(given)?.[1];
  if (scheme !== undefined) {
    throw new AmisyncError(
      'USAGE',
      `${originOf(options)} names a ${scheme}:// URL, but amisync has no store engine for ` +
        `${scheme}; give a postgres:// URL or the path of a SQLite database file`,
      { scheme },
    );
  }
  return { engine: 'sqlite', path: resolve(given) };
}

function originOf(options: GlobalOptions): string {
  return options.db === undefined ? '$AMISYNC_DB' : '--db';
}

/**
 * The URL with its password replaced by `***`, for messages and logs. A value that does not
 * parse keeps only its scheme, since the password's place in it is unknown.
 */
export function maskUrl(location: string): string {
  try {
    const url = new URL(location);
    if (url.password !== '') url.password = '***';
    return url.toString();
  } catch {
    return `${URL_SCHEME.exec(location)?.[0] ?? ''}(unparsable URL)`;
  }
}

/** The store as messages name it: the file's path, or the URL without its password. */
export function databaseLabel(options: GlobalOptions): string {
  const location = storeLocation(options);
  return location.engine === 'sqlite' ? location.path : location.shown;
}

/**
 * The billing tables (src/core/billing-store.ts) of an open store, on its own engine: the rate
 * engine's writes commit in the store's transactions, with their audit entries in its chain.
 */
export function billingStoreOf(store: Store): BillingStore {
  if (store instanceof SqliteStore) return new SqliteBillingStore(store);
  if (store instanceof PostgresStore) return new PostgresBillingStore(store);
  throw new AmisyncError('INVALID_STATE', `billing has no tables on a ${store.engine} store`);
}

/** The invoices table of a store for `audit verify`; null for a store without billing tables. */
export function invoiceRowsOf(store: Store): InvoiceRows | null {
  return store instanceof SqliteStore || store instanceof PostgresStore
    ? billingStoreOf(store)
    : null;
}

/**
 * The private key lives beside a SQLite database by default, never inside it. A PostgreSQL
 * database has no file to put it beside, so there the key's path must be given.
 */
export function signingKeyPath(options: GlobalOptions): string {
  const given = options.signingKey ?? process.env.AMISYNC_SIGNING_KEY;
  if (given !== undefined) return resolve(given);
  const location = storeLocation(options);
  if (location.engine === 'sqlite') return `${location.path}.signing-key.pem`;
  throw new AmisyncError(
    'USAGE',
    `the database is PostgreSQL (${location.shown}), which has no file to keep the signing ` +
      'key beside: pass --signing-key PATH or set AMISYNC_SIGNING_KEY',
  );
}

type OpenMode = 'create' | 'existing' | 'read-only';

/** Opens the store the options name; the PostgreSQL password never reaches a message. */
async function openAt(options: GlobalOptions, clock: Clock, mode: OpenMode): Promise<Store> {
  const location = storeLocation(options);
  const nowMs = (): number => clock.nowMs();
  if (location.engine === 'sqlite') {
    if (mode !== 'create' && !existsSync(location.path)) {
      throw new AmisyncError(
        'NOT_FOUND',
        `no database at ${location.path} (pass --db or set AMISYNC_DB)`,
      );
    }
    return openSqliteStore(location.path, { nowMs, readonly: mode === 'read-only' });
  }
  try {
    return await openPostgresStore(location.url, {
      nowMs,
      mustExist: mode === 'existing',
      readonly: mode === 'read-only',
    });
  } catch (error) {
    throw postgresOpenError(error, location);
  }
}

/** Names the database (masked) in an opening error, and scrubs the password from any message. */
function postgresOpenError(
  error: unknown,
  location: Extract<StoreLocation, { engine: 'postgres' }>,
): unknown {
  const scrub = (text: string): string => scrubPassword(text, location.url);
  if (!(error instanceof AmisyncError)) {
    return new AmisyncError('STORE_UNAVAILABLE', scrub(`${location.shown}: ${String(error)}`));
  }
  const hint =
    error.code === 'NOT_FOUND'
      ? ' (run `amisync ingest` or `amisync run` on it first, or check ?schema= in the URL)'
      : '';
  return new AmisyncError(
    error.code,
    scrub(`${error.message} (database ${location.shown})${hint}`),
    error.details,
  );
}

/** Removes the URL's password, raw or percent-decoded, from a text. */
function scrubPassword(text: string, location: string): string {
  let password = '';
  try {
    password = new URL(location).password;
  } catch {
    return text;
  }
  if (password === '') return text;
  let decoded = password;
  try {
    decoded = decodeURIComponent(password);
  } catch {
    // A malformed escape is left as it is; the raw form is still removed.
  }
  return text.replaceAll(password, '***').replaceAll(decoded, '***');
}

export function openStore(options: GlobalOptions, clock: Clock = systemClock): Promise<Store> {
  return openAt(options, clock, 'create');
}

/**
 * The store, which must already exist: a missing SQLite file, or a PostgreSQL schema with no
 * amisync tables, is NOT_FOUND rather than created empty.
 */
export function openExistingStore(
  options: GlobalOptions,
  clock: Clock = systemClock,
): Promise<Store> {
  return openAt(options, clock, 'existing');
}

/**
 * A read-only connection of its own, for commands that only report (status, ledger export): it
 * sees committed transactions only, never one a running service has not committed yet, and can
 * never write (on PostgreSQL, a `default_transaction_read_only` session).
 */
export function openReadView(options: GlobalOptions, clock: Clock = systemClock): Promise<Store> {
  return openAt(options, clock, 'read-only');
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
  // Where the key is, as for signingKeyFor: none named for a PostgreSQL store is USAGE (exit 64).
  const keyPath = options.publicKey ?? signingKeyPath(options);
  try {
    if (options.publicKey !== undefined) {
      return loadPublicKey(readFileSync(keyPath, 'utf8')).publicKey;
    }
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
