// Goal: every alert reaches the log at once and the webhook eventually, with a JSON body naming the
// source, rule and figures; a failing or hanging webhook never blocks the caller, is retried, and
// its queue stays bounded.
// Method: a real node:http server on a loopback port that fails its first answers (or never
// answers) before succeeding; the dispatcher and webhook sink run on the system clock.
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock, systemRandom } from '../core/clock.js';
import { MemoryLogger } from '../core/log.js';
import {
  startWebhookReceiver,
  type WebhookHandler,
  type WebhookReceiver,
} from '../test-support/webhook-receiver.js';
import { AlertDispatcher } from './alerts.js';
import { WebhookSink } from './webhook-sink.js';

const receivers: WebhookReceiver[] = [];

async function webhook(handler: WebhookHandler): Promise<WebhookReceiver> {
  const receiver = await startWebhookReceiver(handler);
  receivers.push(receiver);
  return receiver;
}

afterEach(async () => {
  for (const receiver of receivers.splice(0)) await receiver.close();
});

const FAST_RETRY = { attempts: 5, baseDelayMs: 20, delayMsMax: 50 };

function breakerOpened(dispatcher: AlertDispatcher) {
  return dispatcher.raise({
    rule: 'breaker.opened',
    source: 'vendor-a',
    severity: 'critical',
    message: 'vendor-a: 20 of 20 calls failed',
    figures: { calls: 20, failures: 20, failureRate: 1 },
  });
}

describe('alerts', () => {
  it('logs at once and posts to a webhook that fails twice, then succeeds', async () => {
    const hook = await webhook((_, response, count) => {
      response.statusCode = count <= 2 ? 503 : 204;
      response.end();
    });
    const log = new MemoryLogger();
    const sink = new WebhookSink({
      url: hook.url,
      clock: systemClock,
      random: systemRandom,
      log,
      retry: FAST_RETRY,
    });
    const dispatcher = new AlertDispatcher(log, systemClock, [sink]);
    breakerOpened(dispatcher);
    expect(log.events.some((e) => e.message.startsWith('alert: vendor-a'))).toBe(true);
    await sink.drain();
    expect(hook.bodies).toHaveLength(3);
    const body = JSON.parse(hook.bodies[2] ?? '{}') as Record<string, unknown>;
    expect(body).toMatchObject({
      type: 'amisync.alert',
      rule: 'breaker.opened',
      source: 'vendor-a',
      severity: 'critical',
      figures: { calls: 20, failures: 20, failureRate: 1 },
    });
    expect(sink.totals).toEqual({ sent: 1, failed: 0, dropped: 0, queued: 0 });
  });

  it('gives up after its attempts on a webhook that always fails, and says so in the log', async () => {
    const hook = await webhook((_, response) => {
      response.statusCode = 500;
      response.end();
    });
    const log = new MemoryLogger();
    const sink = new WebhookSink({
      url: hook.url,
      clock: systemClock,
      random: systemRandom,
      log,
      retry: { attempts: 3, baseDelayMs: 5, delayMsMax: 10 },
    });
    breakerOpened(new AlertDispatcher(log, systemClock, [sink]));
    await sink.drain();
    expect(hook.bodies).toHaveLength(3);
    expect(sink.totals.failed).toBe(1);
    expect(log.events.some((e) => e.message.includes('could not be posted'))).toBe(true);
  });

  it('never blocks the caller on a hanging webhook, and keeps its queue bounded', async () => {
    const hook = await webhook(() => undefined);
    const log = new MemoryLogger();
    const sink = new WebhookSink({
      url: hook.url,
      clock: systemClock,
      random: systemRandom,
      log,
      retry: { attempts: 3, baseDelayMs: 5, delayMsMax: 10 },
      timeoutMs: 200,
      queueMax: 5,
    });
    const dispatcher = new AlertDispatcher(log, systemClock, [sink]);
    const startedMs = performance.now();
    for (let i = 0; i < 50; i++) breakerOpened(dispatcher);
    expect(performance.now() - startedMs).toBeLessThan(100);
    expect(log.events.filter((e) => e.message.startsWith('alert:'))).toHaveLength(50);
    // One alert is being posted; five wait; the rest were dropped oldest first.
    expect(sink.totals).toMatchObject({ dropped: 44, queued: 5 });
    await sink.close();
  });
});
