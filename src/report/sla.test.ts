// Goal: the vendor SLA report counts expected and timely intervals per vendor and local day exactly
// (a 25-hour DST day, a meter starting mid-day, a meter known only from the lookback, late and
// missing intervals), names the meters behind each breach, and alerts each breach exactly once.
// Method: ingest a hand-built feed through the real pipeline on a SQLite file with the clock at
// each arrival, collect the report, and compare every figure with values worked out by hand.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Temporal } from 'temporal-polyfill';
import { alertList } from '../test-support/alert-list.js';
import { join } from 'node:path';
import { CountingRandom, ManualClock } from '../core/clock.js';
import { formatUtcSeconds } from '../core/identity.js';
import { ingestDelivery } from '../pipeline/ingest.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import { permissiveDictionary } from '../test-support/discrepancy-fixture.js';
import { chunksOf } from '../test-support/ingest-harness.js';
import { removeTempDirs, tempDir } from '../test-support/temp.js';
import { toNdjsonText } from '../test-support/wire-text.js';
import {
  buildSlaFixture,
  fixtureSlas,
  METER_A,
  METER_B,
  METER_D,
  SLA_DAYS,
  SLA_NOW_MS,
  SLA_ZONE,
  VENDOR_A,
  VENDOR_B,
  type SlaFixture,
} from '../test-support/sla-fixture.js';
import { slaSchema } from './sla-config.js';
import { localDaysBetween, monthWindow, recentWindow } from './sla-days.js';
import { alertSlaBreaches } from './sla-alerts.js';
import { slaCsv } from './sla-csv.js';
import { watchSla } from './sla-watch.js';
import { MemoryLogger } from '../core/log.js';
import { slaHtml } from './sla-html.js';
import {
  collectSlaReport,
  expectedIntervals,
  formatMilliPercent,
  type SlaReport,
  type SourceSlaReport,
} from './sla.js';

afterAll(removeTempDirs);

let fixture: SlaFixture | undefined;

afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

const WINDOW = { label: '2026-10-23..2026-10-25', timeZone: SLA_ZONE, days: SLA_DAYS };

async function report(nowMs = SLA_NOW_MS): Promise<SlaReport> {
  fixture ??= await buildSlaFixture();
  fixture.clock.advanceMs(nowMs - fixture.clock.nowMs());
  return collectSlaReport(fixture.store, fixture.clock, { window: WINDOW, slas: fixtureSlas() });
}

function source(result: SlaReport, id: string): SourceSlaReport {
  const found = result.sources.find((s) => s.sourceId === id);
  if (found === undefined) throw new Error(`no ${id}`);
  return found;
}

/** [day, expected, received, [within, share, verdict] per target (4h, then 3d)]. */
function dayFigures(s: SourceSlaReport) {
  return s.days.map((day) => [
    day.day,
    day.expected,
    day.received,
    day.results.map((r) => [
      r.within,
      r.receivedWithin,
      formatMilliPercent(r.actualMilliPercent),
      r.verdict,
    ]),
  ]);
}

describe('local days', () => {
  it('October 2026 in Berlin has 31 days, the 25th 25 hours long and the 1st from 22:00Z', () => {
    const days = monthWindow('2026-10', SLA_ZONE).days;
    expect(days).toHaveLength(31);
    expect(days[0]).toEqual({
      day: '2026-10-01',
      fromMs: Date.UTC(2026, 8, 30, 22),
      toMs: Date.UTC(2026, 9, 1, 22),
    });
    const hours = days.map((d) => (d.toMs - d.fromMs) / 3_600_000);
    expect(hours.filter((h) => h !== 24)).toEqual([25]);
    expect(days[24]?.day).toBe('2026-10-25');
    expect(hours[24]).toBe(25);
    expect(
      monthWindow('2026-03', SLA_ZONE).days.map((d) => (d.toMs - d.fromMs) / 3_600_000)[28],
    ).toBe(23);
  });

  it('a quarter-hour stream expects 92 intervals on a 23-hour day and a daily one expects 1', () => {
    const [spring] = localDaysBetween(
      Temporal.PlainDate.from('2026-03-29'),
      Temporal.PlainDate.from('2026-03-29'),
      SLA_ZONE,
    );
    if (spring === undefined) throw new Error('no day');
    const later = spring.toMs + 86_400_000;
    expect(expectedIntervals({ firstStartMs: 0, intervalMs: 900_000 }, spring, later)).toBe(92);
    expect(expectedIntervals({ firstStartMs: 0, intervalMs: 86_400_000 }, spring, later)).toBe(1);
    // Before the report's time only: six hours into the day, 24 quarter hours have ended.
    const sixHours = spring.fromMs + 6 * 3_600_000;
    expect(expectedIntervals({ firstStartMs: 0, intervalMs: 900_000 }, spring, sixHours)).toBe(24);
  });

  it('the service looks back over the longest window and one day more', () => {
    const window = recentWindow(Date.UTC(2026, 9, 28, 9), SLA_ZONE, 3 * 86_400_000);
    expect(window.days.map((d) => d.day)).toEqual([
      '2026-10-23',
      '2026-10-24',
      '2026-10-25',
      '2026-10-26',
      '2026-10-27',
    ]);
  });
});

describe('the SLA configuration', () => {
  it('keeps durations and shares exact, shortest window first', () => {
    const parsed = slaSchema.parse({
      targets: [
        { within: '3d', share: '99.9%' },
        { within: '4h', share: '99.5%' },
        { within: '90m', share: '100%' },
      ],
    });
    expect(parsed.targets.map((t) => [t.within, t.withinMs, t.share, t.shareMilliPercent])).toEqual(
      [
        ['90m', 5_400_000, '100%', 100_000],
        ['4h', 14_400_000, '99.5%', 99_500],
        ['3d', 259_200_000, '99.9%', 99_900],
      ],
    );
  });

  it('names the field, the rule and the value of each mistake', () => {
    const result = slaSchema.safeParse({
      targets: [
        { within: '4 hours', share: '99.5%' },
        { within: '4h', share: 99.5 },
        { within: '4h', share: '101%' },
        { within: '93d', share: '0%' },
      ],
    });
    expect(result.success).toBe(false);
    const issues = result.error?.issues.map((i) => [i.path.join('.'), i.message]) ?? [];
    expect(issues).toEqual([
      ['targets.0.within', 'a whole number of minutes, hours or days: 90m, 4h, 3d'],
      ['targets.1.share', 'a share such as 99.5%'],
      ['targets.2.share', 'a percentage with up to 3 decimals and a % sign: 99.5%'],
      ['targets.3.within', 'at most 92d'],
      ['targets.3.share', 'more than 0% and at most 100%'],
    ]);
    const twice = slaSchema.safeParse({
      targets: [
        { within: '4h', share: '99%' },
        { within: '4h', share: '98%' },
      ],
    });
    expect(twice.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([
      ['targets.1.within', 'a second target within 4h: one share per window'],
    ]);
  });
});

describe('the vendor SLA report', () => {
  it('counts each day by hand: on time, late, missing, a meter from midday, the 25-hour day', async () => {
    const result = await report();
    const a = source(result, VENDOR_A);
    expect([a.streams, a.meters]).toEqual([3, 3]);
    expect(dayFigures(a)).toEqual([
      // A and B: 96 quarter hours each, all half an hour after their hour.
      [
        '2026-10-23',
        192,
        192,
        [
          ['4h', 192, '100.000%', 'pass'],
          ['3d', 192, '100.000%', 'pass'],
        ],
      ],
      // B's 07:00 interval arrives 2 days after the day: late for 4h, within 3d. 191/192.
      [
        '2026-10-24',
        192,
        192,
        [
          ['4h', 191, '99.479%', 'breach'],
          ['3d', 192, '100.000%', 'pass'],
        ],
      ],
      // 25 hours: A 100 (1 missing, 2 late by 33 h), B 100, C from 12:00 CET: 48.
      // 245 and 247 of 248.
      [
        '2026-10-25',
        248,
        247,
        [
          ['4h', 245, '98.790%', 'breach'],
          ['3d', 247, '99.596%', 'breach'],
        ],
      ],
    ]);
    expect(
      a.breaches.map((b) => [
        b.day,
        b.within,
        b.expected,
        b.receivedWithin,
        b.meters,
        b.metersTotal,
      ]),
    ).toEqual([
      ['2026-10-24', '4h', 192, 191, [{ meterId: METER_B, expected: 96, missing: 0, late: 1 }], 1],
      ['2026-10-25', '4h', 248, 245, [{ meterId: METER_A, expected: 100, missing: 1, late: 2 }], 1],
      ['2026-10-25', '3d', 248, 247, [{ meterId: METER_A, expected: 100, missing: 1, late: 0 }], 1],
    ]);
  });

  it('expects a meter known only from the 35 days before, and keeps vendors apart', async () => {
    const b = source(await report(), VENDOR_B);
    expect([b.streams, b.meters]).toEqual([1, 1]);
    expect(b.days.map((d) => [d.day, d.expected, d.received])).toEqual([
      ['2026-10-23', 96, 0],
      ['2026-10-24', 96, 0],
      ['2026-10-25', 100, 0],
    ]);
    expect(b.breaches).toHaveLength(6);
    expect(b.breaches.map((x) => x.meters[0])).toEqual(
      [96, 96, 96, 96, 100, 100].map((n) => ({
        meterId: METER_D,
        expected: n,
        missing: n,
        late: 0,
      })),
    );
  });

  it('leaves a target pending until its window has closed', async () => {
    // A day after the 25th ends: the 3d windows of the 24th and 25th are still open.
    const a = source(await report(SLA_DAYS[2]!.toMs + 86_400_000), VENDOR_A);
    expect(a.days.map((d) => d.results.map((r) => `${r.within} ${r.verdict}`))).toEqual([
      ['4h pass', '3d pass'],
      ['4h breach', '3d pending'],
      ['4h breach', '3d pending'],
    ]);
    expect(a.breaches.map((b) => `${b.day} ${b.within}`)).toEqual([
      '2026-10-24 4h',
      '2026-10-25 4h',
    ]);
  });

  it('raises each breach once, however often it is evaluated', async () => {
    const result = await report();
    const alerts = alertList(() => SLA_NOW_MS);
    const { raised } = alerts;
    const first = await alertSlaBreaches(fixture!.store, alerts, result);
    expect(first).toHaveLength(9);
    expect(raised).toHaveLength(9);
    expect(raised[0]).toMatchObject({
      rule: 'sla.breach',
      source: VENDOR_A,
      severity: 'warning',
      figures: {
        day: '2026-10-24',
        within: '4h',
        share: '99.5%',
        expected: 192,
        receivedWithin: 191,
        actual: '99.479%',
        worstMeter: METER_B,
      },
    });
    expect(await alertSlaBreaches(fixture!.store, alerts, await report())).toEqual([]);
    expect(raised).toHaveLength(9);
    const recorded = await fixture!.store.listSlaAlerts([VENDOR_A]);
    expect(recorded.map((r) => [r.day, r.withinMs, r.receivedWithin])).toEqual([
      ['2026-10-24', 14_400_000, 191],
      ['2026-10-25', 14_400_000, 245],
      ['2026-10-25', 259_200_000, 247],
    ]);
  });

  it('writes the figures as CSV rows and as a page with no script', async () => {
    const result = await report();
    const csv = slaCsv(result);
    const lines = csv.split('\r\n');
    expect(lines[0]).toBe(
      'section,source,day,target,expected,received,received_within,share_percent,verdict,' +
        'meter,missing,late,detail',
    );
    expect(lines).toContain(
      'day,vendor-a,2026-10-25,99.5% within 4h,248,247,245,98.790,breach,,1,2,' +
        '2026-10-25T00:00:00+02:00 to 2026-10-26T00:00:00+01:00',
    );
    expect(lines).toContain(
      'breach meter,vendor-a,2026-10-25,99.5% within 4h,100,99,97,,breach,MTR-AAAA0001,1,2,',
    );
    const html = slaHtml(result);
    expect(html).not.toContain('<script');
    expect(html).toContain('<td class="breach">breach</td>');
    expect(html).toContain('MTR-AAAA0001: 1 missing, 2 late of 100');
  });
});

describe('the SLA CSV against formula injection', () => {
  const HOSTILE = ['=HYPERLINK("http://x.test/","pay")', '@SUM(A1)', '-2+3', '+cmd x'];
  const SOURCE = '=vendor';

  it('writes hostile meter and source ids as text and leaves every number a number', async () => {
    const dayStartMs = Date.UTC(2026, 9, 5);
    // Every meter's first interval and nothing more, delivered a day late: a breach on the 5th.
    const clock = new ManualClock(dayStartMs + 86_400_000 + 3_600_000);
    const store = openSqliteStore(join(tempDir('amisync-sla-csv-'), 'store.db'), {
      nowMs: () => clock.nowMs(),
    });
    try {
      const records = HOSTILE.map((meter, index) => ({
        meter_id: meter,
        timestamp_utc: formatUtcSeconds(dayStartMs),
        consumption_kwh: '0.25',
        status_code: 0,
        seq: index + 1,
      }));
      await ingestDelivery(chunksOf(Buffer.from(toNdjsonText(records)), 1 << 20), {
        store,
        dictionary: permissiveDictionary(),
        clock,
        random: new CountingRandom(),
        format: 'ndjson',
        name: 'hostile',
        sourceId: SOURCE,
        detectors: [],
      });
      clock.advanceMs(10 * 86_400_000);
      const targets = slaSchema.parse({ targets: [{ within: '4h', share: '99.5%' }] }).targets;
      const result = await collectSlaReport(store, clock, {
        window: {
          label: '2026-10-05',
          timeZone: 'UTC',
          days: localDaysBetween(
            Temporal.PlainDate.from('2026-10-05'),
            Temporal.PlainDate.from('2026-10-05'),
            'UTC',
          ),
        },
        slas: [{ sourceId: SOURCE, targets }],
      });
      const lines = slaCsv(result).split('\r\n');
      // 4 meters x 96 quarter hours expected, 4 received, none within 4h.
      expect(lines[2]).toBe(
        "day,'=vendor,2026-10-05,99.5% within 4h,384,4,0,0.000,breach,,380,4," +
          '2026-10-05T00:00:00+00:00 to 2026-10-06T00:00:00+00:00',
      );
      const meterRows = lines.filter((line) => line.startsWith('breach meter,'));
      expect(meterRows).toEqual([
        `breach meter,'=vendor,2026-10-05,99.5% within 4h,96,1,0,,breach,'+cmd x,95,1,`,
        `breach meter,'=vendor,2026-10-05,99.5% within 4h,96,1,0,,breach,'-2+3,95,1,`,
        `breach meter,'=vendor,2026-10-05,99.5% within 4h,96,1,0,,breach,` +
          `"'=HYPERLINK(""http://x.test/"",""pay"")",95,1,`,
        `breach meter,'=vendor,2026-10-05,99.5% within 4h,96,1,0,,breach,'@SUM(A1),95,1,`,
      ]);
      const html = slaHtml(result);
      expect(html).not.toContain('<script');
      expect(html).toContain('=HYPERLINK(&quot;http://x.test/&quot;,&quot;pay&quot;)');
    } finally {
      await store.close();
    }
  });
});

describe("the service's daily evaluation", () => {
  it('judges the recent days at start and on each new local day, each breach once', async () => {
    fixture = await buildSlaFixture();
    // 2026-10-31 00:00 in Berlin: yesterday is the 30th; the days judged run from the 26th.
    const alerts = alertList(() => fixture!.clock.nowMs());
    const { raised } = alerts;
    const stop = new AbortController();
    const log = new MemoryLogger();
    const watching = watchSla({
      store: fixture.store,
      clock: fixture.clock,
      alerts,
      slas: fixtureSlas(),
      timeZone: SLA_ZONE,
      log,
      signal: stop.signal,
    });
    const seen = () =>
      raised.map((a) => `${a.source} ${String(a.figures.day)} ${String(a.figures.within)}`);
    // Nothing arrived after the 25th. A target is judged once its window has closed: the 4h
    // ones of the 26th to the 29th (the 30th's closes at 04:00), the 3d ones of the 26th and the
    // 27th (the 27th's closes at this very moment).
    const firstDay = (vendor: string) => [
      ...['26', '27', '28', '29'].map((d) => `${vendor} 2026-10-${d} 4h`),
      `${vendor} 2026-10-26 3d`,
      `${vendor} 2026-10-27 3d`,
    ];
    await expect.poll(seen).toHaveLength(12);
    expect(seen().sort()).toEqual([...firstDay(VENDOR_A), ...firstDay(VENDOR_B)].sort());
    // An hour later the local day is the same: nothing is evaluated again.
    await fixture.clock.advance(3_600_000);
    expect(log.events.filter((e) => e.message.startsWith('vendor SLAs evaluated'))).toHaveLength(1);
    // The next local day: the 30th's 4h target and the 28th's 3d target, nothing twice.
    await fixture.clock.advance(23 * 3_600_000);
    await expect.poll(seen).toHaveLength(16);
    expect(seen().slice(12).sort()).toEqual(
      [
        `${VENDOR_A} 2026-10-28 3d`,
        `${VENDOR_A} 2026-10-30 4h`,
        `${VENDOR_B} 2026-10-28 3d`,
        `${VENDOR_B} 2026-10-30 4h`,
      ].sort(),
    );
    stop.abort();
    await watching;
  });
});
