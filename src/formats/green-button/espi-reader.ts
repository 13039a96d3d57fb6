/**
 * Reads Green Button (ESPI) Atom feeds and direct ESPI documents into the event model of
 * green-button.ts, incrementally, with saxes. Bytes are decoded with a streaming UTF-8 decoder,
 * screened by the markup guard (DOCTYPE, token length), then parsed; resources are recognised by
 * local name in the ESPI namespace, or in no namespace, wherever they sit. The guard also counts
 * bytes and marks where tags start and end, which gives each IntervalReading its exact bytes.
 */
import { SaxesParser, type SaxesTagNS } from 'saxes';
import {
  ATOM_NAMESPACE,
  ESPI_NAMESPACE,
  LOCAL_TIME_PARAMETERS_FIELDS,
  READING_TYPE_FIELDS,
  type EntryRef,
  type EspiEvent,
  type EspiProblemCode,
  type EspiReader,
  type EspiToleratedCode,
  type FieldValues,
  type TextPosition,
} from './green-button.js';
import { createMarkupGuard, type TagMark } from './markup-guard.js';
import { decodeUtf8, incompleteTailLength, validUtf8Prefix } from '../bytes.js';

/** Deepest element nesting read; real feeds need about 10 levels. */
export const ELEMENT_DEPTH_MAX = 64;
/** Elements per delivery; a year of 5-minute readings with their markup is about 10^6. */
export const ELEMENTS_PER_DELIVERY_MAX = 20_000_000;
/** Longest text node, tag (with attributes), comment or CDATA section, in characters (1 MiB). */
export const TOKEN_CHARS_MAX = 1_048_576;
/** Unbound namespace prefixes reported; later ones are accepted silently. */
const UNBOUND_PREFIX_NOTES_MAX = 16;
const UNBOUND_NAMESPACE = 'urn:amisync:unbound-prefix:';

export interface EspiReaderLimits {
  elementDepthMax: number;
  elementsPerDeliveryMax: number;
  tokenCharsMax: number;
}

export const DEFAULT_ESPI_READER_LIMITS: Readonly<EspiReaderLimits> = {
  elementDepthMax: ELEMENT_DEPTH_MAX,
  elementsPerDeliveryMax: ELEMENTS_PER_DELIVERY_MAX,
  tokenCharsMax: TOKEN_CHARS_MAX,
};

type CollectorKind =
  | 'ReadingType'
  | 'LocalTimeParameters'
  | 'UsagePoint'
  | 'MeterReading'
  | 'IntervalBlock'
  | 'IntervalReading';

/** The leaf paths, relative to each resource element, whose text is kept. */
const FIELD_PATHS: Record<CollectorKind, ReadonlySet<string>> = {
  ReadingType: new Set(READING_TYPE_FIELDS),
  LocalTimeParameters: new Set(LOCAL_TIME_PARAMETERS_FIELDS),
  UsagePoint: new Set(['ServiceCategory/kind', 'status']),
  MeterReading: new Set(),
  IntervalBlock: new Set(['interval/start', 'interval/duration']),
  IntervalReading: new Set([
    'value',
    'cost',
    'timePeriod/start',
    'timePeriod/duration',
    'ReadingQuality/quality',
  ]),
};
const ENTRY_CHILDREN = new Set(['id', 'title', 'link', 'updated']);
const EPOCH_PATHS = new Set(['interval/start', 'timePeriod/start']);
const FRACTIONAL_PATTERN = /^[+-]?\d+\.\d+$/;
const INTEGER_PATTERN = /^[+-]?\d+$/;
const BYTE_ORDER_MARK = '\ufeff';
const BYTE_ORDER_MARK_BYTES = 3;

interface Collector {
  kind: CollectorKind;
  fields: Map<string, string>;
  qualities: string[];
  position: TextPosition;
  /** The `<` of the element's start tag. */
  start: TagMark;
  /** Ordinal among elements of its kind, for UsagePoint and MeterReading; else null. */
  ordinal: number | null;
  blockIndex: number | null;
  blockEmitted: boolean;
  readingCount: number;
  /** An IntervalReading already emitted because another began before its end tag. */
  readingEmitted: boolean;
}

interface Frame {
  /** Path relative to the innermost collector: '' at the collector, null outside any. */
  relativePath: string | null;
  /** Text is kept only for fields of interest, so memory stays bounded by the token limit. */
  text: string[] | null;
  entryField: 'id' | 'title' | 'updated' | null;
  opensCollector: boolean;
  opensEntry: boolean;
}

interface EntryState {
  ref: EntryRef;
  deferred: EspiEvent[];
}

/** Thrown inside saxes handlers to abandon the rest of a chunk at once; never escapes. */
class ReadingStopped extends Error {}

export function createEspiReader(limits: Partial<EspiReaderLimits> = {}): EspiReader {
  const resolved: EspiReaderLimits = { ...DEFAULT_ESPI_READER_LIMITS, ...limits };
  /** The start of a UTF-8 sequence that the last chunk cut, for the next one to complete. */
  let carried = new Uint8Array(0);
  const guard = createMarkupGuard(resolved.tokenCharsMax);
  const unboundPrefixes = new Set<string>();
  const parser = new SaxesParser({
    xmlns: true,
    position: true,
    resolvePrefix: (prefix: string) => {
      if (unboundPrefixes.size < UNBOUND_PREFIX_NOTES_MAX && !unboundPrefixes.has(prefix)) {
        unboundPrefixes.add(prefix);
        tolerate(
          'namespace.unbound_prefix',
          `The namespace prefix "${prefix}" is not declared; its elements are read by local name.`,
        );
      }
      return UNBOUND_NAMESPACE + prefix;
    },
  });
  const frames: Frame[] = [];
  const collectors: Collector[] = [];
  let out: EspiEvent[] = [];
  let stopped = false;
  let elementCount = 0;
  let entryCount = 0;
  let blockCount = 0;
  let usagePointCount = 0;
  let meterReadingCount = 0;
  let entry: EntryState | null = null;
  let textStarted = false;
  let startTag: TagMark = { byteOffset: 0, line: 1 };
  let emptyTagEnd: TagMark = startTag;
  /** Where the last start or end tag ended. */
  let lastTagEnd: TagMark = startTag;

  function here(): TextPosition {
    return { line: parser.line, column: parser.column };
  }

  function tolerate(code: EspiToleratedCode, message: string): void {
    out.push({ kind: 'tolerated', code, message, position: here() });
  }

  function problem(code: EspiProblemCode, message: string, position = here()): void {
    out.push({ kind: 'problem', code, message, fatal: false, position });
  }

  function stop(code: EspiProblemCode, message: string, position = here()): never {
    out.push({ kind: 'problem', code, message, fatal: true, position });
    stopped = true;
    throw new ReadingStopped(code);
  }

  parser.on('xmldecl', (declaration) => {
    const encoding = declaration.encoding;
    if (encoding !== undefined && !/^utf-?8$/i.test(encoding)) {
      stop('xml.encoding', `The document declares encoding "${encoding}"; only UTF-8 is read.`);
    }
  });
  parser.on('doctype', () => {
    stop('xml.doctype', 'The document has a DOCTYPE declaration; DOCTYPEs are refused.');
  });
  parser.on('error', (error) => {
    // The XML parser notices text that breaks the XML where its run of text ends: at the next tag,
    // or at the end of the piece it was given. Its own line and column would then depend on where
    // the delivery's chunks were cut; the last tag read before does not.
    const reason = error.message.replace(/^\d+:\d+: /, '');
    const where =
      lastTagEnd.byteOffset === 0 ? 'before its first tag' : 'after the tag that ends on this line';
    const position = { line: lastTagEnd.line, column: 0 };
    stop('xml.syntax', `The XML is not well-formed ${where}: ${reason}`, position);
  });
  parser.on('opentagstart', () => {
    startTag = guard.takeStartTag();
    elementCount += 1;
    if (frames.length + 1 > resolved.elementDepthMax) {
      stop(
        'limit.depth',
        `Elements are nested more than ${resolved.elementDepthMax} deep; ` +
          'the delivery is not read further.',
      );
    }
    if (elementCount > resolved.elementsPerDeliveryMax) {
      stop(
        'limit.elements',
        `The delivery has more than ${resolved.elementsPerDeliveryMax} elements; ` +
          'it is not read further.',
      );
    }
  });
  parser.on('opentag', (tag) => {
    const end = guard.takeTagEnd();
    if (tag.isSelfClosing) emptyTagEnd = end;
    frames.push(openFrame(tag));
    lastTagEnd = end;
  });
  parser.on('text', (text) => appendText(text));
  parser.on('cdata', (text) => appendText(text));
  parser.on('closetag', (tag) => {
    const end = tag.isSelfClosing ? emptyTagEnd : guard.takeTagEnd();
    closeFrame(tag, end);
    lastTagEnd = end;
  });

  function appendText(text: string): void {
    frames.at(-1)?.text?.push(text);
  }

  function openFrame(tag: SaxesTagNS): Frame {
    const parent = frames.at(-1);
    const frame: Frame = {
      relativePath: null,
      text: null,
      entryField: null,
      opensCollector: false,
      opensEntry: false,
    };
    if (isAtom(tag) && tag.local === 'entry' && entry === null) {
      frame.opensEntry = true;
      entry = { ref: emptyEntry(entryCount), deferred: [] };
      entryCount += 1;
      return frame;
    }
    if (parent?.opensEntry === true && isAtom(tag) && ENTRY_CHILDREN.has(tag.local)) {
      openEntryChild(tag, frame);
      return frame;
    }
    if (isEspi(tag) && isCollectorKind(tag.local)) {
      openCollector(tag.local);
      frame.opensCollector = true;
      frame.relativePath = '';
      return frame;
    }
    const parentPath = parent?.relativePath ?? null;
    if (parentPath !== null && isEspi(tag)) {
      frame.relativePath = parentPath === '' ? tag.local : `${parentPath}/${tag.local}`;
      const collector = collectors.at(-1);
      if (collector !== undefined && FIELD_PATHS[collector.kind].has(frame.relativePath)) {
        frame.text = [];
      }
    }
    return frame;
  }

  function openEntryChild(tag: SaxesTagNS, frame: Frame): void {
    if (tag.local === 'id' || tag.local === 'title' || tag.local === 'updated') {
      frame.entryField = tag.local;
      frame.text = [];
    }
    if (tag.local !== 'link' || entry === null) return;
    const rel = attributeValue(tag, 'rel');
    const href = attributeValue(tag, 'href');
    if (href === null) return;
    if (rel === 'self') entry.ref.selfHref = href;
    else if (rel === 'up') entry.ref.upHref = href;
    else if (rel === 'related') entry.ref.relatedHrefs.push(href);
  }

  function openCollector(kind: CollectorKind): void {
    if (kind === 'IntervalReading') endUnclosedReading();
    const enclosing = collectors.at(-1);
    if (kind === 'ReadingType' && enclosing?.kind === 'MeterReading') {
      tolerate(
        'reading_type.nested',
        'A ReadingType is nested inside a MeterReading instead of its own entry; ' +
          'it applies to that MeterReading.',
      );
    }
    const collector: Collector = {
      kind,
      fields: new Map(),
      qualities: [],
      position: here(),
      start: startTag,
      ordinal: null,
      blockIndex: null,
      blockEmitted: false,
      readingCount: 0,
      readingEmitted: false,
    };
    if (kind === 'IntervalBlock') {
      collector.blockIndex = blockCount;
      blockCount += 1;
    } else if (kind === 'UsagePoint') {
      collector.ordinal = usagePointCount;
      usagePointCount += 1;
    } else if (kind === 'MeterReading') {
      collector.ordinal = meterReadingCount;
      meterReadingCount += 1;
    }
    collectors.push(collector);
  }

  /**
   * IntervalReadings never nest, so one that begins inside another means the outer one lost its
   * end tag. The outer one is emitted at once, with a problem, ending where its last tag ended:
   * readings stay in byte order and no reading's bytes hold another's.
   */
  function endUnclosedReading(): void {
    const outer = collectors.findLast(
      (collector) => collector.kind === 'IntervalReading' && !collector.readingEmitted,
    );
    if (outer === undefined) return;
    problem(
      'reading.unclosed',
      `An IntervalReading has no end tag before the IntervalReading at line ${startTag.line}; ` +
        'it is read up to its last tag.',
      outer.position,
    );
    emitReading(outer, lastTagEnd);
    outer.readingEmitted = true;
  }

  function closeFrame(tag: SaxesTagNS, end: TagMark): void {
    const frame = frames.pop();
    if (frame === undefined) return;
    if (frame.opensEntry) closeEntry();
    else if (frame.opensCollector) closeCollector(end);
    else if (frame.text !== null) closeField(tag, frame, frame.text.join('').trim());
    // An IntervalBlock's interval precedes its readings, so the block is emitted when it closes.
    const collector = collectors.at(-1);
    if (frame.relativePath === 'interval' && collector?.kind === 'IntervalBlock') {
      emitBlock(collector);
    }
  }

  function closeField(tag: SaxesTagNS, frame: Frame, text: string): void {
    if (frame.entryField !== null) {
      if (entry !== null && text !== '') entry.ref[frame.entryField] = text;
      return;
    }
    const collector = collectors.at(-1);
    const path = frame.relativePath;
    if (collector === undefined || path === null) return;
    if (text === '') {
      tolerate(
        'element.empty',
        `The ${collector.kind} element ${tag.local} is empty; it is read as absent.`,
      );
      return;
    }
    if (EPOCH_PATHS.has(path) && FRACTIONAL_PATTERN.test(text)) {
      tolerate(
        'epoch.fractional',
        `The ${collector.kind} ${path} "${text}" has a fraction of a second; it is kept as sent.`,
      );
    }
    if (path === 'ReadingQuality/quality') collector.qualities.push(text);
    else collector.fields.set(path, text);
  }

  function closeCollector(end: TagMark): void {
    const collector = collectors.pop();
    if (collector === undefined) return;
    switch (collector.kind) {
      case 'IntervalReading':
        if (!collector.readingEmitted) emitReading(collector, end);
        return;
      case 'IntervalBlock':
        emitBlock(collector);
        return;
      case 'ReadingType':
      case 'LocalTimeParameters':
      case 'UsagePoint':
      case 'MeterReading':
        emitResource(resourceEvent(collector));
        return;
      default:
        unreachable(collector.kind);
    }
  }

  function resourceEvent(collector: Collector): EspiEvent {
    const entryRef = entry?.ref ?? null;
    const position = collector.position;
    switch (collector.kind) {
      case 'ReadingType':
        if (collector.fields.size === 0) {
          tolerate('reading_type.empty', 'A ReadingType has no fields; its unit is unknown.');
        }
        return {
          kind: 'readingType',
          entry: entryRef,
          nestedIn: collectors.at(-1)?.kind === 'MeterReading' ? 'MeterReading' : null,
          meterReadingIndex: enclosingOrdinal('MeterReading'),
          fields: pick(collector.fields, READING_TYPE_FIELDS),
          position,
        };
      case 'LocalTimeParameters': {
        const fields = pick(collector.fields, LOCAL_TIME_PARAMETERS_FIELDS);
        return { kind: 'localTimeParameters', entry: entryRef, fields, position };
      }
      case 'UsagePoint':
        return {
          kind: 'usagePoint',
          entry: entryRef,
          usagePointIndex: collector.ordinal ?? 0,
          serviceKind: collector.fields.get('ServiceCategory/kind') ?? null,
          status: collector.fields.get('status') ?? null,
          position,
        };
      default:
        return {
          kind: 'meterReading',
          entry: entryRef,
          meterReadingIndex: collector.ordinal ?? 0,
          usagePointIndex: enclosingOrdinal('UsagePoint'),
          position,
        };
    }
  }

  /** The ordinal of the innermost open element of a kind (the collector itself is popped). */
  function enclosingOrdinal(kind: 'UsagePoint' | 'MeterReading'): number | null {
    return collectors.findLast((collector) => collector.kind === kind)?.ordinal ?? null;
  }

  function emitResource(event: EspiEvent): void {
    if (entry === null) out.push(event);
    else entry.deferred.push(event);
  }

  function emitBlock(block: Collector): void {
    if (block.blockEmitted) return;
    block.blockEmitted = true;
    out.push({
      kind: 'intervalBlock',
      entryIndex: entry?.ref.entryIndex ?? null,
      blockIndex: block.blockIndex ?? 0,
      intervalStartEpochSeconds: block.fields.get('interval/start') ?? null,
      intervalDurationSeconds: block.fields.get('interval/duration') ?? null,
      position: block.position,
    });
  }

  function emitReading(reading: Collector, end: TagMark): void {
    const block = collectors.findLast((collector) => collector.kind === 'IntervalBlock') ?? null;
    const value = reading.fields.get('value') ?? null;
    const start = reading.fields.get('timePeriod/start') ?? null;
    if (value === null) {
      problem('reading.no_value', 'An IntervalReading has no value.', reading.position);
    } else if (!INTEGER_PATTERN.test(value)) {
      const message = `An IntervalReading value "${value}" is not an integer.`;
      problem('reading.value_not_integer', message, reading.position);
    }
    if (start === null) {
      const message = 'An IntervalReading has no timePeriod start.';
      problem('reading.no_time_period', message, reading.position);
    }
    out.push({
      kind: 'intervalReading',
      entryIndex: entry?.ref.entryIndex ?? null,
      blockIndex: block?.blockIndex ?? null,
      readingIndex: block === null ? 0 : block.readingCount,
      startEpochSeconds: start,
      durationSeconds: reading.fields.get('timePeriod/duration') ?? null,
      value,
      cost: reading.fields.get('cost') ?? null,
      qualities: reading.qualities,
      meterReadingIndex: enclosingOrdinal('MeterReading'),
      usagePointIndex: enclosingOrdinal('UsagePoint'),
      byteOffset: reading.start.byteOffset,
      byteLength: end.byteOffset - reading.start.byteOffset,
      line: reading.start.line,
      endLine: end.line,
      position: reading.position,
    });
    if (block !== null) block.readingCount += 1;
  }

  function closeEntry(): void {
    if (entry === null) return;
    out.push({ kind: 'entry', entry: entry.ref }, ...entry.deferred);
    entry = null;
  }

  function feed(decoded: string): void {
    let text = decoded;
    if (!textStarted && text !== '') {
      textStarted = true;
      if (text.startsWith(BYTE_ORDER_MARK)) {
        text = text.slice(BYTE_ORDER_MARK.length);
        guard.skipBytes(BYTE_ORDER_MARK_BYTES);
      }
    }
    const guardStop = guard.scan(text);
    const accepted = guardStop === null ? text : text.slice(0, guardStop.index);
    try {
      if (accepted !== '') parser.write(accepted);
      if (guardStop !== null) stop(guardStop.code, guardStop.message, guardStop.position);
    } catch (error) {
      if (!(error instanceof ReadingStopped)) throw error;
    }
  }

  function take(): EspiEvent[] {
    const events = out;
    out = [];
    return events;
  }

  function push(chunk: Uint8Array): EspiEvent[] {
    if (stopped) return [];
    decodeAndFeed(chunk, true);
    return take();
  }

  function end(): EspiEvent[] {
    if (stopped) return [];
    decodeAndFeed(new Uint8Array(0), false);
    if (!stopped) {
      try {
        parser.close();
      } catch (error) {
        if (!(error instanceof ReadingStopped)) throw error;
      }
    }
    stopped = true;
    return take();
  }

  /**
   * Decodes a chunk and reads its text. The text before an invalid byte is read before the problem
   * is given, wherever the chunks were cut: else a chunk holding both would lose its valid part,
   * and what a delivery gives would depend on where its bytes were cut. A sequence cut at the end
   * of a chunk is carried to the next one (and is invalid at the end of the delivery).
   */
  function decodeAndFeed(chunk: Uint8Array, more: boolean): void {
    const bytes = carried.byteLength === 0 ? chunk : Buffer.concat([carried, chunk]);
    const split = more ? bytes.byteLength - incompleteTailLength(bytes) : bytes.byteLength;
    carried = bytes.slice(split);
    const whole = decodeUtf8(bytes.subarray(0, split));
    if (whole !== null) {
      feed(whole);
      return;
    }
    feed(validUtf8Prefix(bytes.subarray(0, split)));
    if (stopped) return;
    out.push({
      kind: 'problem',
      code: 'xml.encoding',
      message: 'The bytes are not valid UTF-8; the delivery is not read further.',
      fatal: true,
      position: here(),
    });
    stopped = true;
  }

  return { push, end };
}

function isAtom(tag: SaxesTagNS): boolean {
  return tag.uri === ATOM_NAMESPACE || tag.uri === '';
}

function isEspi(tag: SaxesTagNS): boolean {
  return tag.uri === ESPI_NAMESPACE || tag.uri === '' || tag.uri.startsWith(UNBOUND_NAMESPACE);
}

function isCollectorKind(local: string): local is CollectorKind {
  return Object.hasOwn(FIELD_PATHS, local);
}

function attributeValue(tag: SaxesTagNS, local: string): string | null {
  for (const attribute of Object.values(tag.attributes)) {
    if (attribute.local === local && attribute.prefix === '') return attribute.value;
  }
  return null;
}

function emptyEntry(entryIndex: number): EntryRef {
  return {
    entryIndex,
    id: null,
    title: null,
    selfHref: null,
    upHref: null,
    relatedHrefs: [],
    updated: null,
  };
}

function pick<F extends string>(fields: Map<string, string>, names: readonly F[]): FieldValues<F> {
  const picked = {} as FieldValues<F>;
  for (const name of names) picked[name] = fields.get(name) ?? null;
  return picked;
}

function unreachable(value: never): never {
  throw new Error(`unreachable collector kind ${String(value)}`);
}
