/**
 * The demo's live part (`amisync demo` at a terminal, or with --serve-for): the service itself,
 * `amisync run`, on the demo's database, reading a simulated vendor head-end (REST, with faults
 * that open and close its circuit breaker) and a drop folder a simulated vendor keeps writing to
 * (new meters' reads, some bad records, some anomalies) and a vendor that pushes its reads to the
 * service's push endpoint (each body now and then sent twice, as a vendor retrying would), with the
 * dashboard and API served. A
 * newcomer sees feeds flowing, quarantined records, anomalies held and the breaker's transitions
 * within a minute; it runs until stopped, then prints what the run did.
 */
import { EventEmitter } from 'node:events';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { SOURCE_KINDS } from '../config/kinds.js';
import {
  DEFAULT_INTERVAL_SECONDS,
  generateFeed,
  generateMeterIds,
  toNdjson,
} from '../../simulator/feed-generator.js';
import { startRestSimulator } from '../../simulator/rest/rest-simulator.js';
import { READINGS_PATH } from '../../simulator/rest/rest-simulator.js';
import { VENDOR_DIALECT, VENDOR_RECORDS_PATH } from '../../simulator/rest/vendor-shape.js';
import { AmisyncError } from '../../core/errors.js';
import { runtime } from '../context.js';
import { printLines } from '../output.js';
import { runRun } from './run.js';
import { addToken } from './tokens.js';
import { addVendor } from './vendors.js';
import { CONTENT_TYPES } from '../../simulator/push-plan.js';
import { freePort } from '../../sources/common/loopback-port.js';

const DAY_MS = 86_400_000;
/** A new file lands in the drop folder this often. */
export const DEMO_DROP_EVERY_MS = 4_000;
/** The pushing vendor posts a body this often. */
export const DEMO_PUSH_EVERY_MS = 3_000;
/** The pushing vendor's feed: its meters (its key may push for these only) come from this seed. */
const DEMO_PUSH_SEED = 500;
/** Each body is the next six hours of its meters' reads; after two days they come round again. */
const DEMO_PUSH_BODY_INTERVALS = 24;
const DEMO_PUSH_BODIES_DISTINCT = 8;

/** Waits until the service's API answers (it starts after the service has loaded its file). */
async function untilListening(url: string, running: Promise<unknown>): Promise<void> {
  let ended = false;
  void running.finally(() => (ended = true)).catch(() => undefined);
  for (let tries = 0; tries < 300 && !ended; tries++) {
    try {
      await fetch(`${url}/login`, { redirect: 'manual' });
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  // The service ended (its error is thrown by the caller's await) or never listened.
  if (!ended) throw new AmisyncError('INTERNAL', `the demo's API did not start at ${url}`);
}

export interface LiveDemo {
  readonly db: string;
  readonly dir: string;
  readonly port: number;
  /** Resolves when the live run should end. */
  readonly stopped: () => Promise<unknown>;
}

/** Runs the live service until `stopped` resolves; prints the URL, the token, then a summary. */
export async function runLiveDemo(live: LiveDemo): Promise<void> {
  const nowMs = runtime.clock.nowMs();
  const today = Math.floor(nowMs / DAY_MS) * DAY_MS;
  const simulator = await startRestSimulator({
    now: () => runtime.clock.nowMs(),
    seed: 13,
    meters: 6,
    days: 2,
    startMs: today - 2 * DAY_MS,
    publish: 'all',
    pagination: 'cursor',
    pageSize: 24,
    auth: 'none',
    errorRate: 0.25,
    badRate: 0.03,
    retransmitRate: 0.02,
  });
  const inbox = join(live.dir, 'inbox');
  mkdirSync(inbox, { recursive: true });
  const config = join(live.dir, 'demo-service.yaml');
  const port = live.port === 0 ? await freePort() : live.port;
  const pushPort = await freePort();
  writeFileSync(
    config,
    stringify({
      database: live.db,
      log: { file: join(live.dir, 'demo-service.log'), level: 'info' },
      shutdownGraceMs: 2000,
      api: { port, host: '127.0.0.1' },
      resilience: {
        retry: { attempts: 3, baseDelayMs: 20, delayMsMax: 100 },
        retryBudget: { windowMs: 60_000, ratio: 1, minRetries: 1000 },
        // Small on purpose: the demo's faults open the breaker within seconds, and it closes again
        // once a trial call succeeds after the cooldown.
        breaker: {
          windowMs: 30_000,
          minimumCalls: 4,
          failureRateMax: 0.15,
          cooldownMs: 3_000,
          cooldownMultiplier: 1,
        },
      },
      sources: [
        {
          kind: 'rest',
          id: 'head-end-rest',
          baseUrl: simulator.url,
          readingsPath: READINGS_PATH,
          auth: { type: 'none' },
          window: {
            fromParam: 'from',
            toParam: 'to',
            format: 'iso8601',
            backfillStart: new Date(today - 2 * DAY_MS).toISOString().replace('.000Z', 'Z'),
            overlapMinutes: 0,
          },
          pagination: {
            style: 'cursor',
            cursorParam: 'cursor',
            nextCursorPath: 'next',
            sizeParam: 'pageSize',
          },
          records: { path: [...VENDOR_RECORDS_PATH].join('.'), dialect: VENDOR_DIALECT },
          pageSize: 24,
          pollIntervalMs: 1_000,
        },
        { kind: 'directory', id: 'vendor-drop', path: inbox, pollIntervalMs: 500 },
        { kind: 'push', id: 'vendor-push', host: '127.0.0.1', port: pushPort },
      ],
    }),
  );
  const added = await addToken({ db: live.db, role: 'admin', name: `demo-${nowMs}` });
  const pusher = await addVendor('demo-pusher', {
    db: live.db,
    meters: generateMeterIds(DEMO_PUSH_SEED, 2).join(','),
  });
  const signals = new EventEmitter();
  // The drop folder: a vendor writes a file of new meters' reads every few seconds.
  let dropped = 0;
  const drop = (): void => {
    const feed = generateFeed({
      seed: 100 + dropped,
      meters: 3,
      startMs: today - DAY_MS,
      intervals: 96,
      badRate: 0.01,
      estimateRate: 0.02,
      retransmitRate: 0.02,
    });
    // One meter's register sticks for 20 intervals: the flat_line detector holds it as an anomaly.
    const stuck = feed.records[0]?.meter_id;
    let frozen = 0;
    for (const record of feed.records) {
      if (frozen >= 20 || record.meter_id !== stuck) continue;
      if (typeof record.consumption_kwh !== 'number') continue;
      record.consumption_kwh = 0.777;
      frozen += 1;
    }
    const name = `vendor-drop-${String(dropped + 1).padStart(3, '0')}.ndjson`;
    writeFileSync(join(inbox, `${name}.part`), [...toNdjson(feed.records)].join(''));
    renameSync(join(inbox, `${name}.part`), join(inbox, name));
    dropped += 1;
  };
  drop();
  const dropping = setInterval(drop, DEMO_DROP_EVERY_MS);
  // The pushing vendor: a body of its meters' reads every few seconds; every third one is sent
  // again with the same Idempotency-Key, as a vendor that missed the answer would.
  let pushed = 0;
  const push = async (): Promise<void> => {
    const feed = generateFeed({
      seed: DEMO_PUSH_SEED,
      meters: 2,
      startMs:
        today -
        2 * DAY_MS +
        (pushed % DEMO_PUSH_BODIES_DISTINCT) *
          DEMO_PUSH_BODY_INTERVALS *
          DEFAULT_INTERVAL_SECONDS *
          1000,
      intervals: DEMO_PUSH_BODY_INTERVALS,
      badRate: 0.02,
    });
    const body = [...toNdjson(feed.records)];
    const send = () =>
      fetch(`http://127.0.0.1:${pushPort}/v1/readings`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${pusher.apiKey}`,
          'content-type': CONTENT_TYPES.ndjson,
          'idempotency-key': `demo-push-${nowMs}-${pushed}`,
        },
        body: body.join(''),
      }).then((response) => response.arrayBuffer());
    await send();
    if (pushed % 3 === 2) await send();
    pushed += 1;
  };
  // A refused or failed push is the demo's own traffic: the service's log and counts show it.
  const pushing = setInterval(() => void push().catch(() => undefined), DEMO_PUSH_EVERY_MS);
  const running = runRun(
    { config, apiPort: String(port), json: false },
    { kinds: SOURCE_KINDS, env: process.env, signals },
  );
  const url = `http://127.0.0.1:${port}`;
  await untilListening(url, running);
  printLines([
    '',
    'live: the service (amisync run) now reads a simulated vendor head-end over REST (with faults) ' +
      `and a drop folder (${inbox}) a vendor writes to every ${DEMO_DROP_EVERY_MS / 1000} s.`,
    `open ${url}/ and log in with this one-time token (admin, named ${added.name}):`,
    `  ${added.token}`,
    'Within a minute: feeds flowing, quarantined records, anomalies held, the breaker of ' +
      `head-end-rest opening and closing; a vendor pushing to 127.0.0.1:${pushPort} every ` +
      `${DEMO_PUSH_EVERY_MS / 1000} s. Its log: ` +
      join(live.dir, 'demo-service.log'),
    'Press Ctrl-C to stop. (Run with --exit, or with input that is not a terminal, to exit after ' +
      'the summary.)',
  ]);
  try {
    await Promise.race([live.stopped(), running]);
  } finally {
    clearInterval(dropping);
    clearInterval(pushing);
    signals.emit('SIGTERM');
  }
  const summary = await running;
  await simulator.close();
  const rest = summary.resilience?.['head-end-rest'];
  printLines([
    '',
    `live run: ${summary.counts.received} received, ${summary.counts.accepted} accepted, ` +
      `${summary.counts.quarantined} quarantined, ${summary.counts.anomalyHeld} anomaly-held, ` +
      `${summary.counts.duplicates} duplicates; conservation ${summary.conserved ? 'holds' : 'BROKEN'}`,
    `head-end-rest breaker: ${rest?.transitions.length ?? 0} transition(s), ${rest?.breaker ?? 'closed'} at the end; ` +
      `${dropped} files dropped, ${pushed} bodies pushed`,
  ]);
}
