/**
 * One linked IntervalReading as a candidate reading, or every reason it cannot be one. Pure: the
 * reading, its links and nothing else decide. The rules are in green-button-parser.ts's header.
 * Checks the reader already made (a value that is absent or not an integer, an absent start) are
 * its problems and are not repeated here.
 */
import type { CandidateReading, Commodity, Unit } from '../../core/reading.js';
import { UNITS } from '../../core/reading.js';
import { isEspiInteger, uomName } from './espi-units.js';
import type { IntervalReadingEvent } from './green-button.js';
import type { ReadingLinks } from './green-button-links.js';
import {
  REGISTER_ACCUMULATIONS,
  atomDateDigits,
  canonicalUnit,
  convertedValue,
  durationSeconds,
  epochSecondsToMs,
  flowDirectionSuffix,
  lastSegment,
  meterIdOfHref,
  qualityDetailOf,
  qualityOf,
  readingTypeCommodity,
  serviceKindCommodity,
} from './green-button-values.js';

/** A rule one reading breaks: the code after `green-button.`, the value and a sentence. */
export interface MappingProblem {
  code: string;
  value: string;
  message: string;
}

export type CandidateFields = Omit<CandidateReading, 'location'>;

export type CandidateOutcome =
  { ok: true; candidate: CandidateFields } | { ok: false; problems: MappingProblem[] };

export interface ReadingIdentity {
  meterId: string;
  channel: string;
}

/** The meter id and channel the links give a reading (see the parser's header for the rules). */
export function identityOf(links: ReadingLinks): ReadingIdentity {
  const usagePointSelf = links.usagePoint.entry?.selfHref ?? null;
  const meterId =
    (usagePointSelf === null ? null : meterIdOfHref(usagePointSelf)) ??
    `UsagePoint-${links.usagePoint.usagePointIndex}`;
  const meterReadingSelf = links.meterReading.entry?.selfHref ?? null;
  const base =
    (meterReadingSelf === null ? null : lastSegment(meterReadingSelf)) ??
    String(links.meterReading.meterReadingIndex);
  const suffix = flowDirectionSuffix(links.readingType.fields.flowDirection);
  return { meterId, channel: `${base}${suffix}` };
}

export function candidateOf(
  reading: IntervalReadingEvent,
  links: ReadingLinks,
  identity: ReadingIdentity,
): CandidateOutcome {
  const problems: MappingProblem[] = [];
  const at =
    `Line ${reading.line}: an IntervalReading of meter ${identity.meterId} channel ` +
    identity.channel;
  const add = (code: string, value: string | null, message: string): void => {
    problems.push({ code, value: value ?? '', message: `${at} ${message}` });
  };
  const unit = unitOf(links, add);
  const value = unit === null ? null : valueOf(reading, links, unit[1], add);
  const commodity = unit === null ? null : commodityOf(links, unit[0], add);
  const startMs = startOf(reading, add);
  const intervalSeconds = durationOf(reading, links, add);
  const quality = qualityOfReading(reading, links, add);
  if (
    problems.length > 0 ||
    unit === null ||
    value === null ||
    commodity === null ||
    startMs === null ||
    intervalSeconds === null ||
    quality === null
  ) {
    return { ok: false, problems };
  }
  const updated = links.blockEntry?.updated ?? null;
  const candidate: CandidateFields = {
    meterId: identity.meterId,
    channel: identity.channel,
    intervalStartMs: startMs,
    intervalSeconds,
    commodity,
    unit: unit[0],
    value,
    quality: quality.quality,
    qualityDetail: quality.detail,
    statusCode: 0,
    seq: updated === null ? 0 : (atomDateDigits(updated) ?? 0),
  };
  return { ok: true, candidate };
}

type AddProblem = (code: string, value: string | null, message: string) => void;

function unitOf(links: ReadingLinks, add: AddProblem): readonly [Unit, number] | null {
  const fields = links.readingType.fields;
  const uom = fields.uom;
  if (uom === null) {
    add('no_unit', null, 'has a ReadingType without a uom: its unit is not guessed.');
    return null;
  }
  const canonical = canonicalUnit(uom);
  if (canonical === null) {
    add(
      'unit_not_held',
      uom,
      `is in uom ${uom} (${uomName(uom)}), which the ledger does not hold.`,
    );
    return null;
  }
  const accumulation = fields.accumulationBehaviour;
  const register = accumulation === null ? undefined : REGISTER_ACCUMULATIONS[accumulation];
  if (register !== undefined) {
    add(
      'register_reading',
      accumulation,
      `is a register value (accumulationBehaviour ${accumulation}, ${register}), not an ` +
        'interval value; the ledger holds interval values only.',
    );
    return null;
  }
  return canonical;
}

function valueOf(
  reading: IntervalReadingEvent,
  links: ReadingLinks,
  shift: number,
  add: AddProblem,
): string | null {
  const value = reading.value;
  // An absent or non-integer value is the reader's problem, already on the reading.
  if (value === null || !isEspiInteger(value)) return null;
  const multiplier = links.readingType.fields.powerOfTenMultiplier;
  const converted = convertedValue(value, multiplier, shift);
  if (converted === null) {
    add(
      'multiplier_invalid',
      multiplier,
      `has a ReadingType powerOfTenMultiplier "${multiplier}" that is not an ESPI multiplier ` +
        '(an integer from -12 to 12).',
    );
  }
  return converted;
}

function commodityOf(links: ReadingLinks, unit: Unit, add: AddProblem): Commodity | null {
  const stated = statedCommodity(links, add);
  if (stated === null) return null;
  const commodity = stated ?? UNITS[unit].commodity;
  if (commodity === null) {
    add(
      'no_commodity',
      unit,
      `is in ${unit} and neither its ReadingType nor its UsagePoint says whether it is gas or water.`,
    );
    return null;
  }
  const unitCommodity = UNITS[unit].commodity;
  if (unitCommodity !== null && unitCommodity !== commodity) {
    add(
      'unit_commodity_mismatch',
      unit,
      `is ${commodity} metered in ${unit}, a unit of ${unitCommodity}; it is not taken as ` +
        `${unitCommodity}.`,
    );
    return null;
  }
  return commodity;
}

/**
 * The commodity the ReadingType states, else the UsagePoint's service kind; undefined when
 * neither states one, null when a problem was added.
 */
function statedCommodity(links: ReadingLinks, add: AddProblem): Commodity | null | undefined {
  const code = links.readingType.fields.commodity;
  const byReadingType = readingTypeCommodity(code);
  const kind = links.usagePoint.serviceKind;
  const byService = serviceKindCommodity(kind);
  if (byReadingType === null) {
    add(
      'commodity_not_held',
      code,
      `has ReadingType commodity ${code}, which the ledger does not hold.`,
    );
    return null;
  }
  if (byReadingType === undefined) {
    if (byService !== null) return byService;
    add(
      'commodity_not_held',
      kind,
      `is under a UsagePoint of service kind ${kind}, which the ledger does not hold.`,
    );
    return null;
  }
  if (byService !== undefined && byService !== null && byService !== byReadingType) {
    add(
      'commodity_conflict',
      `${code} ${kind}`,
      `has ReadingType commodity ${code} (${byReadingType}) under a UsagePoint of service kind ` +
        `${kind} (${byService}); which one holds is not guessed.`,
    );
    return null;
  }
  return byReadingType;
}

function startOf(reading: IntervalReadingEvent, add: AddProblem): number | null {
  const start = reading.startEpochSeconds;
  // An absent start is the reader's problem, already on the reading.
  if (start === null) return null;
  const parsed = epochSecondsToMs(start);
  if (parsed.ok) return parsed.ms;
  if (parsed.fractional) {
    add(
      'start_fractional',
      start,
      `starts at epoch ${start}, a fraction of a second: an interval starts on a whole second, ` +
        'and the start is not rounded.',
    );
  } else {
    add(
      'start_invalid',
      start,
      `has a timePeriod start "${start}" that is not whole epoch seconds from 1970.`,
    );
  }
  return null;
}

function durationOf(
  reading: IntervalReadingEvent,
  links: ReadingLinks,
  add: AddProblem,
): number | null {
  const sent = reading.durationSeconds ?? links.readingType.fields.intervalLength;
  if (sent === null) {
    add('no_duration', null, 'has no timePeriod duration and its ReadingType no intervalLength.');
    return null;
  }
  const seconds = durationSeconds(sent);
  if (seconds === null) {
    add('duration_invalid', sent, `lasts "${sent}", which is not a whole number of seconds.`);
  }
  return seconds;
}

function qualityOfReading(
  reading: IntervalReadingEvent,
  links: ReadingLinks,
  add: AddProblem,
): { quality: CandidateFields['quality']; detail: string | null } | null {
  // ESPI: a reading without ReadingQuality has its ReadingType's default quality, else valid.
  const defaultQuality = links.readingType.fields.defaultQuality;
  const codes =
    reading.qualities.length > 0
      ? reading.qualities
      : defaultQuality === null
        ? []
        : [defaultQuality];
  const quality = qualityOf(codes);
  if (quality === null) {
    add(
      'quality_unknown',
      codes.join(' '),
      `has a ReadingQuality code that ESPI does not define (${codes.join(', ')}).`,
    );
    return null;
  }
  return { quality, detail: qualityDetailOf(codes) };
}
