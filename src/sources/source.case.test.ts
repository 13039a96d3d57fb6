// Goal: every Source keeps the call protocol (deliveries then END, or a caught-up idle for a
// source that is polled again later, each acknowledged exactly once).
// Method: one suite run against each implementation in SOURCES, on real files in a temp directory,
// a real HTTP server on loopback, and a real sshd for SFTP (skipped with a reason when it is not
// installed).
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { END, type Delivery, type Source } from '../core/source.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import { buildSource, NOW_MS, restConfig } from '../test-support/rest-source-kit.js';
import { RestTestServer } from '../test-support/rest-test-server.js';
import { requireOrSkip } from '../test-support/services.js';
import { testSourceContext } from '../test-support/source-context.js';
import { sshdAvailable, startSshd, type SshdServer } from '../test-support/sshd.js';
import { removeTempDirs, tempDir } from '../test-support/temp.js';
import { directorySourceKind } from './directory/directory-source.js';
import { FileSource } from './file/file-source.js';
import { sftpSourceKind } from './sftp/sftp-source.js';

interface SourceCase {
  name: string;
  /** A source holding exactly these payloads, in order. */
  open(payloads: readonly string[]): Source | Promise<Source>;
  /** How the source says it has nothing more: END, or a caught-up idle (a polling source). */
  ends?: 'end' | 'caught-up';
  /** Whether the case can run here; false skips it (requireOrSkip printed why). */
  runs?: boolean;
}

/** The payloads as drop files in a fresh folder, oldest first in payload order. */
function dropFolder(root: string, payloads: readonly string[]): string {
  const inbox = join(root, 'inbox');
  mkdirSync(inbox);
  payloads.forEach((payload, index) => {
    const path = join(inbox, `delivery-${index}.ndjson`);
    writeFileSync(path, payload);
    utimesSync(path, 1_000 + index, 1_000 + index);
  });
  return inbox;
}

function dropContext() {
  return testSourceContext(openSqliteStore(join(tempDir(), 'store.db'), { nowMs: () => 0 }));
}

let sshd: Promise<SshdServer> | null = null;
const sshdRuns = requireOrSkip('sshd', sshdAvailable(), 'not installed at /usr/sbin/sshd');

const SOURCES: SourceCase[] = [
  {
    name: 'file',
    open(payloads) {
      const dir = tempDir();
      return new FileSource(
        'files',
        payloads.map((payload, index) => {
          const path = join(dir, `delivery-${index}.ndjson`);
          writeFileSync(path, payload);
          return { path, format: 'ndjson' as const };
        }),
      );
    },
  },
  {
    name: 'rest',
    ends: 'caught-up',
    async open(payloads) {
      const clock = { nowMs: () => NOW_MS };
      const server = await RestTestServer.start({
        records: [],
        style: 'link',
        clock,
        rawPages: payloads,
      });
      const backfillStart = new Date(NOW_MS - 3_600_000).toISOString();
      const config = restConfig(server, {
        style: 'link',
        records: { path: 'readings', dialect: {} },
      });
      const { source } = buildSource({ ...config, window: { ...config.window, backfillStart } });
      // The server goes with the source.
      return {
        id: source.id,
        connect: (signal, saved) => source.connect(signal, saved),
        read: (signal) => source.read(signal),
        close: async () => {
          await source.close();
          await server.close();
        },
      };
    },
  },
  {
    name: 'directory',
    ends: 'caught-up',
    open(payloads) {
      const root = tempDir();
      const config = directorySourceKind.schema.parse({
        kind: 'directory',
        id: 'drop',
        path: dropFolder(root, payloads),
        archiveDir: join(root, 'archive'),
      });
      return directorySourceKind.create(config, dropContext());
    },
  },
  {
    name: 'sftp',
    ends: 'caught-up',
    runs: sshdRuns,
    async open(payloads) {
      sshd ??= startSshd();
      const server = await sshd;
      const config = sftpSourceKind.schema.parse({
        kind: 'sftp',
        id: 'drop',
        host: server.host,
        port: server.port,
        username: server.username,
        privateKeyFile: server.privateKeyFile,
        hostKeySha256: server.hostKeySha256,
        remotePath: dropFolder(tempDir(), payloads),
      });
      return sftpSourceKind.create(config, dropContext());
    },
  },
];

/** END, or for a polling source an idle that says it has caught up. */
function expectEnd(sourceCase: SourceCase, result: unknown): void {
  if (sourceCase.ends === 'caught-up') {
    expect(result).toMatchObject({ idle: true, reason: 'caught-up' });
  } else {
    expect(result).toBe(END);
  }
}

/** Payloads every source can carry: JSON objects with their records in an array. */
const PAYLOADS = ['{"readings":[{"a":1}]}\n', '{"readings":[{"b":2}]}\n'];

async function text(delivery: Delivery): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of delivery.bytes()) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts).toString('utf8');
}

const RECEIPT = {
  deliveryId: 'dlv_test',
  counts: {
    received: 1,
    accepted: 1,
    duplicates: 0,
    quarantined: 0,
    conflicts: 0,
    anomalyHeld: 0,
    deadLettered: 0,
    revisions: 0,
  },
  firstDeliveryId: null,
};

afterAll(async () => {
  if (sshd !== null) await (await sshd).stop();
  removeTempDirs();
});

for (const sourceCase of SOURCES) {
  describe.skipIf(sourceCase.runs === false)(`Source conformance: ${sourceCase.name}`, () => {
    it('returns every delivery with its bytes, in order, then END', async () => {
      const source = await sourceCase.open(PAYLOADS);
      const signal = new AbortController().signal;
      await source.connect(signal, null);
      const first = await source.read(signal);
      const second = await source.read(signal);
      expect(first).not.toBe(END);
      expect(second).not.toBe(END);
      expect(await text(first as Delivery)).toBe(PAYLOADS[0]);
      expect(await text(second as Delivery)).toBe(PAYLOADS[1]);
      expectEnd(sourceCase, await source.read(signal));
      await source.close();
    });

    it('accepts exactly one acknowledgement per delivery', async () => {
      const source = await sourceCase.open(PAYLOADS);
      const signal = new AbortController().signal;
      await source.connect(signal, null);
      const acked = (await source.read(signal)) as Delivery;
      const nacked = (await source.read(signal)) as Delivery;
      await acked.ack(RECEIPT);
      await expect(acked.ack(RECEIPT)).rejects.toThrow(/twice/);
      await nacked.nack(new Error('could not commit'));
      await expect(nacked.ack(RECEIPT)).rejects.toThrow(/twice/);
      await source.close();
    });
  });
}
