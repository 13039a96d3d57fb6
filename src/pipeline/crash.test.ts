// Goal: a SIGKILL at any moment of `amisync ingest` loses and doubles nothing (ARCH 2.1-2.3).
// Method: ingest a generated feed cleanly, then under seeded random kills of the real CLI; compare.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateSigningKey } from '../audit/checkpoint.js';
import { verifyAudit } from '../audit/verify.js';
import type { IngestSummary } from '../cli/commands/ingest.js';
import {
  generateFeed,
  Mulberry32,
  toNdjson,
  type FeedExpectation,
  type FeedOptions,
} from '../simulator/feed-generator.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import { removeTempDirs, tempDir } from '../test-support/temp.js';
import { ledgerState, type LedgerState } from './ledger-state.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'dist', 'cli', 'main.js');

/** 300 meters x 400 intervals plus follow-ups: ~142k records, ~20 MB, 15 batches of 10,000. */
const FEED: FeedOptions = {
  seed: 20_260_301,
  meters: 300,
  intervals: 400,
  startMs: Date.UTC(2025, 0, 6),
  estimateRate: 0.1,
  retransmitRate: 0.05,
  conflictRate: 0.02,
  badRate: 0.02,
  checksumRate: 0.3,
};
const KILL_SEED = 0x6b696c6c;
const KILLS = 6;
const KILL_DELAY_MS_MIN = 50;
const FIRST_BATCH_TRIALS = 3;
const FIRST_BATCH_KILL_DELAY_MS_MAX = 30;
const POLL_INTERVAL_MS = 5;
const RUN_MS_MAX = 60_000;
const STDOUT_BYTES_MAX = 16 * 1024 * 1024;
const SCENARIO_MS_MAX = 120_000;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

interface Snapshot {
  deliveries: number;
  inProgress: number;
  batches: number;
}

type Landing = 'completed' | 'before-delivery' | 'mid-delivery' | 'after-delivery';

interface CleanRun {
  dir: string;
  feedPath: string;
  records: number;
  expected: FeedExpectation;
  summary: IngestSummary;
  state: LedgerState;
  durationMs: number;
}

let clean: CleanRun;

/** The CLI's environment minus AMISYNC_* variables, so only the flags choose db, key and rules. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('AMISYNC_')) env[name] = value;
  }
  return env;
}

function ingestArgs(feedPath: string, dbPath: string): string[] {
  return [CLI, 'ingest', feedPath, '--db', dbPath, '--json'];
}

function ingestToCompletion(
  feedPath: string,
  dbPath: string,
): { summary: IngestSummary; durationMs: number } {
  const startedMs = performance.now();
  const result = spawnSync(process.execPath, ingestArgs(feedPath, dbPath), {
    encoding: 'utf8',
    env: childEnv(),
    maxBuffer: STDOUT_BYTES_MAX,
    timeout: RUN_MS_MAX,
  });
  const durationMs = performance.now() - startedMs;
  expect(result.status, result.stderr).toBe(0);
  return { summary: JSON.parse(result.stdout) as IngestSummary, durationMs };
}

/** Starts node with `argv` (the CLI path first) and resolves when it exits, however it ends. */
function spawnNode(argv: readonly string[]): { child: ChildProcess; exit: Promise<Exit> } {
  const child = spawn(process.execPath, argv, {
    env: childEnv(),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const exit = new Promise<Exit>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal, stderr }));
  });
  return { child, exit };
}

function spawnIngest(dbPath: string): { child: ChildProcess; exit: Promise<Exit> } {
  return spawnNode(ingestArgs(clean.feedPath, dbPath));
}

async function killedAfter(argv: readonly string[], delayMs: number): Promise<Exit> {
  const { child, exit } = spawnNode(argv);
  const timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
  const result = await exit;
  clearTimeout(timer);
  return result;
}

async function ingestKilledAfter(dbPath: string, delayMs: number): Promise<Exit> {
  return killedAfter(ingestArgs(clean.feedPath, dbPath), delayMs);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function count(db: Database.Database, sql: string): number {
  return Number((db.prepare(sql).get() as { n: number | bigint }).n);
}

/** Rows the query returns; each query lists what must not exist. */
function offenders(db: Database.Database, sql: string): unknown[] {
  return db.prepare(sql).all();
}

const UNBALANCED_BATCHES = `SELECT id FROM batches
  WHERE received != accepted + duplicates + quarantined + anomaly_held + dead_lettered`;
const BATCHES_WITHOUT_THEIR_ROWS = `SELECT b.id, b.accepted, b.quarantined, b.anomaly_held,
    coalesce(l.n, 0) AS ledger_rows, coalesce(q.n, 0) AS quarantine_rows,
    coalesce(a.n, 0) AS anomaly_rows, coalesce(r.n, 0) AS repeat_rows
  FROM batches b
  LEFT JOIN (SELECT batch_id, count(*) AS n FROM ledger GROUP BY batch_id) l ON l.batch_id = b.id
  LEFT JOIN (SELECT batch_id, count(*) AS n FROM quarantine GROUP BY batch_id) q
    ON q.batch_id = b.id
  LEFT JOIN (SELECT batch_id, count(*) AS n FROM anomalies GROUP BY batch_id) a ON a.batch_id = b.id
  LEFT JOIN (SELECT batch_id, count(*) AS n FROM quarantine_repeats GROUP BY batch_id) r
    ON r.batch_id = b.id
  WHERE coalesce(l.n, 0) != b.accepted OR coalesce(q.n, 0) + coalesce(r.n, 0) != b.quarantined
    OR coalesce(a.n, 0) != b.anomaly_held`;
const DELIVERIES_OFF_THEIR_BATCHES = `SELECT d.id FROM deliveries d
  LEFT JOIN (SELECT delivery_id, sum(received) AS received, sum(accepted) AS accepted,
      sum(duplicates) AS duplicates, sum(quarantined) AS quarantined,
      sum(anomaly_held) AS anomaly_held, sum(dead_lettered) AS dead_lettered
    FROM batches WHERE kind = 'ingest' GROUP BY delivery_id) s ON s.delivery_id = d.id
  WHERE d.received != coalesce(s.received, 0) OR d.accepted != coalesce(s.accepted, 0)
    OR d.duplicates != coalesce(s.duplicates, 0) OR d.quarantined != coalesce(s.quarantined, 0)
    OR d.anomaly_held != coalesce(s.anomaly_held, 0)
    OR d.dead_lettered != coalesce(s.dead_lettered, 0)`;
const KEYS_IN_LEDGER_TWICE = `SELECT idempotency_key FROM ledger
  GROUP BY idempotency_key HAVING count(*) > 1 LIMIT 5`;
const BATCHES_WITHOUT_AUDIT_ENTRY = `SELECT b.id FROM batches b
  LEFT JOIN audit_log a ON a.seq = b.audit_seq AND a.kind = 'batch' WHERE a.seq IS NULL`;

/** The invariants that must hold after any crash, committed batch by committed batch. */
function expectConsistent(db: Database.Database): void {
  expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
  expect(offenders(db, UNBALANCED_BATCHES)).toEqual([]);
  for (const table of ['ledger', 'quarantine', 'anomalies', 'sequence_events']) {
    const sql = `SELECT count(*) AS n FROM ${table} WHERE batch_id NOT IN (SELECT id FROM batches)`;
    expect(count(db, sql), `${table} rows of no committed batch`).toBe(0);
  }
  expect(count(db, 'SELECT count(*) AS n FROM ledger')).toBe(
    count(db, 'SELECT coalesce(sum(accepted), 0) AS n FROM batches'),
  );
  expect(offenders(db, BATCHES_WITHOUT_THEIR_ROWS)).toEqual([]);
  expect(offenders(db, DELIVERIES_OFF_THEIR_BATCHES)).toEqual([]);
  expect(offenders(db, KEYS_IN_LEDGER_TWICE)).toEqual([]);
  expect(offenders(db, BATCHES_WITHOUT_AUDIT_ENTRY)).toEqual([]);
}

/**
 * What a crash left, read by a fresh connection (which recovers the WAL, as a rerun would). The
 * invariants are checked right here, so a half-committed batch is caught before a rerun hides it.
 */
function snapshot(dbPath: string): Snapshot {
  const empty = { deliveries: 0, inProgress: 0, batches: 0 };
  if (!existsSync(dbPath)) return empty;
  const db = new Database(dbPath, { fileMustExist: true });
  try {
    if (count(db, "SELECT count(*) AS n FROM sqlite_master WHERE name = 'batches'") === 0) {
      return empty;
    }
    expectConsistent(db);
    return {
      deliveries: count(db, 'SELECT count(*) AS n FROM deliveries'),
      inProgress: count(db, "SELECT count(*) AS n FROM deliveries WHERE status = 'in-progress'"),
      batches: count(db, 'SELECT count(*) AS n FROM batches'),
    };
  } finally {
    db.close();
  }
}

function landing(exit: Exit, before: Snapshot, after: Snapshot): Landing {
  if (exit.signal === null) {
    expect(exit.code, exit.stderr).toBe(0);
    return 'completed';
  }
  expect(exit.signal).toBe('SIGKILL');
  expect(after.deliveries - before.deliveries).toBeLessThanOrEqual(1);
  if (after.deliveries === before.deliveries) return 'before-delivery';
  return after.inProgress > before.inProgress ? 'mid-delivery' : 'after-delivery';
}

function publicKeyBeside(dbPath: string) {
  const keyPath = `${dbPath}.signing-key.pem`;
  return existsSync(keyPath) ? loadOrCreateSigningKey(keyPath).key.publicKey : null;
}

/** Opens the database with the real store, checks it, and returns what the comparison needs. */
async function inspect(dbPath: string) {
  const store = openSqliteStore(dbPath, { nowMs: () => 0 });
  try {
    expectConsistent(store.db);
    const audit = await verifyAudit(store, publicKeyBeside(dbPath));
    expect(audit.firstProblem).toBeNull();
    expect(audit.ok).toBe(true);
    const status = await store.status();
    const state = await ledgerState(store);
    // The per-stream running totals that status reports must agree with the ledger rows themselves.
    expect(status.ledger.readings).toBe(state.readings);
    expect(status.ledger.energyMilliWh).toBe(state.energyMilliWh);
    const completeReceived = (
      store.db.prepare("SELECT received FROM deliveries WHERE status = 'complete'").all() as {
        received: number;
      }[]
    ).map((row) => row.received);
    return { status, state, audit, completeReceived };
  } finally {
    await store.close();
  }
}

function generateFeedFile(dir: string): {
  feedPath: string;
  records: number;
  expected: FeedExpectation;
} {
  const feed = generateFeed(FEED);
  const feedPath = join(dir, 'feed.ndjson');
  writeFileSync(feedPath, [...toNdjson(feed.records)].join(''));
  return { feedPath, records: feed.records.length, expected: feed.expected };
}

beforeAll(async () => {
  if (!existsSync(CLI)) {
    const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8' });
    expect(build.status, build.stderr).toBe(0);
  }
  const dir = tempDir('amisync-crash-');
  const feed = generateFeedFile(dir);
  const dbPath = join(dir, 'clean.db');
  const run = ingestToCompletion(feed.feedPath, dbPath);
  const inspected = await inspect(dbPath);
  clean = { dir, ...feed, ...run, state: inspected.state };
  console.log(
    `crash test: feed of ${feed.records} records; clean ingest ${Math.round(run.durationMs)} ms, ` +
      `${run.summary.files[0]?.batches} batches`,
  );
}, SCENARIO_MS_MAX);

afterAll(() => removeTempDirs());

describe('ingest killed with SIGKILL', () => {
  it('the clean run matches the feed oracle', () => {
    const { summary, state, expected, records } = clean;
    expect(summary.conserved).toBe(true);
    expect(summary.received).toBe(records);
    expect(summary.duplicates).toBe(expected.duplicates);
    expect(summary.conflicts).toBe(expected.conflicts);
    expect(summary.quarantined).toBe(expected.invalid + expected.conflicts);
    expect(summary.revisions).toBe(expected.revisions);
    expect(state.readings).toBe(expected.currentReadings);
    expect(state.energyMilliWh).toBe(expected.energyMilliWh);
  });

  it(
    'killed at random moments and rerun, ends with the clean run ledger',
    async () => {
      const dbPath = join(clean.dir, 'crashed.db');
      const random = new Mulberry32(KILL_SEED);
      const landings: Landing[] = [];
      let before = snapshot(dbPath);
      const startedMs = performance.now();
      for (let kill = 0; kill < KILLS; kill += 1) {
        const delayMs = random.nextInt(KILL_DELAY_MS_MIN, Math.round(clean.durationMs));
        const exit = await ingestKilledAfter(dbPath, delayMs);
        const after = snapshot(dbPath);
        const landed = landing(exit, before, after);
        landings.push(landed);
        console.log(
          `crash test: kill ${kill + 1} at ${delayMs} ms: ${landed}, ` +
            `${after.batches - before.batches} batches committed by this run`,
        );
        before = after;
      }
      const final = ingestToCompletion(clean.feedPath, dbPath);
      expect(final.summary.conserved).toBe(true);
      expect(final.summary.received).toBe(clean.records);
      const midRun = landings.filter((l) => l === 'mid-delivery').length;
      const completedRuns = landings.filter(
        (l) => l === 'completed' || l === 'after-delivery',
      ).length;
      console.log(
        `crash test: ${midRun} of ${KILLS} kills landed mid-run; ` +
          `kills and rerun took ${Math.round(performance.now() - startedMs)} ms`,
      );
      expect(midRun, 'the seeded delays must interrupt at least one delivery').toBeGreaterThan(0);

      const crashed = await inspect(dbPath);
      expect(crashed.state).toEqual(clean.state);
      expect(crashed.status.totals.accepted).toBe(clean.summary.accepted);
      expect(crashed.status.totals.revisions).toBe(clean.summary.revisions);
      expect(crashed.status.deliveries.interrupted).toBe(midRun);
      expect(crashed.status.deliveries.running).toBe(0);
      expect(crashed.status.deliveries.complete).toBe(completedRuns + 1);
      expect(crashed.completeReceived.every((received) => received === clean.records)).toBe(true);
      expect(crashed.audit.checkpointsVerified).toBeGreaterThan(0);
      expect(crashed.audit.checkpointsVerified).toBe(crashed.audit.checkpoints);
    },
    SCENARIO_MS_MAX,
  );

  it(
    'killed during the first batch, leaves an openable database with no partial batch',
    async () => {
      const random = new Mulberry32(KILL_SEED + 1);
      let landedBeforeFirstCommit = 0;
      let lastPath = '';
      for (let trial = 0; trial < FIRST_BATCH_TRIALS; trial += 1) {
        lastPath = join(clean.dir, `first-batch-${trial}.db`);
        const delayMs = random.nextInt(0, FIRST_BATCH_KILL_DELAY_MS_MAX);
        const exit = await killDuringFirstBatch(lastPath, delayMs);
        expect(exit.signal, exit.stderr).toBe('SIGKILL');
        const left = snapshot(lastPath);
        console.log(
          `crash test: first-batch kill ${delayMs} ms after the delivery row appeared: ` +
            `${left.batches} batches committed`,
        );
        expect(left.deliveries).toBe(1);
        expect(left.inProgress).toBe(1);
        expect(left.batches).toBeLessThanOrEqual(1);
        if (left.batches === 0) landedBeforeFirstCommit += 1;
        const inspected = await inspect(lastPath);
        expect(inspected.status.deliveries).toEqual({ complete: 0, running: 0, interrupted: 1 });
        expect(inspected.status.lastCheckpoint).toBeNull();
      }
      expect(landedBeforeFirstCommit).toBeGreaterThan(0);
      const final = ingestToCompletion(clean.feedPath, lastPath);
      expect(final.summary.received).toBe(clean.records);
      const recovered = await inspect(lastPath);
      expect(recovered.state).toEqual(clean.state);
      expect(recovered.status.deliveries).toEqual({ complete: 1, running: 0, interrupted: 1 });
    },
    SCENARIO_MS_MAX,
  );

  it(
    'killed mid-file, is marked interrupted with its committed counts, and the rerun links to it',
    async () => {
      const dbPath = join(clean.dir, 'interrupted.db');
      const { child, exit } = spawnIngest(dbPath);
      let exited = false;
      void exit.then(() => (exited = true));
      await waitForBatches(dbPath, INTERRUPTED_BATCHES_MIN, () => exited);
      child.kill('SIGKILL');
      expect((await exit).signal).toBe('SIGKILL');
      const left = snapshot(dbPath);
      expect(left.inProgress).toBe(1);
      expect(left.batches).toBeGreaterThanOrEqual(INTERRUPTED_BATCHES_MIN);
      const seen = await inspect(dbPath);
      expect(seen.status.deliveries).toEqual({ complete: 0, running: 0, interrupted: 1 });

      const rerun = ingestToCompletion(clean.feedPath, dbPath);
      expect(rerun.summary.conserved).toBe(true);
      const recovered = await inspect(dbPath);
      expect(recovered.state).toEqual(clean.state);
      const store = openSqliteStore(dbPath, { nowMs: () => 0 });
      try {
        const deliveries = await store.listDeliveries(10);
        const first = deliveries.find((d) => d.status === 'interrupted');
        const second = deliveries.find((d) => d.status === 'complete');
        if (first === undefined || second === undefined) throw new Error('deliveries missing');
        const committed = store.db
          .prepare(
            `SELECT count(*) AS batches, sum(received) AS received, sum(accepted) AS accepted,
               sum(quarantined) AS quarantined FROM batches WHERE delivery_id = ?`,
          )
          .get(first.id) as Record<string, number>;
        expect(committed.batches).toBe(left.batches);
        expect(first.counts.received).toBe(committed.received);
        expect(first.counts.accepted).toBe(committed.accepted);
        expect(first.counts.quarantined).toBe(committed.quarantined);
        expect(first.interruptedAtMs).not.toBeNull();
        expect(first.redeliveredBy).toEqual([second.id]);
        expect(second.redelivers).toBe(first.id);
        for (const delivery of [first, second]) {
          const c = delivery.counts;
          expect(c.received).toBe(
            c.accepted + c.duplicates + c.quarantined + c.anomalyHeld + c.deadLettered,
          );
        }
        expect(second.counts.received).toBe(clean.records);
        const shown = JSON.parse(
          runCliToCompletion(['status', '--db', dbPath, '--json']).stdout,
        ) as {
          deliveries: unknown;
          recentDeliveries: { id: string; status: string; redelivers: string | null }[];
        };
        expect(shown.deliveries).toEqual({ complete: 1, running: 0, interrupted: 1 });
        expect(shown.recentDeliveries.map((d) => [d.id, d.status, d.redelivers])).toEqual(
          expect.arrayContaining([
            [first.id, 'interrupted', null],
            [second.id, 'complete', first.id],
          ]),
        );
        const text = runCliToCompletion(['status', '--db', dbPath]).stdout;
        expect(text).toContain('deliveries: 1 complete, 0 running, 1 interrupted');
        expect(text).toContain(`interrupted ${first.id}`);
        expect(text).toContain(`redelivered by ${second.id}`);
        const marking = await store.latestAuditEntryOfKind('delivery.interrupted');
        expect(JSON.parse(marking?.payload ?? '{}')).toMatchObject({
          delivery: first.id,
          counts: first.counts,
        });
      } finally {
        await store.close();
      }
    },
    SCENARIO_MS_MAX,
  );
});

/** Batches an ingest must have committed before the interruption test kills it. */
const INTERRUPTED_BATCHES_MIN = 2;

async function waitForBatches(dbPath: string, batches: number, stop: () => boolean) {
  let reader: Database.Database | null = null;
  try {
    while (!stop()) {
      try {
        reader ??= existsSync(dbPath) ? new Database(dbPath, { readonly: true }) : null;
        if (reader !== null && count(reader, 'SELECT count(*) AS n FROM batches') >= batches) {
          return;
        }
      } catch {
        // The schema or the WAL index may not exist yet: open again on the next poll.
        reader?.close();
        reader = null;
      }
      await sleep(POLL_INTERVAL_MS);
    }
  } finally {
    reader?.close();
  }
}

/**
 * Starts an ingest and kills it `delayMs` after its delivery row appears. The row is created just
 * before the first batch is validated and committed, so the kill lands inside the first batch.
 */
async function killDuringFirstBatch(dbPath: string, delayMs: number): Promise<Exit> {
  const { child, exit } = spawnIngest(dbPath);
  let exited = false;
  void exit.then(() => (exited = true));
  await waitForDelivery(dbPath, () => exited);
  await sleep(delayMs);
  child.kill('SIGKILL');
  return exit;
}

async function waitForDelivery(dbPath: string, stop: () => boolean): Promise<void> {
  let reader: Database.Database | null = null;
  try {
    while (!stop()) {
      try {
        reader ??= existsSync(dbPath) ? new Database(dbPath, { readonly: true }) : null;
        if (reader !== null && count(reader, 'SELECT count(*) AS n FROM deliveries') > 0) return;
      } catch {
        // The schema or the WAL index may not exist yet: open again on the next poll.
        reader?.close();
        reader = null;
      }
      await sleep(POLL_INTERVAL_MS);
    }
  } finally {
    reader?.close();
  }
}

/** Quarantined records that a corrected dictionary lets in: several replay transactions' worth. */
const REPLAY_RECORDS = 6_000;
const REPLAY_KILLS = 5;
const REPLAY_KILL_SEED = 0x7265706c;

function runCliToCompletion(args: readonly string[]): { stdout: string; durationMs: number } {
  const startedMs = performance.now();
  const result = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: childEnv(),
    maxBuffer: STDOUT_BYTES_MAX,
    timeout: RUN_MS_MAX,
  });
  expect(result.status, result.stderr).toBe(0);
  return { stdout: result.stdout, durationMs: performance.now() - startedMs };
}

/**
 * After any crash of a replay: every item is open or replayed, a replayed item was replayed exactly
 * once into a committed batch, and each replayed item's reading is in the ledger.
 */
function expectReplayConsistent(dbPath: string): number {
  const db = new Database(dbPath, { fileMustExist: true });
  try {
    expectConsistent(db);
    expect(
      count(db, "SELECT count(*) AS n FROM quarantine WHERE status NOT IN ('open', 'replayed')"),
    ).toBe(0);
    expect(
      offenders(
        db,
        `SELECT q.id FROM quarantine q WHERE q.status = 'replayed' AND (
           q.resolved_batch_id NOT IN (SELECT id FROM batches WHERE kind = 'replay')
           OR (SELECT count(*) FROM quarantine_actions a
               WHERE a.quarantine_id = q.id AND a.outcome = 'replayed') != 1)`,
      ),
    ).toEqual([]);
    const replayed = count(db, "SELECT count(*) AS n FROM quarantine WHERE status = 'replayed'");
    expect(count(db, 'SELECT count(*) AS n FROM ledger')).toBe(replayed);
    return replayed;
  } finally {
    db.close();
  }
}

describe('quarantine replay --all killed with SIGKILL', () => {
  it(
    'commits whole transactions of items only, and a rerun ends with the clean replay ledger',
    async () => {
      const dir = tempDir('amisync-replay-crash-');
      // Meter ids of a retired scheme, quarantined by the default dictionary's pattern.
      const lines: string[] = [];
      for (let index = 0; index < REPLAY_RECORDS; index += 1) {
        const startMs = Date.UTC(2025, 0, 6) + Math.floor(index / 200) * 900_000;
        const record = {
          meter_id: `OLD-${String(index % 200).padStart(6, '0')}`,
          timestamp_utc: new Date(startMs).toISOString().replace('.000Z', 'Z'),
          consumption_kwh: `0.${String(100 + (index % 900)).padStart(3, '0')}`,
          status_code: 0,
          seq: Math.floor(index / 200) + 1,
        };
        lines.push(`${JSON.stringify(record)}\n`);
      }
      const feedPath = join(dir, 'old-ids.ndjson');
      writeFileSync(feedPath, lines.join(''));
      const dictionaryPath = join(dir, 'dictionary.json');
      writeFileSync(
        dictionaryPath,
        JSON.stringify({ meterIdPattern: '^(MTR|OLD)-[A-Z0-9]{6,8}$' }),
      );
      const replayArgs = (db: string) => [
        'quarantine',
        'replay',
        '--all',
        '--db',
        db,
        '--dictionary',
        dictionaryPath,
        '--json',
      ];

      const cleanPath = join(dir, 'clean.db');
      runCliToCompletion(['ingest', feedPath, '--db', cleanPath, '--json']);
      const cleanReplay = runCliToCompletion(replayArgs(cleanPath));
      expect(JSON.parse(cleanReplay.stdout)).toMatchObject({
        replayed: REPLAY_RECORDS,
        accepted: REPLAY_RECORDS,
      });
      const cleanState = (await inspect(cleanPath)).state;
      expect(cleanState.readings).toBe(REPLAY_RECORDS);

      const crashedPath = join(dir, 'crashed.db');
      runCliToCompletion(['ingest', feedPath, '--db', crashedPath, '--json']);
      const random = new Mulberry32(REPLAY_KILL_SEED);
      const progress: number[] = [];
      for (let kill = 0; kill < REPLAY_KILLS; kill += 1) {
        const delayMs = random.nextInt(KILL_DELAY_MS_MIN, Math.round(cleanReplay.durationMs));
        const exit = await killedAfter([CLI, ...replayArgs(crashedPath)], delayMs);
        if (exit.signal === null) expect(exit.code, exit.stderr).toBe(0);
        progress.push(expectReplayConsistent(crashedPath));
      }
      console.log(`replay crash test: items replayed after each kill: ${progress.join(', ')}`);
      expect(
        progress.some((replayed) => replayed > 0 && replayed < REPLAY_RECORDS),
        'the seeded delays must interrupt at least one replay run midway',
      ).toBe(true);
      runCliToCompletion(replayArgs(crashedPath));
      expect(expectReplayConsistent(crashedPath)).toBe(REPLAY_RECORDS);
      const crashed = await inspect(crashedPath);
      expect(crashed.state).toEqual(cleanState);
    },
    SCENARIO_MS_MAX,
  );
});
