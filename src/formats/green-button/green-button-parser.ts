/**
 * Green Button (NAESB REQ.21 ESPI) as a pipeline parser: every IntervalReading of an Atom feed or a
 * direct ESPI document becomes exactly one candidate reading or one reject, located at the exact
 * bytes of its IntervalReading element (from the `<` of its start tag to just past its end tag).
 *
 * Mapping:
 * - meter id: the UsagePoint's `self` href path after ESPI's REST root (`.../resource/`), scheme,
 *   host, query and surrounding slashes dropped: `RetailCustomer/3/UsagePoint/1`,
 *   `v1/BillingAccount/1234567890/UsagePoint/NET_USAGE`. The whole path, not its last segment:
 *   UsagePoint ids such as `1` or `NET_USAGE` repeat across customers of one data custodian. A
 *   UsagePoint without a `self` href (a direct document) is `UsagePoint-<n>`, its ordinal in the
 *   delivery: such ids are only as distinct as the deliveries, so map them in the dictionary
 *   (`formats["green-button"].meterIds`) or give each meter its own source. A reading whose
 *   MeterReading has no UsagePoint at all is quarantined (`no_usage_point`): no meter is guessed.
 * - channel: the last segment of the MeterReading's `self` href (`01`), or its ordinal, with the
 *   ReadingType's flow direction as a suffix when it is not forward (`01.reverse`, `01.net`). A
 *   MeterReading has one ReadingType, and two ReadingTypes met on one meter and channel in a
 *   delivery quarantine the later readings (`channel_ambiguous`): a channel never mixes quantities.
 * - unit and value: the value times 10^powerOfTenMultiplier (absent: none), converted exactly to a
 *   canonical unit: Wh, VArh, VAh, W, VAr, VA to their kilo units; V, A, cos theta (pf), therm,
 *   m3, ft3 and US gallons as they are. Any other uom (`unit_not_held`), a ReadingType without a
 *   uom (`no_unit`) and register values (accumulationBehaviour bulkQuantity, continuousCumulative
 *   or cumulative: `register_reading`) are quarantined. More than six decimals in the canonical
 *   unit is left to the dictionary, which refuses it (consumption.precision).
 * - commodity: the ReadingType's commodity (electricity, natural gas, potable water), else the
 *   UsagePoint's ServiceCategory kind (0 electricity, 1 gas, 2 water), else the unit's own (kWh is
 *   electricity, therm gas, gal water). Other commodities, a ReadingType and UsagePoint that
 *   disagree, and a unit of another commodity (gas in Wh) are quarantined: gas and water never
 *   become electricity.
 * - interval: timePeriod start in whole epoch seconds (UTC; LocalTimeParameters only describe
 *   local display) and its duration, else the ReadingType's intervalLength. A fractional start
 *   (which the reader tolerates) is quarantined (`start_fractional`), not rounded: an interval
 *   starts on a whole second, as the reference feed's `timestamp.alignment` also says.
 * - quality: the ReadingQuality codes, else the ReadingType's defaultQuality, else valid. Valid
 *   (0), raw (14), verified (18) and revenue-quality (19) are actual; manually edited (7) is
 *   substituted; every estimate, derivation, forecast, questionable, mixed, weather-normalised,
 *   other or "validated, possibly estimated" (17) code is estimated, so a later actual may replace
 *   it; the worst code of several wins; an undefined code is quarantined (`quality_unknown`).
 *   The codes are kept as quality detail: `q8 q19`.
 * - seq: the `updated` date-time of the reading's Atom entry as the number YYYYMMDDhhmmss in UTC
 *   (a time without an offset as written, a bare date at midnight), so a corrected block sent
 *   later is a new version of each interval, not a conflict; 0 in a direct document or when
 *   `updated` is absent or unreadable. Unchanged values under a later `updated` are duplicates.
 * - cost is not carried: the ledger holds quantities.
 *
 * Order and memory: resources may arrive before or after the readings they describe, so readings
 * wait in a queue, in byte order, until their entry, MeterReading, ReadingType and UsagePoint are
 * known (green-button-links.ts). Items are emitted in byte order, so `recordIndex` is the same
 * whatever the chunking, as replay needs. Two bounds, past which the oldest waiting reading is
 * quarantined (`pending_limit`):
 * - at most GREEN_BUTTON_PENDING_READINGS_MAX readings wait;
 * - a reading waits only while fewer than GREEN_BUTTON_PENDING_BYTES_MAX bytes have come since the
 *   last item returned, or while it ends within the last RECORD_BYTES_MAX bytes pushed. Past
 *   BATCH_BYTES_MAX bytes without an item the pipeline stores all but the last RECORD_BYTES_MAX
 *   bytes it holds, and an item returned later must end within those. So an IntervalBlock entry,
 *   or a wait for resources, longer than 8 MiB quarantines its oldest readings. This bound is
 *   checked where pushed chunks end, so whether a reading waiting that long is let go can depend
 *   on the chunking; it still yields one item, at the same recordIndex.
 * At the end (or when the delivery stops), a reading still waiting is quarantined naming what
 * never came (`no_reading_type`, `entry_incomplete`...).
 *
 * Reader problems: a reading with a non-fatal one (`reading.no_value`...) is quarantined with it.
 * A fatal one (`xml.doctype`, `xml.syntax`, `limit.*`), or more than GREEN_BUTTON_RESOURCES_MAX
 * resources (`limit.resources`), stops the delivery: readings already read are still emitted,
 * and one uncounted span, from the end of the last IntervalReading read to the end of the
 * delivery, carries the problem. Every code is `parse.format` with `green-button.<code>` as field.
 *
 * context() is {}: nothing besides the bytes is needed to read a delivery again. What the reader
 * tolerated is counted by code in tolerated(), which the ingest report prints.
 */
import assert from 'node:assert/strict';
import {
  ToleranceCounter,
  type FormatContext,
  type ParseItem,
  type StreamParser,
} from '../../core/parser.js';
import { BATCH_BYTES_MAX, RECORD_BYTES_MAX } from '../../core/limits.js';
import type { RecordLocation } from '../../core/reading.js';
import { recordReject, violation } from '../../core/reject.js';
import { createEspiReader, type EspiReaderLimits } from './espi-reader.js';
import type {
  EspiEvent,
  EspiReader,
  IntervalReadingEvent,
  ProblemEvent,
  ReadingTypeEvent,
} from './green-button.js';
import {
  candidateOf,
  identityOf,
  type MappingProblem,
  type ReadingIdentity,
} from './green-button-candidate.js';
import {
  GREEN_BUTTON_RESOURCES_MAX,
  ResourceLinks,
  type MissingLink,
  type ReadingLinks,
} from './green-button-links.js';

/** IntervalReadings waiting for their resources, at most (a year of 5-minute values is 105,120). */
export const GREEN_BUTTON_PENDING_READINGS_MAX = 100_000;
/** Bytes since the last item returned past which old readings stop waiting (see the header). */
export const GREEN_BUTTON_PENDING_BYTES_MAX = BATCH_BYTES_MAX;

export interface GreenButtonLimits {
  pendingReadingsMax: number;
  pendingBytesMax: number;
  /** The last bytes pushed, in which a waiting reading may end whatever pendingBytesMax says. */
  recentBytes: number;
  resourcesMax: number;
  reader: Partial<EspiReaderLimits>;
}

export const DEFAULT_GREEN_BUTTON_LIMITS: Readonly<GreenButtonLimits> = {
  pendingReadingsMax: GREEN_BUTTON_PENDING_READINGS_MAX,
  pendingBytesMax: GREEN_BUTTON_PENDING_BYTES_MAX,
  recentBytes: RECORD_BYTES_MAX,
  resourcesMax: GREEN_BUTTON_RESOURCES_MAX,
  reader: {},
};

/** A parser for one delivery; the limits are the defaults except in tests of the limits. */
export function createGreenButtonParser(limits: Partial<GreenButtonLimits> = {}): StreamParser {
  return new GreenButtonParser({ ...DEFAULT_GREEN_BUTTON_LIMITS, ...limits });
}

interface PendingReading {
  reading: IntervalReadingEvent;
  /** The reader's non-fatal problems with this reading. */
  problems: readonly ProblemEvent[];
}

interface Stop {
  code: string;
  message: string;
  line: number;
}

const MISSING: Readonly<Record<MissingLink, readonly [string, string]>> = {
  entry: ['entry_incomplete', 'its Atom entry never closed'],
  meterReading: ['no_meter_reading', 'no MeterReading links to its IntervalBlock'],
  readingType: ['no_reading_type', 'its MeterReading links to no ReadingType that came'],
  usagePoint: ['no_usage_point', 'no UsagePoint links to its MeterReading'],
};

class GreenButtonParser implements StreamParser {
  readonly #limits: GreenButtonLimits;
  readonly #reader: EspiReader;
  readonly #links: ResourceLinks;
  readonly #pending = new Queue<PendingReading>();
  readonly #tolerated = new ToleranceCounter();
  /** Readings waiting per Atom entry, so an entry is kept only while a reading needs it. */
  readonly #waitingPerEntry = new Map<number, number>();
  readonly #channelReadingTypes = new Map<string, ReadingTypeEvent>();
  #readingProblems: ProblemEvent[] = [];
  #recordIndex = 0;
  #deliveryBytes = 0;
  /** Where the last item returned ends. */
  #itemsEnd = 0;
  /** Where the bytes after the last IntervalReading taken begin. */
  #readEnd = 0;
  #readEndLine = 1;
  #stop: Stop | null = null;
  #ended = false;

  constructor(limits: GreenButtonLimits) {
    this.#limits = limits;
    this.#reader = createEspiReader(limits.reader);
    this.#links = new ResourceLinks(limits.resourcesMax);
  }

  push(chunk: Uint8Array): ParseItem[] {
    assert.ok(!this.#ended, 'push() after end()');
    this.#deliveryBytes += chunk.byteLength;
    const items: ParseItem[] = [];
    if (this.#stop === null) this.#apply(this.#reader.push(chunk), items);
    this.#letOldReadingsGo(items);
    return items;
  }

  end(): ParseItem[] {
    const items: ParseItem[] = [];
    if (this.#ended) return items;
    this.#ended = true;
    if (this.#stop === null) this.#apply(this.#reader.end(), items);
    while (this.#pending.length > 0) this.#forceFirst(items, null);
    if (this.#stop !== null) items.push(this.#spanReject(this.#stop));
    return items;
  }

  context(): FormatContext {
    return {};
  }

  tolerated(): Readonly<Record<string, number>> {
    return this.#tolerated.counts();
  }

  #apply(events: readonly EspiEvent[], items: ParseItem[]): void {
    for (const event of events) {
      if (this.#stop !== null) break;
      switch (event.kind) {
        case 'problem':
          if (event.fatal) {
            const line = event.position.line;
            this.#stop = { code: event.code, message: event.message, line };
          } else this.#readingProblems.push(event);
          break;
        case 'intervalReading':
          this.#take(event, items);
          break;
        case 'entry':
          if (this.#waitingPerEntry.has(event.entry.entryIndex)) this.#links.addEntry(event.entry);
          break;
        case 'readingType':
        case 'usagePoint':
        case 'meterReading':
          if (!this.#links.add(event)) this.#stopForResources(event.position.line);
          break;
        case 'tolerated':
          this.#tolerated.add([event]);
          break;
        case 'localTimeParameters':
        case 'intervalBlock':
          break;
        default: {
          const unreachable: never = event;
          assert.fail(`unreachable event ${JSON.stringify(unreachable)}`);
        }
      }
      this.#emitReady(items);
    }
    // Nothing more will be read: what waits now waits for nothing.
    if (this.#stop !== null) while (this.#pending.length > 0) this.#forceFirst(items, null);
  }

  /** Quarantines waiting readings the pipeline may no longer hold the bytes of (see the header). */
  #letOldReadingsGo(items: ParseItem[]): void {
    const recentFrom = this.#deliveryBytes - this.#limits.recentBytes;
    while (this.#deliveryBytes - this.#itemsEnd > this.#limits.pendingBytesMax) {
      const first = this.#pending.first()?.reading;
      if (first === undefined || first.byteOffset + first.byteLength >= recentFrom) return;
      this.#forceFirst(items, 'bytes');
    }
  }

  #take(reading: IntervalReadingEvent, items: ParseItem[]): void {
    this.#pending.push({ reading, problems: this.#readingProblems });
    this.#readingProblems = [];
    this.#readEnd = reading.byteOffset + reading.byteLength;
    this.#readEndLine = reading.endLine;
    const entryIndex = reading.entryIndex;
    if (entryIndex !== null) {
      this.#waitingPerEntry.set(entryIndex, (this.#waitingPerEntry.get(entryIndex) ?? 0) + 1);
    }
    this.#emitReady(items);
    while (this.#pending.length > this.#limits.pendingReadingsMax) {
      this.#forceFirst(items, 'readings');
      this.#emitReady(items);
    }
  }

  #stopForResources(line: number): void {
    const message =
      `The delivery has more than ${this.#limits.resourcesMax} UsagePoints, MeterReadings and ` +
      'ReadingTypes; it is not read further.';
    this.#stop = { code: 'limit.resources', message, line };
  }

  /** Emits the waiting readings from the first, as long as each can be decided. */
  #emitReady(items: ParseItem[]): void {
    for (;;) {
      const first = this.#pending.first();
      if (first === undefined) return;
      const outcome = this.#links.link(first.reading);
      if (outcome.kind === 'waiting') return;
      this.#shift();
      if (outcome.kind === 'linked') items.push(this.#linked(first, outcome.links));
      else {
        const problem = { code: outcome.code, value: '', message: outcome.reason };
        items.push(this.#reject(first, [problem], null));
      }
    }
  }

  /**
   * Decides the first waiting reading now: too many readings or bytes came after it (`bound`), or
   * nothing more will come (null).
   */
  #forceFirst(items: ParseItem[], bound: 'readings' | 'bytes' | null): void {
    const first = this.#pending.first();
    if (first === undefined) return;
    const outcome = this.#links.link(first.reading);
    if (outcome.kind !== 'waiting') {
      this.#emitReady(items);
      return;
    }
    this.#shift();
    const [code, what] = MISSING[outcome.missing];
    let problem: MappingProblem;
    if (bound !== null) {
      const passed =
        bound === 'readings'
          ? `${this.#limits.pendingReadingsMax} later readings were waiting too`
          : `more than ${this.#limits.pendingBytesMax} bytes had come since the last reading ` +
            'was decided';
      const message = `it was still waiting (${what} yet) when ${passed}; it is not held longer.`;
      problem = { code: 'pending_limit', value: outcome.missing, message };
    } else {
      const stopped = this.#stop === null ? '' : ' before the delivery stopped';
      problem = { code, value: '', message: `${what}${stopped}.` };
    }
    items.push(this.#reject(first, [problem], null));
  }

  #shift(): void {
    const shifted = this.#pending.shift();
    const entryIndex = shifted?.reading.entryIndex ?? null;
    if (entryIndex === null) return;
    const waiting = (this.#waitingPerEntry.get(entryIndex) ?? 0) - 1;
    if (waiting > 0) {
      this.#waitingPerEntry.set(entryIndex, waiting);
      return;
    }
    this.#waitingPerEntry.delete(entryIndex);
    this.#links.forgetEntry(entryIndex);
  }

  #linked(pending: PendingReading, links: ReadingLinks): ParseItem {
    const identity = identityOf(links);
    const clash = this.#channelClash(identity, links.readingType);
    if (clash !== null) return this.#reject(pending, [clash], identity.meterId);
    const outcome = candidateOf(pending.reading, links, identity);
    if (outcome.ok && pending.problems.length === 0) {
      const candidate = { ...outcome.candidate, location: this.#location(pending.reading) };
      return { kind: 'candidate', candidate };
    }
    const problems = outcome.ok ? [] : outcome.problems;
    return this.#reject(pending, problems, identity.meterId);
  }

  /** A second ReadingType on one meter and channel in this delivery. */
  #channelClash(identity: ReadingIdentity, readingType: ReadingTypeEvent): MappingProblem | null {
    const key = `${identity.meterId}|${identity.channel}`;
    const first = this.#channelReadingTypes.get(key);
    if (first === undefined) {
      this.#channelReadingTypes.set(key, readingType);
      return null;
    }
    if (first === readingType) return null;
    const message =
      `meter ${identity.meterId} channel ${identity.channel} already carries readings of ` +
      'another ReadingType in this delivery; a channel never mixes quantities.';
    return { code: 'channel_ambiguous', value: identity.channel, message };
  }

  #reject(
    pending: PendingReading,
    problems: readonly MappingProblem[],
    meterId: string | null,
  ): ParseItem {
    const reading = pending.reading;
    const readerProblems = pending.problems.map((problem) => ({
      code: problem.code,
      value: problem.code === 'reading.value_not_integer' ? (reading.value ?? '') : '',
      message: `Line ${reading.line}: ${problem.message}`,
    }));
    const all = [...readerProblems, ...problems.map((problem) => withLine(problem, reading))];
    assert.ok(all.length > 0, 'a rejected reading names at least one problem');
    const violations = all.map((problem) =>
      violation('parse.format', `green-button.${problem.code}`, problem.value, problem.message),
    );
    return { kind: 'reject', reject: recordReject(violations, this.#location(reading), meterId) };
  }

  #location(reading: IntervalReadingEvent): RecordLocation {
    const location = {
      recordIndex: this.#recordIndex,
      line: reading.line,
      byteOffset: reading.byteOffset,
      byteLength: reading.byteLength,
    };
    this.#recordIndex += 1;
    this.#itemsEnd = reading.byteOffset + reading.byteLength;
    return location;
  }

  #spanReject(stop: Stop): ParseItem {
    const byteOffset = this.#readEnd;
    const byteLength = this.#deliveryBytes - byteOffset;
    const location = {
      recordIndex: this.#recordIndex,
      line: this.#readEndLine,
      byteOffset,
      byteLength,
    };
    this.#recordIndex += 1;
    const message =
      `Line ${stop.line}: ${stop.message} The ${byteLength} bytes from byte ${byteOffset} (after ` +
      'the last IntervalReading read) to the end of the delivery are quarantined unread, ' +
      'counted once.';
    const value = `${byteLength} bytes from byte ${byteOffset}`;
    const violations = [violation('parse.format', `green-button.${stop.code}`, value, message)];
    return {
      kind: 'reject',
      reject: { ...recordReject(violations, location), uncountedSpan: true },
    };
  }
}

/** Mapping problems already name their line; link problems are phrased about the reading. */
function withLine(problem: MappingProblem, reading: IntervalReadingEvent): MappingProblem {
  if (problem.message.startsWith('Line ')) return problem;
  const message = `Line ${reading.line}: an IntervalReading is not read: ${problem.message}`;
  return { ...problem, message };
}

/** A first-in first-out queue whose shift does not move the rest. */
class Queue<T> {
  #items: T[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  first(): T | undefined {
    return this.#items[this.#head];
  }

  shift(): T | undefined {
    const item = this.#items[this.#head];
    if (item === undefined) return undefined;
    this.#head += 1;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }
}
