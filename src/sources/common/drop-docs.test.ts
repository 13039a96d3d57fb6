// Goal: docs/config-drop.md documents every key of both drop kinds, and its examples are valid.
// Method: read the document, look for each schema key in its tables, and validate every YAML
// example's sources with the kind's own schema.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { directorySourceKind, directorySourceSchema } from '../directory/directory-source.js';
import { sftpSourceKind, sftpSourceSchema } from '../sftp/sftp-source.js';

const doc = readFileSync(new URL('../../../docs/config-drop.md', import.meta.url), 'utf8');

function examples(): Record<string, unknown>[] {
  const blocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] as string);
  return blocks.flatMap(
    (block) => (parse(block) as { sources: Record<string, unknown>[] }).sources,
  );
}

describe('docs/config-drop.md', () => {
  it.each([
    { kind: 'directory', keys: Object.keys(directorySourceSchema.shape) },
    { kind: 'sftp', keys: Object.keys(sftpSourceSchema.shape) },
  ])('documents every $kind key', ({ keys }) => {
    expect(keys.length).toBeGreaterThan(10);
    // A key is documented in the first cell of a table row.
    for (const key of keys) expect(doc, key).toMatch(new RegExp(`^\\| [^|\\n]*\`${key}\``, 'm'));
  });

  it('holds one complete, valid example per kind', () => {
    const sources = examples();
    expect(sources.map((source) => source['kind'])).toEqual(['directory', 'sftp']);
    const [directory, sftp] = sources;
    expect(directorySourceKind.schema.safeParse(directory).success).toBe(true);
    expect(sftpSourceKind.schema.safeParse(sftp).success).toBe(true);
    // Complete: every key is set, except the secrets a key file makes unneeded.
    const unset = Object.keys(sftpSourceSchema.shape).filter((key) => !(key in (sftp ?? {})));
    expect(unset.sort()).toEqual(['passphraseFile', 'passwordEnv', 'passwordFile']);
  });
});
