// Goal: each stream gets its detector settings from the data dictionary setting by setting, the
// channel's beating the meter class's beating the top level, and `enabled` turns a scope off.
// Method: parse real dictionaries and resolve streams of several meters and channels.
import { describe, expect, it } from 'vitest';
import { DEFAULT_DETECTOR_SETTINGS } from '../core/detector.js';
import {
  anyDetectorEnabled,
  detectorSettingsResolver,
  detectorStatusBits,
} from './detector-settings.js';
import { DEFAULT_DICTIONARY, parseDictionary } from './dictionary.js';

const dictionary = parseDictionary({
  statusBits: { clock: 64 },
  detectors: { zscore: { threshold: 10, minDeviation: 2 }, daily_low: { enabled: false } },
  meterClasses: [
    {
      name: 'streetlight',
      meterIdPattern: '^MTR-L[A-Z0-9]{7}$',
      detectors: { zscore: { threshold: 12 }, flat_line: { enabled: false } },
    },
    { name: 'off', meterIdPattern: '^MTR-X[A-Z0-9]{7}$', detectors: { enabled: false } },
  ],
  channelOverrides: {
    '2': {
      consumptionKwhMin: -100,
      detectors: { zscore: { minDeviation: 0.5 }, reverse_flow: { enabled: false } },
    },
  },
});

describe('detector settings per stream', () => {
  const settingsFor = detectorSettingsResolver(dictionary);

  it('are the defaults with the top-level changes for an ordinary stream', () => {
    const settings = settingsFor({ meterId: 'MTR-00000001', channel: '1' });
    expect(settings.zscore).toEqual({
      ...DEFAULT_DETECTOR_SETTINGS.zscore,
      threshold: 10,
      minDeviation: 2,
    });
    expect(settings.daily_low.enabled).toBe(false);
    expect(settings.spike).toEqual(DEFAULT_DETECTOR_SETTINGS.spike);
  });

  it('resolve each setting on its own: channel, then meter class, then top level', () => {
    const light = settingsFor({ meterId: 'MTR-L0000001', channel: '2' });
    expect(light.zscore).toMatchObject({ threshold: 12, minDeviation: 0.5 });
    expect(light.flat_line.enabled).toBe(false);
    expect(light.reverse_flow.enabled).toBe(false);
    const plain = settingsFor({ meterId: 'MTR-00000001', channel: '2' });
    expect(plain.zscore).toMatchObject({ threshold: 10, minDeviation: 0.5 });
    expect(plain.flat_line.enabled).toBe(true);
  });

  it('turn every detector of a scope off with its enabled, and are shared per scope', () => {
    const off = settingsFor({ meterId: 'MTR-X0000001', channel: '1' });
    for (const code of Object.keys(DEFAULT_DETECTOR_SETTINGS) as (keyof typeof off)[]) {
      expect(off[code].enabled).toBe(false);
    }
    const one = settingsFor({ meterId: 'MTR-00000001', channel: '7' });
    expect(settingsFor({ meterId: 'MTR-99999999', channel: '8' })).toBe(one);
  });

  it('say whether any scope detects, and pass the status bits on', () => {
    expect(anyDetectorEnabled(DEFAULT_DICTIONARY)).toBe(true);
    expect(anyDetectorEnabled(parseDictionary({ detectors: { enabled: false } }))).toBe(false);
    const classOnly = parseDictionary({
      detectors: { enabled: false },
      meterClasses: [{ name: 'c', meterIdPattern: '^MTR-C.*$', detectors: { enabled: true } }],
    });
    expect(anyDetectorEnabled(classOnly)).toBe(true);
    const resolve = detectorSettingsResolver(classOnly);
    expect(resolve({ meterId: 'MTR-C0000001', channel: '1' }).spike.enabled).toBe(true);
    expect(resolve({ meterId: 'MTR-00000001', channel: '1' }).spike.enabled).toBe(false);
    expect(detectorStatusBits(dictionary)).toEqual({
      outage: 2,
      reverseFlow: 4,
      tamper: 8,
      clock: 64,
    });
  });

  it('reject settings out of range with their path', () => {
    expect(() => parseDictionary({ detectors: { daily_low: { percent: 120 } } })).toThrow(
      'detectors.daily_low.percent: 120 is above 100',
    );
    expect(() => parseDictionary({ detectors: { zscore: { threshold: 0 } } })).toThrow(
      'detectors.zscore.threshold',
    );
    expect(() =>
      parseDictionary({ channelOverrides: { '2': { detectors: { spike: { factor: 3 } } } } }),
    ).toThrow('channelOverrides.2.detectors.spike.factor: unknown key');
  });
});
