// Goal: a broker source gathers messages into one batch by count, bytes or delay, hands it over as
// one NDJSON delivery whose bad messages are quarantined with their bytes, and settles every
// message of the batch with the link only after the runner's commit (ack) or failure (nack).
// Method: the real pipeline and SQLite store, fed by an in-memory link on a manual clock.
import assert from 'node:assert/strict';
import { hash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { END, isIdle, waitIdle, type Delivery, type Idle } from '../../core/source.js';
import { DEFAULT_DICTIONARY } from '../../dictionary/dictionary.js';
import { deliverOne } from '../../pipeline/run-source.js';
import { failingStore } from '../../test-support/failing-store.js';
import { openHarness, type Harness } from '../../test-support/ingest-harness.js';
import { testSourceContext } from '../../test-support/source-context.js';
import { removeTempDirs, tempDir } from '../../test-support/temp.js';
import { BATCH_DEFAULTS, type BrokerSourceSettings } from './broker-config.js';
import { BrokerSource, type BrokerInbox, type BrokerLink } from './broker-source.js';
import { jsonPieces, messageLines } from './message-lines.js';

afterAll(removeTempDirs);

const harnesses: Harness[] = [];
afterEach(async () => {
  await Promise.all(harnesses.splice(0).map((harness) => harness.close()));
});

/** Records each settlement the source asks for, as a broker would see it. */
class MemoryLink implements BrokerLink<number> {
  readonly where = 'memory://test queue q';
  inbox: BrokerInbox<number> | null = null;
  unackedMax = 0;
  readonly acked: number[][] = [];
  readonly nacked: number[][] = [];
  #tag = 0;

  async open(inbox: BrokerInbox<number>, unackedMax: number): Promise<void> {
    this.inbox = inbox;
    this.unackedMax = unackedMax;
  }

  publish(text: string, id = `m${this.#tag + 1}`): void {
    this.#tag += 1;
    this.inbox?.take({ id, bytes: Buffer.from(text), attempt: 1 }, this.#tag);
  }

  async ack(handles: readonly number[]): Promise<void> {
    this.acked.push([...handles]);
  }

  async nack(handles: readonly number[]): Promise<void> {
    this.nacked.push([...handles]);
  }

  async close(): Promise<void> {
    this.inbox = null;
  }
}

function reading(slot: number, kwh = '1.5'): string {
  const start = new Date(Date.UTC(2026, 2, 1) + slot * 900_000).toISOString();
  return JSON.stringify({
    meter_id: 'MTR-0A1B2C3D',
    timestamp_utc: start.replace('.000Z', 'Z'),
    consumption_kwh: kwh,
    status_code: 0,
  });
}

function setup(settings: Partial<BrokerSourceSettings> = {}) {
  const harness = openHarness();
  harnesses.push(harness);
  const context = testSourceContext(harness.store, { clock: harness.clock });
  const link = new MemoryLink();
  const source = new BrokerSource(
    {
      id: 'broker-test',
      pollIntervalMs: 100,
      quietMs: 1000,
      batch: { ...BATCH_DEFAULTS },
      ...settings,
    },
    link,
    context,
  );
  const options = {
    store: harness.store,
    dictionary: DEFAULT_DICTIONARY,
    clock: harness.clock,
    random: harness.random,
    detectors: [],
  };
  return { harness, link, source, options };
}

function asDelivery(value: Delivery | Idle | typeof END): Delivery {
  if (value === END || isIdle(value)) throw new Error(`expected a delivery, got ${String(value)}`);
  return value;
}

describe('messageLines', () => {
  const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8');

  it('splits an array into its elements and puts a pretty value on one line, literals exact', () => {
    expect(text(messageLines(Buffer.from('[ {"a": 1.10}, {"b": "x y\\" ]"} ]')))).toBe(
      '{"a":1.10}\n{"b":"x y\\" ]"}\n',
    );
    expect(text(messageLines(Buffer.from('{\n  "a": 9007199254740993,\n  "a": 2\n}')))).toBe(
      '{"a":9007199254740993,"a":2}\n',
    );
  });

  it('passes NDJSON lines and anything that is not JSON as sent', () => {
    expect(text(messageLines(Buffer.from('{"a":1}\n{"b":2}')))).toBe('{"a":1}\n{"b":2}\n');
    expect(text(messageLines(Buffer.from('meter,kwh')))).toBe('meter,kwh\n');
    expect(text(messageLines(Buffer.from('[1, 2')))).toBe('[1, 2\n');
  });

  it('passes a message that is already one NDJSON line on as it is, a bad one too', () => {
    const line = Buffer.from('{"a": 1.10, "b": "x"}\n');
    expect(messageLines(line)).toBe(line);
    const bad = Buffer.from('{"a": \n');
    expect(messageLines(bad)).toBe(bad);
    expect(text(messageLines(Buffer.from('{"a": 1}\r\n')))).toBe('{"a":1}\n');
    expect(text(messageLines(Buffer.from('{"a": 1}\n\n')))).toBe('{"a":1}\n');
  });

  it('passes lines of objects on as they are: such a message is never one JSON text', () => {
    const objectLine = fc
      .oneof(
        fc.dictionary(fc.string(), fc.jsonValue()).map((value) => JSON.stringify(value)),
        // Lines that only look like objects: the NDJSON parser quarantines them later.
        fc.string().map((inner) => `{${inner.replace(/[\r\n]/g, ' ')}}`),
      )
      .filter((line) => !line.includes('\r') && !line.includes('\n'));
    fc.assert(
      fc.property(fc.array(objectLine, { minLength: 2, maxLength: 6 }), (lines) => {
        const bytes = Buffer.from(`${lines.join('\n')}\n`);
        expect(jsonPieces(bytes)).toBeNull();
        expect(messageLines(bytes)).toBe(bytes);
      }),
    );
    const notLines = Buffer.from('{"a":{}\n,"b":1}\n');
    expect(text(messageLines(notLines))).toBe('{"a":{},"b":1}\n');
  });

  it('keeps a blank message countable', () => {
    expect(text(messageLines(Buffer.from('  ')))).toBe('""\n');
  });
});

describe('BrokerSource', () => {
  it('hands a batch over once it holds messagesMax messages, and bounds the broker at two', async () => {
    const { link, source } = setup({ batch: { ...BATCH_DEFAULTS, messagesMax: 3 } });
    await source.connect(new AbortController().signal, null);
    expect(link.unackedMax).toBe(6);
    link.publish(reading(0));
    link.publish(reading(1));
    const waiting = await source.read();
    expect(isIdle(waiting) && waiting.reason).toBe('throttled');
    link.publish(reading(2));
    link.publish(reading(3));
    const delivery = asDelivery(await source.read());
    expect(delivery.metadata).toMatchObject({
      messages: '3',
      firstMessageId: 'm1',
      lastMessageId: 'm3',
    });
    expect(delivery.format).toBe('ndjson');
  });

  it('hands a batch over at bytesMax, and a short one once its first message waited delayMs', async () => {
    const { harness, link, source } = setup({
      batch: { messagesMax: 100, bytesMax: 2 * reading(0).length + 2, delayMs: 500 },
    });
    await source.connect(new AbortController().signal, null);
    for (let slot = 0; slot < 3; slot++) link.publish(reading(slot));
    expect(asDelivery(await source.read()).metadata['messages']).toBe('2');
    const early = await source.read();
    expect(isIdle(early) && early.afterMs).toBe(500);
    harness.clock.advanceMs(500);
    expect(asDelivery(await source.read()).metadata['messages']).toBe('1');
  });

  it('wakes the waiting runner when a batch fills or a first message comes, not the clock', async () => {
    const { harness, link, source } = setup({ batch: { ...BATCH_DEFAULTS, messagesMax: 2 } });
    await source.connect(new AbortController().signal, null);
    const empty = await source.read();
    assert(isIdle(empty));
    const firstCame = waitIdle(harness.clock, empty);
    link.publish(reading(0));
    await firstCame;
    const filling = await source.read();
    assert(isIdle(filling));
    expect(filling.afterMs).toBe(BATCH_DEFAULTS.delayMs);
    let woken = false;
    const full = waitIdle(harness.clock, filling).then(() => (woken = true));
    await Promise.resolve();
    expect(woken).toBe(false);
    link.publish(reading(1));
    await full;
    expect(harness.clock.pendingSleeps).toBe(0);
    expect(asDelivery(await source.read()).metadata['messages']).toBe('2');
  });

  it('is caught up only once nothing has come for quietMs', async () => {
    const { harness, source } = setup({ quietMs: 1000 });
    await source.connect(new AbortController().signal, null);
    const first = await source.read();
    expect(isIdle(first) && first.reason).toBe('throttled');
    harness.clock.advanceMs(1000);
    const later = await source.read();
    expect(isIdle(later) && later.reason).toBe('caught-up');
  });

  it('acks every message of the batch after the commit, bad messages quarantined with bytes', async () => {
    const folder = tempDir();
    const ackLog = join(folder, 'acks.ndjson');
    const { harness, link, source, options } = setup({
      batch: { ...BATCH_DEFAULTS, messagesMax: 4 },
      ackLog,
    });
    await source.connect(new AbortController().signal, null);
    link.publish(reading(0));
    link.publish(`[${reading(1)},${reading(2)}]`);
    link.publish('not json at all');
    link.publish(reading(0));
    const delivery = asDelivery(await source.read());
    const report = await deliverOne(source, delivery, options);
    expect(report.counts).toMatchObject({
      received: 5,
      accepted: 3,
      duplicates: 1,
      quarantined: 1,
    });
    expect(link.acked).toEqual([[1, 2, 3, 4]]);
    const quarantined = await harness.store.listQuarantine({ limit: 10 });
    expect(quarantined.map((item) => item.rawSha256)).toEqual([
      hash('sha256', 'not json at all', 'hex'),
    ]);
    const line = JSON.parse(readFileSync(ackLog, 'utf8')) as Record<string, unknown>;
    expect(line).toMatchObject({
      deliveryId: report.deliveryId,
      messages: ['m1', 'm2', 'm3', 'm4'],
    });
  });

  it('nacks the whole batch when the store cannot commit it, and acks nothing', async () => {
    const { harness, link, source, options } = setup({
      batch: { ...BATCH_DEFAULTS, messagesMax: 2 },
    });
    await source.connect(new AbortController().signal, null);
    link.publish(reading(0));
    link.publish(reading(1));
    const failing = failingStore(harness.store, 1);
    await expect(
      deliverOne(source, asDelivery(await source.read()), { ...options, store: failing }),
    ).rejects.toThrow();
    expect(link.acked).toEqual([]);
    expect(link.nacked).toEqual([[1, 2]]);
  });
});
