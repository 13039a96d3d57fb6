/**
 * Maps one vendor record (a JSON object already parsed) onto an interval, as its dialect says. The
 * fields are picked out by their paths and handed, as text, to the CSV dialect's row interpreter
 * (../csv-dialect/csv-dialect-rows.ts), which reads separators, units, timestamps, zones, marks and
 * quality codes exactly as it does for a CSV export: the two dialects cannot drift apart. What is
 * JSON's own is checked here: a field that is absent or of the wrong JSON type, JSON numbers, the
 * sequence number, and keys the dialect does not map.
 */
import assert from 'node:assert/strict';

import {
  isConstant,
  type CsvColumnRef,
  type CsvConstant,
  type CsvDialect,
} from '../csv-dialect/csv-dialect-config.js';
import type {
  CsvDialectField,
  CsvDialectIntervalEvent,
  CsvDialectProblemCode,
} from '../csv-dialect/csv-dialect-events.js';
import { CsvRowInterpreter, planWithoutHeader } from '../csv-dialect/csv-dialect-rows.js';
import type { SourceSpan } from '../items.js';
import {
  describePath,
  mappedPaths,
  type JsonDialect,
  type JsonPath,
} from './json-dialect-config.js';

/** Problems of one record that the CSV vocabulary has no word for. */
export const JSON_DIALECT_RECORD_CODES = [
  'field_missing',
  'field_type',
  'field_unknown',
  'sequence_invalid',
] as const;
export type JsonDialectRecordCode = (typeof JSON_DIALECT_RECORD_CODES)[number];

export interface JsonDialectProblem {
  code: CsvDialectProblemCode | JsonDialectRecordCode;
  /** The field's path in the record, or null when the problem is not about one field. */
  path: string | null;
  value: string | null;
  message: string;
}

export type MappedRecord =
  | { ok: true; interval: CsvDialectIntervalEvent; seq: number }
  | { ok: false; problems: JsonDialectProblem[] };

const SEQUENCE_DIGITS = /^\d{1,16}$/;

/** The dialect's fields by position: the row interpreter reads them as a row of cells. */
interface Slot {
  path: JsonPath;
  /** The path as messages show it. */
  pathText: string;
  field: CsvDialectField;
}

/** The mapped paths as a tree of keys: `true` at a mapped path, a subtree on the way to one. */
type KeyTree = Map<string, KeyTree | true>;

export class JsonRecordMapper {
  readonly #dialect: JsonDialect;
  readonly #slots: readonly Slot[];
  readonly #interpreter: CsvRowInterpreter;
  readonly #keys: KeyTree;

  constructor(dialect: JsonDialect) {
    this.#dialect = dialect;
    const slots = mappedPaths(dialect.fields)
      .filter(({ key }) => key[1] !== 'sequence')
      .map(({ key, path }) => ({ path, pathText: describePath(path), field: fieldOf(key) }));
    this.#slots = slots;
    const rowDialect = toRowDialect(dialect, slots.length);
    const describe = (column: CsvColumnRef): string => {
      const slot = slots[Number(column)];
      assert.ok(slot !== undefined, `no field at position ${String(column)}`);
      return `field ${slot.pathText}`;
    };
    const plan = planWithoutHeader(rowDialect, slots.length);
    this.#interpreter = new CsvRowInterpreter(rowDialect, plan, describe);
    this.#keys = keyTree(mappedPaths(dialect.fields).map(({ path }) => path));
  }

  map(record: Readonly<Record<string, unknown>>, source: SourceSpan): MappedRecord {
    const problems: JsonDialectProblem[] = [];
    const flagged = new Set<number>();
    const cells = this.#slots.map((slot, index) => {
      const cell = this.#cellText(record, slot, source, problems);
      if (cell === null) flagged.add(index);
      return cell ?? '';
    });
    const seq = this.#sequence(record, source, problems);
    if (this.#dialect.unknownFields === 'reject') {
      this.#unknownKeys(record, this.#keys, [], source, problems);
    }
    const events = flagged.size === cells.length ? [] : this.#interpreter.interpret(cells, source);
    let interval: CsvDialectIntervalEvent | null = null;
    for (const event of events) {
      if (event.kind === 'interval') interval = event;
      else if (event.kind === 'problem' && !flagged.has(Number(event.column ?? -1))) {
        const slot = event.column === null ? undefined : this.#slots[Number(event.column)];
        const path = slot === undefined ? null : slot.pathText;
        problems.push({ code: event.code, path, value: event.value, message: event.message });
      }
    }
    if (interval === null && problems.length === 0) {
      // The row interpreter skips a row whose cells are all empty, as a CSV reader skips a blank
      // line; a JSON record is never blank, so it is a problem.
      const message = `Line ${source.line}: every field the dialect maps is empty.`;
      problems.push({ code: 'field_empty', path: null, value: '', message });
    }
    if (problems.length > 0 || interval === null || seq === null) {
      assert.ok(problems.length > 0, 'a record without an interval has a problem');
      return { ok: false, problems };
    }
    return { ok: true, interval, seq };
  }

  /** The text the row interpreter reads for a field, or null after reporting why there is none. */
  #cellText(
    record: Readonly<Record<string, unknown>>,
    slot: Slot,
    source: SourceSpan,
    problems: JsonDialectProblem[],
  ): string | null {
    const value = valueAt(record, slot.path);
    if (typeof value === 'string') return value;
    const path = slot.pathText;
    if (value === undefined || value === null) {
      const what = value === null ? 'is null' : 'is absent';
      const message = `Line ${source.line}: the field ${path} ${what}; the record has no ${slot.field}.`;
      problems.push({ code: 'field_missing', path, value: null, message });
      return null;
    }
    if (typeof value === 'number' && Number.isFinite(value)) {
      const text = plainNumberText(value);
      // A JSON number always writes its decimals with a dot, whatever the dialect's strings use.
      return slot.field === 'value' ? text.replace('.', this.#dialect.decimalSeparator) : text;
    }
    const message =
      `Line ${source.line}: the field ${path} is ${describeJsonType(value)}, not a string or ` +
      `a number, so the ${slot.field} cannot be read from it.`;
    problems.push({ code: 'field_type', path, value: shortJson(value), message });
    return null;
  }

  #sequence(
    record: Readonly<Record<string, unknown>>,
    source: SourceSpan,
    problems: JsonDialectProblem[],
  ): number | null {
    const sequencePath = this.#dialect.fields.sequence;
    if (sequencePath === null) return 0;
    const value = valueAt(record, sequencePath);
    if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
    const path = describePath(sequencePath);
    if (value === undefined || value === null) {
      const message = `Line ${source.line}: the sequence number in field ${path} is absent.`;
      problems.push({ code: 'field_missing', path, value: null, message });
      return null;
    }
    const seq =
      typeof value === 'number'
        ? value
        : typeof value === 'string' && SEQUENCE_DIGITS.test(value)
          ? Number(value)
          : Number.NaN;
    if (Number.isSafeInteger(seq) && seq >= 0) return seq;
    const message =
      `Line ${source.line}: the sequence number ${shortJson(value)} in field ${path} is not a ` +
      'whole number from 0 to 2^53 - 1.';
    problems.push({ code: 'sequence_invalid', path, value: shortJson(value), message });
    return null;
  }

  #unknownKeys(
    object: Readonly<Record<string, unknown>>,
    keys: KeyTree,
    prefix: readonly string[],
    source: SourceSpan,
    problems: JsonDialectProblem[],
  ): void {
    // for-in rather than Object.entries: this runs for every record, and allocates nothing when
    // every key is known. A parsed JSON object has no inherited enumerable keys.
    for (const key in object) {
      const node = keys.get(key);
      if (node === true) continue;
      const value = object[key];
      const path = [...prefix, key];
      if (node !== undefined && isObject(value)) {
        this.#unknownKeys(value, node, path, source, problems);
        continue;
      }
      const message =
        `Line ${source.line}: the record holds the field ${describePath(path)}, which the ` +
        `dialect ${this.#dialect.name} does not map, and the dialect rejects unknown fields.`;
      problems.push({ code: 'field_unknown', path: describePath(path), value: key, message });
    }
  }
}

function keyTree(paths: readonly JsonPath[]): KeyTree {
  const root: KeyTree = new Map();
  for (const path of paths) {
    let node = root;
    path.forEach((key, index) => {
      if (index === path.length - 1) {
        node.set(key, true);
        return;
      }
      const child = node.get(key);
      // The config refuses a mapped path inside another, so a key on the way is never a leaf.
      assert.ok(child !== true, `the mapped path ${describePath(path)} lies inside another`);
      const next = child ?? new Map<string, KeyTree | true>();
      node.set(key, next);
      node = next;
    });
  }
  return root;
}

/** The value at `path`, or undefined when some key on the way is absent. */
export function valueAt(record: unknown, path: JsonPath): unknown {
  let current: unknown = record;
  for (const key of path) {
    if (Array.isArray(current) && /^\d+$/.test(key)) current = current[Number(key)];
    else if (isObject(current) && Object.hasOwn(current, key)) current = current[key];
    else return undefined;
  }
  return current;
}

function isObject(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A finite number as plain decimal text, exponent written out (`1e-7` is `0.0000001`). The JSON
 * record reader has already refused a literal its double does not carry exactly, so the shortest
 * text of the double is the literal's value.
 */
export function plainNumberText(value: number): string {
  const text = String(value);
  const match = /^(-?)(\d+)(?:\.(\d+))?e([+-]\d+)$/.exec(text);
  if (match === null) return text;
  const [, sign = '', whole = '', fraction = '', exponentText = '0'] = match;
  const digits = whole + fraction;
  const point = whole.length + Number(exponentText);
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

function describeJsonType(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'boolean') return 'a boolean';
  return 'not a finite number';
}

function shortJson(value: unknown): string {
  return typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
}

const FIELD_BY_KEY: Readonly<Record<string, CsvDialectField>> = {
  meterId: 'meterId',
  channel: 'channel',
  timestamp: 'timestamp',
  date: 'date',
  time: 'time',
  value: 'value',
  unit: 'unit',
  quality: 'quality',
  intervalSeconds: 'intervalSeconds',
};

function fieldOf(key: readonly string[]): CsvDialectField {
  const [, name, part] = key;
  const field = FIELD_BY_KEY[name === 'timestamp' && part !== undefined ? part : (name ?? '')];
  assert.ok(field !== undefined, `no field for the dialect key ${key.join('.')}`);
  return field;
}

/**
 * The CSV dialect the row interpreter reads the fields with: the same values, units, timestamps
 * and quality map, each field a cell at its position among the mapped paths.
 */
function toRowDialect(dialect: JsonDialect, fieldCount: number): CsvDialect {
  let position = 0;
  const next = (): number => position++;
  const { fields } = dialect;
  const slotOrConstant = <T>(mapping: JsonPath | CsvConstant<T>): number | CsvConstant<T> =>
    isConstant(mapping) ? mapping : next();
  const meterId = next();
  const channel = fields.channel === null || isConstant(fields.channel) ? fields.channel : next();
  const timestamp = 'date' in fields.timestamp ? { date: next(), time: next() } : next();
  const value = next();
  const unit = slotOrConstant(fields.unit);
  const quality = fields.quality === null ? null : { column: next(), map: fields.quality.map };
  const intervalSeconds = slotOrConstant(fields.intervalSeconds);
  assert.equal(position, fieldCount, 'every mapped field but the sequence has a position');
  return {
    name: dialect.name,
    delimiter: ',',
    quote: '"',
    decimalSeparator: dialect.decimalSeparator,
    thousandsSeparator: dialect.thousandsSeparator,
    headerRow: false,
    fieldCount,
    skipLines: 0,
    columns: { meterId, channel, timestamp, value, unit, quality, intervalSeconds },
    timestampFormat: dialect.timestampFormat,
    timeZone: dialect.timeZone,
    timestampMarks: dialect.timestampMarks,
  };
}
