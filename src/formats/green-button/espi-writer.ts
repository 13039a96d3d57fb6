/**
 * A small Green Button (ESPI) writer. It exists for tests and benchmarks (the product reads ESPI,
 * never writes it): it lays out a containerized Atom feed, one resource per entry, linked by
 * `self`, `up` and `related` hrefs as data custodians' feeds are (see
 * test/fixtures/greenbutton/input/electric_containerized.xml). A round trip through it shows that
 * the parser returns exactly the readings written.
 *
 * It writes what it is given, as given: codes, epoch seconds, values and dates are already
 * protocol text, and nothing is converted, scaled or checked against ESPI's rules. Text and
 * attribute values are escaped, so any string stays well-formed XML.
 *
 * Layout, for each UsagePoint in order: its entry (ServiceCategory kind), then for each of its
 * MeterReadings the MeterReading entry, its ReadingType entry (unless placed last, see
 * EspiWriteOptions) and its IntervalBlock entries. Hrefs are `<hrefRoot>/<usagePoint.path>`,
 * `.../MeterReading/<id>`, `.../IntervalBlock/<id>` and `<hrefRoot>/ReadingType/<id>`; the
 * MeterReading names its IntervalBlock collection and its ReadingType in `related` links, and the
 * UsagePoint its MeterReading collection. Each entry's `updated` follows its content, as in the
 * public samples, so a reader meets the readings before the date that versions them.
 */
import { ATOM_NAMESPACE, ESPI_NAMESPACE } from './green-button.js';

/** One IntervalReading; a null duration is left out (the ReadingType's intervalLength holds). */
export interface EspiWriteReading {
  /** timePeriod start, epoch seconds as text. */
  start: string;
  duration: string | null;
  value: string;
  /** ReadingQuality quality codes, one ReadingQuality element each, in order. */
  qualities: readonly string[];
}

export interface EspiWriteIntervalBlock {
  /** Last segment of the block's `self` href. */
  id: string;
  /** The block entry's Atom `updated`, as text. */
  updated: string;
  /** The block's own interval, epoch seconds and seconds as text. */
  intervalStart: string;
  intervalDuration: string;
  readings: readonly EspiWriteReading[];
}

/** ReadingType fields, each left out when null. Written in the schema's element order. */
export interface EspiWriteReadingType {
  /** Last segment of the ReadingType's `self` href; unique within a feed. */
  id: string;
  accumulationBehaviour: string | null;
  commodity: string | null;
  flowDirection: string | null;
  intervalLength: string | null;
  powerOfTenMultiplier: string | null;
  uom: string | null;
}

export interface EspiWriteMeterReading {
  /** Last segment of the MeterReading's `self` href (`01`); unique within its UsagePoint. */
  id: string;
  readingType: EspiWriteReadingType;
  intervalBlocks: readonly EspiWriteIntervalBlock[];
}

export interface EspiWriteUsagePoint {
  /** Path of the UsagePoint under hrefRoot: `RetailCustomer/3/UsagePoint/1`. */
  path: string;
  title: string;
  /** ServiceCategory kind (0 electricity, 1 gas, 2 water); null leaves ServiceCategory out. */
  serviceKind: string | null;
  meterReadings: readonly EspiWriteMeterReading[];
}

export interface EspiFeedSpec {
  /** Prefix of every href, no trailing slash: `https://host/DataCustodian/espi/1_1/resource`. */
  hrefRoot: string;
  /** The feed's `updated`, also used for the UsagePoint, MeterReading and ReadingType entries. */
  updated: string;
  usagePoints: readonly EspiWriteUsagePoint[];
}

export interface EspiWriteOptions {
  /**
   * Where ReadingType entries go: right after their MeterReading's entry, before its blocks (the
   * default, as the public samples do), or all at the end of the feed, after every block.
   */
  readingTypes?: 'before-blocks' | 'after-blocks';
  /**
   * ESPI elements in a default namespace declared on each resource (the default, as the public
   * samples do) or with the `espi:` prefix declared on the feed.
   */
  espiNamespace?: 'default' | 'prefixed';
  /** Atom elements in the feed's default namespace (the default) or with the `atom:` prefix. */
  atomNamespace?: 'default' | 'prefixed';
}

interface Names {
  atom: (local: string) => string;
  espi: (local: string) => string;
  /** The attribute that declares the ESPI namespace on a resource element, or ''. */
  resourceXmlns: string;
}

interface EntryText {
  self: string;
  up: string;
  related: readonly string[];
  title: string;
  updated: string;
  content: string;
}

/** The text of a feed holding `spec`, laid out as the header says; encode it as UTF-8. */
export function writeEspiFeed(spec: EspiFeedSpec, options: EspiWriteOptions = {}): string {
  const names = namesOf(options);
  const entries: EntryText[] = [];
  const readingTypes: EntryText[] = [];
  const readingTypesLast = options.readingTypes === 'after-blocks';
  for (const usagePoint of spec.usagePoints) {
    entries.push(usagePointEntry(spec, usagePoint, names));
    for (const meterReading of usagePoint.meterReadings) {
      const meterReadingEntryText = meterReadingEntry(spec, usagePoint, meterReading, names);
      entries.push(meterReadingEntryText);
      const readingType = readingTypeEntry(spec, meterReading.readingType, names);
      (readingTypesLast ? readingTypes : entries).push(readingType);
      for (const block of meterReading.intervalBlocks) {
        entries.push(intervalBlockEntry(meterReadingEntryText.self, block, names));
      }
    }
  }
  return feedText(spec, [...entries, ...readingTypes], names, options);
}

function namesOf(options: EspiWriteOptions): Names {
  const espiPrefixed = options.espiNamespace === 'prefixed';
  const atomPrefixed = options.atomNamespace === 'prefixed';
  return {
    atom: (local) => (atomPrefixed ? `atom:${local}` : local),
    espi: (local) => (espiPrefixed ? `espi:${local}` : local),
    resourceXmlns: espiPrefixed ? '' : ` xmlns="${ESPI_NAMESPACE}"`,
  };
}

function feedText(
  spec: EspiFeedSpec,
  entries: readonly EntryText[],
  names: Names,
  options: EspiWriteOptions,
): string {
  const atomXmlns =
    options.atomNamespace === 'prefixed'
      ? ` xmlns:atom="${ATOM_NAMESPACE}"`
      : ` xmlns="${ATOM_NAMESPACE}"`;
  const espiXmlns = options.espiNamespace === 'prefixed' ? ` xmlns:espi="${ESPI_NAMESPACE}"` : '';
  const feed = names.atom('feed');
  const head = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<${feed}${atomXmlns}${espiXmlns}>`,
    `  ${element(names.atom('id'), 'urn:uuid:00000000-0000-4000-8000-000000000000')}`,
    `  ${element(names.atom('title'), 'Green Button Subscription Feed')}`,
    `  ${element(names.atom('updated'), spec.updated)}`,
  ];
  const body = entries.map((entry, index) => entryText(entry, index + 1, names));
  return `${[...head, ...body, `</${feed}>`].join('\n')}\n`;
}

function entryText(entry: EntryText, ordinal: number, names: Names): string {
  const link = names.atom('link');
  const links = [
    `<${link} rel="self" href="${escape(entry.self)}"/>`,
    `<${link} rel="up" href="${escape(entry.up)}"/>`,
    ...entry.related.map((href) => `<${link} rel="related" href="${escape(href)}"/>`),
  ];
  const id = `urn:uuid:00000000-0000-4000-8000-${ordinal.toString(16).padStart(12, '0')}`;
  const lines = [
    `  <${names.atom('entry')}>`,
    `    ${element(names.atom('id'), id)}`,
    ...links.map((text) => `    ${text}`),
    `    ${element(names.atom('title'), entry.title)}`,
    `    <${names.atom('content')}>`,
    entry.content,
    `    </${names.atom('content')}>`,
    `    ${element(names.atom('updated'), entry.updated)}`,
    `  </${names.atom('entry')}>`,
  ];
  return lines.join('\n');
}

function usagePointHref(spec: EspiFeedSpec, usagePoint: EspiWriteUsagePoint): string {
  return `${spec.hrefRoot}/${usagePoint.path}`;
}

function usagePointEntry(
  spec: EspiFeedSpec,
  usagePoint: EspiWriteUsagePoint,
  names: Names,
): EntryText {
  const self = usagePointHref(spec, usagePoint);
  const up = self.slice(0, self.lastIndexOf('/'));
  const name = names.espi('UsagePoint');
  const category =
    usagePoint.serviceKind === null
      ? []
      : [
          `        <${names.espi('ServiceCategory')}>`,
          `          ${element(names.espi('kind'), usagePoint.serviceKind)}`,
          `        </${names.espi('ServiceCategory')}>`,
        ];
  const content = [`      <${name}${names.resourceXmlns}>`, ...category, `      </${name}>`];
  return {
    self,
    up,
    related: [`${self}/MeterReading`],
    title: usagePoint.title,
    updated: spec.updated,
    content: content.join('\n'),
  };
}

function meterReadingEntry(
  spec: EspiFeedSpec,
  usagePoint: EspiWriteUsagePoint,
  meterReading: EspiWriteMeterReading,
  names: Names,
): EntryText {
  const up = `${usagePointHref(spec, usagePoint)}/MeterReading`;
  const self = `${up}/${meterReading.id}`;
  return {
    self,
    up,
    related: [`${self}/IntervalBlock`, readingTypeHref(spec, meterReading.readingType)],
    title: 'Interval Consumption',
    updated: spec.updated,
    // A MeterReading carries no fields of its own: its links say everything.
    content: `      <${names.espi('MeterReading')}${names.resourceXmlns}/>`,
  };
}

function readingTypeHref(spec: EspiFeedSpec, readingType: EspiWriteReadingType): string {
  return `${spec.hrefRoot}/ReadingType/${readingType.id}`;
}

function readingTypeEntry(
  spec: EspiFeedSpec,
  readingType: EspiWriteReadingType,
  names: Names,
): EntryText {
  const fields = [
    ['accumulationBehaviour', readingType.accumulationBehaviour],
    ['commodity', readingType.commodity],
    ['flowDirection', readingType.flowDirection],
    ['intervalLength', readingType.intervalLength],
    ['powerOfTenMultiplier', readingType.powerOfTenMultiplier],
    ['uom', readingType.uom],
  ] as const;
  const name = names.espi('ReadingType');
  const content = [
    `      <${name}${names.resourceXmlns}>`,
    ...fields.flatMap(([field, value]) =>
      value === null ? [] : [`        ${element(names.espi(field), value)}`],
    ),
    `      </${name}>`,
  ];
  return {
    self: readingTypeHref(spec, readingType),
    up: `${spec.hrefRoot}/ReadingType`,
    related: [],
    title: 'Type of Meter Reading Data',
    updated: spec.updated,
    content: content.join('\n'),
  };
}

function intervalBlockEntry(
  meterReadingSelf: string,
  block: EspiWriteIntervalBlock,
  names: Names,
): EntryText {
  const up = `${meterReadingSelf}/IntervalBlock`;
  const name = names.espi('IntervalBlock');
  const content = [
    `      <${name}${names.resourceXmlns}>`,
    `        <${names.espi('interval')}>`,
    `          ${element(names.espi('duration'), block.intervalDuration)}`,
    `          ${element(names.espi('start'), block.intervalStart)}`,
    `        </${names.espi('interval')}>`,
    ...block.readings.map((reading) => intervalReadingText(reading, names)),
    `      </${name}>`,
  ];
  return {
    self: `${up}/${block.id}`,
    up,
    related: [],
    title: '',
    updated: block.updated,
    content: content.join('\n'),
  };
}

/** One IntervalReading element, children in the schema's order, indented as in the samples. */
function intervalReadingText(reading: EspiWriteReading, names: Names): string {
  const name = names.espi('IntervalReading');
  const qualities = reading.qualities.map(
    (code) =>
      `          <${names.espi('ReadingQuality')}>` +
      element(names.espi('quality'), code) +
      `</${names.espi('ReadingQuality')}>`,
  );
  const duration =
    reading.duration === null
      ? []
      : [`            ${element(names.espi('duration'), reading.duration)}`];
  return [
    `        <${name}>`,
    ...qualities,
    `          <${names.espi('timePeriod')}>`,
    ...duration,
    `            ${element(names.espi('start'), reading.start)}`,
    `          </${names.espi('timePeriod')}>`,
    `          ${element(names.espi('value'), reading.value)}`,
    `        </${name}>`,
  ].join('\n');
}

function element(name: string, text: string): string {
  return `<${name}>${escape(text)}</${name}>`;
}

function escape(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;');
}
