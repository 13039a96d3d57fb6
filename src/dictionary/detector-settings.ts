/**
 * The detector settings the data dictionary gives one stream. Each setting resolves on its own:
 * the channel override's value beats the meter class's (the first class whose pattern matches the
 * meter id), which beats the top-level `detectors`. `enabled` at any of those levels turns all
 * detectors of its scope on or off; a detector's own `enabled` turns it alone.
 */
import {
  DETECTOR_CODES,
  type DetectorSettings,
  type DetectorStatusBits,
} from '../core/detector.js';
import type { StreamRef } from '../core/store.js';
import { compilePattern, type DataDictionary, type DetectorOverrides } from './dictionary.js';

/** Every detector off: the settings of a stream whose scope turned detection off. */
function allDisabled(settings: DetectorSettings): DetectorSettings {
  const off: Record<string, unknown> = {};
  for (const code of DETECTOR_CODES) off[code] = { ...settings[code], enabled: false };
  return off as unknown as DetectorSettings;
}

function merged(
  base: DetectorSettings,
  layers: readonly (DetectorOverrides | undefined)[],
): DetectorSettings {
  const result: Record<string, unknown> = {};
  for (const code of DETECTOR_CODES) {
    let settings: Record<string, unknown> = { ...base[code] };
    for (const layer of layers) {
      const own = layer?.[code];
      if (own !== undefined) settings = { ...settings, ...withoutUndefined(own) };
    }
    result[code] = Object.freeze(settings);
  }
  return Object.freeze(result) as unknown as DetectorSettings;
}

function withoutUndefined(value: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined));
}

/** Whether any scope of the dictionary turns detection on. */
export function anyDetectorEnabled(dictionary: DataDictionary): boolean {
  if (dictionary.detectors.enabled) return true;
  const scopes = [
    ...dictionary.meterClasses.map((meterClass) => meterClass.detectors),
    ...Object.values(dictionary.channelOverrides).map((override) => override.detectors),
  ];
  return scopes.some((scope) => scope?.enabled === true);
}

/**
 * A resolver of streams' settings. Results are kept per (meter class, overridden channel), so
 * their number is bounded by the dictionary, not by the number of meters.
 */
export function detectorSettingsResolver(
  dictionary: DataDictionary,
): (stream: StreamRef) => DetectorSettings {
  const classes = dictionary.meterClasses.map((meterClass) => ({
    regex: compilePattern(meterClass.meterIdPattern),
    detectors: meterClass.detectors,
  }));
  const cache = new Map<string, DetectorSettings>();
  const { enabled: topEnabled, ...top } = dictionary.detectors;
  return function settingsFor(stream: StreamRef): DetectorSettings {
    const classIndex = classes.findIndex((meterClass) => meterClass.regex.test(stream.meterId));
    const override = Object.hasOwn(dictionary.channelOverrides, stream.channel)
      ? dictionary.channelOverrides[stream.channel]
      : undefined;
    const key = `${classIndex}|${override === undefined ? '' : stream.channel}`;
    let settings = cache.get(key);
    if (settings === undefined) {
      const classOverrides = classes[classIndex]?.detectors;
      const layers = [classOverrides, override?.detectors];
      settings = merged(top, layers);
      const enabled = override?.detectors?.enabled ?? classOverrides?.enabled ?? topEnabled;
      if (!enabled) settings = allDisabled(settings);
      cache.set(key, settings);
    }
    return settings;
  };
}

/** The status-code masks the detectors read. */
export function detectorStatusBits(dictionary: DataDictionary): DetectorStatusBits {
  const bits = dictionary.statusBits;
  return {
    outage: bits.outage,
    reverseFlow: bits.reverseFlow,
    tamper: bits.tamper,
    clock: bits.clock,
  };
}
