/**
 * The BillingStore contract on the SQLite store: tariffs, meter assignments and invoices in their
 * append-only tables, written inside the store's own transaction so that each write and its audit
 * entry commit together. Kept apart from the engine file so that its role reads in one place.
 */
import type Database from 'better-sqlite3';
import {
  keepCurrentVersion,
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
import type { SqliteStore } from './sqlite-store.js';

type Row = Record<string, unknown>;

const TARIFF_COLUMNS =
  'id, label, name, utility, json, sha256, start_ms, end_ms, imported_at_ms, audit_seq';
const ASSIGNMENT_COLUMNS = `id, account_id, service_point_id, meter_id, tariff, time_zone, from_ms,
  to_ms, imported_at_ms, audit_seq, register_digits, multiplier`;
const INVOICE_COLUMNS = `id, account_id, period, kind, total_cents, lines, basis, ledger_row_id_max,
  ledger_digest, ledger_rows, audit_head_seq, audit_head_hash, override, created_at_ms, audit_seq`;

function tariffFrom(row: Row): TariffRow {
  return {
    id: row.id as number,
    label: row.label as string,
    name: row.name as string,
    utility: row.utility as string,
    json: row.json as string,
    sha256: row.sha256 as string,
    startMs: (row.start_ms as number | null) ?? null,
    endMs: (row.end_ms as number | null) ?? null,
    importedAtMs: row.imported_at_ms as number,
    auditSeq: row.audit_seq as number,
  };
}

function assignmentFrom(row: Row): AssignmentRow {
  return {
    id: row.id as number,
    accountId: row.account_id as string,
    servicePointId: row.service_point_id as string,
    meterId: row.meter_id as string,
    tariff: row.tariff as string,
    timeZone: row.time_zone as string,
    fromMs: row.from_ms as number,
    toMs: (row.to_ms as number | null) ?? null,
    registerDigits: (row.register_digits as number | null) ?? null,
    multiplier: (row.multiplier as number | null) ?? 1,
    importedAtMs: row.imported_at_ms as number,
    auditSeq: row.audit_seq as number,
  };
}

/** The ledger columns billing reads, in the order `billingLedgerFrom` decodes them. */
const BILLING_LEDGER_COLUMNS = `id, meter_id, channel, interval_start_ms, interval_seconds,
  value_micro, quality, idempotency_key, version`;

/** A raw (array) row of BILLING_LEDGER_COLUMNS. */
function billingLedgerFrom(row: unknown[]): BillingLedgerRow {
  return {
    id: row[0] as number,
    meterId: row[1] as string,
    channel: row[2] as string,
    intervalStartMs: row[3] as number,
    intervalSeconds: row[4] as number,
    valueMicro: row[5] as number,
    quality: row[6] as string,
    idempotencyKey: row[7] as string,
    version: row[8] as number,
  };
}

function invoiceFrom(row: Row): InvoiceRow {
  return {
    id: row.id as number,
    accountId: row.account_id as string,
    period: row.period as string,
    kind: row.kind as InvoiceKind,
    totalCents: row.total_cents as number,
    linesJson: row.lines as string,
    basisJson: row.basis as string,
    ledgerRowIdMax: row.ledger_row_id_max as number,
    ledgerDigest: row.ledger_digest as string,
    ledgerRows: row.ledger_rows as number,
    auditHeadSeq: row.audit_head_seq as number,
    auditHeadHash: row.audit_head_hash as string,
    overrideJson: (row.override as string | null) ?? null,
    createdAtMs: row.created_at_ms as number,
    auditSeq: row.audit_seq as number,
  };
}

/**
 * The query of `billingLedger` for `meters` meters. Both forms find a few meters' rows through an
 * index by meter (bill verify and bill prove read one account), not a range scan of every meter's
 * month: register reads (interval_seconds 0) through their partial index, the rest through
 * `ledger_by_meter`. Rows come back in interval order, every version up to the row id in version
 * order, and the caller keeps the last of each interval (far cheaper than asking SQLite for the
 * highest version row by row). Exported for the query-plan test.
 */
export function billingLedgerSql(meters: number, registerReads: boolean): string {
  const marks = Array.from({ length: meters }, () => '?').join(', ');
  return registerReads
    ? `SELECT ${BILLING_LEDGER_COLUMNS} FROM ledger INDEXED BY ledger_register_reads
       WHERE interval_seconds = 0 AND meter_id IN (${marks})
         AND interval_start_ms >= ? AND interval_start_ms < ? AND id <= ?
         AND commodity = 'electricity' AND unit = 'kWh'
       ORDER BY interval_start_ms, meter_id, channel, version`
    : `SELECT ${BILLING_LEDGER_COLUMNS} FROM ledger INDEXED BY ledger_by_meter
       WHERE meter_id IN (${marks})
         AND interval_start_ms >= ? AND interval_start_ms < ? AND id <= ?
         AND commodity = 'electricity' AND unit = 'kWh'
       ORDER BY interval_start_ms, meter_id, channel, version`;
}

export class SqliteBillingStore implements BillingStore {
  readonly #store: SqliteStore;
  readonly #db: Database.Database;

  constructor(store: SqliteStore) {
    this.#store = store;
    this.#db = store.db;
  }

  transaction<T>(fn: (tx: BillingTransaction) => Promise<T>): Promise<T> {
    return this.#store.transaction(async (tx) =>
      fn({
        auditHead: () => tx.auditHead(),
        appendAuditEntry: (entry) => tx.appendAuditEntry(entry),
        insertTariff: async (row) => this.#insertTariff(row),
        insertAssignments: async (rows) => this.#insertAssignments(rows),
        insertInvoice: async (row) => this.#insertInvoice(row),
        invoicesOf: async (accountId, period) => this.#invoices({ accountId, period }),
        ledgerRowIdMax: async () => this.#ledgerRowIdMax(),
      }),
    );
  }

  #insertTariff(row: TariffInsert): number {
    const result = this.#db
      .prepare(
        `INSERT INTO tariffs (label, name, utility, json, sha256, start_ms, end_ms, imported_at_ms,
           audit_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        row.label,
        row.name,
        row.utility,
        row.json,
        row.sha256,
        row.startMs,
        row.endMs,
        row.importedAtMs,
        row.auditSeq,
      );
    return Number(result.lastInsertRowid);
  }

  #insertAssignments(rows: readonly AssignmentInsert[]): void {
    const insert = this.#db.prepare(
      `INSERT INTO meter_assignments (account_id, service_point_id, meter_id, tariff, time_zone,
         from_ms, to_ms, imported_at_ms, audit_seq, register_digits, multiplier)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    for (const row of rows) {
      insert.run(
        row.accountId,
        row.servicePointId,
        row.meterId,
        row.tariff,
        row.timeZone,
        row.fromMs,
        row.toMs,
        row.importedAtMs,
        row.auditSeq,
        row.registerDigits,
        row.multiplier,
      );
    }
  }

  #insertInvoice(row: InvoiceInsert): number {
    const result = this.#db
      .prepare(
        `INSERT INTO invoices (account_id, period, kind, total_cents, lines, basis,
           ledger_row_id_max, ledger_digest, ledger_rows, audit_head_seq, audit_head_hash, override,
           created_at_ms, audit_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
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
      );
    return Number(result.lastInsertRowid);
  }

  #ledgerRowIdMax(): number {
    const row = this.#db.prepare('SELECT coalesce(max(id), 0) AS id FROM ledger').get() as Row;
    return row.id as number;
  }

  #invoices(filter: { accountId?: string; period?: string }): InvoiceRow[] {
    const rows = this.#db
      .prepare(
        `SELECT ${INVOICE_COLUMNS} FROM invoices
         WHERE (@account IS NULL OR account_id = @account) AND (@period IS NULL OR period = @period)
         ORDER BY id`,
      )
      .all({ account: filter.accountId ?? null, period: filter.period ?? null }) as Row[];
    return rows.map(invoiceFrom);
  }

  async listTariffs(): Promise<TariffRow[]> {
    const rows = this.#db.prepare(`SELECT ${TARIFF_COLUMNS} FROM tariffs ORDER BY id`).all();
    return (rows as Row[]).map(tariffFrom);
  }

  async findTariffBySha256(sha256: string): Promise<TariffRow | null> {
    const row = this.#db
      .prepare(`SELECT ${TARIFF_COLUMNS} FROM tariffs WHERE sha256 = ?`)
      .get(sha256) as Row | undefined;
    return row === undefined ? null : tariffFrom(row);
  }

  async listAssignments(accountIds?: readonly string[]): Promise<AssignmentRow[]> {
    const rows = this.#db
      .prepare(`SELECT ${ASSIGNMENT_COLUMNS} FROM meter_assignments ORDER BY id`)
      .all() as Row[];
    const wanted = accountIds === undefined ? null : new Set(accountIds);
    return rows.map(assignmentFrom).filter((row) => wanted === null || wanted.has(row.accountId));
  }

  async listInvoices(filter: { accountId?: string; period?: string }): Promise<InvoiceRow[]> {
    return this.#invoices(filter);
  }

  async getInvoice(id: number): Promise<InvoiceRow | null> {
    const row = this.#db.prepare(`SELECT ${INVOICE_COLUMNS} FROM invoices WHERE id = ?`).get(id) as
      Row | undefined;
    return row === undefined ? null : invoiceFrom(row);
  }

  async billingLedger(query: BillingLedgerQuery): Promise<BillingLedgerRow[]> {
    if (query.meterIds.length === 0) return [];
    const rows = this.#db
      .prepare(billingLedgerSql(query.meterIds.length, query.registerReads === true))
      .raw()
      .all(...query.meterIds, query.fromMs, query.toMs, query.rowIdMax) as unknown[][];
    const current: BillingLedgerRow[] = [];
    for (const row of rows) keepCurrentVersion(current, billingLedgerFrom(row));
    return current;
  }

  async billingLedgerByMeter(query: BillingPeriodQuery): Promise<Map<string, BillingLedgerRow[]>> {
    const byMeter = new Map<string, BillingLedgerRow[]>();
    if (query.meterIds.size === 0) return byMeter;
    // One range scan of the span on the ledger's time-ordered index for every meter at once (a
    // meter list in the query would exceed SQLite's parameter limit, and a scan per group of
    // accounts reads the whole span again each time). Versions of one interval arrive together,
    // in version order, so the last one of each is kept.
    const rows = this.#db
      .prepare(
        `SELECT ${BILLING_LEDGER_COLUMNS}
         FROM ledger
         WHERE interval_start_ms >= ? AND interval_start_ms < ? AND id <= ?
           AND commodity = 'electricity' AND unit = 'kWh'
         ORDER BY interval_start_ms, meter_id, channel, version`,
      )
      .raw()
      .iterate(query.fromMs, query.toMs, query.rowIdMax) as IterableIterator<unknown[]>;
    for (const row of rows) {
      const meterId = row[1] as string;
      if (!query.meterIds.has(meterId)) continue;
      const reading = billingLedgerFrom(row);
      const list = byMeter.get(meterId);
      if (list === undefined) byMeter.set(meterId, [reading]);
      else keepCurrentVersion(list, reading);
    }
    return byMeter;
  }

  async heldAnomalyStarts(fromMs: number, toMs: number): Promise<HeldAnomalyStart[]> {
    const rows = this.#db
      .prepare(
        `SELECT json_extract(reading, '$.meterId') AS meter,
           json_extract(reading, '$.intervalStartMs') AS start
         FROM anomalies WHERE status = 'held'`,
      )
      .raw()
      .all() as [string, number][];
    return rows
      .filter(([, start]) => start >= fromMs && start < toMs)
      .map(([meterId, intervalStartMs]) => ({ meterId, intervalStartMs }));
  }

  async batchIdsOfLedgerRows(rows: readonly LedgerRowRef[]): Promise<Map<number, number>> {
    const result = new Map<number, number>();
    const select = this.#db.prepare('SELECT id, batch_id FROM ledger WHERE id = ?').raw();
    for (const { id } of rows) {
      const row = select.get(id) as [number, number] | undefined;
      if (row !== undefined) result.set(row[0], row[1]);
    }
    return result;
  }

  async heldAnomalies(meterIds: readonly string[], fromMs: number, toMs: number): Promise<number> {
    if (meterIds.length === 0) return 0;
    const marks = meterIds.map(() => '?').join(', ');
    const row = this.#db
      .prepare(
        `SELECT count(*) AS held FROM anomalies WHERE status = 'held'
           AND json_extract(reading, '$.meterId') IN (${marks})
           AND json_extract(reading, '$.intervalStartMs') >= ?
           AND json_extract(reading, '$.intervalStartMs') < ?`,
      )
      .get(...meterIds, fromMs, toMs) as Row;
    return row.held as number;
  }
}
