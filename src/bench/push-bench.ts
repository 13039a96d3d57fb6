/**
 * The push endpoint's speed beside file ingest, measured in the same run on the same rows: 4
 * concurrent clients (each its own meters, in order) send 5,000-reading NDJSON bodies over
 * loopback to a push source under the service runner; the file rate is the same rows as one NDJSON
 * file through the same pipeline. Each run starts on a fresh database. Prints both rates and their
 * ratio (the target is at least 0.6).
 *
 *   node dist/bench/push-bench.js                       200,000 readings
 *   node dist/bench/push-bench.js --readings 1000000 --concurrency 4 --body-readings 5000
 *
 * Not part of the test suite.
 */
import { mkdirSync, rmSync, writeFileSync, createReadStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { CountingRandom, systemClock } from '../core/clock.js';
import { READ_CHUNK_BYTES } from '../core/limits.js';
import { MemoryLogger } from '../core/log.js';
import type { Store } from '../core/store.js';
import { DEFAULT_DICTIONARY } from '../dictionary/dictionary.js';
import { ingestDelivery } from '../pipeline/ingest.js';
import { runService } from '../pipeline/service.js';
import { createSourceContext } from '../cli/config/source-context.js';
import { generateFeed, toNdjson } from '../simulator/feed-generator.js';
import { planPushBodies, type PushBody } from '../simulator/push-plan.js';
import { newApiKey } from '../sources/http-push/push-auth.js';
import { pushSourceKind, type PushSource } from '../sources/http-push/http-push.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';

const METERS = 1_000;
const SEED = 11;

function secondsSince(startNs: bigint): number {
  return Number(process.hrtime.bigint() - startNs) / 1e9;
}

async function fileRate(path: string, dbPath: string): Promise<number> {
  const store = openSqliteStore(dbPath, { nowMs: () => systemClock.nowMs() });
  const start = process.hrtime.bigint();
  const report = await ingestDelivery(createReadStream(path, { highWaterMark: READ_CHUNK_BYTES }), {
    store,
    dictionary: DEFAULT_DICTIONARY,
    clock: systemClock,
    random: new CountingRandom(),
    format: 'ndjson',
    name: 'feed.ndjson',
    sourceId: 'bench-file',
  });
  const rate = report.counts.accepted / secondsSince(start);
  await store.close();
  return rate;
}

async function addVendor(store: Store, random: CountingRandom): Promise<string> {
  const { key, keyId, keySha256 } = newApiKey(random);
  await store.addVendor({
    name: 'bench',
    keyId,
    keySha256,
    meters: null,
    meterPattern: null,
    anyMeter: true,
    createdAtMs: systemClock.nowMs(),
  });
  return key;
}

async function sendAll(url: string, key: string, partitions: PushBody[][]): Promise<number> {
  const agent = new Agent({ connections: partitions.length });
  let accepted = 0;
  const client = async (bodies: readonly PushBody[]): Promise<void> => {
    for (const body of bodies) {
      const response = await request(url, {
        method: 'POST',
        dispatcher: agent,
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/x-ndjson' },
        body: body.text,
      });
      const answer = (await response.body.json()) as { counts?: { accepted: number } };
      if (response.statusCode !== 202) {
        throw new Error(`push answered ${response.statusCode}: ${JSON.stringify(answer)}`);
      }
      accepted += answer.counts?.accepted ?? 0;
    }
  };
  try {
    await Promise.all(partitions.map(client));
  } finally {
    await agent.close();
  }
  return accepted;
}

async function pushRate(partitions: PushBody[][], dbPath: string): Promise<number> {
  const store = openSqliteStore(dbPath, { nowMs: () => systemClock.nowMs() });
  const random = new CountingRandom();
  const log = new MemoryLogger();
  const context = createSourceContext({ store, clock: systemClock, random, log, env: {} });
  const key = await addVendor(store, random);
  const config = pushSourceKind.schema.parse({
    kind: 'push',
    id: 'bench-push',
    port: 0,
    rateLimit: { requestsPerMinute: 1_000_000, burst: 100_000 },
  });
  const source = pushSourceKind.create(config, context) as PushSource;
  const controller = new AbortController();
  const service = runService({
    store,
    dictionary: DEFAULT_DICTIONARY,
    clock: systemClock,
    random,
    log,
    sources: [{ source }],
    once: false,
    signal: controller.signal,
  });
  while (log.events.every((event) => event.message !== 'push endpoint listening')) {
    await systemClock.sleep(5);
  }
  const start = process.hrtime.bigint();
  const accepted = await sendAll(source.url, key, partitions);
  const rate = accepted / secondsSince(start);
  controller.abort();
  await service;
  await store.close();
  return rate;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      readings: { type: 'string', default: '200000' },
      concurrency: { type: 'string', default: '4' },
      'body-readings': { type: 'string', default: '5000' },
      dir: { type: 'string', default: join(tmpdir(), 'amisync-push-bench') },
    },
  });
  const readings = Math.max(METERS, Math.round(Number(values.readings) / METERS) * METERS);
  const dir = values.dir;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const feed = generateFeed({
    seed: SEED,
    meters: METERS,
    startMs: Date.UTC(2026, 0, 1),
    intervals: readings / METERS,
  });
  const feedPath = join(dir, 'feed.ndjson');
  writeFileSync(feedPath, [...toNdjson(feed.records)].join(''));
  const plan = planPushBodies(feed.records, {
    seed: SEED,
    format: 'ndjson',
    concurrency: Number(values.concurrency),
    bodyReadings: Number(values['body-readings']),
    truncateRate: 0,
    resendRate: 0,
  });
  const file = await fileRate(feedPath, join(dir, 'file.db'));
  const push = await pushRate(plan.partitions, join(dir, 'push.db'));
  const format = (rate: number): string => Math.round(rate).toLocaleString('en-US').padStart(9);
  process.stdout.write(
    [
      `${readings.toLocaleString('en-US')} readings, ${plan.partitions.length} clients, ` +
        `${values['body-readings']}-reading NDJSON bodies`,
      `file ingest (same rows, one file)   ${format(file)} reads/s`,
      `push endpoint                       ${format(push)} reads/s`,
      `push / file ingest = ${(push / file).toFixed(2)} (target >= 0.60)`,
      '',
    ].join('\n'),
  );
}

await main();
