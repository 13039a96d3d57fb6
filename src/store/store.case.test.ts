// Goal: every Store implementation keeps the same contract (atomic batches, append-only evidence,
// reads). Method: one suite, run against each engine in ENGINES on a fresh database per test; no
// mocks.
import { join } from 'node:path';
import { afterAll, describe, expect, it as vitestIt } from 'vitest';
import { idempotencyKey } from '../core/identity.js';
import type { Violation } from '../core/reject.js';
import type { LedgerRow, QuarantineInsert, Store } from '../core/store.js';
import { emptyCounts } from '../pipeline/commit.js';
import {
  dropPostgresSchemas,
  freshPostgresSchema,
  probePostgres,
  runAsSuperuser,
} from '../test-support/postgres.js';
import { requireOrSkip } from '../test-support/services.js';
import { removeTempDirs, tempDir } from '../test-support/temp.js';
import { openPostgresStore } from './postgres/postgres-store.js';
import { openSqliteStore } from './sqlite/sqlite-store.js';

interface Engine {
  name: string;
  /** Whether the engine can run here; false skips its cases (requireOrSkip printed why). */
  runs: boolean;
  /** Cases the engine does not implement yet, by name, with the reason printed on skipping. */
  missing?: Readonly<Record<string, string>>;
  open(): Promise<{
    store: Store;
    attack(sql: string): Promise<void>;
    reopen(): Promise<Store>;
    /** A second, independent connection to the same database (another worker process). */
    another(): Promise<Store>;
  }>;
}

const postgres = await probePostgres();

const ENGINES: Engine[] = [
  {
    name: 'sqlite',
    runs: true,
    async open() {
      const path = join(tempDir(), 'store.db');
      const store = openSqliteStore(path, { nowMs: () => 1 });
      return {
        store,
        // An attacker with file access runs SQL directly on the same file.
        attack: async (sql: string) => {
          store.db.exec(sql);
        },
        reopen: async () => {
          await store.close();
          return openSqliteStore(path, { nowMs: () => 2 });
        },
        another: async () => openSqliteStore(path, { nowMs: () => 3 }),
      };
    },
  },
  {
    name: 'postgres',
    runs: requireOrSkip('PostgreSQL', postgres.available, postgres.reason),
    async open() {
      const { schema, url } = freshPostgresSchema();
      const store = await openPostgresStore(url, { nowMs: () => 1 });
      return {
        store,
        // An attacker with database access runs SQL as the superuser on the same schema.
        attack: (sql: string) => runAsSuperuser(schema, sql),
        reopen: async () => {
          await store.close();
          return openPostgresStore(url, { nowMs: () => 2 });
        },
        another: async () => openPostgresStore(url, { nowMs: () => 3 }),
      };
    },
  },
];

function row(
  meter: string,
  startMs: number,
  version: number,
  batchId: number,
  position: number,
): LedgerRow {
  return {
    meterId: meter,
    channel: '1',
    intervalStartMs: startMs,
    intervalSeconds: 900,
    commodity: 'electricity',
    unit: 'kWh',
    valueMicro: 1000 * (version + position),
    statusCode: 0,
    seq: version,
    quality: 'actual',
    qualityDetail: null,
    checksumSha256: null,
    idempotencyKey: idempotencyKey(meter, '1', startMs, version),
    version,
    supersedesKey: null,
    batchId,
    batchPosition: position,
  };
}

async function commitRows(store: Store, rows: LedgerRow[], deliveryId = 'd1'): Promise<number> {
  return store.transaction(async (tx) => {
    const batchId = await tx.allocateBatchId();
    await tx.insertLedgerRows(rows.map((r) => ({ ...r, batchId })));
    const counts = { ...emptyCounts(), received: rows.length, accepted: rows.length };
    await tx.insertBatch({
      id: batchId,
      deliveryId,
      sourceId: 's',
      kind: 'ingest',
      counts,
      ledgerRoot: 'r',
      quarantineRoot: 'q',
      byteOffset: 0,
      byteLength: 0,
      committedAtMs: 1,
      auditSeq: batchId,
    });
    return batchId;
  });
}

/** `it`, skipping (with the printed reason) the cases the engine does not implement yet. */
function caseRunner(engine: Engine): typeof vitestIt {
  const runner = (name: string, fn: () => Promise<void>) => {
    const reason = engine.missing?.[name];
    if (reason === undefined) return vitestIt(name, fn);
    console.log(`skipping "${name}" on ${engine.name}: ${reason}`);
    return vitestIt.skip(name, fn);
  };
  return runner as typeof vitestIt;
}

afterAll(async () => {
  removeTempDirs();
  await dropPostgresSchemas();
});

for (const engine of ENGINES) {
  const it = caseRunner(engine);
  describe.runIf(engine.runs)(`Store conformance: ${engine.name}`, () => {
    it('commits a batch whole, or nothing when the function throws', async () => {
      const { store } = await engine.open();
      await commitRows(store, [row('MTR-AAAAAAAA', 0, 1, 0, 0)]);
      await expect(
        store.transaction(async (tx) => {
          await tx.insertLedgerRows([row('MTR-AAAAAAAA', 900_000, 1, 2, 0)]);
          await tx.appendAuditEntry({
            seq: 1,
            atMs: 1,
            kind: 'batch',
            payload: '{}',
            prevHash: '0'.repeat(64),
            hash: '1'.repeat(64),
          });
          throw new Error('crash mid-batch');
        }),
      ).rejects.toThrow('crash mid-batch');
      const status = await store.status();
      expect(status.batches).toBe(1);
      expect(status.auditEntries).toBe(0);
      const rows: LedgerRow[] = [];
      for await (const page of store.iterateCurrentLedger()) rows.push(...page);
      expect(rows).toHaveLength(1);
      await store.close();
    });

    it('serialises concurrent transactions', async () => {
      const { store } = await engine.open();
      await Promise.all(
        Array.from({ length: 5 }, (_, i) =>
          commitRows(store, [row('MTR-AAAAAAAA', i * 900_000, 1, 0, 0)]),
        ),
      );
      const status = await store.status();
      expect(status.batches).toBe(5);
      expect(status.totals.received).toBe(5);
      await store.close();
    });

    it('refuses UPDATE and DELETE on ledger, batches, audit, raw chunks and checkpoints', async () => {
      const { store, attack } = await engine.open();
      await commitRows(store, [row('MTR-AAAAAAAA', 0, 1, 0, 0)]);
      await store.createDelivery({
        id: 'd1',
        sourceId: 's',
        name: 'f',
        format: 'ndjson',
        formatContext: {},
        startedAtMs: 1,
      });
      await store.putRawChunk('d1', 0, Buffer.from('hello'));
      await store.transaction(async (tx) => {
        await tx.appendAuditEntry({
          seq: 1,
          atMs: 1,
          kind: 'batch',
          payload: '{}',
          prevHash: '0'.repeat(64),
          hash: '1'.repeat(64),
        });
        await tx.insertCheckpoint({
          auditSeq: 1,
          headHash: '1'.repeat(64),
          atMs: 1,
          keyFingerprint: 'k',
          signature: 's',
        });
      });
      for (const table of ['ledger', 'batches', 'audit_log', 'raw_chunks', 'checkpoints']) {
        await expect(attack(`DELETE FROM ${table}`), table).rejects.toThrow(/append-only/);
      }
      await expect(attack('UPDATE ledger SET value_micro = 0')).rejects.toThrow(/append-only/);
      await attack(`INSERT INTO anomalies (batch_id, batch_position, reading, findings)
        VALUES (1, 0, '{}', '[]')`);
      await expect(attack("UPDATE anomalies SET findings = '[1]'")).rejects.toThrow(/evidence/);
      await expect(attack('DELETE FROM anomalies')).rejects.toThrow(/never deleted/);
      await expect(attack("UPDATE audit_log SET payload = '{}'")).rejects.toThrow(/append-only/);
      await store.close();
    });

    it('lists every checkpoint oldest first, or only the newest n', async () => {
      const { store } = await engine.open();
      await store.transaction(async (tx) => {
        for (const auditSeq of [3, 5, 8]) {
          await tx.insertCheckpoint({
            auditSeq,
            headHash: String(auditSeq).repeat(64),
            atMs: auditSeq,
            keyFingerprint: 'k',
            signature: 's',
          });
        }
      });
      const seqs = async (newest?: number) =>
        (await store.listCheckpoints(newest)).map((checkpoint) => checkpoint.auditSeq);
      expect(await seqs()).toEqual([3, 5, 8]);
      expect(await seqs(2)).toEqual([5, 8]);
      expect(await seqs(1)).toEqual([8]);
      expect(await seqs(5)).toEqual([3, 5, 8]);
      expect(await seqs(0)).toEqual([]);
      await store.close();
    });

    it('stores raw bytes once per content and reads ranges across chunks', async () => {
      const { store } = await engine.open();
      await store.createDelivery({
        id: 'd1',
        sourceId: 's',
        name: 'f',
        format: 'ndjson',
        formatContext: { header: ['a'] },
        startedAtMs: 1,
      });
      expect(await store.storedDeliveryBytes('d1')).toBe(0);
      const first = await store.putRawChunk('d1', 0, Buffer.from('abcdef'));
      const again = await store.putRawChunk('d1', 0, Buffer.from('abcdef'));
      expect(again).toBe(first);
      expect(await store.storedDeliveryBytes('d1')).toBe(6);
      await store.putRawChunk('d1', 6, Buffer.from('ghij'));
      expect(await store.storedDeliveryBytes('d1')).toBe(10);
      expect(await store.storedDeliveryBytes('no-such-delivery')).toBe(0);
      expect(Buffer.from(await store.readDeliveryBytes('d1', 4, 4)).toString()).toBe('efgh');
      await expect(store.readDeliveryBytes('d1', 8, 10)).rejects.toThrow(/not in the raw store/);
      expect((await store.getDelivery('d1'))?.formatContext).toEqual({ header: ['a'] });
      await store.close();
    });

    it('returns every version of an interval and only the highest as current', async () => {
      const { store } = await engine.open();
      const v1 = row('MTR-AAAAAAAA', 0, 1, 0, 0);
      const other = row('MTR-BBBBBBBB', 0, 1, 0, 1);
      await commitRows(store, [v1, other]);
      const v2 = { ...row('MTR-AAAAAAAA', 0, 2, 0, 0), supersedesKey: v1.idempotencyKey };
      await commitRows(store, [v2]);
      const versions = await store.transaction((tx) =>
        tx.findIntervalVersions([{ meterId: 'MTR-AAAAAAAA', channel: '1', intervalStartMs: 0 }]),
      );
      expect(versions.map((v) => v.version)).toEqual([1, 2]);
      const current: LedgerRow[] = [];
      for await (const page of store.iterateCurrentLedger()) current.push(...page);
      expect(current.map((r) => [r.meterId, r.version])).toEqual([
        ['MTR-AAAAAAAA', 2],
        ['MTR-BBBBBBBB', 1],
      ]);
      const byBatch: LedgerRow[] = [];
      for await (const page of store.iterateLedgerByBatch()) byBatch.push(...page);
      expect(byBatch.map((r) => [r.batchId, r.batchPosition])).toEqual([
        [1, 0],
        [1, 1],
        [2, 0],
      ]);
      expect((await store.ledgerRowsOfBatch(1)).map((r) => r.meterId)).toEqual([
        'MTR-AAAAAAAA',
        'MTR-BBBBBBBB',
      ]);
      expect(await store.findLedgerRowsByKey(v2.idempotencyKey)).toHaveLength(1);
      await store.close();
    });

    it('reads current rows of a span of interval starts, of named meters or all', async () => {
      const { store } = await engine.open();
      const a0 = row('MTR-AAAAAAAA', 0, 1, 0, 0);
      await commitRows(store, [
        a0,
        row('MTR-BBBBBBBB', 0, 1, 0, 1),
        row('MTR-AAAAAAAA', 900_000, 1, 0, 2),
        row('MTR-AAAAAAAA', 1_800_000, 1, 0, 3),
      ]);
      await commitRows(store, [
        { ...row('MTR-AAAAAAAA', 0, 2, 0, 0), supersedesKey: a0.idempotencyKey },
      ]);
      const span = async (fromMs: number, toMs: number, meterIds: string[] | null) => {
        const rows: LedgerRow[] = [];
        for await (const page of store.iterateCurrentLedgerSpan({ fromMs, toMs, meterIds })) {
          rows.push(...page);
        }
        return rows.map((r) => [r.meterId, r.intervalStartMs, r.version]);
      };
      expect(await span(0, 1_800_000, null)).toEqual([
        ['MTR-AAAAAAAA', 0, 2],
        ['MTR-BBBBBBBB', 0, 1],
        ['MTR-AAAAAAAA', 900_000, 1],
      ]);
      expect(await span(0, 3_600_000, ['MTR-BBBBBBBB'])).toEqual([['MTR-BBBBBBBB', 0, 1]]);
      expect(await span(900_000, 3_600_000, ['MTR-AAAAAAAA', 'MTR-CCCCCCCC'])).toEqual([
        ['MTR-AAAAAAAA', 900_000, 1],
        ['MTR-AAAAAAAA', 1_800_000, 1],
      ]);
      expect(await span(0, 3_600_000, [])).toEqual([]);
      await store.close();
    });

    it('keeps quarantine evidence fixed while its status moves', async () => {
      const { store, attack } = await engine.open();
      const [id] = await store.transaction((tx) =>
        tx.insertQuarantineRows(
          [
            {
              deliveryId: 'd1',
              batchId: 1,
              batchPosition: 0,
              location: { recordIndex: 0, line: 1, byteOffset: 0, byteLength: 3 },
              violations: [
                { code: 'field.missing', field: 'seq', value: '(absent)', message: 'm' },
              ],
              meterId: null,
              idempotencyKey: null,
              relatedIdempotencyKey: null,
              uncountedSpan: false,
              rawSha256: 'x',
            },
          ],
          'ndjson',
          5,
        ),
      );
      expect(id).toBeDefined();
      await store.transaction((tx) => tx.setQuarantineStatus(id as number, 'rejected', [], null));
      expect((await store.getQuarantine(id as number))?.status).toBe('rejected');
      expect((await store.listQuarantine({ status: 'rejected', limit: 10 })).length).toBe(1);
      await expect(attack("UPDATE quarantine SET violations = '[]'")).rejects.toThrow(/evidence/);
      await expect(attack('DELETE FROM quarantine')).rejects.toThrow(/never deleted/);
      await store.close();
    });

    it('records repeats on an open item, finds open items by raw hash, and counts both', async () => {
      const { store, attack } = await engine.open();
      const violations: Violation[] = [
        { code: 'field.missing', field: 'seq', value: '(absent)', message: 'm' },
      ];
      const [id] = await store.transaction((tx) =>
        tx.insertQuarantineRows(
          [
            {
              deliveryId: 'd1',
              batchId: 1,
              batchPosition: 0,
              location: { recordIndex: 0, line: 1, byteOffset: 0, byteLength: 3 },
              violations,
              meterId: null,
              idempotencyKey: null,
              relatedIdempotencyKey: null,
              uncountedSpan: false,
              rawSha256: 'aa',
            },
          ],
          'ndjson',
          5,
        ),
      );
      const matches = await store.transaction((tx) => tx.findOpenQuarantineByRaw(['aa', 'bb']));
      const json = JSON.stringify(violations);
      expect(matches).toEqual([
        {
          id,
          rawSha256: 'aa',
          violationsJson: json,
          currentViolationsJson: json,
          deliveryId: 'd1',
          byteOffset: 0,
        },
      ]);
      const repeat = {
        quarantineId: id as number,
        deliveryId: 'd2',
        batchId: 2,
        batchPosition: 0,
        location: { recordIndex: 4, line: 5, byteOffset: 40, byteLength: 3 },
        rawSha256: 'aa',
        atMs: 6,
      };
      await store.transaction((tx) => tx.insertQuarantineRepeats([repeat]));
      expect(await store.quarantineRepeatsOfBatch(2)).toEqual([repeat]);
      expect(await store.quarantineRepeatsOf(id as number)).toEqual([repeat]);
      expect((await store.getQuarantine(id as number))?.repeats).toBe(1);
      expect((await store.listQuarantine({ status: 'open', limit: 10 }))[0]?.repeats).toBe(1);
      const status = await store.status();
      expect(status.quarantine.open).toBe(1);
      expect(status.quarantineRepeats).toBe(1);
      // A closed item is no longer one a retransmission can repeat.
      await store.transaction((tx) => tx.setQuarantineStatus(id as number, 'rejected', [], null));
      expect(await store.transaction((tx) => tx.findOpenQuarantineByRaw(['aa']))).toEqual([]);
      await expect(attack('UPDATE quarantine_repeats SET line = 9')).rejects.toThrow(/append-only/);
      await expect(attack('DELETE FROM quarantine_repeats')).rejects.toThrow(/append-only/);
      await store.close();
    });

    it('tells running deliveries from interrupted ones and links a redelivery', async () => {
      const { store, attack, another } = await engine.open();
      const delivery = (id: string) => ({
        id,
        sourceId: 'files',
        name: 'feed.ndjson',
        format: 'ndjson',
        formatContext: {},
        startedAtMs: 1,
      });
      await store.createDelivery(delivery('d1'));
      // Owned by this live process: running, even seen from another connection, and never
      // offered for marking.
      const other = await another();
      expect((await other.getDelivery('d1'))?.status).toBe('running');
      expect(await other.transaction((tx) => tx.findAbandonedDeliveries())).toEqual([]);
      expect((await other.status()).deliveries).toEqual({
        complete: 0,
        running: 1,
        interrupted: 0,
      });
      await other.close();
      // The process that owned it is gone (a pid no process has).
      await attack("UPDATE deliveries SET owner_pid = 2147483646 WHERE id = 'd1'");
      expect((await store.getDelivery('d1'))?.status).toBe('interrupted');
      const abandoned = await store.transaction((tx) => tx.findAbandonedDeliveries());
      expect(abandoned.map((d) => d.id)).toEqual(['d1']);
      await store.transaction((tx) => tx.markDeliveryInterrupted('d1', 7, 1));
      expect(await store.transaction((tx) => tx.findAbandonedDeliveries())).toEqual([]);
      await store.createDelivery(delivery('d2'));
      const first = await store.getDelivery('d1');
      expect(first).toMatchObject({ status: 'interrupted', interruptedAtMs: 7 });
      expect(first?.redeliveredBy).toEqual(['d2']);
      expect((await store.getDelivery('d2'))?.redelivers).toBe('d1');
      // An interrupted delivery is redelivered once; a third delivery of the name links to none.
      await store.createDelivery(delivery('d3'));
      expect((await store.getDelivery('d3'))?.redelivers).toBeNull();
      expect((await store.status()).deliveries).toEqual({
        complete: 0,
        running: 2,
        interrupted: 1,
      });
      await expect(attack('DELETE FROM delivery_interruptions')).rejects.toThrow(/append-only/);
      await store.close();
    });

    it("offers a source's unfinished deliveries, whoever owns them, to its writer", async () => {
      const { store, attack } = await engine.open();
      const delivery = (id: string, sourceId: string, startedAtMs: number) => ({
        id,
        sourceId,
        name: `${id}.ndjson`,
        format: 'ndjson',
        formatContext: {},
        startedAtMs,
      });
      await store.createDelivery(delivery('live', 'nats-p0', 2));
      await store.createDelivery(delivery('elsewhere', 'nats-p0', 1));
      await store.createDelivery(delivery('other-source', 'nats-p1', 1));
      await store.createDelivery(delivery('done', 'nats-p0', 3));
      await store.transaction((tx) => tx.finishDelivery('done', 'ab'.repeat(32), 10, 4));
      // One owned by this live process, one by a process on another host: both alive as far as
      // a process check can tell, so neither is abandoned; both are unfinished.
      await attack("UPDATE deliveries SET owner_host = 'another-host' WHERE id = 'elsewhere'");
      expect(await store.transaction((tx) => tx.findAbandonedDeliveries())).toEqual([]);
      const unfinished = await store.transaction((tx) => tx.findUnfinishedDeliveriesOf('nats-p0'));
      expect(unfinished.map((d) => [d.id, d.status])).toEqual([
        ['elsewhere', 'running'],
        ['live', 'running'],
      ]);
      await store.transaction((tx) => tx.markDeliveryInterrupted('live', 7, 1));
      const left = await store.transaction((tx) => tx.findUnfinishedDeliveriesOf('nats-p0'));
      expect(left.map((d) => d.id)).toEqual(['elsewhere']);
      expect(await store.transaction((tx) => tx.findUnfinishedDeliveriesOf('none'))).toEqual([]);
      await store.close();
    });

    it('round-trips stream state and sums it exactly in status', async () => {
      const { store } = await engine.open();
      const big = 4_000_000_000_000_000;
      await store.transaction((tx) =>
        tx.saveStreamStates([
          {
            meterId: 'MTR-AAAAAAAA',
            channel: '1',
            lastIntervalStartMs: 900_000,
            lastSeq: 7,
            seqGaps: 1,
            seqRegressions: 2,
            currentReadings: 3,
            currentValueMicro: big,
            commodity: 'electricity',
            unit: 'kWh',
          },
          {
            meterId: 'MTR-BBBBBBBB',
            channel: '1',
            lastIntervalStartMs: null,
            lastSeq: null,
            seqGaps: 0,
            seqRegressions: 0,
            currentReadings: 1,
            currentValueMicro: big,
            commodity: 'electricity',
            unit: 'kWh',
          },
          {
            meterId: 'MTR-AAAAAAAA',
            channel: 'B1',
            lastIntervalStartMs: 900_000,
            lastSeq: null,
            seqGaps: 0,
            seqRegressions: 0,
            currentReadings: 2,
            currentValueMicro: 5,
            commodity: 'electricity',
            unit: 'kWh',
          },
          {
            meterId: 'MTR-AAAAAAAA',
            channel: 'Q1',
            lastIntervalStartMs: 900_000,
            lastSeq: null,
            seqGaps: 0,
            seqRegressions: 0,
            currentReadings: 2,
            currentValueMicro: 7,
            commodity: 'electricity',
            unit: 'kVArh',
          },
        ]),
      );
      const [state] = await store.transaction((tx) =>
        tx.loadStreamStates([{ meterId: 'MTR-AAAAAAAA', channel: '1' }]),
      );
      expect(state?.lastSeq).toBe(7);
      const status = await store.status();
      expect(status.ledger.energyMilliWh).toBe(BigInt(big) * 2n + 5n);
      const total = (channel: string, unit: string, readings: number, valueMicro: bigint) => ({
        channel,
        commodity: 'electricity',
        unit,
        readings,
        valueMicro,
      });
      expect(status.ledger.byChannel).toEqual([
        total('Q1', 'kVArh', 2, 7n),
        total('1', 'kWh', 4, BigInt(big) * 2n),
        total('B1', 'kWh', 2, 5n),
      ]);
      expect(status.sequence).toEqual({ gaps: 1, regressions: 2, streamsWithGaps: 1 });
      await store.close();
    });

    it('keeps one detector statistics blob per stream, in the transaction', async () => {
      const { store, another } = await engine.open();
      const ref = { meterId: 'MTR-AAAAAAAA', channel: '1' };
      const other = { meterId: 'MTR-BBBBBBBB', channel: '2' };
      const blob = (fill: number, size = 2_656) => new Uint8Array(size).fill(fill);
      const load = (refs: { meterId: string; channel: string }[]) =>
        store.transaction((tx) => tx.loadStreamStatistics(refs));
      expect(await load([ref, other])).toEqual([]);
      await store.transaction((tx) =>
        tx.saveStreamStatistics([
          { ...ref, layout: 1, bytes: blob(1) },
          { ...other, layout: 1, bytes: blob(2, 10) },
        ]),
      );
      const loaded = await load([ref, other]);
      const byMeter = new Map(loaded.map((row) => [row.meterId, row]));
      expect(byMeter.get(ref.meterId)).toMatchObject({ ...ref, layout: 1 });
      expect([...(byMeter.get(ref.meterId)?.bytes ?? [])]).toEqual([...blob(1)]);
      expect([...(byMeter.get(other.meterId)?.bytes ?? [])]).toEqual([...blob(2, 10)]);
      // A save replaces the stream's one row; a rolled-back save leaves the last committed one.
      await store.transaction((tx) =>
        tx.saveStreamStatistics([{ ...ref, layout: 2, bytes: blob(3) }]),
      );
      await expect(
        store.transaction(async (tx) => {
          await tx.saveStreamStatistics([{ ...ref, layout: 9, bytes: blob(9) }]);
          throw new Error('rolled back');
        }),
      ).rejects.toThrow('rolled back');
      const [after] = await load([ref]);
      expect(after?.layout).toBe(2);
      expect(after?.bytes[0]).toBe(3);
      // Another connection's commit is seen, whatever this one read before.
      const second = await another();
      await second.transaction((tx) =>
        tx.saveStreamStatistics([{ ...ref, layout: 4, bytes: blob(4) }]),
      );
      await second.close();
      expect((await load([ref]))[0]?.bytes[0]).toBe(4);
      await store.close();
    });

    it('keeps sequence events newest first and statistics parts apart from their head', async () => {
      const { store } = await engine.open();
      const event = (receivedSeq: number, kind: 'gap' | 'regression') => ({
        meterId: 'MTR-AAAAAAAA',
        channel: '1',
        kind,
        expectedSeq: 5,
        receivedSeq,
        intervalStartMs: receivedSeq * 900_000,
        batchId: 1,
      });
      await store.transaction((tx) =>
        tx.insertSequenceEvents([event(9, 'gap'), event(3, 'regression'), event(12, 'gap')]),
      );
      expect((await store.listSequenceEvents(2)).map((e) => [e.receivedSeq, e.kind])).toEqual([
        [12, 'gap'],
        [3, 'regression'],
      ]);
      const ref = { meterId: 'MTR-AAAAAAAA', channel: '1' };
      const part = (fill: number) => new Uint8Array(16).fill(fill);
      await store.transaction((tx) =>
        tx.saveStreamStatistics([
          {
            ...ref,
            layout: 1,
            bytes: part(1),
            parts: new Map([
              [2, part(2)],
              [0, part(7)],
            ]),
          },
        ]),
      );
      await store.transaction((tx) =>
        tx.saveStreamStatistics([
          { ...ref, layout: 1, bytes: part(1), parts: new Map([[2, part(8)]]) },
        ]),
      );
      const [loaded] = await store.transaction((tx) => tx.loadStreamStatistics([ref], [0, 2, 5]));
      expect([...(loaded?.parts?.entries() ?? [])].map(([n, bytes]) => [n, bytes[0]])).toEqual(
        expect.arrayContaining([
          [0, 7],
          [2, 8],
        ]),
      );
      expect(loaded?.parts?.size).toBe(2);
      await store.close();
    });

    it('sees stream state that another connection committed in between', async () => {
      const { store, another } = await engine.open();
      const ref = { meterId: 'MTR-AAAAAAAA', channel: '1' };
      const state = (lastSeq: number) => ({
        ...ref,
        lastIntervalStartMs: 0,
        lastSeq,
        seqGaps: 0,
        seqRegressions: 0,
        currentReadings: 1,
        currentValueMicro: 5,
        commodity: 'electricity' as const,
        unit: 'kWh' as const,
      });
      await store.transaction((tx) => tx.saveStreamStates([state(1)]));
      expect((await store.transaction((tx) => tx.loadStreamStates([ref])))[0]?.lastSeq).toBe(1);
      const other = await another();
      await other.transaction((tx) => tx.saveStreamStates([state(9)]));
      await other.close();
      expect((await store.transaction((tx) => tx.loadStreamStates([ref])))[0]?.lastSeq).toBe(9);
      await expect(
        store.transaction(async (tx) => {
          await tx.saveStreamStates([state(20)]);
          throw new Error('rolled back');
        }),
      ).rejects.toThrow('rolled back');
      expect((await store.transaction((tx) => tx.loadStreamStates([ref])))[0]?.lastSeq).toBe(9);
      await store.close();
    });

    it('appends controls, keeps the latest of each scope in force, and shows them to another connection', async () => {
      const { store, attack, another } = await engine.open();
      const control = (sourceId: string | null, paused: boolean, auditSeq: number) =>
        store.transaction(async (tx) => {
          const before = await tx.getControl(sourceId);
          const id = await tx.putControl({
            sourceId,
            paused,
            reason: `reason ${auditSeq}`,
            actor: 'ops',
            atMs: auditSeq * 1000,
            auditSeq,
          });
          return { before, id, after: await tx.getControl(sourceId) };
        });
      const first = await control('drop', true, 1);
      expect(first.before).toBeNull();
      expect(first.after).toMatchObject({ id: first.id, sourceId: 'drop', paused: true });
      await control(null, true, 2);
      const lifted = await control('drop', false, 3);
      expect(lifted.before).toMatchObject({ paused: true, auditSeq: 1 });
      // Global first, then by id: the latest of each scope only.
      expect(
        (await store.listControls()).map((c) => [c.sourceId, c.paused, c.reason, c.atMs]),
      ).toEqual([
        [null, true, 'reason 2', 2000],
        ['drop', false, 'reason 3', 3000],
      ]);
      expect((await store.listControlHistory()).map((c) => c.auditSeq)).toEqual([1, 2, 3]);
      // A rolled-back control leaves nothing.
      await expect(
        store.transaction(async (tx) => {
          await tx.putControl({
            sourceId: 'rest',
            paused: true,
            reason: 'x',
            actor: 'ops',
            atMs: 4000,
            auditSeq: 4,
          });
          throw new Error('rolled back');
        }),
      ).rejects.toThrow('rolled back');
      const other = await another();
      expect((await other.listControls()).map((c) => c.sourceId)).toEqual([null, 'drop']);
      await other.close();
      await expect(
        attack('UPDATE controls SET paused = 0 WHERE source_id IS NULL'),
      ).rejects.toThrow(/append-only/);
      await expect(attack('DELETE FROM controls')).rejects.toThrow(/append-only/);
      await store.close();
    });

    it('replaces a breaker state per endpoint, keeps it across a reopen, rolls it back', async () => {
      const { store, reopen } = await engine.open();
      const state = (endpoint: string, to: 'closed' | 'open' | 'half-open', atMs: number) => ({
        endpoint,
        state: to,
        snapshot: JSON.stringify({ endpoint, state: to }),
        changedAtMs: atMs,
        auditSeq: atMs,
      });
      await store.transaction((tx) => tx.saveBreakerState(state('b-vendor', 'open', 10)));
      await store.transaction((tx) => tx.saveBreakerState(state('a-vendor', 'open', 11)));
      await store.transaction((tx) => tx.saveBreakerState(state('b-vendor', 'half-open', 12)));
      await expect(
        store.transaction(async (tx) => {
          await tx.saveBreakerState(state('a-vendor', 'closed', 13));
          throw new Error('rolled back');
        }),
      ).rejects.toThrow('rolled back');
      const again = await reopen();
      expect(await again.listBreakerStates()).toEqual([
        state('a-vendor', 'open', 11),
        state('b-vendor', 'half-open', 12),
      ]);
      await expect(
        again.transaction((tx) =>
          tx.saveBreakerState({ ...state('a-vendor', 'open', 14), state: 'ajar' as 'open' }),
        ),
      ).rejects.toThrow();
      await again.close();
    });

    it('reopens an existing database without reapplying migrations', async () => {
      const { store, reopen } = await engine.open();
      await commitRows(store, [row('MTR-AAAAAAAA', 0, 1, 0, 0)]);
      const again = await reopen();
      expect((await again.status()).batches).toBe(1);
      await again.close();
    });

    it("reads a meter's streams, ledger pages and interval versions for the operations pages", async () => {
      const { store } = await engine.open();
      const a0 = row('MTR-AAAAAAAA', 0, 1, 0, 0);
      const second = (r: LedgerRow): LedgerRow => ({
        ...r,
        channel: '2',
        idempotencyKey: idempotencyKey(r.meterId, '2', r.intervalStartMs, r.seq),
      });
      await commitRows(store, [
        a0,
        second(row('MTR-AAAAAAAA', 900_000, 1, 0, 1)),
        row('MTR-AAAAAAAA', 900_000, 1, 0, 2),
        row('MTR-BBBBBBBB', 0, 1, 0, 3),
        row('MTR-AAAAAAAA', 5_400_000, 1, 0, 4),
      ]);
      await commitRows(
        store,
        [{ ...row('MTR-AAAAAAAA', 0, 2, 0, 0), supersedesKey: a0.idempotencyKey }],
        'd2',
      );
      const state = (channel: string, lastIntervalStartMs: number) => ({
        meterId: 'MTR-AAAAAAAA',
        channel,
        lastIntervalStartMs,
        lastSeq: 1,
        seqGaps: 0,
        seqRegressions: 0,
        currentReadings: 1,
        currentValueMicro: 1,
        commodity: 'electricity' as const,
        unit: 'kWh' as const,
      });
      await store.transaction((tx) =>
        tx.saveStreamStates([state('2', 900_000), state('1', 5_400_000)]),
      );
      const streams = await store.listMeterStreams('MTR-AAAAAAAA');
      expect(streams.map((s) => [s.channel, s.intervalSeconds, s.firstIntervalStartMs])).toEqual([
        ['1', 900, 0],
        ['2', 900, 900_000],
      ]);
      expect(await store.listMeterStreams('MTR-CCCCCCCC')).toEqual([]);
      const page = (rows: LedgerRow[]) =>
        rows.map((r) => [r.intervalStartMs, r.channel, r.version]);
      const query = { meterId: 'MTR-AAAAAAAA', fromMs: 0, toMs: 3_600_000, limit: 2 };
      const first = await store.listLedgerRange(query);
      expect(page(first)).toEqual([
        [0, '1', 2],
        [900_000, '1', 1],
      ]);
      expect(first[0]).toMatchObject({ deliveryId: 'd2', sourceId: 's', committedAtMs: 1 });
      const after = { intervalStartMs: 900_000, channel: '1' };
      expect(page(await store.listLedgerRange({ ...query, after }))).toEqual([[900_000, '2', 1]]);
      expect(page(await store.listLedgerRange({ ...query, channel: '2', limit: 9 }))).toEqual([
        [900_000, '2', 1],
      ]);
      expect(page(await store.listLedgerRange({ ...query, toMs: 9_000_000, limit: 9 }))).toEqual([
        [0, '1', 2],
        [900_000, '1', 1],
        [900_000, '2', 1],
        [5_400_000, '1', 1],
      ]);
      expect(await store.listLedgerRange({ ...query, fromMs: 3_600_000 })).toEqual([]);
      const versions = await store.listIntervalVersions({
        meterId: 'MTR-AAAAAAAA',
        channel: '1',
        intervalStartMs: 0,
      });
      expect(versions.map((v) => [v.version, v.deliveryId])).toEqual([
        [2, 'd2'],
        [1, 'd1'],
      ]);
      await store.close();
    });

    it("reads a meter's quarantine items and deliveries page by page in creation order", async () => {
      const { store } = await engine.open();
      const item = (meterId: string | null, batchPosition: number): QuarantineInsert => ({
        deliveryId: 'd1',
        batchId: 1,
        batchPosition,
        location: {
          recordIndex: batchPosition,
          line: batchPosition + 1,
          byteOffset: 0,
          byteLength: 3,
        },
        violations: [
          { code: 'consumption.range', field: 'consumption', value: '9e9', message: 'too big' },
        ],
        meterId,
        idempotencyKey: null,
        relatedIdempotencyKey: null,
        uncountedSpan: false,
        rawSha256: `raw-${batchPosition}`,
      });
      const ids = await store.transaction((tx) =>
        tx.insertQuarantineRows(
          [
            item('MTR-AAAAAAAA', 0),
            item('MTR-BBBBBBBB', 1),
            item('MTR-AAAAAAAA', 2),
            item(null, 3),
          ],
          'ndjson',
          5,
        ),
      );
      const ofMeter = await store.listQuarantineOfMeter('MTR-AAAAAAAA', 9);
      expect(ofMeter.map((q) => q.id)).toEqual([ids[2], ids[0]]);
      expect((await store.listQuarantineOfMeter('MTR-AAAAAAAA', 1)).map((q) => q.id)).toEqual([
        ids[2],
      ]);
      // Ids that sort against their creation order: the page follows creation, not the id.
      for (const [id, sourceId] of [
        ['z-first', 'north'],
        ['m-second', 'south'],
        ['a-third', 'north'],
      ] as const) {
        await store.createDelivery({
          id,
          sourceId,
          name: `${id}.ndjson`,
          format: 'ndjson',
          formatContext: {},
          startedAtMs: 1,
        });
      }
      const newest = await store.listDeliveryPage({ limit: 2 });
      expect(newest.map((p) => p.delivery.id)).toEqual(['a-third', 'm-second']);
      const rest = await store.listDeliveryPage({ limit: 2, before: newest[1]!.position });
      expect(rest.map((p) => p.delivery.id)).toEqual(['z-first']);
      expect(rest[0]?.delivery).toMatchObject({ sourceId: 'north', status: 'running' });
      const north = await store.listDeliveryPage({ sourceId: 'north', limit: 9 });
      expect(north.map((p) => p.delivery.id)).toEqual(['a-third', 'z-first']);
      expect(await store.listDeliveryPage({ sourceId: 'east', limit: 9 })).toEqual([]);
      await store.close();
    });

    it('sums a period of holds and estimates for the discrepancy report', async () => {
      const { store } = await engine.open();
      const dayMs = 86_400_000;
      const fromMs = Date.UTC(2026, 9, 1);
      const toMs = Date.UTC(2026, 10, 1);
      const nowMs = toMs + 40 * dayMs;
      const s1 = 'source-1';
      await holdIn(store, s1, nowMs - 3 * dayMs, [
        hold('MTR-AAAAAAAA', fromMs, 40_000_000, ['spike']),
        hold('MTR-AAAAAAAA', fromMs + 900_000, 0, ['zero', 'zero']),
        hold('MTR-BBBBBBBB', fromMs, -5_000_000, ['reverse', 'spike']),
        // Outside the period: the interval starting at toMs belongs to the next month.
        hold('MTR-CCCCCCCC', toMs, 99_000_000, ['spike']),
      ]);
      await holdIn(store, 'source-2', nowMs - 45 * dayMs, [
        hold('MTR-CCCCCCCC', fromMs + dayMs, 7_000_000, ['spike']),
        { ...hold('MTR-DDDDDDDD', fromMs, 3_000_000, ['spike']), unit: 'therm' },
      ]);
      const decidedIds = (await store.listAnomalies({ meterId: 'MTR-CCCCCCCC', limit: 9 }))
        .filter((a) => a.reading.intervalStartMs < toMs)
        .map((a) => a.id);
      expect(decidedIds).toHaveLength(1);
      await store.transaction((tx) =>
        tx.decideAnomaly(decidedIds[0]!, {
          status: 'rejected',
          actor: 'a',
          note: 'meter replaced on site',
          atMs: nowMs,
          resolvedBatchId: null,
        }),
      );
      const estimate = {
        ...row('MTR-EEEEEEEE', fromMs + 900_000, 1, 0, 0),
        quality: 'estimated' as const,
      };
      const revised = {
        ...row('MTR-EEEEEEEE', fromMs + 900_000, 2, 0, 0),
        quality: 'estimated' as const,
      };
      await commitRows(store, [
        { ...estimate, valueMicro: 1_250_000 },
        { ...row('MTR-EEEEEEEE', fromMs, 1, 0, 1), quality: 'estimated' as const, valueMicro: 9 },
        { ...row('MTR-EEEEEEEE', toMs, 1, 0, 2), quality: 'estimated' as const },
      ]);
      await commitRows(store, [{ ...revised, valueMicro: 2_000_000 }]);
      const query = { fromMs, toMs, sourceIds: [], nowMs, topMetersMax: 10 };
      const total = (items: number, energy: bigint) => ({ items, energyMilliWh: energy });
      const figures = await store.discrepancyFigures(query);
      expect(figures.byStatus).toEqual({
        held: total(4, 35_000_000n),
        released: total(0, 0n),
        rejected: total(1, 7_000_000n),
      });
      expect(figures.byDetector).toEqual([
        {
          detector: 'reverse',
          held: total(1, -5_000_000n),
          released: total(0, 0n),
          rejected: total(0, 0n),
        },
        {
          detector: 'spike',
          held: total(3, 35_000_000n),
          released: total(0, 0n),
          rejected: total(1, 7_000_000n),
        },
        { detector: 'zero', held: total(1, 0n), released: total(0, 0n), rejected: total(0, 0n) },
      ]);
      expect(figures.estimated).toEqual(total(2, 2_000_009n));
      expect(figures.metersWithOpen).toBe(3);
      expect(figures.openByAgeDays).toEqual([
        { ageDays: 3, ...total(3, 35_000_000n) },
        { ageDays: 45, ...total(1, 0n) },
      ]);
      expect(figures.topMeters.map((m) => [m.meterId, m.atStakeMilliWh, m.held.items])).toEqual([
        ['MTR-AAAAAAAA', 40_000_000n, 2],
        ['MTR-BBBBBBBB', 5_000_000n, 1],
        ['MTR-DDDDDDDD', 0n, 1],
      ]);
      expect(
        (await store.discrepancyFigures({ ...query, topMetersMax: 1 })).topMeters,
      ).toHaveLength(1);
      const second = await store.discrepancyFigures({ ...query, sourceIds: ['source-2'] });
      expect(second.byStatus.held).toEqual(total(1, 0n));
      expect(second.topMeters.map((m) => m.meterId)).toEqual(['MTR-DDDDDDDD']);
      // The estimates were written by source 's'.
      expect(second.estimated).toEqual(total(0, 0n));
      const series = await store.streamSeries({
        meterId: 'MTR-EEEEEEEE',
        channel: '1',
        fromMs,
        toMs: toMs + 1,
        intervalMs: 900_000,
        limit: 2,
      });
      expect(series).toEqual([
        { intervalStartMs: fromMs, valueMicro: 9, quality: 'estimated' as const },
        { intervalStartMs: fromMs + 900_000, valueMicro: 2_000_000, quality: 'estimated' as const },
      ]);
      await store.close();
    });

    it('keeps a dead letter write-once, decides it once, and counts it in status', async () => {
      const { store, attack, another } = await engine.open();
      await store.createDelivery({
        id: 'dlv_dead',
        sourceId: 'vendor',
        name: 'page 7',
        format: 'ndjson',
        formatContext: {},
        startedAtMs: 10,
        transportId: 'page-7',
      });
      const bytes = Buffer.from('{"meter_id":"MTR-AAAAAAAA"}\n');
      const attempts = [
        { code: 'TRANSPORT_UNAVAILABLE', message: '503', startedAtMs: 11, durationMs: 40 },
        { code: 'TRANSPORT_TIMEOUT', message: 'timed out', startedAtMs: 60, durationMs: 5000 },
      ];
      const id = await store.transaction(async (tx) => {
        await tx.putRawChunk('dlv_dead', 0, bytes);
        return tx.insertDeadLetter({
          sourceId: 'vendor',
          deliveryId: 'dlv_dead',
          transportId: 'page-7',
          name: 'page 7',
          format: 'ndjson',
          formatContext: { zone: 'UTC' },
          rawSha256: 'ab'.repeat(32),
          sizeBytes: bytes.byteLength,
          bytesComplete: true,
          request: null,
          attempts,
          cause: 'attempts-exhausted',
          createdAtMs: 70,
          auditSeq: 1,
        });
      });
      const open = await store.getDeadLetter(id);
      expect(open).toMatchObject({ id, status: 'open', decision: null, attempts, auditSeq: 1 });
      expect(open?.formatContext).toEqual({ zone: 'UTC' });
      expect(Buffer.from(await store.readDeliveryBytes('dlv_dead', 0, bytes.byteLength))).toEqual(
        bytes,
      );
      // Evidence cannot change and rows cannot go, even by SQL on the file.
      await expect(attack(`UPDATE dead_letters SET attempts = '[]'`)).rejects.toThrow(/evidence/);
      await expect(attack('DELETE FROM dead_letters')).rejects.toThrow(/never deleted/);
      // A row with neither bytes nor a request is refused by the engine.
      await expect(
        attack(`INSERT INTO dead_letters (source_id, delivery_id, name, format, format_context,
          bytes_complete, attempts, cause, created_at_ms, audit_seq)
          VALUES ('s', 'd', 'n', 'json', '{}', 0, '[]', 'x', 1, 1)`),
      ).rejects.toThrow(/CHECK/i);
      const decision = {
        status: 'discarded' as const,
        actor: 'ops',
        justification: 'vendor test upload',
        atMs: 80,
        resolvedDeliveryId: null,
        auditSeq: 2,
      };
      // Two connections decide one after the other: the second finds it decided.
      const second = await another();
      expect(await store.transaction((tx) => tx.decideDeadLetter(id, decision))).toBe(true);
      const late = { ...decision, actor: 'other' };
      expect(await second.transaction((tx) => tx.decideDeadLetter(id, late))).toBe(false);
      const decided = await store.getDeadLetter(id);
      expect(decided?.status).toBe('discarded');
      expect(decided?.decision?.justification).toBe('vendor test upload');
      await expect(attack(`UPDATE dead_letters SET status = 'open'`)).rejects.toThrow(
        /cannot change/,
      );
      expect(await store.transaction((tx) => tx.decideDeadLetter(id, decision))).toBe(false);
      expect(await store.listDeadLetters({ status: 'open', limit: 10 })).toEqual([]);
      expect(await store.listDeadLetters({ sourceId: 'vendor', limit: 10 })).toHaveLength(1);
      expect(await store.listDeadLetters({ sourceId: 'other', limit: 10 })).toEqual([]);
      const status = await store.status();
      expect(status.deadLetters).toEqual({ open: 0, replayed: 0, discarded: 1 });
      expect(status.totals.received).toBe(1);
      expect(status.totals.deadLettered).toBe(1);
      await second.close();
      await store.close();
    });
  });
}

function hold(meter: string, startMs: number, valueMicro: number, detectors: string[]) {
  return { ...row(meter, startMs, 1, 0, 0), valueMicro, detectors };
}

/** Holds readings in one batch of `sourceId` committed at `atMs`, each with its detectors. */
async function holdIn(
  store: Store,
  sourceId: string,
  atMs: number,
  holds: readonly ReturnType<typeof hold>[],
): Promise<void> {
  await store.transaction(async (tx) => {
    const batchId = await tx.allocateBatchId();
    await tx.insertAnomalies(
      holds.map(({ detectors, ...reading }, position) => ({
        reading,
        batchId,
        batchPosition: position,
        findings: detectors.map((detector) => ({ detector, message: `flagged by ${detector}` })),
      })),
    );
    const counts = { ...emptyCounts(), received: holds.length, anomalyHeld: holds.length };
    await tx.insertBatch({
      id: batchId,
      deliveryId: `d-${sourceId}`,
      sourceId,
      kind: 'ingest',
      counts,
      ledgerRoot: 'r',
      quarantineRoot: 'q',
      byteOffset: 0,
      byteLength: 0,
      committedAtMs: atMs,
      auditSeq: batchId,
    });
  });
}
