/**
 * The BillingStore contract on the PostgreSQL store: tariffs, meter assignments and invoices in
 * their append-only tables (postgres-migrations.ts), written on the client of the store's own
 * transaction so that each write and its audit entry (the same chain as every batch) commit
 * together. The same role as src/store/sqlite/sqlite-billing.ts; src/store/billing.case.test.ts
 * holds the two to one contract.
 */
import {
  keepCurrentVersion,
  INVOICE_KINDS,
  type AssignmentInsert,
  type AssignmentRow,
  type BillingLedgerQuery,
  type BillingLedgerRow,
  type BillingPeriodQuery,
  type BillingStore,
  type BillingTransaction,
  type HeldAnomalyStart,
  type InvoiceInsert,
  type InvoiceKind,
  type InvoiceRow,
  type TariffInsert,
  type TariffRow,
  type LedgerRowRef,
} from '../../core/billing-store.js';
import { int, intOrNull, text, textOrNull, type PgRow } from './postgres-codecs.js';
import { all, cursorPages, type Queryable } from './postgres-query.js';
import { asStoreError, type PostgresStore } from './postgres-store.js';

/** Rows fetched per step when a bill run reads a whole period. */
const LEDGER_ROWS_PER_STEP = 10_000;

const TARIFF_COLUMNS =
  'id, label, name, utility, json, sha256, start_ms, end_ms, imported_at_ms, audit_seq';
const ASSIGNMENT_COLUMNS = `id, account_id, service_point_id, meter_id, tariff, time_zone, from_ms,
  to_ms, imported_at_ms, audit_seq, register_digits, multiplier`;
const INVOICE_COLUMNS = `id, account_id, period, kind, total_cents, lines, basis, ledger_row_id_max,
  ledger_digest, ledger_rows, audit_head_seq, audit_head_hash, override, created_at_ms, audit_seq`;
const BILLING_LEDGER_COLUMNS = `id, meter_id, channel, interval_start_ms, interval_seconds,
  value_micro, quality, idempotency_key, version`;
/**
 * SQLite orders text by its bytes; PostgreSQL by the database's collation, which may skip the
 * hyphen of a meter id. Billing reads in byte order on both, so versions and channels arrive in
 * the same order and the two engines keep the same current rows.
 */
const LEDGER_ORDER = 'interval_start_ms, meter_id COLLATE "C", channel COLLATE "C", version';

function tariffFrom(row: PgRow): TariffRow {
  return {
    id: int(row.id, 'id'),
    label: text(row.label, 'label'),
    name: text(row.name, 'name'),
    utility: text(row.utility, 'utility'),
    json: text(row.json, 'json'),
    sha256: text(row.sha256, 'sha256'),
    startMs: intOrNull(row.start_ms, 'start_ms'),
    endMs: intOrNull(row.end_ms, 'end_ms'),
    importedAtMs: int(row.imported_at_ms, 'imported_at_ms'),
    auditSeq: int(row.audit_seq, 'audit_seq'),
  };
}

function assignmentFrom(row: PgRow): AssignmentRow {
  return {
    id: int(row.id, 'id'),
    accountId: text(row.account_id, 'account_id'),
    servicePointId: text(row.service_point_id, 'service_point_id'),
    meterId: text(row.meter_id, 'meter_id'),
    tariff: text(row.tariff, 'tariff'),
    timeZone: text(row.time_zone, 'time_zone'),
    fromMs: int(row.from_ms, 'from_ms'),
    toMs: intOrNull(row.to_ms, 'to_ms'),
    registerDigits: intOrNull(row.register_digits, 'register_digits'),
    multiplier: int(row.multiplier, 'multiplier'),
    importedAtMs: int(row.imported_at_ms, 'imported_at_ms'),
    auditSeq: int(row.audit_seq, 'audit_seq'),
  };
}

function invoiceKind(value: unknown): InvoiceKind {
  const kind = text(value, 'kind');
  const known = INVOICE_KINDS.find((candidate) => candidate === kind);
  if (known === undefined) throw new Error(`kind is not an invoice kind: ${kind}`);
  return known;
}

function invoiceFrom(row: PgRow): InvoiceRow {
  return {
    id: int(row.id, 'id'),
    accountId: text(row.account_id, 'account_id'),
    period: text(row.period, 'period'),
    kind: invoiceKind(row.kind),
    totalCents: int(row.total_cents, 'total_cents'),
    linesJson: text(row.lines, 'lines'),
    basisJson: text(row.basis, 'basis'),
    ledgerRowIdMax: int(row.ledger_row_id_max, 'ledger_row_id_max'),
    ledgerDigest: text(row.ledger_digest, 'ledger_digest'),
    ledgerRows: int(row.ledger_rows, 'ledger_rows'),
    auditHeadSeq: int(row.audit_head_seq, 'audit_head_seq'),
    auditHeadHash: text(row.audit_head_hash, 'audit_head_hash'),
    overrideJson: textOrNull(row.override, 'override'),
    createdAtMs: int(row.created_at_ms, 'created_at_ms'),
    auditSeq: int(row.audit_seq, 'audit_seq'),
  };
}

function billingLedgerFrom(row: PgRow): BillingLedgerRow {
  return {
    id: int(row.id, 'id'),
    meterId: text(row.meter_id, 'meter_id'),
    channel: text(row.channel, 'channel'),
    intervalStartMs: int(row.interval_start_ms, 'interval_start_ms'),
    intervalSeconds: int(row.interval_seconds, 'interval_seconds'),
    valueMicro: int(row.value_micro, 'value_micro'),
    quality: text(row.quality, 'quality'),
    idempotencyKey: text(row.idempotency_key, 'idempotency_key'),
    version: int(row.version, 'version'),
  };
}

/**
 * The query of `billingLedger`: ($1 meter ids, $2 from, $3 to, $4 row id max). Exported for the
 * query-plan test (postgres-billing.test.ts), which holds it to the meter's index in each month.
 */
export function billingLedgerSql(registerReads: boolean): string {
  return `SELECT ${BILLING_LEDGER_COLUMNS} FROM ledger
    WHERE meter_id = ANY($1::text[]) ${registerReads ? 'AND interval_seconds = 0' : ''}
      AND interval_start_ms >= $2 AND interval_start_ms < $3 AND id <= $4
      AND commodity = 'electricity' AND unit = 'kWh'
    ORDER BY ${LEDGER_ORDER}`;
}

async function insertTariff(db: Queryable, row: TariffInsert): Promise<number> {
  const [inserted] = await all(
    db,
    `INSERT INTO tariffs (label, name, utility, json, sha256, start_ms, end_ms, imported_at_ms,
       audit_seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
    [
      row.label,
      row.name,
      row.utility,
      row.json,
      row.sha256,
      row.startMs,
      row.endMs,
      row.importedAtMs,
      row.auditSeq,
    ],
  );
  return int(inserted?.id, 'id');
}

/** Every assignment in one statement (one round trip), in the order given, so ids keep it. */
async function insertAssignments(db: Queryable, rows: readonly AssignmentInsert[]): Promise<void> {
  if (rows.length === 0) return;
  const column = <T>(pick: (row: AssignmentInsert) => T): T[] => rows.map(pick);
  await db.query(
    `INSERT INTO meter_assignments (account_id, service_point_id, meter_id, tariff, time_zone,
       from_ms, to_ms, imported_at_ms, audit_seq, register_digits, multiplier)
     SELECT account, point, meter, tariff, zone, from_ms, to_ms, at_ms, seq, digits, factor
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[],
       $7::bigint[], $8::bigint[], $9::bigint[], $10::integer[], $11::bigint[])
       WITH ORDINALITY AS given (account, point, meter, tariff, zone, from_ms, to_ms, at_ms, seq,
         digits, factor, position)
     ORDER BY position`,
    [
      column((row) => row.accountId),
      column((row) => row.servicePointId),
      column((row) => row.meterId),
      column((row) => row.tariff),
      column((row) => row.timeZone),
      column((row) => row.fromMs),
      column((row) => row.toMs),
      column((row) => row.importedAtMs),
      column((row) => row.auditSeq),
      column((row) => row.registerDigits),
      column((row) => row.multiplier),
    ],
  );
}

async function insertInvoice(db: Queryable, row: InvoiceInsert): Promise<number> {
  const [inserted] = await all(
    db,
    `INSERT INTO invoices (account_id, period, kind, total_cents, lines, basis,
       ledger_row_id_max, ledger_digest, ledger_rows, audit_head_seq, audit_head_hash, override,
       created_at_ms, audit_seq)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id`,
    [
      row.accountId,
      row.period,
      row.kind,
      row.totalCents,
      row.linesJson,
      row.basisJson,
      row.ledgerRowIdMax,
      row.ledgerDigest,
      row.ledgerRows,
      row.auditHeadSeq,
      row.auditHeadHash,
      row.overrideJson,
      row.createdAtMs,
      row.auditSeq,
    ],
  );
  return int(inserted?.id, 'id');
}

async function selectInvoices(
  db: Queryable,
  filter: { accountId?: string; period?: string },
): Promise<InvoiceRow[]> {
  const rows = await all(
    db,
    `SELECT ${INVOICE_COLUMNS} FROM invoices
     WHERE ($1::text IS NULL OR account_id = $1) AND ($2::text IS NULL OR period = $2)
     ORDER BY id`,
    [filter.accountId ?? null, filter.period ?? null],
  );
  return rows.map(invoiceFrom);
}

/**
 * The ledger "as it stood": the last id the ledger's id sequence gave out (0 before the first).
 * Inside a billing transaction, which holds the schema's write lock exclusively, every transaction
 * that drew a ledger id has committed or rolled back, so the rows up to it are exactly the rows
 * stored, and every later row gets a higher id. The mark may be the id of a batch that rolled
 * back (a gap), which selects the same rows as the highest stored id would. Read from the
 * sequence, not as max(id): the ledger has no index on id alone (each index costs every ingest),
 * so max(id) would read every row of every month.
 */
async function selectLedgerRowIdMax(db: Queryable): Promise<number> {
  const [row] = await all(
    db,
    'SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS id FROM ledger_id_seq',
  );
  return int(row?.id, 'id');
}

/** The batches of given ledger rows, through the meter index of the months the rows span. */
export const BATCH_IDS_SQL = `SELECT id, batch_id FROM ledger
  WHERE meter_id = ANY($1::text[]) AND interval_start_ms >= $2 AND interval_start_ms <= $3
    AND id = ANY($4::bigint[])`;

export class PostgresBillingStore implements BillingStore {
  readonly #store: PostgresStore;

  constructor(store: PostgresStore) {
    this.#store = store;
  }

  /** A read outside any transaction, its engine errors classified as the store's. */
  async #rows(sql: string, params: unknown[] = []): Promise<PgRow[]> {
    try {
      return await all(this.#store.pool, sql, params);
    } catch (error) {
      throw asStoreError(error);
    }
  }

  transaction<T>(fn: (tx: BillingTransaction) => Promise<T>): Promise<T> {
    return this.#store.transactionWithClient(async (db, tx) =>
      fn({
        auditHead: () => tx.auditHead(),
        appendAuditEntry: (entry) => tx.appendAuditEntry(entry),
        insertTariff: (row) => insertTariff(db, row),
        insertAssignments: (rows) => insertAssignments(db, rows),
        insertInvoice: (row) => insertInvoice(db, row),
        invoicesOf: (accountId, period) => selectInvoices(db, { accountId, period }),
        ledgerRowIdMax: () => selectLedgerRowIdMax(db),
      }),
    );
  }

  async listTariffs(): Promise<TariffRow[]> {
    return (await this.#rows(`SELECT ${TARIFF_COLUMNS} FROM tariffs ORDER BY id`)).map(tariffFrom);
  }

  async findTariffBySha256(sha256: string): Promise<TariffRow | null> {
    const [row] = await this.#rows(`SELECT ${TARIFF_COLUMNS} FROM tariffs WHERE sha256 = $1`, [
      sha256,
    ]);
    return row === undefined ? null : tariffFrom(row);
  }

  async listAssignments(accountIds?: readonly string[]): Promise<AssignmentRow[]> {
    const rows = await this.#rows(
      `SELECT ${ASSIGNMENT_COLUMNS} FROM meter_assignments
       WHERE $1::text[] IS NULL OR account_id = ANY($1::text[]) ORDER BY id`,
      [accountIds === undefined ? null : [...accountIds]],
    );
    return rows.map(assignmentFrom);
  }

  async listInvoices(filter: { accountId?: string; period?: string }): Promise<InvoiceRow[]> {
    try {
      return await selectInvoices(this.#store.pool, filter);
    } catch (error) {
      throw asStoreError(error);
    }
  }

  async getInvoice(id: number): Promise<InvoiceRow | null> {
    const [row] = await this.#rows(`SELECT ${INVOICE_COLUMNS} FROM invoices WHERE id = $1`, [id]);
    return row === undefined ? null : invoiceFrom(row);
  }

  /**
   * A few meters' rows through the ledger's index by meter (ledger_by_meter, or the partial index
   * of register reads), in each month's partition the span touches; the caller's meters are one
   * array parameter, so no list of them meets the bind-parameter cap.
   */
  async billingLedger(query: BillingLedgerQuery): Promise<BillingLedgerRow[]> {
    if (query.meterIds.length === 0) return [];
    const rows = await this.#rows(billingLedgerSql(query.registerReads === true), [
      [...query.meterIds],
      query.fromMs,
      query.toMs,
      query.rowIdMax,
    ]);
    const current: BillingLedgerRow[] = [];
    for (const row of rows) keepCurrentVersion(current, billingLedgerFrom(row));
    return current;
  }

  /**
   * One range scan of the span (the partitions of its months), read through a cursor in one
   * REPEATABLE READ snapshot so that a month of every meter never sits in memory as result rows.
   */
  async billingLedgerByMeter(query: BillingPeriodQuery): Promise<Map<string, BillingLedgerRow[]>> {
    const byMeter = new Map<string, BillingLedgerRow[]>();
    if (query.meterIds.size === 0) return byMeter;
    const sql = `SELECT ${BILLING_LEDGER_COLUMNS} FROM ledger
       WHERE interval_start_ms >= $1 AND interval_start_ms < $2 AND id <= $3
         AND commodity = 'electricity' AND unit = 'kWh'
       ORDER BY ${LEDGER_ORDER}`;
    await this.#scan(sql, [query.fromMs, query.toMs, query.rowIdMax], (row) => {
      const meterId = text(row.meter_id, 'meter_id');
      if (!query.meterIds.has(meterId)) return;
      const reading = billingLedgerFrom(row);
      const list = byMeter.get(meterId);
      if (list === undefined) byMeter.set(meterId, [reading]);
      else keepCurrentVersion(list, reading);
    });
    return byMeter;
  }

  async #scan(sql: string, params: unknown[], each: (row: PgRow) => void): Promise<void> {
    try {
      for await (const page of cursorPages(this.#store.pool, sql, params, LEDGER_ROWS_PER_STEP)) {
        for (const row of page) each(row);
      }
    } catch (error) {
      throw asStoreError(error);
    }
  }

  async heldAnomalyStarts(fromMs: number, toMs: number): Promise<HeldAnomalyStart[]> {
    const rows = await this.#rows(
      `SELECT meter, start FROM (
         SELECT id, reading ->> 'meterId' AS meter, (reading ->> 'intervalStartMs')::bigint AS start
         FROM anomalies WHERE status = 'held') held
       WHERE start >= $1 AND start < $2 ORDER BY id`,
      [fromMs, toMs],
    );
    return rows.map((row) => ({
      meterId: text(row.meter, 'meter'),
      intervalStartMs: int(row.start, 'start'),
    }));
  }

  /**
   * The ledger holds no index on id alone (ingest pays for every index), so the rows are found
   * through their meters' index in the months they span (`ledger_by_meter`, meter then interval
   * start), then picked by id.
   */
  async batchIdsOfLedgerRows(refs: readonly LedgerRowRef[]): Promise<Map<number, number>> {
    const result = new Map<number, number>();
    if (refs.length === 0) return result;
    const starts = refs.map((ref) => ref.intervalStartMs);
    const rows = await this.#rows(BATCH_IDS_SQL, [
      [...new Set(refs.map((ref) => ref.meterId))],
      Math.min(...starts),
      Math.max(...starts),
      refs.map((ref) => ref.id),
    ]);
    const found = new Map<number, number>();
    for (const row of rows) found.set(int(row.id, 'id'), int(row.batch_id, 'batch_id'));
    // In the order asked, as the SQLite store answers.
    for (const { id } of refs) {
      const batchId = found.get(id);
      if (batchId !== undefined) result.set(id, batchId);
    }
    return result;
  }

  async heldAnomalies(meterIds: readonly string[], fromMs: number, toMs: number): Promise<number> {
    if (meterIds.length === 0) return 0;
    const [row] = await this.#rows(
      `SELECT count(*) AS held FROM anomalies WHERE status = 'held'
         AND reading ->> 'meterId' = ANY($1::text[])
         AND (reading ->> 'intervalStartMs')::bigint >= $2
         AND (reading ->> 'intervalStartMs')::bigint < $3`,
      [[...meterIds], fromMs, toMs],
    );
    return int(row?.held, 'held');
  }
}
