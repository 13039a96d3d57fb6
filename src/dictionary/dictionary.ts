/**
 * The utility's data dictionary (ARCH 5): which meter ids, channels, interval lengths, consumption
 * ranges, status codes and timestamps a record may carry. It is read once from a JSON config file,
 * checked strictly (unknown keys are errors, so a misspelt key cannot silently fall back to a
 * default), resolved against the defaults of the reference feed specification and frozen. Its
 * fingerprint is recorded in the audit log so every verdict can be traced to the exact dictionary
 * that gave it. README.md in this folder documents every key.
 */
import { hash } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { Temporal } from 'temporal-polyfill';
import { z } from 'zod';

import { parseKwhToMilliWh } from '../core/decimal.js';
import {
  DEFAULT_DETECTOR_SETTINGS,
  DETECTOR_CODES,
  type DetectorSettings,
} from '../core/detector.js';
import { CELL_SAMPLES_MAX } from '../core/stream-profile.js';
import { deepFreeze, formatIssues, type ConfigIssue } from '../core/config.js';
import { isKeyableText } from '../core/identity.js';

/** Status-code bit masks. A flag is set when any bit of its mask is set in the status code. */
export interface StatusBits {
  readonly estimated: number;
  readonly outage: number;
  readonly reverseFlow: number;
  readonly tamper: number;
  /** The meter distrusts its own clock (reset, drifted, adjusted): the clock detector's bit. */
  readonly clock: number;
}

/** Per-channel replacements; each bound present here beats the meter class's and the default. */
export interface ChannelOverride {
  readonly consumptionKwhMin?: number;
  readonly consumptionKwhMax?: number;
  readonly intervalSecondsAllowed?: readonly number[];
  /** This channel's detector settings; each one given beats the meter class's and the default. */
  readonly detectors?: DetectorOverrides;
}

/** A family of meters picked out by id; the first class whose pattern matches the id applies. */
export interface MeterClass {
  readonly name: string;
  readonly meterIdPattern: string;
  readonly consumptionKwhMin?: number;
  readonly consumptionKwhMax?: number;
  /** The class's detector settings; each one given beats the default. */
  readonly detectors?: DetectorOverrides;
}

/** The anomaly detectors' settings (docs/detectors.md); `enabled: false` turns them all off. */
export type DetectorConfig = DetectorSettings & { readonly enabled: boolean };

/** Some settings of some detectors, over those of a wider scope. */
export type DetectorOverrides = {
  readonly enabled?: boolean;
} & {
  readonly [Code in keyof DetectorSettings]?: Partial<DetectorSettings[Code]>;
};

/**
 * How readings of one typed format (NEM12, CMEP, a vendor CSV dialect) are identified. Such a
 * format names meters and channels its own way (a NEM12 NMI and suffix), so it is checked by its
 * own patterns; a utility that bills by its own meter ids maps them here.
 */
export interface FormatRules {
  /** The format's meter ids must match this whole; null checks them by meterIdPattern. */
  readonly meterIdPattern: string | null;
  /** The format's channels must match this whole; null checks them by channelPattern. */
  readonly channelPattern: string | null;
  /** The format's meter id to the utility's; a mapped id must match meterIdPattern. */
  readonly meterIds: Readonly<Record<string, string>>;
}

export interface FormatsRules {
  readonly nem12: FormatRules;
  /** CMEP times are UTC by its specification; many senders use local time, named here. */
  readonly cmep: FormatRules & { readonly timeZone: string };
  readonly 'csv-dialect': FormatRules;
  /** Meter ids are UsagePoint href paths (`RetailCustomer/3/UsagePoint/1`). */
  readonly 'green-button': FormatRules;
  /** A vendor's JSON records mapped onto the reference fields: the reference patterns apply. */
  readonly 'json-dialect': FormatRules;
}

/** A fully resolved dictionary: every key present, defaults applied, deeply frozen. */
export interface DataDictionary {
  /** Must match the whole meter id. A meter id containing `|` is rejected whatever this says. */
  readonly meterIdPattern: string;
  /** Must match the whole channel name. A channel containing `|` is rejected whatever this says. */
  readonly channelPattern: string;
  /** Allow-list of channel names; null allows any channel matching channelPattern. */
  readonly channels: readonly string[] | null;
  /** The channel of a record that names none. */
  readonly defaultChannel: string;
  readonly intervalSecondsAllowed: readonly number[];
  /** The interval length of a record that states none. */
  readonly defaultIntervalSeconds: number;
  /** Inclusive bounds on one interval's consumption, in kWh, at most six decimals. */
  readonly consumptionKwhMin: number;
  readonly consumptionKwhMax: number;
  /** Status codes are integers 0..statusCodeMax. */
  readonly statusCodeMax: number;
  readonly statusBits: StatusBits;
  /** How far past the validator's clock an interval may end (meter and head-end clocks drift). */
  readonly clockSkewToleranceSeconds: number;
  /** IANA zone for timestamps sent without an offset; null rejects such timestamps. */
  readonly timeZone: string | null;
  /** Interval starts must be multiples of the interval length since 1970-01-01T00:00:00Z. */
  readonly requireIntervalAlignment: boolean;
  /** When false, a field outside the reference feed's names rejects the record. */
  readonly allowUnknownFields: boolean;
  readonly channelOverrides: Readonly<Record<string, ChannelOverride>>;
  readonly meterClasses: readonly MeterClass[];
  readonly formats: FormatsRules;
  /** The anomaly detectors and their settings; channel overrides and meter classes refine them. */
  readonly detectors: DetectorConfig;
}

/** The reference feed specification's values (ARCH 5). */
export const DEFAULT_DICTIONARY: DataDictionary = deepFreeze({
  meterIdPattern: '^MTR-[A-Z0-9]{8}$',
  channelPattern: '^[A-Za-z0-9]{1,8}$',
  channels: null,
  defaultChannel: '1',
  intervalSecondsAllowed: [300, 900, 1800, 3600],
  defaultIntervalSeconds: 900,
  consumptionKwhMin: 0,
  consumptionKwhMax: 1000,
  statusCodeMax: 255,
  statusBits: { estimated: 1, outage: 2, reverseFlow: 4, tamper: 8, clock: 16 },
  clockSkewToleranceSeconds: 300,
  timeZone: null,
  requireIntervalAlignment: true,
  allowUnknownFields: false,
  channelOverrides: {},
  meterClasses: [],
  formats: {
    // AEMO's NMI: 10 characters of A-Z and 0-9 without O and I; the suffix names the data stream
    // (E1 import, B1 export, Q1 reactive...).
    nem12: {
      meterIdPattern: '^[A-HJ-NP-Z0-9]{10}$',
      channelPattern: '^[A-HJ-NP-Z][1-9A-HJ-NP-Z]$',
      meterIds: {},
    },
    cmep: {
      meterIdPattern: '^[A-Za-z0-9._-]{1,64}$',
      channelPattern: '^[A-Za-z0-9._-]{1,32}$',
      meterIds: {},
      timeZone: 'UTC',
    },
    'csv-dialect': {
      meterIdPattern: '^[A-Za-z0-9._-]{1,64}$',
      channelPattern: '^[A-Za-z0-9._-]{1,32}$',
      meterIds: {},
    },
    // A UsagePoint's href path and a MeterReading's id with its flow direction (`01.reverse`).
    'green-button': {
      meterIdPattern: '^[A-Za-z0-9._:/-]{1,128}$',
      channelPattern: '^[A-Za-z0-9._-]{1,64}$',
      meterIds: {},
    },
    // Null: the dictionary's own meterIdPattern and channelPattern, as for the reference feed.
    'json-dialect': { meterIdPattern: null, channelPattern: null, meterIds: {} },
  },
  detectors: { enabled: true, ...DEFAULT_DETECTOR_SETTINGS },
});

export const PATTERN_CHARS_MAX = 512;
export const CHANNELS_MAX = 256;
export const CHANNEL_OVERRIDES_MAX = 256;
export const METER_CLASSES_MAX = 64;
export const INTERVAL_LENGTHS_MAX = 16;
export const METER_CLASS_NAME_CHARS_MAX = 64;
/** A format's meter id map: enough for a utility's NMIs, bounded so a config stays a config. */
export const METER_ID_MAP_ENTRIES_MAX = 100_000;
/** Interval lengths are whole seconds up to one day. */
export const INTERVAL_SECONDS_MAX = 86_400;
/** Status codes and masks stay within 31 bits so JavaScript's bitwise operators apply to them. */
export const STATUS_CODE_MAX_LIMIT = 2 ** 31 - 1;
export const CLOCK_SKEW_TOLERANCE_SECONDS_MAX = 86_400;
/** A detector's threshold, deviation or percentage is at most this (a typo guard). */
export const DETECTOR_FIGURE_MAX = 1_000_000;
/** Warm-up is at most a year of history. */
export const DETECTOR_WARM_UP_DAYS_MAX = 366;
/** Zero and flat runs are judged over at most this many intervals. */
export const DETECTOR_RUN_INTERVALS_MAX = 10_000;
/** A channel name in the config is at most this long. */
const CHANNEL_NAME_CHARS_MAX = 64;

/**
 * Compiles a dictionary pattern so that it must match the whole value: `^(?:pattern)$`. Anchors in
 * the pattern itself are harmless. The pattern is compiled alone first, so an unbalanced pattern
 * such as `a)|(b` cannot escape the wrapping group.
 */
export function compilePattern(pattern: string): RegExp {
  new RegExp(pattern);
  return new RegExp(`^(?:${pattern})$`);
}

/** A channel name the dictionary can hold: it matches the pattern and has no `|` (ARCH 2.3). */
export function isChannelName(name: string, channelRegex: RegExp): boolean {
  return channelRegex.test(name) && isKeyableText(name);
}

/**
 * Checks and resolves a parsed JSON config. Throws an Error listing every problem, one per line,
 * each with its path (`channelOverrides.2.consumptionKwhMax: ...`).
 */
export function parseDictionary(json: unknown): DataDictionary {
  const result = dictionarySchema.safeParse(json);
  if (!result.success) {
    throw new Error(`Invalid data dictionary:\n${formatIssues(result.error.issues)}`);
  }
  // Rules relating several keys need every key well-formed, so they run only after the schema.
  const issues = consistencyIssues(result.data, givesClockBit(json));
  if (issues.length > 0) throw new Error(`Invalid data dictionary:\n${formatIssues(issues)}`);
  return deepFreeze(toDictionary(result.data));
}

/** Reads, checks and resolves a JSON config file; errors name the file. */
export function loadDictionary(path: string): DataDictionary {
  const text = readFileSync(path, 'utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`Data dictionary ${path} is not valid JSON: ${reason}`, { cause: error });
  }
  try {
    return parseDictionary(json);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`Data dictionary ${path}: ${reason}`, { cause: error });
  }
}

/**
 * Lowercase hex sha256 of the dictionary's canonical JSON (object keys sorted by UTF-16 code units,
 * arrays in order, no whitespace, values as JSON.stringify renders them). Two configs that resolve
 * to the same dictionary have the same fingerprint, however their files were written.
 */
export function dictionaryFingerprint(dictionary: DataDictionary): string {
  return hash('sha256', canonicalJson(dictionary), 'hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value)
      .filter(([, item]) => item !== undefined)
      .sort(([left], [right]) => (left < right ? -1 : left > right ? 1 : 0));
    const members = entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`);
    return `{${members.join(',')}}`;
  }
  return JSON.stringify(value);
}

// ------------------------------------------------------------------------------------------------
// Schema: the shape of the file, with each key's default.

function compiles(pattern: string): boolean {
  try {
    compilePattern(pattern);
    return true;
  } catch {
    return false;
  }
}

function isIanaTimeZone(timeZone: string): boolean {
  // Temporal also accepts bare offsets such as "+05:00"; the dictionary wants a zone name.
  if (timeZone.startsWith('+') || timeZone.startsWith('-')) return false;
  try {
    new Temporal.ZonedDateTime(0n, timeZone);
    return true;
  } catch {
    return false;
  }
}

function hasNoRepeats(values: readonly unknown[]): boolean {
  return new Set(values).size === values.length;
}

const patternSchema = z
  .string()
  .min(1)
  .max(PATTERN_CHARS_MAX)
  .refine(compiles, { error: 'is not a valid JavaScript regular expression' });

const kwhSchema = z.number().superRefine((value, context) => {
  const parsed = parseKwhToMilliWh(value);
  if (!parsed.ok) context.addIssue({ code: 'custom', message: `the kWh value ${parsed.message}` });
});

const intervalSecondsSchema = z.int().min(1).max(INTERVAL_SECONDS_MAX);

const intervalListSchema = z
  .array(intervalSecondsSchema)
  .min(1)
  .max(INTERVAL_LENGTHS_MAX)
  .refine(hasNoRepeats, { error: 'must not repeat an interval length' });

const statusMaskSchema = z.int().min(1).max(STATUS_CODE_MAX_LIMIT);

const channelNameSchema = z.string().min(1).max(CHANNEL_NAME_CHARS_MAX);

const statusBitsSchema = z.strictObject({
  estimated: statusMaskSchema.default(DEFAULT_DICTIONARY.statusBits.estimated),
  outage: statusMaskSchema.default(DEFAULT_DICTIONARY.statusBits.outage),
  reverseFlow: statusMaskSchema.default(DEFAULT_DICTIONARY.statusBits.reverseFlow),
  tamper: statusMaskSchema.default(DEFAULT_DICTIONARY.statusBits.tamper),
  clock: statusMaskSchema.default(DEFAULT_DICTIONARY.statusBits.clock),
});

/** Each detector setting's rule, by name (every detector uses some of these). */
const DETECTOR_FIELD_SCHEMAS = {
  enabled: z.boolean(),
  threshold: z.number().positive().max(DETECTOR_FIGURE_MAX),
  minDeviation: z.number().min(0).max(DETECTOR_FIGURE_MAX),
  warmUpDays: z.int().min(0).max(DETECTOR_WARM_UP_DAYS_MAX),
  minSamples: z.int().min(1).max(CELL_SAMPLES_MAX),
  intervals: z.int().min(2).max(DETECTOR_RUN_INTERVALS_MAX),
  expectedMin: z.number().min(0).max(DETECTOR_FIGURE_MAX),
  percent: z.number().positive().max(DETECTOR_FIGURE_MAX),
} as const;
type DetectorField = keyof typeof DETECTOR_FIELD_SCHEMAS;

/** One detector's settings: every field defaulted (top level) or every field optional. */
function detectorSchema(code: keyof DetectorSettings, withDefaults: boolean) {
  const defaults = DEFAULT_DETECTOR_SETTINGS[code] as Readonly<Record<string, number | boolean>>;
  const shape: Record<string, z.ZodType> = {};
  for (const [field, value] of Object.entries(defaults)) {
    const schema: z.ZodType = DETECTOR_FIELD_SCHEMAS[field as DetectorField];
    shape[field] = withDefaults ? schema.default(value) : schema.optional();
  }
  const object = z.strictObject(shape);
  return withDefaults ? object.default(() => ({ ...defaults })) : object.optional();
}

function detectorsSchema(withDefaults: boolean) {
  const shape: Record<string, z.ZodType> = {
    enabled: withDefaults ? z.boolean().default(true) : z.boolean().optional(),
  };
  for (const code of DETECTOR_CODES) shape[code] = detectorSchema(code, withDefaults);
  return z.strictObject(shape);
}

const detectorConfigSchema = detectorsSchema(true).default(() => ({
  enabled: true,
  ...structuredClone(DEFAULT_DETECTOR_SETTINGS),
})) as unknown as z.ZodType<DetectorConfig>;
const detectorOverridesSchema = detectorsSchema(false).optional() as unknown as z.ZodType<
  DetectorOverrides | undefined
>;

const channelOverrideSchema = z.strictObject({
  consumptionKwhMin: kwhSchema.optional(),
  consumptionKwhMax: kwhSchema.optional(),
  intervalSecondsAllowed: intervalListSchema.optional(),
  detectors: detectorOverridesSchema,
});

// zod drops a record key named "__proto__" without an issue; a config must not lose an override
// silently, so such a key is reported before the record is parsed.
const channelOverridesSchema = z
  .unknown()
  .superRefine((input, context) => {
    if (typeof input === 'object' && input !== null && Object.hasOwn(input, '__proto__')) {
      const message = 'is not a usable channel name';
      context.addIssue({ code: 'custom', path: ['__proto__'], message });
    }
  })
  .pipe(z.record(channelNameSchema, channelOverrideSchema));

const meterClassSchema = z.strictObject({
  name: z.string().min(1).max(METER_CLASS_NAME_CHARS_MAX),
  meterIdPattern: patternSchema,
  consumptionKwhMin: kwhSchema.optional(),
  consumptionKwhMax: kwhSchema.optional(),
  detectors: detectorOverridesSchema,
});

const timeZoneSchema = z
  .string()
  .refine(isIanaTimeZone, { error: 'is not an IANA time zone name (such as America/New_York)' });

const defaults = DEFAULT_DICTIONARY;

const meterIdMapSchema = z
  .record(z.string().min(1).max(PATTERN_CHARS_MAX), z.string().min(1).max(PATTERN_CHARS_MAX))
  .refine((map) => Object.keys(map).length <= METER_ID_MAP_ENTRIES_MAX, {
    error: `must map at most ${METER_ID_MAP_ENTRIES_MAX} meter ids`,
  });

function formatRulesSchema(rules: FormatRules) {
  return z.strictObject({
    meterIdPattern: patternSchema.nullable().default(rules.meterIdPattern),
    channelPattern: patternSchema.nullable().default(rules.channelPattern),
    meterIds: meterIdMapSchema.default(() => ({ ...rules.meterIds })),
  });
}

const formatsSchema = z.strictObject({
  nem12: formatRulesSchema(defaults.formats.nem12).default(() => defaultRules('nem12')),
  cmep: formatRulesSchema(defaults.formats.cmep)
    .extend({ timeZone: z.union([z.literal('UTC'), timeZoneSchema]).default('UTC') })
    .default(() => ({ ...defaultRules('cmep'), timeZone: defaults.formats.cmep.timeZone })),
  'csv-dialect': formatRulesSchema(defaults.formats['csv-dialect']).default(() =>
    defaultRules('csv-dialect'),
  ),
  'green-button': formatRulesSchema(defaults.formats['green-button']).default(() =>
    defaultRules('green-button'),
  ),
  'json-dialect': formatRulesSchema(defaults.formats['json-dialect']).default(() =>
    defaultRules('json-dialect'),
  ),
});

function defaultRules(format: keyof FormatsRules): FormatRules {
  const rules = defaults.formats[format];
  return {
    meterIdPattern: rules.meterIdPattern,
    channelPattern: rules.channelPattern,
    meterIds: { ...rules.meterIds },
  };
}

const dictionarySchema = z.strictObject({
  meterIdPattern: patternSchema.default(defaults.meterIdPattern),
  channelPattern: patternSchema.default(defaults.channelPattern),
  channels: z.array(channelNameSchema).min(1).max(CHANNELS_MAX).nullable().default(null),
  defaultChannel: channelNameSchema.default(defaults.defaultChannel),
  intervalSecondsAllowed: intervalListSchema.default(() => [...defaults.intervalSecondsAllowed]),
  defaultIntervalSeconds: intervalSecondsSchema.default(defaults.defaultIntervalSeconds),
  consumptionKwhMin: kwhSchema.default(defaults.consumptionKwhMin),
  consumptionKwhMax: kwhSchema.default(defaults.consumptionKwhMax),
  statusCodeMax: z.int().min(0).max(STATUS_CODE_MAX_LIMIT).default(defaults.statusCodeMax),
  statusBits: statusBitsSchema.default(() => ({ ...defaults.statusBits })),
  clockSkewToleranceSeconds: z
    .int()
    .min(0)
    .max(CLOCK_SKEW_TOLERANCE_SECONDS_MAX)
    .default(defaults.clockSkewToleranceSeconds),
  timeZone: timeZoneSchema.nullable().default(defaults.timeZone),
  requireIntervalAlignment: z.boolean().default(defaults.requireIntervalAlignment),
  allowUnknownFields: z.boolean().default(defaults.allowUnknownFields),
  channelOverrides: channelOverridesSchema
    .refine((overrides) => Object.keys(overrides).length <= CHANNEL_OVERRIDES_MAX, {
      error: `must override at most ${CHANNEL_OVERRIDES_MAX} channels`,
    })
    .default(() => ({})),
  meterClasses: z
    .array(meterClassSchema)
    .max(METER_CLASSES_MAX)
    .default(() => []),
  formats: formatsSchema.default(() => ({
    nem12: defaultRules('nem12'),
    cmep: { ...defaultRules('cmep'), timeZone: defaults.formats.cmep.timeZone },
    'csv-dialect': defaultRules('csv-dialect'),
    'green-button': defaultRules('green-button'),
    'json-dialect': defaultRules('json-dialect'),
  })),
  detectors: detectorConfigSchema,
});

type ParsedDictionary = z.output<typeof dictionarySchema>;
type IssueSink = ConfigIssue[];

// ------------------------------------------------------------------------------------------------
// Consistency: rules that relate several keys, checked once every key has its value.

/**
 * Whether the config names the clock bit itself. Its default (16) arrived after configs with a
 * lower statusCodeMax were written: for those it never occurs, which is no mistake of theirs.
 */
function givesClockBit(json: unknown): boolean {
  if (typeof json !== 'object' || json === null || !('statusBits' in json)) return false;
  const bits = json.statusBits;
  return typeof bits === 'object' && bits !== null && 'clock' in bits;
}

function consistencyIssues(parsed: ParsedDictionary, clockGiven: boolean): ConfigIssue[] {
  const context: IssueSink = [];
  checkChannels(parsed, context);
  checkIntervals(parsed, context);
  checkRanges(parsed, context);
  checkStatusBits(parsed, context, clockGiven);
  checkDetectors(parsed, context);
  const names = parsed.meterClasses.map((meterClass) => meterClass.name);
  names.forEach((name, index) => {
    if (names.indexOf(name) !== index) {
      addIssue(context, ['meterClasses', index, 'name'], `repeats the class name "${name}"`);
    }
  });
  return context;
}

function addIssue(context: IssueSink, path: PropertyKey[], message: string): void {
  context.push({ path, message });
}

function checkChannels(parsed: ParsedDictionary, context: IssueSink): void {
  const channelRegex = compilePattern(parsed.channelPattern);
  const allowed = parsed.channels === null ? null : new Set(parsed.channels);
  const checkName = (name: string, path: PropertyKey[]): void => {
    if (!isChannelName(name, channelRegex)) {
      addIssue(context, path, `"${name}" does not match channelPattern or contains "|"`);
    } else if (allowed !== null && !allowed.has(name)) {
      addIssue(context, path, `"${name}" is not in the channels allow-list`);
    }
  };
  parsed.channels?.forEach((name, index) => {
    if (!isChannelName(name, channelRegex)) {
      addIssue(context, ['channels', index], `"${name}" does not match channelPattern or has "|"`);
    }
  });
  if (parsed.channels !== null && !hasNoRepeats(parsed.channels)) {
    addIssue(context, ['channels'], 'must not repeat a channel');
  }
  checkName(parsed.defaultChannel, ['defaultChannel']);
  for (const name of Object.keys(parsed.channelOverrides)) {
    checkName(name, ['channelOverrides', name]);
  }
}

function checkIntervals(parsed: ParsedDictionary, context: IssueSink): void {
  if (!parsed.intervalSecondsAllowed.includes(parsed.defaultIntervalSeconds)) {
    addIssue(
      context,
      ['defaultIntervalSeconds'],
      `${parsed.defaultIntervalSeconds} is not in intervalSecondsAllowed`,
    );
  }
}

/** Every combination of channel override and meter class must leave min <= max. */
function checkRanges(parsed: ParsedDictionary, context: IssueSink): void {
  const classes = [undefined, ...parsed.meterClasses];
  const overrides = [undefined, ...Object.entries(parsed.channelOverrides)];
  for (const override of overrides) {
    for (const meterClass of classes) {
      const min = override?.[1].consumptionKwhMin ?? meterClass?.consumptionKwhMin;
      const max = override?.[1].consumptionKwhMax ?? meterClass?.consumptionKwhMax;
      const effectiveMin = min ?? parsed.consumptionKwhMin;
      const effectiveMax = max ?? parsed.consumptionKwhMax;
      if (milliWh(effectiveMin) <= milliWh(effectiveMax)) continue;
      const where = [
        override === undefined ? null : `channel "${override[0]}"`,
        meterClass === undefined ? null : `meter class "${meterClass.name}"`,
      ].filter((part) => part !== null);
      const path =
        override !== undefined
          ? ['channelOverrides', override[0]]
          : meterClass !== undefined
            ? ['meterClasses', parsed.meterClasses.indexOf(meterClass)]
            : ['consumptionKwhMin'];
      const scope = where.length === 0 ? 'by default' : `for ${where.join(' with ')}`;
      addIssue(
        context,
        path,
        `the consumption range ${scope} is ${effectiveMin}..${effectiveMax}` +
          ' kWh: its minimum is above its maximum',
      );
    }
  }
}

function milliWh(kwh: number): number {
  const parsed = parseKwhToMilliWh(kwh);
  return parsed.ok ? parsed.milliWh : Number.NaN;
}

function checkStatusBits(parsed: ParsedDictionary, context: IssueSink, clockGiven: boolean): void {
  for (const [name, mask] of Object.entries(parsed.statusBits)) {
    if (name === 'clock' && !clockGiven) continue;
    if (mask > parsed.statusCodeMax) {
      const message = `mask ${mask} is above statusCodeMax, so it never occurs`;
      addIssue(context, ['statusBits', name], message);
    }
  }
}

/** daily_low's percent is a share of the average day: above 100 it could never be reached. */
function checkDetectors(parsed: ParsedDictionary, context: IssueSink): void {
  const scopes: [PropertyKey[], DetectorOverrides | undefined][] = [
    [['detectors'], parsed.detectors],
    ...parsed.meterClasses.map(
      (meterClass, index): [PropertyKey[], DetectorOverrides | undefined] => [
        ['meterClasses', index, 'detectors'],
        meterClass.detectors,
      ],
    ),
    ...Object.entries(parsed.channelOverrides).map(
      ([name, override]): [PropertyKey[], DetectorOverrides | undefined] => [
        ['channelOverrides', name, 'detectors'],
        override.detectors,
      ],
    ),
  ];
  for (const [path, scope] of scopes) {
    const percent = scope?.daily_low?.percent;
    if (percent !== undefined && percent > 100) {
      addIssue(context, [...path, 'daily_low', 'percent'], `${percent} is above 100`);
    }
  }
}

function toDictionary(parsed: ParsedDictionary): DataDictionary {
  // fromEntries defines properties, so a channel named "__proto__" stays a plain key.
  const channelOverrides: Record<string, ChannelOverride> = Object.fromEntries(
    Object.entries(parsed.channelOverrides).map(([name, item]) => [name, withoutUndefined(item)]),
  );
  return {
    ...parsed,
    statusBits: { ...parsed.statusBits },
    channelOverrides,
    meterClasses: parsed.meterClasses.map((meterClass) => withoutUndefined(meterClass)),
  };
}

/** Drops keys whose value is undefined, which is how zod renders an absent optional key. */
type Defined<T> = { [K in keyof T]: Exclude<T[K], undefined> };

function withoutUndefined<T extends object>(value: T): Defined<T> {
  const entries = Object.entries(value).filter(([, item]) => item !== undefined);
  return Object.fromEntries(entries) as Defined<T>;
}
