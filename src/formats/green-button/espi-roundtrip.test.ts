// Goal: any Green Button feed the ESPI writer lays out parses to exactly the readings it holds.
// Method: fast-check feed specs, expectations computed here with BigInt and Date, chunked parses.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ParseItem } from '../../core/parser.js';
import type { CandidateReading, Commodity, Quality, Unit } from '../../core/reading.js';
import {
  writeEspiFeed,
  type EspiFeedSpec,
  type EspiWriteIntervalBlock,
  type EspiWriteMeterReading,
  type EspiWriteOptions,
  type EspiWriteReading,
  type EspiWriteUsagePoint,
} from './espi-writer.js';
import { createGreenButtonParser } from './green-button-parser.js';
import { candidatesOf, pushSplit } from '../../test-support/split.js';

const SECONDS_PER_HOUR = 3600;
const MS_PER_SECOND = 1000;
const MS_PER_MINUTE = 60_000;
const HOUR_FIRST = Date.UTC(2001, 0, 1) / (SECONDS_PER_HOUR * MS_PER_SECOND);
const HOUR_LAST = Date.UTC(2035, 0, 1) / (SECONDS_PER_HOUR * MS_PER_SECOND);

/** The canonical unit and the power of ten from the written uom to it, as ESPI defines them. */
const UNIT_OF_UOM: Readonly<Record<string, readonly [Unit, number]>> = {
  '72': ['kWh', -3], // Wh
  '73': ['kVArh', -3], // VArh
  '169': ['therm', 0],
  '128': ['gal', 0], // US gallon
};
const COMMODITY_OF_READING_TYPE: Readonly<Record<string, Commodity>> = {
  '1': 'electricity',
  '2': 'electricity',
  '7': 'gas',
  '9': 'water',
};
const COMMODITY_OF_SERVICE_KIND: Readonly<Record<string, Commodity>> = {
  '0': 'electricity',
  '1': 'gas',
  '2': 'water',
};
const COMMODITY_OF_UNIT: Readonly<Record<string, Commodity>> = {
  kWh: 'electricity',
  kVArh: 'electricity',
  therm: 'gas',
  gal: 'water',
};
const QUALITY_OF_CODE: Readonly<Record<string, Quality>> = {
  '0': 'actual',
  '7': 'substituted',
  '8': 'estimated',
  '14': 'actual',
  '19': 'actual',
};

/** Per service: its ServiceCategory kind, uoms, and ReadingType commodity codes (0: not stated). */
const SERVICES = {
  electricity: { kind: '0', uoms: ['72', '73'], commodities: ['1', '2', '0'] },
  gas: { kind: '1', uoms: ['169'], commodities: ['7', '0'] },
  water: { kind: '2', uoms: ['128'], commodities: ['9'] },
} as const;

/** Roots of the hrefs, and what the meter id keeps of them (all after `resource/`). */
const HREF_ROOTS = [
  ['https://services.example.org/DataCustodian/espi/1_1/resource', ''],
  ['/espi/1_1/resource', ''],
  ['https://api.example.com/v1', 'v1/'],
] as const;

const TITLES = ['Coastal Multi-Family 12hr', 'Zürich Straße 𝄞 ☃', 'A & B <Main St> "East"'];
const ID_CHARS = [...'0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_'];

/** An Atom date-time: an instant, written in UTC, at an offset or as a bare date. */
interface DateSpec {
  instantMs: number;
  form: 'zulu' | 'offset' | 'date';
  offsetMinutes: number;
  fraction: boolean;
}

const dateArbitrary: fc.Arbitrary<DateSpec> = fc.record({
  instantMs: fc.integer({ min: Date.UTC(2001, 0, 1), max: Date.UTC(2035, 0, 1) }),
  form: fc.constantFrom('zulu', 'offset', 'date'),
  offsetMinutes: fc.constantFrom(0, 60, -300, 330, -570, 765),
  fraction: fc.boolean(),
});

function pad2(value: number): string {
  return String(value).padStart(2, '0');
}

function dateText(date: DateSpec): string {
  const instant = new Date(date.instantMs).toISOString();
  if (date.form === 'date') return instant.slice(0, 10);
  const offsetMinutes = date.form === 'zulu' ? 0 : date.offsetMinutes;
  const local = new Date(date.instantMs + offsetMinutes * MS_PER_MINUTE).toISOString();
  const clock = local.slice(0, date.fraction ? 23 : 19);
  if (date.form === 'zulu') return `${clock}Z`;
  const sign = offsetMinutes < 0 ? '-' : '+';
  const magnitude = Math.abs(offsetMinutes);
  return `${clock}${sign}${pad2(Math.floor(magnitude / 60))}:${pad2(magnitude % 60)}`;
}

/** The version the parser must give a date: the UTC instant as YYYYMMDDhhmmss. */
function seqOf(date: DateSpec): number {
  const instant = new Date(date.instantMs).toISOString();
  if (date.form === 'date') return Number(`${instant.slice(0, 10).replaceAll('-', '')}000000`);
  return Number(instant.slice(0, 19).replace(/\D/g, ''));
}

/** `value * 10^exponent` as a canonical decimal, by BigInt arithmetic. */
function scaledDecimal(value: bigint, exponent: number): string {
  if (exponent >= 0) return (value * 10n ** BigInt(exponent)).toString();
  const divisor = 10n ** BigInt(-exponent);
  const magnitude = value < 0n ? -value : value;
  const whole = magnitude / divisor;
  const fraction = (magnitude % divisor).toString().padStart(-exponent, '0').replace(/0+$/, '');
  const sign = value < 0n ? '-' : '';
  return `${sign}${whole}${fraction === '' ? '' : `.${fraction}`}`;
}

interface GeneratedReading {
  value: bigint;
  qualities: string[];
  durationWritten: boolean;
}

const readingArbitrary: fc.Arbitrary<GeneratedReading> = fc.record({
  value: fc.oneof(
    fc.constant(0n),
    fc.bigInt({ min: -999n, max: 999n }),
    fc.bigInt({ min: -(10n ** 12n), max: 10n ** 12n }),
  ),
  qualities: fc.array(fc.constantFrom('0', '7', '8', '14', '19'), { maxLength: 3 }),
  durationWritten: fc.boolean(),
});

const blockArbitrary = fc.record({
  firstHour: fc.integer({ min: HOUR_FIRST, max: HOUR_LAST }),
  updated: dateArbitrary,
  readings: fc.array(readingArbitrary, { minLength: 1, maxLength: 4 }),
});

type GeneratedBlock = typeof blockArbitrary extends fc.Arbitrary<infer T> ? T : never;

function meterReadingArbitrary(service: keyof typeof SERVICES) {
  return fc.record({
    uom: fc.constantFrom(...SERVICES[service].uoms),
    commodity: fc.option(fc.constantFrom<string>(...SERVICES[service].commodities), {
      nil: null,
    }),
    flowDirection: fc.constantFrom('1', '19', null),
    powerOfTenMultiplier: fc.option(fc.integer({ min: -3, max: 3 }), { nil: null }),
    blocks: fc.array(blockArbitrary, { minLength: 1, maxLength: 2 }),
  });
}

const idArbitrary = fc.string({ unit: fc.constantFrom(...ID_CHARS), minLength: 1, maxLength: 4 });

const usagePointArbitrary = fc.constantFrom('electricity', 'gas', 'water').chain((service) =>
  fc.record({
    path: fc
      .tuple(fc.integer({ min: 1, max: 99 }), idArbitrary)
      .map(([customer, point]) => `RetailCustomer/${customer}/UsagePoint/${point}`),
    title: fc.constantFrom(...TITLES),
    serviceKind: fc.constantFrom(SERVICES[service].kind, null),
    meterReadings: fc.uniqueArray(fc.tuple(idArbitrary, meterReadingArbitrary(service)), {
      minLength: 1,
      maxLength: 2,
      selector: ([id]) => id,
    }),
  }),
);

type GeneratedUsagePoint = typeof usagePointArbitrary extends fc.Arbitrary<infer T> ? T : never;
type GeneratedMeterReading = GeneratedUsagePoint['meterReadings'][number];

/** One IntervalReading as the parser must return it, and the text it was written from. */
interface Expected {
  candidate: Omit<CandidateReading, 'location'>;
  written: EspiWriteReading;
}

interface Generated {
  spec: EspiFeedSpec;
  options: EspiWriteOptions;
  expected: Expected[];
}

const generatedArbitrary: fc.Arbitrary<Generated> = fc
  .record({
    root: fc.constantFrom(...HREF_ROOTS),
    updated: dateArbitrary,
    usagePoints: fc.uniqueArray(usagePointArbitrary, {
      minLength: 1,
      maxLength: 3,
      selector: (usagePoint) => usagePoint.path,
    }),
    readingTypes: fc.constantFrom('before-blocks', 'after-blocks'),
    espiNamespace: fc.constantFrom('default', 'prefixed'),
    atomNamespace: fc.constantFrom('default', 'prefixed'),
  })
  .map(({ root: [hrefRoot, meterPrefix], updated, usagePoints, ...options }) => {
    const expected: Expected[] = [];
    let readingTypeCount = 0;
    const written = usagePoints.map((usagePoint): EspiWriteUsagePoint => {
      const meterId = `${meterPrefix}${usagePoint.path}`;
      const meterReadings = usagePoint.meterReadings.map((meterReading) => {
        readingTypeCount += 1;
        const each = writeMeterReading(meterReading, `RT${readingTypeCount}`);
        expected.push(...expectedOf(meterId, usagePoint, meterReading, each));
        return each;
      });
      const { path, title, serviceKind } = usagePoint;
      return { path, title, serviceKind, meterReadings };
    });
    return {
      spec: { hrefRoot, updated: dateText(updated), usagePoints: written },
      options,
      expected,
    };
  });

function writeMeterReading(
  [id, generated]: GeneratedMeterReading,
  readingTypeId: string,
): EspiWriteMeterReading {
  const multiplier = generated.powerOfTenMultiplier;
  return {
    id,
    readingType: {
      id: readingTypeId,
      accumulationBehaviour: '4',
      commodity: generated.commodity,
      flowDirection: generated.flowDirection,
      intervalLength: String(SECONDS_PER_HOUR),
      powerOfTenMultiplier: multiplier === null ? null : String(multiplier),
      uom: generated.uom,
    },
    intervalBlocks: generated.blocks.map(writeBlock),
  };
}

function writeBlock(block: GeneratedBlock, index: number): EspiWriteIntervalBlock {
  const firstSecond = block.firstHour * SECONDS_PER_HOUR;
  return {
    id: String(index + 1),
    updated: dateText(block.updated),
    intervalStart: String(firstSecond),
    intervalDuration: String(block.readings.length * SECONDS_PER_HOUR),
    readings: block.readings.map((reading, at) => ({
      start: String(firstSecond + at * SECONDS_PER_HOUR),
      duration: reading.durationWritten ? String(SECONDS_PER_HOUR) : null,
      value: reading.value.toString(),
      qualities: reading.qualities,
    })),
  };
}

/** What the parser must give for each reading of one MeterReading, from the spec alone. */
function expectedOf(
  meterId: string,
  usagePoint: GeneratedUsagePoint,
  [id, generated]: GeneratedMeterReading,
  written: EspiWriteMeterReading,
): Expected[] {
  const [unit, shift] = defined(UNIT_OF_UOM[generated.uom], 'a unit for the uom');
  const commodity = defined(
    COMMODITY_OF_READING_TYPE[generated.commodity ?? ''] ??
      COMMODITY_OF_SERVICE_KIND[usagePoint.serviceKind ?? ''] ??
      COMMODITY_OF_UNIT[unit],
    'a commodity',
  );
  const channel = id + (generated.flowDirection === '19' ? '.reverse' : '');
  const exponent = (generated.powerOfTenMultiplier ?? 0) + shift;
  return generated.blocks.flatMap((block, blockIndex) =>
    block.readings.map((reading, at) => ({
      candidate: {
        meterId,
        channel,
        intervalStartMs: (block.firstHour * SECONDS_PER_HOUR + at * SECONDS_PER_HOUR) * 1000,
        intervalSeconds: SECONDS_PER_HOUR,
        commodity,
        unit,
        value: scaledDecimal(reading.value, exponent),
        ...qualityOf(reading.qualities),
        statusCode: 0,
        seq: seqOf(block.updated),
      },
      written: defined(written.intervalBlocks[blockIndex]?.readings[at], 'the written reading'),
    })),
  );
}

function defined<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`the test's own tables lack ${what}`);
  return value;
}

function qualityOf(codes: readonly string[]): { quality: Quality; qualityDetail: string | null } {
  const qualities = codes.map((code) => QUALITY_OF_CODE[code]);
  const quality = qualities.includes('estimated')
    ? 'estimated'
    : qualities.includes('substituted')
      ? 'substituted'
      : 'actual';
  const detail = [...new Set(codes)].map((code) => `q${code}`).join(' ');
  return { quality, qualityDetail: detail === '' ? null : detail };
}

const encoder = new TextEncoder();

function parse(bytes: Uint8Array, cuts: readonly number[] = []): ParseItem[] {
  return pushSplit(createGreenButtonParser(), bytes, cuts);
}

const candidates = candidatesOf;

/** Cut points: a few anywhere, or every `step` bytes (down to single bytes). */
const cutsArbitrary = fc.oneof(
  fc.record({ kind: fc.constant('anywhere' as const), at: fc.array(fc.nat(), { maxLength: 20 }) }),
  fc.record({ kind: fc.constant('every' as const), step: fc.integer({ min: 1, max: 97 }) }),
);

type Cuts = typeof cutsArbitrary extends fc.Arbitrary<infer T> ? T : never;

function cutPoints(cuts: Cuts, length: number): number[] {
  if (cuts.kind === 'anywhere') return cuts.at.map((at) => at % (length + 1));
  return Array.from(
    { length: Math.floor(length / cuts.step) },
    (_, index) => (index + 1) * cuts.step,
  );
}

describe('Green Button round trip through the ESPI writer', () => {
  it('parses any written feed to exactly the readings its spec implies, and nothing else', () => {
    fc.assert(
      fc.property(generatedArbitrary, ({ spec, options, expected }) => {
        const items = parse(encoder.encode(writeEspiFeed(spec, options)));
        expect(items.filter((item) => item.kind !== 'candidate')).toEqual([]);
        const got = candidates(items).map(({ location: _location, ...fields }) => fields);
        expect(got).toEqual(expected.map((each) => each.candidate));
      }),
      { numRuns: 150 },
    );
  });

  it('gives identical items split anywhere, each located at its own IntervalReading', () => {
    fc.assert(
      fc.property(generatedArbitrary, cutsArbitrary, ({ spec, options, expected }, cuts) => {
        const text = writeEspiFeed(spec, options);
        const bytes = encoder.encode(text);
        const whole = parse(bytes);
        expect(parse(bytes, cutPoints(cuts, bytes.length))).toEqual(whole);
        const found = candidates(whole);
        expect(found).toHaveLength(expected.length);
        const prefix = options.espiNamespace === 'prefixed' ? 'espi:' : '';
        const decoder = new TextDecoder();
        for (const [index, candidate] of found.entries()) {
          const { recordIndex, line, byteOffset, byteLength } = candidate.location;
          expect(recordIndex).toBe(index);
          const before = decoder.decode(bytes.subarray(0, byteOffset));
          expect(line).toBe(before.split('\n').length);
          const own = decoder.decode(bytes.subarray(byteOffset, byteOffset + byteLength));
          const name = `${prefix}IntervalReading`;
          expect(own.startsWith(`<${name}>`)).toBe(true);
          expect(own.endsWith(`</${name}>`)).toBe(true);
          expect(own.split(`<${name}>`)).toHaveLength(2);
          const written = expected[index]?.written;
          expect(own).toContain(`<${prefix}value>${written?.value}</${prefix}value>`);
          expect(own).toContain(`<${prefix}start>${written?.start}</${prefix}start>`);
        }
      }),
      { numRuns: 150 },
    );
  });
});
