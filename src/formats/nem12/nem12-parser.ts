/**
 * AEMO NEM12 (and NEM13) as a pipeline parser: the reader's events become candidate readings and
 * rejects. One 300 record yields one candidate per interval, each located at its 300 line (the
 * bytes a quarantined interval keeps) and numbered on its own. A day whose quality is V takes each
 * interval's quality from the 400 records after it, so a day is held until the next record that is
 * neither a 400 nor a broken line; rejects of the lines in between follow the day's candidates.
 *
 * Mapping (ARCH 2.3, the rules for NEM12):
 * - meter id: the NMI; channel: the NMI suffix (E1, B1, Q1...); the dictionary may map NMIs.
 * - seq: the 300 record's UpdateDateTime as the number YYYYMMDDhhmmss (0 when not sent), so a
 *   corrected day sent later is a new version of each interval, never an overwrite.
 * - units: converted exactly to kWh, kVArh, kVAh, kW, kVAr, kVA, V, A or pf; never summed across.
 * - quality: A actual; E estimated; S and F substituted; N (null data) is quarantined, since it
 *   carries no value to bill. The quality method and reason code are kept as quality detail.
 * - NEM13 accumulation reads (250): each yields two register reads (src/core/register.ts), the
 *   previous and the current, on channel `reg:` + the NMI suffix, at their read times (NEM time,
 *   UTC+10), with the 250's UpdateDateTime as seq. The 250's quantity is not stored: consumption is
 *   derived by billing from consecutive reads (rollover, multiplier, exchanges).
 */
import {
  ToleranceCounter,
  type FormatContext,
  type ParseItem,
  type StreamParser,
} from '../../core/parser.js';
import type { CandidateReading, RecordLocation, Unit } from '../../core/reading.js';
import { recordReject, violation } from '../../core/reject.js';
import { registerChannel, REGISTER_INTERVAL_SECONDS } from '../../core/register.js';
import type {
  Nem12AccumulationReadEvent,
  Nem12Event,
  Nem12IntervalDayEvent,
  Nem12Quality,
  Nem12Source,
  Nem12Unit,
} from './nem12-events.js';
import { createNem12Reader, intervalStartUtcMs } from './nem12-reader.js';
import { shiftDecimalPoint } from './nem12-values.js';
import { RecordNumbering } from '../items.js';

/** Each NEM12 unit as a canonical unit and the power of ten that converts a value to it. */
const CANONICAL_UNITS: Readonly<Record<Nem12Unit, readonly [Unit, number]>> = {
  Wh: ['kWh', -3],
  kWh: ['kWh', 0],
  MWh: ['kWh', 3],
  VArh: ['kVArh', -3],
  kVArh: ['kVArh', 0],
  MVArh: ['kVArh', 3],
  VAh: ['kVAh', -3],
  kVAh: ['kVAh', 0],
  MVAh: ['kVAh', 3],
  W: ['kW', -3],
  kW: ['kW', 0],
  MW: ['kW', 3],
  VAr: ['kVAr', -3],
  kVAr: ['kVAr', 0],
  MVAr: ['kVAr', 3],
  VA: ['kVA', -3],
  kVA: ['kVA', 0],
  MVA: ['kVA', 3],
  V: ['V', 0],
  kV: ['V', 3],
  A: ['A', 0],
  kA: ['A', 3],
  pf: ['pf', 0],
};

const SECONDS_PER_MINUTE = 60;
const MS_PER_MINUTE = 60_000;

interface PendingDay {
  day: Nem12IntervalDayEvent;
  /** Quality per interval: the day's, or for a V day each 400's. */
  qualities: (Nem12Quality | null)[];
  /** Rejects of lines after the 300 while it waited, emitted after its candidates. */
  trailing: ParseItem[];
}

export function createNem12Parser(): StreamParser {
  return new Nem12Parser();
}

class Nem12Parser implements StreamParser {
  readonly #reader = createNem12Reader();
  readonly #tolerated = new ToleranceCounter();
  readonly #numbering = new RecordNumbering();
  #pending: PendingDay | null = null;

  push(chunk: Uint8Array): ParseItem[] {
    return this.#map(this.#reader.push(chunk));
  }

  end(): ParseItem[] {
    const items = this.#map(this.#reader.end());
    this.#flush(items);
    return items;
  }

  context(): FormatContext {
    return {};
  }

  tolerated(): Readonly<Record<string, number>> {
    return this.#tolerated.counts();
  }

  #map(events: readonly Nem12Event[]): ParseItem[] {
    const items: ParseItem[] = [];
    for (const event of events) {
      this.#tolerated.add(event.tolerated);
      this.#apply(event, items);
    }
    return items;
  }

  #apply(event: Nem12Event, items: ParseItem[]): void {
    const pending = this.#pending;
    switch (event.kind) {
      case 'intervalEvent':
        if (pending !== null && pending.day.line === event.intervalDayLine) {
          for (let i = event.startInterval; i <= event.endInterval; i++) {
            pending.qualities[i - 1] = event;
          }
        }
        return;
      case 'problem':
        // The day's uncovered intervals are each quarantined when it is flushed, with this reason.
        if (pending !== null && event.code === 'interval_event_coverage') return;
        // A bad line after a day (a broken 400, say) does not end it: later 400s may still apply,
        // and the reader ties each to its day. Its reject follows the day's readings.
        if (pending !== null) {
          pending.trailing.push(
            this.#reject(event, `nem12.${event.code}`, event.value, event.message),
          );
          return;
        }
        items.push(this.#reject(event, `nem12.${event.code}`, event.value, event.message));
        return;
      case 'intervalDay':
        this.#flush(items);
        this.#pending = {
          day: event,
          qualities: event.values.map(() => (event.qualityFlag === 'V' ? null : event)),
          trailing: [],
        };
        return;
      case 'accumulation':
        this.#flush(items);
        if (event.indicator === '250') {
          items.push(this.#registerRead(event, 'previous'), this.#registerRead(event, 'current'));
        }
        return;
      default:
        this.#flush(items);
    }
  }

  #flush(items: ParseItem[]): void {
    const pending = this.#pending;
    if (pending === null) return;
    this.#pending = null;
    const { day } = pending;
    const dayStartMs = intervalStartUtcMs(day.intervalDate, 0, day.channel.intervalMinutes);
    day.values.forEach((value, index) => {
      const quality = pending.qualities[index] ?? null;
      items.push(this.#interval(day, dayStartMs, index, value, quality));
    });
    items.push(...pending.trailing);
  }

  #interval(
    day: Nem12IntervalDayEvent,
    dayStartMs: number,
    index: number,
    value: string,
    quality: Nem12Quality | null,
  ): ParseItem {
    const channel = day.channel;
    const [unit, exponent] = CANONICAL_UNITS[channel.unit];
    const location = this.#location(day);
    const startMs = dayStartMs + index * channel.intervalMinutes * MS_PER_MINUTE;
    const at = `NMI ${channel.nmi} ${channel.nmiSuffix} ${day.intervalDate} interval ${index + 1}`;
    if (quality === null) {
      const message = `Line ${day.line}: ${at} has quality V but no 400 record covers it.`;
      return this.#rejectAt(location, 'nem12.interval_event_coverage', value, message);
    }
    if (quality.qualityFlag === 'N') {
      const message =
        `Line ${day.line}: ${at} is null data (quality N): the distributor has no value for ` +
        'it, so there is nothing to bill until an actual or substitute arrives.';
      return this.#rejectAt(location, 'nem12.null_data', value, message);
    }
    const converted = shiftDecimalPoint(value, exponent) ?? value;
    const candidate: CandidateReading = {
      meterId: channel.nmi,
      channel: channel.nmiSuffix,
      intervalStartMs: startMs,
      intervalSeconds: channel.intervalMinutes * SECONDS_PER_MINUTE,
      commodity: 'electricity',
      unit,
      value: converted,
      quality: QUALITY_BY_FLAG[quality.qualityFlag],
      qualityDetail: qualityDetail(quality),
      statusCode: 0,
      seq: day.updateDateTime === null ? 0 : Number(day.updateDateTime),
      location,
    };
    return { kind: 'candidate', candidate };
  }

  /** One of a 250's two reads as a register read candidate, or its reject. */
  #registerRead(event: Nem12AccumulationReadEvent, which: 'previous' | 'current'): ParseItem {
    const location = this.#location(event);
    const value = which === 'previous' ? event.previousRegisterRead : event.currentRegisterRead;
    const timeText = which === 'previous' ? event.previousReadDateTime : event.currentReadDateTime;
    const method = which === 'previous' ? event.previousQualityMethod : event.currentQualityMethod;
    const at = `Line ${event.line}: the ${which} read of NMI ${event.nmi} ${event.nmiSuffix}`;
    const readMs = nemDateTimeUtcMs(timeText);
    if (readMs === null) {
      const message = `${at} has read time '${timeText}', not YYYYMMDDhhmmss in NEM time.`;
      return this.#rejectAt(location, 'nem13.read_time', timeText, message);
    }
    const flag = method.trim().charAt(0);
    if (!isRegisterQualityFlag(flag) || flag === 'N') {
      const message =
        `${at} has quality method '${method}': only A, E, F and S reads carry a register value ` +
        'to bill.';
      return this.#rejectAt(location, 'nem13.quality', method, message);
    }
    const [unit, exponent] = CANONICAL_UNITS[event.unit];
    const updated = event.updateDateTime?.trim() ?? '';
    const candidate: CandidateReading = {
      meterId: event.nmi,
      channel: registerChannel(event.nmiSuffix),
      intervalStartMs: readMs,
      intervalSeconds: REGISTER_INTERVAL_SECONDS,
      commodity: 'electricity',
      unit,
      value: shiftDecimalPoint(value, exponent) ?? value,
      quality: QUALITY_BY_FLAG[flag],
      qualityDetail: method.trim(),
      statusCode: 0,
      seq: /^\d{14}$/.test(updated) ? Number(updated) : 0,
      location,
    };
    return { kind: 'candidate', candidate };
  }

  #location(source: Nem12Source): RecordLocation {
    return this.#numbering.locate(source);
  }

  #reject(source: Nem12Source, code: string, value: string | null, message: string): ParseItem {
    return this.#rejectAt(this.#location(source), code, value ?? '', message);
  }

  #rejectAt(location: RecordLocation, code: string, value: string, message: string): ParseItem {
    const reject = recordReject([violation('parse.format', code, value, message)], location);
    return { kind: 'reject', reject };
  }
}

const QUALITY_BY_FLAG = {
  A: 'actual',
  E: 'estimated',
  F: 'substituted',
  S: 'substituted',
  // Never used: N is quarantined and V resolved by 400 records before this is read.
  N: 'estimated',
  V: 'estimated',
} as const;

function isRegisterQualityFlag(flag: string): flag is keyof typeof QUALITY_BY_FLAG {
  return Object.hasOwn(QUALITY_BY_FLAG, flag);
}

const NEM_TIME_OFFSET_MS = 10 * 3_600_000;

/** `YYYYMMDDhhmmss` in NEM time (UTC+10, no daylight saving) as UTC ms; null when not a time. */
export function nemDateTimeUtcMs(text: string): number | null {
  const match = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(text.trim());
  if (match === null) return null;
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as number[];
  const utcMs = Date.UTC(year!, month! - 1, day!, hour!, minute!, second!);
  const check = new Date(utcMs);
  const exact =
    check.getUTCFullYear() === year &&
    check.getUTCMonth() === month! - 1 &&
    check.getUTCDate() === day &&
    check.getUTCHours() === hour &&
    check.getUTCMinutes() === minute;
  return exact && second! < 60 ? utcMs - NEM_TIME_OFFSET_MS : null;
}

/** The method (E52, S14) and, where sent, the reason code: `S14 51`. */
function qualityDetail(quality: Nem12Quality): string {
  const method = quality.qualityMethod === '' ? quality.qualityFlag : quality.qualityMethod;
  return quality.reasonCode === null ? method : `${method} ${quality.reasonCode}`;
}
