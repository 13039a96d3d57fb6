// Goal: SIGKILL of `amisync run` at random points while a vendor pushes with faults on loses and
// doubles nothing: after restarts the ledger equals the truth, conservation holds, and every 2xx
// the vendor got names a delivery the store holds complete (no 2xx before its commit).
// Method: the built CLI serving a push source in a child process, killed and restarted on the same
// port while `simulate push` (which resends a body with its Idempotency-Key after a cut) runs.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Mulberry32 } from '../../simulator/feed-generator.js';
import { runSimulatePush } from '../../cli/commands/simulate-push.js';
import { isConserved } from '../../pipeline/commit.js';
import { openSqliteStore } from '../../store/sqlite/sqlite-store.js';
import { removeTempDirs, tempDir } from '../../test-support/temp.js';
import { newApiKey } from './push-auth.js';
import { CountingRandom } from '../../core/clock.js';
import { formatKwh } from '../../simulator/truth.js';
import { freePort } from '../common/loopback-port.js';

afterAll(removeTempDirs);

const MAIN = fileURLToPath(new URL('../../../dist/cli/main.js', import.meta.url));
const KILLS = 4;

/** Waits for the restarted service's port: up to a minute, as a loaded machine may need. */
async function listening(port: number): Promise<void> {
  for (let attempt = 0; attempt < 2_400; attempt++) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ port, host: '127.0.0.1' });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`nothing listens on ${port}`);
}

function serve(config: string): ChildProcess {
  return spawn(process.execPath, [MAIN, 'run', '--config', config], { stdio: 'ignore' });
}

async function kill(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  await exited;
}

describe('push: SIGKILL of the service while a vendor pushes', () => {
  it('ends with the ledger the truth names, and no 2xx before its commit', async () => {
    const folder = tempDir();
    const database = join(folder, 'amisync.db');
    const store = openSqliteStore(database, { nowMs: () => 0 });
    const { key, keyId, keySha256 } = newApiKey(new CountingRandom());
    await store.addVendor({
      name: 'sim',
      keyId,
      keySha256,
      meters: null,
      meterPattern: null,
      anyMeter: true,
      createdAtMs: 0,
    });
    await store.close();
    const keyFile = join(folder, 'vendor.key');
    writeFileSync(keyFile, key);
    const port = await freePort();
    const config = join(folder, 'amisync.yaml');
    writeFileSync(
      config,
      [
        `database: ${database}`,
        `log: { level: info, file: ${join(folder, 'amisync.log')} }`,
        'sources:',
        `  - { kind: push, id: push, port: ${port}, rateLimit: { requestsPerMinute: 1000000 } }`,
      ].join('\n'),
    );
    let child = serve(config);
    await listening(port);
    const truthFile = join(folder, 'truth.json');
    const pushing = runSimulatePush({
      url: `http://127.0.0.1:${port}/v1/readings`,
      keyFile,
      meters: '24',
      days: '3',
      seed: '9',
      concurrency: '4',
      bodyReadings: '100',
      badRate: '0.02',
      retransmitRate: '0.02',
      estimateRate: '0.03',
      truncateRate: '0.2',
      resendRate: '0.2',
      truth: truthFile,
    });
    let done = false;
    // Settled either way here; a failure is thrown by the await below, not left unhandled.
    void pushing.then(
      () => (done = true),
      () => (done = true),
    );
    const random = new Mulberry32(2024);
    let killed = 0;
    let summary: Awaited<typeof pushing>;
    try {
      for (; killed < KILLS && !done; killed++) {
        await new Promise((resolve) => setTimeout(resolve, random.nextInt(100, 600)));
        await kill(child, 'SIGKILL');
        child = serve(config);
        await listening(port);
      }
      summary = await pushing;
    } finally {
      // Whatever failed, the service does not outlive the test.
      await kill(child, 'SIGTERM');
    }
    expect(killed).toBeGreaterThanOrEqual(2);
    expect(summary.retried).toBeGreaterThan(0);

    const reopened = openSqliteStore(database, { nowMs: () => 0 });
    try {
      for (const deliveryId of summary.deliveryIds) {
        expect((await reopened.getDelivery(deliveryId))?.status, deliveryId).toBe('complete');
      }
      const status = await reopened.status();
      const truth = summary.truth;
      expect(status.totals).toMatchObject({
        received: truth.received,
        accepted: truth.valid,
        duplicates: truth.duplicates,
        quarantined: truth.invalid + truth.conflicts,
      });
      expect(isConserved(status.totals)).toBe(true);
      expect(status.ledger.readings).toBe(truth.currentReadings);
      expect(formatKwh(status.ledger.energyMilliWh)).toBe(truth.kwh);
    } finally {
      await reopened.close();
    }
  }, 300_000);
});
