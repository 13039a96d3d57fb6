// Goal: the ESPI reader gives exactly the intervals of real Green Button feeds; hostile XML stops.
// Method: greenbutton_objects oracle files, chunk-split and corruption properties, attack inputs.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createEspiReader, type EspiReaderLimits } from './espi-reader.js';
import { scaledValue, uomName } from './espi-units.js';
import {
  GREEN_BUTTON_INPUT_NAMES as INPUT_NAMES,
  formatG,
  formatTimedelta,
  greenButtonExpected,
  greenButtonInput,
  type OracleInterval,
} from './green-button-fixtures.js';
import type {
  EntryRef,
  EspiEvent,
  IntervalReadingEvent,
  ProblemEvent,
  ReadingTypeEvent,
} from './green-button.js';
import { pushSplit } from '../../test-support/split.js';

const encoder = new TextEncoder();

function readAll(bytes: Uint8Array, chunkBytes = bytes.length, limits = {}): EspiEvent[] {
  const reader = createEspiReader(limits satisfies Partial<EspiReaderLimits>);
  const events: EspiEvent[] = [];
  for (let offset = 0; offset < bytes.length; offset += Math.max(1, chunkBytes)) {
    events.push(...reader.push(bytes.subarray(offset, offset + Math.max(1, chunkBytes))));
  }
  events.push(...reader.end());
  return events;
}

function readSplit(bytes: Uint8Array, cuts: number[]): EspiEvent[] {
  return pushSplit(createEspiReader(), bytes, cuts);
}

function problems(events: EspiEvent[]): ProblemEvent[] {
  return events.filter((event): event is ProblemEvent => event.kind === 'problem');
}

// The oracle's names for ReadingQuality codes (its QualityOfReading enum).
const QUALITY_NAMES: Record<string, string> = {
  '0': 'VALIDATED',
  '7': 'HUMAN_APPROVED',
  '8': 'MACHINE_COMPUTED',
  '9': 'INTERPOLATED',
  '10': 'FAILED_CHECKS',
  '11': 'CALCULATED',
  '12': 'FORECASTED',
  '13': 'MIXED_QUALITY',
  '14': 'UNVALIDATED',
  '15': 'WEATHER_ADJUSTED',
  '16': 'OTHER',
  '17': 'APPROVED_EDITED',
  '18': 'FAILED_BUT_ACTUAL',
  '19': 'BILLING_ACCEPTABLE',
};

function utcText(epochSeconds: string): string {
  const wholeSeconds = Number(epochSeconds.split('.')[0]);
  return new Date(wholeSeconds * 1000).toISOString().slice(0, 19).replace('T', ' ');
}

/**
 * A plain join, independent of the parser's (green-button-links.ts): an IntervalBlock entry
 * belongs to the MeterReading whose related hrefs name the block's self or up href, and that
 * MeterReading's related hrefs name its ReadingType's self href.
 */
function readingTypeOfEachReading(
  events: EspiEvent[],
): Map<IntervalReadingEvent, ReadingTypeEvent> {
  const entries = new Map<number, EntryRef>();
  const meterReadings: EntryRef[] = [];
  const readingTypes: ReadingTypeEvent[] = [];
  for (const event of events) {
    if (event.kind === 'entry') entries.set(event.entry.entryIndex, event.entry);
    if (event.kind === 'meterReading' && event.entry !== null) meterReadings.push(event.entry);
    if (event.kind === 'readingType') readingTypes.push(event);
  }
  const joined = new Map<IntervalReadingEvent, ReadingTypeEvent>();
  for (const event of events) {
    if (event.kind !== 'intervalReading') continue;
    const entry = entries.get(event.entryIndex ?? -1);
    const blockHrefs = [entry?.selfHref, entry?.upHref];
    const meter = meterReadings.find((candidate) =>
      candidate.relatedHrefs.some((href) => blockHrefs.includes(href)),
    );
    const readingType = readingTypes.find(
      (candidate) =>
        candidate.entry?.selfHref != null &&
        meter?.relatedHrefs.includes(candidate.entry.selfHref) === true,
    );
    if (readingType !== undefined) joined.set(event, readingType);
  }
  return joined;
}

/**
 * The oracle prints therm and multiplier -3 for gas_containerized although that file's ReadingType
 * is empty: that is the oracle's own default, not data, so the test supplies it (and checks below
 * that the reader reported the empty ReadingType).
 */
const ORACLE_ASSUMPTIONS: Record<string, { uom: string; powerOfTenMultiplier: string }> = {
  'gas_containerized.xml': { uom: '169', powerOfTenMultiplier: '-3' },
};

function asOracle(events: EspiEvent[], name: string): OracleInterval[] {
  const joined = readingTypeOfEachReading(events);
  return events
    .filter((event): event is IntervalReadingEvent => event.kind === 'intervalReading')
    .map((reading) => {
      const fields = joined.get(reading)?.fields;
      const assumed = ORACLE_ASSUMPTIONS[name];
      const uom = fields?.uom ?? assumed?.uom ?? '';
      const multiplier = fields?.powerOfTenMultiplier ?? assumed?.powerOfTenMultiplier ?? '0';
      const quality = reading.qualities[0];
      return {
        startUtc: utcText(reading.startEpochSeconds ?? ''),
        duration: formatTimedelta(Number(reading.durationSeconds)),
        value: formatG(Number(scaledValue(reading.value ?? '', multiplier))),
        unit: uomName(uom),
        cost: reading.cost === null ? null : scaledValue(reading.cost, '-5'),
        quality: quality === undefined ? null : (QUALITY_NAMES[quality] ?? quality),
      };
    });
}

describe('real Green Button feeds against the greenbutton_objects oracle', () => {
  it('has fixtures to check', () => {
    expect(INPUT_NAMES.length).toBeGreaterThanOrEqual(7);
  });

  it.each(INPUT_NAMES)('%s gives exactly the expected intervals', (name) => {
    const bytes = greenButtonInput(name);
    const expected = greenButtonExpected(name);
    const events = readAll(bytes, 65_536);
    expect(problems(events)).toEqual([]);
    expect(expected.length).toBeGreaterThan(0);
    expect(asOracle(events, name)).toEqual(expected);
  });

  it('reports what it tolerated in gas_containerized', () => {
    const events = readAll(greenButtonInput('gas_containerized.xml'));
    const codes = events.flatMap((event) => (event.kind === 'tolerated' ? [event.code] : []));
    expect(new Set(codes)).toEqual(
      new Set(['element.empty', 'epoch.fractional', 'reading_type.empty']),
    );
    const reading = events.find((event) => event.kind === 'intervalReading');
    expect(reading).toMatchObject({
      startEpochSeconds: '1721154384.66136',
      durationSeconds: '2505600',
      value: '12000',
      cost: '2806000',
      qualities: ['0'],
      blockIndex: 0,
      readingIndex: 0,
    });
  });
});

const DIRECT_DOCUMENT = `<?xml version="1.0" encoding="utf-8"?>
<MeterReading xmlns="http://naesb.org/espi">
  <!-- Café ☃ 𝄞: multi-byte text in a comment and below in CDATA -->
  <ReadingType><uom>72</uom><powerOfTenMultiplier>-3</powerOfTenMultiplier>
    <intervalLength><![CDATA[900]]></intervalLength><currency></currency></ReadingType>
  <IntervalBlock>
    <interval><duration>1800</duration><start>1700000000</start></interval>
    <IntervalReading><value>1234</value><timePeriod><duration>900</duration>
      <start>1700000000</start></timePeriod><ReadingQuality><quality>8</quality></ReadingQuality>
      <ReadingQuality><quality>19</quality></ReadingQuality></IntervalReading>
    <IntervalReading><cost>17</cost><value>1235</value><timePeriod><duration>900</duration>
      <start>1700000900.5</start></timePeriod></IntervalReading>
  </IntervalBlock>
</MeterReading>`;

const UNBOUND_PREFIX_FEED = `<feed xmlns="http://www.w3.org/2005/Atom"><entry>
<link rel="self" href="/IntervalBlock/1"/><title>Zürich ☃</title><content>
<espi:IntervalBlock><espi:IntervalReading><espi:value>7</espi:value>
<espi:timePeriod><espi:start>1</espi:start><espi:duration>60</espi:duration></espi:timePeriod>
</espi:IntervalReading></espi:IntervalBlock></content></entry></feed>`;

describe('document shapes', () => {
  it('reads a direct document with a nested ReadingType, empty elements and CDATA', () => {
    const events = readAll(encoder.encode(DIRECT_DOCUMENT));
    expect(problems(events)).toEqual([]);
    const kinds = events.map((event) => (event.kind === 'tolerated' ? event.code : event.kind));
    expect(kinds).toEqual([
      'reading_type.nested',
      'element.empty',
      'readingType',
      'intervalBlock',
      'intervalReading',
      'epoch.fractional',
      'intervalReading',
      'meterReading',
    ]);
    expect(events[2]).toMatchObject({
      nestedIn: 'MeterReading',
      entry: null,
      fields: { uom: '72', powerOfTenMultiplier: '-3', intervalLength: '900', currency: null },
    });
    expect(events[3]).toMatchObject({
      blockIndex: 0,
      intervalStartEpochSeconds: '1700000000',
      intervalDurationSeconds: '1800',
    });
    expect(events[4]).toMatchObject({ value: '1234', cost: null, qualities: ['8', '19'] });
    expect(events[6]).toMatchObject({
      readingIndex: 1,
      cost: '17',
      startEpochSeconds: '1700000900.5',
    });
  });

  it('reads elements under an undeclared prefix by local name, and says so', () => {
    const events = readAll(encoder.encode(UNBOUND_PREFIX_FEED));
    expect(problems(events)).toEqual([]);
    // A block without an interval element is emitted when it closes, after its readings.
    expect(events.map((event) => event.kind)).toEqual([
      'tolerated',
      'intervalReading',
      'intervalBlock',
      'entry',
    ]);
    expect(events[0]).toMatchObject({ code: 'namespace.unbound_prefix' });
    expect(events[1]).toMatchObject({ entryIndex: 0, value: '7', startEpochSeconds: '1' });
    expect(events[2]).toMatchObject({ blockIndex: 0, intervalStartEpochSeconds: null });
    expect(events[3]).toMatchObject({ entry: { title: 'Zürich ☃', selfHref: '/IntervalBlock/1' } });
  });

  it('ignores same-named elements in other namespaces', () => {
    const text = `<IntervalReading xmlns="http://naesb.org/espi" xmlns:x="urn:x">
      <x:value>9</x:value><value>3</value><timePeriod><start>0</start></timePeriod>
      </IntervalReading>`;
    const events = readAll(encoder.encode(text));
    expect(events).toMatchObject([{ kind: 'intervalReading', value: '3', blockIndex: null }]);
  });

  it('reports a reading without value or start but still emits it', () => {
    const text =
      '<IntervalReading xmlns="http://naesb.org/espi"><value>1.5</value></IntervalReading>';
    const codes = problems(readAll(encoder.encode(text))).map((problem) => problem.code);
    expect(codes).toEqual(['reading.value_not_integer', 'reading.no_time_period']);
  });
});

// A byte order mark, multi-byte text before and inside readings, CRLF line ends, an empty
// IntervalReading element and one under a prefix: each reading's bytes are cut out exactly.
const LOCATED_FEED =
  '\ufeff<?xml version="1.0" encoding="UTF-8"?>\r\n' +
  '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:e="http://naesb.org/espi">\r\n' +
  '<title>Zürich ☃ 𝄞</title><entry><updated>2024-06-21T10:00:00+02:00</updated>\r\n' +
  '<content><UsagePoint xmlns="http://naesb.org/espi"><MeterReading>\r\n' +
  '<IntervalBlock><IntervalReading><value>7</value><!-- é --><timePeriod><start>0</start>' +
  '</timePeriod></IntervalReading>\r\n<e:IntervalReading ><e:value>€8</e:value></e:IntervalReading\r\n>' +
  '<IntervalReading/></IntervalBlock></MeterReading></UsagePoint></content></entry></feed>';

describe('byte locations, entry dates and nesting', () => {
  it('ends a reading that lost its end tag where the next reading begins, in byte order', () => {
    const outer = '<IntervalReading><value>1</value><timePeriod><start>0</start></timePeriod>';
    const inner = '<IntervalReading><value>2</value><timePeriod><start>900</start></timePeriod>';
    const text =
      '<IntervalBlock xmlns="http://naesb.org/espi">' +
      `${outer}\n /IntervalReading>\n${inner}</IntervalReading>` +
      '</IntervalReading></IntervalBlock>';
    const bytes = encoder.encode(text);
    const events = readAll(bytes);
    const readings = events.filter((event) => event.kind === 'intervalReading');
    expect(readings).toMatchObject([
      { value: '1', readingIndex: 0, byteOffset: text.indexOf(outer), byteLength: outer.length },
      { value: '2', readingIndex: 1, byteOffset: text.indexOf(inner) },
    ]);
    expect(problems(events)).toMatchObject([
      { code: 'reading.unclosed', fatal: false, position: { line: 1 } },
    ]);
    expect(problems(events)[0]?.message).toContain('before the IntervalReading at line 3');
    // The problem comes before the reading it belongs to, as the mapping expects.
    expect(events.findIndex((event) => event.kind === 'problem')).toBeLessThan(
      events.findIndex((event) => event.kind === 'intervalReading'),
    );
  });

  const bytes = encoder.encode(LOCATED_FEED);
  const readings = readAll(bytes).filter(
    (event): event is IntervalReadingEvent => event.kind === 'intervalReading',
  );
  const decoder = new TextDecoder();
  const textOf = (reading: IntervalReadingEvent): string =>
    decoder.decode(bytes.subarray(reading.byteOffset, reading.byteOffset + reading.byteLength));

  it('gives each IntervalReading the exact bytes of its element, a BOM and multi-byte text counted', () => {
    expect(readings.map(textOf)).toEqual([
      '<IntervalReading><value>7</value><!-- é --><timePeriod><start>0</start></timePeriod></IntervalReading>',
      '<e:IntervalReading ><e:value>€8</e:value></e:IntervalReading\r\n>',
      '<IntervalReading/>',
    ]);
    expect(readings.map((reading) => [reading.line, reading.endLine])).toEqual([
      [5, 5],
      [6, 7],
      [7, 7],
    ]);
  });

  it('gives the same locations whatever the split points', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: bytes.length }), { maxLength: 30 }), (cuts) => {
        expect(readSplit(bytes, cuts)).toEqual(readAll(bytes));
      }),
      { numRuns: 200 },
    );
  });

  it("keeps the entry's updated date and numbers the elements readings sit in", () => {
    const events = readAll(bytes);
    expect(events.find((event) => event.kind === 'entry')).toMatchObject({
      entry: { updated: '2024-06-21T10:00:00+02:00' },
    });
    expect(readings.map((reading) => [reading.meterReadingIndex, reading.usagePointIndex])).toEqual(
      [
        [0, 0],
        [0, 0],
        [0, 0],
      ],
    );
    expect(events.find((event) => event.kind === 'meterReading')).toMatchObject({
      meterReadingIndex: 0,
      usagePointIndex: 0,
    });
    expect(events.find((event) => event.kind === 'usagePoint')).toMatchObject({
      usagePointIndex: 0,
    });
  });

  it('locates every reading of the real feeds at an element holding its value', () => {
    for (const name of INPUT_NAMES) {
      const input = greenButtonInput(name);
      const located = readAll(input, 4096).filter(
        (event): event is IntervalReadingEvent => event.kind === 'intervalReading',
      );
      expect(located.length).toBeGreaterThan(0);
      for (const reading of located) {
        const text = input.toString(
          'utf8',
          reading.byteOffset,
          reading.byteOffset + reading.byteLength,
        );
        expect(text).toMatch(/^<(\w+:)?IntervalReading>[^]*<\/(\w+:)?IntervalReading>$/);
        expect(text).toContain(`value>${reading.value}</`);
      }
    }
  });
});

describe('chunking', () => {
  const samples = [
    encoder.encode(DIRECT_DOCUMENT),
    encoder.encode(UNBOUND_PREFIX_FEED),
    greenButtonInput('gas_containerized.xml'),
    greenButtonInput('electric_containerized.xml'),
  ];

  it('gives identical events whatever the split points, inside characters and tags too', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: samples.length - 1 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 40 }),
        (sampleIndex, fractions) => {
          const bytes = samples[sampleIndex] ?? new Uint8Array();
          const cuts = fractions.map((fraction) => Math.floor(fraction * bytes.length));
          expect(readSplit(bytes, cuts)).toEqual(readAll(bytes));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('gives identical events when fed one byte at a time', () => {
    const bytes = encoder.encode(DIRECT_DOCUMENT);
    expect(readAll(bytes, 1)).toEqual(readAll(bytes));
  });
});

function expectStoppedBy(events: EspiEvent[], code: ProblemEvent['code']): void {
  const fatal = problems(events).filter((problem) => problem.fatal);
  expect(fatal.map((problem) => problem.code)).toEqual([code]);
  expect(events.at(-1)).toBe(fatal[0]);
}

const BILLION_LAUGHS = `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<feed xmlns="http://www.w3.org/2005/Atom"><title>&lol9;</title></feed>`;

const EXTERNAL_ENTITY = `<?xml version="1.0"?>
<!DOCTYPE feed [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<IntervalReading xmlns="http://naesb.org/espi"><value>&secret;</value></IntervalReading>`;

describe('hostile input', () => {
  it('refuses the billion laughs at its DOCTYPE', () => {
    const events = readAll(encoder.encode(BILLION_LAUGHS));
    expectStoppedBy(events, 'xml.doctype');
    expect(events.at(-1)).toMatchObject({ position: { line: 2 } });
  });

  it('refuses an external entity at its DOCTYPE, so nothing is fetched', () => {
    const events = readAll(encoder.encode(EXTERNAL_ENTITY));
    expectStoppedBy(events, 'xml.doctype');
    expect(JSON.stringify(events)).not.toContain('root:');
  });

  it('refuses an undeclared entity as a syntax error', () => {
    const text =
      '<IntervalReading xmlns="http://naesb.org/espi"><value>&lol9;</value></IntervalReading>';
    expectStoppedBy(readAll(encoder.encode(text)), 'xml.syntax');
  });

  it('stops a 100 MB text node streamed in 1 MB chunks early, with little memory', () => {
    const reader = createEspiReader();
    const chunk = new Uint8Array(1_048_576).fill(0x61);
    const heapBeforeBytes = process.memoryUsage().heapUsed;
    const startedMs = performance.now();
    const events = [...reader.push(encoder.encode('<feed><title>'))];
    let stoppedAtChunk = -1;
    for (let index = 0; index < 100; index += 1) {
      const produced = reader.push(chunk);
      if (produced.length > 0 && stoppedAtChunk < 0) stoppedAtChunk = index;
      events.push(...produced);
    }
    events.push(...reader.end());
    const elapsedMs = performance.now() - startedMs;
    const heapGrowthBytes = process.memoryUsage().heapUsed - heapBeforeBytes;
    expectStoppedBy(events, 'limit.token_chars');
    expect(stoppedAtChunk).toBe(1);
    expect(elapsedMs).toBeLessThan(5_000);
    expect(heapGrowthBytes).toBeLessThan(50 * 1_048_576);
  });

  it('stops an over-long attribute while streaming', () => {
    const reader = createEspiReader({ tokenCharsMax: 1000 });
    const events = [...reader.push(encoder.encode('<feed a="'))];
    events.push(...reader.push(encoder.encode('x'.repeat(2000))), ...reader.end());
    expectStoppedBy(events, 'limit.token_chars');
    expect(events.at(-1)).toMatchObject({ message: expect.stringContaining('tag') });
  });

  it('stops 100k levels of nesting at the depth limit', () => {
    const startedMs = performance.now();
    const events = readAll(encoder.encode('<a>'.repeat(100_000)));
    expectStoppedBy(events, 'limit.depth');
    // The 65th <a> spans columns 193 to 195.
    const position =
      events.at(-1)?.kind === 'problem' ? (events.at(-1) as ProblemEvent).position : null;
    expect(position?.line).toBe(1);
    expect(position?.column).toBeGreaterThanOrEqual(193);
    expect(position?.column).toBeLessThanOrEqual(195);
    expect(performance.now() - startedMs).toBeLessThan(1_000);
  });

  it('stops at the element count limit', () => {
    const text = `<r>${'<x/>'.repeat(200)}</r>`;
    expectStoppedBy(
      readAll(encoder.encode(text), 7, { elementsPerDeliveryMax: 100 }),
      'limit.elements',
    );
  });

  it('refuses bytes that are not UTF-8, and other declared encodings', () => {
    expectStoppedBy(readAll(new Uint8Array([0x3c, 0x61, 0x3e, 0xff, 0x3c])), 'xml.encoding');
    const latin = '<?xml version="1.0" encoding="ISO-8859-1"?><a/>';
    expectStoppedBy(readAll(encoder.encode(latin)), 'xml.encoding');
  });

  it('reports truncation at end', () => {
    expectStoppedBy(readAll(encoder.encode('<feed><entry>')), 'xml.syntax');
  });

  it('never throws on random corruption, and stops at most once', () => {
    const original = greenButtonInput('electric_containerized.xml');
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat({ max: original.length - 1 }), fc.nat({ max: 255 })), {
          minLength: 1,
          maxLength: 20,
        }),
        fc.array(fc.nat({ max: original.length }), { maxLength: 10 }),
        (mutations, cuts) => {
          const bytes = Uint8Array.from(original);
          for (const [index, byte] of mutations) bytes[index] = byte;
          const events = readSplit(bytes, cuts);
          const fatal = problems(events).filter((problem) => problem.fatal);
          expect(fatal.length).toBeLessThanOrEqual(1);
          if (fatal.length === 1) expect(events.at(-1)).toBe(fatal[0]);
        },
      ),
      { numRuns: 300 },
    );
  });
});
