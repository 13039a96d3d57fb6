// Goal: the store location a command gets from --db or $AMISYNC_DB picks the right engine, asks
// for a signing key where there is no file, and never shows a password. Method: call the leaves.
import { afterEach, describe, expect, it } from 'vitest';
import { AmisyncError } from '../core/errors.js';
import { databaseLabel, maskUrl, signingKeyPath, storeLocation } from './context.js';

const saved = { db: process.env.AMISYNC_DB, key: process.env.AMISYNC_SIGNING_KEY };

afterEach(() => {
  for (const [name, value] of [
    ['AMISYNC_DB', saved.db],
    ['AMISYNC_SIGNING_KEY', saved.key],
  ] as const) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return error instanceof AmisyncError ? error.code : `not an AmisyncError: ${String(error)}`;
  }
  return 'no error';
}

describe('store location', () => {
  it('selects PostgreSQL for postgres:// and postgresql://, SQLite for a path', () => {
    delete process.env.AMISYNC_DB;
    expect(storeLocation({ db: 'postgres://u@h/d' }).engine).toBe('postgres');
    expect(storeLocation({ db: 'postgresql://u@h/d?schema=s' }).engine).toBe('postgres');
    expect(storeLocation({ db: './x.db' })).toMatchObject({ engine: 'sqlite' });
    process.env.AMISYNC_DB = 'postgres://u:pw@h/d';
    expect(storeLocation({})).toMatchObject({ engine: 'postgres', shown: 'postgres://u:***@h/d' });
  });

  it('refuses other schemes and a postgres URL that does not parse, as usage errors', () => {
    expect(codeOf(() => storeLocation({ db: 'mysql://u:pw@h/d' }))).toBe('USAGE');
    expect(codeOf(() => storeLocation({ db: 'sqlite://x.db' }))).toBe('USAGE');
    expect(codeOf(() => storeLocation({ db: 'postgres://u:pw@[nope/d' }))).toBe('USAGE');
  });

  it('masks the password, percent-encoded or not, and keeps everything else', () => {
    expect(maskUrl('postgres://amisync:s3cr%40t@db.example:5433/m?schema=u')).toBe(
      'postgres://amisync:***@db.example:5433/m?schema=u',
    );
    expect(maskUrl('postgres://amisync@db/m')).toBe('postgres://amisync@db/m');
    expect(maskUrl('postgres://u:pw@[nope/d')).not.toContain('pw');
    expect(databaseLabel({ db: 'postgres://u:topsecret@h/d' })).not.toContain('topsecret');
  });

  it('requires a signing key path with PostgreSQL, and keeps the default beside a file', () => {
    delete process.env.AMISYNC_SIGNING_KEY;
    const error = (() => {
      try {
        signingKeyPath({ db: 'postgres://u:topsecret@h/d' });
      } catch (caught) {
        return caught as AmisyncError;
      }
      return null;
    })();
    expect(error?.code).toBe('USAGE');
    expect(error?.exitCode).toBe(64);
    expect(error?.message).toContain('pass --signing-key PATH or set AMISYNC_SIGNING_KEY');
    expect(error?.message).not.toContain('topsecret');
    expect(signingKeyPath({ db: 'postgres://u@h/d', signingKey: '/k/key.pem' })).toBe('/k/key.pem');
    process.env.AMISYNC_SIGNING_KEY = '/k/env.pem';
    expect(signingKeyPath({ db: 'postgres://u@h/d' })).toBe('/k/env.pem');
    delete process.env.AMISYNC_SIGNING_KEY;
    expect(signingKeyPath({ db: '/data/a.db' })).toBe('/data/a.db.signing-key.pem');
  });
});
