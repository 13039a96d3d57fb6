// Goal: a configuration file is checked whole before anything connects: every mistake is reported
// at once with its key path and line, relative paths are taken from the file's folder, and no
// secret value ever appears in what is reported.
// Method: write YAML and JSON files into temp folders and load them with a small test kind that
// reads a secret, as the real kinds do, on a real SQLite store.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AmisyncError } from '../../core/errors.js';
import { CONFIG_FILE_BYTES_MAX } from '../../core/limits.js';
import { baseSourceFields, type SourceKind } from '../../sources/common/config.js';
import { FileSource } from '../../sources/file/file-source.js';
import { openSqliteStore, type SqliteStore } from '../../store/sqlite/sqlite-store.js';
import { testSourceContext } from '../../test-support/source-context.js';
import { removeTempDirs, tempDir } from '../../test-support/temp.js';
import { keyPath, loadServiceConfig, parseKeyPath, type ConfigProblem } from './service-config.js';

afterAll(removeTempDirs);

const SECRET = 'sk-live-7f3a9c1e-DO-NOT-PRINT';

const filesSchema = z
  .object({
    kind: z.literal('files'),
    ...baseSourceFields,
    paths: z.array(z.string().min(1)).min(1),
    tokenEnv: z.string().optional(),
    tokenFile: z.string().optional(),
  })
  .strict();

/** A kind shaped like the real ones: a strict schema, and a secret read when it is built. */
const FILES_KIND: SourceKind<z.infer<typeof filesSchema>> = {
  kind: 'files',
  schema: filesSchema,
  create(config, context) {
    context.secret({ env: config.tokenEnv, file: config.tokenFile }, 'token');
    return new FileSource(
      config.id,
      config.paths.map((path) => ({ path, format: 'ndjson' as const })),
    );
  },
};
const KINDS = [FILES_KIND] as unknown as SourceKind<{ kind: string; id: string }>[];

const stores: SqliteStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
});

function context(env: Record<string, string> = { VENDOR_TOKEN: SECRET }) {
  const store = openSqliteStore(join(tempDir(), 'store.db'), { nowMs: () => Date.now() });
  stores.push(store);
  return testSourceContext(store, { env });
}

function writeConfig(text: string, name = 'amisync.yaml'): string {
  const path = join(tempDir('amisync-config-'), name);
  writeFileSync(path, text);
  return path;
}

function problemsOf(path: string, env?: Record<string, string>): ConfigProblem[] {
  try {
    loadServiceConfig(path, KINDS, context(env));
  } catch (error) {
    expect(error).toBeInstanceOf(AmisyncError);
    const failure = error as AmisyncError;
    expect(failure.code).toBe('CONFIG_INVALID');
    expect(failure.message).not.toContain(SECRET);
    expect(JSON.stringify(failure.toJSON())).not.toContain(SECRET);
    return failure.details.problems as ConfigProblem[];
  }
  throw new Error('the configuration was accepted');
}

describe('loadServiceConfig', () => {
  it('builds every source and resolves relative paths from the file folder', () => {
    const path = writeConfig(
      [
        'database: ./data/amisync.db',
        'dictionary: dictionary.json',
        'log: { level: debug, file: logs/amisync.log }',
        'sources:',
        '  - kind: files',
        '    id: vendor-a',
        '    paths: [/tmp/a.ndjson]',
        '    tokenEnv: VENDOR_TOKEN',
      ].join('\n'),
    );
    const folder = path.slice(0, path.lastIndexOf('/'));
    const loaded = loadServiceConfig(path, KINDS, context());
    expect(loaded.settings.database).toBe(join(folder, 'data', 'amisync.db'));
    expect(loaded.settings.dictionary).toBe(join(folder, 'dictionary.json'));
    expect(loaded.settings.log).toEqual({ level: 'debug', file: join(folder, 'logs/amisync.log') });
    expect(loaded.settings.shutdownGraceMs).toBe(30_000);
    expect(loaded.sources.map((s) => [s.kind, s.id, s.source.id])).toEqual([
      ['files', 'vendor-a', 'vendor-a'],
    ]);
    expect(loaded.sources[0]!.config).toMatchObject({ pollIntervalMs: 60_000 });
  });

  it('reads JSON, and a secret file relative to the configuration', () => {
    const folder = tempDir('amisync-config-');
    writeFileSync(join(folder, 'token.secret'), `${SECRET}\n`);
    const path = join(folder, 'amisync.json');
    writeFileSync(
      path,
      JSON.stringify({
        sources: [{ kind: 'files', id: 'vendor-b', paths: ['/tmp/b'], tokenFile: 'token.secret' }],
      }),
    );
    expect(loadServiceConfig(path, KINDS, context({})).sources).toHaveLength(1);
  });

  it('reports every mistake at once, each with its key path and line', () => {
    const path = writeConfig(
      [
        'databse: ./amisync.db', // line 1: a typo
        'log:',
        '  level: loud', // line 3
        'sources:',
        '  - kind: ftp', // line 5: unknown kind
        '    id: vendor-a',
        '  - kind: files', // line 7: no id
        '    paths: [/tmp/a]',
        '    tokenEnv: VENDOR_TOKEN',
        '  - kind: files', // line 10: an unknown key
        '    id: vendor-c',
        '    paths: [/tmp/c]',
        '    tokenEnv: VENDOR_TOKEN',
        '    pollInterval: 5',
        '  - kind: files', // line 15
        '    id: vendor-d',
        '    paths: [/tmp/d]',
        '    tokenEnv: VENDOR_TOKEN',
        '  - kind: files', // line 19: the same id again
        '    id: vendor-d',
        '    paths: [/tmp/d2]',
        '    tokenEnv: VENDOR_TOKEN',
        '  - kind: files', // line 23: its secret's variable is not set
        '    id: vendor-e',
        '    paths: [/tmp/e]',
        '    tokenEnv: VENDOR_E_TOKEN',
        '  - kind: files', // line 27: no secret named at all
        '    id: vendor-f',
        '    paths: []',
      ].join('\n'),
    );
    const problems = problemsOf(path);
    const where = problems.map((p) => [p.path, p.line]);
    expect(where).toEqual([
      ['(top level)', 1],
      ['log.level', 3],
      ['sources[0].kind', 5],
      ['sources[1].id', 7],
      ['sources[2]', 10],
      ['sources[4].id', 20],
      ['sources[5].tokenEnv', 26],
      ['sources[6].paths', 29],
    ]);
  });

  it('says what was expected', () => {
    const path = writeConfig(
      ['log: { level: loud }', 'sources:', '  - kind: ftp', '    id: a'].join('\n'),
    );
    const messages = problemsOf(path).map((p) => `${p.path}: ${p.message}`);
    expect(messages[0]).toMatch(/^log\.level: .*"debug".*"info".*"warn".*"error"/);
    expect(messages[1]).toBe('sources[0].kind: unknown source kind "ftp": expected one of files');
  });

  it('reports a missing secret variable by its key path, never a value', () => {
    const path = writeConfig(
      [
        'sources:',
        '  - kind: files',
        '    id: a',
        '    paths: [/x]',
        '    tokenEnv: UNSET_VAR',
      ].join('\n'),
    );
    expect(problemsOf(path, {})).toEqual([
      {
        path: 'sources[0].tokenEnv',
        line: 5,
        message: 'the environment variable UNSET_VAR is not set',
      },
    ]);
  });

  it('refuses YAML syntax errors, duplicate keys, an oversized file and a missing file', () => {
    expect(problemsOf(writeConfig('sources: [\n  - kind: files'))[0]).toMatchObject({
      path: '(syntax)',
    });
    expect(
      problemsOf(writeConfig('database: a.db\ndatabase: b.db\nsources: []'))[0]?.message,
    ).toMatch(/unique/i);
    const big = writeConfig(`# ${'x'.repeat(CONFIG_FILE_BYTES_MAX)}\n`);
    expect(() => loadServiceConfig(big, KINDS, context())).toThrow(/bytes; at most/);
    expect(() => loadServiceConfig('/nonexistent/amisync.yaml', KINDS, context())).toThrow(
      /cannot read the configuration .*ENOENT/,
    );
  });

  it('writes and reads key paths', () => {
    expect(keyPath(['sources', 1, 'auth', 'clientSecretEnv'])).toBe(
      'sources[1].auth.clientSecretEnv',
    );
    expect(parseKeyPath('sources[1].auth.clientSecretEnv')).toEqual([
      'sources',
      1,
      'auth',
      'clientSecretEnv',
    ]);
    expect(keyPath([])).toBe('(top level)');
  });
});
