/**
 * The public Green Button fixtures (test/fixtures/greenbutton) and their oracle files, for the
 * reader's, the parser's and the pipeline's tests. Each oracle line is one interval as the
 * greenbutton_objects project printed it: start in UTC, duration as a Python timedelta, value
 * scaled by the ReadingType's multiplier in Python's `%g`, unit, cost and quality when present.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const GREEN_BUTTON_FIXTURES = fileURLToPath(
  new URL('../../../test/fixtures/greenbutton/', import.meta.url),
);

/** The input files, by name (`electric_containerized.xml`...). */
export const GREEN_BUTTON_INPUT_NAMES = readdirSync(`${GREEN_BUTTON_FIXTURES}input`)
  .filter((name) => name.endsWith('.xml'))
  .sort();

export function greenButtonInput(name: string): Buffer {
  return readFileSync(`${GREEN_BUTTON_FIXTURES}input/${name}`);
}

/** The oracle's intervals for an input file. */
export function greenButtonExpected(name: string): OracleInterval[] {
  const path = `${GREEN_BUTTON_FIXTURES}expected/${name.replace(/\.xml$/, '.txt')}`;
  return parseOracle(readFileSync(path, 'utf8'));
}

export interface OracleInterval {
  startUtc: string;
  duration: string;
  value: string;
  unit: string;
  cost: string | null;
  quality: string | null;
}

// "    2014-01-01 05:00:00+00:00, 1:00:00: 273 Wh($0.00819) [VALIDATED]", cost, quality optional.
const ORACLE_LINE = new RegExp(
  String.raw`^ {4}(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\+00:00, (.+?): (\S+) (\S+?)` +
    String.raw`(?:\(\$(\S+)\))?(?: \[(\w+)\])?$`,
);

export function parseOracle(text: string): OracleInterval[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith('    '))
    .map((line) => {
      const match = ORACLE_LINE.exec(line);
      if (match === null) throw new Error(`oracle line not understood: ${line}`);
      const [, startUtc = '', duration = '', value = '', unit = '', cost, quality] = match;
      return {
        startUtc,
        duration,
        value,
        unit,
        cost: cost === undefined ? null : canonicalDecimal(cost),
        quality: quality ?? null,
      };
    });
}

export function canonicalDecimal(text: string): string {
  return text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text;
}

/** Python's `%g`: six significant digits, trailing zeros dropped. */
export function formatG(value: number): string {
  const rounded = Number(value.toPrecision(6));
  const magnitude = Math.abs(rounded);
  if (rounded === 0 || (magnitude >= 1e-4 && magnitude < 1e6)) return String(rounded);
  const [mantissa = '', exponent = ''] = rounded.toExponential(5).split('e');
  const digits = exponent.replace(/^([+-])(\d)$/, '$10$2');
  return `${canonicalDecimal(mantissa)}e${digits}`;
}

/** Python's `str(timedelta(seconds=n))`. */
export function formatTimedelta(seconds: number): string {
  const days = Math.floor(seconds / 86_400);
  const rest = seconds - days * 86_400;
  const clock = `${Math.floor(rest / 3600)}:${pad2(Math.floor(rest / 60) % 60)}:${pad2(rest % 60)}`;
  return days === 0 ? clock : `${days} day${days === 1 ? '' : 's'}, ${clock}`;
}

function pad2(value: number): string {
  return String(value).padStart(2, '0');
}

/** An instant in milliseconds as the oracle prints it: `2014-01-01 05:00:00`. */
export function oracleUtcText(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

// Hand-written deliveries: an Atom feed built from entries, each resource in its own entry and
// linked by hrefs as ESPI feeds do.

export interface EntryLinks {
  self: string;
  up?: string;
  related?: readonly string[];
  updated?: string;
}

export interface ReadingSpec {
  start: string;
  duration?: string;
  value?: string;
  qualities?: readonly string[];
}

export function atomFeed(entries: readonly string[]): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">\n' +
    `${entries.join('')}</feed>\n`
  );
}

export function atomEntry(links: EntryLinks, content: string): string {
  const related = (links.related ?? []).map((href) => `<link rel="related" href="${href}"/>`);
  return (
    `<entry><link rel="self" href="${links.self}"/>` +
    (links.up === undefined ? '' : `<link rel="up" href="${links.up}"/>`) +
    related.join('') +
    (links.updated === undefined ? '' : `<updated>${links.updated}</updated>`) +
    `<content>${content}</content></entry>\n`
  );
}

export function usagePointContent(serviceKind: string | null): string {
  const kind =
    serviceKind === null ? '' : `<ServiceCategory><kind>${serviceKind}</kind></ServiceCategory>`;
  return `<UsagePoint xmlns="http://naesb.org/espi">${kind}</UsagePoint>`;
}

export function meterReadingContent(): string {
  return '<MeterReading xmlns="http://naesb.org/espi"/>';
}

export function readingTypeContent(fields: Readonly<Record<string, string>>): string {
  const elements = Object.entries(fields).map(([name, value]) => `<${name}>${value}</${name}>`);
  return `<ReadingType xmlns="http://naesb.org/espi">${elements.join('')}</ReadingType>`;
}

export function intervalReading(spec: ReadingSpec): string {
  const qualities = (spec.qualities ?? []).map(
    (code) => `<ReadingQuality><quality>${code}</quality></ReadingQuality>`,
  );
  const duration = spec.duration === undefined ? '' : `<duration>${spec.duration}</duration>`;
  return (
    `\n  <IntervalReading>${qualities.join('')}<timePeriod>${duration}` +
    `<start>${spec.start}</start></timePeriod>` +
    (spec.value === undefined ? '' : `<value>${spec.value}</value>`) +
    '</IntervalReading>'
  );
}

export function intervalBlockContent(readings: readonly ReadingSpec[]): string {
  return (
    `<IntervalBlock xmlns="http://naesb.org/espi">${readings.map(intervalReading).join('')}\n` +
    '</IntervalBlock>'
  );
}

/**
 * One UsagePoint with one MeterReading, its ReadingType and one IntervalBlock of the readings, in
 * the order ESPI feeds usually send them, under `Customer/<customer>/UsagePoint/<point>`.
 */
export function simpleFeed(options: {
  customer?: string;
  point?: string;
  serviceKind?: string | null;
  readingType?: Readonly<Record<string, string>>;
  readings: readonly ReadingSpec[];
  updated?: string;
}): string {
  const usagePoint = `Customer/${options.customer ?? '7'}/UsagePoint/${options.point ?? '1'}`;
  const meterReading = `${usagePoint}/MeterReading/01`;
  const blockLinks: EntryLinks = {
    self: `${meterReading}/IntervalBlock/1`,
    up: `${meterReading}/IntervalBlock`,
    ...(options.updated === undefined ? {} : { updated: options.updated }),
  };
  return atomFeed([
    atomEntry(
      { self: usagePoint, related: [`${usagePoint}/MeterReading`] },
      usagePointContent(options.serviceKind === undefined ? '0' : options.serviceKind),
    ),
    atomEntry(
      {
        self: meterReading,
        up: `${usagePoint}/MeterReading`,
        related: [`${meterReading}/IntervalBlock`, 'ReadingType/1'],
      },
      meterReadingContent(),
    ),
    atomEntry(
      { self: 'ReadingType/1' },
      readingTypeContent(options.readingType ?? { powerOfTenMultiplier: '0', uom: '72' }),
    ),
    atomEntry(blockLinks, intervalBlockContent(options.readings)),
  ]);
}
