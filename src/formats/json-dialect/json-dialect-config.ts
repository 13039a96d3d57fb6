/**
 * A JSON dialect: where a vendor's API puts its interval records in a response, and how each
 * record's fields map onto a reading, declared as data so that a vendor's own JSON shape needs no
 * code. It speaks the CSV dialect's vocabulary (../csv-dialect/): the same separators, energy
 * units, quality maps, constants, timestamp formats, zones and marks, checked by the same schemas
 * and read by the same value readers. What differs: a field is addressed by its path inside the
 * record (`reading.value`) instead of a column, a record may carry its sequence number, and the
 * zone may be null when every timestamp carries its offset. README.md in this folder documents
 * every key.
 */
import { z } from 'zod';

import { AmisyncError } from '../../core/errors.js';
import {
  JSON_DIALECT_PATH_SEGMENTS_MAX,
  JSON_DIALECT_PATH_SEGMENT_CHARS_MAX,
} from '../../core/limits.js';
import { deepFreeze, formatIssues, type ConfigIssue } from '../../core/config.js';
import {
  CSV_CONSTANT_CHARS_MAX,
  CSV_DIALECT_DECIMAL_SEPARATORS,
  CSV_DIALECT_ENERGY_UNITS,
  CSV_DIALECT_NAME_CHARS_MAX,
  CSV_DIALECT_THOUSANDS_SEPARATORS,
  CSV_DIALECT_TIMESTAMP_MARKS,
  CSV_INTERVAL_SECONDS_MAX,
  isConstant,
  qualityMapSchema,
  timeZoneSchema,
  timestampFormatSchema,
  type CsvConstant,
  type CsvDecimalSeparator,
  type CsvDialectQuality,
  type CsvEnergyUnit,
  type CsvThousandsSeparator,
  type CsvTimestampMark,
} from '../csv-dialect/csv-dialect-config.js';
import { ISO_8601_FORMAT } from '../csv-dialect/csv-dialect-values.js';

/** Keys from an object down to a value: `["reading", "value"]`, written `reading.value`. */
export type JsonPath = readonly string[];

export const JSON_DIALECT_UNKNOWN_FIELDS = ['ignore', 'reject'] as const;
export type JsonDialectUnknownFields = (typeof JSON_DIALECT_UNKNOWN_FIELDS)[number];

/** Where each field of a reading comes from inside one record. */
export interface JsonDialectFields {
  readonly meterId: JsonPath;
  /** Null: every reading is on channel "1". */
  readonly channel: JsonPath | CsvConstant<string> | null;
  readonly timestamp: JsonPath | { readonly date: JsonPath; readonly time: JsonPath };
  readonly value: JsonPath;
  readonly unit: JsonPath | CsvConstant<CsvEnergyUnit>;
  readonly quality: {
    readonly field: JsonPath;
    readonly map: Readonly<Record<string, CsvDialectQuality>>;
  } | null;
  readonly intervalSeconds: JsonPath | CsvConstant<number>;
  /** The vendor's sequence number of the record (its version); null: 0 for every record. */
  readonly sequence: JsonPath | null;
}

/** A fully resolved JSON dialect: every key present, defaults applied, deeply frozen. */
export interface JsonDialect {
  readonly name: string;
  /** Keys from the page's top-level object to the records array; null: the delivery says. */
  readonly recordsPath: JsonPath | null;
  readonly decimalSeparator: CsvDecimalSeparator;
  readonly thousandsSeparator: CsvThousandsSeparator | null;
  readonly fields: JsonDialectFields;
  readonly timestampFormat: string;
  /** Zone of timestamps sent without an offset; null: a timestamp without one is a problem. */
  readonly timeZone: string | null;
  readonly timestampMarks: CsvTimestampMark;
  /** `reject`: a record holding a key the dialect does not map is a problem. */
  readonly unknownFields: JsonDialectUnknownFields;
}

/** A path as text, for messages: `reading.value`, or JSON when a key holds a dot. */
export function describePath(path: JsonPath): string {
  if (path.every((segment) => !segment.includes('.'))) return path.join('.');
  return JSON.stringify(path);
}

/** Reads `a.b.c` or `["a", "b.c"]` as a path; the records path may be empty (a top-level array). */
export function toJsonPath(path: string | readonly string[]): JsonPath {
  if (typeof path !== 'string') return path;
  return path === '' ? [] : path.split('.');
}

const segmentSchema = z.string().min(1).max(JSON_DIALECT_PATH_SEGMENT_CHARS_MAX);

const dottedPathSchema = z
  .string()
  .min(1)
  .max((JSON_DIALECT_PATH_SEGMENT_CHARS_MAX + 1) * JSON_DIALECT_PATH_SEGMENTS_MAX)
  .refine((text) => text.split('.').every((segment) => segment !== ''), {
    error: 'must be keys joined by dots, none of them empty (write ["a.b"] for a key with a dot)',
  })
  .transform((text) => text.split('.'));

/** A field's path: dotted text, or an array of keys for keys that hold a dot. */
export const jsonPathSchema = z
  .union([dottedPathSchema, z.array(segmentSchema).min(1)])
  .refine((path) => path.length <= JSON_DIALECT_PATH_SEGMENTS_MAX, {
    error: `must have at most ${JSON_DIALECT_PATH_SEGMENTS_MAX} keys`,
  });

/** A records path: like a field path, but `""` or `[]` means the page is a top-level array. */
export const recordsPathSchema = z.union([
  z.literal('').transform((): string[] => []),
  z.array(z.never()).length(0),
  jsonPathSchema,
]);

const fieldsSchema = z.strictObject({
  meterId: jsonPathSchema,
  channel: z
    .union([
      jsonPathSchema,
      z.strictObject({ constant: z.string().min(1).max(CSV_CONSTANT_CHARS_MAX) }),
    ])
    .nullable()
    .default(null),
  timestamp: z.union([
    jsonPathSchema,
    z.strictObject({ date: jsonPathSchema, time: jsonPathSchema }),
  ]),
  value: jsonPathSchema,
  unit: z.union([jsonPathSchema, z.strictObject({ constant: z.enum(CSV_DIALECT_ENERGY_UNITS) })]),
  quality: z
    .strictObject({ field: jsonPathSchema, map: qualityMapSchema })
    .nullable()
    .default(null),
  intervalSeconds: z.union([
    jsonPathSchema,
    z.strictObject({ constant: z.int().min(1).max(CSV_INTERVAL_SECONDS_MAX) }),
  ]),
  sequence: jsonPathSchema.nullable().default(null),
});

const shapeSchema = z.strictObject({
  name: z.string().min(1).max(CSV_DIALECT_NAME_CHARS_MAX),
  recordsPath: recordsPathSchema.nullable().default(null),
  decimalSeparator: z.enum(CSV_DIALECT_DECIMAL_SEPARATORS).default('.'),
  thousandsSeparator: z.enum(CSV_DIALECT_THOUSANDS_SEPARATORS).nullable().default(null),
  fields: fieldsSchema,
  timestampFormat: timestampFormatSchema.default(ISO_8601_FORMAT),
  timeZone: timeZoneSchema.nullable(),
  timestampMarks: z.enum(CSV_DIALECT_TIMESTAMP_MARKS),
  unknownFields: z.enum(JSON_DIALECT_UNKNOWN_FIELDS).default('ignore'),
});

/**
 * The dialect's schema, with the rules that relate several keys: a config that embeds a dialect
 * (a REST source's) uses it in its own schema, so every mistake is reported with its full path.
 */
export const jsonDialectSchema = shapeSchema.superRefine((parsed, context) => {
  for (const issue of consistencyIssues(parsed)) {
    context.addIssue({ code: 'custom', path: [...issue.path], message: issue.message });
  }
});

/**
 * Checks and resolves a parsed JSON or YAML dialect. Throws CONFIG_INVALID listing every problem,
 * one per line, each with its path under `keyPath` (`sources.0.dialect.fields.value: ...`).
 */
export function parseJsonDialect(
  value: unknown,
  keyPath: readonly PropertyKey[] = [],
): JsonDialect {
  const result = jsonDialectSchema.safeParse(value);
  if (!result.success) {
    const issues: ConfigIssue[] = result.error.issues.map((issue) => ({
      ...issue,
      path: [...keyPath, ...issue.path],
    }));
    const lines = formatIssues(issues);
    throw new AmisyncError('CONFIG_INVALID', `Invalid JSON dialect:\n${lines}`, {
      issues: issues.map((issue) => ({ path: issue.path.map(String), message: issue.message })),
    });
  }
  return deepFreeze(result.data);
}

/** Every path the dialect reads, with the key path that names it, in `fields` order. */
export function mappedPaths(fields: JsonDialectFields): Array<{ key: string[]; path: JsonPath }> {
  const found: Array<{ key: string[]; path: JsonPath }> = [];
  const add = (key: string[], path: JsonPath): void => {
    found.push({ key: ['fields', ...key], path });
  };
  add(['meterId'], fields.meterId);
  if (fields.channel !== null && !isConstant(fields.channel)) add(['channel'], fields.channel);
  if ('date' in fields.timestamp) {
    add(['timestamp', 'date'], fields.timestamp.date);
    add(['timestamp', 'time'], fields.timestamp.time);
  } else {
    add(['timestamp'], fields.timestamp);
  }
  add(['value'], fields.value);
  if (!isConstant(fields.unit)) add(['unit'], fields.unit);
  if (fields.quality !== null) add(['quality', 'field'], fields.quality.field);
  if (!isConstant(fields.intervalSeconds)) add(['intervalSeconds'], fields.intervalSeconds);
  if (fields.sequence !== null) add(['sequence'], fields.sequence);
  return found;
}

type ParsedShape = z.output<typeof shapeSchema>;

function consistencyIssues(parsed: ParsedShape): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const seen = new Map<string, string>();
  const paths = mappedPaths(parsed.fields);
  for (const { key, path } of paths) {
    const text = JSON.stringify(path);
    const earlier = seen.get(text);
    if (earlier !== undefined) {
      const message = `maps the field ${describePath(path)} again (already ${earlier})`;
      issues.push({ path: key, message });
    }
    seen.set(text, key.join('.'));
  }
  for (const { key, path } of paths) {
    const inside = paths.find(
      (other) => other.path.length > path.length && path.every((s, i) => other.path[i] === s),
    );
    if (inside !== undefined) {
      const message =
        `${describePath(path)} holds ${describePath(inside.path)} (${inside.key.join('.')}), ` +
        'so it cannot also be a value';
      issues.push({ path: key, message });
    }
  }
  if (parsed.thousandsSeparator === parsed.decimalSeparator) {
    issues.push({ path: ['thousandsSeparator'], message: 'must differ from decimalSeparator' });
  }
  if (parsed.timeZone === null && parsed.timestampFormat !== ISO_8601_FORMAT) {
    const message =
      'must name a zone when timestampFormat is a pattern: a pattern has no offset (null is ' +
      'only for iso8601 timestamps that all carry Z or an offset)';
    issues.push({ path: ['timeZone'], message });
  }
  return issues;
}
