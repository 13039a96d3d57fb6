// Goal: a typed record of a delivery cut short (its process died) is never replayed or accepted as
// another record: it is read again only where its first read can be repeated, from a complete
// delivery of the same file, and then it is the very interval it was quarantined as.
// Method: a NEM12 file whose 300 line's readings are numbered after the unreadable line below it.
// Its first delivery stops after two committed batches (the source fails). Replay and accept run
// on a real SQLite store, before and after the file is delivered again in full.
import { afterAll, describe, expect, it } from 'vitest';
import { CountingRandom, ManualClock } from '../core/clock.js';
import type { Store } from '../core/store.js';
import { parseDictionary, type DataDictionary } from '../dictionary/dictionary.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import { collect, FEED_NOW_MS } from '../test-support/ingest-harness.js';
import { removeTempDirs, tempDir } from '../test-support/temp.js';
import { ingestDelivery } from './ingest.js';
import { acceptQuarantined, replayQuarantine } from './quarantine.js';

afterAll(removeTempDirs);

const DAY_MS = Date.UTC(2005, 3, 1) - 10 * 3_600_000; // 2005-04-01 in NEM time (UTC+10)
const HALF_HOUR_MS = 1_800_000;
/** Interval 5 (0-based 4) reads 99 kWh; the others 1 kWh. */
const VALUES = Array.from({ length: 48 }, (_, slot) => (slot === 4 ? '99.000' : '1.000'));
/**
 * The 300 line's readings wait for the lines after it, so lines 4 and 5, which cannot be read,
 * are numbered first (records 0 and 1) and the readings 2 to 49. Interval 5 is record 6.
 */
const FILE = Buffer.from(
  [
    '100,NEM12,200505121650,CNRGYMDP,NEMMCO',
    '200,NEM1208142,E1,E1,E1,N1,08142,KWH,30,',
    `300,20050401,${VALUES.join(',')},A,,,20050402120000,`,
    '450,1,1,S52,30,',
    '451,2,48,A,,',
    '900',
    '',
  ].join('\r\n'),
);

const dictionary = (consumptionKwhMax: number): DataDictionary =>
  parseDictionary({ consumptionKwhMax, formats: { nem12: { meterIdPattern: '^NEM\\d{7}$' } } });
const STRICT = dictionary(50);
const WIDE = dictionary(200);

/** One random for both deliveries, which draw their ids from it. */
const random = new CountingRandom();

function ingest(store: Store, chunks: AsyncIterable<Uint8Array>) {
  return ingestDelivery(chunks, {
    store,
    dictionary: STRICT,
    clock: new ManualClock(FEED_NOW_MS),
    random,
    format: 'nem12',
    name: 'NEM12#CUT#CNRGYMDP#NEMMCO.csv',
    sourceId: 'drop',
    detectors: [],
    batchReadingsMax: 20,
  });
}

/** The whole file, then the connection breaks before the delivery can end. */
async function* cutShort(): AsyncGenerator<Uint8Array> {
  yield FILE;
  throw new Error('connection reset');
}

async function* once(bytes: Buffer): AsyncGenerator<Uint8Array> {
  yield bytes;
}

function openStore(path: string) {
  return openSqliteStore(path, { nowMs: () => FEED_NOW_MS });
}

/**
 * A store whose delivery of FILE was cut short, marked interrupted by the process it failed in,
 * and a delivery of `again` under the same name, which links to it.
 */
async function redelivered(again: Buffer) {
  const store = openStore(`${tempDir('amisync-cut-short-')}/store.db`);
  await expect(ingest(store, cutShort())).rejects.toThrow(/connection reset/);
  const report = await ingest(store, once(again));
  const first = (await store.listDeliveries(10)).find((d) => d.id !== report.deliveryId);
  expect(first).toMatchObject({ status: 'interrupted', redeliveredBy: [report.deliveryId] });
  const [item] = await store.listQuarantine({ limit: 10, deliveryId: first!.id });
  expect(item?.location.recordIndex).toBe(6);
  return { store, item: item! };
}

const operator = (store: Store, dictionary: DataDictionary) => ({
  store,
  dictionary,
  clock: new ManualClock(FEED_NOW_MS + 60_000),
  actor: 'operator',
  detectors: [],
});

async function ledgerValues(store: Store): Promise<Map<number, number>> {
  const rows = await collect(store.iterateCurrentLedger());
  return new Map(rows.map((row) => [row.intervalStartMs, row.valueMicro]));
}

describe('replay of a typed record whose delivery was cut short', () => {
  it('keeps the record open with why, rather than replaying a sibling reading', async () => {
    const store = openStore(`${tempDir('amisync-cut-short-')}/store.db`);
    await expect(ingest(store, cutShort())).rejects.toThrow(/connection reset/);
    // Its read stopped in this live process, which marks it interrupted at once.
    const [first] = await store.listDeliveries(10);
    expect(first).toMatchObject({ status: 'interrupted', sizeBytes: null });
    const marks = (await collect(store.iterateAuditEntries())).filter(
      (entry) => entry.kind === 'delivery.interrupted',
    );
    expect(marks.map((entry) => JSON.parse(entry.payload).delivery)).toEqual([first!.id]);
    // Batches of 20: records 2 to 41 committed, interval 5 quarantined for its value.
    const [item, ...others] = await store.listQuarantine({ limit: 10 });
    expect(others).toEqual([]);
    expect(item?.location).toMatchObject({ recordIndex: 6, line: 3 });
    expect(item?.violations[0]?.field).toBe('value');
    const before = await ledgerValues(store);
    expect(before.size).toBe(39);
    expect(before.has(DAY_MS + 4 * HALF_HOUR_MS)).toBe(false);

    // Only line 3 is stored, and its readings wait for the lines after it. Read to the end of
    // what is stored, the file's missing end would be record 0 and the readings 1 to 48: record 6
    // would be interval 6, already in the ledger.
    const replay = await replayQuarantine(operator(store, WIDE), [item!.id]);
    expect(replay.outcomes[0]?.outcome).toBe('still-invalid');
    expect(replay.accepted + replay.duplicates).toBe(0);
    const kept = await store.getQuarantine(item!.id);
    expect(kept?.status).toBe('open');
    expect(kept?.currentViolations[0]?.message).toMatch(
      /did not reach its end .* the bytes that complete record 6 \(line 3\) are not stored/,
    );
    await expect(acceptQuarantined(operator(store, WIDE), item!.id, 'meter read')).rejects.toThrow(
      /cannot be accepted: Delivery .* did not reach its end/,
    );
    expect(await ledgerValues(store)).toEqual(before);
    await store.close();
  });

  it('reads it from the complete delivery of the same file, as interval 5', async () => {
    const { store, item } = await redelivered(FILE);
    const replay = await replayQuarantine(operator(store, WIDE), [item.id]);
    expect(replay.outcomes[0]?.outcome).toBe('accepted');
    const values = await ledgerValues(store);
    expect(values.get(DAY_MS + 4 * HALF_HOUR_MS)).toBe(99_000_000);
    expect(values.size).toBe(48);
    await store.close();
  });

  it('does not read it from a delivery of the same name whose bytes differ', async () => {
    // The vendor sent a corrected file: interval 1 changed, within what the first kept.
    const corrected = Buffer.from(FILE.toString('latin1').replace(',1.000,', ',1.500,'), 'latin1');
    expect(corrected.equals(FILE)).toBe(false);
    const { store, item } = await redelivered(corrected);
    const replay = await replayQuarantine(operator(store, WIDE), [item.id]);
    expect(replay.outcomes[0]?.outcome).toBe('still-invalid');
    expect(replay.outcomes[0]?.violations[0]?.message).toMatch(/did not reach its end/);
    await store.close();
  });
});
