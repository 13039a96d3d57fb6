/**
 * Interprets a dialect's records once they are split into fields: the header resolves the
 * dialect's columns to field indexes (a row plan), and each record becomes one interval or the
 * problems of its cells. Pure over its inputs; the byte-level reader feeds it split records.
 */
import assert from 'node:assert/strict';

import {
  CSV_INTERVAL_SECONDS_MAX,
  describeColumn,
  isConstant,
  mappedColumns,
  type CsvColumnRef,
  type CsvConstant,
  type CsvDialect,
  type CsvDialectQuality,
  type CsvEnergyUnit,
} from './csv-dialect-config.js';
import {
  CSV_DIALECT_PROBLEM_VALUE_CHARS_MAX,
  type CsvDialectEvent,
  type CsvDialectField,
  type CsvDialectProblemCode,
  type CsvDialectProblemEvent,
  type CsvDialectSource,
} from './csv-dialect-events.js';
import {
  ISO_8601_FORMAT,
  createDecimalReader,
  createTimestampReader,
  normaliseEnergyUnit,
  readIntervalSeconds,
  toKwhDecimal,
  type DecimalResult,
  type TimestampResult,
} from './csv-dialect-values.js';

/** Where one mapped field is read: its 0-based index and the column as the dialect names it. */
export interface ColumnSlot {
  index: number;
  column: CsvColumnRef;
}

/** The dialect's columns resolved against one file's header (or its declared field count). */
export interface RowPlan {
  fieldCount: number;
  meterId: ColumnSlot;
  channel: ColumnSlot | CsvConstant<string> | null;
  timestamp: ColumnSlot | { date: ColumnSlot; time: ColumnSlot };
  value: ColumnSlot;
  unit: ColumnSlot | CsvConstant<CsvEnergyUnit>;
  quality: { slot: ColumnSlot; map: ReadonlyMap<string, CsvDialectQuality> } | null;
  intervalSeconds: ColumnSlot | CsvConstant<number>;
}

export type HeaderResolution =
  | { ok: true; plan: RowPlan; notes: CsvDialectEvent[] }
  | { ok: false; problems: CsvDialectEvent[] };

const FIELD_LABELS: Readonly<Record<CsvDialectField, string>> = {
  meterId: 'meter id',
  channel: 'channel',
  timestamp: 'timestamp',
  date: 'date',
  time: 'time',
  value: 'value',
  unit: 'unit',
  quality: 'quality',
  intervalSeconds: 'interval length',
};

/**
 * Resolves the dialect's columns against a header's trimmed names. Columns named by text are
 * found wherever they stand, so a reordered export reads the same; columns named by position
 * ignore the names. A column missing or named twice is a problem for the whole file; a column the
 * dialect does not map is a note.
 */
export function resolveHeader(
  dialect: CsvDialect,
  names: readonly string[],
  source: CsvDialectSource,
): HeaderResolution {
  const indexes = new Map<CsvColumnRef, number>();
  const problems: CsvDialectEvent[] = [];
  for (const { path, column } of mappedColumns(dialect.columns)) {
    const field = fieldOfPath(path);
    const found = findColumn(names, column);
    if (found.length === 1) {
      indexes.set(column, found[0] ?? -1);
    } else if (found.length === 0) {
      const message =
        `Line ${source.line}: the header has no column ${describeColumn(column)} for the ` +
        `${FIELD_LABELS[field]} (dialect ${dialect.name}); no record of the file is read.`;
      problems.push(fileProblem('column_missing', field, column, names, message, source));
    } else {
      const message =
        `Line ${source.line}: the header names the column ${describeColumn(column)} ` +
        `${found.length} times, so the ${FIELD_LABELS[field]} is ambiguous; no record of the ` +
        'file is read.';
      problems.push(fileProblem('column_duplicate', field, column, names, message, source));
    }
  }
  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    plan: buildPlan(dialect, names.length, indexes),
    notes: unknownColumnNotes(dialect, names, source),
  };
}

/** The plan of a file without a header row: every column is named by position. */
export function planWithoutHeader(dialect: CsvDialect, fieldCount: number): RowPlan {
  const indexes = new Map<CsvColumnRef, number>();
  for (const { column } of mappedColumns(dialect.columns)) {
    if (typeof column === 'number') indexes.set(column, column);
  }
  return buildPlan(dialect, fieldCount, indexes);
}

function findColumn(names: readonly string[], column: CsvColumnRef): number[] {
  if (typeof column === 'number') return column < names.length ? [column] : [];
  const found: number[] = [];
  names.forEach((name, index) => {
    if (name === column) found.push(index);
  });
  return found;
}

function fieldOfPath(path: readonly string[]): CsvDialectField {
  const [, key, part] = path;
  if (key === 'timestamp' && (part === 'date' || part === 'time')) return part;
  const field = FIELD_KEYS.find((candidate) => candidate === key);
  assert.ok(field !== undefined, `no field for the dialect path ${path.join('.')}`);
  return field;
}

const FIELD_KEYS = Object.keys(FIELD_LABELS) as CsvDialectField[];

function fileProblem(
  code: CsvDialectProblemCode,
  field: CsvDialectField,
  column: CsvColumnRef,
  names: readonly string[],
  message: string,
  source: CsvDialectSource,
): CsvDialectProblemEvent {
  return problem(source, code, field, column, names.join(', '), message);
}

function unknownColumnNotes(
  dialect: CsvDialect,
  names: readonly string[],
  source: CsvDialectSource,
): CsvDialectEvent[] {
  const mapped = new Set(mappedColumns(dialect.columns).map(({ column }) => column));
  if ([...mapped].some((column) => typeof column === 'number')) return [];
  const notes: CsvDialectEvent[] = [];
  names.forEach((name, index) => {
    if (mapped.has(name)) return;
    const what =
      name === ''
        ? `column ${index + 1} has no name, so the dialect ${dialect.name} cannot map it`
        : `the column "${name}" is not mapped by the dialect ${dialect.name}`;
    const message = `Line ${source.line}: ${what}; it is ignored.`;
    notes.push({ kind: 'note', ...source, code: 'column_unknown', column: name, message });
  });
  return notes;
}

function buildPlan(
  dialect: CsvDialect,
  fieldCount: number,
  indexes: ReadonlyMap<CsvColumnRef, number>,
): RowPlan {
  const slot = (column: CsvColumnRef): ColumnSlot => ({ index: indexes.get(column) ?? -1, column });
  const { columns } = dialect;
  const quality = columns.quality;
  return {
    fieldCount,
    meterId: slot(columns.meterId),
    channel:
      columns.channel === null || isConstant(columns.channel)
        ? columns.channel
        : slot(columns.channel),
    timestamp:
      typeof columns.timestamp === 'object'
        ? { date: slot(columns.timestamp.date), time: slot(columns.timestamp.time) }
        : slot(columns.timestamp),
    value: slot(columns.value),
    unit: isConstant(columns.unit) ? columns.unit : slot(columns.unit),
    quality:
      quality === null
        ? null
        : { slot: slot(quality.column), map: new Map(Object.entries(quality.map)) },
    intervalSeconds: isConstant(columns.intervalSeconds)
      ? columns.intervalSeconds
      : slot(columns.intervalSeconds),
  };
}

export function problem(
  source: CsvDialectSource,
  code: CsvDialectProblemCode,
  field: CsvDialectField | null,
  column: CsvColumnRef | null,
  value: string | null,
  message: string,
): CsvDialectProblemEvent {
  const shown =
    value !== null && value.length > CSV_DIALECT_PROBLEM_VALUE_CHARS_MAX
      ? `${value.slice(0, CSV_DIALECT_PROBLEM_VALUE_CHARS_MAX)}... (${value.length} chars)`
      : value;
  return { kind: 'problem', ...source, code, field, column, value: shown, message };
}

/** The cells of one record as read so far, and the problems found in them. */
interface RowCells {
  values: readonly string[];
  source: CsvDialectSource;
  problems: CsvDialectProblemEvent[];
}

/**
 * Turns one record's fields into an interval, or into one problem per cell that cannot be read.
 * Cells are trimmed. A record whose cells are all empty is a blank line and yields nothing.
 */
export class CsvRowInterpreter {
  readonly #dialect: CsvDialect;
  readonly #plan: RowPlan;
  readonly #readDecimal: (text: string) => DecimalResult;
  readonly #readTimestamp: (text: string) => TimestampResult;
  readonly #describeSource: ((column: CsvColumnRef) => string) | null;

  /**
   * `describeSource` names where a column's text came from in messages (the JSON dialect names a
   * field path); by default, `column "Wert"`.
   */
  constructor(
    dialect: CsvDialect,
    plan: RowPlan,
    describeSource: ((column: CsvColumnRef) => string) | null = null,
  ) {
    this.#dialect = dialect;
    this.#plan = plan;
    this.#describeSource = describeSource;
    this.#readDecimal = createDecimalReader(dialect.decimalSeparator, dialect.thousandsSeparator);
    this.#readTimestamp = createTimestampReader(dialect.timestampFormat, dialect.timeZone);
  }

  get fieldCount(): number {
    return this.#plan.fieldCount;
  }

  interpret(values: readonly string[], source: CsvDialectSource): CsvDialectEvent[] {
    if (values.every((value) => value.trim() === '')) return [];
    const row: RowCells = { values, source, problems: [] };
    const plan = this.#plan;
    const meterId = this.#cell(row, plan.meterId, 'meterId');
    const channel = this.#channel(row);
    const intervalSeconds = this.#intervalSeconds(row);
    const valueAsSent = this.#cell(row, plan.value, 'value');
    const unitAsSent = isConstant(plan.unit)
      ? plan.unit.constant
      : this.#cell(row, plan.unit, 'unit');
    const valueKwh = this.#valueKwh(row, valueAsSent, unitAsSent);
    const quality = this.#quality(row);
    const timestampMs = this.#timestampMs(row);
    if (row.problems.length > 0) return row.problems;
    assert.ok(
      meterId !== null &&
        channel !== undefined &&
        intervalSeconds !== null &&
        valueAsSent !== null &&
        unitAsSent !== null &&
        valueKwh !== null &&
        quality !== undefined &&
        timestampMs !== null,
      'a cell left unread has a problem',
    );
    const endsMs = this.#dialect.timestampMarks === 'end' ? intervalSeconds * 1000 : 0;
    return [
      {
        kind: 'interval',
        ...source,
        meterId,
        channel,
        intervalStartUtcMs: timestampMs - endsMs,
        intervalSeconds,
        valueKwh,
        valueAsSent,
        unitAsSent,
        quality,
      },
    ];
  }

  /** The trimmed text of a cell, or null (and a problem) when it is empty. */
  #cell(row: RowCells, slot: ColumnSlot, field: CsvDialectField): string | null {
    const text = (row.values[slot.index] ?? '').trim();
    if (text !== '') return text;
    const message =
      `Line ${row.source.line}: the ${FIELD_LABELS[field]} in ${this.#where(slot.column)} ` +
      'is empty.';
    row.problems.push(problem(row.source, 'field_empty', field, slot.column, '', message));
    return null;
  }

  #cellProblem(
    row: RowCells,
    code: CsvDialectProblemCode,
    field: CsvDialectField,
    slot: ColumnSlot | null,
    value: string,
    reason: string,
  ): void {
    const where = slot === null ? this.#timestampColumnsText() : this.#where(slot.column);
    const message =
      `Line ${row.source.line}: the ${FIELD_LABELS[field]} ${JSON.stringify(value)} in ` +
      `${where} ${reason}.`;
    row.problems.push(problem(row.source, code, field, slot?.column ?? null, value, message));
  }

  /** The channel text or constant, null when none is mapped; undefined when the cell is empty. */
  #channel(row: RowCells): string | null | undefined {
    const channel = this.#plan.channel;
    if (channel === null) return null;
    if (isConstant(channel)) return channel.constant;
    return this.#cell(row, channel, 'channel') ?? undefined;
  }

  #intervalSeconds(row: RowCells): number | null {
    const mapping = this.#plan.intervalSeconds;
    if (isConstant(mapping)) return mapping.constant;
    const text = this.#cell(row, mapping, 'intervalSeconds');
    if (text === null) return null;
    const seconds = readIntervalSeconds(text, CSV_INTERVAL_SECONDS_MAX);
    if (seconds === null) {
      const reason = `is not a whole number of seconds from 1 to ${CSV_INTERVAL_SECONDS_MAX}`;
      this.#cellProblem(row, 'interval_invalid', 'intervalSeconds', mapping, text, reason);
    }
    return seconds;
  }

  #valueKwh(row: RowCells, valueAsSent: string | null, unitAsSent: string | null): string | null {
    const unit = unitAsSent === null ? null : normaliseEnergyUnit(unitAsSent);
    if (unitAsSent !== null && unit === null && !isConstant(this.#plan.unit)) {
      const reason = 'is not an energy unit the dialect reads (Wh, kWh or MWh, in any case)';
      this.#cellProblem(row, 'unit_unknown', 'unit', this.#plan.unit, unitAsSent, reason);
    }
    if (valueAsSent === null) return null;
    const decimal = this.#readDecimal(valueAsSent);
    if (!decimal.ok) {
      this.#cellProblem(row, decimal.code, 'value', this.#plan.value, valueAsSent, decimal.reason);
      return null;
    }
    if (unit === null) return null;
    const kwh = toKwhDecimal(decimal.decimal, unit);
    if (kwh.ok) return kwh.valueKwh;
    const reason = `(${unit}) ${kwh.reason}`;
    this.#cellProblem(row, kwh.code, 'value', this.#plan.value, valueAsSent, reason);
    return null;
  }

  /** The mapped quality, null when none is mapped; undefined when the cell is not in the map. */
  #quality(row: RowCells): CsvDialectQuality | null | undefined {
    const quality = this.#plan.quality;
    if (quality === null) return null;
    const text = (row.values[quality.slot.index] ?? '').trim();
    const mapped = quality.map.get(text);
    if (mapped !== undefined) return mapped;
    const codes = [...quality.map.keys()].map((code) => JSON.stringify(code)).join(', ');
    const reason = `is not in the dialect's quality map (${codes})`;
    this.#cellProblem(row, 'quality_unknown', 'quality', quality.slot, text, reason);
    return undefined;
  }

  #timestampMs(row: RowCells): number | null {
    const timestamp = this.#plan.timestamp;
    let text: string | null;
    let slot: ColumnSlot | null;
    if ('date' in timestamp) {
      const date = this.#cell(row, timestamp.date, 'date');
      const time = this.#cell(row, timestamp.time, 'time');
      if (date === null || time === null) return null;
      const separator = this.#dialect.timestampFormat === ISO_8601_FORMAT ? 'T' : ' ';
      text = `${date}${separator}${time}`;
      slot = null;
    } else {
      text = this.#cell(row, timestamp, 'timestamp');
      slot = timestamp;
    }
    if (text === null) return null;
    const parsed = this.#readTimestamp(text);
    if (parsed.ok) return parsed.epochMs;
    this.#cellProblem(row, parsed.code, 'timestamp', slot, text, parsed.reason);
    return null;
  }

  #where(column: CsvColumnRef): string {
    return this.#describeSource?.(column) ?? `column ${describeColumn(column)}`;
  }

  #timestampColumnsText(): string {
    const timestamp = this.#plan.timestamp;
    if (!('date' in timestamp)) return this.#where(timestamp.column);
    if (this.#describeSource !== null) {
      return `${this.#where(timestamp.date.column)} and ${this.#where(timestamp.time.column)}`;
    }
    return (
      `columns ${describeColumn(timestamp.date.column)} and ` +
      describeColumn(timestamp.time.column)
    );
  }
}
