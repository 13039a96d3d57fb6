// Goal: every IntervalReading becomes exactly one candidate or one reject, with the oracle's
// values, exact bytes and byte order. Method: the public feeds and their oracle files, hand-written
// feeds for each mapping rule and bound, chunk-split properties and hostile inputs.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { itemLocation, type ParseItem } from '../../core/parser.js';
import type { CandidateReading } from '../../core/reading.js';
import type { Reject } from '../../core/reject.js';
import { shiftDecimalPoint } from '../nem12/nem12-values.js';
import { createGreenButtonParser, type GreenButtonLimits } from './green-button-parser.js';
import {
  GREEN_BUTTON_INPUT_NAMES,
  atomEntry,
  atomFeed,
  formatG,
  formatTimedelta,
  greenButtonExpected,
  greenButtonInput,
  intervalBlockContent,
  meterReadingContent,
  oracleUtcText,
  readingTypeContent,
  simpleFeed,
  usagePointContent,
  type ReadingSpec,
} from './green-button-fixtures.js';
import { candidatesOf, pushSplit } from '../../test-support/split.js';

const encoder = new TextEncoder();

function parse(
  input: string | Uint8Array,
  cuts: readonly number[] = [],
  limits: Partial<GreenButtonLimits> = {},
): ParseItem[] {
  const bytes = typeof input === 'string' ? encoder.encode(input) : input;
  return pushSplit(createGreenButtonParser(limits), bytes, cuts);
}

const candidates = candidatesOf;

function rejects(items: readonly ParseItem[]): Reject[] {
  return items.flatMap((item) => (item.kind === 'reject' ? [item.reject] : []));
}

/** `parse.format` field codes of each reject, in order. */
function rejectFields(items: readonly ParseItem[]): string[][] {
  return rejects(items).map((reject) => reject.violations.map((v) => `${v.code} ${v.field}`));
}

function oneCandidate(readings: ReadingSpec[], options = {}): CandidateReading {
  const items = parse(simpleFeed({ readings, ...options }));
  expect(rejectFields(items)).toEqual([]);
  const [candidate] = candidates(items);
  if (candidate === undefined) throw new Error('no candidate');
  return candidate;
}

function onlyFields(feed: string): string[][] {
  const items = parse(feed);
  expect(candidates(items)).toEqual([]);
  return rejectFields(items);
}

const ORACLE_UNITS: Record<string, readonly [string, number]> = {
  kWh: ['Wh', 3],
  therm: ['therm', 0],
};

describe('the public feeds against the greenbutton_objects oracle', () => {
  it.each(GREEN_BUTTON_INPUT_NAMES.filter((name) => name !== 'gas_containerized.xml'))(
    '%s gives exactly the expected intervals, in its commodity',
    (name) => {
      const items = parse(greenButtonInput(name), [65_536, 131_072]);
      expect(rejects(items)).toEqual([]);
      const expected = greenButtonExpected(name);
      expect(expected.length).toBeGreaterThan(0);
      const got = candidates(items).map((candidate) => {
        const [unit, shift] = ORACLE_UNITS[candidate.unit] ?? [candidate.unit, 0];
        const value = shiftDecimalPoint(candidate.value, shift) ?? 'not a decimal';
        return {
          startUtc: oracleUtcText(candidate.intervalStartMs),
          duration: formatTimedelta(candidate.intervalSeconds),
          value: formatG(Number(value)),
          unit,
        };
      });
      const want = expected.map(({ startUtc, duration, value, unit }) => ({
        startUtc,
        duration,
        value,
        unit,
      }));
      expect(got).toEqual(want);
      const gas = name.includes('gas');
      const kinds = new Set(candidates(items).map((c) => `${c.commodity} ${c.unit}`));
      expect(kinds).toEqual(new Set([gas ? 'gas therm' : 'electricity kWh']));
    },
  );

  it('quarantines gas_containerized, whose ReadingType is empty: the oracle assumed therm', () => {
    // The oracle prints therm x 10^-3 for this file by its own default; no unit is guessed here,
    // and its starts have fractions of a second. One reject per expected interval, none dropped.
    const items = parse(greenButtonInput('gas_containerized.xml'));
    expect(candidates(items)).toEqual([]);
    expect(rejectFields(items)).toEqual(
      greenButtonExpected('gas_containerized.xml').map(() => [
        'parse.format green-button.no_unit',
        'parse.format green-button.start_fractional',
      ]),
    );
  });

  it('takes ids from the hrefs, seq from the entry date, and locates each reading exactly', () => {
    const bytes = greenButtonInput('electric_containerized.xml');
    const found = candidates(parse(bytes));
    expect(found[0]).toMatchObject({
      meterId: 'RetailCustomer/3/UsagePoint/1',
      channel: '01',
      unit: 'kWh',
      value: '0.45',
      quality: 'actual',
      qualityDetail: null,
      seq: 20110101200000,
    });
    expect(found[4]?.seq).toBe(20110102080000);
    for (const candidate of found) {
      const { byteOffset, byteLength } = candidate.location;
      const text = bytes.toString('utf8', byteOffset, byteOffset + byteLength);
      expect(text).toMatch(/^<IntervalReading>[^]*<\/IntervalReading>$/);
      const raw = shiftDecimalPoint(candidate.value, 3);
      expect(text).toContain(`<value>${raw}</value>`);
    }
    expect(found.map((c) => c.location.recordIndex)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });
});

const MULTI_BYTE_FEED =
  '\ufeff' +
  simpleFeed({
    readings: [
      { start: '1700000000', duration: '900', value: '1234' },
      { start: '1700000900', duration: '900', value: '-5' },
    ],
  })
    .replace('<feed ', '<!-- Café ☃ 𝄞 -->\r\n<feed ')
    .replace('<IntervalBlock ', '<title>Zürich 𝄞</title><IntervalBlock ');

describe('locations', () => {
  it('are the exact bytes of each IntervalReading, after a BOM and multi-byte text', () => {
    const bytes = encoder.encode(MULTI_BYTE_FEED);
    const items = parse(bytes);
    const found = candidates(items);
    expect(found.map((c) => c.value)).toEqual(['1.234', '-0.005']);
    for (const [index, candidate] of found.entries()) {
      const { byteOffset, byteLength } = candidate.location;
      const text = new TextDecoder().decode(bytes.subarray(byteOffset, byteOffset + byteLength));
      expect(text.startsWith('<IntervalReading>')).toBe(true);
      expect(text.endsWith('</IntervalReading>')).toBe(true);
      expect(text).toContain(['<value>1234</value>', '<value>-5</value>'][index]);
    }
  });

  it('and everything else are the same whatever the chunking', () => {
    const samples = [
      encoder.encode(MULTI_BYTE_FEED),
      greenButtonInput('electric_containerized.xml'),
      greenButtonInput('gas_containerized.xml'),
      encoder.encode(RESOURCES_LAST_FEED),
    ];
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: samples.length - 1 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 30 }),
        (index, fractions) => {
          const bytes = samples[index] ?? new Uint8Array();
          const cuts = fractions.map((fraction) => Math.floor(fraction * bytes.length));
          expect(parse(bytes, cuts)).toEqual(parse(bytes));
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('an invalid UTF-8 byte', () => {
  // A lone continuation byte after the second block's first reading, inside its entry.
  const feed = greenButtonInput('electric_containerized.xml');
  const bad = feed.indexOf('</IntervalReading>', feed.indexOf('<value>595</value>')) + 18;
  const bytes = Uint8Array.from(feed);
  bytes[bad] = 0x8a;

  it('stops the reading where it stands, with what came before read', () => {
    const items = parse(bytes);
    expect(candidates(items).map((c) => c.value)).toEqual(['0.45', '0.43', '0.418', '0.41']);
    expect(rejectFields(items)).toEqual([
      ['parse.format green-button.entry_incomplete'],
      ['parse.format green-button.xml.encoding'],
    ]);
    expect(rejects(items)[1]?.location.byteOffset).toBe(bad);
  });

  it('gives the same items wherever the chunks are cut, at the byte itself too', () => {
    // The whole chunk holding the byte was dropped undecoded: one span over the whole delivery,
    // while a chunk cut at the byte kept the readings before it.
    const whole = parse(bytes);
    for (const cut of [bad - 3, bad - 1, bad, bad + 1, bad + 2]) {
      expect(parse(bytes, [cut])).toEqual(whole);
    }
    const everyByte = Array.from({ length: bytes.length }, (_, index) => index);
    expect(parse(bytes, everyByte)).toEqual(whole);
    // A multi-byte character cut across chunks is carried to the next one, not refused.
    const text = encoder.encode(MULTI_BYTE_FEED);
    expect(
      parse(
        text,
        Array.from({ length: text.length }, (_, index) => index),
      ),
    ).toEqual(parse(text));
  });
});

describe('XML that is not well-formed', () => {
  const feed = greenButtonInput('electric_containerized.xml');
  const messageOf = (items: readonly ParseItem[]) =>
    rejects(items).find((reject) => reject.uncountedSpan)?.violations[0]?.message;

  it('is told at the last tag read, the same wherever the chunks are cut', () => {
    // Text before the root element is noticed where its run of text ends: at the next tag, or
    // at the end of a chunk. The message named that place, so it depended on the chunking.
    const noRoot = Uint8Array.from(feed);
    noRoot[0] = '='.charCodeAt(0);
    expect(messageOf(parse(noRoot))).toBe(
      'Line 1: The XML is not well-formed before its first tag: text data outside of root node. ' +
        `The ${noRoot.length} bytes from byte 0 (after the last IntervalReading read) to the end ` +
        'of the delivery are quarantined unread, counted once.',
    );
    const misnamed = Buffer.from(feed.toString('utf8').replace('</value>', '</valeu>'));
    const at = misnamed.indexOf('</valeu>');
    for (const bytes of [noRoot, misnamed]) {
      const whole = parse(bytes);
      for (const cut of [1, 2, at, at + 3, at + 8, at + 9])
        expect(parse(bytes, [cut])).toEqual(whole);
    }
    const line = misnamed.subarray(0, at).toString('utf8').split('\n').length;
    expect(messageOf(parse(misnamed))).toMatch(
      new RegExp(
        `^Line ${line}: The XML is not well-formed after the tag that ends on this line: `,
      ),
    );
  });
});

// The ReadingType and UsagePoint come after the blocks; a second MeterReading's block is linked
// at once but must wait behind the first, so that items stay in byte order.
const RESOURCES_LAST_FEED = atomFeed([
  atomEntry(
    {
      self: 'UsagePoint/1/MeterReading/01/IntervalBlock/1',
      up: 'UsagePoint/1/MeterReading/01/IntervalBlock',
    },
    intervalBlockContent([
      { start: '3600', duration: '3600', value: '1000' },
      { start: '7200', duration: '3600', value: '2000' },
    ]),
  ),
  atomEntry(
    { self: 'UsagePoint/1/MeterReading/02/IntervalBlock/1' },
    intervalBlockContent([{ start: '3600', duration: '3600', value: '3000' }]),
  ),
  atomEntry(
    { self: 'UsagePoint/1/MeterReading/02', related: ['ReadingType/2'] },
    meterReadingContent(),
  ),
  atomEntry(
    { self: 'UsagePoint/1/MeterReading/01', related: ['ReadingType/1'] },
    meterReadingContent(),
  ),
  atomEntry({ self: 'ReadingType/2' }, readingTypeContent({ uom: '73', flowDirection: '19' })),
  atomEntry({ self: 'ReadingType/1' }, readingTypeContent({ uom: '72', commodity: '1' })),
  atomEntry({ self: 'UsagePoint/1' }, usagePointContent('0')),
]);

describe('linking', () => {
  it('waits for resources sent after the readings, and keeps byte order', () => {
    const items = parse(RESOURCES_LAST_FEED);
    expect(rejects(items)).toEqual([]);
    expect(candidates(items).map((c) => [c.meterId, c.channel, c.unit, c.value])).toEqual([
      ['UsagePoint/1', '01', 'kWh', '1'],
      ['UsagePoint/1', '01', 'kWh', '2'],
      ['UsagePoint/1', '02.reverse', 'kVArh', '3'],
    ]);
    const offsets = items.map((item) => itemLocation(item).byteOffset);
    expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
  });

  it('reads a direct document by nesting, with ordinal ids', () => {
    const direct = `<UsagePoint xmlns="http://naesb.org/espi"><ServiceCategory><kind>2</kind>
      </ServiceCategory><MeterReading><ReadingType><uom>128</uom>
      <powerOfTenMultiplier>-2</powerOfTenMultiplier></ReadingType><IntervalBlock>
      <IntervalReading><timePeriod><duration>3600</duration><start>7200</start></timePeriod>
      <value>1250</value></IntervalReading></IntervalBlock></MeterReading></UsagePoint>`;
    expect(candidates(parse(direct))).toMatchObject([
      { meterId: 'UsagePoint-0', channel: '0', commodity: 'water', unit: 'gal', value: '12.5' },
    ]);
    expect(candidates(parse(direct))[0]?.seq).toBe(0);
  });

  it('does not guess a meter for a direct MeterReading without a UsagePoint', () => {
    const direct = `<MeterReading xmlns="http://naesb.org/espi"><ReadingType><uom>72</uom>
      </ReadingType><IntervalBlock><IntervalReading><timePeriod><duration>900</duration>
      <start>900</start></timePeriod><value>1</value></IntervalReading></IntervalBlock>
      </MeterReading>`;
    expect(onlyFields(direct)).toEqual([['parse.format green-button.no_usage_point']]);
  });

  it('quarantines readings whose ReadingType never came, naming what is missing', () => {
    const feed = simpleFeed({ readings: [{ start: '0', duration: '900', value: '1' }] }).replace(
      /<entry><link rel="self" href="ReadingType\/1"\/>.*?<\/entry>/,
      '',
    );
    expect(onlyFields(feed)).toEqual([['parse.format green-button.no_reading_type']]);
  });

  it('refuses to choose between two MeterReadings that claim one block', () => {
    const claim = { related: ['Blocks/1', 'ReadingType/1'] };
    const feed = atomFeed([
      atomEntry({ self: 'UsagePoint/1', related: ['MR/1', 'MR/2'] }, usagePointContent('0')),
      atomEntry({ self: 'MR/1', ...claim }, meterReadingContent()),
      atomEntry({ self: 'MR/2', ...claim }, meterReadingContent()),
      atomEntry({ self: 'ReadingType/1' }, readingTypeContent({ uom: '72' })),
      atomEntry({ self: 'Blocks/1' }, intervalBlockContent([{ start: '0', value: '1' }])),
    ]);
    expect(onlyFields(feed)).toEqual([['parse.format green-button.link_ambiguous']]);
  });

  it('never lets two ReadingTypes share a meter and channel', () => {
    const feed = atomFeed([
      atomEntry({ self: 'UsagePoint/1', related: ['A/MR/1', 'B/MR/1'] }, usagePointContent('0')),
      atomEntry(
        { self: 'A/MR/1', related: ['A/MR/1/IntervalBlock', 'RT/1'] },
        meterReadingContent(),
      ),
      atomEntry(
        { self: 'B/MR/1', related: ['B/MR/1/IntervalBlock', 'RT/2'] },
        meterReadingContent(),
      ),
      atomEntry({ self: 'RT/1' }, readingTypeContent({ uom: '72' })),
      atomEntry({ self: 'RT/2' }, readingTypeContent({ uom: '38' })),
      atomEntry(
        { self: 'A/MR/1/IntervalBlock/1' },
        intervalBlockContent([{ start: '0', duration: '900', value: '1' }]),
      ),
      atomEntry(
        { self: 'B/MR/1/IntervalBlock/1' },
        intervalBlockContent([{ start: '0', duration: '900', value: '2' }]),
      ),
    ]);
    const items = parse(feed);
    expect(candidates(items)).toMatchObject([{ channel: '1', unit: 'kWh' }]);
    expect(rejectFields(items)).toEqual([['parse.format green-button.channel_ambiguous']]);
  });
});

describe('values, units and commodities', () => {
  it('scales exactly and converts W, VAr, VA to kilo units', () => {
    const reading = [{ start: '0', duration: '900', value: '1234567' }];
    const cases: Array<[Record<string, string>, string, string]> = [
      [{ uom: '72', powerOfTenMultiplier: '3' }, 'kWh', '1234567'],
      [{ uom: '72', powerOfTenMultiplier: '-3' }, 'kWh', '1.234567'],
      // Twelve decimals: exact here, and left to the dictionary to refuse (consumption.precision).
      [{ uom: '72', powerOfTenMultiplier: '-9' }, 'kWh', '0.000001234567'],
      [{ uom: '61', powerOfTenMultiplier: '2' }, 'kVA', '123456.7'],
      [{ uom: '38' }, 'kW', '1234.567'],
      [{ uom: '63', powerOfTenMultiplier: '-1' }, 'kVAr', '123.4567'],
      [{ uom: '29' }, 'V', '1234567'],
      [{ uom: '65', powerOfTenMultiplier: '-6' }, 'pf', '1.234567'],
    ];
    for (const [readingType, unit, value] of cases) {
      expect(oneCandidate(reading, { readingType })).toMatchObject({ unit, value });
    }
  });

  it('quarantines units the ledger does not hold, register values and bad multipliers', () => {
    const reading = [{ start: '0', duration: '900', value: '1' }];
    const fields = (readingType: Record<string, string>) =>
      onlyFields(simpleFeed({ readings: reading, readingType }));
    expect(fields({ uom: '132' })).toEqual([['parse.format green-button.unit_not_held']]);
    expect(fields({ uom: '72', accumulationBehaviour: '3' })).toEqual([
      ['parse.format green-button.register_reading'],
    ]);
    expect(fields({ uom: '72', powerOfTenMultiplier: 'k' })).toEqual([
      ['parse.format green-button.multiplier_invalid'],
    ]);
  });

  it('keeps gas and water out of electricity', () => {
    const reading = [{ start: '0', duration: '900', value: '5' }];
    const feed = (serviceKind: string | null, readingType: Record<string, string>) =>
      simpleFeed({ readings: reading, serviceKind, readingType });
    expect(oneCandidate(reading, { serviceKind: '1', readingType: { uom: '169' } })).toMatchObject({
      commodity: 'gas',
      unit: 'therm',
    });
    expect(oneCandidate(reading, { serviceKind: '1', readingType: { uom: '42' } })).toMatchObject({
      commodity: 'gas',
      unit: 'm3',
    });
    expect(onlyFields(feed('1', { uom: '72' }))).toEqual([
      ['parse.format green-button.unit_commodity_mismatch'],
    ]);
    expect(onlyFields(feed('1', { uom: '72', commodity: '1' }))).toEqual([
      ['parse.format green-button.commodity_conflict'],
    ]);
    expect(onlyFields(feed(null, { uom: '119' }))).toEqual([
      ['parse.format green-button.no_commodity'],
    ]);
    expect(onlyFields(feed('4', { uom: '119' }))).toEqual([
      ['parse.format green-button.commodity_not_held'],
    ]);
  });

  it('maps reading qualities conservatively and keeps the codes', () => {
    const quality = (qualities: string[], readingType = { uom: '72' }) =>
      oneCandidate([{ start: '0', duration: '900', value: '1', qualities }], { readingType });
    expect(quality([])).toMatchObject({ quality: 'actual', qualityDetail: null });
    expect(quality(['0'])).toMatchObject({ quality: 'actual', qualityDetail: 'q0' });
    expect(quality(['8'])).toMatchObject({ quality: 'estimated', qualityDetail: 'q8' });
    expect(quality(['7'])).toMatchObject({ quality: 'substituted', qualityDetail: 'q7' });
    expect(quality(['11'])).toMatchObject({ quality: 'estimated' });
    expect(quality(['19', '8', '19'])).toMatchObject({
      quality: 'estimated',
      qualityDetail: 'q19 q8',
    });
    expect(quality([], { uom: '72', defaultQuality: '9' } as { uom: string })).toMatchObject({
      quality: 'estimated',
      qualityDetail: 'q9',
    });
    const unknown = simpleFeed({
      readings: [{ start: '0', duration: '9', value: '1', qualities: ['4'] }],
    });
    expect(onlyFields(unknown)).toEqual([['parse.format green-button.quality_unknown']]);
  });

  it('takes seq from the entry date in UTC, and 0 without one', () => {
    const reading = [{ start: '0', duration: '900', value: '1' }];
    expect(oneCandidate(reading, { updated: '2024-06-21T10:00:00+02:00' }).seq).toBe(
      20240621080000,
    );
    expect(oneCandidate(reading, { updated: '2024-06-21' }).seq).toBe(20240621000000);
    expect(oneCandidate(reading, { updated: 'yesterday' }).seq).toBe(0);
    expect(oneCandidate(reading).seq).toBe(0);
  });

  it('reads times exactly and quarantines what is not whole seconds', () => {
    expect(oneCandidate([{ start: '1700000000', duration: '900', value: '1' }])).toMatchObject({
      intervalStartMs: 1_700_000_000_000,
      intervalSeconds: 900,
    });
    const withLength = { uom: '72', intervalLength: '3600' };
    expect(oneCandidate([{ start: '0', value: '1' }], { readingType: withLength })).toMatchObject({
      intervalSeconds: 3600,
    });
    const bad = (spec: ReadingSpec) => onlyFields(simpleFeed({ readings: [spec] }));
    expect(bad({ start: '1.5', duration: '900', value: '1' })).toEqual([
      ['parse.format green-button.start_fractional'],
    ]);
    expect(bad({ start: '-900', duration: '900', value: '1' })).toEqual([
      ['parse.format green-button.start_invalid'],
    ]);
    expect(bad({ start: '0', duration: '0', value: '1' })).toEqual([
      ['parse.format green-button.duration_invalid'],
    ]);
    expect(bad({ start: '0', value: '1' })).toEqual([['parse.format green-button.no_duration']]);
  });

  it("quarantines a reading with the reader's problems, and the rest of the block is read", () => {
    const items = parse(
      simpleFeed({
        readings: [
          { start: '0', duration: '900' },
          { start: '900', duration: '900', value: '1.5' },
          { start: '1800', duration: '900', value: '2' },
        ],
      }),
    );
    expect(rejectFields(items)).toEqual([
      ['parse.format green-button.reading.no_value'],
      ['parse.format green-button.reading.value_not_integer'],
    ]);
    expect(candidates(items).map((c) => c.value)).toEqual(['0.002']);
    expect(rejects(items)[1]?.violations[0]?.value).toBe('1.5');
  });
});

const BILLION_LAUGHS = `<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<feed xmlns="http://www.w3.org/2005/Atom"><title>&lol1;</title></feed>`;

describe('bounds and fatal problems', () => {
  it('stops at a DOCTYPE with one uncounted span over the whole delivery', () => {
    const items = parse(BILLION_LAUGHS);
    expect(items).toHaveLength(1);
    expect(rejects(items)[0]).toMatchObject({
      uncountedSpan: true,
      location: {
        recordIndex: 0,
        byteOffset: 0,
        byteLength: encoder.encode(BILLION_LAUGHS).length,
      },
      violations: [{ code: 'parse.format', field: 'green-button.xml.doctype' }],
    });
  });

  it('keeps the readings before a cut, and spans the rest from the last one', () => {
    // Cut inside the second block's entry, after its first reading: that reading is whole but its
    // entry (whose links tie it to a meter) never closed.
    const feed = greenButtonInput('electric_containerized.xml');
    const cut = feed.indexOf('<IntervalReading>', feed.indexOf('<value>595</value>'));
    const items = parse(feed.subarray(0, cut));
    expect(candidates(items).map((c) => c.value)).toEqual(['0.45', '0.43', '0.418', '0.41']);
    expect(rejectFields(items)).toEqual([
      ['parse.format green-button.entry_incomplete'],
      ['parse.format green-button.xml.syntax'],
    ]);
    const [unlinked, span] = rejects(items);
    expect(unlinked?.uncountedSpan).toBe(false);
    const last = unlinked?.location;
    expect(span).toMatchObject({
      uncountedSpan: true,
      location: {
        recordIndex: 5,
        byteOffset: (last?.byteOffset ?? 0) + (last?.byteLength ?? 0),
        byteLength: cut - (last?.byteOffset ?? 0) - (last?.byteLength ?? 0),
      },
    });
  });

  it('holds at most pendingReadingsMax waiting readings, quarantining the oldest beyond', () => {
    const readings = Array.from({ length: 5 }, (_, i) => ({
      start: String(i * 900),
      duration: '900',
      value: '1',
    }));
    const feed = simpleFeed({ readings }).replace(
      /<entry><link rel="self" href="ReadingType\/1"\/>.*?<\/entry>/,
      '',
    );
    const items = parse(feed, [], { pendingReadingsMax: 3 });
    expect(rejectFields(items)).toEqual([
      ['parse.format green-button.pending_limit'],
      ['parse.format green-button.pending_limit'],
      ['parse.format green-button.no_reading_type'],
      ['parse.format green-button.no_reading_type'],
      ['parse.format green-button.no_reading_type'],
    ]);
  });

  it('lets a reading wait only while few bytes come after the last item', () => {
    // Two readings wait for a ReadingType that never comes, then 2000 bytes of other entries come.
    const readings = [0, 1].map((i) => ({ start: String(i * 900), duration: '900', value: '1' }));
    const feed = simpleFeed({ readings })
      .replace(/<entry><link rel="self" href="ReadingType\/1"\/>.*?<\/entry>/, '')
      .replace('</feed>', `${atomEntry({ self: 'Other/1' }, `<!--${'x'.repeat(2000)}-->`)}</feed>`);
    const bytes = encoder.encode(feed);
    const cuts = Array.from({ length: Math.ceil(bytes.length / 100) }, (_, i) => i * 100);
    const limits = { pendingBytesMax: 1000, recentBytes: 100 };
    expect(rejectFields(parse(bytes, cuts, limits))).toEqual([
      ['parse.format green-button.pending_limit'],
      ['parse.format green-button.pending_limit'],
    ]);
    expect(rejectFields(parse(bytes, cuts))).toEqual([
      ['parse.format green-button.no_reading_type'],
      ['parse.format green-button.no_reading_type'],
    ]);
  });

  it('stops past resourcesMax resources, keeping what came before', () => {
    const feed = simpleFeed({ readings: [{ start: '0', duration: '900', value: '1' }] });
    const extra = atomEntry({ self: 'MR/9' }, meterReadingContent());
    const items = parse(feed.replace('</feed>', `${extra}</feed>`), [], { resourcesMax: 3 });
    expect(candidates(items)).toHaveLength(1);
    expect(rejectFields(items)).toEqual([['parse.format green-button.limit.resources']]);
    expect(rejects(items)[0]?.uncountedSpan).toBe(true);
  });

  it('never throws on random corruption: elements located, byte order kept, one stop at most', () => {
    const original = greenButtonInput('electric_containerized.xml');
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat({ max: original.length - 1 }), fc.nat({ max: 255 })), {
          minLength: 1,
          maxLength: 12,
        }),
        fc.array(fc.nat({ max: original.length }), { maxLength: 8 }),
        (mutations, cuts) => {
          const bytes = Uint8Array.from(original);
          for (const [index, byte] of mutations) bytes[index] = byte;
          const items = parse(bytes, cuts);
          const spans = rejects(items).filter((reject) => reject.uncountedSpan);
          expect(spans.length).toBeLessThanOrEqual(1);
          if (spans.length === 1) expect(items.at(-1)).toMatchObject({ reject: spans[0] });
          for (const item of items.slice(0, items.length - spans.length)) {
            const { byteOffset, byteLength } = itemLocation(item);
            expect(bytes[byteOffset]).toBe(0x3c);
            expect(bytes[byteOffset + byteLength - 1]).toBe(0x3e);
          }
          const indexes = items.map((item) => itemLocation(item).recordIndex);
          expect(indexes).toEqual(indexes.map((_, i) => i));
          const ends = items.map((item) => itemLocation(item).byteOffset);
          expect(ends).toEqual([...ends].sort((a, b) => a - b));
        },
      ),
      // The first example once swallowed the next three readings into one whose end tag it broke.
      { numRuns: 200, examples: [[[[6711, 32]], []]] },
    );
  });
});
