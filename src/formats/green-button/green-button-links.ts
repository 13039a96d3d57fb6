/**
 * Ties each IntervalReading to the MeterReading, ReadingType and UsagePoint it belongs to, from the
 * resources that have arrived so far. Two ways, as ESPI deliveries do it:
 * - Nesting (a direct document, or content that nests): the reading's enclosing MeterReading and
 *   UsagePoint elements by ordinal, and a ReadingType nested in that MeterReading.
 * - Atom links: the reading's IntervalBlock entry belongs to the MeterReading whose `related`
 *   hrefs name the entry's `self` or `up` href (failing that, whose `self` href is the entry's path
 *   before `/IntervalBlock`); the MeterReading's `related` hrefs name its ReadingType's `self`; the
 *   UsagePoint's `related` hrefs name the MeterReading's `up` or `self` href (failing that, the
 *   UsagePoint's `self` is the MeterReading's path before `/MeterReading`).
 * Hrefs are compared by path (hrefPath). A link is made with the resources known when the reading
 * is linked; two candidates for one link are refused as ambiguous, never chosen between. A
 * resource repeated under the same `self` href is kept once, as first sent.
 *
 * Bounded: at most `resourcesMax` resources are kept; `add` says when that is passed.
 */
import type {
  EntryRef,
  IntervalReadingEvent,
  MeterReadingEvent,
  ReadingTypeEvent,
  UsagePointEvent,
} from './green-button.js';
import { hrefPath, pathBefore } from './green-button-values.js';

/** UsagePoints, MeterReadings and ReadingTypes kept for linking in one delivery. */
export const GREEN_BUTTON_RESOURCES_MAX = 100_000;

export interface ReadingLinks {
  /** The Atom entry the reading came in, null in a direct document. */
  blockEntry: EntryRef | null;
  meterReading: MeterReadingEvent;
  readingType: ReadingTypeEvent;
  usagePoint: UsagePointEvent;
}

/** What a reading still waits for. */
export type MissingLink = 'entry' | 'meterReading' | 'readingType' | 'usagePoint';

export type LinkOutcome =
  | { kind: 'linked'; links: ReadingLinks }
  | { kind: 'waiting'; missing: MissingLink }
  | {
      kind: 'broken';
      code: 'no_meter_reading' | 'no_usage_point' | 'link_ambiguous';
      reason: string;
    };

type Resource = MeterReadingEvent | ReadingTypeEvent | UsagePointEvent;

type Found<T> = { kind: 'found'; value: T } | Exclude<LinkOutcome, { kind: 'linked' }>;

export class ResourceLinks {
  readonly #entries = new Map<number, EntryRef>();
  readonly #meterReadingsByOrdinal = new Map<number, MeterReadingEvent>();
  readonly #meterReadingsBySelf = new Map<string, MeterReadingEvent>();
  readonly #meterReadingsByRelated = new Map<string, MeterReadingEvent[]>();
  readonly #readingTypesByMeterReading = new Map<number, ReadingTypeEvent>();
  readonly #readingTypesBySelf = new Map<string, ReadingTypeEvent>();
  readonly #usagePointsByOrdinal = new Map<number, UsagePointEvent>();
  readonly #usagePointsBySelf = new Map<string, UsagePointEvent>();
  readonly #usagePointsByRelated = new Map<string, UsagePointEvent[]>();
  readonly #resourcesMax: number;
  #resources = 0;

  constructor(resourcesMax = GREEN_BUTTON_RESOURCES_MAX) {
    this.#resourcesMax = resourcesMax;
  }

  /** Keeps a resource; false when the limit is reached (the resource is not kept). */
  add(resource: Resource): boolean {
    if (this.#resources >= this.#resourcesMax) return false;
    this.#resources += 1;
    switch (resource.kind) {
      case 'meterReading':
        this.#addMeterReading(resource);
        return true;
      case 'readingType':
        this.#addReadingType(resource);
        return true;
      case 'usagePoint':
        this.#addUsagePoint(resource);
        return true;
    }
  }

  /** Keeps the entry of readings that wait for it, until `forgetEntry`. */
  addEntry(entry: EntryRef): void {
    this.#entries.set(entry.entryIndex, entry);
  }

  forgetEntry(entryIndex: number): void {
    this.#entries.delete(entryIndex);
  }

  link(reading: IntervalReadingEvent): LinkOutcome {
    let blockEntry: EntryRef | null = null;
    if (reading.entryIndex !== null) {
      blockEntry = this.#entries.get(reading.entryIndex) ?? null;
      if (blockEntry === null) return { kind: 'waiting', missing: 'entry' };
    }
    const meterReading = this.#meterReadingOf(reading, blockEntry);
    if (meterReading.kind !== 'found') return meterReading;
    const readingType = this.#readingTypeOf(meterReading.value);
    if (readingType.kind !== 'found') return readingType;
    const usagePoint = this.#usagePointOf(meterReading.value);
    if (usagePoint.kind !== 'found') return usagePoint;
    const links = {
      blockEntry,
      meterReading: meterReading.value,
      readingType: readingType.value,
      usagePoint: usagePoint.value,
    };
    return { kind: 'linked', links };
  }

  #addMeterReading(resource: MeterReadingEvent): void {
    this.#meterReadingsByOrdinal.set(resource.meterReadingIndex, resource);
    const self = selfPath(resource);
    if (self === null) return;
    if (this.#meterReadingsBySelf.has(self)) return;
    this.#meterReadingsBySelf.set(self, resource);
    for (const href of resource.entry?.relatedHrefs ?? []) {
      append(this.#meterReadingsByRelated, hrefPath(href), resource);
    }
  }

  #addReadingType(resource: ReadingTypeEvent): void {
    const nestedIn = resource.meterReadingIndex;
    if (nestedIn !== null && !this.#readingTypesByMeterReading.has(nestedIn)) {
      this.#readingTypesByMeterReading.set(nestedIn, resource);
    }
    const self = nestedIn === null ? selfPath(resource) : null;
    if (self !== null && !this.#readingTypesBySelf.has(self)) {
      this.#readingTypesBySelf.set(self, resource);
    }
  }

  #addUsagePoint(resource: UsagePointEvent): void {
    this.#usagePointsByOrdinal.set(resource.usagePointIndex, resource);
    const self = selfPath(resource);
    if (self === null) return;
    if (this.#usagePointsBySelf.has(self)) return;
    this.#usagePointsBySelf.set(self, resource);
    for (const href of resource.entry?.relatedHrefs ?? []) {
      append(this.#usagePointsByRelated, hrefPath(href), resource);
    }
  }

  #meterReadingOf(
    reading: IntervalReadingEvent,
    blockEntry: EntryRef | null,
  ): Found<MeterReadingEvent> {
    if (reading.meterReadingIndex !== null) {
      const nesting = this.#meterReadingsByOrdinal.get(reading.meterReadingIndex);
      return nesting === undefined ? waiting('meterReading') : found(nesting);
    }
    if (blockEntry === null) {
      const reason = 'it is neither inside a MeterReading element nor in an Atom entry';
      return { kind: 'broken', code: 'no_meter_reading', reason };
    }
    const hrefs = [blockEntry.selfHref, blockEntry.upHref].flatMap((href) =>
      href === null ? [] : [hrefPath(href)],
    );
    const candidates = new Set(
      hrefs.flatMap((href) => this.#meterReadingsByRelated.get(href) ?? []),
    );
    if (candidates.size === 0) {
      for (const href of hrefs) {
        const parent = pathBefore(href, 'IntervalBlock');
        const byPath = parent === null ? undefined : this.#meterReadingsBySelf.get(parent);
        if (byPath !== undefined) candidates.add(byPath);
      }
    }
    return one(candidates, 'meterReading', 'MeterReadings link to its IntervalBlock entry');
  }

  #readingTypeOf(meterReading: MeterReadingEvent): Found<ReadingTypeEvent> {
    const nested = this.#readingTypesByMeterReading.get(meterReading.meterReadingIndex);
    if (nested !== undefined) return found(nested);
    const candidates = new Set<ReadingTypeEvent>();
    for (const href of meterReading.entry?.relatedHrefs ?? []) {
      const readingType = this.#readingTypesBySelf.get(hrefPath(href));
      if (readingType !== undefined) candidates.add(readingType);
    }
    return one(candidates, 'readingType', 'ReadingTypes are linked from its MeterReading');
  }

  #usagePointOf(meterReading: MeterReadingEvent): Found<UsagePointEvent> {
    if (meterReading.usagePointIndex !== null) {
      const nesting = this.#usagePointsByOrdinal.get(meterReading.usagePointIndex);
      return nesting === undefined ? waiting('usagePoint') : found(nesting);
    }
    const entry = meterReading.entry;
    if (entry === null) {
      const reason = 'its MeterReading is neither inside a UsagePoint element nor in an Atom entry';
      return { kind: 'broken', code: 'no_usage_point', reason };
    }
    const hrefs = [entry.selfHref, entry.upHref].flatMap((href) =>
      href === null ? [] : [hrefPath(href)],
    );
    const candidates = new Set(hrefs.flatMap((href) => this.#usagePointsByRelated.get(href) ?? []));
    if (candidates.size === 0 && entry.selfHref !== null) {
      const parent = pathBefore(hrefPath(entry.selfHref), 'MeterReading');
      const byPath = parent === null ? undefined : this.#usagePointsBySelf.get(parent);
      if (byPath !== undefined) candidates.add(byPath);
    }
    return one(candidates, 'usagePoint', 'UsagePoints link to its MeterReading');
  }
}

function selfPath(resource: Resource): string | null {
  const self = resource.entry?.selfHref ?? null;
  return self === null ? null : hrefPath(self);
}

function append<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

function found<T>(value: T): Found<T> {
  return { kind: 'found', value };
}

function waiting<T>(missing: MissingLink): Found<T> {
  return { kind: 'waiting', missing };
}

function one<T>(candidates: ReadonlySet<T>, missing: MissingLink, what: string): Found<T> {
  const [first] = candidates;
  if (first === undefined) return waiting(missing);
  if (candidates.size === 1) return found(first);
  const reason = `${candidates.size} ${what}; it is not guessed which one applies`;
  return { kind: 'broken', code: 'link_ambiguous', reason };
}
