/**
 * The pure leaves of the Green Button mapping: ESPI codes (NAESB REQ.21, from IEC 61968-9) to the
 * ledger's units, commodities and qualities, hrefs to meter and channel ids, Atom dates to a
 * version number, epoch texts to exact integers. Each returns a value or null; the caller words
 * the reject.
 */
import type { Commodity, Quality, Unit } from '../../core/reading.js';
import { POWER_OF_TEN_ABS_MAX, isEspiInteger, scaledValue } from './espi-units.js';

/**
 * UnitSymbolKind codes the ledger holds, each with its canonical unit and the power of ten that
 * converts a value to it. Other codes (J, BTU, litres, imperial gallons, Ah, Hz...) are not held.
 */
export const CANONICAL_UNITS: Readonly<Record<string, readonly [Unit, number]>> = {
  '72': ['kWh', -3], // Wh
  '73': ['kVArh', -3], // VArh
  '71': ['kVAh', -3], // VAh
  '38': ['kW', -3], // W
  '63': ['kVAr', -3], // VAr
  '61': ['kVA', -3], // VA
  '29': ['V', 0],
  '5': ['A', 0],
  '65': ['pf', 0], // cos theta
  '169': ['therm', 0],
  '42': ['m3', 0],
  '119': ['ft3', 0],
  '128': ['gal', 0], // US gallon
};

/** ReadingType commodity (CommodityKind) codes the ledger holds; 0 means "not stated". */
const READING_TYPE_COMMODITIES: Readonly<Record<string, Commodity>> = {
  '1': 'electricity', // electricity, secondary metered
  '2': 'electricity', // electricity, primary metered
  '7': 'gas', // natural gas
  '9': 'water', // potable water
};

/** UsagePoint ServiceCategory kind (ServiceKind) codes the ledger holds. */
const SERVICE_KIND_COMMODITIES: Readonly<Record<string, Commodity>> = {
  '0': 'electricity',
  '1': 'gas',
  '2': 'water',
};

/**
 * QualityOfReading codes. Only a value measured and kept as measured is `actual`; a value a person
 * replaced or approved is `substituted`; anything computed, doubtful or mixed is `estimated`, so a
 * later actual may still replace it.
 */
const QUALITY_OF_READING: Readonly<Record<string, Quality>> = {
  '0': 'actual', // valid
  '7': 'substituted', // manually edited: replaced or approved by a human
  '8': 'estimated', // estimated using reference day
  '9': 'estimated', // estimated using linear interpolation
  '10': 'estimated', // questionable: failed one or more checks
  '11': 'estimated', // derived: calculated, not necessarily measured directly
  '12': 'estimated', // projected (forecast)
  '13': 'estimated', // mixed
  '14': 'actual', // raw: measured, not yet through validation (CMEP's R likewise)
  '15': 'estimated', // normalized for weather
  '16': 'estimated', // other
  '17': 'estimated', // validated, possibly edited and/or estimated
  '18': 'actual', // verified: failed a check but determined to represent actual usage
  '19': 'actual', // revenue-quality
};

/** Worst first: the quality of a reading with several codes is the worst of theirs. */
const QUALITY_RANK: Readonly<Record<Quality, number>> = {
  actual: 0,
  substituted: 1,
  estimated: 2,
};

/**
 * FlowDirectionKind codes that name a quantity of their own, as a channel suffix. None (0) and
 * forward (1) add nothing: they are the channel's plain direction.
 */
const FLOW_DIRECTION_SUFFIXES: Readonly<Record<string, string>> = {
  '2': 'lagging',
  '3': 'leading',
  '4': 'net',
  '5': 'q1plusQ2',
  '7': 'q1plusQ3',
  '8': 'q1plusQ4',
  '9': 'q1minusQ4',
  '10': 'q2plusQ3',
  '11': 'q2plusQ4',
  '12': 'q2minusQ3',
  '13': 'q3plusQ4',
  '14': 'q3minusQ2',
  '15': 'quadrant1',
  '16': 'quadrant2',
  '17': 'quadrant3',
  '18': 'quadrant4',
  '19': 'reverse',
  '20': 'total',
  '21': 'totalByPhase',
};

/** AccumulationKind codes of register values (a meter's running total), not interval values. */
export const REGISTER_ACCUMULATIONS: Readonly<Record<string, string>> = {
  '1': 'bulkQuantity',
  '2': 'continuousCumulative',
  '3': 'cumulative',
};

/** ESPI multipliers are -12..12 (UnitMultiplierKind); anything else is a broken ReadingType. */
const POWER_OF_TEN_MULTIPLIER_ABS_MAX = 12;
/** Interval lengths are whole seconds, at most this many (68 years): a safe integer of ms. */
const DURATION_SECONDS_MAX = 2 ** 31 - 1;
/** Latest epoch second whose milliseconds JavaScript dates still hold. */
const EPOCH_SECONDS_MAX = 8_640_000_000_000;
const MS_PER_SECOND = 1000;
const MS_PER_MINUTE = 60_000;
const DIGITS_PATTERN = /^\d+$/;

export function canonicalUnit(uom: string): readonly [Unit, number] | null {
  return Object.hasOwn(CANONICAL_UNITS, uom) ? (CANONICAL_UNITS[uom] ?? null) : null;
}

/** The commodity a ReadingType commodity code names; undefined for "not stated" (absent or 0). */
export function readingTypeCommodity(code: string | null): Commodity | null | undefined {
  if (code === null || code === '0') return undefined;
  return Object.hasOwn(READING_TYPE_COMMODITIES, code)
    ? (READING_TYPE_COMMODITIES[code] ?? null)
    : null;
}

/** The commodity a ServiceCategory kind names; undefined when absent. */
export function serviceKindCommodity(code: string | null): Commodity | null | undefined {
  if (code === null) return undefined;
  return Object.hasOwn(SERVICE_KIND_COMMODITIES, code)
    ? (SERVICE_KIND_COMMODITIES[code] ?? null)
    : null;
}

/** The quality of a set of QualityOfReading codes, or null when one of them is not known. */
export function qualityOf(codes: readonly string[]): Quality | null {
  let worst: Quality = 'actual';
  for (const code of codes) {
    const quality = Object.hasOwn(QUALITY_OF_READING, code) ? QUALITY_OF_READING[code] : undefined;
    if (quality === undefined) return null;
    if (QUALITY_RANK[quality] > QUALITY_RANK[worst]) worst = quality;
  }
  return worst;
}

/** The codes as sent, each once, in order: `q8 q19`; null when there are none. */
export function qualityDetailOf(codes: readonly string[]): string | null {
  if (codes.length === 0) return null;
  return [...new Set(codes)].map((code) => `q${code}`).join(' ');
}

/** The channel suffix of a flow direction, '' for none or forward; unknown codes keep theirs. */
export function flowDirectionSuffix(code: string | null): string {
  if (code === null || code === '0' || code === '1') return '';
  const name = Object.hasOwn(FLOW_DIRECTION_SUFFIXES, code) ? FLOW_DIRECTION_SUFFIXES[code] : null;
  return `.${name ?? `flow${code}`}`;
}

/**
 * The exact decimal of an ESPI integer value times 10^(multiplier + shift), or null when the
 * multiplier is not an ESPI multiplier. A null multiplier is none (10^0), as UnitMultiplierKind's
 * `none` says.
 */
export function convertedValue(
  value: string,
  powerOfTenMultiplier: string | null,
  shift: number,
): string | null {
  const multiplier = powerOfTenMultiplier ?? '0';
  if (!isEspiInteger(multiplier)) return null;
  const exponent = Number(multiplier);
  if (Math.abs(exponent) > POWER_OF_TEN_MULTIPLIER_ABS_MAX) return null;
  if (Math.abs(exponent + shift) > POWER_OF_TEN_ABS_MAX) return null;
  return scaledValue(value, String(exponent + shift));
}

export type EpochResult = { ok: true; ms: number } | { ok: false; fractional: boolean };

/** Epoch seconds (UTC) as sent, to milliseconds: whole non-negative seconds only. */
export function epochSecondsToMs(text: string): EpochResult {
  if (!DIGITS_PATTERN.test(text)) return { ok: false, fractional: /^\d+\.\d+$/.test(text) };
  const seconds = Number(text);
  if (seconds > EPOCH_SECONDS_MAX) return { ok: false, fractional: false };
  return { ok: true, ms: seconds * MS_PER_SECOND };
}

/** A duration in whole seconds, 1..DURATION_SECONDS_MAX, or null. */
export function durationSeconds(text: string): number | null {
  if (!DIGITS_PATTERN.test(text)) return null;
  const seconds = Number(text);
  return seconds >= 1 && seconds <= DURATION_SECONDS_MAX ? seconds : null;
}

const ATOM_DATE_PATTERN =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?(?:([Zz])|([+-])(\d{2}):?(\d{2}))?$/;

/**
 * An Atom date-time as the number YYYYMMDDhhmmss in UTC: an offset is applied, a time without one
 * is taken as written, a bare date is its midnight and fractions of a second are dropped. Null
 * when the text is not such a date (or names a day that does not exist).
 */
export const atomDateDigits = memoized(computeAtomDateDigits);

function computeAtomDateDigits(text: string): number | null {
  const match = ATOM_DATE_PATTERN.exec(text.trim());
  if (match === null) return null;
  const [, year, month, day, hour = '0', minute = '0', second = '0'] = match;
  const fields = [year, month, day, hour, minute, second].map(Number);
  const [y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0] = fields;
  const localMs = Date.UTC(y, mo - 1, d, h, mi, s);
  const local = new Date(localMs);
  const exists =
    local.getUTCFullYear() === y &&
    local.getUTCMonth() === mo - 1 &&
    local.getUTCDate() === d &&
    local.getUTCHours() === h &&
    local.getUTCMinutes() === mi &&
    local.getUTCSeconds() === s;
  if (!exists) return null;
  const sign = match[8] === '-' ? -1 : 1;
  const offsetMinutes = sign * (Number(match[9] ?? 0) * 60 + Number(match[10] ?? 0));
  const utc = new Date(localMs - offsetMinutes * MS_PER_MINUTE);
  if (utc.getUTCFullYear() < 1000 || utc.getUTCFullYear() > 9999) return null;
  return Number(utc.toISOString().slice(0, 19).replace(/\D/g, ''));
}

/**
 * An href's path, as the key resources are matched by: scheme and host, query and fragment, and
 * leading and trailing slashes dropped, so `https://host/a/b/` and `/a/b` name the same resource.
 */
export const hrefPath = memoized(computeHrefPath);

function computeHrefPath(href: string): string {
  let path = href.trim();
  const hash = path.indexOf('#');
  if (hash !== -1) path = path.slice(0, hash);
  const query = path.indexOf('?');
  if (query !== -1) path = path.slice(0, query);
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/]*/.exec(path);
  if (scheme !== null) path = path.slice(scheme[0].length);
  return path.replace(/^\/+/, '').replace(/\/+$/, '');
}

/** The path before the last segment named `segment` (`a/MeterReading/1` by `MeterReading`: `a`). */
export function pathBefore(path: string, segment: string): string | null {
  const segments = path.split('/');
  const at = segments.lastIndexOf(segment);
  return at <= 0 ? null : segments.slice(0, at).join('/');
}

/**
 * A UsagePoint's meter id: its self href's path after the ESPI REST root (`.../resource/`), e.g.
 * `RetailCustomer/3/UsagePoint/1`; null when the href has no path.
 */
export const meterIdOfHref = memoized(computeMeterIdOfHref);

function computeMeterIdOfHref(href: string): string | null {
  const path = hrefPath(href);
  const segments = path.split('/');
  const root = segments.lastIndexOf('resource');
  const id = segments.slice(root + 1).join('/');
  return id === '' ? null : id;
}

/** A MeterReading's channel: the last segment of its self href's path; null when it has none. */
export function lastSegment(href: string): string | null {
  const path = hrefPath(href);
  const segment = path.slice(path.lastIndexOf('/') + 1);
  return segment === '' ? null : segment;
}

/** Entries a memoized function keeps; past it the cache starts over, so memory stays bounded. */
const MEMO_ENTRIES_MAX = 4096;

/**
 * A pure function of a string, remembered: a feed repeats the same hrefs and `updated` texts for
 * every reading of a block, and recomputing them per reading cost a fifth of the ingest time.
 */
function memoized<T>(compute: (text: string) => T): (text: string) => T {
  const cache = new Map<string, T>();
  return (text: string): T => {
    const known = cache.get(text);
    if (known !== undefined || cache.has(text)) return known as T;
    if (cache.size >= MEMO_ENTRIES_MAX) cache.clear();
    const value = compute(text);
    cache.set(text, value);
    return value;
  };
}
