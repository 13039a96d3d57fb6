// Goal: bad records that arrive again add repeats to their open items, not new items, and every
// delivery still balances. Method: ingest one file twice into real SQLite; replay and verify.
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyAudit } from '../audit/verify.js';
import { formatUtcSeconds } from '../core/identity.js';
import { DEFAULT_DICTIONARY, parseDictionary } from '../dictionary/dictionary.js';
import {
  FEED_START_MS,
  openHarness,
  outcomesSum,
  quarantineOf,
  type Harness,
} from '../test-support/ingest-harness.js';
import { removeTempDirs } from '../test-support/temp.js';
import { recordJson, type WireRecord } from '../test-support/wire-text.js';
import { replayQuarantine, type ActionContext } from './quarantine.js';

const METER = 'MTR-AAAA0002';
const FIXTURES = new URL('../../test/fixtures/', import.meta.url).pathname;

function good(slot: number, seq: number, kwh = '0.250'): WireRecord {
  return {
    meter_id: METER,
    timestamp_utc: formatUtcSeconds(FEED_START_MS + slot * 900_000),
    consumption_kwh: kwh,
    status_code: 0,
    seq,
  };
}

const TEXT = `${[
  recordJson(good(0, 1)),
  recordJson({ ...good(1, 2), consumption_kwh: '12abc' }),
  '{"meter_id":"MTR-AAAA0002",',
  recordJson(good(2, 3, '1500')),
  recordJson(good(3, 4)),
  recordJson({ ...good(4, 5), status_code: undefined }),
].join('\n')}\n`;
const BAD = 4;

let harness: Harness;
beforeEach(() => {
  harness = openHarness();
});
afterEach(async () => {
  await harness.close();
});
afterAll(removeTempDirs);

describe('the same bad records delivered twice', () => {
  it('adds one repeat to each open item, opens none, and both deliveries balance', async () => {
    const first = await harness.ingest(TEXT, { batchReadingsMax: 2 });
    harness.clock.advanceMs(60_000);
    const second = await harness.ingest(TEXT, { batchReadingsMax: 2 });
    for (const report of [first, second]) {
      expect(report.counts.quarantined).toBe(BAD);
      expect(outcomesSum(report.counts)).toBe(report.counts.received);
    }
    expect(second.counts.duplicates).toBe(2);
    const items = await quarantineOf(harness);
    expect(items).toHaveLength(BAD);
    expect(items.every((item) => item.deliveryId === first.deliveryId)).toBe(true);
    expect(items.map((item) => item.repeats)).toEqual([1, 1, 1, 1]);
    const repeats = await harness.store.quarantineRepeatsOf(items[0]?.id as number);
    expect(repeats[0]).toMatchObject({
      deliveryId: second.deliveryId,
      location: items[0]?.location,
      rawSha256: items[0]?.rawSha256,
    });
    const status = await harness.store.status();
    expect(status.quarantine.open).toBe(BAD);
    expect(status.quarantineRepeats).toBe(BAD);
    expect(status.totals.quarantined).toBe(2 * BAD);
    const audit = await verifyAudit(harness.store, null);
    expect(audit.firstProblem).toBeNull();
  });

  it('is not confused by repeats when an item is replayed, and reopens once it is closed', async () => {
    await harness.ingest(TEXT);
    await harness.ingest(TEXT);
    const context: ActionContext = {
      store: harness.store,
      dictionary: DEFAULT_DICTIONARY,
      clock: harness.clock,
      actor: 'clerk@utility',
    };
    // Still invalid: each item stays the one open item; a replay never repeats onto itself.
    const unchanged = await replayQuarantine(context, 'all', 10);
    expect(unchanged).toMatchObject({ replayed: BAD, accepted: 0, stillQuarantined: BAD });
    expect((await quarantineOf(harness)).map((item) => [item.status, item.repeats])).toEqual(
      new Array(BAD).fill(['open', 1]),
    );
    const raised = { ...DEFAULT_DICTIONARY, consumptionKwhMax: 2000 };
    const replayed = await replayQuarantine({ ...context, dictionary: raised }, 'all', 10);
    expect(replayed).toMatchObject({ accepted: 1 });
    const items = await quarantineOf(harness);
    expect(items.filter((item) => item.status === 'replayed')).toHaveLength(1);
    // The replayed item is closed: the same record arriving again is a new open item.
    const third = await harness.ingest(TEXT);
    expect(third.counts.quarantined).toBe(BAD);
    const after = await quarantineOf(harness);
    expect(after).toHaveLength(BAD + 1);
    expect(after.filter((item) => item.status === 'open').map((item) => item.repeats)).toEqual([
      2, 2, 2, 0,
    ]);
    expect((await verifyAudit(harness.store, null)).firstProblem).toBeNull();
  });

  it('makes a bad record sent twice in one batch a repeat of the item its first copy opens', async () => {
    const bad = recordJson({ ...good(1, 2), consumption_kwh: '12abc' });
    const report = await harness.ingest(`${bad}\n${recordJson(good(0, 1))}\n${bad}\n${bad}\n`);
    expect(report.counts).toMatchObject({ received: 4, accepted: 1, quarantined: 3 });
    const items = await quarantineOf(harness);
    expect(items.map((item) => [item.location.line, item.repeats])).toEqual([[1, 2]]);
    const repeats = await harness.store.quarantineRepeatsOf(items[0]?.id as number);
    expect(repeats.map((repeat) => [repeat.location.line, repeat.batchPosition])).toEqual([
      [3, 0],
      [4, 1],
    ]);
    expect((await verifyAudit(harness.store, null)).firstProblem).toBeNull();
  });

  it('pairs the readings of a NEM12 line one to one with their items when the file comes again', async () => {
    const bytes = readFileSync(`${FIXTURES}nem12/valid/aemo-NEM12#SCENARIO1#UNITEDDP#NEMMCO.csv`);
    const strict = parseDictionary({ formats: { nem12: { meterIdPattern: '^X{10}$' } } });
    const call = { format: 'nem12', dictionary: strict } as const;
    const first = await harness.ingest(bytes, { ...call, batchReadingsMax: 100 });
    expect(first.counts.quarantined).toBe(384);
    // Its readings share the bytes of their lines: siblings, never repeats of one another.
    expect((await quarantineOf(harness)).every((item) => item.repeats === 0)).toBe(true);
    const second = await harness.ingest(bytes, call);
    expect(second.counts.quarantined).toBe(384);
    const items = await quarantineOf(harness);
    expect(items).toHaveLength(384);
    expect(items.every((item) => item.repeats === 1)).toBe(true);
    for (const item of items.slice(0, 60)) {
      const [repeat] = await harness.store.quarantineRepeatsOf(item.id);
      expect(repeat?.location.recordIndex).toBe(item.location.recordIndex);
    }
    expect((await verifyAudit(harness.store, null)).firstProblem).toBeNull();
  });
});
