// Goal: while its source is paused the push endpoint takes nothing: an authenticated request is
// answered 503 PAUSED with Retry-After (PAUSE_RETRY_AFTER_SECONDS) and an audit entry, requests
// already waiting are answered the same way, and after a resume the same body is taken (202).
// Method: a PushSource under the real runner (push-rig) with a StorePauseGate on its real SQLite
// store; pauses written by pauseSources; real HTTP on loopback with fetch.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { PAUSE_RETRY_AFTER_SECONDS } from '../../core/limits.js';
import { pausesOf } from '../../core/pause.js';
import { pauseSources, resumeSources } from '../../pipeline/controls.js';
import { generateFeed, toNdjson } from '../../simulator/feed-generator.js';
import { startPushRig, type PushRig } from '../../test-support/push-rig.js';
import { removeTempDirs } from '../../test-support/temp.js';

const FEED_START_MS = Date.UTC(2026, 2, 1);
const FEED = generateFeed({ seed: 7, meters: 3, intervals: 4, startMs: FEED_START_MS });
const METERS = [...new Set(FEED.records.map((record) => String(record.meter_id)))];
const BODY = [...toNdjson(FEED.records)].join('');
const REASON = 'vendor feed doubled every value';

let rig: PushRig | null = null;

afterEach(async () => {
  await rig?.stop();
  rig = null;
});
afterAll(removeTempDirs);

async function post(url: string, key: string) {
  const response = await fetch(url, {
    method: 'POST',
    body: BODY,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/x-ndjson' },
  });
  return {
    status: response.status,
    retryAfter: response.headers.get('retry-after'),
    contentType: response.headers.get('content-type'),
    json: (await response.json()) as Record<string, unknown>,
  };
}

function operatorOf(target: PushRig) {
  return { store: target.store, clock: target.clock, actor: 'ops-alice' };
}

describe('push endpoint while paused', () => {
  it('answers 503 PAUSED with Retry-After and takes nothing; after a resume it takes the body', async () => {
    const target = (rig = await startPushRig({
      nowMs: FEED_START_MS + 86_400_000,
      pauseGate: true,
    }));
    const key = await target.addVendor('vendor-a', { meters: METERS });
    await pauseSources(operatorOf(target), { sourceIds: ['push'], reason: REASON });

    const refused = await post(target.url, key);
    expect(refused.status).toBe(503);
    expect(refused.retryAfter).toBe(String(PAUSE_RETRY_AFTER_SECONDS));
    expect(refused.contentType).toBe('application/problem+json');
    expect(refused.json).toMatchObject({ code: 'PAUSED', status: 503 });
    expect(target.count('deliveries')).toBe(0);
    expect(target.count('ledger')).toBe(0);
    const entry = target.store.db
      .prepare("SELECT payload FROM audit_log WHERE kind = 'push.request'")
      .get() as { payload: string };
    expect(JSON.parse(entry.payload)).toMatchObject({
      vendor: 'vendor-a',
      status: 503,
      code: 'PAUSED',
    });

    await resumeSources(operatorOf(target), { sourceIds: ['push'], reason: '' });
    const taken = await post(target.url, key);
    expect(taken.status).toBe(202);
    expect(taken.json).toMatchObject({ counts: { accepted: FEED.records.length } });
  });

  it('a global pause holds the endpoint too, and an unauthenticated caller learns nothing of it', async () => {
    const target = (rig = await startPushRig({
      nowMs: FEED_START_MS + 86_400_000,
      pauseGate: true,
    }));
    const key = await target.addVendor('vendor-a', { meters: METERS });
    await pauseSources(operatorOf(target), { sourceIds: [], reason: REASON });
    expect((await post(target.url, key)).json).toMatchObject({ code: 'PAUSED' });
    expect((await post(target.url, 'amk_nobody_secret')).status).toBe(401);
  });

  it('answers requests already waiting for the runner when the pause takes hold', async () => {
    const target = (rig = await startPushRig({
      nowMs: FEED_START_MS + 86_400_000,
      pauseGate: true,
      paused: true,
    }));
    const key = await target.addVendor('vendor-a', { meters: METERS });
    const waiting = post(target.url, key);
    // The request is queued (the rig takes nothing yet); then an operator pauses the source and
    // the runner tells it so, as the service's loop does when it finds the pause.
    for (let step = 0; step < 500; step++) {
      if (target.source.waiting > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(target.source.waiting).toBe(1);
    await pauseSources(operatorOf(target), { sourceIds: ['push'], reason: REASON });
    const [pause] = pausesOf(await target.store.listControls());
    await target.source.paused(pause!);
    const answer = await waiting;
    expect(answer.status).toBe(503);
    expect(answer.json).toMatchObject({ code: 'PAUSED' });
    expect(target.count('deliveries')).toBe(0);
  });
});
