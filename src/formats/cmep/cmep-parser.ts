/**
 * CMEP (MEPMD01) as a pipeline parser: each interval triple becomes a candidate reading located at
 * its record's line, and each problem a reject.
 *
 * Mapping:
 * - meter id: the record's MeterID (the dictionary may map it); channel: the unit and direction,
 *   `kWh.delivered` or `kWh.received`, so a meter's energy, demand and generation stay apart.
 * - seq: the record's TimeStamp as the number CCYYMMDDHHMM (0 when empty), so a later resend of an
 *   interval is a new version, never an overwrite.
 * - values: times the record's calculation constant, exactly; hundreds and thousands of cubic feet
 *   become ft3. Units the ledger does not hold (BTU, acre-feet, pounds, dollars, pulses, dial
 *   readings) are quarantined with a reason.
 * - register (cumulative) readings in kWh (KWHREG) are register reads (src/core/register.ts) on
 *   channel `reg:kWh.<flow>`, read at the triple's stamp (the end the record gives); other
 *   register units (KVAHREG, KVARHREG, GASREG) are quarantined with a reason.
 * - quality: empty flag actual; R (raw, not yet validated) actual with detail R; E estimated; A
 *   (adjustment) substituted; N (no value) quarantined.
 */
import {
  ToleranceCounter,
  type FormatContext,
  type ParseItem,
  type StreamParser,
} from '../../core/parser.js';
import type { CandidateReading, Commodity, RecordLocation, Unit } from '../../core/reading.js';
import { recordReject, violation } from '../../core/reject.js';
import { registerChannel, REGISTER_INTERVAL_SECONDS } from '../../core/register.js';
import type { CmepEvent, CmepIntervalEvent, CmepSource, CmepUnit } from './cmep-events.js';
import { createCmepReader, type CmepReader } from './cmep-reader.js';
import { applyCalculationConstant } from './cmep-values.js';
import { RecordNumbering } from '../items.js';

const CANONICAL_UNITS: Readonly<Partial<Record<CmepUnit, readonly [Unit, string]>>> = {
  kWh: ['kWh', '1'],
  kVAh: ['kVAh', '1'],
  kVArh: ['kVArh', '1'],
  kW: ['kW', '1'],
  kVA: ['kVA', '1'],
  kVAr: ['kVAr', '1'],
  V: ['V', '1'],
  therm: ['therm', '1'],
  gal: ['gal', '1'],
  ft3: ['ft3', '1'],
  hft3: ['ft3', '100'],
  kft3: ['ft3', '1000'],
};

const COMMODITIES: Readonly<Record<string, Commodity>> = { E: 'electricity', G: 'gas', W: 'water' };

const QUALITY = {
  actual: ['actual', null],
  raw: ['actual', 'R'],
  estimated: ['estimated', 'E'],
  substituted: ['substituted', 'A'],
} as const;

/** `context.timeZone` is the zone the delivery's date-times are written in (dictionary). */
export function createCmepParser(context: FormatContext): StreamParser {
  const timeZone = typeof context['timeZone'] === 'string' ? context['timeZone'] : 'UTC';
  return new CmepParser(timeZone);
}

class CmepParser implements StreamParser {
  readonly #reader: CmepReader;
  readonly #timeZone: string;
  readonly #tolerated = new ToleranceCounter();
  readonly #numbering = new RecordNumbering();
  #seq = 0;

  constructor(timeZone: string) {
    this.#timeZone = timeZone;
    this.#reader = createCmepReader({ timeZone });
  }

  push(chunk: Uint8Array): ParseItem[] {
    return this.#map(this.#reader.push(chunk));
  }

  end(): ParseItem[] {
    return this.#map(this.#reader.end());
  }

  context(): FormatContext {
    return { timeZone: this.#timeZone };
  }

  tolerated(): Readonly<Record<string, number>> {
    return this.#tolerated.counts();
  }

  #map(events: readonly CmepEvent[]): ParseItem[] {
    const items: ParseItem[] = [];
    for (const event of events) {
      this.#tolerated.add(event.tolerated);
      switch (event.kind) {
        case 'record':
          this.#seq = event.createdDateTime === null ? 0 : Number(event.createdDateTime);
          break;
        case 'interval':
          items.push(this.#interval(event));
          break;
        case 'problem':
          items.push(this.#reject(event, `cmep.${event.code}`, event.value ?? '', event.message));
          break;
      }
    }
    return items;
  }

  #interval(event: CmepIntervalEvent): ParseItem {
    const at = `Line ${event.line}: meter ${event.meterId} triple ${event.triple}`;
    const canonical = CANONICAL_UNITS[event.unit];
    const commodity = COMMODITIES[event.commodity];
    if (canonical === undefined || commodity === undefined) {
      const what = canonical === undefined ? `unit ${event.unitAsSent}` : 'commodity S (steam)';
      const message = `${at} is in ${what}, which the ledger does not hold.`;
      return this.#reject(event, 'cmep.unit_not_held', event.unitAsSent, message);
    }
    if (event.measurement === 'register' && canonical[0] !== 'kWh') {
      const message =
        `${at} is a register (cumulative) reading in ${event.unitAsSent}; register reads are ` +
        'kept for kWh registers only.';
      return this.#reject(event, 'cmep.register_reading', event.unitAsSent, message);
    }
    if (event.quality === 'missing' || event.value === null) {
      const message = `${at} has quality N: no value was sent, so there is nothing to bill.`;
      return this.#reject(event, 'cmep.missing_value', '', message);
    }
    if (event.measurement === 'register') {
      return this.#registerRead(event, event.value, event.quality, commodity);
    }
    const [unit, factor] = canonical;
    const constant = event.calculationConstant;
    let value = event.value;
    if (constant !== null) value = applyCalculationConstant(value, constant);
    if (factor !== '1') value = applyCalculationConstant(value, factor);
    const [quality, qualityDetail] = QUALITY[event.quality];
    const candidate: CandidateReading = {
      meterId: event.meterId,
      channel: `${unit}.${event.flow}`,
      intervalStartMs: event.intervalStartUtcMs,
      intervalSeconds: event.intervalSeconds,
      commodity,
      unit,
      value,
      quality,
      qualityDetail,
      statusCode: 0,
      seq: this.#seq,
      location: this.#location(event),
    };
    return { kind: 'candidate', candidate };
  }

  /** A kWh register triple: its value (times the calculation constant) at the triple's stamp. */
  #registerRead(
    event: CmepIntervalEvent,
    sent: string,
    flag: Exclude<CmepIntervalEvent['quality'], 'missing'>,
    commodity: Commodity,
  ): ParseItem {
    const constant = event.calculationConstant;
    const [quality, qualityDetail] = QUALITY[flag];
    const candidate: CandidateReading = {
      meterId: event.meterId,
      channel: registerChannel(`kWh.${event.flow}`),
      intervalStartMs: event.intervalStartUtcMs + event.intervalSeconds * 1000,
      intervalSeconds: REGISTER_INTERVAL_SECONDS,
      commodity,
      unit: 'kWh',
      value: constant === null ? sent : applyCalculationConstant(sent, constant),
      quality,
      qualityDetail,
      statusCode: 0,
      seq: this.#seq,
      location: this.#location(event),
    };
    return { kind: 'candidate', candidate };
  }

  #location(source: CmepSource): RecordLocation {
    return this.#numbering.locate(source);
  }

  #reject(source: CmepSource, code: string, value: string, message: string): ParseItem {
    const violations = [violation('parse.format', code, value, message)];
    return { kind: 'reject', reject: recordReject(violations, this.#location(source)) };
  }
}
