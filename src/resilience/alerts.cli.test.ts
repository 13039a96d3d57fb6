// Goal: every alert kind of the issue reaches the configured webhook through the one dispatcher,
// naming its source, rule and figures: breaker opened and closed and dead letters (a 5xx storm),
// pause and resume (`amisync pause` from another process), a quarantine spike, the store
// unavailable (the database locked by another connection), and `audit verify --config` finding
// tampering; and a webhook that hangs or fails never holds up ingestion.
// Method: the built `amisync run --config F` in a child process, a real node:http webhook on a
// loopback port in this process (test-support/webhook-receiver.ts), the REST head-end simulator or
// a drop folder as the source, a real SQLite file.
import { existsSync, mkdirSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateFeed, toNdjson } from '../simulator/feed-generator.js';
import type { RestSimulator } from '../simulator/rest/rest-simulator.js';
import { tamperFile } from '../test-support/attacker.js';
import { runCli, startService, type ServiceProcess } from '../test-support/crash-runs.js';
import {
  FAULT_SECRET_ENV,
  FAULT_SOURCE_ID,
  faultSourceConfig,
  startFaultSimulator,
  until,
  writeServiceConfig,
} from '../test-support/fault-rig.js';
import { FEED_START_MS } from '../test-support/ingest-harness.js';
import { removeTempDirs, tempDir } from '../test-support/temp.js';
import {
  startWebhookReceiver,
  type ReceivedAlert,
  type WebhookHandler,
  type WebhookReceiver,
} from '../test-support/webhook-receiver.js';

const DROP_ID = 'drop';
const ALERT_WAIT_MS = 30_000;

const receivers: WebhookReceiver[] = [];
const services: ServiceProcess[] = [];
afterEach(async () => {
  for (const service of services.splice(0)) await service.stop('SIGKILL');
  for (const receiver of receivers.splice(0)) await receiver.close();
});
afterAll(removeTempDirs);

async function webhook(handler?: WebhookHandler): Promise<WebhookReceiver> {
  const receiver = await startWebhookReceiver(handler);
  receivers.push(receiver);
  return receiver;
}

function run(config: string, env: NodeJS.ProcessEnv = process.env): ServiceProcess {
  const service = startService(config, env);
  services.push(service);
  return service;
}

/** Every alert carries the webhook body's fields; the figures named are numbers or text. */
function expectAlert(
  alert: ReceivedAlert,
  rule: string,
  source: string | null,
  figures: readonly string[],
): void {
  expect(alert).toMatchObject({ type: 'amisync.alert', rule, source });
  expect(alert.message.length).toBeGreaterThan(10);
  expect(Number.isNaN(Date.parse(alert.at))).toBe(false);
  for (const name of figures) expect(alert.figures[name], name).not.toBeUndefined();
}

/** A drop folder with its service configuration; `drop` puts a file in atomically. */
function dropSetup(resilience: Record<string, unknown>) {
  const folder = tempDir('amisync-alerts-');
  const inbox = join(folder, 'inbox');
  mkdirSync(inbox);
  const config = writeServiceConfig(
    folder,
    [{ kind: 'directory', id: DROP_ID, path: './inbox', pollIntervalMs: 50 }],
    resilience,
  );
  let files = 0;
  const drop = (badRate = 0): string => {
    files += 1;
    const feed = generateFeed({
      seed: files,
      meters: 3,
      startMs: FEED_START_MS + files * 86_400_000,
      intervals: 40,
      badRate,
    });
    const name = `part-${files}.ndjson`;
    writeFileSync(join(inbox, `${name}.part`), [...toNdjson(feed.records)].join(''));
    renameSync(join(inbox, `${name}.part`), join(inbox, name));
    return name;
  };
  const archived = (): number => {
    const archive = join(inbox, 'archive');
    return existsSync(archive) ? readdirSync(archive).length : 0;
  };
  return { folder, config, db: join(folder, 'amisync.db'), drop, archived };
}

describe('alerts from a 5xx storm against the REST head-end', () => {
  let hook: WebhookReceiver;
  let simulator: RestSimulator;

  beforeAll(async () => {
    hook = await startWebhookReceiver();
    simulator = await startFaultSimulator({ errorRate: 1 });
    const folder = tempDir('amisync-alerts-storm-');
    const config = writeServiceConfig(folder, [faultSourceConfig(simulator)], {
      retry: { attempts: 3, baseDelayMs: 20, delayMsMax: 100 },
      breaker: { minimumCalls: 4, failureRateMax: 0.15, cooldownMs: 300, cooldownMsMax: 1_000 },
      alerts: { webhook: { url: hook.url } },
    });
    const service = startService(config, {
      ...process.env,
      [FAULT_SECRET_ENV]: simulator.clientSecret,
    });
    try {
      await hook.waitFor('breaker.opened', ALERT_WAIT_MS);
      await hook.waitFor('dead_letter', ALERT_WAIT_MS);
      simulator.setFaultRates({});
      await hook.waitFor('breaker.closed', ALERT_WAIT_MS);
    } finally {
      await service.stop();
    }
  }, 120_000);

  afterAll(async () => {
    await hook.close();
    await simulator.close();
  });

  it('breaker.opened names the source and the failure rate that opened it', () => {
    const alert = hook.alerts().find((a) => a.rule === 'breaker.opened');
    if (alert === undefined) throw new Error('no breaker.opened alert');
    expectAlert(alert, 'breaker.opened', FAULT_SOURCE_ID, ['calls', 'failures', 'failureRate']);
    expect(alert.severity).toBe('critical');
    expect(alert.figures.failureRate as number).toBeGreaterThan(0.15);
    expect(alert.figures.failures as number).toBeGreaterThanOrEqual(4 * 0.15);
  });

  it('breaker.closed follows the recovery', () => {
    const rules = hook.alerts().map((a) => a.rule);
    const closed = rules.lastIndexOf('breaker.closed');
    expect(closed).toBeGreaterThan(rules.indexOf('breaker.opened'));
    const alert = hook.alerts()[closed] as ReceivedAlert;
    expectAlert(alert, 'breaker.closed', FAULT_SOURCE_ID, ['from', 'to']);
    expect(alert.figures).toMatchObject({ from: 'half-open', to: 'closed' });
  });

  it('dead_letter names the dead letter, its attempts and its last error', () => {
    const alert = hook.alerts().find((a) => a.rule === 'dead_letter');
    if (alert === undefined) throw new Error('no dead_letter alert');
    expectAlert(alert, 'dead_letter', FAULT_SOURCE_ID, ['deadLetter', 'attempts', 'lastCode']);
    expect(alert.figures).toMatchObject({ kind: 'request', lastCode: 'TRANSPORT_UNAVAILABLE' });
    expect(alert.figures.attempts as number).toBeGreaterThanOrEqual(1);
    expect(alert.figures.attempts as number).toBeLessThanOrEqual(3);
  });
});

describe('alerts from a drop folder', () => {
  it('pause and resume from another shell each raise an alert with the actor and reason', async () => {
    const hook = await webhook();
    const setup = dropSetup({ alerts: { webhook: { url: hook.url } } });
    run(setup.config);
    setup.drop();
    await until(() => setup.archived() === 1, ALERT_WAIT_MS, 'the first file');
    const reason = 'vendor doubled every value';
    const env = { ...process.env, AMISYNC_ACTOR: 'operator-7' };
    const paused = await runCli(
      ['pause', '--source', DROP_ID, '--reason', reason, '--db', setup.db],
      env,
    );
    expect(paused.code, paused.stderr).toBe(0);
    const pause = await hook.waitFor('pause', ALERT_WAIT_MS);
    expectAlert(pause, 'pause', DROP_ID, ['actor', 'reason', 'scope']);
    expect(pause.figures).toMatchObject({ actor: 'operator-7', reason, scope: 'source' });
    // Paused: a file dropped now stays in the inbox.
    setup.drop();
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(setup.archived()).toBe(1);
    const resumed = await runCli(['resume', '--source', DROP_ID, '--db', setup.db], env);
    expect(resumed.code, resumed.stderr).toBe(0);
    const resume = await hook.waitFor('resume', ALERT_WAIT_MS);
    expectAlert(resume, 'resume', DROP_ID, ['actor', 'pausedMs']);
    expect(resume.figures.pausedMs as number).toBeGreaterThanOrEqual(1_000);
    await until(() => setup.archived() === 2, ALERT_WAIT_MS, 'the file dropped while paused');
  }, 60_000);

  it('a quarantine spike raises quarantine.spike with the share over its threshold', async () => {
    const hook = await webhook();
    const spike = { windowMs: 60_000, shareMax: 0.05, minimumRecords: 50 };
    const setup = dropSetup({ quarantineSpike: spike, alerts: { webhook: { url: hook.url } } });
    run(setup.config);
    setup.drop(0);
    await until(() => setup.archived() === 1, ALERT_WAIT_MS, 'the clean file');
    expect(hook.alerts().filter((a) => a.rule === 'quarantine.spike')).toEqual([]);
    setup.drop(0.4);
    const alert = await hook.waitFor('quarantine.spike', ALERT_WAIT_MS);
    expectAlert(alert, 'quarantine.spike', DROP_ID, ['received', 'quarantined', 'share']);
    const { received, quarantined, share } = alert.figures as {
      received: number;
      quarantined: number;
      share: number;
    };
    expect(share).toBeCloseTo(quarantined / received, 9);
    expect(share).toBeGreaterThan(spike.shareMax);
    expect(received).toBeGreaterThanOrEqual(spike.minimumRecords);
  }, 60_000);

  it('a locked store raises store.unavailable once, and the file lands after the lock', async () => {
    const hook = await webhook();
    const setup = dropSetup({ alerts: { webhook: { url: hook.url } } });
    run(setup.config);
    setup.drop();
    await until(() => setup.archived() === 1, ALERT_WAIT_MS, 'the first file');
    const locker = new Database(setup.db);
    try {
      locker.exec('BEGIN EXCLUSIVE');
      setup.drop();
      const alert = await hook.waitFor('store.unavailable', ALERT_WAIT_MS);
      expectAlert(alert, 'store.unavailable', DROP_ID, ['code', 'waitMs', 'outagesInARow']);
      expect(alert.figures).toMatchObject({ code: 'STORE_UNAVAILABLE', outagesInARow: 1 });
      expect(setup.archived()).toBe(1);
    } finally {
      locker.exec('ROLLBACK');
      locker.close();
    }
    await until(() => setup.archived() === 2, ALERT_WAIT_MS, 'the file after the lock');
    expect(hook.alerts().filter((a) => a.rule === 'store.unavailable')).toHaveLength(1);
  }, 90_000);

  it('audit verify --config raises audit.verify_failed naming the first bad entry', async () => {
    const hook = await webhook();
    const setup = dropSetup({ alerts: { webhook: { url: hook.url } } });
    const service = run(setup.config);
    setup.drop();
    await until(() => setup.archived() === 1, ALERT_WAIT_MS, 'the first file');
    await service.stop();
    const verify = ['audit', 'verify', '--config', setup.config, '--json'];
    const clean = await runCli(verify, process.env);
    expect(clean.code, clean.stderr).toBe(0);
    expect(hook.alerts().filter((a) => a.rule === 'audit.verify_failed')).toEqual([]);
    tamperFile(setup.db, (db) => {
      db.prepare('UPDATE ledger SET value_micro = value_micro + 1 WHERE id = 1').run();
    });
    const failed = await runCli(verify, process.env);
    expect(failed.code).toBe(10);
    const alert = await hook.waitFor('audit.verify_failed', ALERT_WAIT_MS);
    expectAlert(alert, 'audit.verify_failed', null, ['database', 'firstBadSeq', 'reason']);
    expect(alert.severity).toBe('critical');
    const report = JSON.parse(failed.stdout) as { firstProblem: { auditSeq: number } };
    expect(alert.figures.firstBadSeq).toBe(report.firstProblem.auditSeq);
  }, 60_000);
});

describe('a webhook that never answers, or fails, does not hold up ingestion', () => {
  const hang: WebhookHandler = () => undefined;
  const fail: WebhookHandler = (_, response) => {
    response.statusCode = 503;
    response.end();
  };
  it.each([
    ['hangs', hang],
    ['answers 503', fail],
  ] as const)(
    'when the webhook %s',
    async (_, handler) => {
      const hook = await webhook(handler);
      const setup = dropSetup({
        quarantineSpike: { windowMs: 60_000, shareMax: 0.05, minimumRecords: 50 },
        alerts: { webhook: { url: hook.url, timeoutMs: 60_000 } },
      });
      const service = run(setup.config);
      setup.drop(0.4);
      await until(() => hook.bodies.length >= 1, ALERT_WAIT_MS, 'the alert to be posted');
      // The alert is stuck (or failing); every later file still lands promptly, one by one.
      for (let file = 2; file <= 4; file++) {
        const droppedMs = Date.now();
        setup.drop();
        await until(() => setup.archived() === file, 5_000, `file ${file}`);
        expect(Date.now() - droppedMs).toBeLessThan(5_000);
      }
      expect(await service.stop()).toBe(0);
    },
    60_000,
  );
});
