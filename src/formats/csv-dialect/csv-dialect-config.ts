/**
 * A CSV dialect: how one vendor's interval export is laid out, declared as JSON so that a utility
 * can onboard a new export without code. It is checked strictly (an unknown key is an error, so a
 * misspelt key cannot fall back to a default), resolved against its defaults and frozen. Nothing a
 * dialect leaves open is guessed from the data: separators, time zone and whether a timestamp marks
 * the start or the end of its interval are declared or have a stated default. README.md in this
 * folder documents every key.
 */
import { Temporal } from 'temporal-polyfill';
import { z } from 'zod';

import { RECORD_FIELDS_MAX } from '../../core/limits.js';
import { ISO_8601_FORMAT, compileTimestampPattern } from './csv-dialect-values.js';
import { deepFreeze, formatIssues, type ConfigIssue } from '../../core/config.js';

export const CSV_DIALECT_DELIMITERS = [',', ';', '\t', '|'] as const;
export type CsvDialectDelimiter = (typeof CSV_DIALECT_DELIMITERS)[number];
export const CSV_DIALECT_QUOTES = ['"', "'"] as const;
export type CsvDialectQuote = (typeof CSV_DIALECT_QUOTES)[number];
export const CSV_DIALECT_DECIMAL_SEPARATORS = ['.', ','] as const;
export type CsvDecimalSeparator = (typeof CSV_DIALECT_DECIMAL_SEPARATORS)[number];
/** Space, no-break space and narrow no-break space group digits in French and Nordic exports. */
export const CSV_DIALECT_THOUSANDS_SEPARATORS = ['.', ',', ' ', '\u00a0', '\u202f', "'"] as const;
export type CsvThousandsSeparator = (typeof CSV_DIALECT_THOUSANDS_SEPARATORS)[number];
export const CSV_DIALECT_ENERGY_UNITS = ['Wh', 'kWh', 'MWh'] as const;
export type CsvEnergyUnit = (typeof CSV_DIALECT_ENERGY_UNITS)[number];
export const CSV_DIALECT_QUALITIES = ['actual', 'estimated', 'substituted'] as const;
export type CsvDialectQuality = (typeof CSV_DIALECT_QUALITIES)[number];
export const CSV_DIALECT_TIMESTAMP_MARKS = ['start', 'end'] as const;
export type CsvTimestampMark = (typeof CSV_DIALECT_TIMESTAMP_MARKS)[number];

export const CSV_DIALECT_NAME_CHARS_MAX = 64;
export const CSV_COLUMN_NAME_CHARS_MAX = 200;
/** Lines skipped before the header; exports put a few lines of banner there, never thousands. */
export const CSV_SKIP_LINES_MAX = 1_000;
export const CSV_QUALITY_CODES_MAX = 64;
export const CSV_QUALITY_CODE_CHARS_MAX = 64;
export const CSV_CONSTANT_CHARS_MAX = 64;
/** Interval lengths are whole seconds up to one day. */
export const CSV_INTERVAL_SECONDS_MAX = 86_400;

/** A column named by its header text (trimmed), or by its 0-based position in the record. */
export type CsvColumnRef = string | number;

/** A value the export does not carry, the same for every record. */
export interface CsvConstant<T> {
  readonly constant: T;
}

/** One column holding date and time, or two columns read as `date + ' ' + time`. */
export type CsvTimestampColumns =
  CsvColumnRef | { readonly date: CsvColumnRef; readonly time: CsvColumnRef };

export interface CsvQualityColumn {
  readonly column: CsvColumnRef;
  /** Cell text (trimmed) to quality; a cell not in the map is a `quality_unknown` problem. */
  readonly map: Readonly<Record<string, CsvDialectQuality>>;
}

/** Where each field of an interval comes from. Every column named here must be present. */
export interface CsvDialectColumns {
  readonly meterId: CsvColumnRef;
  readonly channel: CsvColumnRef | CsvConstant<string> | null;
  readonly timestamp: CsvTimestampColumns;
  readonly value: CsvColumnRef;
  readonly unit: CsvColumnRef | CsvConstant<CsvEnergyUnit>;
  readonly quality: CsvQualityColumn | null;
  readonly intervalSeconds: CsvColumnRef | CsvConstant<number>;
}

/** A fully resolved dialect: every key present, defaults applied, deeply frozen. */
export interface CsvDialect {
  /** Shown in messages, so that an operator knows which dialect read a file. */
  readonly name: string;
  readonly delimiter: CsvDialectDelimiter;
  readonly quote: CsvDialectQuote;
  readonly decimalSeparator: CsvDecimalSeparator;
  /** Null: a value holding any separator besides the decimal one is a problem. */
  readonly thousandsSeparator: CsvThousandsSeparator | null;
  readonly headerRow: boolean;
  /** Fields of every record of a file without a header row; null when there is a header. */
  readonly fieldCount: number | null;
  /** Physical lines skipped at the top (after a byte order mark), before the header or data. */
  readonly skipLines: number;
  readonly columns: CsvDialectColumns;
  /** `iso8601`, or a pattern of YYYY MM M DD D HH H hh h mm ss A tokens and literal characters. */
  readonly timestampFormat: string;
  /**
   * IANA zone (`Europe/Berlin`, `UTC`) or fixed offset (`+10:00`) of timestamps sent naive. A CSV
   * dialect always names one; null (every timestamp must carry its offset) comes only from a JSON
   * dialect read through this vocabulary (../json-dialect/).
   */
  readonly timeZone: string | null;
  /** Whether a timestamp marks the start or the end of its interval. */
  readonly timestampMarks: CsvTimestampMark;
}

/**
 * Checks and resolves a parsed JSON dialect. Throws an Error listing every problem, one per line,
 * each with its path (`columns.quality.map: ...`). Rules relating several keys are checked once
 * every key is well-formed.
 */
export function parseCsvDialect(json: unknown): CsvDialect {
  const result = dialectSchema.safeParse(json);
  if (!result.success) {
    throw new Error(`Invalid CSV dialect:\n${formatIssues(result.error.issues)}`);
  }
  const issues = consistencyIssues(result.data);
  if (issues.length > 0) throw new Error(`Invalid CSV dialect:\n${formatIssues(issues)}`);
  return deepFreeze(result.data);
}

/** How a column is named in messages: `"Wert"`, or `at position 3` for a 0-based position. */
export function describeColumn(column: CsvColumnRef): string {
  return typeof column === 'number' ? `at position ${column}` : `"${column}"`;
}

/** True for a `{ constant }` mapping, whether it stands beside a column name or a resolved slot. */
export function isConstant<T, Column>(mapping: Column | CsvConstant<T>): mapping is CsvConstant<T> {
  return typeof mapping === 'object' && mapping !== null && 'constant' in mapping;
}

/** Every column the dialect reads, with the key path that names it, in `columns` order. */
export function mappedColumns(
  columns: CsvDialectColumns,
): Array<{ path: string[]; column: CsvColumnRef }> {
  const found: Array<{ path: string[]; column: CsvColumnRef }> = [];
  const add = (path: string[], column: CsvColumnRef): void => {
    found.push({ path: ['columns', ...path], column });
  };
  add(['meterId'], columns.meterId);
  if (columns.channel !== null && !isConstant(columns.channel)) add(['channel'], columns.channel);
  if (typeof columns.timestamp === 'object') {
    add(['timestamp', 'date'], columns.timestamp.date);
    add(['timestamp', 'time'], columns.timestamp.time);
  } else {
    add(['timestamp'], columns.timestamp);
  }
  add(['value'], columns.value);
  if (!isConstant(columns.unit)) add(['unit'], columns.unit);
  if (columns.quality !== null) add(['quality', 'column'], columns.quality.column);
  if (!isConstant(columns.intervalSeconds)) add(['intervalSeconds'], columns.intervalSeconds);
  return found;
}

// ------------------------------------------------------------------------------------------------
// Schema: the shape of the file, with each key's default.

const FIXED_OFFSET = /^[+-](?:[01]\d|2[0-3]):[0-5]\d$/;

function isTimeZone(timeZone: string): boolean {
  // Temporal also reads "+0530" and "+05"; one spelling of an offset keeps dialects comparable.
  if (timeZone.startsWith('+') || timeZone.startsWith('-')) return FIXED_OFFSET.test(timeZone);
  try {
    new Temporal.ZonedDateTime(0n, timeZone);
    return true;
  } catch {
    return false;
  }
}

function isTimestampFormat(format: string): boolean {
  return format === ISO_8601_FORMAT || typeof compileTimestampPattern(format) !== 'string';
}

function isTrimmed(text: string): boolean {
  return text.trim() === text;
}

const columnNameSchema = z
  .string()
  .min(1)
  .max(CSV_COLUMN_NAME_CHARS_MAX)
  .refine(isTrimmed, { error: 'must not start or end with spaces (header names are trimmed)' });

const columnRefSchema = z.union([
  columnNameSchema,
  z
    .int()
    .min(0)
    .max(RECORD_FIELDS_MAX - 1),
]);

const intervalSecondsSchema = z.int().min(1).max(CSV_INTERVAL_SECONDS_MAX);

const qualityCodeSchema = z.string().max(CSV_QUALITY_CODE_CHARS_MAX).refine(isTrimmed, {
  error: 'must not start or end with spaces (cells are trimmed)',
});

// zod drops a record key named "__proto__" without an issue; a dialect must not lose a quality
// code silently, so such a key is reported before the record is parsed.
/** Quality codes to qualities; shared with the JSON dialect (json-dialect-config.ts). */
export const qualityMapSchema = z
  .unknown()
  .superRefine((input, context) => {
    if (typeof input === 'object' && input !== null && Object.hasOwn(input, '__proto__')) {
      context.addIssue({ code: 'custom', path: ['__proto__'], message: 'is not a usable code' });
    }
  })
  .pipe(z.record(qualityCodeSchema, z.enum(CSV_DIALECT_QUALITIES)))
  .refine((map) => Object.keys(map).length >= 1, { error: 'must map at least one code' })
  .refine((map) => Object.keys(map).length <= CSV_QUALITY_CODES_MAX, {
    error: `must map at most ${CSV_QUALITY_CODES_MAX} codes`,
  });

/** `iso8601` or a timestamp pattern; shared with the JSON dialect. */
export const timestampFormatSchema = z.string().refine(isTimestampFormat, {
  error:
    'must be "iso8601" or a pattern with YYYY, MM or M, DD or D, HH or H (or hh or h with ' +
    'A), mm and optionally ss, each once, and no other letters than T',
});

/** An IANA zone or a fixed offset; shared with the JSON dialect. */
export const timeZoneSchema = z.string().refine(isTimeZone, {
  error: 'must be an IANA time zone (such as Europe/Berlin or UTC) or an offset such as +10:00',
});

const columnsSchema = z.strictObject({
  meterId: columnRefSchema,
  channel: z
    .union([
      columnRefSchema,
      z.strictObject({ constant: z.string().min(1).max(CSV_CONSTANT_CHARS_MAX) }),
    ])
    .nullable()
    .default(null),
  timestamp: z.union([
    columnRefSchema,
    z.strictObject({ date: columnRefSchema, time: columnRefSchema }),
  ]),
  value: columnRefSchema,
  unit: z.union([columnRefSchema, z.strictObject({ constant: z.enum(CSV_DIALECT_ENERGY_UNITS) })]),
  quality: z
    .strictObject({ column: columnRefSchema, map: qualityMapSchema })
    .nullable()
    .default(null),
  intervalSeconds: z.union([columnRefSchema, z.strictObject({ constant: intervalSecondsSchema })]),
});

const dialectSchema = z.strictObject({
  name: z.string().min(1).max(CSV_DIALECT_NAME_CHARS_MAX),
  delimiter: z.enum(CSV_DIALECT_DELIMITERS).default(','),
  quote: z.enum(CSV_DIALECT_QUOTES).default('"'),
  decimalSeparator: z.enum(CSV_DIALECT_DECIMAL_SEPARATORS).default('.'),
  thousandsSeparator: z.enum(CSV_DIALECT_THOUSANDS_SEPARATORS).nullable().default(null),
  headerRow: z.boolean().default(true),
  fieldCount: z.int().min(1).max(RECORD_FIELDS_MAX).nullable().default(null),
  skipLines: z.int().min(0).max(CSV_SKIP_LINES_MAX).default(0),
  columns: columnsSchema,
  timestampFormat: timestampFormatSchema.default(ISO_8601_FORMAT),
  timeZone: timeZoneSchema,
  timestampMarks: z.enum(CSV_DIALECT_TIMESTAMP_MARKS),
});

type ParsedDialect = z.output<typeof dialectSchema>;

// ------------------------------------------------------------------------------------------------
// Consistency: rules that relate several keys, checked once every key has its value.

function consistencyIssues(parsed: ParsedDialect): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const columns = mappedColumns(parsed.columns);
  const positions = columns.filter(({ column }) => typeof column === 'number');
  if (positions.length > 0 && positions.length < columns.length) {
    const message = 'names some columns by header text and others by position; use one kind';
    issues.push({ path: ['columns'], message });
  }
  checkHeaderRow(parsed, positions, issues);
  const seen = new Map<CsvColumnRef, string>();
  for (const { path, column } of columns) {
    const earlier = seen.get(column);
    if (earlier !== undefined) {
      const message = `maps the column ${describeColumn(column)} again (already ${earlier})`;
      issues.push({ path, message });
    }
    seen.set(column, path.join('.'));
  }
  if (parsed.thousandsSeparator === parsed.decimalSeparator) {
    issues.push({ path: ['thousandsSeparator'], message: 'must differ from decimalSeparator' });
  }
  if (parsed.thousandsSeparator === parsed.quote) {
    issues.push({ path: ['thousandsSeparator'], message: 'must differ from quote' });
  }
  return issues;
}

function checkHeaderRow(
  parsed: ParsedDialect,
  positions: ReadonlyArray<{ path: string[]; column: CsvColumnRef }>,
  issues: ConfigIssue[],
): void {
  if (parsed.headerRow) {
    if (parsed.fieldCount !== null) {
      const message = 'is only for files without a header row; the header gives the count';
      issues.push({ path: ['fieldCount'], message });
    }
    return;
  }
  if (positions.length < mappedColumns(parsed.columns).length) {
    const message = 'a file without a header row must name every column by position';
    issues.push({ path: ['headerRow'], message });
  }
  if (parsed.fieldCount === null) {
    const message = 'is required when there is no header row: records are checked against it';
    issues.push({ path: ['fieldCount'], message });
    return;
  }
  for (const { path, column } of positions) {
    if (typeof column === 'number' && column >= parsed.fieldCount) {
      const message = `position ${column} is past the last field of ${parsed.fieldCount}`;
      issues.push({ path, message });
    }
  }
}
