// Goal: the reference detectors, run by default, hold the same readings whatever the order of
// time-ordered deliveries and however they are cut into batches; a stream's older readings that
// arrive after newer ones (backfill) meet only the stateless detectors and teach nothing.
// Method: real ingestion into SQLite files of one NDJSON file per meter and day, delivered in
// several orders and batch sizes; the held sets and the saved statistics are compared.
import { afterAll, describe, expect, it } from 'vitest';
import { formatUtcSeconds } from '../core/identity.js';
import { STREAM_PROFILE_PART_NUMBERS, StreamProfile } from '../core/stream-profile.js';
import { FEED_START_MS, openHarness, type Harness } from '../test-support/ingest-harness.js';
import { removeTempDirs } from '../test-support/temp.js';
import { toNdjsonText, type WireRecord } from '../test-support/wire-text.js';

afterAll(removeTempDirs);

const METERS = ['MTR-ORDER001', 'MTR-ORDER002', 'MTR-ORDER003'];
const DAYS = 10;
const DAY_SLOTS = 96;
const INTERVAL_MS = 900_000;

/** What each meter reads: quiet use with a few planted anomalies. */
function kwhOf(meter: number, slot: number): string {
  if (meter === 0 && slot === 9 * DAY_SLOTS + 30) return '40';
  if (meter === 2 && slot === 8 * DAY_SLOTS + 70) return '35';
  if (meter === 1 && slot >= 8 * DAY_SLOTS + 10 && slot < 8 * DAY_SLOTS + 40) return '0';
  return (0.2 + ((slot * (31 + meter * 4)) % 43) / 80).toFixed(3);
}

function statusOf(meter: number, slot: number): number {
  return meter === 2 && slot === 3 * DAY_SLOTS + 5 ? 8 : 0;
}

function dayFile(meter: number, day: number): string {
  const records: WireRecord[] = [];
  for (let slot = day * DAY_SLOTS; slot < (day + 1) * DAY_SLOTS; slot++) {
    records.push({
      meter_id: METERS[meter] as string,
      timestamp_utc: formatUtcSeconds(FEED_START_MS + slot * INTERVAL_MS),
      consumption_kwh: kwhOf(meter, slot),
      status_code: statusOf(meter, slot),
      seq: slot + 1,
    });
  }
  return toNdjsonText(records);
}

type Delivery = [meter: number, day: number];

async function heldAfter(deliveries: readonly Delivery[], batchReadingsMax?: number) {
  const harness = openHarness();
  harness.clock.setMs(FEED_START_MS + (DAYS + 1) * 86_400_000);
  for (const [meter, day] of deliveries) {
    await harness.ingest(dayFile(meter, day), {
      name: `${meter}-${day}`,
      ...(batchReadingsMax === undefined ? {} : { batchReadingsMax }),
    });
  }
  const rows = await harness.store.listAnomalies({ limit: 1000 });
  const held = rows.map((row) => {
    const detectors = row.findings.map((finding) => finding.detector).sort();
    return `${row.reading.meterId} ${formatUtcSeconds(row.reading.intervalStartMs)} ${detectors}`;
  });
  return { held: held.sort(), harness };
}

function byDay(): Delivery[] {
  const order: Delivery[] = [];
  for (let day = 0; day < DAYS; day++)
    for (let meter = 0; meter < 3; meter++) order.push([meter, day]);
  return order;
}

function byMeter(): Delivery[] {
  const order: Delivery[] = [];
  for (let meter = 2; meter >= 0; meter--)
    for (let day = 0; day < DAYS; day++) order.push([meter, day]);
  return order;
}

/** The meters' days interleaved by a fixed pseudo-random choice, each meter's days in order. */
function interleaved(seed: number): Delivery[] {
  const next = [0, 0, 0];
  const order: Delivery[] = [];
  let state = seed;
  while (order.length < 3 * DAYS) {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    const meter = state % 3;
    const day = next[meter] as number;
    if (day >= DAYS) continue;
    order.push([meter, day]);
    next[meter] = day + 1;
  }
  return order;
}

async function statisticsOf(harness: Harness, meterId: string): Promise<StreamProfile> {
  const [row] = await harness.store.transaction((tx) =>
    tx.loadStreamStatistics([{ meterId, channel: '1' }], STREAM_PROFILE_PART_NUMBERS),
  );
  return row === undefined ? StreamProfile.empty() : StreamProfile.fromStored(row);
}

describe('detection through ingestion', () => {
  it('holds the same readings for every order of time-ordered deliveries', async () => {
    const reference = await heldAfter(byDay());
    const bytes = (await statisticsOf(reference.harness, METERS[0] as string)).toBytes().slice();
    await reference.harness.close();
    // The planted anomalies, and nothing else: the comparison below is not between empty sets.
    const at = (slot: number) => formatUtcSeconds(FEED_START_MS + slot * INTERVAL_MS);
    expect(reference.held.filter((line) => line.includes('spike'))).toHaveLength(2);
    expect(reference.held).toContain(`MTR-ORDER003 ${at(3 * DAY_SLOTS + 5)} tamper`);
    expect(reference.held.some((line) => line.includes('zero_run'))).toBe(true);
    for (const [order, batch] of [
      [byMeter(), undefined],
      [interleaved(7), undefined],
      [interleaved(99), 37],
    ] as const) {
      const other = await heldAfter(order, batch);
      expect(other.held).toEqual(reference.held);
      const again = (await statisticsOf(other.harness, METERS[0] as string)).toBytes();
      expect(Buffer.from(again).equals(Buffer.from(bytes))).toBe(true);
      await other.harness.close();
    }
  });

  it('judges backfilled readings by the stateless detectors only, and learns none of them', async () => {
    // Meter 3's last day first, then its history: the history is older than what the profile
    // learnt, so its 35 kWh spike passes, while its tamper bit is still held.
    const order: Delivery[] = [
      [2, DAYS - 1],
      ...Array.from({ length: DAYS - 1 }, (_, day): Delivery => [2, day]),
    ];
    const { held, harness } = await heldAfter(order);
    expect(held).toEqual([
      `MTR-ORDER003 ${formatUtcSeconds(FEED_START_MS + (3 * DAY_SLOTS + 5) * INTERVAL_MS)} tamper`,
    ]);
    const profile = await statisticsOf(harness, METERS[2] as string);
    expect(profile.learned).toBe(DAY_SLOTS);
    await harness.close();
  });
});
