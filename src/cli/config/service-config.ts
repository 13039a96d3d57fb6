/**
 * The service's configuration file (`amisync run --config F`): YAML or JSON (JSON is YAML), one
 * file for a utility's whole setup. `loadServiceConfig` reports every mistake at once, each with
 * its key path and what was expected, before anything connects; it builds every source (which
 * reads its secrets but never connects), so `config check` finds a missing secret too.
 *
 * Relative paths in the file (database, dictionary, secret files, folders) are relative to the
 * file's own folder, so a setup can be moved as one folder.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { isNode, LineCounter, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { AmisyncError } from '../../core/errors.js';
import {
  CONFIG_FILE_BYTES_MAX,
  CONFIG_SOURCES_MAX,
  SHUTDOWN_GRACE_MS_MAX,
} from '../../core/limits.js';
import type { SecretRef, Source, SourceContext } from '../../core/source.js';
import type { SourceKind } from '../../sources/common/config.js';
import {
  resilienceSchema,
  sourceResilienceSchema,
  type SourceResilienceConfig,
} from '../../resilience/resilience-config.js';
import { slaSchema, type SlaTarget, type SourceSla } from '../../report/sla-config.js';
import { isPostgresUrl } from '../../store/postgres/postgres-store.js';

import { THREADS_MAX } from '../../pipeline/parallel-parse.js';
import {
  partitionedSourceProblems,
  partitionedTopLevelProblems,
  partitionsSchema,
  workersSettingsSchema,
} from './partitioned-source.js';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

const serviceSchema = z
  .object({
    database: z.string().min(1).optional(),
    dictionary: z.string().min(1).optional(),
    log: z
      .object({
        level: z.enum(LOG_LEVELS).default('info'),
        file: z.string().min(1).optional(),
      })
      .strict()
      .default({ level: 'info' }),
    shutdownGraceMs: z.number().int().min(0).max(SHUTDOWN_GRACE_MS_MAX).default(30_000),
    reconnectDelayMs: z.number().int().min(0).max(3_600_000).default(5_000),
    // How often a running service signs the audit chain's head, when it moved (besides its stop).
    checkpointIntervalMs: z.number().int().min(1_000).max(86_400_000).default(3_600_000),
    // Threads per delivery (parse threads plus the committing one); absent: the core count.
    threads: z.number().int().min(1).max(THREADS_MAX).optional(),
    resilience: resilienceSchema.optional(),
    // The HTTP API, /metrics and the dashboard beside the sources (docs/api.md); absent: none.
    api: z
      .object({
        port: z.number().int().min(0).max(65_535).default(8787),
        host: z.string().min(1).default('127.0.0.1'),
      })
      .strict()
      .optional(),
    // Lease timings of the workers of a partitioned source (docs/workers.md); absent: defaults.
    workers: workersSettingsSchema.optional(),
    sources: z
      .array(z.record(z.string(), z.unknown()), 'a list of sources, each a mapping with a kind')
      .min(1, 'at least one source')
      .max(CONFIG_SOURCES_MAX),
  })
  .strict();

export type ServiceSettings = Omit<z.infer<typeof serviceSchema>, 'sources'>;

export interface ConfigProblem {
  /** Where, as a key path: `sources[1].auth.tokenUrl`. */
  readonly path: string;
  readonly message: string;
  /** 1-based line in the file, when the path leads to a node of it. */
  readonly line: number | null;
}

export interface BuiltSource {
  readonly kind: string;
  readonly id: string;
  readonly source: Source;
  /** The source's configuration as validated (defaults filled in). Holds no secret values. */
  readonly config: Readonly<Record<string, unknown>>;
  /** The source's own `resilience:` overrides (absent: the top level's). */
  readonly resilience?: SourceResilienceConfig;
  /** The vendor's contract targets (`sla:`, docs/config.md), shortest window first. */
  readonly sla?: readonly SlaTarget[];
  /** A nats source read by several workers: its partition count (docs/workers.md). */
  readonly partitions?: number;
}

export interface LoadedConfig {
  readonly path: string;
  readonly settings: ServiceSettings;
  readonly sources: readonly BuiltSource[];
}

/** The sources that give `sla:` targets, in the file's order. */
export function configuredSlas(sources: readonly BuiltSource[]): SourceSla[] {
  return sources.flatMap((source) =>
    source.sla === undefined ? [] : [{ sourceId: source.id, targets: source.sla }],
  );
}

export function keyPath(path: readonly PropertyKey[]): string {
  let text = '';
  for (const part of path) {
    if (typeof part === 'number') text += `[${part}]`;
    else text += text === '' ? String(part) : `.${String(part)}`;
  }
  return text === '' ? '(top level)' : text;
}

function nodeLine(
  doc: Document,
  counter: LineCounter,
  path: readonly PropertyKey[],
): number | null {
  // The deepest node of the path that exists: a missing key points at its parent mapping.
  for (let length = path.length; length >= 0; length--) {
    const node: unknown =
      length === 0 ? doc.contents : doc.getIn(path.slice(0, length) as (string | number)[], true);
    if (isNode(node) && node.range != null) return counter.linePos(node.range[0]).line;
  }
  return null;
}

function zodProblems(error: z.ZodError, prefix: readonly PropertyKey[]): ProblemAt[] {
  return error.issues.map((issue) => ({
    path: [...prefix, ...issue.path],
    message: issue.message,
  }));
}

interface ProblemAt {
  path: readonly PropertyKey[];
  message: string;
}

/** Makes a relative path in the file relative to the file's folder. */
export function resolveFrom(base: string, path: string): string {
  return isAbsolute(path) ? path : resolve(base, path);
}

/** A `postgres://` URL is kept as it is; a SQLite file is resolved like any other path. */
function databaseFrom(base: string, database: string): string {
  return isPostgresUrl(database) ? database : resolveFrom(base, database);
}

/**
 * The context a source is built with: its secrets' key paths are prefixed with the source's own
 * path, and secret files are resolved from the configuration file's folder.
 */
function sourceContextAt(
  context: SourceContext,
  base: string,
  at: readonly PropertyKey[],
): SourceContext {
  return {
    clock: context.clock,
    random: context.random,
    log: context.log,
    // A getter, not a copy: the store may open only after the configuration is loaded.
    get store() {
      return context.store;
    },
    audit: (kind, payload) => context.audit(kind, payload),
    ...(context.pauseGate === undefined ? {} : { pauseGate: context.pauseGate }),
    alert: (alert) => context.alert(alert),
    secret(ref: SecretRef, key: string) {
      const file = ref.file === undefined ? undefined : resolveFrom(base, ref.file);
      return context.secret({ env: ref.env, file }, `${keyPath(at)}.${key}`);
    },
  };
}

/**
 * Keys of a source configuration that name files or folders, resolved from the configuration
 * file's folder. Remote paths (an SFTP server's folders) are not among them.
 */
const LOCAL_PATH_KEYS: Readonly<Record<string, readonly string[]>> = {
  directory: ['path', 'archiveDir'],
  sftp: ['privateKeyFile'],
  mqtt: ['ackLog'],
  amqp: ['ackLog'],
  nats: ['ackLog'],
};

function withLocalPaths(
  kind: string,
  raw: Readonly<Record<string, unknown>>,
  base: string,
): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...raw };
  for (const key of LOCAL_PATH_KEYS[kind] ?? []) {
    const value = copy[key];
    if (typeof value === 'string' && value !== '') copy[key] = resolveFrom(base, value);
  }
  return copy;
}

function kindNames(kinds: readonly SourceKind<{ kind: string; id: string }>[]): string {
  return kinds.map((k) => k.kind).join(', ');
}

/**
 * Parses, validates and builds. Throws CONFIG_INVALID listing every problem (details.problems)
 * when there is any; no source has connected by then.
 */
export function loadServiceConfig(
  path: string,
  kinds: readonly SourceKind<{ kind: string; id: string }>[],
  context: SourceContext,
): LoadedConfig {
  const text = readConfigText(path);
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: true });
  const problems: ProblemAt[] = [];
  const fail = (): never => {
    throw configError(
      path,
      problems.map((p) => ({ ...p, path: keyPath(p.path), line: nodeLine(doc, counter, p.path) })),
    );
  };
  if (doc.errors.length > 0) {
    throw configError(
      path,
      doc.errors.map((e) => ({
        path: '(syntax)',
        message: e.message.split('\n')[0] ?? e.message,
        line: e.linePos?.[0]?.line ?? null,
      })),
    );
  }
  const raw: unknown = doc.toJS({ maxAliasCount: 100 }) ?? {};
  const parsed = serviceSchema.safeParse(raw);
  if (!parsed.success) problems.push(...zodProblems(parsed.error, []));
  // The sources are checked even when the top level has problems, so every mistake shows at once.
  const rawSources = (raw as { sources?: unknown }).sources;
  const sourceList: unknown[] = parsed.success
    ? parsed.data.sources
    : Array.isArray(rawSources)
      ? rawSources.slice(0, CONFIG_SOURCES_MAX)
      : [];
  const base = dirname(resolve(path));
  const byKind = new Map(kinds.map((k) => [k.kind, k]));
  const seenIds = new Map<string, number>();
  const validated: {
    index: number;
    kind: SourceKind<{ kind: string; id: string }>;
    config: { kind: string; id: string };
    resilience?: SourceResilienceConfig;
    sla?: readonly SlaTarget[];
    partitions?: number;
  }[] = [];
  const partitionedAt: number[] = [];
  sourceList.forEach((item, index) => {
    // Not a mapping: the top-level check has reported it already.
    if (typeof item !== 'object' || item === null || Array.isArray(item)) return;
    const raw = item as Record<string, unknown>;
    const at = ['sources', index];
    const kindName = raw.kind;
    const kind = typeof kindName === 'string' ? byKind.get(kindName) : undefined;
    if (kind === undefined) {
      problems.push({
        path: [...at, 'kind'],
        message:
          kindName === undefined
            ? `missing: give the source's kind, one of ${kindNames(kinds)}`
            : `unknown source kind ${JSON.stringify(kindName)}: expected one of ${kindNames(kinds)}`,
      });
      return;
    }
    // Ids are compared as written, so a duplicate shows even beside the source's other mistakes.
    const id = raw.id;
    const earlier = typeof id === 'string' ? seenIds.get(id) : undefined;
    if (earlier !== undefined) {
      problems.push({
        path: [...at, 'id'],
        message: `duplicate source id ${JSON.stringify(id)}: sources[${earlier}] has it too`,
      });
    } else if (typeof id === 'string') {
      seenIds.set(id, index);
    }
    // `resilience:` is the wrapper's, not the transport's: it is checked here, not by the kind.
    // `sla:` is the vendor's contract, read by `report sla`: not the transport's either.
    // `partitions:` makes the source a partitioned one, read by workers (partitioned-source.ts).
    const {
      resilience: rawResilience,
      sla: rawSla,
      partitions: rawPartitions,
      ...transportRaw
    } = raw;
    const partitions = partitionsSchema.optional().safeParse(rawPartitions);
    if (!partitions.success) problems.push(...zodProblems(partitions.error, [...at, 'partitions']));
    if (rawPartitions !== undefined) {
      partitionedAt.push(index);
      for (const problem of partitionedSourceProblems(raw)) {
        problems.push({ path: [...at, ...problem.path], message: problem.message });
      }
    }
    const resilience = sourceResilienceSchema.optional().safeParse(rawResilience);
    if (!resilience.success) problems.push(...zodProblems(resilience.error, [...at, 'resilience']));
    const sla = slaSchema.optional().safeParse(rawSla);
    if (!sla.success) problems.push(...zodProblems(sla.error, [...at, 'sla']));
    const result = kind.schema.safeParse(withLocalPaths(kind.kind, transportRaw, base));
    if (!result.success) {
      problems.push(...zodProblems(result.error, at));
      return;
    }
    if (earlier !== undefined || !resilience.success || !sla.success) return;
    if (!partitions.success) return;
    validated.push({
      index,
      kind,
      config: result.data,
      ...(resilience.data === undefined ? {} : { resilience: resilience.data }),
      ...(sla.data === undefined ? {} : { sla: sla.data.targets }),
      ...(partitions.data === undefined ? {} : { partitions: partitions.data }),
    });
  });
  if (partitionedAt.length > 0 && typeof raw === 'object' && raw !== null) {
    problems.push(...partitionedTopLevelProblems(raw as Record<string, unknown>, partitionedAt));
  }
  const sources: BuiltSource[] = [];
  for (const { index, kind, config, resilience, sla, partitions } of validated) {
    const at = ['sources', index];
    try {
      const source = kind.create(config, sourceContextAt(context, base, at));
      sources.push({
        kind: kind.kind,
        id: config.id,
        source,
        config,
        ...(resilience === undefined ? {} : { resilience }),
        ...(sla === undefined ? {} : { sla }),
        ...(partitions === undefined ? {} : { partitions }),
      });
    } catch (error) {
      problems.push(...buildProblems(error, at));
    }
  }
  if (problems.length > 0 || !parsed.success) fail();
  const { sources: _sources, ...settings } = parsed.data as z.infer<typeof serviceSchema>;
  return {
    path: resolve(path),
    settings: {
      ...settings,
      ...(settings.database === undefined
        ? {}
        : { database: databaseFrom(base, settings.database) }),
      ...(settings.dictionary === undefined
        ? {}
        : { dictionary: resolveFrom(base, settings.dictionary) }),
      log: {
        ...settings.log,
        ...(settings.log.file === undefined ? {} : { file: resolveFrom(base, settings.log.file) }),
      },
    },
    sources,
  };
}

function buildProblems(error: unknown, at: readonly PropertyKey[]): ProblemAt[] {
  if (error instanceof AmisyncError && error.code === 'CONFIG_INVALID') {
    const key = (error.details as { key?: unknown } | undefined)?.key;
    if (typeof key === 'string' && key.startsWith(keyPath(at))) {
      // A secret's message starts with its full key path; the problem line shows it once.
      return [{ path: parseKeyPath(key), message: error.message.replace(/^[^:]*: /, '') }];
    }
    return [{ path: at, message: error.message }];
  }
  if (error instanceof z.ZodError) return zodProblems(error, at);
  return [{ path: at, message: error instanceof Error ? error.message : String(error) }];
}

/** `sources[1].auth.clientSecretEnv` back into its parts. */
export function parseKeyPath(text: string): PropertyKey[] {
  const parts: PropertyKey[] = [];
  for (const match of text.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) {
    if (match[2] !== undefined) parts.push(Number(match[2]));
    else if (match[1] !== undefined) parts.push(match[1]);
  }
  return parts;
}

function readConfigText(path: string): string {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new AmisyncError(
      'CONFIG_INVALID',
      `cannot read the configuration ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
  if (bytes.byteLength > CONFIG_FILE_BYTES_MAX) {
    throw new AmisyncError(
      'CONFIG_INVALID',
      `the configuration ${path} is ${bytes.byteLength} bytes; at most ${CONFIG_FILE_BYTES_MAX}`,
    );
  }
  return bytes.toString('utf8');
}

function configError(path: string, unordered: ConfigProblem[]): AmisyncError {
  // In the file's order, so the list reads top to bottom beside the file.
  const problems = unordered
    .map((problem, index) => ({ problem, index }))
    .sort(
      (a, b) => (a.problem.line ?? Infinity) - (b.problem.line ?? Infinity) || a.index - b.index,
    )
    .map(({ problem }) => problem);
  const lines = problems.map(
    (p) => `  - ${p.path}${p.line === null ? '' : ` (line ${p.line})`}: ${p.message}`,
  );
  const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
  return new AmisyncError('CONFIG_INVALID', `${count} in ${path}:\n${lines.join('\n')}`, {
    problems,
  });
}
