/**
 * A store a vendor SLA report can be checked on, built through the real pipeline with the clock
 * set to each delivery's arrival: two vendors, 15-minute meters in Europe/Berlin over three local
 * days, the last of them the 25-hour day when summer time ends (2026-10-25). Most hours arrive
 * half an hour after they end; a few intervals arrive late, one never does, one meter starts in
 * the middle of a day, and one meter of the second vendor delivered only in the lookback. The
 * figures the report should give are worked out by hand in sla.test.ts.
 */
import { join } from 'node:path';
import { CountingRandom, ManualClock } from '../core/clock.js';
import { formatUtcSeconds } from '../core/identity.js';
import type { ApiContext } from '../api/api-context.js';
import { addToken, type AddedToken } from '../cli/commands/tokens.js';
import { DEFAULT_DICTIONARY, parseDictionary } from '../dictionary/dictionary.js';
import { ingestDelivery } from '../pipeline/ingest.js';
import { localDaysBetween, type LocalDay } from '../report/sla-days.js';
import { slaSchema, type SourceSla } from '../report/sla-config.js';
import { openSqliteStore, type SqliteStore } from '../store/sqlite/sqlite-store.js';
import { chunksOf } from './ingest-harness.js';
import { tempDir } from './temp.js';
import { toNdjsonText, type WireRecord } from './wire-text.js';
import { Temporal } from 'temporal-polyfill';

export const SLA_ZONE = 'Europe/Berlin';
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const INTERVAL_MS = 900_000;

export const VENDOR_A = 'vendor-a';
export const VENDOR_B = 'vendor-b';
/** On time everywhere but two late intervals and one missing on the 25-hour day. */
export const METER_A = 'MTR-AAAA0001';
/** On time everywhere but one interval of 2026-10-24 that arrives two days late. */
export const METER_B = 'MTR-BBBB0002';
/** First interval at 12:00 local on 2026-10-25: expected from then on only. */
export const METER_C = 'MTR-CCCC0003';
/** Vendor B's only meter: one reading on 2026-10-01, then silence. */
export const METER_D = 'MTR-DDDD0004';

/** 2026-10-23, 2026-10-24 (24 hours each) and 2026-10-25 (25 hours). */
export const SLA_DAYS: readonly LocalDay[] = localDaysBetween(
  Temporal.PlainDate.from('2026-10-23'),
  Temporal.PlainDate.from('2026-10-25'),
  SLA_ZONE,
);

function day(index: number): LocalDay {
  const found = SLA_DAYS[index];
  if (found === undefined) throw new Error(`no fixture day ${index}`);
  return found;
}

/** Five days after the last day ends: every target's window has closed. */
export const SLA_NOW_MS = day(2).toMs + 5 * DAY_MS;

const A_MISSING_MS = day(2).fromMs + 10 * HOUR_MS;
const A_LATE_MS = [day(2).fromMs + 3 * HOUR_MS, day(2).fromMs + 3 * HOUR_MS + INTERVAL_MS];
const A_LATE_ARRIVAL_MS = day(2).toMs + 12 * HOUR_MS;
const B_LATE_MS = day(1).fromMs + 7 * HOUR_MS;
const B_LATE_ARRIVAL_MS = day(1).toMs + 2 * DAY_MS;
const C_FIRST_MS = day(2).fromMs + 13 * HOUR_MS; // 12:00 CET: the day started at 00:00 CEST
const D_ONLY_MS = Date.UTC(2026, 9, 1, 6);

export function fixtureSlas(): SourceSla[] {
  const targets = slaSchema.parse({
    targets: [
      { within: '3d', share: '99.9%' },
      { within: '4h', share: '99.5%' },
    ],
  }).targets;
  return [
    { sourceId: VENDOR_A, targets },
    { sourceId: VENDOR_B, targets },
  ];
}

function record(meter: string, startMs: number): WireRecord {
  return {
    meter_id: meter,
    timestamp_utc: formatUtcSeconds(startMs),
    consumption_kwh: '0.25',
    status_code: 0,
    seq: Math.round(startMs / INTERVAL_MS),
  };
}

interface Arrival {
  atMs: number;
  sourceId: string;
  records: WireRecord[];
}

/** The hour's records of vendor A's meters that arrive on time. */
function onTime(hourMs: number): WireRecord[] {
  const records: WireRecord[] = [];
  for (let startMs = hourMs; startMs < hourMs + HOUR_MS; startMs += INTERVAL_MS) {
    for (const meter of [METER_A, METER_B]) {
      const late =
        (meter === METER_A && (A_LATE_MS.includes(startMs) || startMs === A_MISSING_MS)) ||
        (meter === METER_B && startMs === B_LATE_MS);
      if (!late) records.push(record(meter, startMs));
    }
    if (startMs >= C_FIRST_MS) records.push(record(METER_C, startMs));
  }
  return records;
}

function arrivals(): Arrival[] {
  const list: Arrival[] = [
    { atMs: D_ONLY_MS + HOUR_MS, sourceId: VENDOR_B, records: [record(METER_D, D_ONLY_MS)] },
  ];
  for (let hourMs = day(0).fromMs; hourMs < day(2).toMs; hourMs += HOUR_MS) {
    list.push({
      atMs: hourMs + HOUR_MS + HOUR_MS / 2,
      sourceId: VENDOR_A,
      records: onTime(hourMs),
    });
  }
  list.push({
    atMs: B_LATE_ARRIVAL_MS,
    sourceId: VENDOR_A,
    records: [record(METER_B, B_LATE_MS)],
  });
  list.push({
    atMs: A_LATE_ARRIVAL_MS,
    sourceId: VENDOR_A,
    records: A_LATE_MS.map((startMs) => record(METER_A, startMs)),
  });
  return list.sort((a, b) => a.atMs - b.atMs);
}

export interface SlaFixture {
  readonly store: SqliteStore;
  readonly clock: ManualClock;
  readonly path: string;
  close(): Promise<void>;
}

/** Ingests every arrival at its time; leaves the clock at SLA_NOW_MS. */
export async function buildSlaFixture(): Promise<SlaFixture> {
  const path = join(tempDir('amisync-sla-'), 'store.db');
  const clock = new ManualClock(0);
  const random = new CountingRandom();
  const store = openSqliteStore(path, { nowMs: () => clock.nowMs() });
  let index = 0;
  for (const arrival of arrivals()) {
    clock.advanceMs(arrival.atMs - clock.nowMs());
    const report = await ingestDelivery(
      chunksOf(Buffer.from(toNdjsonText(arrival.records)), 1 << 20),
      {
        store,
        dictionary: DEFAULT_DICTIONARY,
        clock,
        random,
        format: 'ndjson',
        name: `sla-${index++}`,
        sourceId: arrival.sourceId,
        detectors: [],
      },
    );
    if (report.counts.accepted !== arrival.records.length) {
      throw new Error(`fixture delivery ${index} accepted ${report.counts.accepted}`);
    }
  }
  clock.advanceMs(SLA_NOW_MS - clock.nowMs());
  return { store, clock, path, close: () => store.close() };
}

/** The API's context over the fixture (Berlin time, both vendors' SLAs) and a viewer's token. */
export async function slaApiContext(
  fixture: SlaFixture,
): Promise<{ context: ApiContext; viewer: AddedToken }> {
  const viewer = await addToken({ db: fixture.path, role: 'viewer', name: 'viewer-one' });
  const context: ApiContext = {
    store: fixture.store,
    clock: fixture.clock,
    random: new CountingRandom(),
    dictionary: parseDictionary({ timeZone: SLA_ZONE }),
    publicKey: null,
    open: false,
    slas: fixtureSlas(),
    lastVerify: null,
  };
  return { context, viewer };
}
