// Goal: a feed pushed by 4 concurrent clients, with bad records, estimates, conflicts, repeats,
// truncated and resent bodies, ends in the ledger the truth names, conservation holding.
// Method: `amisync simulate push` (runSimulatePush) against a push source under the real runner
// and a real SQLite store, over real HTTP on loopback; the ledger is read back per meter.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runSimulatePush } from '../../cli/commands/simulate-push.js';
import { verifyAudit } from '../../audit/verify.js';
import { isConserved } from '../../pipeline/commit.js';
import { formatKwh, type Truth } from '../../simulator/truth.js';
import { startPushRig } from '../../test-support/push-rig.js';
import { removeTempDirs, tempDir } from '../../test-support/temp.js';

afterAll(removeTempDirs);

const DAYS = 2;
const START = '2026-03-01';

describe('simulate push into a push source', () => {
  it('ends with the ledger the truth names, every delivery conserved', async () => {
    const rig = await startPushRig({
      nowMs: Date.parse(`${START}T00:00:00Z`) + (DAYS + 1) * 86_400_000,
      config: { rateLimit: { requestsPerMinute: 100_000, burst: 10_000 } },
    });
    try {
      const dir = tempDir();
      const keyFile = join(dir, 'vendor.key');
      writeFileSync(keyFile, `${await rig.addVendor('sim', { anyMeter: true })}\n`);
      const truthFile = join(dir, 'truth.json');
      const summary = await runSimulatePush({
        url: rig.url,
        keyFile,
        meters: '20',
        days: String(DAYS),
        start: START,
        seed: '42',
        concurrency: '4',
        bodyReadings: '300',
        badRate: '0.02',
        truncateRate: '0.3',
        retransmitRate: '0.02',
        resendRate: '0.3',
        estimateRate: '0.03',
        conflictRate: '0.01',
        truth: truthFile,
      });
      const truth = JSON.parse(readFileSync(truthFile, 'utf8')) as Truth;
      expect(summary.replayed).toBeGreaterThan(0);
      expect(truth.invalid).toBeGreaterThan(0);
      expect(truth.revisions).toBeGreaterThan(0);
      expect(truth.conflicts).toBeGreaterThan(0);
      expect(truth.duplicates).toBeGreaterThan(0);
      expect(rig.errors).toEqual([]);

      const status = await rig.store.status();
      expect(status.totals).toMatchObject({
        received: truth.received,
        duplicates: truth.duplicates,
        quarantined: truth.invalid + truth.conflicts,
        conflicts: truth.conflicts,
        revisions: truth.revisions,
      });
      expect(status.totals.accepted).toBe(truth.valid);
      expect(isConserved(status.totals)).toBe(true);
      for (const delivery of await rig.store.listDeliveries(1_000)) {
        expect(isConserved(delivery.counts), delivery.id).toBe(true);
      }
      expect(summary.counts).toEqual(status.totals);

      const streams = new Map<string, { readings: number; milliWh: bigint }>();
      for await (const rows of rig.store.iterateCurrentLedger()) {
        for (const row of rows) {
          const stream = streams.get(row.meterId) ?? { readings: 0, milliWh: 0n };
          stream.readings += 1;
          stream.milliWh += BigInt(row.valueMicro);
          streams.set(row.meterId, stream);
        }
      }
      const ledger = [...streams.entries()]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([meterId, stream]) => ({
          meterId,
          channel: '1',
          readings: stream.readings,
          kwh: formatKwh(stream.milliWh),
        }));
      expect(ledger).toEqual(truth.streams);
      expect(status.ledger.readings).toBe(truth.currentReadings);
      const audit = await verifyAudit(rig.store, null);
      expect(audit.firstProblem).toBeNull();
      expect(audit.ok).toBe(true);
    } finally {
      await rig.stop();
    }
  }, 60_000);
});
