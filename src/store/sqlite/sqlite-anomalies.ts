/**
 * The anomaly ledger's review in the SQLite store: held readings listed and filtered for an
 * operator, the open backlog summed, and a decision recorded once. Kept apart from the engine file
 * so that its role reads in one place.
 */
import type Database from 'better-sqlite3';
import type {
  AnomalyBacklog,
  AnomalyDecision,
  AnomalyFilter,
  AnomalyInsert,
  AnomalyRow,
  AnomalyStatus,
} from '../../core/store.js';

type Row = Record<string, unknown>;
type Prepare = (sql: string) => Database.Statement;

/** Holds with the delivery, source and commit time of the batch that held them. */
const ANOMALY_SELECT = `SELECT a.*, b.delivery_id, b.source_id, b.committed_at_ms
  FROM anomalies a JOIN batches b ON b.id = a.batch_id`;

/** A held reading's value when it is electricity in kWh (milliwatt-hours), else 0. */
const KWH_VALUE = `CASE WHEN coalesce(json_extract(a.reading, '$.unit'), 'kWh') = 'kWh'
  THEN json_extract(a.reading, '$.valueMicro') ELSE 0 END`;

function anomalyFrom(row: Row): AnomalyRow {
  const status = row.status as AnomalyStatus;
  return {
    id: row.id as number,
    batchId: row.batch_id as number,
    batchPosition: row.batch_position as number,
    reading: JSON.parse(row.reading as string) as AnomalyInsert['reading'],
    findings: JSON.parse(row.findings as string) as AnomalyInsert['findings'],
    status,
    deliveryId: row.delivery_id as string,
    sourceId: row.source_id as string,
    heldAtMs: row.committed_at_ms as number,
    decision:
      status === 'held'
        ? null
        : {
            status,
            actor: (row.actor as string | null) ?? '',
            note: (row.note as string | null) ?? '',
            atMs: (row.decided_at_ms as number | null) ?? 0,
            resolvedBatchId: (row.resolved_batch_id as number | null) ?? null,
          },
  };
}

export function selectAnomaly(prepare: Prepare, id: number): AnomalyRow | null {
  const row = prepare(`${ANOMALY_SELECT} WHERE a.id = ?`).get(id) as Row | undefined;
  return row === undefined ? null : anomalyFrom(row);
}

export function selectAnomalies(prepare: Prepare, filter: AnomalyFilter): AnomalyRow[] {
  const clauses: string[] = ['a.id > ?'];
  const params: unknown[] = [filter.afterId ?? 0];
  if (filter.status !== undefined) {
    clauses.push('a.status = ?');
    params.push(filter.status);
  }
  if (filter.meterId !== undefined) {
    clauses.push("json_extract(a.reading, '$.meterId') = ?");
    params.push(filter.meterId);
  }
  if (filter.detector !== undefined) {
    clauses.push(
      "EXISTS (SELECT 1 FROM json_each(a.findings) f WHERE json_extract(f.value, '$.detector') = ?)",
    );
    params.push(filter.detector);
  }
  if (filter.fromMs !== undefined) {
    clauses.push("json_extract(a.reading, '$.intervalStartMs') >= ?");
    params.push(filter.fromMs);
  }
  if (filter.toMs !== undefined) {
    clauses.push("json_extract(a.reading, '$.intervalStartMs') < ?");
    params.push(filter.toMs);
  }
  params.push(filter.limit);
  const sql = `${ANOMALY_SELECT} WHERE ${clauses.join(' AND ')} ORDER BY a.id LIMIT ?`;
  return (prepare(sql).all(...params) as Row[]).map(anomalyFrom);
}

/** Records a decision on a hold still held; false when it is not (decided first, or missing). */
export function updateAnomalyDecision(
  prepare: Prepare,
  id: number,
  decision: AnomalyDecision,
): boolean {
  const result = prepare(
    `UPDATE anomalies SET status = ?, actor = ?, note = ?, decided_at_ms = ?,
       resolved_batch_id = ? WHERE id = ? AND status = 'held'`,
  ).run(
    decision.status,
    decision.actor,
    decision.note,
    decision.atMs,
    decision.resolvedBatchId,
    id,
  );
  return result.changes === 1;
}

export function selectAnomalyBacklog(prepare: Prepare): AnomalyBacklog {
  const backlog: AnomalyBacklog = {
    held: 0,
    heldEnergyMilliWh: 0n,
    released: 0,
    rejected: 0,
    byDetector: [],
  };
  const byStatus = prepare(
    `SELECT a.status, count(*) AS n, coalesce(sum(${KWH_VALUE}), 0) AS energy
     FROM anomalies a GROUP BY a.status`,
  ).safeIntegers(true);
  for (const row of byStatus.all() as { status: string; n: bigint; energy: bigint }[]) {
    if (row.status === 'held') {
      backlog.held = Number(row.n);
      backlog.heldEnergyMilliWh = BigInt(row.energy);
    } else if (row.status === 'released') backlog.released = Number(row.n);
    else if (row.status === 'rejected') backlog.rejected = Number(row.n);
  }
  // DISTINCT: a reading with two findings of one detector counts once under it.
  const byDetector = prepare(
    `SELECT d.detector, count(*) AS n, coalesce(sum(d.energy), 0) AS energy FROM (
       SELECT DISTINCT a.id, json_extract(f.value, '$.detector') AS detector,
         ${KWH_VALUE} AS energy
       FROM anomalies a, json_each(a.findings) f WHERE a.status = 'held') d
     GROUP BY d.detector ORDER BY d.detector`,
  ).safeIntegers(true);
  for (const row of byDetector.all() as { detector: string; n: bigint; energy: bigint }[]) {
    backlog.byDetector.push({
      detector: row.detector,
      held: Number(row.n),
      heldEnergyMilliWh: BigInt(row.energy),
    });
  }
  return backlog;
}
