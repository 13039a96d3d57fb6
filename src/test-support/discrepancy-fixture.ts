/**
 * A store a discrepancy report can be checked on, built through the real pipeline: readings
 * ingested and held by the stand-in detectors at two moments, some released or rejected through
 * the review workflow, and estimates of which an actual later replaced one. Every figure the
 * report should give is stated here in advance (DISCREPANCY_EXPECTED), so a test compares exactly.
 */
import { parseDictionary, type DataDictionary } from '../dictionary/dictionary.js';
import { rejectAnomaly, releaseAnomaly } from '../pipeline/anomalies.js';
import {
  HELD_METER,
  heldFeed,
  heldRecord,
  OTHER_HELD_METER,
  TEST_DETECTORS,
} from './held-readings.js';
import { FEED_NOW_MS, openHarness, type Harness } from './ingest-harness.js';
import { toNdjsonText, type WireRecord } from './wire-text.js';

const DAY_MS = 86_400_000;

/** A third meter: its readings arrive twenty days after the first delivery. */
export const LATE_METER = 'MTR-CCCC0003';
/** A meter whose readings arrive estimated; an actual later replaces one of them. */
export const ESTIMATED_METER = 'MTR-DDDD0004';
/** The first delivery is held at FEED_NOW_MS, the second this much later. */
export const SECOND_DELIVERY_AFTER_MS = 20 * DAY_MS;
/** The report's clock: forty days after the first delivery. */
export const REPORT_NOW_MS = FEED_NOW_MS + 40 * DAY_MS;

/**
 * The second delivery: LATE_METER with a 12.5 kWh spike at slot 10 and a 30 kWh spike at slot -2
 * (2026-02-28T23:30Z: February in UTC, March in Europe/Berlin), and ESTIMATED_METER's four
 * estimated readings of 1.25 kWh.
 */
function secondFeed(meter: string = LATE_METER): WireRecord[] {
  const estimated = [0, 1, 2, 3].map((slot) => ({
    ...heldRecord(slot, slot + 1, '1.25', ESTIMATED_METER),
    quality: 'estimated',
  }));
  return [
    heldRecord(-3, 1, '0.5', meter),
    heldRecord(-2, 2, '30', meter),
    heldRecord(9, 3, '0.5', meter),
    heldRecord(10, 4, '12.5', meter),
    ...estimated,
  ];
}

/** The actual that replaces ESTIMATED_METER's estimate at slot 0 (1 kWh instead of 1.25). */
function actualFeed(): WireRecord[] {
  return [{ ...heldRecord(0, 5, '1', ESTIMATED_METER), quality: 'actual' }];
}

export interface FixtureOptions {
  /** Meter ids for the three held meters instead of the reference ones (hostile ids). */
  meters?: { held: string; other: string; late: string };
  dictionary?: DataDictionary;
  /** The notes and actor the decisions are made with. */
  releaseNote?: string;
  rejectNote?: string;
  actor?: string;
}

/** A dictionary that accepts any printable meter id: for formula-injection tests only. */
export function permissiveDictionary(): DataDictionary {
  return parseDictionary({ meterIdPattern: '^[^|\\u0000-\\u001f]{1,64}$' });
}

function renamed(records: WireRecord[], meters: FixtureOptions['meters']): WireRecord[] {
  if (meters === undefined) return records;
  const map: Record<string, string> = {
    [HELD_METER]: meters.held,
    [OTHER_HELD_METER]: meters.other,
  };
  return records.map((record) => {
    const meter = String(record['meter_id']);
    return { ...record, meter_id: map[meter] ?? meter };
  });
}

/**
 * Builds the fixture on a fresh harness (left open for the caller to close): the first delivery
 * at FEED_NOW_MS holds HELD_METER's 40 kWh spike and 0 kWh reading and OTHER_HELD_METER's 25 kWh
 * spike; the second, twenty days later, holds LATE_METER's 30 and 12.5 kWh spikes. Then
 * OTHER_HELD_METER's spike is released and LATE_METER's 12.5 kWh spike rejected, and the clock
 * moves to REPORT_NOW_MS.
 */
export async function buildDiscrepancyFixture(options: FixtureOptions = {}): Promise<Harness> {
  const harness = openHarness();
  const call = {
    detectors: TEST_DETECTORS,
    ...(options.dictionary === undefined ? {} : { dictionary: options.dictionary }),
  };
  await harness.ingest(toNdjsonText(renamed(heldFeed(), options.meters)), {
    ...call,
    name: 'first',
  });
  harness.clock.setMs(FEED_NOW_MS + SECOND_DELIVERY_AFTER_MS);
  await harness.ingest(toNdjsonText(secondFeed(options.meters?.late)), { ...call, name: 'second' });
  await harness.ingest(toNdjsonText(actualFeed()), { ...call, name: 'actual' });
  const context = {
    store: harness.store,
    clock: harness.clock,
    actor: options.actor ?? 'engineer@utility',
  };
  const holds = await harness.store.listAnomalies({ limit: 100 });
  const other = options.meters?.other ?? OTHER_HELD_METER;
  const late = options.meters?.late ?? LATE_METER;
  const toRelease = holds.find((row) => row.reading.meterId === other);
  const toReject = holds.find(
    (row) => row.reading.meterId === late && row.reading.valueMicro === 12_500_000,
  );
  if (toRelease === undefined || toReject === undefined) throw new Error('fixture holds missing');
  await releaseAnomaly(
    context,
    toRelease.id,
    options.releaseNote ?? 'field verified: meter healthy',
  );
  await rejectAnomaly(context, toReject.id, options.rejectNote ?? 'meter replaced 2026-03-05');
  harness.clock.setMs(REPORT_NOW_MS);
  return harness;
}
