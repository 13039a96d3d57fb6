/**
 * What every source's configuration shares, and the shape each source kind exports so that the
 * service can validate and build it: `{ kind, schema, create }`. Building a source never connects:
 * it checks and reads its secrets only, so `config check` can build every source and report every
 * mistake before anything connects.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { AmisyncError } from '../../core/errors.js';
import type { SecretRef, Source, SourceContext } from '../../core/source.js';

/** A source id: short, stable, safe in a file name, a metric label and a log line. */
export const sourceIdSchema = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9_-]{0,62}$/,
    'lowercase letters, digits, - and _, at most 63, e.g. vendor-a',
  );

/** Fields every source has. `pollIntervalMs`: how long the runner waits after a source is idle. */
export const baseSourceFields = {
  id: sourceIdSchema,
  pollIntervalMs: z.number().int().min(10).max(86_400_000).default(60_000),
};

export interface SourceKind<C extends { kind: string; id: string }> {
  readonly kind: C['kind'];
  readonly schema: z.ZodType<C>;
  create(config: C, context: SourceContext): Source;
}

/** Reads a secret from an environment variable or a file; see SourceContext.secret. */
export function readSecret(
  ref: SecretRef,
  keyPath: string,
  env: Readonly<Record<string, string | undefined>>,
): string {
  if (ref.env !== undefined) {
    const value = env[ref.env];
    if (value === undefined || value === '') {
      throw new AmisyncError(
        'CONFIG_INVALID',
        `${keyPath}Env: the environment variable ${ref.env} is not set`,
        { key: `${keyPath}Env` },
      );
    }
    return value;
  }
  if (ref.file !== undefined) {
    try {
      const value = readFileSync(ref.file, 'utf8').replace(/\r?\n$/, '');
      if (value === '') throw new Error('the file is empty');
      return value;
    } catch (error) {
      throw new AmisyncError(
        'CONFIG_INVALID',
        `${keyPath}File: cannot read the secret file ${ref.file}: ${(error as Error).message}`,
        { key: `${keyPath}File` },
      );
    }
  }
  throw new AmisyncError('CONFIG_INVALID', `${keyPath}: give ${keyPath}Env or ${keyPath}File`, {
    key: keyPath,
  });
}
