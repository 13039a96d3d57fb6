/**
 * The accounts file (`amisync accounts import accounts.csv`): one row per meter on a service point
 * over a span of time, with the account, the tariff (an imported tariff's label or name) and the
 * service point's time zone. A meter exchange is two rows: the old meter `to` the exchange, the new
 * one `from` it. Every problem names its row (1 = the header), column, rule and value.
 */
import { Temporal } from 'temporal-polyfill';
import type { AssignmentRow } from '../core/billing-store.js';
import { localMidnightMs } from './billing-period.js';

export const ACCOUNT_COLUMNS = [
  'account_id',
  'service_point_id',
  'meter_id',
  'tariff',
  'time_zone',
  'from',
  'to',
] as const;
/** Optional columns: an AMR meter's register digit count and multiplier (billing/register.ts). */
export const ACCOUNT_OPTIONAL_COLUMNS = ['register_digits', 'multiplier'] as const;
type Column = (typeof ACCOUNT_COLUMNS)[number] | (typeof ACCOUNT_OPTIONAL_COLUMNS)[number];
const ALL_COLUMNS = [...ACCOUNT_COLUMNS, ...ACCOUNT_OPTIONAL_COLUMNS] as const;
const REGISTER_DIGITS_TEXT = /^(?:[1-9]|10)$/;
const MULTIPLIER_TEXT = /^[1-9][0-9]{0,5}$/;

const ID_TEXT = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
const DATE_TEXT = /^(\d{4})-(\d{2})-(\d{2})$/;
export const ACCOUNT_ROWS_MAX = 1_000_000;

export interface AccountProblem {
  row: number;
  column: string;
  rule: string;
  value: string;
  message: string;
}

/** One assignment as a file states it, before it is stored. */
export interface AssignmentSpec {
  row: number;
  accountId: string;
  servicePointId: string;
  meterId: string;
  tariff: string;
  timeZone: string;
  fromMs: number;
  toMs: number | null;
  registerDigits: number | null;
  multiplier: number;
}

/** Splits CSV text into rows of cells (RFC 4180 quotes; CRLF or LF). */
export function csvRows(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let at = 0; at < text.length; at += 1) {
    const char = text[at];
    if (quoted) {
      if (char === '"' && text[at + 1] === '"') {
        cell += '"';
        at += 1;
      } else if (char === '"') quoted = false;
      else cell += char;
    } else if (char === '"' && cell === '') quoted = true;
    else if (char === ',') {
      row.push(cell);
      cell = '';
    } else if (char === '\n' || char === '\r') {
      if (char === '\r' && text[at + 1] === '\n') at += 1;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += char;
  }
  if (cell !== '' || row.length > 0) rows.push([...row, cell]);
  return rows.filter((cells) => !(cells.length === 1 && cells[0] === ''));
}

export function isTimeZone(name: string): boolean {
  try {
    Temporal.Now.zonedDateTimeISO(name);
    return true;
  } catch {
    return false;
  }
}

/** A `YYYY-MM-DD` local date (its midnight in the zone) or an ISO instant with an offset. */
function instantOf(text: string, timeZone: string): number | null {
  const date = DATE_TEXT.exec(text);
  try {
    if (date !== null) {
      Temporal.PlainDate.from(text, { overflow: 'reject' });
      return localMidnightMs(Number(date[1]), Number(date[2]), Number(date[3]), timeZone);
    }
    return Temporal.Instant.from(text).epochMilliseconds;
  } catch {
    return null;
  }
}

/**
 * Time zones and dates of one file, each parsed once: a file names few zones and few dates, and
 * parsing them (Temporal) costs far more than the rest of a row.
 */
class TimeMemo {
  readonly #zones = new Map<string, boolean>();
  readonly #instants = new Map<string, number | null>();

  zoneKnown(name: string): boolean {
    let known = this.#zones.get(name);
    if (known === undefined) {
      known = isTimeZone(name);
      this.#zones.set(name, known);
    }
    return known;
  }

  instant(text: string, timeZone: string): number | null {
    const key = `${timeZone}|${text}`;
    let ms = this.#instants.get(key);
    if (ms === undefined) {
      ms = instantOf(text, timeZone);
      this.#instants.set(key, ms);
    }
    return ms;
  }
}

interface RowContext {
  row: number;
  cells: Record<Column, string>;
  problems: AccountProblem[];
}

function problem(context: RowContext, column: Column, rule: string, message: string): void {
  context.problems.push({ row: context.row, column, rule, value: context.cells[column], message });
}

function readRow(
  context: RowContext,
  tariffNames: ReadonlySet<string>,
  time: TimeMemo,
): AssignmentSpec | null {
  const { cells } = context;
  const before = context.problems.length;
  for (const column of ['account_id', 'service_point_id', 'meter_id'] as const) {
    if (!ID_TEXT.test(cells[column])) {
      problem(
        context,
        column,
        'id.pattern',
        `${column} must be 1-64 letters, digits, '.', '_', ':' or '-', starting with a letter or digit`,
      );
    }
  }
  if (!tariffNames.has(cells.tariff)) {
    problem(context, 'tariff', 'tariff.known', 'no imported tariff has this label or name');
  }
  const zoneOk = time.zoneKnown(cells.time_zone);
  if (!zoneOk) problem(context, 'time_zone', 'time_zone.iana', 'not an IANA time zone');
  const zone = zoneOk ? cells.time_zone : 'UTC';
  const fromMs = time.instant(cells.from, zone);
  if (fromMs === null) {
    problem(context, 'from', 'date.format', 'expected YYYY-MM-DD or an ISO instant with offset');
  }
  const toMs = cells.to === '' ? null : time.instant(cells.to, zone);
  if (cells.to !== '' && toMs === null) {
    problem(context, 'to', 'date.format', 'expected YYYY-MM-DD, an ISO instant, or empty');
  } else if (toMs !== null && fromMs !== null && toMs <= fromMs) {
    problem(context, 'to', 'span.order', `to must be after from (${cells.from})`);
  }
  const digitsText = cells.register_digits;
  if (digitsText !== '' && !REGISTER_DIGITS_TEXT.test(digitsText)) {
    problem(context, 'register_digits', 'register_digits.range', 'a whole number from 1 to 10');
  }
  if (cells.multiplier !== '' && !MULTIPLIER_TEXT.test(cells.multiplier)) {
    problem(context, 'multiplier', 'multiplier.range', 'a whole number from 1 to 999999');
  }
  if (context.problems.length > before || fromMs === null) return null;
  return {
    row: context.row,
    accountId: cells.account_id,
    servicePointId: cells.service_point_id,
    meterId: cells.meter_id,
    tariff: cells.tariff,
    timeZone: cells.time_zone,
    fromMs,
    toMs,
    registerDigits: digitsText === '' ? null : Number(digitsText),
    multiplier: cells.multiplier === '' ? 1 : Number(cells.multiplier),
  };
}

function overlaps(a: { fromMs: number; toMs: number | null }, b: typeof a): boolean {
  const aEnd = a.toMs ?? Number.POSITIVE_INFINITY;
  const bEnd = b.toMs ?? Number.POSITIVE_INFINITY;
  return a.fromMs < bEnd && b.fromMs < aEnd;
}

type Known = AssignmentSpec | AssignmentRow;

/**
 * The assignments seen so far (stored, then the file's), indexed by service point and by meter,
 * so that each row is checked against the few rows it can conflict with and not against all of
 * them: an import stays linear in its rows. `comparisons` counts the row pairs compared.
 */
class KnownAssignments {
  readonly #specs = new Set<string>();
  readonly #byServicePoint = new Map<string, Known[]>();
  readonly #byMeter = new Map<string, Known[]>();
  comparisons = 0;

  add(known: Known): void {
    this.#specs.add(specKey(known));
    push(this.#byServicePoint, known.servicePointId, known);
    push(this.#byMeter, known.meterId, known);
  }

  has(spec: AssignmentSpec): boolean {
    return this.#specs.has(specKey(spec));
  }

  /** Cross-row rules: one account, tariff and zone per service point; one place per meter. */
  check(spec: AssignmentSpec, problems: AccountProblem[]): void {
    for (const other of this.#byServicePoint.get(spec.servicePointId) ?? []) {
      this.comparisons += 1;
      const conflict = servicePointConflict(spec, other);
      if (conflict !== null) problems.push(conflict);
    }
    for (const other of this.#byMeter.get(spec.meterId) ?? []) {
      this.comparisons += 1;
      if (!overlaps(other, spec)) continue;
      problems.push({
        row: spec.row,
        column: 'meter_id',
        rule: 'meter.overlap',
        value: spec.meterId,
        message: `the meter is on service point ${other.servicePointId} over an overlapping span (${where(other)})`,
      });
    }
  }
}

function push(map: Map<string, Known[]>, key: string, known: Known): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [known]);
  else list.push(known);
}

function specKey(a: Known): string {
  return JSON.stringify([
    a.accountId,
    a.servicePointId,
    a.meterId,
    a.tariff,
    a.timeZone,
    a.fromMs,
    a.toMs,
    a.registerDigits,
    a.multiplier,
  ]);
}

function where(other: Known): string {
  return 'row' in other ? `row ${other.row}` : `stored assignment ${other.id}`;
}

function servicePointConflict(spec: AssignmentSpec, other: Known): AccountProblem | null {
  const at = { row: spec.row };
  if (other.accountId !== spec.accountId)
    return {
      ...at,
      column: 'account_id',
      rule: 'service_point.account',
      value: spec.accountId,
      message: `the service point belongs to account ${other.accountId} (${where(other)})`,
    };
  if (other.tariff !== spec.tariff)
    return {
      ...at,
      column: 'tariff',
      rule: 'service_point.tariff',
      value: spec.tariff,
      message: `the service point is on tariff ${other.tariff} (${where(other)})`,
    };
  if (other.timeZone !== spec.timeZone)
    return {
      ...at,
      column: 'time_zone',
      rule: 'service_point.time_zone',
      value: spec.timeZone,
      message: `the service point is in ${other.timeZone} (${where(other)})`,
    };
  return null;
}

export interface AccountsParse {
  /** New assignments to store (rows equal to a stored one are skipped). */
  assignments: AssignmentSpec[];
  skipped: number;
  problems: AccountProblem[];
  /** Row pairs compared by the cross-row rules (linear in the rows for a usual file). */
  comparisons: number;
}

/** Reads an accounts file against the stored assignments and the imported tariffs' names. */
export function parseAccounts(
  text: string,
  stored: readonly AssignmentRow[],
  tariffNames: ReadonlySet<string>,
): AccountsParse {
  const rows = csvRows(text.replace(/^\uFEFF/, ''));
  const header = (rows[0] ?? []).map((cell) => cell.trim());
  const problems: AccountProblem[] = [];
  const missing = ACCOUNT_COLUMNS.filter((column) => !header.includes(column));
  if (missing.length > 0 || rows.length - 1 > ACCOUNT_ROWS_MAX) {
    for (const column of missing) {
      problems.push({
        row: 1,
        column,
        rule: 'header.column',
        value: '',
        message: `the header has no ${column} column`,
      });
    }
    if (rows.length - 1 > ACCOUNT_ROWS_MAX)
      problems.push({
        row: 1,
        column: '',
        rule: 'rows.max',
        value: String(rows.length - 1),
        message: `at most ${ACCOUNT_ROWS_MAX} rows`,
      });
    return { assignments: [], skipped: 0, problems, comparisons: 0 };
  }
  const assignments: AssignmentSpec[] = [];
  const known = new KnownAssignments();
  for (const row of stored) known.add(row);
  const columnIndex = ALL_COLUMNS.map((column) => [column, header.indexOf(column)] as const);
  const time = new TimeMemo();
  let skipped = 0;
  rows.slice(1).forEach((cellsOfRow, index) => {
    const cells = Object.fromEntries(
      columnIndex.map(([column, at]) => [column, at < 0 ? '' : (cellsOfRow[at] ?? '').trim()]),
    ) as Record<Column, string>;
    const spec = readRow({ row: index + 2, cells, problems }, tariffNames, time);
    if (spec === null) return;
    if (known.has(spec)) {
      skipped += 1;
      return;
    }
    known.check(spec, problems);
    known.add(spec);
    assignments.push(spec);
  });
  return { assignments, skipped, problems, comparisons: known.comparisons };
}
