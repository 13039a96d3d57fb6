// Goal: two operators deciding one quarantine item at once never both succeed; the loser gets
// INVALID_STATE and leaves no trace in the ledger, the item's history or the audit chain.
// Method: start two decisions together on one store, so both read the item open before either's
// transaction; then check which won, the item's actions, the audit kinds and audit verify.
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyAudit } from '../audit/verify.js';
import { formatUtcSeconds } from '../core/identity.js';
import { DEFAULT_DICTIONARY, type DataDictionary } from '../dictionary/dictionary.js';
import {
  auditKinds,
  currentLedgerRows,
  FEED_START_MS,
  openHarness,
  quarantineOf,
  type Harness,
} from '../test-support/ingest-harness.js';
import { removeTempDirs } from '../test-support/temp.js';
import { toNdjsonText, type WireRecord } from '../test-support/wire-text.js';
import {
  acceptQuarantined,
  rejectQuarantined,
  replayQuarantine,
  type ActionContext,
} from './quarantine.js';

const METER = 'MTR-AAAA0001';
const RAISED: DataDictionary = { ...DEFAULT_DICTIONARY, consumptionKwhMax: 2000 };

function record(slot: number, seq: number, kwh: string): WireRecord {
  return {
    meter_id: METER,
    timestamp_utc: formatUtcSeconds(FEED_START_MS + slot * 900_000),
    consumption_kwh: kwh,
    status_code: 0,
    seq,
  };
}

let harness: Harness;

beforeEach(() => {
  harness = openHarness();
});

afterEach(async () => {
  await harness.close();
});

afterAll(removeTempDirs);

function context(actor: string, dictionary: DataDictionary = DEFAULT_DICTIONARY): ActionContext {
  return { store: harness.store, dictionary, clock: harness.clock, actor };
}

/** One open item over the maximum (a raised maximum lets a replay accept it), and its id. */
async function openItem(): Promise<number> {
  const report = await harness.ingest(toNdjsonText([record(0, 1, '1500')]));
  expect(report.counts).toMatchObject({ received: 1, quarantined: 1 });
  const [row] = await quarantineOf(harness, report.deliveryId);
  return row!.id;
}

type Decide = (id: number) => Promise<unknown>;

const DECISIONS: Record<string, Decide> = {
  accept: (id) => acceptQuarantined(context('first@utility'), id, 'vendor confirmed the value'),
  reject: (id) => rejectQuarantined(context('second@utility'), id, 'garbage from the head-end'),
  replay: (id) => replayQuarantine(context('third@utility', RAISED), [id]),
};

describe('two decisions on one quarantine item at once', () => {
  it.each([
    ['accept', 'reject'],
    ['reject', 'accept'],
    ['accept', 'accept'],
    ['reject', 'reject'],
    ['replay', 'reject'],
    ['replay', 'replay'],
    ['accept', 'replay'],
  ])('%s and %s: exactly one succeeds', async (first, second) => {
    const id = await openItem();
    const before = await auditKinds(harness);
    const outcomes = await Promise.allSettled([DECISIONS[first]!(id), DECISIONS[second]!(id)]);
    const won = outcomes.filter((outcome) => outcome.status === 'fulfilled');
    const lost = outcomes.filter((outcome) => outcome.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect((lost[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'INVALID_STATE' });
    const winner = outcomes[0]?.status === 'fulfilled' ? first : second;

    const actions = await harness.store.listQuarantineActions(id);
    expect(actions.map((action) => action.action)).toEqual([winner]);
    const item = await harness.store.getQuarantine(id);
    expect(item?.status).toBe(winner === 'replay' ? 'replayed' : `${winner}ed`);
    const after = await auditKinds(harness);
    const batches = (after.batch ?? 0) - (before.batch ?? 0);
    const rejects = (after['quarantine.reject'] ?? 0) - (before['quarantine.reject'] ?? 0);
    expect([batches, rejects]).toEqual(winner === 'reject' ? [0, 1] : [1, 0]);
    const ledger = await currentLedgerRows(harness);
    expect(ledger.map((row) => row.valueMicro)).toEqual(winner === 'reject' ? [] : [1_500_000_000]);
    const status = await harness.store.status();
    expect(status.operatorTotals.received).toBe(winner === 'reject' ? 0 : 1);
    const audit = await verifyAudit(harness.store, null);
    expect(audit.problems).toEqual([]);
  });

  it('a replay of every open item passes over one decided while it ran', async () => {
    const id = await openItem();
    const [all, rejected] = await Promise.all([
      replayQuarantine(context('third@utility', RAISED), 'all'),
      // Started after the replay listed its page, committed before the replay's transaction.
      rejectQuarantined(context('second@utility'), id, 'garbage from the head-end'),
    ]);
    expect(rejected.quarantineId).toBe(id);
    expect(all).toMatchObject({ replayed: 0, accepted: 0, outcomes: [] });
    expect((await harness.store.getQuarantine(id))?.status).toBe('rejected');
    expect((await verifyAudit(harness.store, null)).ok).toBe(true);
  });
});
