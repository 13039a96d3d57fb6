// Goal: the built `amisync run --config F --workers 2` reads a partitioned NATS stream into
// PostgreSQL until the ledger equals the simulator's truth, starts again a worker that was
// SIGKILLed, and on SIGTERM exits 0 with every worker process gone, every lease given back and
// the audit chain's head signed; a SIGKILLed supervisor leaves no worker behind; with --api-port
// the API serves the shared store and a pause posted to it holds every worker until resumed; usage
// errors (a missing signing key among them) exit 64 before connecting.
// Method: own schema, stream and durables; the feed published by the built `simulate publish
// --partitions 4`; worker pids read from the supervisor's log; the ack log joined with the store.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadOrCreateSigningKey } from '../../audit/checkpoint.js';
import { verifyAudit } from '../../audit/verify.js';
import { isConserved } from '../../pipeline/commit.js';
import { formatKwh, type Truth } from '../../simulator/truth.js';
import { heldPartitions } from '../../store/postgres/postgres-partitions.js';
import { openPostgresStore } from '../../store/postgres/postgres-store.js';
import { natsConsumerBacklog, readAckLog } from '../../test-support/broker-rig.js';
import { CLI_MAIN, runCli } from '../../test-support/crash-runs.js';
import { cliSync, jsonOf } from '../../test-support/cli-sync.js';
import { freshPostgresSchema } from '../../test-support/postgres.js';
import { tempDir } from '../../test-support/temp.js';
import { ledgerStreams } from '../../test-support/truth-check.js';
import { exited, waitFor, workerServices, workerTestNames } from '../../test-support/worker-rig.js';

const NATS_URL = 'nats://127.0.0.1:4222';
const PARTITIONS = 4;

const services = await workerServices();

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Each `worker N started (pid P)` line of the supervisor's log, in order. */
function startsIn(stderr: string): { worker: number; pid: number; start: number }[] {
  return stderr
    .split('\n')
    .filter((line) => line.includes('"msg":"worker ') && line.includes(' started (pid '))
    .map((line) => JSON.parse(line) as { worker: number; pid: number; start: number });
}

function writeConfig(
  folder: string,
  names: Record<string, string>,
  leaseMs = 2000,
  settings: readonly string[] = [],
): string {
  const config = join(folder, 'workers.yaml');
  writeFileSync(
    config,
    [
      `database: ${names['url']}`,
      'shutdownGraceMs: 20000',
      `workers: { heartbeatMs: 300, leaseMs: ${leaseMs} }`,
      ...settings,
      'sources:',
      '  - kind: nats',
      '    id: headend',
      `    url: ${NATS_URL}`,
      `    stream: ${names['stream']}`,
      `    subject: ${names['subject']}`,
      `    durable: ${names['durable']}`,
      '    ackWaitMs: 1000',
      '    batch: { messagesMax: 20 }',
      '    ackLog: ./acks.ndjson',
      `    partitions: ${PARTITIONS}`,
    ].join('\n'),
  );
  return config;
}

describe.runIf(services.up)('amisync run --workers on PostgreSQL and JetStream', () => {
  it('reaches the truth across a SIGKILLed worker, and stops on SIGTERM', async () => {
    const { stream, subject, durable, folder } = workerTestNames(services, 'run-workers');
    const { url } = freshPostgresSchema();
    const config = writeConfig(folder, { url, stream, subject, durable });
    const truthFile = join(folder, 'truth.json');
    // Conflicting values too: per-meter order across the restart decides which value stands.
    const published = await runCli(
      [
        ...['simulate', 'publish', '--to', NATS_URL, '--stream', stream, '--subject', subject],
        ...['--partitions', String(PARTITIONS), '--meters', '16', '--days', '2', '--seed', '23'],
        ...['--readings-per-message', '8', '--poison-rate', '0.02', '--repeat-rate', '0.03'],
        ...['--retransmit-rate', '0.02', '--bad-rate', '0.01', '--conflict-rate', '0.02'],
        ...['--truth', truthFile, '--json'],
      ],
      process.env,
    );
    expect(published.code, published.stderr).toBe(0);
    const truth = JSON.parse(readFileSync(truthFile, 'utf8')) as Truth;
    const messages = (JSON.parse(published.stdout) as { messages: number }).messages;

    const key = join(folder, 'signing-key.pem');
    const parent = spawn(
      process.execPath,
      [CLI_MAIN, 'run', '--config', config, '--workers', '2', '--json'],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, AMISYNC_SIGNING_KEY: key } },
    );
    let stdout = '';
    let stderr = '';
    parent.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    parent.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const ackLog = join(folder, 'acks.ndjson');
    const acked = () => readAckLog(ackLog).reduce((sum, line) => sum + line.messages.length, 0);
    const store = await openPostgresStore(url, { nowMs: () => Date.now() });
    const pids = new Set<number>();
    try {
      await waitFor(() => startsIn(stderr).length >= 2, 'two workers started', 60_000);
      await waitFor(() => acked() >= 30, 'the workers acknowledging', 120_000);
      const victim = startsIn(stderr)[0] as { worker: number; pid: number };
      process.kill(victim.pid, 'SIGKILL');
      await waitFor(
        () => startsIn(stderr).some((s) => s.worker === victim.worker && s.start === 2),
        'the supervisor starting the killed worker again',
        60_000,
      );
      const backlog = async () => {
        let total = 0;
        for (let partition = 0; partition < PARTITIONS; partition++) {
          const pending = await natsConsumerBacklog(stream, `${durable}_p${partition}`);
          total += pending;
        }
        return total;
      };
      await waitFor(
        async () => (await backlog().catch(() => 1)) === 0 && acked() > 0,
        'the stream drained',
        180_000,
      );
      // Every partition is held by a live worker again before the stop: the takeover is done.
      const victimOwner = `:${victim.pid}`;
      await waitFor(
        async () => {
          const held = await heldPartitions(store.pool);
          return held.length === PARTITIONS && held.every((h) => !h.owner.endsWith(victimOwner));
        },
        'the partitions held by live workers',
        60_000,
      );
      for (const start of startsIn(stderr)) pids.add(start.pid);
      parent.kill('SIGTERM');
      const code = await exited(parent);
      expect(code, stderr.slice(-4000)).toBe(0);
      const alive = [...pids].filter(isAlive);
      expect(alive).toEqual([]);
      expect(await heldPartitions(store.pool)).toEqual([]);
      const summary = JSON.parse(stdout) as {
        workers: { worker: number; starts: number }[];
        checkpoint: { auditSeq: number; headHash: string } | null;
        interrupted: boolean;
      };
      expect(summary.interrupted).toBe(true);
      const restarted = summary.workers.find((w) => w.worker === victim.worker);
      expect(restarted?.starts).toBe(2);

      const acks = readAckLog(ackLog);
      expect(new Set(acks.flatMap((line) => line.messages)).size).toBe(messages);
      const finished = await store.pool.query(
        "SELECT id, finished_at_ms FROM deliveries WHERE status = 'complete'",
      );
      const finishedAt = new Map<string, number>(
        finished.rows.map((row: { id: string; finished_at_ms: string }) => [
          row.id,
          Number(row.finished_at_ms),
        ]),
      );
      const early = acks.filter(
        (ack) => !((finishedAt.get(ack.deliveryId) ?? Infinity) <= ack.atMs),
      );
      expect(early).toEqual([]);
      const status = await store.status();
      expect(isConserved(status.totals)).toBe(true);
      expect(status.totals.accepted).toBe(truth.valid);
      expect(await ledgerStreams(store)).toEqual(truth.streams);
      expect(status.ledger.readings).toBe(truth.currentReadings);
      expect(formatKwh(status.ledger.energyMilliWh)).toBe(truth.kwh);
      // The supervisor signed the head of the chain every worker appended to, with the key given.
      const head = await store.pool.query(
        'SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1',
      );
      expect(summary.checkpoint).toEqual({
        auditSeq: Number(head.rows[0].seq),
        headHash: head.rows[0].hash,
      });
      const report = await verifyAudit(store, loadOrCreateSigningKey(key).key.publicKey);
      expect(report.problems).toEqual([]);
      expect(report.checkpoints).toBe(1);
      expect(report.checkpointsVerified).toBe(1);
    } finally {
      if (parent.exitCode === null) parent.kill('SIGKILL');
      for (const { pid } of startsIn(stderr)) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
      await exited(parent);
      await store.close();
    }
  }, 420_000);
});

describe.runIf(services.up)('amisync run --workers, its supervisor killed', () => {
  it('leaves no worker behind: each stops and gives its leases back', async () => {
    const { stream, subject, durable, folder } = workerTestNames(services, 'run-workers-kill');
    const { url } = freshPostgresSchema();
    const names = { url, stream, subject, durable };
    // Leases of a minute: an empty lease table within the test means given back, not expired.
    const config = writeConfig(folder, names, 60_000);
    const parent = spawn(
      process.execPath,
      [CLI_MAIN, 'run', '--config', config, '--workers', '2'],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, AMISYNC_SIGNING_KEY: join(folder, 'signing-key.pem') },
      },
    );
    let stderr = '';
    parent.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const store = await openPostgresStore(url, { nowMs: () => Date.now() });
    try {
      await waitFor(() => startsIn(stderr).length >= 2, 'two workers started', 60_000);
      await waitFor(
        async () => (await heldPartitions(store.pool).catch(() => [])).length === PARTITIONS,
        'every partition held',
        60_000,
      );
      parent.kill('SIGKILL');
      await exited(parent);
      const pids = startsIn(stderr).map((start) => start.pid);
      await waitFor(() => pids.every((pid) => !isAlive(pid)), 'the workers stopping', 30_000);
      expect(await heldPartitions(store.pool)).toEqual([]);
    } finally {
      for (const { pid } of startsIn(stderr)) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
      await store.close();
    }
  }, 180_000);
});

describe.runIf(services.up)('amisync run --workers --api-port', () => {
  it('serves the API on the shared store; a pause made through it holds every worker', async () => {
    const { stream, subject, durable, folder } = workerTestNames(services, 'run-workers-api');
    const { url } = freshPostgresSchema();
    const key = join(folder, 'signing-key.pem');
    const names = { url, stream, subject, durable };
    const config = writeConfig(folder, names, 2000, ['checkpointIntervalMs: 1000']);
    const parent = spawn(
      process.execPath,
      [...[CLI_MAIN, 'run', '--config', config, '--workers', '2'], '--api-port', '0'],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, AMISYNC_SIGNING_KEY: key } },
    );
    let stderr = '';
    parent.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const store = await openPostgresStore(url, { nowMs: () => Date.now() });
    try {
      await waitFor(() => /"url":"http:/.test(stderr), 'the API listening', 60_000);
      const api = /"url":"(http:[^"]+)"/.exec(stderr)?.[1] as string;
      const token = (role: string): string => {
        const args = ['tokens', 'add', '--role', role, '--name', `${role}-w`, '--db', url];
        const added = cliSync([...args, '--json'], { env: { AMISYNC_SIGNING_KEY: key } });
        expect(added.status, added.stderr).toBe(0);
        return jsonOf<{ token: string }>(added).token;
      };
      const operator = token('operator');
      const paused = await fetch(`${api}/api/pause`, {
        method: 'POST',
        headers: { authorization: `Bearer ${operator}`, 'content-type': 'application/json' },
        body: JSON.stringify({ sources: ['headend'], reason: 'vendor sends doubled values' }),
      });
      expect(paused.status).toBe(200);
      await waitFor(
        async () => (await heldPartitions(store.pool).catch(() => [])).length === PARTITIONS,
        'every partition held',
        60_000,
      );
      await waitFor(
        () => (stderr.match(/partition \d paused by /g) ?? []).length >= PARTITIONS,
        'every partition paused',
        30_000,
      );
      const published = await runCli(
        [
          ...['simulate', 'publish', '--to', NATS_URL, '--stream', stream, '--subject', subject],
          ...['--partitions', String(PARTITIONS), '--meters', '8', '--days', '1', '--seed', '5'],
          ...['--readings-per-message', '8', '--truth', join(folder, 'truth.json'), '--json'],
        ],
        process.env,
      );
      expect(published.code, published.stderr).toBe(0);
      const truth = JSON.parse(readFileSync(join(folder, 'truth.json'), 'utf8')) as Truth;
      const readings = truth.valid;
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      expect((await store.status()).totals.received).toBe(0);
      const resumed = await fetch(`${api}/api/resume`, {
        method: 'POST',
        headers: { authorization: `Bearer ${operator}`, 'content-type': 'application/json' },
        body: JSON.stringify({ sources: ['headend'], reason: 'vendor fixed its export' }),
      });
      expect(resumed.status).toBe(200);
      await waitFor(
        async () => (await store.status()).totals.accepted === readings,
        'the workers ingesting after resume',
        120_000,
      );
      const sources = (await (
        await fetch(`${api}/api/sources`, { headers: { authorization: `Bearer ${operator}` } })
      ).json()) as { sources: { sourceId: string; counts: { accepted: number } }[] };
      const accepted = sources.sources.reduce((sum, source) => sum + source.counts.accepted, 0);
      expect(accepted).toBe(readings);
      // While the workers run, the supervisor signs the head they moved, every second here (the
      // head it signs may be a later one: the workers may append after this read).
      const head = async (): Promise<number> =>
        Number((await store.pool.query('SELECT max(seq) AS seq FROM audit_log')).rows[0].seq);
      const last = await head();
      await waitFor(
        async () => (await store.listCheckpoints()).some((c) => c.auditSeq >= last),
        'the head signed while the workers run',
        30_000,
      );
      parent.kill('SIGTERM');
      expect(await exited(parent), stderr).toBe(0);
    } finally {
      if (parent.exitCode === null) parent.kill('SIGKILL');
      await exited(parent);
      await store.close();
    }
  }, 240_000);
});

describe('amisync run --workers: usage errors, before anything connects', () => {
  const partitioned = [
    'sources:',
    '  - kind: nats',
    '    id: headend',
    '    url: nats://127.0.0.1:4222',
    '    stream: NEVER_CONNECTED',
    '    subject: headend.readings',
    '    durable: amisync',
    '    partitions: 4',
  ];
  const env = {
    ...process.env,
    AMISYNC_DB: undefined,
    AMISYNC_DICTIONARY: undefined,
    AMISYNC_SIGNING_KEY: undefined,
  };

  function file(name: string, lines: readonly string[]): string {
    const path = join(tempDir('amisync-run-workers-usage-'), name);
    writeFileSync(path, lines.join('\n'));
    return path;
  }

  it('exits 64 naming the flag, or 78 naming the database, each with the reason', async () => {
    const postgres = ['database: postgres://postgres@127.0.0.1:1/none?schema=none', ...partitioned];
    const withPostgres = file('workers.yaml', postgres);
    const withoutDatabase = file('no-database.yaml', partitioned);
    const drop = file('drop.yaml', [
      'database: ./amisync.db',
      'sources:',
      '  - { kind: directory, id: drop, path: ./inbox }',
    ]);
    const mixed = file('mixed.yaml', [
      ...postgres,
      '  - { kind: directory, id: drop, path: ./in }',
    ]);
    const cases: [string[], number, RegExp][] = [
      [['--config', drop, '--workers', '2'], 64, /--workers needs a partitioned source/],
      [['--config', withPostgres], 64, /headend is partitioned .*run it with --workers N/],
      [['--config', withPostgres, '--workers', '0'], 64, /--workers must be 1 to 64, not 0/],
      [['--config', withPostgres, '--workers', '5'], 64, /more than the 4 partitions/],
      [['--config', withPostgres, '--workers', '2', '--once'], 64, /--once cannot be given/],
      [['--config', mixed, '--workers', '2'], 64, /only the partitioned source headend; run drop/],
      [['--config', withoutDatabase, '--workers', '2', '--db', './x.db'], 64, /not .*x\.db/],
      [['--config', withoutDatabase, '--workers', '2'], 78, /database: .*one PostgreSQL store/],
      [['--config', withPostgres, '--workers', '2'], 64, /no file to keep the signing key beside/],
    ];
    const results = await Promise.all(cases.map(([args]) => runCli(['run', ...args], env)));
    results.forEach((result, index) => {
      const [args, code, reason] = cases[index] as [string[], number, RegExp];
      expect({ args, code: result.code }).toEqual({ args, code });
      expect(result.stderr).toMatch(reason);
    });
  }, 120_000);
});
