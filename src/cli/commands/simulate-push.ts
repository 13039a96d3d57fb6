/**
 * `amisync simulate push --url U --key-file F`: a vendor that pushes a generated feed to a push
 * endpoint, with C concurrent clients (each its own meters, in feed order), and writes the truth
 * the ledger must end with. 429 and 503 are waited out as Retry-After says; a 5xx or a cut
 * connection is sent again with the same Idempotency-Key; any other refusal stops the run.
 *
 * Feed faults (--bad-rate, --retransmit-rate, --estimate-rate, --conflict-rate) are the feed
 * generator's, counted by its oracle; transport faults (--truncate-rate, --resend-rate) are the
 * plan's (simulator/push-plan.ts), which says what they add to the truth.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { Agent } from 'undici';
import { AmisyncError } from '../../core/errors.js';
import { SIMULATE_PUSH_ATTEMPTS_MAX } from '../../core/limits.js';
import type { BatchCounts } from '../../core/store.js';
import { addCounts, emptyCounts, isConserved } from '../../pipeline/commit.js';
import { timersOf } from '../../pipeline/run-source.js';
import { generateFeed, DEFAULT_INTERVAL_SECONDS } from '../../simulator/feed-generator.js';
import {
  CONTENT_TYPES,
  PUSH_FORMATS,
  planPushBodies,
  type PushBody,
  type PushFormat,
} from '../../simulator/push-plan.js';
import { feedTruth, writeTruth, type Truth } from '../../simulator/truth.js';
import { runtime } from '../context.js';
import { handleError, printJson, printLines } from '../output.js';

const DAY_MS = 86_400_000;
const RETRY_AFTER_SECONDS_MAX = 60;

export interface SimulatePushOptions {
  url: string;
  keyFile: string;
  meters?: string;
  days?: string;
  seed?: string;
  start?: string;
  format?: string;
  concurrency?: string;
  bodyReadings?: string;
  retransmitRate?: string;
  resendRate?: string;
  estimateRate?: string;
  conflictRate?: string;
  badRate?: string;
  truncateRate?: string;
  truth?: string;
  json?: boolean;
}

export interface SimulatePushSummary {
  url: string;
  bodies: number;
  requests: number;
  /** Answers from a stored delivery (a body resent with the same Idempotency-Key). */
  replayed: number;
  /** Requests sent again after a 429, a 503, a 5xx or a cut connection. */
  retried: number;
  counts: BatchCounts;
  conserved: boolean;
  /** The delivery id of each 202, in the order answered (a replay names the original again). */
  deliveryIds: string[];
  truth: Truth;
}

function numberOf(
  value: string | undefined,
  fallback: number,
  flag: string,
  min: number,
  max: number,
): number {
  const parsed = value === undefined ? fallback : Number(value);
  if (!Number.isFinite(parsed) || parsed < min || parsed > max) {
    throw new AmisyncError('USAGE', `${flag} must be a number from ${min} to ${max}`);
  }
  return parsed;
}

function startOf(options: SimulatePushOptions, days: number): number {
  if (options.start === undefined) {
    return Math.floor(runtime.clock.nowMs() / DAY_MS) * DAY_MS - days * DAY_MS;
  }
  const startMs = Date.parse(`${options.start}T00:00:00Z`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(options.start) || Number.isNaN(startMs)) {
    throw new AmisyncError('USAGE', '--start must be a date, YYYY-MM-DD (UTC)');
  }
  return startMs;
}

interface Client {
  readonly url: string;
  readonly key: string;
  readonly format: PushFormat;
  readonly agent: Agent;
  readonly summary: SimulatePushSummary;
}

interface Answer {
  status: number;
  retryAfter: string | null;
  json: Record<string, unknown>;
}

async function post(client: Client, body: PushBody): Promise<Answer | Error> {
  const { request } = await import('undici');
  try {
    const response = await request(client.url, {
      method: 'POST',
      dispatcher: client.agent,
      headers: {
        authorization: `Bearer ${client.key}`,
        'content-type': CONTENT_TYPES[client.format],
        'idempotency-key': body.idempotencyKey,
      },
      body: body.text,
    });
    const text = await response.body.text();
    const retryAfter = response.headers['retry-after'];
    return {
      status: response.statusCode,
      retryAfter: typeof retryAfter === 'string' ? retryAfter : null,
      json: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
    };
  } catch (error) {
    return error as Error;
  }
}

/** Sends one body until it is answered 202, waiting out 429 and 503, retrying 5xx and cuts. */
async function deliver(client: Client, body: PushBody): Promise<void> {
  const clock = timersOf(runtime.clock);
  for (let attempt = 1; attempt <= SIMULATE_PUSH_ATTEMPTS_MAX; attempt++) {
    client.summary.requests += 1;
    if (attempt > 1) client.summary.retried += 1;
    const answer = await post(client, body);
    if (!(answer instanceof Error) && answer.status === 202) {
      client.summary.deliveryIds.push(String(answer.json.deliveryId));
      if (answer.json.replayed === true) client.summary.replayed += 1;
      else addCounts(client.summary.counts, answer.json.counts as BatchCounts);
      return;
    }
    if (!(answer instanceof Error) && answer.status < 500 && answer.status !== 429) {
      throw new AmisyncError(
        'TRANSPORT_PROTOCOL',
        `the endpoint answered ${answer.status} to body ${body.idempotencyKey}: ` +
          `${String(answer.json.detail ?? '')}`,
        { status: answer.status, code: answer.json.code ?? null },
      );
    }
    const waitSeconds =
      answer instanceof Error || answer.retryAfter === null
        ? Math.min(attempt * 0.2, 5)
        : Math.min(Number(answer.retryAfter) || 1, RETRY_AFTER_SECONDS_MAX);
    await clock.sleep(waitSeconds * 1000);
  }
  throw new AmisyncError(
    'TRANSPORT_UNAVAILABLE',
    `body ${body.idempotencyKey} was not taken after ${SIMULATE_PUSH_ATTEMPTS_MAX} attempts`,
  );
}

async function sendPartition(client: Client, bodies: readonly PushBody[]): Promise<void> {
  for (const body of bodies) {
    await deliver(client, body);
    if (body.resend) await deliver(client, body);
  }
}

export async function runSimulatePush(options: SimulatePushOptions): Promise<SimulatePushSummary> {
  const format = (options.format ?? 'ndjson') as PushFormat;
  if (!(PUSH_FORMATS as readonly string[]).includes(format)) {
    throw new AmisyncError('USAGE', `--format must be one of ${PUSH_FORMATS.join(', ')}`);
  }
  const days = numberOf(options.days, 1, '--days', 1, 3650);
  const truncateRate = numberOf(options.truncateRate, 0, '--truncate-rate', 0, 1);
  if (truncateRate > 0 && format !== 'ndjson') {
    throw new AmisyncError('USAGE', '--truncate-rate is simulated for --format ndjson only');
  }
  const seed = numberOf(options.seed, 1, '--seed', 0, Number.MAX_SAFE_INTEGER);
  const concurrency = numberOf(options.concurrency, 4, '--concurrency', 1, 64);
  const feed = generateFeed({
    seed,
    meters: numberOf(options.meters, 10, '--meters', 1, 1_000_000),
    startMs: startOf(options, days),
    intervals: Math.round((days * DAY_MS) / (DEFAULT_INTERVAL_SECONDS * 1000)),
    badRate: numberOf(options.badRate, 0, '--bad-rate', 0, 1),
    retransmitRate: numberOf(options.retransmitRate, 0, '--retransmit-rate', 0, 1),
    estimateRate: numberOf(options.estimateRate, 0, '--estimate-rate', 0, 1),
    conflictRate: numberOf(options.conflictRate, 0, '--conflict-rate', 0, 1),
  });
  const plan = planPushBodies(feed.records, {
    seed,
    format,
    concurrency,
    bodyReadings: numberOf(options.bodyReadings, 5000, '--body-readings', 1, 1_000_000),
    truncateRate,
    resendRate: numberOf(options.resendRate, 0, '--resend-rate', 0, 1),
  });
  const truth = feedTruth(feed, plan.extra);
  if (options.truth !== undefined) writeTruth(options.truth, truth);
  const summary: SimulatePushSummary = {
    url: options.url,
    bodies: plan.partitions.reduce((sum, bodies) => sum + bodies.length, 0),
    requests: 0,
    replayed: 0,
    retried: 0,
    counts: emptyCounts(),
    conserved: true,
    deliveryIds: [],
    truth,
  };
  const key = readFileSync(options.keyFile, 'utf8').trim();
  const { Agent } = await import('undici');
  const agent = new Agent({ connections: concurrency });
  try {
    const client: Client = { url: options.url, key, format, agent, summary };
    await Promise.all(plan.partitions.map((bodies) => sendPartition(client, bodies)));
  } finally {
    await agent.close();
  }
  summary.conserved = isConserved(summary.counts);
  return summary;
}

function printSummary(summary: SimulatePushSummary, json: boolean): void {
  if (json) {
    printJson(summary);
    return;
  }
  const { counts, truth } = summary;
  printLines([
    `pushed ${summary.bodies} bodies to ${summary.url} in ${summary.requests} requests ` +
      `(${summary.retried} retried, ${summary.replayed} answered from a stored delivery)`,
    `received ${counts.received}: accepted ${counts.accepted}, duplicates ${counts.duplicates}, ` +
      `quarantined ${counts.quarantined}; conserved: ${summary.conserved ? 'yes' : 'NO'}`,
    `truth: valid ${truth.valid}, duplicates ${truth.duplicates}, invalid ${truth.invalid}, ` +
      `${truth.currentReadings} readings, ${truth.kwh} kWh`,
  ]);
}

export function addSimulatePush(simulate: Command): Command {
  return simulate
    .command('push')
    .description('push a generated feed to a push endpoint, as a vendor would')
    .requiredOption('--url <url>', 'the endpoint, e.g. http://127.0.0.1:8080/v1/readings')
    .requiredOption('--key-file <path>', 'a file holding the API key or JWT to send')
    .option('--meters <n>', 'meters', '10')
    .option('--days <n>', 'days of 15-minute readings', '1')
    .option('--seed <n>', 'feed seed', '1')
    .option('--start <date>', 'first day, YYYY-MM-DD (default: --days before today, UTC)')
    .option('--format <format>', 'ndjson, json or csv', 'ndjson')
    .option('--concurrency <n>', 'concurrent clients, each with its own meters', '4')
    .option('--body-readings <n>', 'records per request body', '5000')
    .option('--retransmit-rate <r>', 'readings sent again verbatim in a later body', '0')
    .option('--resend-rate <r>', 'bodies sent again with the same Idempotency-Key', '0')
    .option('--estimate-rate <r>', 'readings sent as estimates, later replaced by actuals', '0')
    .option('--conflict-rate <r>', 'readings sent again with another value (conflicts)', '0')
    .option('--bad-rate <r>', 'malformed records in the feed', '0')
    .option('--truncate-rate <r>', 'bodies cut inside a record, then the rest sent (ndjson)', '0')
    .option('--truth <file>', 'write the ground truth as JSON')
    .option('--json', 'print one JSON document')
    .action(async (options: SimulatePushOptions) => {
      try {
        const summary = await runSimulatePush(options);
        printSummary(summary, options.json === true);
      } catch (error) {
        handleError(error, options.json === true);
      }
    });
}
